"""End to end with commands only: own CSV → prepare → baselines → tiny teacher → tiny student → bundle → serve → recommendations
with explanations (real CLI subprocesses, real model, real 127.0.0.1 server). Several minutes on 2 shared cores:
slow, run by `bench/own_data_e2e.py`."""

from __future__ import annotations

import json

import polars as pl
import pytest
from own_data_cli import USER, read_recommendations, run_chain

pytestmark = [pytest.mark.slow, pytest.mark.model, pytest.mark.timeout(3600)]  # ~25 min at load 14 on 2 cores


def test_own_csv_to_served_explained_recommendations(tmp_path) -> None:
    result = run_chain(tmp_path)
    work = result.work
    assert "read " in result.outputs["prepare"] and (work / "shop" / "manifest.json").is_file()
    assert (work / "shop_bpr" / "cf_model.npz").is_file()
    trained = json.loads(result.stdout["student"])  # stdout is the result alone (the trainer logs go to stderr)
    assert trained["global_step"] == 2 and (work / "shop_student" / "adapter" / "adapter_config.json").is_file()
    bundle_config = (work / "shop_bundle" / "bundle.yaml").read_text()
    assert "method: reasoningrec" in bundle_config and "adapter: adapter" in bundle_config  # its own prompt
    assert "include_profile: false" in bundle_config

    served = result.served["items"]
    assert result.served["user_id"] == USER and len(served) == 3
    seen = set(pl.read_parquet(work / "shop" / "interactions.parquet").filter(pl.col("user_id") == USER)["item_id"])
    assert not {i["item_id"] for i in served} & seen  # never an item the user already rated
    assert all(0.0 <= i["p_like"] <= 1.0 for i in served)
    assert served[0]["explanation"] and served[1]["explanation"] and served[2]["explanation"] is None
    assert result.explained["explanation"] and result.explained["title"]

    rows = read_recommendations(work)
    assert [r["item_id"] for r in rows] == [i["item_id"] for i in served]  # CLI and service agree
    assert rows[0]["explanation"] == served[0]["explanation"]  # the same cached explanation
    assert f"user {USER}" in result.outputs["recommend"]
