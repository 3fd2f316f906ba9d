"""Typed configuration: pydantic models that load from YAML, take `a.b=value` overrides, and save resolved.

Every stage has its own config model deriving from `Config`. Unknown keys are errors (typos must not be
silently ignored), and a resolved config is always written next to a run's outputs. `resolve_layers` is the one
way settings from several places combine: layers of plain dicts merged in order (later wins), then the
`--set key=value` overrides last.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from reasonrec.errors import ConfigError
from reasonrec.io import write_text

C = TypeVar("C", bound="Config")


class Config(BaseModel):
    """Base for all reasonrec configs: strict keys, YAML round-trip, dotted overrides."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)

    def save(self, path: str | Path) -> Path:
        return write_text(path, self.to_yaml())

    @classmethod
    def from_yaml(cls, path: str | Path, overrides: list[str] | None = None) -> Self:
        return cls.from_dict(read_yaml_mapping(path), overrides, source=str(path))

    @classmethod
    def from_dict(
        cls, raw: dict[str, Any], overrides: list[str] | None = None, *, source: str = "<config>"
    ) -> Self:
        data = apply_overrides(dict(raw), overrides or [])
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(f"{source}: {format_validation_error(exc)}") from exc

    def with_overrides(self, overrides: list[str]) -> Self:
        return type(self).from_dict(self.model_dump(mode="json"), overrides)


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """Nested dict merge (update wins, sections merge key by key)."""
    out = copy.deepcopy(dict(base))
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def resolve_layers(cls: type[C], layers: Sequence[Mapping[str, Any]], overrides: Sequence[str] = (), *,
                   source: str = "<config>") -> C:
    """`cls` defaults ← each layer in order ← `overrides` (`a.b=value` strings): the precedence of every command."""
    raw: dict[str, Any] = {}
    for layer in layers:
        raw = deep_merge(raw, layer)
    return cls.from_dict(raw, list(overrides), source=source)


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """A YAML file whose top level is a mapping (a config layer); ConfigError naming the file otherwise."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: top level must be a mapping, got {type(raw).__name__}")
    return raw


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply `dotted.key=value` strings; values are parsed as YAML scalars/lists (`k=3`, `k=[1,2]`, `k=null`)."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like key.subkey=value")
        key, _, raw_value = item.partition("=")
        parts = [p for p in key.strip().split(".") if p]
        if not parts:
            raise ConfigError(f"override {item!r} has an empty key")
        try:
            value = yaml.safe_load(raw_value) if raw_value.strip() else ""
        except yaml.YAMLError as exc:
            raise ConfigError(f"override {item!r}: value is not valid YAML: {exc}") from exc
        node = data
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = {}
            elif not isinstance(child, dict):
                raise ConfigError(f"override {item!r}: {part!r} is not a section")
            node[part] = dict(child)
            node = node[part]
        node[parts[-1]] = value
    return data


def format_validation_error(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "<root>"
        lines.append(f"{loc}: {err['msg']}")
    return "; ".join(lines)
