"""Train and evaluate every classic baseline on (1) the ReasoningRec Beauty release split and (2) MovieLens-100K.

Beauty: target tables = the release's `seq_ctr_*` splits from `load_dataset("reasoningrec-beauty")` (the
SASRec/Caser CSVs joined with the ratings, the authors' own baseline split); CF training interactions =
`leave_last_out(...).train_interactions` of the release ratings (each user's sequence without its last two
interactions; this reproduces the release windows for 618/624 users). MovieLens-100K: `leave_last_out` with
k_history=5 and r_T=3 on u.data.

Metrics: AUC of the binary like label (all models), RMSE/MAE (rating models), Recall/NDCG@{5,10,20} of the
held-out test item over a full ranking of training items (BPR, LightGCN; users' training items excluded),
and wall-clock fit time. Prints a table and writes bench/results/baselines.json.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/baselines.py [--only beauty|ml100k] [--names sasrec,caser]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import polars as pl

from reasonrec.baselines import BASELINES, TrainData, make_baseline
from reasonrec.data.loaders import load_dataset
from reasonrec.data.splits import leave_last_out
from reasonrec.eval.metrics import binary_auc, mae, ranking_metrics, rmse
from reasonrec.io import write_json

DATA_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data"
RESULTS = Path(__file__).resolve().parent / "results" / "baselines.json"
KS = (5, 10, 20)


def beauty() -> tuple[TrainData, pl.DataFrame]:
    ds = load_dataset("reasoningrec-beauty", data_root=DATA_ROOT)
    cf = leave_last_out(ds.interactions, k_history=5, r_threshold=3.0).train_interactions
    return TrainData(cf, ds.splits["seq_ctr_train"], ds.splits["seq_ctr_valid"], 3.0), ds.splits["seq_ctr_test"]


def movielens_100k() -> tuple[TrainData, pl.DataFrame]:
    ds = load_dataset("movielens-100k", data_root=DATA_ROOT)
    split = leave_last_out(ds.interactions, k_history=5, r_threshold=3.0)
    return TrainData(split.train_interactions, split.train, split.valid, 3.0), split.test


DATASETS = {"beauty": beauty, "ml100k": movielens_100k}


def evaluate(name: str, model, data: TrainData, test: pl.DataFrame, dataset: str) -> dict:
    preds = model.predict(test, dataset=dataset, split="test")
    labelled = preds.filter(pl.col("label").is_not_null())
    row: dict = {"auc": binary_auc(labelled["label"].to_numpy(), labelled["score"].to_numpy()).value}
    if "rating" in BASELINES[name].tasks:
        rated = preds.filter(pl.col("rating").is_not_null())  # Beauty: 2 test targets have no rating row
        row["rmse"] = rmse(rated["rating"].to_numpy(), rated["pred_rating"].to_numpy()).value
        row["mae"] = mae(rated["rating"].to_numpy(), rated["pred_rating"].to_numpy()).value
    if "topk" in BASELINES[name].tasks:
        users = test["user_id"].unique(maintain_order=True).to_list()
        recs = model.recommend(users, max(KS), exclude_train=True)
        ranked = {u: [] for u in users}
        for u, i in zip(recs["user_id"].to_list(), recs["item_id"].to_list(), strict=True):
            ranked[u].append(i)
        relevant: dict[str, set[str]] = {}
        for u, i in zip(test["user_id"].to_list(), test["item_id"].to_list(), strict=True):
            relevant.setdefault(u, set()).add(i)
        for key, result in ranking_metrics(ranked, relevant, KS).items():
            row[key] = result.value
        train_items = set(data.interactions["item_id"].cast(pl.String).to_list())
        row["test_items_cold"] = sum(1 for i in test["item_id"].to_list() if i not in train_items)
    for attr in ("best_epoch", "cold_rows", "fallbacks"):
        if getattr(model, attr, None) not in (None, 0, {}):
            row[attr] = getattr(model, attr)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=list(DATASETS), default=None)
    parser.add_argument("--names", default=",".join(BASELINES))
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)
    names = [n for n in args.names.split(",") if n]
    results: dict = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for dataset, build in DATASETS.items():
        if args.only and dataset != args.only:
            continue
        data, test = build()
        info = {"train_targets": data.train.height, "valid_targets": data.valid.height if data.valid is not None
                else 0, "test_targets": test.height, "cf_interactions": data.interactions.height,
                "test_like_rate": float(test["label"].mean())}
        results.setdefault(dataset, {})["_info"] = info
        print(f"== {dataset}: {info}", flush=True)
        for name in names:
            model = make_baseline(name)
            start = time.time()
            model.fit(data)
            fit_s = time.time() - start
            row = evaluate(name, model, data, test, dataset)
            row["fit_seconds"] = round(fit_s, 2)
            results[dataset][name] = row
            print(f"  {name:16s} " + " ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
                                                for k, v in row.items()), flush=True)
            write_json(RESULTS, results)
    print_table(results)


def print_table(results: dict) -> None:
    cols = ["auc", "rmse", "mae", "recall@5", "ndcg@5", "recall@10", "ndcg@10", "recall@20", "ndcg@20",
            "fit_seconds"]
    print("\n| dataset | baseline | " + " | ".join(cols) + " |")
    print("|---|---|" + "---|" * len(cols))
    for dataset, rows in results.items():
        for name, row in rows.items():
            if name.startswith("_"):
                continue
            cells = [f"{row[c]:.3f}" if isinstance(row.get(c), float) else "" for c in cols]
            print(f"| {dataset} | {name} | " + " | ".join(cells) + " |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
