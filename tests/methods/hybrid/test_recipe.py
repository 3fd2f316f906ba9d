"""`run hybrid` end to end on the real Beauty release, with the scripted LLM scoring as the student (control flow:
the real student is trained by bench/predictor.py and `reasonrec demo`)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl

from reasonrec.llm.base import ScoreRequest
from reasonrec.llm.testing import ScriptedLLM, prompt_text
from reasonrec.methods import METHODS
from reasonrec.methods.hybrid.predictor import ABLATION, HYBRID, STUDENT

LIKE_SHARE = re.compile(r"liked (\d+)%")


def like_share_probs(request: ScoreRequest) -> dict[str, float]:
    """P(yes) = the user's like-share the CF-aware prompt states (so the scripted student carries a real signal)."""
    found = LIKE_SHARE.search(prompt_text(request))
    p = min(max(int(found.group(1)) / 100 if found else 0.5, 0.02), 0.98)
    yes, no = request.choices
    return {yes: p, no: 1 - p}


def test_hybrid_recipe_writes_a_paired_report_and_explained_predictions(shared_data: Path, tmp_path: Path) -> None:
    recipe = METHODS["hybrid"].recipe
    config = recipe.resolve(overrides=["test_limit=120", "stacking_rows=150", "explain_rows=3", "bootstrap=200",
                                       "features.folds=3", "baselines=[user-mean,user-like-share]",
                                       f"data_dir={shared_data}", "show_progress=false"])
    llm = ScriptedLLM(probs=like_share_probs, text="The user liked similar products.\nPrediction: Yes")
    result = recipe.run(config, tmp_path, llm=llm)

    preds = pl.read_parquet(tmp_path / "predictions.parquet")
    assert set(preds["method"]) == {STUDENT, HYBRID, ABLATION}
    assert all(preds.filter(pl.col("method") == m).height == 120 for m in (STUDENT, HYBRID, ABLATION))
    prompts = [prompt_text(r) for r in llm.score_requests]
    assert prompts and all("Facts computed from ratings before this one" in p for p in prompts)
    hybrid = preds.filter(pl.col("method") == HYBRID)
    explained = hybrid["reasoning"].head(3).to_list()
    assert all("The user liked similar products." in text for text in explained)  # evidence mode: verdict + LLM
    assert hybrid["reasoning"].slice(3).null_count() == 117
    assert preds.filter(pl.col("reasoning").is_not_null())["grounding"].null_count() == 0
    liked = hybrid.head(3).select("pred_label", "reasoning").rows()
    assert all(text.startswith("The user will likely enjoy" if label == 1 else "The user will likely not enjoy")
               for label, text in liked)  # each explanation argues for the hybrid's own label
    assert sorted(p.name for p in (tmp_path / "baselines").iterdir()) == ["user-like-share.parquet",
                                                                            "user-mean.parquet"]

    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["method"] == HYBRID and metrics["n"] == 120 and result.metrics["test_rows"] == 120
    assert "llm_logodds" in metrics["stacker"]["hybrid"] and "llm_logodds" not in metrics["stacker"][ABLATION]
    paired = metrics["paired"]["all test rows"]
    assert paired["reference"] in ("user-mean", "user-like-share") and paired["n"] == 120
    assert set(paired["comparisons"]) == {STUDENT, HYBRID, ABLATION}
    verdicts = {d["verdict"] for d in paired["comparisons"].values()} | {paired["hybrid_vs_ablation"]["verdict"]}
    assert verdicts <= {"better", "worse", "cannot rank"}
    assert metrics["paired"]["without repeated targets"]["n"] == 120 - metrics["repeated_target_rows"]

    report = (tmp_path / "report.md").read_text()
    assert "## Paired comparison with the best baseline — reasoningrec-beauty" in report
    assert "hybrid − hybrid-no-llm" in report and "without repeated targets" in report
    assert "user-mean (baseline)" in report
    best_table = report.split("## Paired comparison with the best baseline")[1]

    def ci_of(text: str, row: str) -> str:
        return re.findall(r"\[[^]]+\]", next(line for line in text.splitlines() if line.startswith(row)))[0]

    for method in (STUDENT, HYBRID, ABLATION):  # one comparison, one CI: the run's table and the report's agree
        assert ci_of(best_table, f"| {method} | ") == ci_of(best_table, f"| {method} − {paired['reference']} | ")
    assert "## Explanations, with grounding marks" in report and "## Explanation grounding" in report
    assert metrics["grounding"]
    assert (tmp_path / "config.yaml").is_file() and (tmp_path / "manifest.json").is_file()
