"""Shard mechanics without a cluster: the same `run_shard` a Ray worker calls, on the real embedded model.

Planning puts every pending key in exactly one shard; a result file exists only when complete; a rerun after a
crash schedules only the shards that still hold keys without a result, and the assembled results equal the
in-process path."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from reasonrec.llm.base import GenerationRequest, Message, SamplingParams, ScoreRequest, request_key
from reasonrec.llm.executor.shards import ShardStore, jobset_dir, plan_shards, request_from_payload, run_shard

TOPICS = ["soap", "shampoo", "perfume", "lotion", "lipstick", "mascara", "toner"]

texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
messages = st.lists(st.builds(Message, st.sampled_from(["system", "user", "assistant"]), texts), min_size=1,
                    max_size=3).map(tuple)


@given(messages, st.floats(0, 2), st.integers(1, 512), st.lists(texts, max_size=2), st.integers(0, 9), texts)
def test_generation_request_survives_its_payload(msgs, temperature, max_new, stop, sample, prefix) -> None:
    req = GenerationRequest(messages=msgs, params=SamplingParams(temperature=temperature, max_new_tokens=max_new,
                                                                 stop=tuple(stop)),
                            sample_index=sample, assistant_prefix=prefix)
    back = request_from_payload("generate", json.loads(json.dumps(req.payload())))
    assert back == req


@given(texts, st.lists(texts, min_size=2, max_size=5, unique=True), texts)
def test_score_request_survives_its_payload(prompt, choices, prefix) -> None:
    req = ScoreRequest(choices=tuple(choices), prompt=prompt, assistant_prefix=prefix)
    assert request_from_payload("score", json.loads(json.dumps(req.payload()))) == req


@given(st.lists(st.sampled_from("abcdefghij"), max_size=40), st.sets(st.sampled_from("abcdefghij")),
       st.integers(1, 7))
def test_every_pending_key_lands_in_exactly_one_shard(keys, done, size) -> None:
    shards = plan_shards(keys, done, size)
    planned = [k for s in shards for k in s.keys]
    assert sorted(planned) == sorted(set(keys) - done)
    assert len(planned) == len(set(planned))
    assert all(0 < len(s.keys) <= size for s in shards)
    assert [s.index for s in shards] == sorted({s.index for s in shards})
    assert len({s.name for s in shards}) == len(shards)


def _requests() -> list[GenerationRequest]:
    return [GenerationRequest(messages=(Message("user", f"In one sentence, why might someone like a {t}?"),),
                              params=SamplingParams(max_new_tokens=4))
            for t in TOPICS + TOPICS[:2]]  # two repeats: computed once, returned at both positions


def test_a_rerun_after_a_crash_runs_only_unfinished_shards_and_matches_in_process(tmp_path, embedded_hf) -> None:
    requests = _requests()
    keys = [request_key(embedded_hf.identity, "generate", r.payload()) for r in requests]
    store = ShardStore(jobset_dir(tmp_path, embedded_hf.identity.key(), "generate", keys, 3), "generate")
    assert store.root == ShardStore(jobset_dir(tmp_path, embedded_hf.identity.key(), "generate", keys, 3),
                                    "generate").root
    by_key = dict(zip(keys, requests, strict=True))
    shards = plan_shards(keys, (), 3)
    assert [len(s.keys) for s in shards] == [3, 3, 1]  # the two repeats of block 3 were planned in block 1
    for shard in shards:
        store.write_job(shard, [by_key[k] for k in shard.keys])
    first = run_shard(embedded_hf, "generate", store.job_path(shards[0]), store.result_path(shards[0]), 2)
    assert first["rows"] == 3 and first["failures"] == 0
    torn = store.result_path(shards[1])  # a worker SIGKILLed while writing shard 1 leaves only its temp file
    (torn.parent / f".{torn.name}.x1y2.tmp").write_bytes(b"PAR1 torn")
    done = store.successful_results()
    assert set(done) == set(shards[0].keys)
    again = plan_shards(keys, done, 3)
    assert [s.name for s in again] == [s.name for s in shards[1:]]
    for shard in again:
        run_shard(embedded_hf, "generate", store.job_path(shard), store.result_path(shard), 2)
    results = store.successful_results()
    assert len(store.result_files()) == 3
    clean = embedded_hf.generate(requests)
    assert [results[k].text for k in keys] == [c.text for c in clean]
    assert plan_shards(keys, results, 3) == []
