"""Request bodies of the recommendation service: strict (an unknown field is a 422 naming it), bounded (ids,
texts and numbers have limits), so a malformed body never reaches the recommender or the store."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from reasonrec.serve.feedback import MAX_ID, MAX_TEXT

Id = Field(min_length=1, max_length=MAX_ID)


class StrictBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExplainBody(StrictBody):
    """Explain why `item_id` suits (or not) `user_id`, as the student sees it."""

    user_id: str = Id
    item_id: str = Id


class FeedbackBody(StrictBody):
    """Something a user did with a recommended item; `value` (1–5) only with kind 'rating'."""

    user_id: str = Id
    item_id: str = Id
    kind: Literal["click", "like", "dislike", "purchase", "dismiss", "rating"]
    value: float | None = Field(None, ge=1, le=5)
    method: str | None = Field(None, max_length=MAX_ID, description="the list the item was shown in")


class AnnotationBody(StrictBody):
    """A person's 1–5 ratings of one explanation (Rec-SAVER's human-study dimensions) plus free text."""

    annotator: str = Id
    user_id: str = Id
    item_id: str = Id
    method: str = Id
    persuasiveness: int = Field(ge=1, le=5)
    transparency: int = Field(ge=1, le=5)
    accuracy: int = Field(ge=1, le=5)
    satisfaction: int = Field(ge=1, le=5)
    comment: str | None = Field(None, max_length=MAX_TEXT)
    explanation: str | None = Field(None, max_length=MAX_TEXT)
    p_like: float | None = Field(None, ge=0, le=1)


__all__ = ["AnnotationBody", "ExplainBody", "FeedbackBody"]
