"""Learning curves from a trainer log: train loss, validation loss and validation AUC per step (PNG, Agg).

DESIGN.md asks to "measure learning curves before believing any recipe": every LoRA run draws one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def read_log(path: str | Path) -> list[dict[str, Any]]:
    """Records of a trainer_log.jsonl (missing file → empty)."""
    path = Path(path)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def series(log: Sequence[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    """(steps, values) of one metric; null/NaN values skipped; a step logged twice keeps the last value."""
    points: dict[int, float] = {}
    for rec in log:
        value = rec.get(key)
        if value is None or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
            continue
        points[int(rec.get("step") or 0)] = float(value)
    steps = sorted(points)
    return steps, [points[s] for s in steps]


def _save(fig: Any, path: str | Path, title: str) -> Path:
    """Title, layout, then an atomic PNG write (temp file + rename), and the figure is closed."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(path)
    return path


def plot_curves(log: Sequence[dict[str, Any]], path: str | Path, *, title: str = "") -> Path:
    """Loss panel (train + validation) and AUC panel; empty panels say so instead of disappearing."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_auc) = plt.subplots(1, 2, figsize=(10, 4))
    for key, label, style in (("loss", "train loss", "-"), ("eval_loss", "validation loss", "o-")):
        steps, values = series(log, key)
        if steps:
            ax_loss.plot(steps, values, style, label=label)
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("cross-entropy (completion tokens)")
    if ax_loss.lines:
        ax_loss.legend()
    else:
        ax_loss.text(0.5, 0.5, "no loss logged", ha="center", va="center", transform=ax_loss.transAxes)
    steps, values = series(log, "eval_auc")
    if steps:
        ax_auc.plot(steps, values, "o-", color="tab:green", label="validation AUC")
        ax_auc.axhline(0.5, color="grey", lw=0.8, ls="--")
        ax_auc.set_ylim(0, 1)
        ax_auc.legend()
    else:
        ax_auc.text(0.5, 0.5, "no validation AUC", ha="center", va="center", transform=ax_auc.transAxes)
    ax_auc.set_xlabel("step")
    ax_auc.set_ylabel("AUC")
    return _save(fig, path, title)


def plot_compare(runs: dict[str, Sequence[dict[str, Any]]], path: str | Path, *, title: str = "") -> Path:
    """Several runs' validation AUC and loss per optimizer step on one figure: recipes (K, lr, class balance)
    compared where it is decided — on validation, never on test."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not runs:
        raise ValueError("plot_compare needs at least one run")
    fig, (ax_auc, ax_loss) = plt.subplots(1, 2, figsize=(11, 4))
    for name, log in runs.items():
        for ax, key in ((ax_auc, "eval_auc"), (ax_loss, "eval_loss")):
            steps, values = series(log, key)
            if steps:
                ax.plot(steps, values, "o-", label=name)
    for ax, label, empty in ((ax_auc, "validation AUC", "no validation AUC"),
                             (ax_loss, "validation loss", "no validation loss")):
        ax.set_xlabel("optimizer step")
        ax.set_ylabel(label)
        if ax.lines:
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, empty, ha="center", va="center", transform=ax.transAxes)
    if ax_auc.lines:
        ax_auc.axhline(0.5, color="grey", lw=0.8, ls="--")
        ax_auc.set_ylim(0.3, 1)
    return _save(fig, path, title)


__all__ = ["plot_compare", "plot_curves", "read_log", "series"]
