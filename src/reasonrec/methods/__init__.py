"""Method recipes: each composes stages with a prompt set and a config; no logic a second method would copy.

Explicit registry: name → (config class, run function). `run(config, data_root, out_dir, llm)` writes
OUT/metrics.json, OUT/predictions.parquet and OUT/stages/<name>/ (see `methods.base`). To add a method, write
its module and add one line below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from reasonrec.errors import ConfigError
from reasonrec.llm.base import LLM
from reasonrec.methods import exp3rt, reasoningrec, recsaver, tallrec
from reasonrec.methods.base import RecipeConfig, RecipeResult


@dataclass(frozen=True)
class Recipe:
    config: type[RecipeConfig]
    run: Callable[..., RecipeResult]
    stages: tuple[str, ...]


RECIPES: dict[str, Recipe] = {
    "reasoningrec": Recipe(reasoningrec.ReasoningRecConfig, reasoningrec.run, reasoningrec.STAGES),
    "exp3rt": Recipe(exp3rt.Exp3rtConfig, exp3rt.run, exp3rt.STAGES),
    "recsaver": Recipe(recsaver.RecSaverConfig, recsaver.run, recsaver.STAGES),
    "tallrec": Recipe(tallrec.TallRecConfig, tallrec.run, tallrec.STAGES),
}


def get_recipe(name: str) -> Recipe:
    try:
        return RECIPES[name]
    except KeyError:
        raise ConfigError(f"unknown method {name!r}; known: {', '.join(RECIPES)}") from None


def run_recipe(name: str, config: RecipeConfig, data_root: str | Path | None, out_dir: str | Path,
               llm: LLM | None) -> RecipeResult:
    recipe = get_recipe(name)
    if not isinstance(config, recipe.config):
        raise ConfigError(f"method {name!r} takes {recipe.config.__name__}, got {type(config).__name__}")
    return recipe.run(config, data_root, out_dir, llm)


__all__ = ["RECIPES", "Recipe", "get_recipe", "run_recipe"]
