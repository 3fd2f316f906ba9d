"""The student prompt contract's CF-aware option: facts are a field of `LabelPrompt`, stated only when asked for,
and a CF-aware prompt refuses a row that carries no facts (one line naming the row)."""

from __future__ import annotations

import polars as pl
import pytest

from reasonrec.errors import ConfigError
from reasonrec.predict import PredictConfig
from reasonrec.stages.student import LabelPrompt, label_prompts
from reasonrec.train.sft_data import SFTDataConfig

ITEMS = pl.DataFrame({"item_id": ["a", "b", "t"], "title": ["Shampoo", "Lipstick", "Conditioner"]})
FACTS = {"user_n": 2, "user_mean_rating": 4.5, "user_like_share": 0.5, "item_n": 7, "item_mean_rating": 3.9,
         "item_like_share": 0.71, "item_cold": False, "cf_score": 4.12, "cf_code_user": None, "cf_code_item": None,
         "scale_max": 5.0}


def _row(facts: dict | None) -> dict:
    return {"user_id": "u1", "item_id": "t", "split": "test", "label": 1, "rating": 5.0,
            "history_item_ids": ["a", "b"], "history_ratings": [5.0, 2.0], "history_labels": [1, 0], "facts": facts}


def test_the_cf_aware_label_only_prompt_is_the_one_training_and_scoring_share() -> None:
    predict = PredictConfig(completion="label", facts=True, include_profile=False, include_descriptions=False)
    sft = SFTDataConfig(completion="label", facts=True, include_profile=False, include_descriptions=False)
    assert predict.label_prompt() == sft.label_prompt()
    assert predict.label_prompt().facts and not predict.label_prompt().reasoning
    assert not LabelPrompt.student("reasoningrec").facts and LabelPrompt.student("reasoningrec").reasoning
    (messages,) = label_prompts([_row(FACTS)], ITEMS, None, None, None, predict)
    text = messages[-1].content
    assert "- User: 2 rated" in text and "liked 50%" in text and "7 ratings, liked by 71%" in text
    assert "A collaborative-filtering model predicts a rating of 4.1 of 5." in text
    (plain,) = label_prompts([_row(FACTS)], ITEMS, None, None, None, predict.model_copy(update={"facts": False}))
    assert "Facts computed from ratings" not in plain[-1].content


def test_a_cf_aware_prompt_refuses_a_row_without_facts() -> None:
    predict = PredictConfig(method="tallrec", facts=True)
    with pytest.raises(ConfigError, match="user u1 item t: a CF-aware prompt needs the row's facts"):
        label_prompts([_row(None)], ITEMS, None, None, None, predict)
