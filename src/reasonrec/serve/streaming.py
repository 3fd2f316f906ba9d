"""Server-sent event streams: token ids from the worker become text deltas, then OpenAI stream chunks.

Two rules keep a stream equal to the non-streamed answer: a delta never ends in half a character (byte-level
tokens can split one), and text that could be the start of a stop string is held back until it is known not to
be one. The final delta is whatever the backend's own finished text adds to what was sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

from fastapi.responses import StreamingResponse

from reasonrec.llm.base import Completion
from reasonrec.serve.engine import Engine, Prompt, internal_error
from reasonrec.serve.responses import ChunkWriter, sse
from reasonrec.serve.schema import APIError, SamplingBody
from reasonrec.serve.worker import GenerationJob, JobCancelled, JobExpired, ModelWorker

log = logging.getLogger("reasonrec.serve")
REPLACEMENT_CHAR = "\ufffd"


class TextStream:
    """Incremental detokenisation of one generation (a window of prefix tokens keeps word-initial spaces of
    sentencepiece tokenizers), with stop strings held back."""

    def __init__(self, tokenizer: Any, stops: Sequence[str]) -> None:
        self.tokenizer = tokenizer
        self.stops = tuple(stops)
        self.tokens: list[int] = []
        self.text = ""
        self.sent = ""
        self._prefix_offset = 0
        self._read_offset = 0

    def _decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def push(self, token: int) -> str:
        """Add a token; return the text that may be sent now (possibly empty)."""
        self.tokens.append(token)
        before = self._decode(self.tokens[self._prefix_offset : self._read_offset])
        after = self._decode(self.tokens[self._prefix_offset :])
        if len(after) > len(before) and not after.endswith(REPLACEMENT_CHAR):
            self.text += after[len(before) :]
            self._prefix_offset = self._read_offset
            self._read_offset = len(self.tokens)
        return self._release(self._visible())

    def _visible(self) -> str:
        hits = [self.text.find(s) for s in self.stops if s in self.text]
        if hits:
            return self.text[: min(hits)]
        held = 0
        for stop in self.stops:
            for n in range(min(len(stop) - 1, len(self.text)), held, -1):
                if self.text.endswith(stop[:n]):
                    held = n
                    break
        return self.text[: len(self.text) - held]

    def _release(self, visible: str) -> str:
        if len(visible) <= len(self.sent) or not visible.startswith(self.sent):
            return ""
        delta = visible[len(self.sent) :]
        self.sent = visible
        return delta

    def finish(self, final_text: str) -> str:
        """The rest of the backend's finished text after what was already sent."""
        if not final_text.startswith(self.sent):
            log.warning("streamed text diverged from the finished text; the stream keeps what it sent")
            return ""
        return self._release(final_text)


class TokenQueue:
    """Tokens of several jobs on one asyncio queue, in order: (choice index, token id), then (index, None) when
    the job's future is done. The worker thread feeds it through the event loop."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[tuple[int, int | None]] = asyncio.Queue()

    def _put(self, item: tuple[int, int | None]) -> None:
        try:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:  # the loop closed (server shutdown): nobody is listening any more
            pass

    def attach(self, index: int, job: GenerationJob) -> None:
        job.on_token = lambda token: self._put((index, token))
        job.future.add_done_callback(lambda _: self._put((index, None)))


def _error_event(exc: BaseException) -> str:
    if isinstance(exc, JobExpired):
        error = APIError(
            503, "the server is busy: the request waited past its time budget", type="server_error"
        )
    elif isinstance(exc, JobCancelled):
        error = APIError(503, "the request was cancelled", type="server_error")
    else:
        error = internal_error(f"stream failed: {type(exc).__name__}: {exc}", exc)
    return sse(error.body())


async def event_stream(
    worker: ModelWorker,
    jobs: list[GenerationJob],
    tokens: TokenQueue,
    streams: list[TextStream],
    writer: ChunkWriter,
    prompt_tokens: int,
    echoes: list[str] | None = None,
) -> AsyncIterator[str]:
    """Chunks for `jobs` (choice i = jobs[i]) until all are done, the usage chunk if asked, then [DONE].
    Leaving early (the client disconnected) cancels whatever is still generating."""
    try:
        for index in range(len(jobs)):
            if writer.chat:
                yield writer.role(index)
            elif echoes and echoes[index]:
                yield writer.text(index, echoes[index])
        pending = set(range(len(jobs)))
        generated = 0
        while pending:
            index, token = await tokens.queue.get()
            if token is not None:
                delta = streams[index].push(token)
                if delta:
                    yield writer.text(index, delta)
                continue
            pending.discard(index)
            exc = jobs[index].future.exception()
            if exc is not None:
                yield _error_event(exc)
                break
            completion: Completion = jobs[index].future.result()
            if completion.finish_reason == "error":
                yield _error_event(RuntimeError(completion.error))
                break
            generated += completion.completion_tokens
            rest = streams[index].finish(completion.text)
            if rest:
                yield writer.text(index, rest)
            yield writer.finish(index, completion.finish_reason)
        else:
            if writer.include_usage:
                yield writer.usage(prompt_tokens, generated)
        yield sse("[DONE]")
    finally:
        worker.cancel(jobs)


def stream_response(
    engine: Engine,
    prompts: list[Prompt],
    body: SamplingBody,
    max_tokens: int,
    *,
    chat: bool,
    model: str,
    echo: bool = False,
) -> StreamingResponse:
    """Queue n jobs per prompt (503 now if the queue is full, before any byte is sent) and stream them."""
    if max_tokens < 1:
        raise APIError(400, "stream=true needs max_tokens >= 1", param="max_tokens")
    tokens = TokenQueue()
    jobs: list[GenerationJob] = []
    for prompt in prompts:
        for job in engine.generation_jobs(prompt, body, max_tokens):
            tokens.attach(len(jobs), job)
            jobs.append(job)
    engine.submit(list(jobs))
    per_choice = [p for p in prompts for _ in range(body.n)]
    events = event_stream(
        engine.worker,
        jobs,
        tokens,
        [TextStream(engine.tokenizer, body.stop_tuple()) for _ in jobs],
        ChunkWriter(chat=chat, model=model, include_usage=body.include_usage()),
        prompt_tokens=sum(len(p.ids) for p in prompts),
        echoes=[p.text for p in per_choice] if echo else None,
    )
    return StreamingResponse(events, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
