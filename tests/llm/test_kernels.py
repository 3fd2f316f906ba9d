"""Kernel choices on the real embedded model: bf16 keeps fp32 logits, int8 spares the LM head, identities differ."""

from __future__ import annotations

import pytest
import torch

from reasonrec.errors import ConfigError
from reasonrec.llm.base import GenerationRequest, Message, ModelIdentity, SamplingParams, ScoreRequest
from reasonrec.llm.kernels import KernelChoice, choose_kernels, resolve_precision

PROMPT = (Message("user", "A user loved rose hand cream and lavender soap. Will they like rose body lotion?"),)
REQUEST = ScoreRequest(choices=(" Yes", " No"), messages=PROMPT, assistant_prefix="Prediction:")


def test_resolve_precision_auto_is_fp32_on_cpu_and_explicit_choices_stay():
    assert resolve_precision("auto", "cpu") == "fp32"  # bf16 failed the accuracy gate (bench/kernel_accuracy.py)
    assert resolve_precision("auto", "cuda") == "bf16"
    assert resolve_precision("bf16", "cpu") == "bf16"
    assert resolve_precision("fp32", "cuda") == "fp32"


def test_choose_kernels_refuses_combinations_without_kernels():
    assert choose_kernels("fp32", "none", False, "cpu") == KernelChoice("fp32")
    assert choose_kernels("auto", "int8", False, "cpu") == KernelChoice("fp32", "int8")
    assert choose_kernels("auto", "none", True, "cuda") == KernelChoice("bf16", "none", True)
    with pytest.raises(ConfigError, match="CPU path"):
        choose_kernels("auto", "int8", False, "cuda")
    with pytest.raises(ConfigError, match="dtype=auto or fp32"):
        choose_kernels("bf16", "int8", False, "cpu")
    assert choose_kernels("fp16", "none", False, "cuda") == KernelChoice("fp16")
    with pytest.raises(ConfigError, match="fp16 has no CPU kernels"):
        choose_kernels("fp16", "none", False, "cpu")


def test_variant_is_in_the_cache_identity_only_when_it_changes_numbers():
    assert KernelChoice("fp32").variant is None
    assert KernelChoice("bf16").variant == "bf16" and KernelChoice("fp32", "int8").variant == "int8"
    plain = ModelIdentity("hf", "m", "h")
    # fp32 keys are byte-identical to the keys written before variants existed: existing caches stay valid
    assert plain.key() == '{"adapter_hash": null, "backend": "hf", "model": "m", "model_hash": "h"}'
    assert ModelIdentity("hf", "m", "h", variant="bf16").key() != plain.key()


@pytest.fixture(scope="module")
def fp32_p_yes(embedded_hf) -> float:
    out = embedded_hf.score([REQUEST])[0]
    assert embedded_hf.kernels == KernelChoice("fp32") and embedded_hf.identity.variant is None
    return out.probs[" Yes"]


def test_bf16_body_with_fp32_logits(embedded_hf, fp32_p_yes):
    from reasonrec.llm.hf import HFBackend

    bf16 = HFBackend("embedded", dtype="bf16", batch_size=2)
    assert bf16.identity.variant == "bf16" and bf16.identity.model_hash == embedded_hf.identity.model_hash
    assert bf16.model.model.layers[0].self_attn.q_proj.weight.dtype == torch.bfloat16
    head = bf16.model.get_output_embeddings()
    assert head.weight.dtype == torch.float32
    assert torch.equal(head.weight, embedded_hf.model.get_output_embeddings().weight)  # exact, not bf16-rounded
    out = bf16.score([REQUEST, REQUEST])
    # fp32 logits: P(yes) is not rounded to bf16's coarse steps, and close to fp32 on a short prompt
    assert out[0].probs == out[1].probs and abs(out[0].probs[" Yes"] - fp32_p_yes) < 0.03
    text = bf16.generate([GenerationRequest(messages=PROMPT, params=SamplingParams(max_new_tokens=8))])[0]
    assert text.error is None and text.completion_tokens > 0


def test_int8_quantises_the_body_not_the_head(embedded_hf, fp32_p_yes):
    from reasonrec.llm.hf import HFBackend

    int8 = HFBackend("embedded", quantize="int8", batch_size=2)
    assert int8.identity.variant == "int8"
    q_proj = int8.model.model.layers[0].self_attn.q_proj
    assert type(q_proj).__module__.startswith("torch.ao.nn.quantized.dynamic")
    assert isinstance(int8.model.get_output_embeddings(), torch.nn.Linear)
    out = int8.score([REQUEST])[0]
    assert out.error is None and abs(sum(out.probs.values()) - 1) < 1e-9
