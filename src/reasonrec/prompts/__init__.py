"""Prompt templates (Jinja2, package data) and the code that renders them into chat messages.

Templates are written in our own words following the structure each paper describes: a role (system block),
the inputs, guardrails against hallucination, a step-by-step instruction and the paper's output format.
Ablations are template *flags* (include_descriptions, profile=None, reasoning=False, …), not copies.
Rendering is strict: an undefined variable is an error, so nothing is ever left unfilled.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import jinja2

from reasonrec.errors import ConfigError
from reasonrec.llm.base import Message


@dataclass(frozen=True)
class Domain:
    """Wording for one kind of catalogue (the papers use dataset-specific roles)."""

    item: str
    items: str
    reviewer: str


DOMAINS: dict[str, Domain] = {
    "beauty": Domain("beauty product", "beauty products", "beauty product reviewer"),
    "fashion": Domain("fashion product", "fashion products", "fashion reviewer"),
    "movies": Domain("movie", "movies", "film critic"),
    "books": Domain("book", "books", "book reviewer"),
    "products": Domain("product", "products", "product reviewer"),
}


@dataclass(frozen=True)
class ItemView:
    """What a prompt may say about an item; every field exists so strict templates never hit a missing key."""

    title: str
    brand: str | None = None
    price: float | None = None
    year: int | None = None
    genres: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    description: str | None = None


@dataclass(frozen=True)
class HistoryEntry(ItemView):
    """A past interaction as shown to the model: the item plus the user's feedback."""

    liked: bool = False
    rating: float | None = None
    review: str | None = None


# Explicit registry: template name -> file inside this package.
TEMPLATES: dict[str, str] = {
    "reasoningrec/item_description": "reasoningrec/item_description.j2",
    "reasoningrec/item_description_metadata": "reasoningrec/item_description_metadata.j2",
    "reasoningrec/user_profile": "reasoningrec/user_profile.j2",
    "reasoningrec/teacher_reasoning": "reasoningrec/teacher_reasoning.j2",
    "reasoningrec/predict": "reasoningrec/predict.j2",
    "tallrec/predict": "tallrec/predict.j2",
    "recsaver/predict": "recsaver/predict.j2",
    "recsaver/explain": "recsaver/explain.j2",
    "recsaver/verify": "recsaver/verify.j2",
    "exp3rt/extract_preferences": "exp3rt/extract_preferences.j2",
    "exp3rt/user_profile": "exp3rt/user_profile.j2",
    "exp3rt/item_profile": "exp3rt/item_profile.j2",
    "exp3rt/teacher_reasoning": "exp3rt/teacher_reasoning.j2",
    "exp3rt/predict": "exp3rt/predict.j2",
}


@dataclass
class PromptRenderer:
    """Renders registered templates into (system, user) messages. Holds its own Jinja environment."""

    env: jinja2.Environment = field(
        default_factory=lambda: jinja2.Environment(
            loader=jinja2.PackageLoader("reasonrec", "prompts"),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            keep_trailing_newline=False,
        )
    )

    def render(self, name: str, **context: Any) -> tuple[Message, ...]:
        if name not in TEMPLATES:
            raise ConfigError(f"unknown prompt template {name!r}; known: {', '.join(sorted(TEMPLATES))}")
        template = self.env.get_template(TEMPLATES[name])
        ctx = template.new_context(context)
        messages = []
        for role in ("system", "user"):
            block = template.blocks.get(role)
            if block is None:
                continue
            text = _tidy("".join(block(ctx)))
            if text:
                messages.append(Message(role=role, content=text))  # type: ignore[arg-type]
        return tuple(messages)

    def render_fitted(
        self,
        name: str,
        context: dict[str, Any],
        count_tokens: Callable[[Sequence[Message]], int],
        max_tokens: int,
        history_key: str = "history",
    ) -> tuple[tuple[Message, ...], int]:
        """Render, dropping history entries from the OLDEST end until the prompt fits `max_tokens`.

        The target is never dropped. Returns (messages, number of history items dropped); raises
        ConfigError if even an empty history does not fit.
        """
        history = list(context.get(history_key, []))
        for dropped in range(len(history) + 1):
            ctx = {**context, history_key: history[dropped:]}
            messages = self.render(name, **ctx)
            if count_tokens(messages) <= max_tokens:
                return messages, dropped
        raise ConfigError(
            f"prompt {name!r} does not fit in {max_tokens} tokens even with an empty history "
            f"({count_tokens(messages)} tokens)"
        )


def _tidy(text: str) -> str:
    """Strip template indentation artefacts: trailing spaces and runs of 3+ newlines."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    out: list[str] = []
    for line in lines:
        if not line and out and not out[-1] and len(out) > 1 and not out[-2]:
            continue
        out.append(line)
    return "\n".join(out)


__all__ = [
    "DOMAINS", "TEMPLATES", "Domain", "HistoryEntry", "ItemView", "PromptRenderer",
]
