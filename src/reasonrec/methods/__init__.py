"""Ways to run a method, through ONE registry: each method has a recipe (`reasonrec run`: stages composed, any
stage replaceable by a released artefact) and, for the papers, a reproduction (`reasonrec reproduce`: the paper's
protocol as config + budget presets — method runs, baselines on the same rows, the report).

Both are `methods.base.Protocol`s: one config base (`RunConfig`), one precedence (`Protocol.resolve`), one run
writer (`write_run`) and one student-training path (`train.student.train_student`). To add a method, write its
package (`recipe.py`, optionally `reproduction.py`) and add one line below.
"""

from __future__ import annotations

from dataclasses import dataclass

from reasonrec.errors import ConfigError
from reasonrec.methods.base import Protocol
from reasonrec.methods.exp3rt import recipe as exp3rt_recipe
from reasonrec.methods.exp3rt import reproduction as exp3rt_reproduction
from reasonrec.methods.hybrid import recipe as hybrid_recipe
from reasonrec.methods.reasoningrec import recipe as reasoningrec_recipe
from reasonrec.methods.reasoningrec import reproduction as reasoningrec_reproduction
from reasonrec.methods.recsaver import recipe as recsaver_recipe
from reasonrec.methods.recsaver import reproduction as recsaver_reproduction
from reasonrec.methods.tallrec import recipe as tallrec_recipe


@dataclass(frozen=True)
class Method:
    recipe: Protocol
    reproduction: Protocol | None = None


METHODS: dict[str, Method] = {
    "reasoningrec": Method(reasoningrec_recipe.RECIPE, reasoningrec_reproduction.REPRODUCTION),
    "exp3rt": Method(exp3rt_recipe.RECIPE, exp3rt_reproduction.REPRODUCTION),
    "recsaver": Method(recsaver_recipe.RECIPE, recsaver_reproduction.REPRODUCTION),
    "tallrec": Method(tallrec_recipe.RECIPE),
    "hybrid": Method(hybrid_recipe.RECIPE),
}


def get_recipe(name: str) -> Protocol:
    if name not in METHODS:
        raise ConfigError(f"unknown method {name!r}; known: {', '.join(METHODS)}")
    return METHODS[name].recipe


def get_reproduction(name: str) -> Protocol:
    reproduction = METHODS[name].reproduction if name in METHODS else None
    if reproduction is None:
        known = ", ".join(n for n, m in METHODS.items() if m.reproduction is not None)
        raise ConfigError(f"unknown reproduction {name!r}; known: {known}")
    return reproduction


__all__ = ["METHODS", "Method", "get_recipe", "get_reproduction"]
