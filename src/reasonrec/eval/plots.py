"""Report figures as PNG bytes: ROC, reliability diagram, rating confusion matrix, metric vs K, reasoning quality.

Each function takes plain arrays / mappings (not report objects), draws on its own `Figure` rendered through
the Agg canvas — no pyplot, so no global figure state and no display needed — and returns PNG bytes that the
report writes to disk and embeds as base64. Every legend entry states its n: a curve without its sample size
invites over-reading (the authors' Beauty test has 44 negatives).
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.metrics import auc as area_under_curve
from sklearn.metrics import roc_curve

DPI = 110
_CORRECTNESS_COLOURS = {"correct": "#2a9d8f", "incorrect": "#e76f51", "unparsed": "#9e9e9e"}


@dataclass(frozen=True)
class Curve:
    """Binary truth and scores of one method on one dataset (rows without either are dropped by the caller)."""

    label: str
    labels: np.ndarray
    scores: np.ndarray


@dataclass(frozen=True)
class KPoint:
    """One value of a metric at a number of training examples K, with its interval and sample size."""

    k: int
    value: float
    low: float | None = None
    high: float | None = None
    n: int | None = None


def _new_figure(width: float = 7.0, height: float = 5.0) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def _both_classes(curve: Curve) -> bool:
    return len(curve.labels) > 0 and len(np.unique(curve.labels)) == 2


# ------------------------------------------------------------------------------------------------- ROC


def roc_png(curves: Sequence[Curve], title: str) -> bytes:
    """One ROC line per method; curves with a single class are listed in the legend as undefined."""
    fig = _new_figure()
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], linestyle="--", color="#999999", linewidth=1, label="chance (AUC 0.5)")
    for curve in curves:
        n = len(curve.labels)
        if not _both_classes(curve):
            ax.plot([], [], label=f"{curve.label}: undefined (one class, n={n})")
            continue
        fpr, tpr, _ = roc_curve(curve.labels, curve.scores)
        area = float(area_under_curve(fpr, tpr))
        pos = int(np.sum(curve.labels))
        ax.plot(fpr, tpr, linewidth=1.8, label=f"{curve.label}: AUC {area:.3f} (n={n}, {pos}+/{n - pos}−)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_xlabel("False positive rate")
    ax.set_ylabel("True positive rate")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return _png(fig)


# ----------------------------------------------------------------------------------------- calibration


def calibration_bins(labels: np.ndarray, probs: np.ndarray, bins: int = 10) -> list[dict[str, float | int]]:
    """Equal-width bins over [0, 1]: count, mean predicted P(like) and observed like rate (empty bins omitted)."""
    y = np.asarray(labels, dtype=float)
    p = np.asarray(probs, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(p, edges[1:-1], right=False), 0, bins - 1)
    out: list[dict[str, float | int]] = []
    for b in range(bins):
        mask = index == b
        count = int(mask.sum())
        if count == 0:
            continue
        out.append(
            {
                "low": float(edges[b]),
                "high": float(edges[b + 1]),
                "n": count,
                "mean_predicted": float(p[mask].mean()),
                "observed_rate": float(y[mask].mean()),
            }
        )
    return out


def calibration_png(curves: Sequence[Curve], title: str, bins: int = 10) -> bytes:
    """Reliability diagram (binned) above a histogram of the predicted probabilities."""
    fig = _new_figure(7.0, 6.0)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    top.plot([0, 1], [0, 1], linestyle="--", color="#999999", linewidth=1, label="perfectly calibrated")
    edges = np.linspace(0.0, 1.0, bins + 1)
    for curve in curves:
        table = calibration_bins(curve.labels, curve.scores, bins)
        if not table:
            continue
        x = [row["mean_predicted"] for row in table]
        y = [row["observed_rate"] for row in table]
        (line,) = top.plot(x, y, linewidth=1.2, alpha=0.8, label=f"{curve.label} (n={len(curve.labels)})")
        # Marker area grows with the bin's row count: a 2-row bin far off the diagonal is noise, not a finding.
        sizes = [12 + 140 * math.sqrt(row["n"] / len(curve.labels)) for row in table]
        top.scatter(x, y, s=sizes, color=line.get_color(), alpha=0.8, zorder=3)
        bottom.hist(curve.scores, bins=edges, histtype="step", linewidth=1.5, color=line.get_color())
    top.set_xlim(0, 1)
    top.set_ylim(-0.02, 1.02)
    top.set_ylabel("Observed like rate")
    top.set_title(title)
    top.grid(alpha=0.3)
    top.legend(loc="lower right", fontsize=8, title="marker area ∝ √(rows in bin)", title_fontsize=8)
    bottom.set_xlabel(f"Predicted P(like), {bins} equal-width bins")
    bottom.set_ylabel("Rows")
    bottom.grid(alpha=0.3)
    return _png(fig)


# ------------------------------------------------------------------------------------------- confusion


def confusion_counts(true: np.ndarray, predicted: np.ndarray, classes: Sequence[int]) -> np.ndarray:
    """Counts[i, j] = rows with true class classes[i] predicted as classes[j] (other values ignored)."""
    position = {int(c): i for i, c in enumerate(classes)}
    counts = np.zeros((len(classes), len(classes)), dtype=int)
    for t, p in zip(np.asarray(true).tolist(), np.asarray(predicted).tolist()):
        if int(t) in position and int(p) in position:
            counts[position[int(t)], position[int(p)]] += 1
    return counts


def confusion_png(true: np.ndarray, predicted: np.ndarray, classes: Sequence[int], title: str) -> bytes:
    """Rating confusion matrix with counts in each cell (rows = true rating)."""
    counts = confusion_counts(true, predicted, classes)
    fig = _new_figure(5.5, 5.0)
    ax = fig.add_subplot()
    image = ax.imshow(counts, cmap="Blues")
    fig.colorbar(image, ax=ax, shrink=0.8, label="rows")
    threshold = counts.max() / 2 if counts.size and counts.max() else 0
    for i in range(len(classes)):
        for j in range(len(classes)):
            colour = "white" if counts[i, j] > threshold else "black"
            ax.text(j, i, str(counts[i, j]), ha="center", va="center", color=colour, fontsize=9)
    ticks = list(range(len(classes)))
    ax.set_xticks(ticks, [str(c) for c in classes])
    ax.set_yticks(ticks, [str(c) for c in classes])
    ax.set_xlabel("Predicted rating")
    ax.set_ylabel("True rating")
    ax.set_title(f"{title} (n={int(counts.sum())})")
    return _png(fig)


# ------------------------------------------------------------------------------------------ metric vs K


def metric_vs_k_png(
    series: Mapping[str, Sequence[KPoint]],
    title: str,
    metric: str = "AUC",
    reference: Mapping[str, Sequence[KPoint]] | None = None,
) -> bytes:
    """Metric against K (log2 x axis) with CI error bars; `reference` (e.g. the authors' reported figures)
    is drawn as hollow markers without bars."""
    fig = _new_figure(7.0, 5.6)
    ax = fig.add_subplot()
    all_k: set[int] = set()
    count = max(1, len(series))
    for index, (label, points) in enumerate(series.items()):
        pts = sorted(points, key=lambda p: p.k)
        all_k.update(p.k for p in pts)
        # Nudge each series sideways (on the log axis) so overlapping error bars stay distinguishable.
        shift = 2 ** (0.06 * (index - (count - 1) / 2))
        ks = [p.k * shift for p in pts]
        values = np.array([p.value for p in pts])
        low = np.array([p.value - p.low if p.low is not None else 0.0 for p in pts])
        high = np.array([p.high - p.value if p.high is not None else 0.0 for p in pts])
        ns = sorted({p.n for p in pts if p.n is not None})
        n_text = f", n={ns[0]}" if len(ns) == 1 else (f", n={ns[0]}–{ns[-1]}" if ns else "")
        ax.errorbar(
            ks,
            values,
            yerr=[low, high],
            marker="o",
            capsize=4,
            linewidth=1.6,
            label=f"{label} (95% CI{n_text})",
        )
    for label, points in (reference or {}).items():
        pts = sorted(points, key=lambda p: p.k)
        all_k.update(p.k for p in pts)
        ax.plot(
            [p.k for p in pts],
            [p.value for p in pts],
            marker="s",
            markerfacecolor="none",
            linestyle=":",
            linewidth=1.2,
            label=label,
        )
    if all_k:
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted(all_k), [str(k) for k in sorted(all_k)])
        ax.minorticks_off()
    ax.set_xlabel("K (training examples)")
    ax.set_ylabel(metric)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.legend(loc="outside lower center", fontsize=8)
    return _png(fig)


# ------------------------------------------------------------------------------------- reasoning quality


def grounding_vs_auc_png(points: Sequence[tuple[str, float, float, int]], title: str) -> bytes:
    """One labelled point per method: AUC (x) against supported-claim precision (y); `(method, auc, precision,
    n explanations)`."""
    fig = _new_figure(7.0, 5.0)
    ax = fig.subplots()
    for method, auc_value, precision, n in points:
        ax.scatter([auc_value], [precision], s=40)
        ax.annotate(f"{method} (n={n})", (auc_value, precision), fontsize=8, xytext=(4, 4),
                    textcoords="offset points")
    ax.set_xlabel("AUC")
    ax.set_ylabel("supported-claim precision")
    ax.set_ylim(-0.02, 1.05)
    ax.grid(alpha=0.3)
    ax.set_title(title)
    return _png(fig)


def reasoning_quality_png(
    groups: Mapping[str, Mapping[str, Mapping[str, tuple[float, int]]]],
    title: str,
) -> bytes:
    """Grouped bars of text metrics for correct vs incorrect predictions.

    `groups[method][correctness][metric] = (value, n)`; one subplot per method so long names stay readable.
    """
    methods = list(groups)
    fig = _new_figure(7.5, 2.0 + 2.6 * max(1, len(methods)))
    axes = fig.subplots(max(1, len(methods)), 1, squeeze=False)[:, 0]
    for ax, method in zip(axes, methods):
        parts = groups[method]
        metrics = sorted({m for values in parts.values() for m in values})
        kinds = [k for k in ("correct", "incorrect", "unparsed") if k in parts]
        width = 0.8 / max(1, len(kinds))
        x = np.arange(len(metrics))
        for i, kind in enumerate(kinds):
            values = [parts[kind].get(m, (np.nan, 0))[0] for m in metrics]
            ns = {parts[kind][m][1] for m in metrics if m in parts[kind]}
            n_text = f"n={next(iter(ns))}" if len(ns) == 1 else "n varies"
            bars = ax.bar(
                x + (i - (len(kinds) - 1) / 2) * width,
                values,
                width,
                color=_CORRECTNESS_COLOURS.get(kind),
                label=f"{kind} ({n_text})",
            )
            ax.bar_label(bars, fmt="%.3f", fontsize=7, padding=1)
        ax.set_xticks(x, metrics)
        ax.set_ylabel("score")
        ax.set_ylim(0, 1.05)
        ax.set_title(method, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8, loc="upper right")
    fig.suptitle(title)
    return _png(fig)
