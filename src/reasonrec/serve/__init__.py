"""Serving: the OpenAI-compatible model server (`reasonrec llm serve`).

One module per concern: `config` (what runs, the limits), `schema` (request bodies, the error body, which OpenAI
parameters are refused), `worker` (the thread that owns the model: lanes, interleaving, deadlines, cancellation,
the bounded queue), `logprobs` (token log-prob passes), `engine` (request → checks → jobs → completions),
`responses` (OpenAI response and chunk bodies), `streaming` (detokenised SSE streams) and `app` (FastAPI: auth
and size guard, error handlers, routes).
"""
