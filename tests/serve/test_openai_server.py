"""The OpenAI-compatible server, exercised over real HTTP on 127.0.0.1 with the embedded model.

Also checks the `openai` backend end to end against the in-process HFBackend: the HTTP path must give the same
greedy text and the same choice probabilities as calling the model directly.
"""

from __future__ import annotations

import math

import httpx
import pytest

from reasonrec.errors import LLMError
from reasonrec.llm.base import GenerationRequest, Message, SamplingParams, ScoreRequest
from reasonrec.llm.openai import OpenAIBackend

pytestmark = pytest.mark.model

QUESTION = (
    Message("system", "You are a recommender. Answer Yes or No."),
    Message("user", "The user liked: Lipstick (rating 5), Mascara (rating 4). Will the user like Eyeliner?"),
)


def _post(server, path: str, body: dict, *, key: str | None = "default") -> httpx.Response:
    headers = server.headers() if key == "default" else ({"Authorization": f"Bearer {key}"} if key else {})
    return httpx.post(server.base_url + path, json=body, headers=headers, timeout=120)


def _backend(server, monkeypatch, **kwargs) -> OpenAIBackend:
    monkeypatch.setenv(server.key_env, server.api_key)
    return OpenAIBackend(
        server.base_url, server.model, api_key_env=server.key_env, max_retries=1, backoff_base=0.01, **kwargs
    )


def test_health_models_and_auth(openai_server):
    assert httpx.get(openai_server.base_url[:-3] + "/health").json()["status"] == "ok"
    ok = httpx.get(openai_server.base_url + "/models", headers=openai_server.headers())
    assert ok.status_code == 200
    assert [m["id"] for m in ok.json()["data"]] == [openai_server.model]
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": openai_server.api_key}):
        r = httpx.get(openai_server.base_url + "/models", headers=headers)
        assert r.status_code == 401
        assert r.json()["error"]["type"] == "authentication_error"
    r = _post(
        openai_server,
        "/chat/completions",
        {"model": openai_server.model, "messages": [{"role": "user", "content": "hi"}]},
        key="nope",
    )
    assert r.status_code == 401


@pytest.mark.parametrize(
    ("path", "body", "status", "param", "fragment"),
    [
        ("/chat/completions", {"model": "M"}, 400, "messages", "Field required"),
        ("/chat/completions", {"model": "M", "messages": []}, 400, "messages", "at least 1"),
        (
            "/chat/completions",
            {"model": "M", "messages": [{"role": "robot", "content": "x"}]},
            400,
            "messages.0.role",
            "Input should be",
        ),
        (
            "/chat/completions",
            {"model": "M", "messages": [{"role": "user", "content": "x"}], "temperature": 3},
            400,
            "temperature",
            "less than or equal to 2",
        ),
        (
            "/chat/completions",
            {"model": "other", "messages": [{"role": "user", "content": "x"}]},
            404,
            "model",
            "does not exist",
        ),
        (
            "/chat/completions",
            {
                "model": "M",
                "messages": [{"role": "user", "content": "x"}],
                "continue_final_message": True,
                "add_generation_prompt": False,
            },
            400,
            "messages",
            "role 'assistant'",
        ),
        (
            "/chat/completions",
            {
                "model": "M",
                "messages": [{"role": "user", "content": "x"}],
                "logprobs": True,
                "top_logprobs": 50,
            },
            400,
            "top_logprobs",
            "maximum of 20",
        ),
        (
            "/chat/completions",
            {"model": "M", "messages": [{"role": "user", "content": "x"}], "stream": True, "logprobs": True},
            400,
            "logprobs",
            "not supported with stream=true",
        ),
        (
            "/chat/completions",
            {"model": "M", "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]},
            400,
            "tools",
            "not supported by this server",
        ),
        (
            "/chat/completions",
            {"model": "M", "messages": [{"role": "user", "content": "x"}], "max_tokens": 9000},
            400,
            "max_tokens",
            "maximum of 8000",
        ),
        (
            "/completions",
            {"model": "M", "prompt": "word " * 400, "max_tokens": 8000},
            400,
            "max_tokens",
            "exceeds the model's context of 8192 tokens",
        ),
        ("/completions", {"model": "M", "prompt": "x", "n": 5}, 400, "n", "maximum of 4"),
        ("/completions", {"model": "M", "prompt": "x", "max_tokens": 0}, 400, "max_tokens", "echo"),
        ("/completions", {"model": "M", "prompt": 7}, 400, "prompt.str", "valid string"),
        ("/completions", {"model": "M", "prompt": "x", "stop": [""]}, 400, "stop", "non-empty"),
    ],
)
def test_bad_requests_get_openai_style_errors(openai_server, path, body, status, param, fragment):
    body = {**body, "model": openai_server.model if body.get("model") == "M" else body["model"]}
    r = _post(openai_server, path, body)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert fragment in error["message"]
    assert error["param"] == param
    assert error["type"] in {"invalid_request_error", "not_found_error"}


def test_invalid_json_and_oversize_prompt(openai_server):
    r = httpx.post(
        openai_server.base_url + "/completions",
        content=b"{not json",
        headers={**openai_server.headers(), "content-type": "application/json"},
    )
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]["message"]
    long_prompt = "apple " * 2000  # ~2000 tokens > the fixture's 512 limit
    r = _post(
        openai_server, "/completions", {"model": openai_server.model, "prompt": long_prompt, "max_tokens": 1}
    )
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "context_length_exceeded"
    assert "512" in r.json()["error"]["message"]


