"""docs/fidelity.md stays true: every ablation preset it names exists, and every registered one is named."""

from __future__ import annotations

import re
from pathlib import Path

from reasonrec.methods import METHODS

FIDELITY = Path(__file__).resolve().parents[2] / "docs" / "fidelity.md"
NAMED = re.compile(r"reproduce (\w+) --ablation ([\w-]+)")


def _named() -> set[tuple[str, str]]:
    return set(NAMED.findall(FIDELITY.read_text(encoding="utf-8")))


def registered() -> set[tuple[str, str]]:
    return {(paper, name) for paper, method in METHODS.items() if method.reproduction is not None
            for name in method.reproduction.ablations}


def test_every_preset_the_doc_names_exists() -> None:
    named = _named()
    assert named, "docs/fidelity.md names no ablation preset"
    assert not named - registered(), f"named in docs/fidelity.md but not registered: {named - registered()}"


def test_every_registered_preset_is_named_with_its_paper_table() -> None:
    assert not registered() - _named(), f"registered but missing from docs/fidelity.md: {registered() - _named()}"
    for paper, method in METHODS.items():
        for name, ablation in (method.reproduction.ablations.items() if method.reproduction else []):
            assert re.search(r"Table \d", ablation.table), f"{paper} --ablation {name} names no paper table"


def test_every_reproduction_has_a_section() -> None:
    text = FIDELITY.read_text(encoding="utf-8")
    for paper, method in METHODS.items():
        if method.reproduction is not None:
            assert f"`reasonrec reproduce {paper}`" in text
