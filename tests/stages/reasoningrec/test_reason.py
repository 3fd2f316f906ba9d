from __future__ import annotations

import polars as pl
from stage_fixtures import teacher_echo_llm

from reasonrec.answers import parse_reasoningrec
from reasonrec.stages.common.base import GenerationJob
from reasonrec.stages.common.paths import expand_samples, sample_paths
from reasonrec.stages.reasoningrec.reason import ReasonConfig, teacher_reasoning


def _tables() -> tuple[pl.DataFrame, pl.DataFrame]:
    items = pl.DataFrame({"item_id": ["a", "b", "c", "d"], "title": ["Soap", "Cream", "Mascara", "Perfume"]})
    targets = pl.DataFrame({
        "user_id": ["u1", "u2", "u3"],
        "item_id": ["c", "d", "d"],
        "rating": [5.0, 2.0, None],
        "label": [1, 0, None],
        "history_item_ids": [["a", "b"], ["b"], ["a"]],
        "history_labels": [[1, 0], [1], [1]],
        "split": ["train", "train", "train"],
    }, schema_overrides={"label": pl.Int64, "rating": pl.Float64})
    return items, targets


def test_teacher_reasoning_keeps_truth_and_parsed_prediction() -> None:
    items, targets = _tables()
    profiles = pl.DataFrame({"user_id": ["u1"], "text": ["Likes gentle soaps."]})
    llm = teacher_echo_llm()
    out = teacher_reasoning(targets, items, None, profiles, llm, ReasonConfig(n_samples=3, temperature=0.8,
                                                                              show_progress=False))
    assert out.height == 6  # u3 has no label → skipped; 2 rows × 3 samples
    assert sorted(out.filter(pl.col("user_id") == "u1")["sample_index"].to_list()) == [0, 1, 2]
    assert out["agrees"].all() and out["parse_ok"].all()
    assert dict(zip(out["user_id"], out["label"], strict=True)) == {"u1": 1, "u2": 0}
    assert {r.params.temperature for r in llm.generate_requests} == {0.8}
    u1_prompt = next(r.messages[-1].content for r in llm.generate_requests if "Mascara" in r.messages[-1].content)
    assert "Likes gentle soaps." in u1_prompt and "LIKED" in u1_prompt and "Disliked: Cream" in u1_prompt


def test_sample_paths_each_sample_is_its_own_request() -> None:
    job = GenerationJob(key={"k": "x"}, messages=(), params=ReasonConfig().sampling())
    expanded = expand_samples([job], 4, temperature=0.7)
    assert [j.sample_index for j in expanded] == [0, 1, 2, 3]
    assert len({j.request().payload()["sample_index"] for j in expanded}) == 4
    from reasonrec.llm.base import Message

    job = GenerationJob(key={"k": "x"}, messages=(Message("user", "We know the user DID NOT LIKE it"),))
    table, summary = sample_paths(teacher_echo_llm(), [job], {"k": pl.String()}, n_samples=2,
                                  temperature=0.5, parser=parse_reasoningrec, show=False)
    assert table["pred_label"].to_list() == [0, 0] and summary.prompts == 2
