"""The official `openai` Python client against the real server on 127.0.0.1: models, chat, completions, n,
seed, stop, logprobs, streaming (with usage), error classes, and concurrent async requests."""

from __future__ import annotations

import asyncio

import openai
import pytest

pytestmark = pytest.mark.model

QUESTION = [{"role": "user", "content": "Name a fruit."}]


@pytest.fixture(scope="module")
def client(openai_server) -> openai.OpenAI:
    return openai.OpenAI(base_url=openai_server.base_url, api_key=openai_server.api_key, max_retries=0)


def test_models_chat_n_seed_stop_and_usage(client, openai_server):
    assert [m.id for m in client.models.list()] == [openai_server.model]
    kwargs = {
        "model": openai_server.model,
        "messages": QUESTION,
        "max_tokens": 10,
        "temperature": 1.0,
        "seed": 11,
        "n": 2,
        "stop": ["\n"],
    }
    first = client.chat.completions.create(**kwargs)
    again = client.chat.completions.create(**kwargs)
    assert len(first.choices) == 2 and [c.index for c in first.choices] == [0, 1]
    assert [c.message.content for c in first.choices] == [c.message.content for c in again.choices]
    assert all("\n" not in c.message.content and c.finish_reason in ("stop", "length") for c in first.choices)
    assert first.usage.completion_tokens > 0 and first.usage.total_tokens == (
        first.usage.prompt_tokens + first.usage.completion_tokens
    )


def test_logprobs_in_chat_and_completions(client, openai_server):
    chat = client.chat.completions.create(
        model=openai_server.model,
        messages=QUESTION,
        max_tokens=3,
        temperature=0,
        logprobs=True,
        top_logprobs=3,
    )
    content = chat.choices[0].logprobs.content
    assert len(content) >= 1 and all(len(t.top_logprobs) == 3 and t.logprob <= 0 for t in content)
    echo = client.completions.create(
        model=openai_server.model, prompt="Rating: 5", max_tokens=0, echo=True, logprobs=1
    )
    lp = echo.choices[0].logprobs
    assert "".join(lp.tokens) == "Rating: 5" and lp.token_logprobs[0] is None
    assert all(v < 0 for v in lp.token_logprobs[1:])


def test_streaming_matches_the_plain_answers(client, openai_server):
    kwargs = {"model": openai_server.model, "messages": QUESTION, "max_tokens": 16, "temperature": 0}
    plain = client.chat.completions.create(**kwargs)
    chunks = list(
        client.chat.completions.create(**kwargs, stream=True, stream_options={"include_usage": True})
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == plain.choices[0].message.content
    assert chunks[-1].usage.completion_tokens == plain.usage.completion_tokens
    prompt_kwargs = {
        "model": openai_server.model,
        "prompt": "Colours: red, green,",
        "max_tokens": 8,
        "temperature": 0,
    }
    plain_c = client.completions.create(**prompt_kwargs)
    streamed = "".join(c.choices[0].text for c in client.completions.create(**prompt_kwargs, stream=True))
    assert streamed == plain_c.choices[0].text


def test_error_classes(client, openai_server):
    wrong = openai.OpenAI(base_url=openai_server.base_url, api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.models.list()
    with pytest.raises(openai.AuthenticationError):
        wrong.chat.completions.create(model=openai_server.model, messages=QUESTION)
    with pytest.raises(openai.NotFoundError, match="does not exist"):
        client.chat.completions.create(model="gpt-4o", messages=QUESTION)
    with pytest.raises(openai.BadRequestError, match="no JSON mode") as json_mode:
        client.chat.completions.create(
            model=openai_server.model, messages=QUESTION, response_format={"type": "json_object"}
        )
    assert json_mode.value.param == "response_format"
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    with pytest.raises(openai.BadRequestError, match="tool calling"):
        client.chat.completions.create(model=openai_server.model, messages=QUESTION, tools=[tool])
    with pytest.raises(openai.BadRequestError, match="context") as too_long:
        client.completions.create(model=openai_server.model, prompt="word " * 400, max_tokens=8000)
    assert too_long.value.code == "context_length_exceeded"


def test_async_concurrency(openai_server, client):
    prompts = [f"Give one word about {topic}." for topic in ("cats", "rain", "tea", "music", "maps", "snow")]

    async def run_all() -> tuple[list[str], str]:
        aclient = openai.AsyncOpenAI(
            base_url=openai_server.base_url, api_key=openai_server.api_key, max_retries=0
        )
        try:
            calls = [
                aclient.chat.completions.create(
                    model=openai_server.model,
                    max_tokens=6,
                    temperature=0,
                    messages=[{"role": "user", "content": p}],
                )
                for p in prompts
            ]

            async def streamed() -> str:
                stream = await aclient.chat.completions.create(
                    model=openai_server.model,
                    max_tokens=6,
                    temperature=0,
                    stream=True,
                    messages=[{"role": "user", "content": prompts[0]}],
                )
                return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

            *answers, stream_text = await asyncio.gather(*calls, streamed())
            return [a.choices[0].message.content for a in answers], stream_text
        finally:
            await aclient.close()

    concurrent, stream_text = asyncio.run(run_all())
    sequential = [
        client.chat.completions.create(
            model=openai_server.model, max_tokens=6, temperature=0, messages=[{"role": "user", "content": p}]
        )
        .choices[0]
        .message.content
        for p in prompts
    ]
    assert concurrent == sequential and stream_text == sequential[0]
