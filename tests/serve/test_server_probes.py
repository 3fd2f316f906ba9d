"""The hostile-request regression table (`server_probes.py`) against the real server: each probe gets its
expected status, an OpenAI-shaped error, and no internals; the server logs no traceback for any of them."""

from __future__ import annotations

import httpx
import pytest
from server_probes import problems, send, server_probes

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def probe_results(openai_server):
    with httpx.Client(timeout=60) as client:
        return [
            (p, problems(p, send(client, openai_server.root, openai_server.api_key, p)))
            for p in server_probes(openai_server.model)
        ]


def test_at_least_sixty_probes():
    assert len(server_probes("m")) >= 60
    assert len({p.name for p in server_probes("m")}) == len(server_probes("m"))


def test_every_probe_gets_its_expected_answer_without_internals(probe_results):
    failures = {p.name: found for p, found in probe_results if found}
    assert failures == {}


def test_the_probes_left_no_traceback_in_the_server_log(probe_results, openai_server):
    assert probe_results
    log = openai_server.log_path.read_text()
    assert "Traceback" not in log and "internal error" not in log
