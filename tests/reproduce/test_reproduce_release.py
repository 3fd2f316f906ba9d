"""`reproduce reasoningrec` on a category released in the ReasoningRec layout (`--dataset reasoningrec-release
--set domain=...`): the config resolves, the data loads the way `run` loads it, and the report notes are the
release's own facts. The copy is Beauty re-spelt the Fashion way, built at test time (`datafiles`)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from datafiles import category_release

from reasonrec.data.loaders import LoadOptions, load_dataset
from reasonrec.data.loaders.reasoningrec import release_notes
from reasonrec.methods.reasoningrec import reproduction as rr


@pytest.fixture(scope="module")
def fashion_root(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("categories")
    category_release(shared_data, root, "fashion")
    return root


@pytest.mark.parametrize("where", ["root", "release"])
def test_release_resolves_loads_and_feeds_the_report(fashion_root: Path, where: str) -> None:
    data_dir = fashion_root if where == "root" else fashion_root / "reasoningrec-fashion"
    cfg = rr.REPRODUCTION.resolve("reasoningrec-release", "quick", ["domain=fashion", f"data_dir={data_dir}", "bootstrap=0"])
    assert (cfg.dataset, cfg.domain, cfg.test_split, cfg.like_threshold) == (
        "reasoningrec-release", "fashion", "release_windows_test", 3.0)
    ds = load_dataset(cfg.dataset, cfg.data_dir, LoadOptions(domain=cfg.domain))
    rows = rr.test_rows(ds, cfg)
    assert rows["user_id"].n_unique() == cfg.test_users
    authors = {r["k"]: r for r in rr.authors_figures(ds, cfg)}
    assert set(authors) == {64, 128, 256}
    assert authors[256]["n"] == 600 and authors[256]["n_distinct_prompts"] == 283
    notes = release_notes(ds.info, cfg.test_split)
    assert notes[0].startswith("The authors' AUCs were computed over 600 rows")


@pytest.mark.slow
def test_quick_reproduction_on_a_renamed_category(fashion_root: Path, tmp_path: Path) -> None:
    cfg = rr.REPRODUCTION.resolve("reasoningrec-release", "quick", [
        "domain=fashion", f"data_dir={fashion_root}", "k=4", "test_users=8", "lora.max_steps=1",
        "lora.valid_limit=8", "reasoning_rows=0", "tallrec=false", "zeroshot=[]", "bootstrap=50",
        "baselines=[user-mean,user-like-share]"])
    rr.run(cfg, tmp_path)
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["dataset"] == "reasoningrec-release" and saved["n"] == 8
    assert any(note.startswith("The authors' AUCs were computed over 600 rows") for note in saved["notes"])
    prompts = pl.read_parquet(tmp_path / "student" / "sft_train" / "sft.parquet")["prompt"]
    assert prompts.len() == 4 and prompts.str.contains("expert fashion product recommender").all()
