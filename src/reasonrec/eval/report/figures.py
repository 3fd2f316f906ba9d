"""The report's figures, per dataset: ROC, calibration, AUC vs K, rating confusion, reasoning quality."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from reasonrec.eval import plots
from reasonrec.eval.report.model import Entry, Report
from reasonrec.eval.report.table import Column, cell_for
from reasonrec.eval.text import TEXT_METRICS


@dataclass(frozen=True)
class Plot:
    """One rendered figure: file name in the output directory, caption, PNG bytes."""

    filename: str
    caption: str
    dataset: str
    png: bytes = field(repr=False)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "x"


def _curves(entries: Sequence[Entry], probabilities_only: bool = False) -> list[plots.Curve]:
    curves = []
    for entry in entries:
        if entry.prepared is None:
            continue
        column = "score" if probabilities_only else "_score"
        rows = entry.prepared.filter(pl.col("_truth").is_not_null() & pl.col(column).is_not_null())
        if rows.height == 0:
            continue
        scores = rows[column].to_numpy().astype(float)
        if probabilities_only and (scores.min() < 0 or scores.max() > 1):
            continue
        curves.append(plots.Curve(entry.label, rows["_truth"].to_numpy().astype(int), scores))
    return curves


def _k_series(
    entries: Sequence[Entry],
) -> tuple[dict[str, list[plots.KPoint]], dict[str, list[plots.KPoint]]]:
    """AUC-vs-K lines: methods that differ only by their K token share a line."""
    ours: dict[str, list[plots.KPoint]] = {}
    reported: dict[str, list[plots.KPoint]] = {}
    for entry in entries:
        if entry.k is None:
            continue
        name = re.sub(rf"(sample|k|shot)[-_=]?{entry.k}(?!\d)", r"\1K", entry.method, flags=re.IGNORECASE)
        name = f"{name} [{entry.split}]" if entry.split and entry.split != "test" else name
        if entry.kind != "reported" and entry.auc is not None:
            ci = entry.result.get("auc_ci") or [None, None]
            n = cell_for(entry, Column("auc", "")).n
            ours.setdefault(name, []).append(plots.KPoint(entry.k, entry.auc, ci[0], ci[1], n))
            distinct = entry.result.get("distinct") or {}
            if isinstance(distinct.get("auc"), (int, float)):
                dci = distinct.get("auc_ci") or [None, None]
                ours.setdefault(f"{name} — distinct rows", []).append(
                    plots.KPoint(entry.k, float(distinct["auc"]), dci[0], dci[1], distinct.get("n"))
                )
        authors_auc = (entry.authors or {}).get("auc") if entry.kind != "reported" else entry.auc
        if isinstance(authors_auc, (int, float)):
            reported.setdefault(f"{name} — authors' reported", []).append(
                plots.KPoint(entry.k, float(authors_auc))
            )
    return ours, reported


def _quality_groups(entries: Sequence[Entry]) -> dict[str, dict[str, dict[str, tuple[float, int]]]]:
    groups: dict[str, dict[str, dict[str, tuple[float, int]]]] = {}
    for entry in entries:
        parts = (entry.result.get("breakdowns") or {}).get("correctness") or {}
        for kind in ("correct", "incorrect"):
            part = parts.get(kind) or {}
            for metric in TEXT_METRICS:
                detail = (part.get("metrics") or {}).get(metric) or {}
                if isinstance(detail.get("value"), (int, float)):
                    groups.setdefault(entry.label, {}).setdefault(kind, {})[metric] = (
                        float(detail["value"]),
                        int(detail.get("n") or 0),
                    )
    return groups


def render_plots(report: Report) -> list[Plot]:
    """Every figure the data supports, per dataset."""
    out: list[Plot] = []
    bins = report.config.calibration_bins
    for dataset in report.datasets():
        entries = report.table(dataset)
        slug = _slug(dataset)
        curves = _curves(entries)
        if curves:
            out.append(
                Plot(
                    f"roc_{slug}.png",
                    f"ROC curves — {dataset}",
                    dataset,
                    plots.roc_png(curves, f"ROC — {dataset}"),
                )
            )
        prob_curves = _curves(entries, probabilities_only=True)
        if prob_curves:
            out.append(
                Plot(
                    f"calibration_{slug}.png",
                    f"Calibration (reliability diagram) — {dataset}",
                    dataset,
                    plots.calibration_png(prob_curves, f"Calibration — {dataset}", bins),
                )
            )
        ours, reported = _k_series(entries)
        ks = {p.k for points in [*ours.values(), *reported.values()] for p in points}
        if len(ks) >= 2:
            out.append(
                Plot(
                    f"auc_vs_k_{slug}.png",
                    f"AUC vs K — {dataset}",
                    dataset,
                    plots.metric_vs_k_png(ours, f"AUC vs K — {dataset}", "AUC", reported),
                )
            )
        for entry in entries:
            if entry.prepared is None:
                continue
            rated = entry.prepared.filter(
                pl.col("_rating_true").is_not_null() & pl.col("_rating_pred_class").is_not_null()
            )
            classes = json.loads(entry.prepared["_classes"][0]) if entry.prepared.height else []
            if rated.height and classes:
                name = f"confusion_{slug}_{_slug(entry.label)}.png"
                out.append(
                    Plot(
                        name,
                        f"Rating confusion matrix — {entry.label} — {dataset}",
                        dataset,
                        plots.confusion_png(
                            rated["_rating_true"].to_numpy(),
                            rated["_rating_pred_class"].to_numpy(),
                            classes,
                            f"{entry.label} — {dataset}",
                        ),
                    )
                )
        groups = _quality_groups(entries)
        if groups:
            out.append(
                Plot(
                    f"reasoning_quality_{slug}.png",
                    f"Reasoning quality, correct vs incorrect predictions — {dataset}",
                    dataset,
                    plots.reasoning_quality_png(groups, f"Reasoning vs reference — {dataset}"),
                )
            )
    return out


def plot_data(report: Report) -> dict[str, Any]:
    """Numbers behind the plots that are not already in the entries (calibration bins, confusion counts)."""
    data: dict[str, Any] = {}
    for dataset in report.datasets():
        section: dict[str, Any] = {}
        for entry in report.table(dataset):
            if entry.prepared is None:
                continue
            item: dict[str, Any] = {}
            curve = _curves([entry], probabilities_only=True)
            if curve:
                item["calibration_bins"] = plots.calibration_bins(
                    curve[0].labels, curve[0].scores, report.config.calibration_bins
                )
            classes = json.loads(entry.prepared["_classes"][0]) if entry.prepared.height else []
            rated = entry.prepared.filter(
                pl.col("_rating_true").is_not_null() & pl.col("_rating_pred_class").is_not_null()
            )
            if rated.height and classes:
                item["confusion"] = {
                    "classes": classes,
                    "counts": plots.confusion_counts(
                        rated["_rating_true"].to_numpy(), rated["_rating_pred_class"].to_numpy(), classes
                    ).tolist(),
                }
            if item:
                section[entry.label] = item
        if section:
            data[dataset] = section
    return data


__all__ = ["Plot", "plot_data", "render_plots"]
