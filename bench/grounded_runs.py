"""Our explanations for `bench/explanations.py`: the ReasoningRec student's own reasoning, the evidence-grounded
mode, and the validation sweep that chose the grounded mode's anti-loop decoding defaults.

Every generation goes through the LLM cache (`~/.cache/reasonrec/llm_cache.sqlite`), so a rerun only checks.
Rows are a seeded sample of labelled test (or validation) targets, never chosen by outcome.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import polars as pl

from reasonrec.data.schema import Dataset
from reasonrec.eval.grounding import checker_for
from reasonrec.eval.grounding.metrics import summarise
from reasonrec.eval.grounding.sources import prediction_records, target_table
from reasonrec.llm.registry import LLMConfig, build_llm
from reasonrec.llm.sentence import SentenceEncoder, default_embedding_cache
from reasonrec.predict import PredictConfig, predict_labels
from reasonrec.prompts import DOMAINS
from reasonrec.stages.common.context import target_rows
from reasonrec.stages.common.grounded import ExplainConfig, evidence_retriever, grounded_explanations
from reasonrec.stages.reasoningrec.zeroshot import ZeroShotConfig, zeroshot_predict

DOMAIN = {"beauty": "beauty", "ml1m": "movies"}
LIKE_THRESHOLD = {"beauty": 3.0, "ml1m": 0.5}
SWEEP = [(1.0, 0), (1.0, 3), (1.3, 3), (1.5, 4)]  # (repetition_penalty, no_repeat_ngram_size)


def sample_targets(ds: Dataset, split: str, n: int, seed: int = 0) -> pl.DataFrame:
    _, table = target_table(ds, split)
    table = table.filter(pl.col("label").is_not_null())
    return table.sample(n=min(n, table.height), seed=seed)


def loops(text: str | None, n: int = 4) -> bool:
    """A word n-gram that occurs three times or more: the looping the anti-loop settings must stop."""
    words = re.findall(r"\w+", (text or "").lower())
    grams = [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]
    return any(grams.count(g) >= 3 for g in set(grams))


def _llm(adapter: Path | None, threads: int) -> Any:
    return build_llm(LLMConfig(adapter=str(adapter) if adapter else None, n_threads=threads, batch_size=8))


def _timed(name: str, key: str, frame_fn: Any) -> tuple[pl.DataFrame, dict[str, Any]]:
    load = os.getloadavg()
    started = time.time()
    frame = frame_fn()
    wall = time.time() - started
    explained = int(frame["reasoning"].is_not_null().sum())
    print(f"  generated {name} / {key}: {explained} explanations in {wall:.0f} s (load {load[0]:.1f})", flush=True)
    return frame, {"generate_wall_s": round(wall, 1), "generate_load_average": load,
                   "s_per_explanation": round(wall / max(explained, 1), 2)}


def student_rows(ds: Dataset, key: str, n: int, adapter: Path, mode: str, threads: int, max_new_tokens: int
                 ) -> tuple[pl.DataFrame, dict[str, Any]]:
    """The fine-tuned student on n test rows: its own reasoning (`free`) or the grounded mode (`evidence`)."""
    targets = sample_targets(ds, "test", n)
    cfg = PredictConfig(method_name=f"student-{mode}", dataset=ds.name, domain=DOMAIN[key],
                        like_threshold=LIKE_THRESHOLD[key], generate_reasoning=True, max_new_tokens=max_new_tokens,
                        max_prompt_tokens=512, explain=ExplainConfig(mode=mode), show_progress=False)
    a = ds.artefacts
    return _timed(f"student-{mode}", key, lambda: predict_labels(
        targets, ds.items, a.get("item_descriptions"), a.get("user_profiles"), _llm(adapter, threads), cfg,
        interactions=ds.interactions))


def zeroshot_rows(ds: Dataset, key: str, n: int, threads: int) -> tuple[pl.DataFrame, dict[str, Any]]:
    """The base model zero-shot (titles-only prompt: the cheapest label) with grounded explanations on n test rows."""
    targets = sample_targets(ds, "test", n)
    cfg = ZeroShotConfig(variant="vanilla", method="zeroshot-evidence", dataset=ds.name, domain=DOMAIN[key],
                         like_threshold=LIKE_THRESHOLD[key], generate_reasoning=True, max_prompt_tokens=1024,
                         explain=ExplainConfig(mode="evidence"), show_progress=False)
    a = ds.artefacts
    return _timed("zeroshot-evidence", key, lambda: zeroshot_predict(
        targets, ds.items, a.get("item_descriptions"), a.get("user_profiles"), _llm(None, threads), cfg,
        interactions=ds.interactions))


def grounding_summary(frame: pl.DataFrame, ds: Dataset, encoder: SentenceEncoder) -> dict[str, Any]:
    """The checker's summary, plus the claims after each explanation's first sentence: with anchor=evidence the
    first sentence is the verdict and the retrieved fact (written from the evidence), the rest is the model's."""
    records = prediction_records(frame, ds)
    results = checker_for(ds, encoder=encoder).check_records(records)
    summary = next(iter(summarise(results).values()))
    summary["loop_rate"] = sum(loops(t) for t in frame["reasoning"].to_list() if t) / max(len(records), 1)
    later = [c for r in results for c in r.claims[1:] if c.checkable]
    summary["later_sentence_share"] = sum(len(r.claims) > 1 for r in results) / max(len(results), 1)
    summary["later_checkable"] = len(later)
    summary["later_precision"] = sum(c.label == "supported" for c in later) / len(later) if later else None
    return summary


