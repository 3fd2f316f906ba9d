"""The stacking model of the hybrid: fitted on validation rows only, over columns of a feature table.

Inputs are columns of one table per split: the leak-free facts (`features.NUMERIC_FEATURES`), the evidence
similarities (`evidence.SIMILARITY_FEATURES`), and the student's log-odds (`LLM_TERM`). The no-LLM ablation is the
same stacker without `LLM_TERM`, fitted on the same rows, so the difference between the two is what the language
model adds.

Preprocessing is learnt on the fitting rows only: a null becomes that column's fitting mean plus a 0/1 missing
indicator (a cold item has no mean rating — that absence is itself informative), counts are log1p'd, booleans
become 0/1, and everything is standardised. Fitting and scoring run on one thread: these models are tiny, and
OpenMP threads spinning on a shared 2-core machine made a 400-row GBDT take 25 s instead of 0.2 s. Models: L2 logistic regression with its strength chosen by
cross-validation on the fitting rows (`logistic`), or scikit-learn's histogram GBDT kept small (`gbdt`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import polars as pl
from pydantic import Field
from threadpoolctl import threadpool_limits

from reasonrec.baselines.features import NUMERIC_FEATURES
from reasonrec.config import Config
from reasonrec.errors import ConfigError
from reasonrec.stages.common.evidence import SIMILARITY_FEATURES

LLM_TERM = "llm_logodds"
"""log P(yes) - log P(no) of the student on the row's prompt (one forward pass)."""

DEFAULT_FEATURES: tuple[str, ...] = (*NUMERIC_FEATURES, *SIMILARITY_FEATURES, LLM_TERM)
COUNT_COLUMNS = frozenset({"user_n", "item_n"})
MAX_CV_FOLDS = 10


class StackerConfig(Config):
    """Which columns the hybrid reads and which model combines them."""

    model: Literal["logistic", "gbdt"] = "logistic"
    features: list[str] = Field(default_factory=lambda: list(DEFAULT_FEATURES))
    cv_folds: int = Field(5, ge=2, le=MAX_CV_FOLDS, description="folds choosing the logistic regularisation")
    gbdt_max_iter: int = Field(100, ge=10, le=1000)
    gbdt_max_leaf_nodes: int = Field(8, ge=2, le=64)
    seed: int = 42

    def without(self, column: str) -> StackerConfig:
        """The same stacker minus one input (the ablation)."""
        return self.model_copy(update={"features": [c for c in self.features if c != column]})


class Stacker:
    """fit(table, labels) on validation rows, then predict_proba(table) on any rows with the same columns."""

    def __init__(self, config: StackerConfig | None = None) -> None:
        self.config = config or StackerConfig()
        self.columns: list[str] = []
        self._means: dict[str, float] = {}
        self._with_missing: list[str] = []
        self._scale: tuple[np.ndarray, np.ndarray] | None = None
        self._model: Any = None

    def _raw(self, table: pl.DataFrame) -> dict[str, np.ndarray]:
        missing = [c for c in self.config.features if c not in table.columns]
        if missing:
            raise ConfigError(f"hybrid stacker: the feature table lacks column(s) {missing}")
        out = {}
        for col in self.config.features:
            values = table[col].cast(pl.Float64).to_numpy().astype(np.float64)
            if col in COUNT_COLUMNS:
                values = np.log1p(values)
            out[col] = values
        return out

    def _matrix(self, table: pl.DataFrame) -> np.ndarray:
        raw = self._raw(table)
        cols = []
        for col in self.config.features:
            values = raw[col]
            nan = np.isnan(values)
            cols.append(np.where(nan, self._means[col], values))
            if col in self._with_missing:
                cols.append(nan.astype(np.float64))
        x = np.column_stack(cols)
        assert self._scale is not None
        return (x - self._scale[0]) / self._scale[1]

    def fit(self, table: pl.DataFrame, labels: Sequence[int] | np.ndarray) -> Stacker:
        y = np.asarray(labels, dtype=int)
        if len(y) != table.height:
            raise ValueError(f"hybrid stacker: {table.height} rows but {len(y)} labels")
        if len(np.unique(y)) < 2:
            raise ConfigError("hybrid stacker: the fitting rows need both labels")
        raw = self._raw(table)
        self._means = {c: float(np.nanmean(v)) if np.isfinite(v).any() else 0.0 for c, v in raw.items()}
        self._with_missing = [c for c, v in raw.items() if np.isnan(v).any()]
        self._scale = (np.zeros(1), np.ones(1))
        x = self._matrix(table)
        std = x.std(axis=0)
        self._scale = (x.mean(axis=0), np.where(std > 0, std, 1.0))
        with threadpool_limits(1):
            self._model = self._estimator(y).fit(self._matrix(table), y)
        self.columns = [name for col in self.config.features
                        for name in ((col, f"{col}_missing") if col in self._with_missing else (col,))]
        return self

    def _estimator(self, y: np.ndarray) -> Any:
        c = self.config
        if c.model == "gbdt":
            from sklearn.ensemble import HistGradientBoostingClassifier

            return HistGradientBoostingClassifier(max_iter=c.gbdt_max_iter, max_leaf_nodes=c.gbdt_max_leaf_nodes,
                                                  learning_rate=0.05, random_state=c.seed)
        from sklearn.linear_model import LogisticRegressionCV
        from sklearn.model_selection import StratifiedKFold

        folds = min(c.cv_folds, int(np.bincount(y).min()))
        if folds < 2:
            raise ConfigError("hybrid stacker: each label needs at least 2 fitting rows for cross-validation")
        return LogisticRegressionCV(Cs=10, cv=StratifiedKFold(folds, shuffle=True, random_state=c.seed),
                                    scoring="roc_auc", max_iter=2000, l1_ratios=(0.0,),
                                    use_legacy_attributes=False)

    def predict_proba(self, table: pl.DataFrame) -> np.ndarray:
        if self._model is None:
            raise RuntimeError("Stacker.predict_proba called before fit")
        with threadpool_limits(1):
            return self._model.predict_proba(self._matrix(table))[:, 1]

    def weights(self) -> dict[str, float]:
        """Standardised logistic coefficients by input (what the report shows about each term); {} for GBDT."""
        if self._model is None or self.config.model != "logistic":
            return {}
        return {name: float(w) for name, w in zip(self.columns, self._model.coef_[0], strict=True)}


__all__ = ["DEFAULT_FEATURES", "LLM_TERM", "Stacker", "StackerConfig"]
