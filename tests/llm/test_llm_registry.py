"""LLMConfig's kernel and thread vocabulary, and what `build_llm` makes of it."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from reasonrec.llm.registry import LLMConfig, build_llm


def test_kernel_fields_validate_and_torch_dtype_names_are_accepted():
    assert LLMConfig().dtype == "auto" and LLMConfig().quantize == "none" and LLMConfig().thread_policy == "adaptive"
    assert LLMConfig(dtype="float32").dtype == "fp32" and LLMConfig(dtype="bfloat16").dtype == "bf16"
    assert LLMConfig(dtype="float16").dtype == "fp16"  # a GPU engine's precision (vllm); the hf CPU path refuses it
    for bad in ({"dtype": "fp8"}, {"quantize": "int4"}, {"thread_policy": "greedy"}, {"n_threads": 0},
                {"attn_implementation": "flash"}):
        with pytest.raises(ValidationError):
            LLMConfig(**bad)
    config = LLMConfig().with_overrides(["dtype=bf16", "quantize=none", "compile=true", "thread_policy=fixed"])
    assert (config.dtype, config.compile, config.thread_policy) == ("bf16", True, "fixed")
    assert LLMConfig.model_validate(config.model_dump()) == config  # round-trips (YAML is model_dump + yaml)


def test_build_llm_caps_the_adaptive_governor_and_fixed_sets_threads():
    before = torch.get_num_threads()
    try:
        adaptive = build_llm(LLMConfig(cache=False, n_threads=1))
        assert adaptive.threads is not None and adaptive.threads.cap == 1 and torch.get_num_threads() == 1
        assert adaptive.kernels.precision == "fp32" and adaptive.identity.variant is None
        fixed = build_llm(LLMConfig(cache=False, n_threads=1, thread_policy="fixed"))
        assert fixed.threads is None and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
