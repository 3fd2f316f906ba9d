"""Prompt text and token ids from an HF tokenizer, shared by every backend that tokenises locally (hf, llama.cpp).

One implementation means both backends put the chat template, the generation prompt and the `assistant_prefix`
in exactly the same place, so their token ids agree and only the weights differ. `render` + `encode` are also what
`reasonrec.stages.common.base.token_counter` looks for to count prompt tokens exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reasonrec.llm.base import Message


class TokenizerChat:
    """Mixin: `render()` / `encode()` through `self.tokenizer` (a transformers tokenizer with a chat template)."""

    tokenizer: Any

    def render(
        self, messages: Sequence[Message] | None, prompt: str | None, assistant_prefix: str = ""
    ) -> str:
        """Prompt text exactly as the model sees it: chat template + generation prompt + assistant prefix
        (or the raw `prompt` when there are no messages)."""
        if messages is not None:
            text = self.tokenizer.apply_chat_template(
                [{"role": m.role, "content": m.content} for m in messages],
                tokenize=False,
                add_generation_prompt=True,
            )
        else:
            text = prompt or ""
        return text + assistant_prefix

    def encode(self, text: str) -> list[int]:
        """Ids of already-rendered text: the template put in the special tokens, so none are added."""
        return self.tokenizer(text, add_special_tokens=False).input_ids


class LocalTokenizer(TokenizerChat):
    """A tokenizer without weights: counts prompt tokens exactly as the hf and llama.cpp backends see them (e.g. to
    check every prompt a run will score against its budget before any model loads)."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer


__all__ = ["LocalTokenizer", "TokenizerChat"]
