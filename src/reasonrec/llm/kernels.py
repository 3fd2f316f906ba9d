"""Which kernels a local transformers model runs on: precision, int8 Linear layers, torch.compile, attention.

A choice here changes numbers (bf16 and int8 move probabilities), so it is part of the model's cache identity
(`KernelChoice.variant`), and a faster path is a *default* only where `bench/kernel_accuracy.py` measured it within
the accuracy bounds of fp32 (see `resolve_precision`). int8 is torch's dynamic quantisation of the Linear layers
(int8 weights, activations quantised per call) on its CPU kernels: no extra dependency, no calibration data, but
SmolLM2's activation outliers make it coarse (P(yes) moved by up to 0.74 on the same prompts).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal

from reasonrec.errors import ConfigError

Precision = Literal["fp32", "bf16", "fp16"]
DType = Literal["auto", "fp32", "bf16", "fp16"]
Quantize = Literal["none", "int8"]
AttnImplementation = Literal["sdpa", "eager"]


def resolve_precision(requested: DType, device_type: str) -> Precision:
    """`auto` → bf16 on CUDA, fp32 on CPU; explicit choices are kept (bf16 on a CPU without bf16 kernels runs,
    emulated and slowly).

    bf16 is not the CPU default although its matmuls are 2-4x faster there: on 200 Beauty validation prompts it
    moved P(yes) by up to 0.046 (mean 0.011) and the AUC by 0.026 against fp32, outside the bound a faster default
    must meet (max |ΔP(yes)| ≤ 0.01, |ΔAUC| ≤ 0.005; `bench/kernel_accuracy.py`); on an AMX Xeon, 0.043 and 0.016.
    Rounding the activations, not the weights, is the cause: bf16-rounded weights computed in fp32 stayed within
    0.003, but keeping the activations exact costs a second bf16 matmul per Linear, which ran slower than fp32.
    torch 2.13 has no CPU bf16 GEMM with an fp32 output (`aten::mm.dtype`), so a bf16 Linear rounds its output too:
    simulated with fp32 norms and residuals, 0.023 on 200 training-split prompts. oneDNN's bf16 products with fp32
    inputs and outputs (`mkldnn` `fp32_precision="bf16"`, 1.49x fp32's scoring) moved P(yes) by 0.013; adding back
    the rounding of 16-64 calibrated outlier input channels in fp32 left 0.009-0.011 and moved the AUC of those
    near-tied zero-shot scores by up to 0.025, at 1.02-1.17x."""
    if requested != "auto":
        return requested
    return "bf16" if device_type == "cuda" else "fp32"


@dataclass(frozen=True)
class KernelChoice:
    precision: Precision
    quantize: Quantize = "none"
    compile: bool = False

    @property
    def torch_dtype(self) -> Any:
        import torch  # heavy: `LLMConfig` imports this module for its vocabulary, torch only when a model loads

        return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[self.precision]

    @property
    def variant(self) -> str | None:
        """The part of the cache identity: None for plain fp32, so existing fp32 caches keep their keys."""
        if self.quantize == "int8":
            return "int8"
        return None if self.precision == "fp32" else self.precision


def choose_kernels(dtype: DType, quantize: Quantize, compile_model: bool, device_type: str) -> KernelChoice:
    """Resolve `auto` for this device and refuse combinations that have no kernels."""
    if quantize == "int8":
        if device_type != "cpu":
            raise ConfigError("llm.quantize=int8 is a CPU path (dynamic int8 Linear); use quantize=none on GPU")
        if dtype == "bf16":
            raise ConfigError("llm.quantize=int8 runs the rest of the model in fp32; set llm.dtype=auto or fp32")
        return KernelChoice("fp32", "int8", compile_model)
    if dtype == "fp16" and device_type == "cpu":
        raise ConfigError("llm.dtype=fp16 has no CPU kernels here; use fp32 or bf16 on CPU (fp16 is for GPUs)")
    return KernelChoice(resolve_precision(dtype, device_type), "none", compile_model)


def _output_head_name(model: Any) -> str | None:
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    return next((name for name, module in model.named_modules() if module is head), None)


def quantize_int8(model: Any) -> Any:
    """A copy with dynamic int8 for every `nn.Linear` except the LM head (it stays fp32: quantising the logits
    moved P(yes) by up to 0.3 on SmolLM2, and with last-token logits it costs almost nothing)."""
    import torch
    from torch.ao.quantization import default_dynamic_qconfig, quantize_dynamic

    head = _output_head_name(model)
    spec = {name: default_dynamic_qconfig for name, module in model.named_modules()
            if isinstance(module, torch.nn.Linear) and name != head}
    with warnings.catch_warnings():  # torch deprecates this eager API in favour of torchao; it still ships
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*quantize_per_tensor.*")
        return quantize_dynamic(model, spec, dtype=torch.qint8)


def fp32_head_copy(model: Any) -> Any:
    """An fp32 copy of the LM head whose input (the final norm's output) is upcast: logits in fp32 for a bf16 body.

    bf16 logits keep 8 mantissa bits: a logit of ~16 is only resolved to 0.06-0.125, which rounds P(yes) into
    steps of ~0.015-0.03 (measured 0.5 / 0.469 where fp32 gave 0.495 / 0.488). Take the copy before casting the
    body, so its weights are the exact ones (and untied from the bf16 embeddings)."""
    import torch

    head = model.get_output_embeddings()
    exact = torch.nn.Linear(head.in_features, head.out_features, bias=head.bias is not None,
                            device=head.weight.device, dtype=torch.float32)
    with torch.no_grad():
        exact.weight.copy_(head.weight)
        if head.bias is not None:
            exact.bias.copy_(head.bias)
    exact.requires_grad_(False)
    exact.register_forward_pre_hook(lambda _module, args: tuple(a.float() for a in args))
    return exact


def apply_kernels(model: Any, choice: KernelChoice) -> Any:
    """Cast / quantise / compile a model for inference (bf16/fp16 keep an fp32 head: see `fp32_head_copy`)."""
    if choice.quantize == "int8":
        model = quantize_int8(model.float())
    else:
        head = fp32_head_copy(model) if choice.precision != "fp32" else None
        if next(model.parameters()).dtype != choice.torch_dtype:
            model = model.to(choice.torch_dtype)
        if head is not None:
            model.config.tie_word_embeddings = False
            model.set_output_embeddings(head)
    if choice.compile:
        import torch

        # dynamic=True: prompt lengths and batch widths vary call to call; one graph serves them all.
        model.forward = torch.compile(model.forward, dynamic=True)
    return model


__all__ = ["AttnImplementation", "DType", "KernelChoice", "Precision", "Quantize", "apply_kernels", "choose_kernels",
           "fp32_head_copy", "quantize_int8", "resolve_precision"]
