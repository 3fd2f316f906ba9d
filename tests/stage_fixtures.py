"""Small helpers shared by the ReasoningRec stage tests: a scripted control-flow LLM and the Beauty release."""

from __future__ import annotations

from pathlib import Path

from reasonrec.data.schema import Dataset
from reasonrec.errors import ConfigError
from reasonrec.llm.base import GenerationRequest
from reasonrec.llm.testing import ScriptedLLM


def _teacher_echo(request: GenerationRequest) -> str:
    """The truth the teacher prompt states, so parse/agree logic can be checked."""
    prompt = " ".join(m.content for m in request.messages or ())
    answer = "No" if "DID NOT LIKE" in prompt else "Yes"
    return f"reason {request.sample_index}\nPrediction: {answer}"


def teacher_echo_llm() -> ScriptedLLM:
    """Control flow only: generation echoes the teacher's truth; P(first choice) = 0.7."""
    return ScriptedLLM(text=_teacher_echo, probs=lambda r: {r.choices[0]: 0.7, r.choices[1]: 0.3})


def load_beauty(root: Path) -> Dataset:
    """`load_dataset("reasoningrec-beauty")`, or the loader directly while it is not registered yet."""
    from reasonrec.data.loaders import load_dataset

    try:
        return load_dataset("reasoningrec-beauty", root)
    except ConfigError:
        from reasonrec.data.loaders.base import LoadOptions
        from reasonrec.data.loaders.reasoningrec import load_reasoningrec_beauty

        return load_reasoningrec_beauty(root, LoadOptions())
