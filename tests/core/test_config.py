from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import Field

from reasonrec.config import Config, apply_overrides
from reasonrec.errors import ConfigError


class Inner(Config):
    k: int = 5
    name: str = "x"


class Outer(Config):
    seed: int = 42
    rate: float = 1e-4
    inner: Inner = Inner()
    tags: list[str] = Field(default_factory=list)


def test_yaml_round_trip(tmp_path: Path) -> None:
    cfg = Outer(seed=7, inner=Inner(k=3), tags=["a", "b"])
    path = cfg.save(tmp_path / "c.yaml")
    assert Outer.from_yaml(path) == cfg


def test_overrides_are_typed_and_nested(tmp_path: Path) -> None:
    cfg = Outer().with_overrides(["inner.k=9", "rate=3e-5", "tags=[x, y]"])
    assert cfg.inner.k == 9 and cfg.rate == pytest.approx(3e-5) and cfg.tags == ["x", "y"]


def test_unknown_key_is_an_error_naming_it() -> None:
    with pytest.raises(ConfigError, match="inner.kk"):
        Outer().with_overrides(["inner.kk=1"])


def test_bad_value_names_field_and_source(tmp_path: Path) -> None:
    p = tmp_path / "bad.yaml"
    p.write_text("seed: notanumber\n")
    with pytest.raises(ConfigError, match=r"bad.yaml.*seed"):
        Outer.from_yaml(p)


def test_malformed_override_rejected() -> None:
    with pytest.raises(ConfigError, match="key.subkey=value"):
        apply_overrides({}, ["novalue"])


@given(st.integers(), st.integers(min_value=0, max_value=1000))
def test_override_sets_exactly_the_given_ints(seed: int, k: int) -> None:
    cfg = Outer().with_overrides([f"seed={seed}", f"inner.k={k}"])
    assert (cfg.seed, cfg.inner.k, cfg.inner.name) == (seed, k, "x")
