"""TALLRec recipe (Bao et al., as ReasoningRec's baseline): liked/disliked title lists → P(Yes) → evaluate.

No descriptions, profiles or reasoning: one scoring pass per target with the `tallrec/predict` prompt (choices
"Yes"/"No"). The paper's model is a LoRA student trained on Yes/No answers: the optional `student` step.
"""

from __future__ import annotations

import time
from pathlib import Path

from pydantic import Field

from reasonrec.data.loaders import load_dataset
from reasonrec.errors import ConfigError
from reasonrec.llm.base import LLM
from reasonrec.llm.registry import LazyLLM
from reasonrec.methods.artefacts import ReleaseContext
from reasonrec.methods.base import Protocol
from reasonrec.methods.recipe import RecipeConfig, RecipeContext, RecipeResult, finish, prepare_targets
from reasonrec.stages.reasoningrec.zeroshot import ZeroShotConfig, zeroshot_predict

METHOD = "tallrec"
STAGES = ("predictions",)


class TallRecConfig(RecipeConfig):
    dataset: str = "reasoningrec-beauty"
    zeroshot: ZeroShotConfig = Field(default_factory=lambda: ZeroShotConfig(variant="tallrec", method="tallrec"))
    predict_split: str = "test"


def run(config: TallRecConfig, out_dir: str | Path, llm: LLM | None = None) -> RecipeResult:
    started = time.time()
    out = Path(out_dir)
    llm = llm if llm is not None else LazyLLM(config.llm)
    ds = load_dataset(config.dataset, config.data_dir, config.prepare.load)
    targets = prepare_targets(config, out, ds).targets
    if config.predict_split not in targets:
        raise ConfigError(f"predict_split={config.predict_split!r} not among {sorted(targets)}")
    ctx = RecipeContext(out, llm, ds, {}, ReleaseContext(targets=targets))
    zs = config.zeroshot.model_copy(update={"dataset": config.dataset})
    predictions = ctx.stage("predictions", lambda s: zeroshot_predict(
        targets[config.predict_split], ds.items, None, None, llm, zs, summaries=s), zs)  # type: ignore[arg-type]
    assert predictions is not None
    return finish(config, METHOD, out, ctx, predictions, started)


RECIPE = Protocol(name="run tallrec", config=TallRecConfig, run=run, default_dataset="reasoningrec-beauty", stages=STAGES)

__all__ = ["METHOD", "RECIPE", "STAGES", "TallRecConfig", "run"]
