"""The student's prompt contract, per method: the prompt it is trained on is the prompt it is scored with.

The SFT data builder (`train.sft_data`), the batch predictor (`predict`), validation during training
(`train.callbacks`) and the zero-shot stage all read from here, so training and scoring can never drift apart:
- which template a method's student sees (`TEMPLATES_BY_METHOD`);
- the context of a ReasoningRec / TALLRec target row (`label_prompt_context`), and the fitted prompts of a
  table of target rows (`label_prompts`, after a `LabelPrompt`: the fine-tuned student's and the zero-shot
  variants' alike);
- where a like/dislike student's label is scored: the assistant prefix and the (yes, no) choices
  (`LABEL_SCORING`) — ReasoningRec after "Prediction:" (its completions are prediction-first), TALLRec directly;
- where a rating student's rating is read: after the method's rating header (`rating_prefix`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import polars as pl

from reasonrec.errors import ConfigError
from reasonrec.llm.base import LLM, Message
from reasonrec.llm.chat import LocalTokenizer
from reasonrec.prompts import Domain, PromptRenderer
from reasonrec.stages.common.base import fit_prompt, token_counter
from reasonrec.stages.common.context import ItemCatalog, text_map
from reasonrec.stages.exp3rt.predict import RATING_LINE
from reasonrec.stages.recsaver.context import PREDICT_TEMPLATE, RATING_PREFIX

TEMPLATES_BY_METHOD: dict[str, str] = {
    "reasoningrec": "reasoningrec/predict",
    "tallrec": "tallrec/predict",
    "exp3rt": "exp3rt/predict",
    "recsaver": PREDICT_TEMPLATE,
}

REASONINGREC_PREFIX = "Prediction:"
REASONINGREC_CHOICES = (" Yes", " No")
TALLREC_CHOICES = ("Yes", "No")
LABEL_SCORING: dict[str, tuple[str, tuple[str, str]]] = {
    "reasoningrec": (REASONINGREC_PREFIX, REASONINGREC_CHOICES),
    "tallrec": ("", TALLREC_CHOICES),
}
"""(assistant prefix, (yes, no) choices) per like/dislike method: test-time prediction and validation AUC read
this one table, so early stopping ranks adapters by the number the test path computes."""

RATING_HEADERS: dict[str, str] = {"exp3rt": RATING_LINE, "recsaver": RATING_PREFIX}
_RATING_HEADER_RE: dict[str, re.Pattern[str]] = {
    "exp3rt": re.compile(r"predicted\s+(?:user\s+)?rating\s*[:=\-]\s*", re.IGNORECASE),
    "recsaver": re.compile(r"#{1,6}\s*rating\s*#*\s*\n?", re.IGNORECASE),
}


def label_prompt_context(
    row: dict[str, Any],
    catalog: ItemCatalog,
    profiles: dict[str, str],
    *,
    domain: Domain,
    like_threshold: float,
    include_descriptions: bool,
    reasoning: bool,
    facts: bool = False,
) -> dict[str, Any]:
    """Template context for one ReasoningRec/TALLRec target row. `profiles` is empty when profiles are off; with
    `facts` the row's leak-free `facts` struct (`reasonrec.baselines.features.with_facts`) is stated in the prompt."""
    if facts and row.get("facts") is None:
        raise ConfigError(f"user {row['user_id']} item {row['item_id']}: a CF-aware prompt needs the row's facts "
                          "(reasonrec.baselines.features.with_facts)")
    history = catalog.history(
        row["history_item_ids"], row.get("history_labels"), row.get("history_ratings"), like_threshold=like_threshold,
    )
    return {
        "domain": domain,
        "profile": profiles.get(str(row["user_id"])),
        "history": history,
        "target": catalog.view(str(row["item_id"])),
        "include_descriptions": include_descriptions,
        "reasoning": reasoning,
        "facts": row.get("facts") if facts else None,
    }


@dataclass(frozen=True)
class LabelPrompt:
    """How a like/dislike target row is prompted and scored: the template, what the context shows (profile,
    item descriptions, the chain-of-thought answer format, the CF-aware facts) and the (yes, no) choices scored
    after the assistant prefix."""

    template: str
    profile: bool
    descriptions: bool
    reasoning: bool
    choices: tuple[str, str]
    assistant_prefix: str
    facts: bool = False

    @classmethod
    def student(cls, method: str, *, profile: bool = True, descriptions: bool = True, label_only: bool = False,
                facts: bool = False) -> LabelPrompt:
        """The fine-tuned student's prompt for `method` (reasoningrec | tallrec), after `LABEL_SCORING`.
        `label_only`: a ReasoningRec student trained on the label line alone is asked for the label only;
        `facts`: the CF-aware variant (user/item statistics and the CF score stated in the prompt)."""
        prefix, choices = LABEL_SCORING[method]
        reasoning = method == "reasoningrec" and not label_only
        return cls(TEMPLATES_BY_METHOD[method], profile, descriptions, reasoning, choices, prefix, facts)


class LabelPromptConfig(Protocol):
    """What `label_prompts` reads from a stage config (the predictor's and the zero-shot stage's)."""

    like_threshold: float
    max_prompt_tokens: int

    def domain_view(self) -> Domain: ...

    def label_prompt(self) -> LabelPrompt: ...


def label_prompts(
    rows: Sequence[dict[str, Any]],
    items: pl.DataFrame,
    item_descriptions: pl.DataFrame | None,
    user_profiles: pl.DataFrame | None,
    llm: LLM | LocalTokenizer | None,
    config: LabelPromptConfig,
) -> list[tuple[Message, ...]]:
    """`config.label_prompt()` for each target row, fitted to `max_prompt_tokens` (history trimmed oldest-first);
    ConfigError naming the row when one cannot fit. `llm` only counts tokens (a bare tokenizer will do)."""
    spec = config.label_prompt()
    domain = config.domain_view()
    catalog = ItemCatalog.from_tables(items, item_descriptions if spec.descriptions else None)
    profiles = text_map(user_profiles, "user_id") if spec.profile else {}
    renderer = PromptRenderer()
    count = token_counter(llm, spec.assistant_prefix)
    prompts = []
    for row in rows:
        ctx = label_prompt_context(row, catalog, profiles, domain=domain, like_threshold=config.like_threshold,
                                   include_descriptions=spec.descriptions, reasoning=spec.reasoning,
                                   facts=spec.facts)
        where = f"user {row['user_id']} item {row['item_id']} ({row.get('split') or 'no split'})"
        messages, _ = fit_prompt(renderer, spec.template, ctx, count, config.max_prompt_tokens, where=where)
        prompts.append(messages)
    return prompts


def rating_prefix(method: str, generated: str | None) -> str:
    """Assistant prefix to score a rating student's rating after: its generated text up to its rating header
    (+ the header), or just the canonical header when there is no usable reasoning."""
    header = RATING_HEADERS[method]
    if not generated:
        return header
    match = None
    for match in _RATING_HEADER_RE[method].finditer(generated):
        pass
    if match is None:  # the model never wrote the header: append it to what it wrote
        return f"{generated.rstrip()}\n\n{header}"
    text = generated[: match.start()].rstrip()
    return f"{text}\n\n{header}" if text else header


__all__ = [
    "LABEL_SCORING", "RATING_HEADERS", "REASONINGREC_CHOICES", "REASONINGREC_PREFIX", "TALLREC_CHOICES",
    "TEMPLATES_BY_METHOD", "LabelPrompt", "LabelPromptConfig", "label_prompt_context", "label_prompts", "rating_prefix",
]
