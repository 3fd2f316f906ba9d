"""What the hostile-input table (`hostile_cases.CASES`) is made of: cases, input builders, checks, the judge.

Every case is a working directory (its files, plus decoy secrets that must never show up anywhere) and a
`reasonrec` command line run from it. `Fails` cases must end in exactly one `error:` line that names what is
wrong (file, line, field); `Succeeds` cases must exit 0 and produce the right numbers. `judge` turns a run into
a verdict; `tests/hostile/test_ingestion_eval.py` runs the table in-process, `bench/hostile.py` through the real
CLI in subprocesses, with the same judge.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

Builder = Callable[[Path], None]
"""Writes one input file (Parquet, gzip, bytes …) at the given path."""

DECOYS = {".ssh/id_rsa": "DECOY-SECRET private key\n", ".env": "API_KEY=DECOY-SECRET\n",
          "private/notes.txt": "DECOY-SECRET\n"}
DECOY_MARKERS = ("DECOY-SECRET", "id_rsa", ".env", "private/notes")


@dataclass(frozen=True)
class Fails:
    needles: tuple[str, ...]
    """Every one must appear in the single `error:` line."""


@dataclass(frozen=True)
class Succeeds:
    stdout: tuple[str, ...] = ()
    check: Callable[[Path, str], str | None] | None = None
    """(workdir, stdout) -> a description of what is wrong, or None."""


@dataclass(frozen=True)
class Case:
    name: str
    argv: tuple[str, ...]
    expect: Fails | Succeeds
    files: dict[str, str | bytes | Builder] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------------ inputs

HEADER = "user_id,item_id,rating,timestamp\n"
ROWS = [f"u{u},i{i},{1 + (u + 2 * i) % 5},{1_600_000_000 + 100 * i + u}" for u in range(4) for i in range(5)]
"""20 data rows (lines 2-21): 4 users x 5 items, ratings 1-5, so every split gets 4 targets."""


def csv_text(rows: list[str] = ROWS, header: str = HEADER) -> str:
    return header + "".join(f"{row}\n" for row in rows)


def replace_row(line: int, row: str) -> str:
    """The base CSV with the data row on file line `line` (2-21) replaced."""
    rows = list(ROWS)
    rows[line - 2] = row
    return csv_text(rows)


def parquet(**columns: list) -> Builder:
    def build(path: Path) -> None:
        pl.DataFrame(columns, strict=False).write_parquet(path)
    return build


def gz(text: str) -> Builder:
    return lambda path: path.write_bytes(gzip.compress(text.encode()))


BASE_COLUMNS = {"user_id": [r.split(",")[0] for r in ROWS], "item_id": [r.split(",")[1] for r in ROWS],
                "rating": [float(r.split(",")[2]) for r in ROWS], "timestamp": [int(r.split(",")[3]) for r in ROWS]}


def base_parquet(**override: list) -> Builder:
    return parquet(**{**BASE_COLUMNS, **override})


def prepare(*sets: str, path: str = "ratings.csv", out: str = "out") -> tuple[str, ...]:
    return ("data", "prepare", "tabular", "--out", out, "--set", f"load.path={path}",
            *[arg for item in sets for arg in ("--set", item)])


def evaluate(path: str = "preds.jsonl", *options: str) -> tuple[str, ...]:
    return ("eval", "predictions", path, "--bootstrap", "0", *options)


def jsonl(*records: str) -> str:
    return "".join(f"{r}\n" for r in records)


# ------------------------------------------------------------------------------------------------ checks


def _table(workdir: Path, name: str) -> pl.DataFrame:
    return pl.read_parquet(workdir / "out" / name)


def interactions_are(count: int, **column_values: list) -> Callable[[Path, str], str | None]:
    def check(workdir: Path, _: str) -> str | None:
        table = _table(workdir, "interactions.parquet")
        if table.height != count:
            return f"{table.height} interactions, expected {count}"
        for column, values in column_values.items():
            got = table[column].to_list()[: len(values)]
            if got != values:
                return f"{column} = {got}, expected {values}"
        return None
    return check


def timestamp_of(row: int, expected: int) -> Callable[[Path, str], str | None]:
    def check(workdir: Path, _: str) -> str | None:
        got = _table(workdir, "interactions.parquet")["timestamp"][row]
        return None if got == expected else f"timestamp {got}, expected {expected}"
    return check


def max_len(table: str, column: str, limit: int) -> Callable[[Path, str], str | None]:
    def check(workdir: Path, _: str) -> str | None:
        longest = _table(workdir, table)[column].str.len_chars().max()
        return None if longest is not None and longest <= limit else f"{column} is {longest} characters"
    return check


def metric(name: str, expected: float | None) -> Callable[[Path, str], str | None]:
    def check(_: Path, stdout: str) -> str | None:
        got = json.loads(stdout).get(name)
        ok = got is None if expected is None else got is not None and abs(got - expected) < 1e-9
        return None if ok else f"{name} = {got}, expected {expected}"
    return check


def seconds(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


GOOD_PREDS = jsonl('{"label": 1, "score": 0.8}', '{"label": 0, "score": 0.3}', '{"label": 1, "score": 0.6}')
PROBS_ROW = '{{"rating": {r}, "probs": {p}}}'


def row(line: int, **fields: object) -> str:
    """The base CSV with some fields of the data row on file line `line` (2-21) changed."""
    names = ("user_id", "item_id", "rating", "timestamp")
    cells = dict(zip(names, ROWS[line - 2].split(","), strict=True))
    cells.update({k: str(v) for k, v in fields.items()})
    return replace_row(line, ",".join(cells[n] for n in names))


REVIEW_HEADER = "user_id,item_id,rating,timestamp,review\n"


def with_review(line: int, review: str) -> str:
    rows = [f"{r},fine" for r in ROWS]
    rows[line - 2] = f"{ROWS[line - 2]},{review}"
    return csv_text(rows, REVIEW_HEADER)


def one_rating_per_user() -> str:
    return csv_text([f"u{k},i{k},4,{1_600_000_000 + k}" for k in range(6)])


def binary_ratings() -> str:
    return csv_text([r.rsplit(",", 2)[0] + f",{k % 2}," + r.rsplit(",", 1)[1] for k, r in enumerate(ROWS)])


def kept_rating(user: str, item: str, expected: float) -> Callable[[Path, str], str | None]:
    def check(workdir: Path, _: str) -> str | None:
        table = _table(workdir, "interactions.parquet").filter(user_id=user, item_id=item)
        got = table["rating"].to_list()
        return None if got == [expected] else f"kept ratings {got}, expected [{expected}]"
    return check


def column_present(table: str, column: str) -> Callable[[Path, str], str | None]:
    return lambda workdir, _: None if column in _table(workdir, table).columns else f"no column {column}"


def prepared_dir(damage: Callable[[Path], None]) -> Builder:
    """A real prepared directory (built in-process), then damaged."""
    def build(path: Path) -> None:
        from reasonrec.data.prepare import PrepareConfig, prepare

        source = path.parent / "source.csv"
        source.write_text(csv_text())
        prepare(PrepareConfig.from_dict({"dataset": "tabular", "load": {"path": str(source)}}), path)
        damage(path)
    return build


def mix_in_other_splits(path: Path) -> None:
    from reasonrec.data.prepare import PrepareConfig, prepare

    other = prepare(PrepareConfig.from_dict({"dataset": "tabular", "load": {"path": str(path.parent / "source.csv")},
                                             "split": {"k_history": 1}}), path.parent / "other").out
    (path / "splits" / "test.parquet").write_bytes((other / "splits" / "test.parquet").read_bytes())


def point_manifest_outside(path: Path) -> None:
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["outputs"]["../source.csv"] = "0" * 64
    (path / "manifest.json").write_text(json.dumps(manifest))


# ------------------------------------------------------------------------------------------------- judge

VERDICTS = ("ok", "traceback", "silently wrong", "unclear error", "refused valid input", "leaked path")


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str
    traceback: str | None = None
    """Set when the command died of an unexpected exception (in-process) or printed a traceback."""


def setup_workdir(case: Case, workdir: Path) -> dict[Path, float]:
    """Write the decoys and the case's files; return what exists before the run (path -> mtime)."""
    for name, content in {**DECOYS, **case.files}.items():
        path = workdir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if callable(content):
            content(path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return {p: p.stat().st_mtime for p in workdir.rglob("*") if p.is_file()}


def _leak(run: Run, workdir: Path, before: dict[Path, float]) -> str | None:
    """A decoy named or quoted in the output or in any file the run wrote; a manifest input it was not given."""
    for marker in DECOY_MARKERS:
        if marker in run.stdout or marker in run.stderr:
            return f"output mentions {marker!r}"
    written = [p for p in workdir.rglob("*") if p.is_file() and before.get(p) != p.stat().st_mtime]
    for path in written:
        data = path.read_bytes()
        for marker in DECOY_MARKERS:
            if marker.encode() in data:
                return f"{path.relative_to(workdir)} mentions {marker!r}"
        if path.name == "manifest.json":
            for name in json.loads(data).get("inputs", {}):
                source = (workdir / name).resolve()
                if source not in {p.resolve() for p in before} or any(m in name for m in DECOY_MARKERS):
                    return f"{path.relative_to(workdir)} lists input {name!r}, which the command was not given"
    return None


def judge(case: Case, run: Run, workdir: Path, before: dict[Path, float]) -> tuple[str, str]:
    """(verdict, detail): verdict is one of VERDICTS."""
    if run.traceback is not None or "Traceback (most recent call last)" in run.stderr:
        return "traceback", (run.traceback or run.stderr)[-600:]
    leak = _leak(run, workdir, before)
    if leak is not None:
        return "leaked path", leak
    lines = run.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    if isinstance(case.expect, Fails):
        if run.exit_code == 0:
            return "silently wrong", f"exit 0 where an error naming {case.expect.needles} was due"
        if run.exit_code != 2 or len(errors) != 1 or lines[-1] != errors[0]:
            return "unclear error", f"exit {run.exit_code}, stderr: {run.stderr[-400:]!r}"
        missing = [needle for needle in case.expect.needles if needle not in errors[0]]
        return ("unclear error", f"{errors[0]} (lacks {missing})") if missing else ("ok", errors[0])
    if run.exit_code != 0:
        return "refused valid input", run.stderr[-400:]
    missing = [needle for needle in case.expect.stdout if needle not in run.stdout]
    if missing:
        return "silently wrong", f"stdout lacks {missing}: {run.stdout[-400:]!r}"
    problem = case.expect.check(workdir, run.stdout) if case.expect.check else None
    return ("silently wrong", problem) if problem else ("ok", "")
