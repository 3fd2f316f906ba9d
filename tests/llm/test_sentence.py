"""The offline sentence model: one owner of its location, unit-length embeddings, the per-text cache."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from reasonrec.eval.text import BertScoreModel
from reasonrec.llm.sentence import SENTENCE_MODEL_LABEL, SentenceEncoder, sentence_model_dir


@pytest.fixture(scope="module")
def encoder(tmp_path_factory: pytest.TempPathFactory) -> SentenceEncoder:
    return SentenceEncoder(cache_path=tmp_path_factory.mktemp("emb") / "embeddings.sqlite")


def test_model_dir_is_the_bundled_minilm() -> None:
    path = sentence_model_dir()
    assert (path / "config.json").is_file() and (path / "model.safetensors").is_file()


def test_embeddings_are_unit_length_and_similarity_is_meaningful(encoder: SentenceEncoder) -> None:
    texts = ["lavender shower gel", "lavender bath and shower gel", "stainless steel tweezers"]
    vectors = encoder.encode(texts)
    assert vectors.shape == (3, encoder.dimension)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sims = encoder.similarity(texts[:1], texts[1:])[0]
    assert sims[0] > sims[1] + 0.2
    assert encoder.name == SENTENCE_MODEL_LABEL
    assert encoder.encode([]).shape == (0, encoder.dimension)


def test_cache_stores_each_text_once_and_reloads(encoder: SentenceEncoder, tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    first = SentenceEncoder(cache_path=path)
    a = first.encode(["rich lather", "rich lather", "long-lasting scent"])
    assert np.allclose(a[0], a[1])
    first.close()
    rows = sqlite3.connect(path).execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
    assert rows == 2
    second = SentenceEncoder(cache_path=path)
    second._compute = None  # type: ignore[assignment]  # a cache miss would now fail loudly
    assert np.allclose(second.encode(["long-lasting scent"])[0], a[2])


def test_bertscore_uses_the_same_model_dir() -> None:
    model = BertScoreModel(num_layers=6)
    assert model.model_dir == sentence_model_dir()
    assert model.name.startswith(SENTENCE_MODEL_LABEL)
