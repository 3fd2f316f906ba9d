"""Prometheus text exposition for the reasonrec apps: the model worker's queue, load and counters, and (for the
recommendation service) request counts and latency per route and status.

Hand-written text format (a few gauges and counters) rather than a client library: nothing to configure, and the
output is exactly what `/metrics` promises.
"""

from __future__ import annotations

import threading
from collections import defaultdict


def metrics_text(stats: dict[str, int], model: str) -> str:
    """Prometheus text exposition of the worker's queue, load and counters."""
    label = f'model="{model}"'
    lines = [
        "# TYPE reasonrec_queued_jobs gauge",
        f'reasonrec_queued_jobs{{{label},lane="short"}} {stats["queued_short"]}',
        f'reasonrec_queued_jobs{{{label},lane="long"}} {stats["queued_long"]}',
        "# TYPE reasonrec_running_jobs gauge",
        f"reasonrec_running_jobs{{{label}}} {stats['running']}",
    ]
    for name in (
        "tokens_generated", "jobs_completed", "jobs_cancelled", "jobs_expired", "jobs_rejected", "score_batches",
        "scores",
    ):
        lines += [
            f"# TYPE reasonrec_{name}_total counter",
            f"reasonrec_{name}_total{{{label}}} {stats[name]}",
        ]
    return "\n".join(lines) + "\n"


class RequestMetrics:
    """Requests and their total latency per (route template, status); thread-safe, bounded by the routes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count: dict[tuple[str, int], int] = defaultdict(int)
        self._seconds: dict[tuple[str, int], float] = defaultdict(float)

    def observe(self, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self._count[(route, status)] += 1
            self._seconds[(route, status)] += seconds

    def text(self) -> str:
        with self._lock:
            keys = sorted(self._count)
            lines = ["# TYPE reasonrec_http_requests_total counter"]
            lines += [f'reasonrec_http_requests_total{{route="{r}",status="{s}"}} {self._count[(r, s)]}'
                      for r, s in keys]
            lines.append("# TYPE reasonrec_http_request_seconds_total counter")
            lines += [f'reasonrec_http_request_seconds_total{{route="{r}",status="{s}"}} {self._seconds[(r, s)]:.6f}'
                      for r, s in keys]
        return "\n".join(lines) + "\n"


__all__ = ["RequestMetrics", "metrics_text"]
