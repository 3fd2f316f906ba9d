"""llama.cpp backend on the real embedded SmolLM2 Q4_1 GGUF: behaviour, not exact text (the weights are
quantised, the hf backend runs the fp32 dequantisation)."""

from __future__ import annotations

import pytest

from reasonrec.errors import ConfigError
from reasonrec.io import sha256_file
from reasonrec.llm.base import GenerationRequest, Message, SamplingParams, ScoreRequest
from reasonrec.llm.embedded import gguf_path

pytest.importorskip("xllamacpp")


def _user(text: str) -> tuple[Message, ...]:
    return (Message("user", text),)


@pytest.fixture(scope="module")
def llama():
    from reasonrec.llm.llamacpp import LlamaCppBackend

    backend = LlamaCppBackend(n_ctx=1024, n_threads=1, n_parallel=2)
    yield backend
    backend.close()


def test_identity_is_the_gguf_hash_and_differs_from_hf(llama, embedded_hf) -> None:
    ident = llama.identity
    assert ident.backend == "llamacpp" and ident.model == "SmolLM2-135M-Instruct.Q4_1"
    assert ident.model_hash == sha256_file(gguf_path())
    assert ident.key() != embedded_hf.identity.key()


def test_renders_the_same_tokens_as_hf(llama, embedded_hf) -> None:
    messages = (Message("system", "Be brief."), Message("user", "hi"))
    text = llama.render(messages, None, "Prediction:")
    assert text == embedded_hf.render(messages, None, "Prediction:")
    assert text.endswith("<|im_start|>assistant\nPrediction:")
    assert llama.encode(text) == embedded_hf.encode(text)


def test_greedy_is_deterministic_and_stop_strings_cut(llama) -> None:
    base = GenerationRequest(
        messages=_user("List three fruits, one per line."), params=SamplingParams(max_new_tokens=24)
    )
    first, again = llama.generate([base, base])
    assert first.error is None and first.text == again.text and "\n" in first.text
    assert (
        first.finish_reason in {"stop", "length"}
        and 0 < first.completion_tokens <= 24
        and first.prompt_tokens > 20
    )
    cut = llama.generate(
        [GenerationRequest(messages=base.messages, params=SamplingParams(max_new_tokens=24, stop=("\n",)))]
    )[0]
    assert cut.finish_reason == "stop" and "\n" not in cut.text and first.text.startswith(cut.text)


def test_seeded_sampling_is_reproducible_per_sample_index(llama) -> None:
    hot = SamplingParams(temperature=1.0, max_new_tokens=12, seed=7)
    samples = [
        GenerationRequest(messages=_user("Say something about cats."), params=hot, sample_index=i)
        for i in range(3)
    ]
    together = [c.text for c in llama.generate(samples)]
    alone = [llama.generate([s])[0].text for s in samples]  # other concurrency, same seeds
    assert together == alone
    assert len(set(together)) > 1


# Prompts a 135M model answers clearly; measured P(Yes) llama.cpp vs hf: 0.81/0.82, 0.06/0.06, 0.72/0.72, 0.19/0.22.
CLEAR = {
    "Write the word Yes and nothing else.": "Yes",
    "Write the word No and nothing else.": "No",
    "Say Yes.": "Yes",
    "Say No.": "No",
}


def test_yes_no_scores_agree_with_hf(llama, embedded_hf) -> None:
    reqs = [ScoreRequest(choices=("Yes", "No"), messages=_user(q)) for q in CLEAR]
    ours, ref = llama.score(reqs), embedded_hf.score(reqs)
    for expected, a, b in zip(CLEAR.values(), ours, ref, strict=True):
        assert a.error is None
        assert abs(sum(a.probs.values()) - 1.0) < 1e-9
        assert a.best() == b.best() == expected
        assert abs(a.probs["Yes"] - b.probs["Yes"]) < 0.1  # Q4_1 vs fp32: measured max 0.03


def test_multi_token_choices_are_summed_not_truncated(llama, embedded_hf) -> None:
    assert len(llama.encode(" 1")) == 2
    prompt = "On a scale of 1 to 5, how good is fresh bread? Rating:"
    req = ScoreRequest(choices=(" 1", " 3", " five"), prompt=prompt)
    out, ref = llama.score([req])[0], embedded_hf.score([req])[0]
    assert out.error is None
    for choice in req.choices:  # a truncated choice would be off by a whole token's log-prob (several nats)
        assert abs(out.logprobs[choice] - ref.logprobs[choice]) < 0.5
    # The forced (grammar) path reports the same raw log-prob as the top-k path for a single token.
    yes_no = ScoreRequest(choices=("Yes", "No"), messages=_user("Say Yes."))
    context, conts = llama._score_inputs(yes_no)
    assert abs(llama._forced_logprob(context, conts[0]) - llama.score([yes_no])[0].logprobs["Yes"]) < 1e-3


def test_registry_builds_llamacpp_and_rejects_bad_models(tmp_path) -> None:
    from reasonrec.llm.registry import LLMConfig, build_llm

    with pytest.raises(ConfigError, match="gguf"):
        build_llm(LLMConfig(backend="llamacpp", model=str(tmp_path / "model.bin"), cache=False))
    with pytest.raises(ConfigError, match="adapter"):
        build_llm(LLMConfig(backend="llamacpp", adapter=str(tmp_path), cache=False))
