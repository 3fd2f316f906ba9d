"""Streaming: the incremental detokeniser against the real tokenizer, and SSE streams over real HTTP that must
equal the non-streamed answers."""

from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reasonrec.serve.streaming import TextStream

pytestmark = pytest.mark.model

TEXTS = [
    "Hello, world! Ünïcödé ✓ and emoji 🎉🎉 then newline\nnext line.",
    "Prediction: Yes\n1. The user liked mascara.\n2. Eyeliner is similar. ###",
    "   leading spaces, tabs\tand   runs of   spaces; 中文字符 mixed with ascii",
]


@pytest.fixture(scope="module")
def tokenizer(hf_backend):
    return hf_backend.tokenizer


def _stream_all(tokenizer, ids: list[int], stops: tuple[str, ...]) -> tuple[str, list[str]]:
    stream = TextStream(tokenizer, stops)
    deltas = [stream.push(t) for t in ids]
    final = tokenizer.decode(ids, skip_special_tokens=True)
    hits = [final.find(s) for s in stops if s in final]
    final = final[: min(hits)] if hits else final
    deltas.append(stream.finish(final))
    return final, deltas


@settings(max_examples=60, deadline=None)
@given(
    text=st.sampled_from(TEXTS),
    cut=st.integers(0, 80),
    stops=st.lists(st.sampled_from(["###", "\n2.", "world", "🎉", " ", "zzz"]), max_size=2, unique=True),
)
def test_deltas_add_up_to_the_final_text_and_never_show_a_stop(tokenizer, text, cut, stops):
    ids = tokenizer(text, add_special_tokens=False)["input_ids"][:cut]
    final, deltas = _stream_all(tokenizer, ids, tuple(stops))
    assert "".join(deltas) == final
    shown = ""
    for delta in deltas[:-1]:
        shown += delta
        assert "\ufffd" not in delta
        assert not any(s in shown for s in stops)


def test_split_multibyte_characters_are_held_until_complete(tokenizer):
    ids = tokenizer("🎉", add_special_tokens=False)["input_ids"]
    assert len(ids) > 1  # byte-level BPE splits the emoji
    stream = TextStream(tokenizer, ())
    assert [stream.push(t) for t in ids[:-1]] == [""] * (len(ids) - 1)
    assert stream.push(ids[-1]) == "🎉"


def _sse_events(response: httpx.Response) -> list:
    events = []
    for line in response.iter_lines():
        if line.startswith("data: "):
            payload = line[len("data: ") :]
            events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events


def _post_stream(server, path: str, body: dict) -> list:
    with httpx.stream("POST", server.base_url + path, json=body, headers=server.headers(), timeout=120) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        return _sse_events(r)


def test_chat_stream_equals_the_plain_answer_with_usage(openai_server):
    body = {
        "model": openai_server.model,
        "messages": [{"role": "user", "content": "Name three fruits."}],
        "max_tokens": 24,
        "temperature": 0,
        "stop": ["\n\n"],
    }
    plain = httpx.post(
        openai_server.base_url + "/chat/completions", json=body, headers=openai_server.headers(), timeout=120
    ).json()
    events = _post_stream(
        openai_server,
        "/chat/completions",
        {**body, "stream": True, "stream_options": {"include_usage": True}},
    )
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert {c["id"] for c in chunks} == {chunks[0]["id"]} and chunks[0]["object"] == "chat.completion.chunk"
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
    assert text == plain["choices"][0]["message"]["content"] and text
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finishes[-1] == plain["choices"][0]["finish_reason"] and set(finishes[:-1]) == {None}
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == plain["usage"]
    assert all(c["usage"] is None for c in chunks[:-1])


def test_completion_stream_with_n_echo_and_stop(openai_server):
    body = {
        "model": openai_server.model,
        "prompt": "Fruits: apple, banana,",
        "max_tokens": 12,
        "temperature": 0.9,
        "seed": 3,
        "n": 2,
        "echo": True,
        "stop": [","],
    }
    plain = httpx.post(
        openai_server.base_url + "/completions", json=body, headers=openai_server.headers(), timeout=120
    ).json()
    events = _post_stream(openai_server, "/completions", {**body, "stream": True})
    assert events[-1] == "[DONE]" and "usage" not in events[0]
    texts = {0: "", 1: ""}
    finish = {}
    for chunk in events[:-1]:
        choice = chunk["choices"][0]
        texts[choice["index"]] += choice["text"]
        if choice["finish_reason"] is not None:
            finish[choice["index"]] = choice["finish_reason"]
    assert [texts[0], texts[1]] == [c["text"] for c in plain["choices"]]
    assert all(t.startswith(body["prompt"]) and "," not in t[len(body["prompt"]) :] for t in texts.values())
    assert [finish[0], finish[1]] == [c["finish_reason"] for c in plain["choices"]]
