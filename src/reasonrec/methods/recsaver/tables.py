"""The Rec-SAVER reproduction's report tables whose rows are not single methods: the §4.1 split (pairs per rating
class, users, shortfall), Table 5 (students × filters), the filter counts and Table 7 (correct vs incorrect)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reasonrec.eval.report import Section


def split_section(stats: dict[str, Any]) -> Section:
    per_class = stats.get("per_class") or {}
    classes = sorted({c for counts in per_class.values() for c in counts}, key=float)
    rows = []
    for split in ("train", "valid", "test"):
        counts = per_class.get(split) or {}
        if not counts and not (stats.get("per_class_requested") or {}).get(split):
            continue
        rows.append([split, (stats.get("users") or {}).get(split), (stats.get("per_class_requested") or {}).get(split),
                     *[counts.get(c) for c in classes], sum(counts.values()),
                     sum(((stats.get("shortfall") or {}).get(split) or {}).values())])
    return Section("Rec-SAVER §4.1 split: pairs per rating class (user-disjoint, 4 ≤ |H| ≤ 10)",
                   ["Split", "Users", "Quota/class", *[f"rating {float(c):g}" for c in classes], "Pairs",
                    "Shortfall"], rows,
                   note=f"max examples per user: {stats.get('max_per_user') or 'any'} (the paper allows several; "
                        f"train and test users are disjoint); {stats.get('candidates')} candidate pairs from "
                        f"{stats.get('candidate_users')} users.")


def split_notes(stats: dict[str, Any]) -> list[str]:
    """The §4.1 split in words: class counts, users, and the shortfall against the paper's quotas."""
    notes = []
    for split in ("train", "test"):
        counts = (stats.get("per_class") or {}).get(split) or {}
        short = (stats.get("shortfall") or {}).get(split) or {}
        quota = (stats.get("per_class_requested") or {}).get(split)
        line = (f"Split {split}: {sum(counts.values())} pairs from {(stats.get('users') or {}).get(split)} users, "
                f"per rating class {counts} (requested {quota} each)")
        notes.append(line + (f"; SHORTFALL {short} — the data cannot fill the quota, every class is cut to the "
                             "smallest to stay balanced." if short else "."))
    if not stats.get("reviews"):
        notes.append("The dataset has no review text: every prompt is the paper's 'No Review' variant (Table 3).")
    return notes


def sections(metrics: dict[str, Any], *, n_paths: int, rating_readout: str, text_metrics: Sequence[str]
             ) -> list[Section]:
    """The paper's tables whose rows are not single methods: the §4.1 split, Table 5 (students × filters), filter
    counts, Table 7."""
    out = [split_section(metrics.get("split_counts") or {})]
    rows = []
    for r in metrics["runs"]:
        rows.append([r["method"], r.get("kind"), r.get("paths_per_pair"), r.get("filter"), r.get("train_examples"),
                     r.get("n"), r.get("accuracy"), r.get("f1"), r.get("auc"), r.get("rating_accuracy"),
                     r.get("macro_auc_ovr"), r.get("mae"), r.get("rmse"), r.get("mae_expected"),
                     r.get("rmse_expected"), r.get("bleu"), r.get("rouge1"),
                     r.get("meteor"), r.get("bertscore")])
    out.append(Section(
        "Rec-SAVER Table 5 layout: zero-shot and students (1 vs M paths × filter)",
        ["Method", "Kind", "Paths/pair", "Filter", "SFT examples", "n", "Bin. acc", "Bin. F1", "Bin. AUC",
         "5-class acc", "Macro AUC", "MAE", "RMSE", "MAE E[r]", "RMSE E[r]", "BLEU", "ROUGE-1", "METEOR", "BERTScore"], rows,
        note=f"Rating = {rating_readout} of the normalised rating-token probabilities in every row; E[r] "
             "columns: E[rating]. Binary = rating > 3 (AUC from P(r > 3)); NLG columns: the model's reasoning vs "
             "the verified pool."))
    counts = metrics.get("filter_counts") or {}
    out.append(Section(
        "Teacher paths kept by each filter (§4.3)", ["Filter", "Kept", "Dropped", "Pairs with ≥1 kept"],
        [[name, f["kept"], f["dropped"], f["pairs_with_any"]] for name, f in (counts.get("filters") or {}).items()],
        note=f"{counts.get('samples', 0)} sampled paths ({n_paths} per train pair); teacher rating "
             f"source (parsed from the text / scored after the reasoning): {counts.get('rating_source')}; "
             f"{counts.get('unparseable', 0)} with no rating at all."))
    corr_rows = []
    for method, parts in (metrics.get("correctness") or {}).items():
        if not parts:
            continue  # no reasoning text (e.g. the no-reasoning variant): nothing to score
        for group in ("correct", "incorrect"):
            part = parts.get(group) or {}
            m = part.get("metrics") or {}
            scored = next(((m.get(k) or {}).get("n") for k in text_metrics if (m.get(k) or {}).get("n")), 0)
            corr_rows.append([method, group, part.get("n"), scored,
                              *[(m.get(k) or {}).get("value") for k in ("bleu", "rouge1", "meteor", "bertscore")]])
    if corr_rows:
        out.append(Section("Reasoning quality for correct vs incorrect rating predictions (Table 7 layout)",
                           ["Method", "Group", "rows", "rows with a verified pool", "BLEU", "ROUGE-1", "METEOR",
                            "BERTScore"], corr_rows,
                           note="Correct = predicted rating class equals the truth; scored against the verified "
                                "pools (rows without a pool are not scored). The verifier is the same small model, "
                                "so pools exist mostly where it can recover the rating — i.e. where it tends to be "
                                "right; an empty 'incorrect' row says exactly that."))
    return out


__all__ = ["sections", "split_notes", "split_section"]
