"""Run the ReasoningRec stages on a real Beauty slice with the configured LLM and report counts + wall time.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/stages_slice.py --out runs/stages_slice --items 50 --users 30

Writes one stage directory per stage under --out (Parquet + manifest) and prints/writes summary.json.
Rerunning is cheap: every finished call comes from the LLM cache.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from reasonrec.data.loaders import load_dataset
from reasonrec.io import write_json
from reasonrec.llm.registry import LLMConfig, build_llm
from reasonrec.stages.base import write_stage_output
from reasonrec.stages.describe import DescribeConfig, describe_items
from reasonrec.stages.profile import ProfileConfig, profile_users
from reasonrec.stages.reason import ReasonConfig, teacher_reasoning
from reasonrec.stages.zeroshot import ZeroShotConfig, zeroshot_predict


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--items", type=int, default=50)
    ap.add_argument("--users", type=int, default=30)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--llm-config", type=Path, default=None)
    args = ap.parse_args()
    ds = load_dataset("reasoningrec-beauty")
    llm = build_llm(LLMConfig.from_yaml(args.llm_config) if args.llm_config else LLMConfig())
    test = ds.splits["release_windows_test"]
    users = list(dict.fromkeys(test["user_id"].to_list()))[: args.users]
    report: dict[str, dict] = {}

    def record(name, table, config, summaries, started):
        write_stage_output(args.out / name, name, table, config, llm=llm, summaries=summaries, started_at=started)
        report[name] = {"rows": table.height, "wall_s": round(time.time() - started, 1),
                        "failures": sum(s.failures for s in summaries),
                        "cache_hits": sum(s.cache_hits for s in summaries)}
        print(name, report[name], flush=True)
        return table

    t, s = time.time(), []
    cfg = DescribeConfig(max_new_tokens=args.max_new_tokens)
    desc = record("item_descriptions", describe_items(ds.items, ds.interactions, llm, cfg,
                  item_ids=ds.items["item_id"].to_list()[: args.items], summaries=s), cfg, s, t)
    report["item_descriptions"]["fallback"] = int(desc["fallback"].sum())
    t, s = time.time(), []
    cfg = ProfileConfig(max_new_tokens=args.max_new_tokens)
    prof = record("user_profiles", profile_users(ds.interactions, test, ds.items, ds.artefacts["item_descriptions"],
                  llm, cfg, user_ids=users, summaries=s), cfg, s, t)
    report["user_profiles"]["with_profile"] = int(prof["text"].is_not_null().sum())
    t, s = time.time(), []
    cfg = ReasonConfig(max_new_tokens=args.max_new_tokens)
    train = ds.splits["release_windows_train"].filter(ds.splits["release_windows_train"]["user_id"].is_in(users))
    reas = record("teacher_reasoning", teacher_reasoning(train, ds.items, ds.artefacts["item_descriptions"],
                  ds.artefacts["user_profiles"], llm, cfg, summaries=s), cfg, s, t)
    report["teacher_reasoning"]["parse_ok"] = int(reas["parse_ok"].sum())
    report["teacher_reasoning"]["agrees"] = int(reas["agrees"].sum())
    t, s = time.time(), []
    cfg = ZeroShotConfig(variant="full", dataset="reasoningrec-beauty")
    zs_targets = test.filter(test["user_id"].is_in(users))
    record("zeroshot_full", zeroshot_predict(zs_targets, ds.items, ds.artefacts["item_descriptions"],
           ds.artefacts["user_profiles"], llm, cfg, summaries=s), cfg, s, t)
    write_json(args.out / "summary.json", report)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
