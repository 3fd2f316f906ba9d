"""The vllm backend: what can be checked without a GPU (the one-line refusal, config validation, the log-prob
arithmetic), and its behaviour on a CUDA box with vLLM installed (skipped elsewhere, saying why)."""

from __future__ import annotations

import importlib.util

import pytest

from reasonrec.errors import ConfigError, LLMError
from reasonrec.llm.base import GenerationRequest, Message, SamplingParams, ScoreRequest
from reasonrec.llm.registry import LLMConfig, build_llm
from reasonrec.llm.vllm import VLLM_MISSING, VLLMOptions, continuation_logprob, one_pass_logprobs

HAS_VLLM = importlib.util.find_spec("vllm") is not None


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.skipif(HAS_VLLM, reason="vLLM is installed here: the refusal cannot be observed")
def test_without_vllm_the_backend_refuses_in_one_line(tmp_path) -> None:
    with pytest.raises(ConfigError) as info:
        build_llm(LLMConfig(backend="vllm", cache_path=str(tmp_path / "c.sqlite")))
    assert str(info.value) == VLLM_MISSING
    assert "pip install 'reasonrec[vllm]'" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"gpu_memory_utilization": 0}, "vllm.gpu_memory_utilization"),
        ({"gpu_memory_utilization": 1.5}, "vllm.gpu_memory_utilization"),
        ({"tensor_parallel_size": 0}, "vllm.tensor_parallel_size"),
        ({"max_model_len": 16}, "vllm.max_model_len"),
        ({"top_logprobs": 1}, "vllm.top_logprobs"),
        ({"top_logprobs": 10**6}, "vllm.top_logprobs"),
        ({"speculative": True}, "vllm.speculative"),
    ],
)
def test_vllm_options_are_validated(options, field) -> None:
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        LLMConfig.from_dict({"backend": "vllm", "vllm": options})


def test_vllm_options_round_trip_through_yaml(tmp_path) -> None:
    cfg = LLMConfig.from_dict({"backend": "vllm", "model": "/models/llama", "dtype": "bf16",
                               "vllm": {"tensor_parallel_size": 2, "max_model_len": 4096}})
    assert LLMConfig.from_yaml(cfg.save(tmp_path / "llm.yaml")).vllm == VLLMOptions(tensor_parallel_size=2,
                                                                                      max_model_len=4096)


def test_one_pass_scores_single_token_choices_found_in_the_top_log_probs() -> None:
    top = {10: -0.1, 11: -2.5, 12: -4.0}
    assert one_pass_logprobs(top, [" Yes", " No"], [[10], [11]]) == {" Yes": -0.1, " No": -2.5}
    assert one_pass_logprobs(top, [" Yes", " Maybe"], [[10], [99]]) is None  # outside the top: scored exactly
    assert one_pass_logprobs(top, ["1", " 1"], [[10], [12, 10]]) is None  # multi-token continuation


def test_a_continuation_log_prob_sums_its_own_tokens() -> None:
    plps = [None, {5: -1.0}, {6: -0.5, 9: -0.1}, {7: -0.25}]
    assert continuation_logprob(plps, 2, [6, 7]) == pytest.approx(-0.75)
    with pytest.raises(LLMError, match="position 3"):
        continuation_logprob(plps, 2, [6, 8])


@pytest.mark.skipif(not (HAS_VLLM and _has_cuda()), reason="needs vLLM and a CUDA GPU (neither is on this machine)")
def test_vllm_generates_and_scores_like_the_hf_backend(embedded_hf, tmp_path) -> None:
    llm = build_llm(LLMConfig(backend="vllm", cache=False, dtype="fp32", vllm=VLLMOptions(gpu_memory_utilization=0.3,
                                                                             enforce_eager=True)))
    prompt = (Message("user", "Is a lemon sour? Answer Yes or No."),)
    score = ScoreRequest(choices=(" Yes", " No"), messages=prompt, assistant_prefix="Answer:")
    digits = ScoreRequest(choices=(" 1", " 5"), messages=prompt, assistant_prefix="Rating:")
    ours, ref = llm.score([score, digits]), embedded_hf.score([score, digits])
    for a, b in zip(ours, ref, strict=True):
        assert a.error is None
        assert abs(a.probs[a.best()] - b.probs[a.best()]) < 0.02 and a.best() == b.best()
    gen = GenerationRequest(messages=prompt, params=SamplingParams(max_new_tokens=12))
    out = llm.generate([gen])[0]
    assert out.error is None and out.completion_tokens > 0
    assert out.text == embedded_hf.generate([gen])[0].text
