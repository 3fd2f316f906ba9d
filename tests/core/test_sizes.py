"""Size limits of the code, measured with `ast` over src/reasonrec: no module over 500 lines and no function
(nested ones included) over 80, except those docs/architecture.md lists under "Size limits and their exceptions"."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from datafiles import REPO_ROOT

PACKAGE = REPO_ROOT / "src" / "reasonrec"
ARCHITECTURE = REPO_ROOT / "docs" / "architecture.md"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80

# Typer commands whose bodies are short: their documented option declarations make up most of their lines.
ALLOWED_LONG_FUNCTIONS = frozenset({
    "cli/llm_serve.py::serve_command",
    "cli/data_download.py::make_download_command",
    "cli/data_download.py::make_download_command.download_command",
})


def _functions(node: ast.AST, prefix: str = "") -> Iterator[tuple[str, int]]:
    """(dotted name, lines from `def` to its last line) of every function under `node`, methods and nested ones
    included."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            yield prefix + child.name, child.end_lineno - child.lineno + 1
            yield from _functions(child, f"{prefix}{child.name}.")
        elif isinstance(child, ast.ClassDef):
            yield from _functions(child, f"{prefix}{child.name}.")
        else:
            yield from _functions(child, prefix)


def _modules() -> Iterator[tuple[str, str]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(PACKAGE).as_posix(), path.read_text(encoding="utf-8")


def _long_functions() -> dict[str, int]:
    return {f"{module}::{name}": lines for module, text in _modules() for name, lines in _functions(ast.parse(text))
            if lines > MAX_FUNCTION_LINES}


def test_no_module_is_over_the_limit() -> None:
    long = {module: len(text.splitlines()) for module, text in _modules()}
    over = sorted(f"{module}: {n} lines" for module, n in long.items() if n > MAX_MODULE_LINES)
    assert not over, f"modules over {MAX_MODULE_LINES} lines:\n" + "\n".join(over)


def test_no_function_is_over_the_limit_except_the_documented_ones() -> None:
    over = sorted(f"{name}: {n} lines" for name, n in _long_functions().items() if name not in ALLOWED_LONG_FUNCTIONS)
    assert not over, f"functions over {MAX_FUNCTION_LINES} lines (split them, or list them with a reason in " \
                     "docs/architecture.md and ALLOWED_LONG_FUNCTIONS):\n" + "\n".join(over)


def test_every_exception_is_documented_and_still_needed() -> None:
    section = ARCHITECTURE.read_text(encoding="utf-8").split("## Size limits and their exceptions", 1)[1]
    section = section.split("\n## ", 1)[0]
    long = _long_functions()
    for name in sorted(ALLOWED_LONG_FUNCTIONS):
        assert f"`{name}`" in section, f"{name} is allowed to be long but docs/architecture.md does not say why"
        assert name in long, f"{name} is no longer over {MAX_FUNCTION_LINES} lines: drop it from the exceptions"


def test_the_function_counter_sees_nested_functions_and_methods() -> None:
    tree = ast.parse("def outer():\n    def inner():\n        pass\n\nclass A:\n    def m(self):\n        pass\n")
    assert dict(_functions(tree)) == {"outer": 3, "outer.inner": 2, "A.m": 2}
