"""Teacher paths whose text states no rating get one from a scoring pass after their own reasoning."""

from __future__ import annotations

import json
import os

import polars as pl

from reasonrec.llm.registry import LLMConfig, build_llm
from reasonrec.stages.recsaver.teacher import TeacherPathsConfig, score_missing_ratings

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def test_teacher_paths_without_a_rating_line_get_a_scored_rating(tmp_path):
    """Real embedded model: a path cut off before its rating line gets the argmax digit after its reasoning;
    a parsed path keeps its parsed rating."""
    cfg = TeacherPathsConfig(batch_size=4, show_progress=False)
    llm = build_llm(LLMConfig(n_threads=1, cache_path=str(tmp_path / "cache.sqlite")))
    prompt = json.dumps([{"role": "user", "content": "Past purchases: a rose perfume (rating 5), a musk perfume "
                                                     "(rating 5).\nNew item: a rose body lotion.\nRate it 1-5."}])
    paths = pl.DataFrame({
        "user_id": ["a", "a"], "item_id": ["1", "1"], "split": ["train", "train"], "sample_index": [0, 1],
        "rating": [5.0, 5.0], "pred_rating": [4.0, None], "parse_ok": [True, False],
        "reasoning": ["She loves rose scents.", "She loves rose scents and"], "text": ["t", "t"],
        "prompt": [prompt, prompt], "error": [None, None],
    })
    out = score_missing_ratings(paths, llm, cfg)
    assert out["rating_source"].to_list() == ["parsed", "scored"]
    assert out["pred_rating"][0] == 4.0 and out["pred_rating"][1] in {1.0, 2.0, 3.0, 4.0, 5.0}
    assert out["parse_ok"].all() and out.height == 2
