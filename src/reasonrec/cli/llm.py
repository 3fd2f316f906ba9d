"""`reasonrec llm ...` commands: inspect the embedded model, try a prompt, score choices."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from reasonrec.cli.errors import one_line_errors
from reasonrec.cli.llm_serve import serve_command
from reasonrec.errors import LLMError

app = typer.Typer(help="Language-model backends: embedded model info, quick generate/score.", no_args_is_help=True)
app.command(name="serve")(serve_command)


@app.command()
@one_line_errors()
def info(
    gguf_hash: bool = typer.Option(False, "--gguf-hash", help="Also hash the GGUF (~100 MB)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Where the embedded GGUF and its converted safetensors live, sizes, hashes, and the model identity."""
    from reasonrec.llm.base import ModelIdentity
    from reasonrec.llm.embedded import EMBEDDED_NAME, embedded_info

    info_ = embedded_info(with_gguf_hash=gguf_hash)
    identity = ModelIdentity(backend="hf", model=EMBEDDED_NAME, model_hash=info_.weights_sha256)
    data = {**info_.as_dict(), "identity": json.loads(identity.key())}
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo(f"GGUF            {info_.gguf}  ({info_.gguf_bytes / 1e6:.1f} MB)")
    if gguf_hash:
        typer.echo(f"GGUF sha256     {info_.gguf_sha256}")
    typer.echo(f"converted model {info_.model_dir}  ({info_.weights_bytes / 1e6:.1f} MB safetensors, fp32)")
    typer.echo(f"weights sha256  {info_.weights_sha256}")
    typer.echo(f"identity        backend=hf model={EMBEDDED_NAME} model_hash={info_.weights_sha256[:16]}…")


@app.command()
@one_line_errors()
def generate(
    prompt: str = typer.Argument(..., help="User message (chat template applied)."),
    model: str = typer.Option("embedded", help="'embedded' or a local model directory."),
    adapter: str | None = typer.Option(None, help="PEFT adapter directory."),
    max_new_tokens: int = typer.Option(128),
    temperature: float = typer.Option(0.0),
    no_cache: bool = typer.Option(False, "--no-cache"),
) -> None:
    """Generate one answer (through the cache unless --no-cache)."""
    from reasonrec.llm.base import GenerationRequest, Message, SamplingParams
    from reasonrec.llm.registry import LLMConfig, build_llm

    llm = build_llm(LLMConfig(model=model, adapter=adapter, cache=not no_cache))
    req = GenerationRequest(
        messages=(Message("user", prompt),),
        params=SamplingParams(temperature=temperature, max_new_tokens=max_new_tokens),
    )
    out = llm.generate([req])[0]
    typer.echo(out.text)
    typer.echo(
        f"[{out.finish_reason}; {out.prompt_tokens} prompt + {out.completion_tokens} completion tokens"
        f"{'; cached' if out.cached else ''}{'; error: ' + out.error if out.error else ''}]",
        err=True,
    )


@app.command()
@one_line_errors()
def score(
    prompt: str = typer.Argument(..., help="User message (chat template applied)."),
    choices: Annotated[
        list[str] | None, typer.Option("--choice", help="Repeat for each choice (default: ' Yes', ' No').")
    ] = None,
    assistant_prefix: str = typer.Option("", help="Text the assistant turn starts with, e.g. 'Prediction:'."),
    model: str = typer.Option("embedded"),
    adapter: str | None = typer.Option(None),
) -> None:
    """Probability of each choice as the continuation of the answer."""
    from reasonrec.llm.base import Message, ScoreRequest
    from reasonrec.llm.registry import LLMConfig, build_llm

    choices = choices or [" Yes", " No"]
    llm = build_llm(LLMConfig(model=model, adapter=adapter, cache=False))
    out = llm.score(
        [ScoreRequest(choices=tuple(choices), messages=(Message("user", prompt),), assistant_prefix=assistant_prefix)]
    )[0]
    if out.error:
        raise LLMError(out.error)
    for choice in choices:
        typer.echo(f"{choice!r}\tp={out.probs[choice]:.4f}\tlogprob={out.logprobs[choice]:.4f}")
