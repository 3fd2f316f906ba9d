"""Where LLM requests run: in process, or as Parquet shards mapped over a Ray cluster (see `distributed`)."""

from reasonrec.llm.executor.config import ExecutorConfig, check_executor
from reasonrec.llm.executor.distributed import DistributedLLM, distributed_of, require_ray
from reasonrec.llm.executor.limits import RateLimitedLLM

__all__ = ["DistributedLLM", "ExecutorConfig", "RateLimitedLLM", "check_executor", "distributed_of", "require_ray"]
