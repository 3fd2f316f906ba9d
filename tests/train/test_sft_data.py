"""SFT data on the real Beauty release: prompts from canonical tables, completion/label agreement, K-shot
determinism and split hygiene, trimming accounting; plus hypothesis properties of the sampler."""

from __future__ import annotations

import json

import polars as pl
import pytest
from datafiles import require_data
from hypothesis import given, settings
from hypothesis import strategies as st

from reasonrec.errors import ConfigError
from reasonrec.train.sft_data import (
    SFTDataConfig,
    build_rating_sft,
    build_reasoningrec_sft,
    load_tokenizer,
    sample_k_shot,
)


@pytest.fixture(scope="module")
def beauty(shared_data):
    from reasonrec.data.loaders import load_dataset

    require_data(shared_data, "reasoningrec-beauty", "processed", "user_train.json")
    return load_dataset("reasoningrec-beauty", shared_data)


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("embedded")


def _build(ds, tok, cfg, table="release_windows_train", split="train", **kw):
    a = ds.artefacts
    return build_reasoningrec_sft(ds.splits[table], ds.items, a["item_descriptions"], a["user_profiles"],
                                  a["teacher_reasoning"], tok, cfg, split=split, **kw)


def test_prompt_from_canonical_tables_and_prediction_first(beauty, tokenizer):
    data = _build(beauty, tokenizer, SFTDataConfig(k=16, seed=3))
    assert len(data) == 16 and data.stats["examples"] == 16
    titles = dict(beauty.items.select("item_id", "title").iter_rows())
    windows = {r["user_id"]: r for r in beauty.splits["release_windows_train"].iter_rows(named=True)}
    for row in data.table.iter_rows(named=True):
        user_text = json.loads(row["prompt"])[-1]["content"]
        target_title = " ".join(titles[row["item_id"]].split())
        assert target_title in user_text.split("Target beauty product:")[1]  # the REAL target, not a train one
        assert row["item_id"] == windows[row["user_id"]]["item_id"]
        first, _, rest = row["completion"].partition("\n")
        assert first == ("Prediction: Yes" if row["label"] == 1 else "Prediction: No")
        assert row["label"] == windows[row["user_id"]]["label"]
        assert "Prediction:" not in rest and rest.strip()


def test_k_shot_is_deterministic_and_from_train_only(beauty, tokenizer):
    cfg = SFTDataConfig(k=64, seed=7, method="tallrec")  # tallrec: same sampler, cheaper prompts
    a = _build(beauty, tokenizer, cfg)
    b = _build(beauty, tokenizer, cfg)
    c = _build(beauty, tokenizer, cfg.model_copy(update={"seed": 8}))
    assert a.table["user_id"].to_list() == b.table["user_id"].to_list()
    assert a.table["user_id"].to_list() != c.table["user_id"].to_list()
    # every example is the user's TRAIN-window target (never a valid/test window)
    train_items = dict(zip(beauty.splits["release_windows_train"]["user_id"],
                           beauty.splits["release_windows_train"]["item_id"], strict=True))
    assert set(a.table["split"]) == {"train"}
    for user, item in zip(a.table["user_id"], a.table["item_id"], strict=True):
        assert train_items[user] == item
    # user-disjoint sampling when evaluation users are excluded
    eval_users = set(beauty.splits["release_windows_test"]["user_id"].head(300).to_list())
    d = _build(beauty, tokenizer, cfg, exclude_users=eval_users)
    assert len(d) == 64 and not set(d.table["user_id"]) & eval_users


def test_balance_classes(beauty, tokenizer):
    data = _build(beauty, tokenizer, SFTDataConfig(k=40, method="tallrec", balance_classes=True))
    assert data.stats["yes"] == 20 and data.stats["no"] == 20
    assert set(data.table["completion"]) == {"Yes.", "No."}


def test_trimming_is_counted_not_silent(beauty, tokenizer):
    wide = _build(beauty, tokenizer, SFTDataConfig(k=12, seed=1, include_profile=False))
    tight = _build(beauty, tokenizer, SFTDataConfig(k=12, seed=1, include_profile=False, max_seq_length=520,
                                                    on_overflow="skip"))
    assert wide.stats["trimmed_examples"] == 0
    assert tight.stats["trimmed_examples"] > 0 and tight.stats["history_items_dropped"] > 0
    assert tight.stats["examples"] + tight.stats["skipped_overflow"] == 12
    assert (tight.table["prompt_tokens"] + tight.table["completion_tokens"]).max() <= 520
    with pytest.raises(ConfigError, match="does not fit"):
        _build(beauty, tokenizer, SFTDataConfig(k=12, seed=1, max_seq_length=300))


def test_rating_sft_paths_keep_filter(tokenizer):
    prompt = json.dumps([{"role": "user", "content": "Rate it."}])
    paths = pl.DataFrame({
        "user_id": ["u1", "u1", "u1", "u2"], "item_id": ["i", "i", "i", "j"], "sample_index": [0, 1, 2, 0],
        "rating": [4.0, 4.0, 4.0, 2.0], "reasoning": ["r0", "r1", "r2", "q0"], "keep": [True, False, True, True],
        "student_prompt": [prompt] * 4,
    })
    one = build_rating_sft(paths, tokenizer, SFTDataConfig(method="recsaver", k="all"))
    many = build_rating_sft(paths, tokenizer, SFTDataConfig(method="recsaver", k="all", paths_per_pair=8))
    assert len(one) == 2 and len(many) == 3
    assert one.table.filter(pl.col("user_id") == "u1")["completion"][0] == "### Reason ###\nr0\n\n### Rating ###\n4"
    ex = build_rating_sft(paths, tokenizer, SFTDataConfig(method="exp3rt", k=1, seed=0))
    assert len(ex) >= 1 and ex.table["completion"][0].endswith("Predicted User Rating: " +
                                                              str(int(ex.table["rating"][0])))


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 60), k=st.integers(1, 80), seed=st.integers(0, 10_000), balance=st.booleans(),
       yes_share=st.floats(0.0, 1.0))
def test_sample_k_shot_properties(n, k, seed, balance, yes_share):
    labels = [int(i < yes_share * n) for i in range(n)]
    rows = pl.DataFrame({"user_id": [str(i) for i in range(n)], "label": labels})
    out = sample_k_shot(rows, k, seed, balance_classes=balance)
    assert out.height == min(k, n)
    assert out["user_id"].n_unique() == out.height  # no duplicates
    assert out.equals(sample_k_shot(rows, k, seed, balance_classes=balance))
    if balance and k < n:
        counts = out["label"].value_counts()
        per = dict(zip(counts["label"], counts["count"], strict=True))
        n_yes, n_no = sum(labels), n - sum(labels)
        assert per.get(1, 0) >= min(k // 2, n_yes) and per.get(0, 0) >= min(k // 2, n_no)
