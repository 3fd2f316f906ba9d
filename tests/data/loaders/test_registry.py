"""The loader registry: every contract name is registered, unknown names list the known ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from reasonrec.data.loaders import DATASET_FOLDERS, LOADERS, LoadOptions, load_dataset
from reasonrec.errors import ConfigError

FIXTURES = Path(__file__).parent / "fixtures"
OWN_NAMES = {"movielens-100k", "movielens-1m", "amazon-2018", "amazon-2023", "amazon-beauty-raw", "tabular"}


def test_contract_names_registered() -> None:
    assert OWN_NAMES <= set(LOADERS)
    assert all(callable(loader) for loader in LOADERS.values())
    assert set(DATASET_FOLDERS) <= set(LOADERS)
    assert DATASET_FOLDERS["movielens-100k"] == "movielens-100k"


def test_unknown_name_lists_known_names() -> None:
    with pytest.raises(ConfigError) as exc:
        load_dataset("movielens-10m")
    for name in OWN_NAMES:
        assert name in str(exc.value)


def test_data_root_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REASONREC_DATA_DIR", str(FIXTURES))
    ds = load_dataset("movielens-100k", options=LoadOptions(path=FIXTURES / "ml100k"))
    assert ds.name == "movielens-100k" and ds.interactions.height == 4
    monkeypatch.setenv("REASONREC_DATA_DIR", str(FIXTURES / "nowhere"))
    with pytest.raises(Exception) as exc:
        load_dataset("movielens-100k")
    assert str(FIXTURES / "nowhere" / "movielens-100k") in str(exc.value)


def test_string_data_root() -> None:
    ds = load_dataset("amazon-2023", str(FIXTURES), LoadOptions(path=FIXTURES / "amazon2023"))
    assert ds.interactions.height == 3
