"""`reasonrec rerank`: rerank CF candidates by LLM (or any) scores and compare with the generator's lists.

Inputs are Parquet tables: candidates (user_id, item_id, rank) — e.g. from `reasonrec baselines run bpr`;
scores (user_id, item_id, <score column>) — any predictions table; relevant (user_id, item_id[, label]) — the
test interactions. Writes OUT/reranked.parquet, OUT/metrics.json (Recall/NDCG@k generator vs reranked) and a
manifest. Settings: `RerankConfig` (`--n-candidates`, `--ks`, or --config / --set).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from reasonrec.cli.errors import one_line_errors
from reasonrec.cli.options import ConfigOpt, SetOpt

CandOpt = Annotated[Path, typer.Option("--candidates", help="Parquet (user_id, item_id, rank) from a CF model.")]
ScoresOpt = Annotated[Path, typer.Option("--scores", help="Parquet with user_id, item_id and a score column.")]
RelOpt = Annotated[Path, typer.Option("--relevant", help="Parquet (user_id, item_id[, label]) of relevant items.")]
OutOpt = Annotated[Path, typer.Option("--out", help="Output directory for reranked.parquet + metrics.json.")]
ColOpt = Annotated[str, typer.Option("--score-column", help="Column of --scores to rank by (e.g. pred_rating).")]
NOpt = Annotated[int, typer.Option("--n-candidates", help="Candidates per user kept from the generator.")]
KsOpt = Annotated[str, typer.Option("--ks", help="Comma-separated cut-offs for Recall/NDCG.")]


@one_line_errors()
def rerank_command(
    ctx: typer.Context,
    candidates: CandOpt,
    scores: ScoresOpt,
    relevant: RelOpt,
    out: OutOpt,
    score_column: ColOpt = "score",
    n_candidates: NOpt = 20,
    ks: KsOpt = "5,10,15,20",
    config: ConfigOpt = None,
    set_: SetOpt = None,
) -> None:
    """Rerank candidates by scores; print generator-vs-reranked Recall/NDCG as JSON.

    Example: reasonrec rerank --candidates runs/bpr/candidates.parquet --scores runs/pred/predictions.parquet
    --relevant runs/data/splits/test.parquet --out runs/rerank --ks 5,10
    """
    import polars as pl

    from reasonrec.cli.options import given_flags, resolve_command_config
    from reasonrec.rerank import RerankConfig, relevant_sets, rerank_and_evaluate, scores_from_predictions

    try:
        cut_offs = [int(k) for k in ks.split(",") if k.strip()]
    except ValueError:
        raise typer.BadParameter(f"--ks must be integers separated by commas, got {ks!r}") from None
    flags = given_flags(ctx, {"n_candidates": n_candidates, "ks": cut_offs})
    rerank_config = resolve_command_config(RerankConfig, config=config, overrides=set_ or [], flags=flags)
    table_scores = scores_from_predictions(pl.read_parquet(scores), score_column)
    _, metrics = rerank_and_evaluate(
        pl.read_parquet(candidates), table_scores, relevant_sets(pl.read_parquet(relevant)), rerank_config, out,
        command="reasonrec rerank", inputs=[candidates, scores, relevant],
    )
    typer.echo(json.dumps({k: metrics[k] for k in ("generator", "reranked", "gain", "users", "missing_scores")}))


__all__ = ["rerank_command"]