def test_chat_logprobs_and_echo_prompt_logprobs(openai_server):
    body = {
        "model": openai_server.model,
        "messages": [
            *({"role": m.role, "content": m.content} for m in QUESTION),
            {"role": "assistant", "content": "Prediction:"},
        ],
        "add_generation_prompt": False,
        "continue_final_message": True,
        "max_tokens": 1,
        "temperature": 0,
        "logprobs": True,
        "top_logprobs": 5,
    }
    data = _post(openai_server, "/chat/completions", body).json()
    content = data["choices"][0]["logprobs"]["content"]
    assert len(content) == 1
    top = content[0]["top_logprobs"]
    assert len(top) == 5
    assert [t["logprob"] for t in top] == sorted((t["logprob"] for t in top), reverse=True)
    assert (
        content[0]["token"] == top[0]["token"] == data["choices"][0]["message"]["content"]
    )  # greedy = argmax
    assert sum(math.exp(t["logprob"]) for t in top) <= 1.0 + 1e-6

    prompt = "Rating (1-5): 4"
    echo = _post(
        openai_server,
        "/completions",
        {"model": openai_server.model, "prompt": prompt, "echo": True, "max_tokens": 0, "logprobs": 1},
    ).json()
    choice = echo["choices"][0]
    lp = choice["logprobs"]
    assert choice["text"] == prompt
    assert "".join(lp["tokens"]) == prompt
    assert lp["token_logprobs"][0] is None and all(v < 0 for v in lp["token_logprobs"][1:])
    assert [prompt[o : o + len(t)] for t, o in zip(lp["tokens"], lp["text_offset"], strict=True)] == lp[
        "tokens"
    ]
    assert echo["usage"]["completion_tokens"] == 0

    # generated-token logprobs for a short completion
    gen = _post(
        openai_server,
        "/completions",
        {
            "model": openai_server.model,
            "prompt": "The capital of France is",
            "max_tokens": 3,
            "temperature": 0,
            "logprobs": 2,
        },
    ).json()
    glp = gen["choices"][0]["logprobs"]
    assert "".join(glp["tokens"]) == gen["choices"][0]["text"]
    assert all(len(t) >= 1 for t in glp["top_logprobs"])


def _assert_scores_agree(http_scores, direct_scores) -> None:
    for got, want in zip(http_scores, direct_scores, strict=True):
        assert want.error is None and got.error is None
        assert set(got.probs) == set(want.probs)
        for choice in want.probs:
            assert got.probs[choice] == pytest.approx(want.probs[choice], abs=1e-3)
            assert got.logprobs[choice] == pytest.approx(want.logprobs[choice], abs=1e-3)


def test_openai_backend_matches_in_process_hf(openai_server, hf_backend, monkeypatch):
    """Greedy text equal; Yes/No and multi-token (echo) choice probabilities within 1e-3 of the direct model."""
    backend = _backend(openai_server, monkeypatch)
    assert backend.identity.backend == "openai" and len(backend.identity.model_hash) == 64
    request = GenerationRequest(
        messages=QUESTION,
        params=SamplingParams(temperature=0.0, max_new_tokens=8),
        assistant_prefix="Prediction:",
    )
    over_http, direct = backend.generate([request])[0], hf_backend.generate([request])[0]
    assert over_http.text == direct.text and over_http.text

    score_requests = [
        ScoreRequest(choices=(" Yes", " No"), messages=QUESTION, assistant_prefix="Prediction:"),
        ScoreRequest(
            choices=("4", "1", "12"), prompt="Rate the movie from 1 to 5.\nRating: "
        ),  # "12": 2 tokens
    ]
    _assert_scores_agree(backend.score(score_requests), hf_backend.score(score_requests))


@pytest.mark.slow
def test_openai_backend_agreement_extended(openai_server, hf_backend, monkeypatch):
    """Raw-prompt generation, chat multi-token scoring (prompt_logprobs), boundary and strict-mode errors."""
    backend = _backend(openai_server, monkeypatch)
    params = SamplingParams(temperature=0.0, max_new_tokens=12)
    gen_requests = [
        GenerationRequest(messages=QUESTION, params=params),
        GenerationRequest(prompt="A short list of fruits: apple,", params=params),
    ]
    assert [c.text for c in backend.generate(gen_requests)] == [
        c.text for c in hf_backend.generate(gen_requests)
    ]
    score_requests = [
        ScoreRequest(choices=(" Yes", " No"), prompt="Question: is the sky blue?\nAnswer:"),
        ScoreRequest(choices=(" Yes", " Absolutely not"), messages=QUESTION, assistant_prefix="Prediction:"),
    ]
    _assert_scores_agree(backend.score(score_requests), hf_backend.score(score_requests))

    # "Rating: " + "zebra" tokenises as "Rating:" + " zebra": the choice has no tokens of its own → reported
    with pytest.raises(LLMError, match="tokenisation boundary"):
        backend.score([ScoreRequest(choices=("4", "zebra"), prompt="Rate the movie from 1 to 5.\nRating: ")])

    strict = _backend(openai_server, monkeypatch, score_method="top_logprobs")
    with pytest.raises(LLMError, match="not among the server's top"):
        strict.score(
            [
                ScoreRequest(
                    choices=(" Yes", " Absolutely not"), messages=QUESTION, assistant_prefix="Prediction:"
                )
            ]
        )


def test_seeded_sampling_and_n(openai_server):
    body = {
        "model": openai_server.model,
        "prompt": "Once upon a time",
        "max_tokens": 4,
        "temperature": 1.0,
        "seed": 7,
        "n": 2,
    }
    first = _post(openai_server, "/completions", body).json()
    again = _post(openai_server, "/completions", body).json()
    texts = [c["text"] for c in first["choices"]]
    assert len(texts) == 2
    assert texts == [c["text"] for c in again["choices"]]  # same seed → same samples
    assert first["usage"]["completion_tokens"] > 0
