"""`reasonrec llm ...` commands: inspect the embedded model, try a prompt, score choices, serve a model.

`generate` and `score` take the model like every command: `--llm-config` and `--set llm.KEY=VALUE`."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from reasonrec.cli.errors import one_line_errors
from reasonrec.cli.llm_serve import serve_command
from reasonrec.cli.options import LLMOpt, SetOpt, resolve_llm_config, split_llm_overrides
from reasonrec.errors import LLMError

app = typer.Typer(
    help="Language-model backends: embedded model info, quick generate/score, an OpenAI-compatible server.\n\n"
    'Example: reasonrec llm score "Would a fan of rose soap like a rose lotion?" --assistant-prefix "Prediction:"',
    no_args_is_help=True,
)
app.command(name="serve")(serve_command)


def _llm_overrides(overrides: list[str] | None) -> list[str]:
    """These commands have no settings of their own: every `--set` is about the model (`llm.` optional)."""
    own, llm = split_llm_overrides(overrides)
    return llm + own


@app.command()
@one_line_errors()
def info(
    gguf_hash: bool = typer.Option(False, "--gguf-hash", help="Also hash the GGUF (~100 MB)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Where the embedded GGUF and its converted safetensors live, sizes, hashes, and the model identity.

    Example: reasonrec llm info --json
    """
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
    llm_config: LLMOpt = None,
    set_: SetOpt = None,
    max_new_tokens: int = typer.Option(128, "--max-new-tokens", help="Tokens to generate at most."),
    temperature: float = typer.Option(0.0, "--temperature", help="0 = greedy."),
) -> None:
    """Generate one answer (through the LLM cache unless `--set llm.cache=false`).

    Example: reasonrec llm generate "Describe a rose-scented soap in 20 words." --max-new-tokens 48
    """
    from reasonrec.llm.base import GenerationRequest, Message, SamplingParams
    from reasonrec.llm.registry import build_llm

    llm = build_llm(resolve_llm_config(llm_config, _llm_overrides(set_)))
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
    llm_config: LLMOpt = None,
    set_: SetOpt = None,
) -> None:
    """Probability of each choice as the continuation of the answer.

    Example: reasonrec llm score "Rate a rose lotion for a rose-soap fan, 1-5." --choice 1 --choice 5
    """
    from reasonrec.llm.base import Message, ScoreRequest
    from reasonrec.llm.registry import build_llm

    choices = choices or [" Yes", " No"]
    llm = build_llm(resolve_llm_config(llm_config, _llm_overrides(set_)))
    out = llm.score(
        [ScoreRequest(choices=tuple(choices), messages=(Message("user", prompt),), assistant_prefix=assistant_prefix)]
    )[0]
    if out.error:
        raise LLMError(out.error)
    for choice in choices:
        typer.echo(f"{choice!r}\tp={out.probs[choice]:.4f}\tlogprob={out.logprobs[choice]:.4f}")
