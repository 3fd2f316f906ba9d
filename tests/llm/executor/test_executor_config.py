"""Executor configuration: the `executor: ray` shorthand, cross-field rules, bounds, and the QPS cap."""

from __future__ import annotations

import pytest

from reasonrec.errors import ConfigError
from reasonrec.llm.executor import ExecutorConfig, RateLimitedLLM, distributed_of
from reasonrec.llm.registry import LLMConfig, build_llm


def test_ray_shorthand_and_dotted_overrides(tmp_path) -> None:
    assert LLMConfig.from_dict({"executor": "ray"}).executor == ExecutorConfig(kind="ray")
    cfg = LLMConfig.from_dict({}, ["executor.kind=ray", "executor.workers=8", "executor.shard_size=16"])
    assert (cfg.executor.kind, cfg.executor.workers, cfg.executor.shard_size) == ("ray", 8, 16)
    assert LLMConfig.from_yaml(cfg.save(tmp_path / "llm.yaml")) == cfg


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"executor": "dask"}, "executor.kind"),
        ({"executor": {"kind": "ray", "workers": 0}}, "executor.workers"),
        ({"executor": {"kind": "ray", "shard_size": 10**9}}, "executor.shard_size"),
        ({"executor": {"kind": "ray", "qps": -1}}, "executor.qps"),
        ({"executor": {"kind": "ray", "endpoints": ["http://127.0.0.1:9/v1"]}}, "OpenAI-compatible servers"),
        ({"backend": "vllm", "executor": {"kind": "ray"}}, "gpus_per_worker=1"),
        ({"backend": "vllm", "vllm": {"tensor_parallel_size": 2}, "executor": {"kind": "ray", "gpus_per_worker": 1}},
         "gpus_per_worker=2"),
        ({"executor": {"kind": "ray", "bogus": 1}}, "executor.bogus"),
    ],
)
def test_bad_executor_configs_are_one_line_errors(raw, fragment) -> None:
    with pytest.raises(ConfigError) as info:
        LLMConfig.from_dict(raw, source="llm.yaml")
    message = str(info.value)
    assert message.startswith("llm.yaml: ") and fragment in message and "\n" not in message


def test_the_qps_cap_spaces_calls_on_a_schedule(embedded_hf) -> None:
    now = [100.0]
    waits: list[float] = []

    def sleep(s: float) -> None:
        waits.append(s)
        now[0] += s

    limited = RateLimitedLLM(embedded_hf, qps=4.0, clock=lambda: now[0], sleep=sleep)
    assert limited.acquire(2) == 0.0  # the first call starts at once and books 0.5 s
    assert limited.acquire(2) == pytest.approx(0.5)
    now[0] += 5.0  # idle time is not banked into a burst
    assert limited.acquire(4) == 0.0
    assert limited.acquire(1) == pytest.approx(1.0)
    assert waits == [pytest.approx(0.5), pytest.approx(1.0)]
    assert limited.identity == embedded_hf.identity


def test_a_local_executor_with_qps_wraps_the_backend_and_stays_in_process(tmp_path) -> None:
    llm = build_llm(LLMConfig(backend="openai", base_url="http://127.0.0.1:9/v1", model="m", cache=False,
                              executor=ExecutorConfig(qps=2.0)))
    assert isinstance(llm, RateLimitedLLM) and llm.qps == 2.0
    assert distributed_of(llm) is None
    ray_llm = build_llm(LLMConfig(backend="openai", base_url="http://127.0.0.1:9/v1", model="m",
                                  cache_path=str(tmp_path / "c.sqlite"),
                                  executor=ExecutorConfig(kind="ray", workers=4, qps=8.0)))
    found = distributed_of(ray_llm)
    assert found is ray_llm
    worker = found.worker_config()
    assert worker.cache is False and worker.executor.kind == "local" and worker.executor.qps == 2.0
