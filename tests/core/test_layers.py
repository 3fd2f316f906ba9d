"""The module import graph, built with `ast` from every module under src/reasonrec: no cycle, and no import that
points back up a layer (docs/architecture.md, "Imports point one way")."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from datafiles import REPO_ROOT

PACKAGE = REPO_ROOT / "src" / "reasonrec"

# Lowest first; a module may import its own layer and the layers before it. The key is the first name under
# `reasonrec` (a subpackage or a top-level module).
LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"reasonrec", "errors", "paths", "io", "sqlite", "config", "runs", "predictions", "auc", "answers"}),
    frozenset({"data"}),
    frozenset({"llm"}),
    frozenset({"prompts"}),
    frozenset({"stages"}),
    frozenset({"train", "predict"}),
    frozenset({"eval", "baselines"}),
    frozenset({"rerank"}),
    frozenset({"methods"}),
    frozenset({"bundle", "recommend"}),
    frozenset({"serve"}),
    frozenset({"cli"}),
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, name: str, modules: set[str]) -> set[str]:
    """Every reasonrec module `path` imports, anywhere in the file (lazy imports in function bodies included).
    `from a.b import c` depends on module `a.b.c` when that is a module, else on `a.b`."""
    out: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in modules}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            for alias in node.names:
                target = f"{base}.{alias.name}"
                out.add(target if target in modules else base)
    return {m for m in out if m in modules and m != name}


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: _imports(path, name, set(modules)) for name, path in modules.items()}


def _layer(module: str) -> int:
    key = module.split(".")[1] if "." in module else "reasonrec"
    for index, layer in enumerate(LAYERS):
        if key in layer:
            return index
    raise AssertionError(f"{module}: '{key}' belongs to no layer; add it to LAYERS and docs/architecture.md")


def test_every_module_has_a_layer() -> None:
    for module in _graph():
        _layer(module)


def test_no_import_points_back_up_a_layer() -> None:
    upward = sorted(f"{src} -> {dst}" for src, targets in _graph().items() for dst in targets
                    if _layer(dst) > _layer(src))
    assert not upward, "imports pointing up a layer:\n" + "\n".join(upward)


def test_the_module_graph_has_no_cycle() -> None:
    graph = _graph()
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                pytest.fail("import cycle: " + " -> ".join([*path[path.index(nxt):], nxt]))
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
