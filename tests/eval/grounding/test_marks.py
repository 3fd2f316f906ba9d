"""Grounding marks on predictions: per-sentence flags beside the unchanged text, and summaries recomputed from
the stored column equal the checker's."""

from __future__ import annotations

import polars as pl
import pytest
from grounding_fixtures import tiny_dataset

from reasonrec.eval.grounding import check_predictions, checker_for
from reasonrec.eval.grounding.marks import COLUMN, mark_predictions, marked_text, summarise_marks
from reasonrec.llm.sentence import SentenceEncoder

TEXT = "The user will like the soap bar. They loved the Moonlight Velvet Hair Serum by Lumina."


@pytest.fixture(scope="module")
def predictions() -> pl.DataFrame:
    return pl.DataFrame({"method": ["m", "m"], "split": ["test", "test"], "user_id": ["u", "u"],
                         "item_id": ["t", "t"], "pred_label": [1, 1], "score": [0.8, 0.8],
                         "reasoning": [TEXT, None]})


def test_unsupported_sentences_are_flagged_and_the_text_is_kept(predictions: pl.DataFrame) -> None:
    ds = tiny_dataset()
    marked = mark_predictions(predictions, ds, checker_for(ds, encoder=SentenceEncoder()))
    assert marked["reasoning"].to_list() == predictions["reasoning"].to_list()
    cell, empty = marked[COLUMN].to_list()
    assert empty is None
    assert [(s["mark"], s["flagged"]) for s in cell["sentences"]] == [("supported", False), ("unsupported", True)]
    assert cell["hallucinated_items"] == 1 and cell["supported_precision"] == 0.5
    assert marked_text(cell).startswith("The user will like the soap bar. ⚑[unsupported] They loved")
    _, summary = check_predictions(predictions, ds, checker=checker_for(ds, encoder=SentenceEncoder()))
    assert summarise_marks(marked) == summary
