"""BPR-MF (Rendle et al., UAI 2009) for top-k candidate generation, via cornac 3.0.1's `BPR`.

cornac's BPR is the paper's model: implicit feedback, a user-preferred-item vs sampled-negative pairwise
log-sigmoid loss, SGD, with an item bias. Every training interaction is a positive (optionally only ratings
>= `min_rating`). `recommend` ranks all training items, skipping the user's training items; its top-20 is the
candidate list the rerank stage consumes. `predict` scores (user, item) target rows for AUC as
sigmoid(x_ui); rows with a cold user or item score below every warm row (counted in `cold_rows`).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import polars as pl

from reasonrec.baselines.common import (
    BaselineConfig,
    TrainData,
    pairwise_predictions,
    positive_interactions,
    top_k_table,
)
from reasonrec.baselines.factors import FactorModel


class BPRConfig(BaselineConfig):
    k: int = 32
    max_iter: int = 200
    learning_rate: float = 0.01
    lambda_reg: float = 0.01
    use_bias: bool = True
    min_rating: float | None = None


class BPRMF:
    name: ClassVar[str] = "bpr"

    def __init__(self, config: BPRConfig | None = None) -> None:
        self.config = config or BPRConfig()
        self.model = None
        self.item_ids: list[str] = []
        self.train_items: dict[str, set[int]] = {}
        self.cold_rows = 0

    def fit(self, data: TrainData) -> BPRMF:
        from cornac.data import Dataset as CornacDataset
        from cornac.models import BPR

        all_inter, inter = positive_interactions(data, self.config.min_rating)
        triples = list(zip(inter["user_id"].to_list(), inter["item_id"].to_list(), [1.0] * inter.height,
                           strict=True))
        train_set = CornacDataset.from_uir(triples, seed=self.config.seed)
        c = self.config
        self.model = BPR(k=c.k, max_iter=c.max_iter, learning_rate=c.learning_rate, lambda_reg=c.lambda_reg,
                         use_bias=c.use_bias, num_threads=1, seed=c.seed, verbose=False)
        self.model.fit(train_set)
        m = self.model
        self.item_ids = [""] * len(m.iid_map)
        for raw, idx in m.iid_map.items():
            self.item_ids[idx] = raw
        self.train_items = {}
        for u, i in zip(all_inter["user_id"].to_list(), all_inter["item_id"].to_list(), strict=True):
            if i in m.iid_map:  # every seen item is excluded from recommendation, liked or not
                self.train_items.setdefault(u, set()).add(m.iid_map[i])
        return self

    def _user_scores(self, user: str) -> np.ndarray | None:
        m = self.model
        if m is None:
            raise RuntimeError("BPRMF used before fit")
        ui = m.uid_map.get(user)
        if ui is None:
            return None
        scores = m.i_factors @ m.u_factors[ui]
        if self.config.use_bias:
            scores = scores + m.i_biases
        return np.asarray(scores, dtype=np.float64)

    def predict(self, targets: pl.DataFrame, *, dataset: str = "", split: str | None = None) -> pl.DataFrame:
        m = self.model
        if m is None:
            raise RuntimeError("BPRMF used before fit")

        def pair_score(user: str, item: str) -> float | None:
            scores, ii = self._user_scores(user), m.iid_map.get(item)
            return None if scores is None or ii is None else scores[ii]

        frame, self.cold_rows = pairwise_predictions(targets, pair_score, method=self.name, dataset=dataset,
                                                     split=split)
        return frame

    def recommend(self, users: list[str], k: int, exclude_train: bool = True) -> pl.DataFrame:
        """Top-k training items per user (users unknown to the model get no rows)."""
        known = [u for u in users if self._user_scores(u) is not None]
        if not known:
            return top_k_table([], self.item_ids, np.zeros((0, len(self.item_ids))), k)
        matrix = np.stack([self._user_scores(u) for u in known])  # type: ignore[misc]
        exclude = [self.train_items.get(u, set()) for u in known] if exclude_train else None
        return top_k_table(known, self.item_ids, matrix, k, exclude)

    def factors(self) -> FactorModel:
        """The fitted state as arrays (for a model bundle): x_ui = u_u · v_i (+ b_i)."""
        m = self.model
        if m is None:
            raise RuntimeError("BPRMF used before fit")
        user_ids = [""] * len(m.uid_map)
        for raw, idx in m.uid_map.items():
            user_ids[idx] = raw
        bias = np.asarray(m.i_biases, dtype=np.float64) if self.config.use_bias else np.zeros(len(self.item_ids))
        return FactorModel(self.name, user_ids, list(self.item_ids), np.asarray(m.u_factors, dtype=np.float64),
                           np.asarray(m.i_factors, dtype=np.float64), bias)
