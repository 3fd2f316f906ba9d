"""Classic recommendation baselines that write the shared predictions schema, so one evaluator scores all.

Explicit registry: name → (class, config class). Every class has `fit(TrainData)` and
`predict(targets, dataset=, split=)`; the top-k models (`bpr`, `lightgcn`) also have
`recommend(users, k, exclude_train=True)`. To add a baseline, write its module and add one line below.
"""

from __future__ import annotations

from dataclasses import dataclass

from reasonrec.baselines.bpr import BPRMF, BPRConfig
from reasonrec.baselines.caser import Caser, CaserConfig
from reasonrec.baselines.common import Baseline, BaselineConfig, TopKRecommender, TrainData
from reasonrec.baselines.lightgcn import LightGCN, LightGCNConfig
from reasonrec.baselines.mf import MatrixFactorization, MFConfig
from reasonrec.baselines.naive import GlobalMean, ItemMean, NaiveConfig, UserLikeShare, UserMean
from reasonrec.baselines.sasrec import SASRec, SASRecConfig
from reasonrec.errors import ConfigError


@dataclass(frozen=True)
class BaselineSpec:
    """How to build one baseline; `task` says which metrics apply ("rating", "like", "topk")."""

    cls: type
    config: type[BaselineConfig]
    tasks: tuple[str, ...]


BASELINES: dict[str, BaselineSpec] = {
    "user-mean": BaselineSpec(UserMean, NaiveConfig, ("like", "rating")),
    "user-like-share": BaselineSpec(UserLikeShare, NaiveConfig, ("like",)),
    "item-mean": BaselineSpec(ItemMean, NaiveConfig, ("like", "rating")),
    "global-mean": BaselineSpec(GlobalMean, NaiveConfig, ("rating",)),
    "mf": BaselineSpec(MatrixFactorization, MFConfig, ("like", "rating")),
    "bpr": BaselineSpec(BPRMF, BPRConfig, ("like", "topk")),
    "lightgcn": BaselineSpec(LightGCN, LightGCNConfig, ("like", "topk")),
    "sasrec": BaselineSpec(SASRec, SASRecConfig, ("like",)),
    "caser": BaselineSpec(Caser, CaserConfig, ("like",)),
}


def make_baseline(name: str, config: BaselineConfig | dict | None = None) -> Baseline:
    """Instantiate a registered baseline; `config` may be its Config or a dict of overrides of the defaults."""
    spec = BASELINES.get(name)
    if spec is None:
        raise ConfigError(f"unknown baseline {name!r}; known: {', '.join(BASELINES)}")
    if config is None or isinstance(config, dict):
        config = spec.config.from_dict(config or {}, source=f"baseline {name}")
    if not isinstance(config, spec.config):
        raise ConfigError(f"baseline {name!r} takes {spec.config.__name__}, got {type(config).__name__}")
    return spec.cls(config)


__all__ = [
    "BASELINES",
    "BPRMF",
    "BPRConfig",
    "Baseline",
    "BaselineConfig",
    "BaselineSpec",
    "Caser",
    "CaserConfig",
    "GlobalMean",
    "ItemMean",
    "LightGCN",
    "LightGCNConfig",
    "MFConfig",
    "MatrixFactorization",
    "NaiveConfig",
    "SASRec",
    "SASRecConfig",
    "TopKRecommender",
    "TrainData",
    "UserLikeShare",
    "UserMean",
    "make_baseline",
]
