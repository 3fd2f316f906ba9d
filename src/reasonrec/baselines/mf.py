"""Biased matrix factorisation for explicit ratings (Koren, Bell & Volinsky 2009), via cornac 3.0.1's `MF`.

cornac's MF is exactly the classic protocol: r_hat = mu + b_u + b_i + p_u . q_i fit by SGD on squared error
with L2 regularisation; it runs with numpy 2 here and is deterministic with `seed` and one thread. We only add
what cornac leaves open: cold users/items drop the missing terms (a cold user and item get mu + b_i or
mu + b_u, both cold get mu), and predictions are clipped to the training rating range. The predicted rating
is also the AUC score for the binary like task.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import polars as pl

from reasonrec.baselines.common import (
    BaselineConfig,
    TrainData,
    check_target_table,
    interactions_of,
    predictions_frame,
)


class MFConfig(BaselineConfig):
    """cornac MF hyper-parameters (cornac's defaults except more epochs)."""

    k: int = 10
    max_iter: int = 50
    learning_rate: float = 0.01
    lambda_reg: float = 0.02
    use_bias: bool = True
    early_stop: bool = True


class MatrixFactorization:
    name: ClassVar[str] = "mf"

    def __init__(self, config: MFConfig | None = None) -> None:
        self.config = config or MFConfig()
        self.model = None
        self.r_threshold = 3.0
        self.cold_rows = 0

    def fit(self, data: TrainData) -> MatrixFactorization:
        from cornac.data import Dataset as CornacDataset
        from cornac.models import MF

        inter = interactions_of(data)
        self.r_threshold = data.r_threshold
        triples = list(zip(inter["user_id"].to_list(), inter["item_id"].to_list(), inter["rating"].to_list(),
                           strict=True))
        train_set = CornacDataset.from_uir(triples, seed=self.config.seed)
        c = self.config
        self.model = MF(k=c.k, max_iter=c.max_iter, learning_rate=c.learning_rate, lambda_reg=c.lambda_reg,
                        use_bias=c.use_bias, early_stop=c.early_stop, num_threads=1, seed=c.seed, verbose=False)
        self.model.fit(train_set)
        return self

    def predict_ratings(self, users: list[str], items: list[str]) -> np.ndarray:
        """mu + b_u + b_i + p_u.q_i with missing terms dropped for cold ids, clipped to the rating range."""
        m = self.model
        if m is None:
            raise RuntimeError("MatrixFactorization.predict called before fit")
        out = np.empty(len(users), dtype=np.float64)
        cold = 0
        for n, (u, i) in enumerate(zip(users, items, strict=True)):
            ui, ii = m.uid_map.get(u), m.iid_map.get(i)
            value = float(m.global_mean) if self.config.use_bias else 0.0
            if ui is not None and self.config.use_bias:
                value += float(m.u_biases[ui])
            if ii is not None and self.config.use_bias:
                value += float(m.i_biases[ii])
            if ui is not None and ii is not None:
                value += float(np.dot(m.u_factors[ui], m.i_factors[ii]))
            else:
                cold += 1
            out[n] = value
        self.cold_rows = cold
        return np.clip(out, m.min_rating, m.max_rating)

    def predict(self, targets: pl.DataFrame, *, dataset: str = "", split: str | None = None) -> pl.DataFrame:
        check_target_table(targets, need_history=False)
        r = self.predict_ratings(targets["user_id"].cast(pl.String).to_list(),
                                 targets["item_id"].cast(pl.String).to_list())
        return predictions_frame(targets, method=self.name, dataset=dataset, split=split, score=r, pred_rating=r,
                                 r_threshold=self.r_threshold)
