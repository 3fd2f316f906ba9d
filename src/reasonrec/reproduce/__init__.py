"""One reproduction per paper: `reasonrec reproduce <paper>` → OUT/metrics.json + report.md/html.

Explicit registry: paper → (resolve(dataset, budget, overrides, base) -> config, run(config, out_dir) -> metrics,
supported datasets). To add a paper, write its module and add one line below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reasonrec.errors import ConfigError
from reasonrec.reproduce import exp3rt, reasoningrec, recsaver


@dataclass(frozen=True)
class Reproduction:
    resolve: Callable[..., Any]
    run: Callable[..., dict[str, Any]]
    datasets: tuple[str, ...]
    default_dataset: str


REPRODUCTIONS: dict[str, Reproduction] = {
    "reasoningrec": Reproduction(reasoningrec.resolve, reasoningrec.run, tuple(reasoningrec.DATASET_DEFAULTS),
                                 "reasoningrec-beauty"),
    "exp3rt": Reproduction(exp3rt.resolve, exp3rt.run, tuple(exp3rt.DATASET_DEFAULTS), "exp3rt-imdb"),
    "recsaver": Reproduction(recsaver.resolve, recsaver.run, tuple(recsaver.DATASET_DEFAULTS), "amazon-beauty-raw"),
}


def get_reproduction(name: str) -> Reproduction:
    try:
        return REPRODUCTIONS[name]
    except KeyError:
        raise ConfigError(f"unknown reproduction {name!r}; known: {', '.join(REPRODUCTIONS)}") from None


__all__ = ["REPRODUCTIONS", "Reproduction", "get_reproduction"]
