"""The multi-path sampler every teacher uses: one prompt, M reasoning paths, each parsed next to the truth.

`sample_paths` serves ReasoningRec's teacher reasoning, Rec-SAVER's N explanations and M teacher paths and EXP3RT's
teacher reasoning: each job is expanded into M requests with sample_index 0..M-1 at temperature T — each sample is
its own cache entry, so a rerun resumes sample by sample — and an optional parser turns every text into a
prediction (label or rating) that is KEPT next to the truth, so filters can compare them later. With temperature 0
the M samples are identical (greedy); use T > 0 for real multi-path sampling.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import polars as pl

from reasonrec.answers import LabelParse, RatingParse
from reasonrec.llm.base import LLM
from reasonrec.llm.runner import CHUNK_SIZE, RunSummary
from reasonrec.stages.common.base import GenerationJob, run_generation_jobs

Parser = Callable[[str], LabelParse | RatingParse]

PARSED_COLUMNS: dict[str, pl.DataType] = {
    "pred_label": pl.Int64(),
    "pred_rating": pl.Float64(),
    "reasoning": pl.String(),
    "parse_ok": pl.Boolean(),
}


def expand_samples(jobs: Sequence[GenerationJob], n_samples: int, temperature: float, top_p: float = 1.0
                   ) -> list[GenerationJob]:
    """Each job × sample_index 0..n_samples-1, sampling params set to (temperature, top_p)."""
    out = []
    for job in jobs:
        params = replace(job.params, temperature=temperature, top_p=top_p)
        out.extend(replace(job, params=params, sample_index=s) for s in range(n_samples))
    return out


def parse_column_values(texts: Sequence[str | None], parser: Parser) -> dict[str, list]:
    """pred_label / pred_rating / reasoning / parse_ok for each text (failed calls → parse_ok False)."""
    cols: dict[str, list] = {name: [] for name in PARSED_COLUMNS}
    for text in texts:
        if text is None:
            cols["pred_label"].append(None)
            cols["pred_rating"].append(None)
            cols["reasoning"].append(None)
            cols["parse_ok"].append(False)
            continue
        parsed = parser(text)
        cols["pred_label"].append(getattr(parsed, "label", None))
        cols["pred_rating"].append(getattr(parsed, "rating", None))
        cols["reasoning"].append(parsed.reasoning)
        cols["parse_ok"].append(parsed.ok)
    return cols


def sample_paths(
    llm: LLM,
    jobs: Sequence[GenerationJob],
    key_schema: dict[str, pl.DataType],
    *,
    n_samples: int,
    temperature: float,
    top_p: float = 1.0,
    parser: Parser | None = None,
    batch_size: int = CHUNK_SIZE,
    desc: str = "sample paths",
    show: bool = True,
) -> tuple[pl.DataFrame, RunSummary]:
    """M samples per job → one row per (key, sample_index) with text, LLM columns and (if parser) PARSED_COLUMNS."""
    expanded = expand_samples(jobs, n_samples, temperature, top_p)
    table, summary = run_generation_jobs(llm, expanded, key_schema, batch_size=batch_size, desc=desc, show=show)
    if parser is not None:
        parsed = parse_column_values(table["text"].to_list(), parser)
        table = table.with_columns(
            [pl.Series(name, values, dtype=PARSED_COLUMNS[name]) for name, values in parsed.items()]
        )
    return table, summary


__all__ = ["PARSED_COLUMNS", "Parser", "expand_samples", "parse_column_values", "sample_paths"]