def true_label_frame(ds: Dataset, key: str, n: int, cfg: ExplainConfig, llm: Any, encoder: SentenceEncoder,
                     split: str = "valid") -> pl.DataFrame:
    """Grounded explanations of n seeded rows of `split` for their TRUE label (it stands in for a prediction:
    this measures the explanation, not the prediction, and exercises both verdicts)."""
    rows = target_rows(sample_targets(ds, split, n))
    retriever = evidence_retriever(ds.items, ds.artefacts.get("item_descriptions"), ds.interactions,
                                   cfg.model_copy(update={"evidence": cfg.evidence.model_copy(
                                       update={"like_threshold": LIKE_THRESHOLD[key]})}), encoder)
    labels = [int(r["label"]) for r in rows]
    texts, shown = grounded_explanations(rows, labels, retriever, llm, cfg, domain=DOMAINS[DOMAIN[key]],
                                         scale_max=1 if key == "ml1m" else 5, show=False)
    return pl.DataFrame({"method": "true-label", "split": split, "user_id": [str(r["user_id"]) for r in rows],
                         "item_id": [str(r["item_id"]) for r in rows], "label": labels, "pred_label": labels,
                         "reasoning": texts, "evidence": shown})


def true_label_rows(ds: Dataset, key: str, n: int, threads: int) -> tuple[pl.DataFrame, dict[str, Any]]:
    """The grounded mode (defaults) explaining n test rows' true labels with the base model."""
    encoder = SentenceEncoder(cache_path=default_embedding_cache())
    return _timed("true-label", key, lambda: true_label_frame(ds, key, n, ExplainConfig(mode="evidence"),
                                                              _llm(None, threads), encoder, split="test"))


def validation_summaries(data: dict[str, Dataset], n: int, cfg: ExplainConfig, llm: Any, encoder: SentenceEncoder
                         ) -> dict[str, dict[str, Any]]:
    """Per dataset: grounded explanations of n seeded VALIDATION rows for their true labels, summarised."""
    return {key: grounding_summary(true_label_frame(ds, key, n, cfg, llm, encoder), ds, encoder)
            for key, ds in data.items()}


def sweep(data: dict[str, Dataset], n: int, encoder: SentenceEncoder, threads: int) -> dict[str, Any]:
    """Anti-loop settings of the grounded mode on n VALIDATION rows per dataset (the row's true label stands in
    for the prediction: this measures decoding, not prediction). Objective: supported precision − hallucinated
    item rate − loop rate, averaged over the datasets; ties go to the milder setting."""
    llm = _llm(None, threads)
    trials = []
    for penalty, ngram in SWEEP:
        cfg = ExplainConfig(mode="evidence", anchor="verdict", repetition_penalty=penalty,
                            no_repeat_ngram_size=ngram)  # measured before the anchor existed; the model writes more
        per = validation_summaries(data, n, cfg, llm, encoder)
        score = sum((s["supported_precision"] or 0) - (s["hallucinated_item_rate"] or 0) - s["loop_rate"]
                    for s in per.values()) / len(per)
        trials.append({"repetition_penalty": penalty, "no_repeat_ngram_size": ngram, "objective": score,
                       "datasets": per})
        print(f"  penalty {penalty} ngram {ngram}: objective {score:.3f} " + " ".join(
            f"{k}: prec {_f(s['supported_precision'])} halluc {_f(s['hallucinated_item_rate'])} loop "
            f"{s['loop_rate']:.2f}" for k, s in per.items()), flush=True)
    best = max(trials, key=lambda t: (round(t["objective"], 3), -t["repetition_penalty"], -t["no_repeat_ngram_size"]))
    return {"rows_per_dataset": n, "split": "valid", "trials": trials,
            "chosen": {"repetition_penalty": best["repetition_penalty"],
                       "no_repeat_ngram_size": best["no_repeat_ngram_size"]}}


def anchor_sweep(data: dict[str, Dataset], n: int, encoder: SentenceEncoder, threads: int) -> dict[str, Any]:
    """How the grounded answer starts (`ExplainConfig.anchor`), on n VALIDATION rows per dataset with the base
    model (the true label stands in for the prediction). Objective: fact precision − hallucinated-item rate −
    loop rate, averaged over the datasets; ties go to `verdict` (the model writes more of the text)."""
    llm = _llm(None, threads)
    trials = []
    for anchor in ("verdict", "evidence"):
        cfg = ExplainConfig(mode="evidence", anchor=anchor)
        per = validation_summaries(data, n, cfg, llm, encoder)
        score = sum((s["fact_precision"] or 0) - (s["hallucinated_item_rate"] or 0) - s["loop_rate"]
                    for s in per.values()) / len(per)
        trials.append({"anchor": anchor, "objective": score, "datasets": per})
        print(f"  anchor {anchor}: objective {score:.3f} " + " ".join(
            f"{k}: prec {_f(s['supported_precision'])} fact {_f(s['fact_precision'])} later "
            f"{_f(s['later_precision'])} ({s['later_sentence_share']:.2f} of texts) halluc "
            f"{_f(s['hallucinated_item_rate'])}" for k, s in per.items()), flush=True)
    best = max(trials, key=lambda t: (round(t["objective"], 3), t["anchor"] == "verdict"))
    return {"rows_per_dataset": n, "split": "valid", "trials": trials, "chosen": {"anchor": best["anchor"]}}


def _f(v: float | None) -> str:
    return "—" if v is None else f"{v:.3f}"


__all__ = ["anchor_sweep", "grounding_summary", "loops", "student_rows", "sweep", "true_label_rows", "zeroshot_rows"]
