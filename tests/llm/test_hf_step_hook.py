"""The hf backend's `on_step` hook (what the server streams and cancels through), with the real embedded model."""

from __future__ import annotations

import pytest

from reasonrec.llm.base import GenerationRequest, SamplingParams

pytestmark = pytest.mark.model


def _requests(max_new_tokens: int) -> list[GenerationRequest]:
    params = SamplingParams(temperature=0.0, max_new_tokens=max_new_tokens)
    return [
        GenerationRequest(prompt="Fruits: apple, banana,", params=params),
        GenerationRequest(prompt="1, 2, 3, 4,", params=params),
        GenerationRequest(prompt="The capital of France is a city called", params=params),
    ]


def test_hook_sees_every_generated_token_under_the_callers_request_index(embedded_hf):
    requests = _requests(6)
    seen: dict[int, list[int]] = {i: [] for i in range(len(requests))}

    def hook(tokens: list[tuple[int, int]]) -> set[int]:
        for index, token in tokens:
            seen[index].append(token)
        return set()

    hooked = embedded_hf.generate(requests, on_step=hook)
    plain = embedded_hf.generate(requests)
    assert [c.text for c in hooked] == [c.text for c in plain]
    for index, completion in enumerate(hooked):
        assert len(seen[index]) == completion.completion_tokens
        assert embedded_hf.tokenizer.decode(seen[index], skip_special_tokens=True) == completion.text


def test_hook_stops_one_request_and_the_others_finish(embedded_hf):
    requests = _requests(12)
    steps = {"n": 0}

    def hook(tokens: list[tuple[int, int]]) -> set[int]:
        steps["n"] += 1
        return {1} if steps["n"] >= 3 else set()

    out = embedded_hf.generate(requests, on_step=hook)
    plain = embedded_hf.generate(requests)
    assert out[1].finish_reason == "cancelled" and out[1].completion_tokens == 3
    assert plain[1].text.startswith(out[1].text)
    assert [out[0].text, out[2].text] == [plain[0].text, plain[2].text]
