"""`reasonrec serve BUNDLE`: the recommendation service (REST API, web explorer, feedback store) for a bundle.

The OpenAI-compatible model server is `reasonrec llm serve`; both share the auth guard, body limits, the model
worker and its bounded queue (`reasonrec.serve`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from reasonrec.cli.errors import one_line_errors
from reasonrec.cli.options import ConfigOpt, LLMOpt, PrintOpt, SetOpt
from reasonrec.errors import ConfigError

if TYPE_CHECKING:
    from reasonrec.bundle import Bundle
    from reasonrec.llm.hf import HFBackend
    from reasonrec.llm.registry import LLMConfig
    from reasonrec.serve.config import RecommendServeConfig


@one_line_errors()
def serve_command(
    bundle: Annotated[Path, typer.Argument(help="A bundle directory written by `reasonrec bundle`.")],
    llm_config: LLMOpt = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    print_config_: PrintOpt = False,
) -> None:
    """Serve recommendations with explanations, feedback and the web explorer for BUNDLE. Settings
    (RecommendServeConfig): host, port, api_key_env, feedback_db, llm_cache, limits.*, …; the model is the
    bundle's student (← --llm-config ← --set llm.KEY=VALUE).

    Example: REASONREC_KEY=secret reasonrec serve bundle/ --set api_key_env=REASONREC_KEY --set port=8000
    then open http://127.0.0.1:8000/explorer/ (API reference: /docs).
    """
    from reasonrec.cli.bundle import bundle_settings
    from reasonrec.serve.config import RecommendServeConfig

    cfg, loaded, llm_cfg = bundle_settings(bundle, RecommendServeConfig, config=config, overrides=set_,
                                           llm_config=llm_config, print_only=print_config_)
    api_key = None
    if cfg.api_key_env:
        api_key = os.environ.get(cfg.api_key_env)
        if not api_key:
            raise ConfigError(f"api_key_env={cfg.api_key_env}: that environment variable is unset or empty")
    check_exposure(cfg.host, cfg.allow_insecure_host, api_key)
    run_recommend_server(loaded, llm_cfg, cfg, api_key)


def check_exposure(host: str, allow_insecure_host: bool, api_key: str | None) -> None:
    """A service reachable from other machines needs a key, unless the operator says otherwise on purpose."""
    from reasonrec.serve.config import is_loopback

    if api_key is None and not is_loopback(host) and not allow_insecure_host:
        raise ConfigError(f"host={host} is not a loopback address and no API key is set: anyone who can reach "
                          "this machine could use the service. Set api_key_env, or allow_insecure_host=true on purpose.")


def run_recommend_server(bundle: Bundle, llm: LLMConfig, cfg: RecommendServeConfig, api_key: str | None) -> None:
    """Load the student (unless the bundle is CF-only) and serve until interrupted."""
    import uvicorn

    from reasonrec.serve.recommend_app import create_recommend_app

    logging.basicConfig(level=cfg.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    backend = load_student(bundle, llm, cfg) if bundle.config.student else None
    app = create_recommend_app(bundle, backend, cfg, api_key)
    typer.echo(f"serving bundle {bundle.config.name!r} on http://{cfg.host}:{cfg.port} (explorer: /explorer/, "
               f"API reference: /docs)" + (" (API key required)" if api_key else ""), err=True)
    uvicorn.run(app, host=cfg.host, port=cfg.port, log_level=cfg.log_level)


def load_student(bundle: Bundle, llm: LLMConfig, cfg: RecommendServeConfig) -> HFBackend:
    """The bundle's student on the local backend, checked against the base weights the bundle was written for."""
    import torch

    from reasonrec.llm.hf import HFBackend

    if llm.backend != "hf":
        raise ConfigError(f"llm.backend={llm.backend!r}: the service runs the student locally (backend 'hf')")
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    backend = HFBackend(llm.model, adapter_path=llm.adapter, device=llm.device, dtype=llm.dtype,
                        batch_size=cfg.limits.max_batch, max_prompt_tokens=llm.max_prompt_tokens)
    bundle.check_model(backend.identity.model_hash)
    return backend


if __name__ == "__main__":
    typer.run(serve_command)
