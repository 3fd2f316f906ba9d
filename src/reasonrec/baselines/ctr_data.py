"""Tensorising target tables for the sequential CTR baselines (SASRec, Caser) — the ReasoningRec/TALLRec protocol.

Each target row becomes: the last `max_len` history item ids and their like/dislike labels (left-padded so the
most recent item is always the last position), the target item id, and the binary label. Item index 0 is
padding and 1 is "unknown item" (an id not seen in training, e.g. a cold test target); label index 0 is padding,
1 dislike, 2 like, 3 like-status unknown (history rating missing). The vocabulary is built from training data
only, so no validation/test id gets a trained embedding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from reasonrec.baselines.common import check_target_table

PAD, UNKNOWN_ITEM = 0, 1
LABEL_PAD, LABEL_DISLIKE, LABEL_LIKE, LABEL_UNKNOWN = 0, 1, 2, 3
N_LABEL_TOKENS = 4


def build_item_vocab(train: pl.DataFrame, interactions: pl.DataFrame | None = None) -> dict[str, int]:
    """Item id → index (from 2) over training targets, their histories and the training interactions; sorted
    so the mapping does not depend on row order."""
    ids: set[str] = set(train["item_id"].cast(pl.String).to_list())
    for hist in train["history_item_ids"].to_list():
        ids.update(str(i) for i in (hist or []))
    if interactions is not None:
        ids.update(interactions["item_id"].cast(pl.String).to_list())
    return {item: n + 2 for n, item in enumerate(sorted(ids))}


@dataclass
class CTRArrays:
    """numpy arrays for one target table; `labels` is NaN where the row has no ground truth."""

    hist_items: np.ndarray  # (N, L) int64
    hist_labels: np.ndarray  # (N, L) int64
    target_items: np.ndarray  # (N,) int64
    labels: np.ndarray  # (N,) float32

    def __len__(self) -> int:
        return int(self.target_items.shape[0])


def tensorise(targets: pl.DataFrame, vocab: dict[str, int], max_len: int, r_threshold: float = 3.0) -> CTRArrays:
    """Convert a target table into padded arrays (see module docstring for the index conventions).

    A history label that is null falls back to `history_ratings > r_threshold`; if that is null too the
    position gets LABEL_UNKNOWN.
    """
    check_target_table(targets)
    n = targets.height
    hist_items = np.zeros((n, max_len), dtype=np.int64)
    hist_labels = np.zeros((n, max_len), dtype=np.int64)
    rows = zip(targets["history_item_ids"].to_list(), targets["history_labels"].to_list(),
               targets["history_ratings"].to_list(), strict=True)
    for r, (items, labels, ratings) in enumerate(rows):
        items = list(items or [])[-max_len:]
        k = len(items)
        if k == 0:
            continue
        labels = list(labels or [None] * k)
        ratings = list(ratings or [None] * k)
        labels = labels[-k:] if len(labels) >= k else [None] * (k - len(labels)) + labels
        ratings = ratings[-k:] if len(ratings) >= k else [None] * (k - len(ratings)) + ratings
        for p, (item, lab, rat) in enumerate(zip(items, labels, ratings, strict=True)):
            col = max_len - k + p
            hist_items[r, col] = vocab.get(str(item), UNKNOWN_ITEM)
            if lab is None and rat is not None:
                lab = int(float(rat) > r_threshold)
            hist_labels[r, col] = LABEL_UNKNOWN if lab is None else (LABEL_LIKE if int(lab) == 1 else LABEL_DISLIKE)
    target_items = np.array([vocab.get(str(i), UNKNOWN_ITEM) for i in targets["item_id"].to_list()], dtype=np.int64)
    if "label" in targets.columns:
        labels_arr = np.array([np.nan if v is None else float(v) for v in targets["label"].to_list()], np.float32)
    else:
        labels_arr = np.full(n, np.nan, dtype=np.float32)
    return CTRArrays(hist_items, hist_labels, target_items, labels_arr)
