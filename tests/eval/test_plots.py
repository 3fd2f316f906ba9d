"""Report figures: valid PNGs with real content, and the numbers behind them (calibration bins, confusion)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from matplotlib import image as mpimg

from reasonrec.eval import plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def assert_nontrivial_png(data: bytes, min_colours: int = 20) -> np.ndarray:
    """A decodable PNG of sensible size that is not a blank canvas."""
    assert data.startswith(PNG_MAGIC)
    pixels = mpimg.imread(io.BytesIO(data), format="png")
    height, width = pixels.shape[:2]
    assert width >= 300 and height >= 250
    flat = (pixels[..., :3].reshape(-1, 3) * 255).astype(np.uint32)
    packed = (flat[:, 0] << 16) | (flat[:, 1] << 8) | flat[:, 2]
    assert len(np.unique(packed)) >= min_colours
    # Not almost entirely white: lines, labels and text cover a few percent of the canvas.
    assert (flat.min(axis=1) < 200).mean() > 0.01
    return pixels


@pytest.fixture
def curves() -> list[plots.Curve]:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 200)
    good = np.clip(labels * 0.4 + rng.uniform(0, 0.6, 200), 0, 1)
    noise = rng.uniform(0, 1, 200)
    return [plots.Curve("good", labels, good), plots.Curve("noise", labels, noise)]


def test_roc_png(curves: list[plots.Curve]) -> None:
    assert_nontrivial_png(plots.roc_png(curves, "ROC — toy"))


def test_roc_png_survives_single_class_curve() -> None:
    one_class = plots.Curve("all yes", np.ones(5, dtype=int), np.linspace(0, 1, 5))
    assert_nontrivial_png(plots.roc_png([one_class], "ROC — degenerate"), min_colours=5)


def test_calibration_bins_hand_computed() -> None:
    labels = np.array([0, 1, 1, 1, 0])
    probs = np.array([0.05, 0.15, 0.55, 0.95, 1.0])
    bins = plots.calibration_bins(labels, probs, bins=2)
    assert bins == [
        {"low": 0.0, "high": 0.5, "n": 2, "mean_predicted": pytest.approx(0.10), "observed_rate": 0.5},
        {
            "low": 0.5,
            "high": 1.0,
            "n": 3,
            "mean_predicted": pytest.approx(2.5 / 3),
            "observed_rate": pytest.approx(2 / 3),
        },
    ]


def test_calibration_png(curves: list[plots.Curve]) -> None:
    assert_nontrivial_png(plots.calibration_png(curves, "Calibration — toy", bins=10))


def test_confusion_counts_and_png() -> None:
    true = np.array([1, 2, 3, 3, 5, 5, 5])
    pred = np.array([1, 3, 3, 3, 4, 5, 9])  # 9 is outside the scale and ignored
    counts = plots.confusion_counts(true, pred, [1, 2, 3, 4, 5])
    assert counts.sum() == 6
    assert counts[2, 2] == 2 and counts[1, 2] == 1 and counts[4, 3] == 1 and counts[4, 4] == 1
    assert_nontrivial_png(plots.confusion_png(true, pred, [1, 2, 3, 4, 5], "ratings — toy"))


def test_metric_vs_k_png() -> None:
    series = {
        "student": [
            plots.KPoint(64, 0.70, 0.62, 0.78, 600),
            plots.KPoint(128, 0.75, 0.68, 0.82, 600),
            plots.KPoint(256, 0.77, 0.70, 0.84, 600),
        ]
    }
    reference = {"authors": [plots.KPoint(64, 0.741), plots.KPoint(256, 0.768)]}
    assert_nontrivial_png(plots.metric_vs_k_png(series, "AUC vs K — toy", "AUC", reference))


def test_reasoning_quality_png() -> None:
    groups = {
        "student K=64": {
            "correct": {"bleu": (0.21, 500), "rouge1": (0.45, 500)},
            "incorrect": {"bleu": (0.12, 96), "rouge1": (0.33, 96)},
        },
        "student K=128": {
            "correct": {"bleu": (0.25, 520), "rouge1": (0.47, 520)},
            "incorrect": {"bleu": (0.10, 76), "rouge1": (0.30, 76)},
        },
    }
    assert_nontrivial_png(plots.reasoning_quality_png(groups, "Reasoning — toy"))
