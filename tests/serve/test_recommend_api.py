"""`reasonrec serve BUNDLE` as a real server on 127.0.0.1 with the real embedded model: auth, 404 / 422 / 503,
path-traversal ids, recommendations with explanations, feedback and ratings persisted in SQLite, metrics, docs."""

from __future__ import annotations

import sqlite3

import httpx
import pytest
from rec_service import KEY, RecService

pytestmark = pytest.mark.model


def test_health_is_open_and_everything_else_needs_the_key(rec_service: RecService) -> None:
    assert rec_service.get("/health/live", key=None).json() == {"status": "alive"}
    ready = rec_service.get("/health/ready", key=None).json()
    assert ready["status"] == "ready" and all(ready["checks"].values())
    for path in ("/api/users", "/api/users/user00", "/api/recommend/user00", "/metrics", "/openapi.json",
                 "/api/methods"):
        missing = rec_service.get(path, key=None)
        assert missing.status_code == 401, path
        assert "X-API-Key" in missing.json()["error"]["message"]
        assert rec_service.get(path, key="wrong-key").status_code == 401, path
    bearer = httpx.get(rec_service.root + "/api/methods", headers={"Authorization": f"Bearer {KEY}"})
    assert bearer.status_code == 200
    assert rec_service.post("/api/feedback", {"user_id": "user00", "item_id": "HA000", "kind": "click"},
                        key=None).status_code == 401


def test_unknown_ids_are_404_and_traversal_never_reads_a_file(rec_service: RecService) -> None:
    for path in ("/api/users/nobody", "/api/recommend/nobody"):
        response = rec_service.get(path)
        assert response.status_code == 404
        assert response.json()["error"]["message"] == "unknown user 'nobody'"
    explain = rec_service.post("/api/explain", {"user_id": "user00", "item_id": "NOPE"})
    assert explain.status_code == 404 and explain.json()["error"]["param"] == "item_id"
    for path in ("/api/users/..%2F..%2Fbundle.yaml", "/api/users/%2e%2e", "/api/recommend/..%2Fmanifest.json",
                 "/explorer/..%2F..%2Fbundle%2Fmanifest.json", "/explorer/explorer.py", "/explorer/%2e%2e%2fapp.py",
                 "/api/users/....//....//etc/passwd"):
        response = rec_service.get(path)
        assert response.status_code == 404, path
        assert "sha256" not in response.text and "root:" not in response.text and "scorer" not in response.text
    feedback = rec_service.post("/api/feedback", {"user_id": "../../etc/passwd", "item_id": "HA000", "kind": "click"})
    assert feedback.status_code == 404


def test_malformed_requests_are_422_with_a_clear_message(rec_service: RecService) -> None:
    cases = [
        ({"user_id": "user00"}, "item_id"),
        ({"user_id": "user00", "item_id": "HA000", "kind": "stare"}, "kind"),
        ({"user_id": "user00", "item_id": "HA000", "kind": "rating", "value": 9}, "value"),
        ({"user_id": "user00", "item_id": "HA000", "kind": "click", "admin": True}, "admin"),
        ({"user_id": "", "item_id": "HA000", "kind": "click"}, "user_id"),
        ({"user_id": "user00", "item_id": "HA000", "kind": "rating"}, "value"),
    ]
    for body, param in cases:
        response = rec_service.post("/api/feedback", body)
        assert response.status_code == 422, body
        assert param in response.json()["error"]["message"], response.json()
    raw = httpx.post(rec_service.root + "/api/explain", content=b"{not json", timeout=30,
                     headers={"X-API-Key": KEY, "Content-Type": "application/json"})
    assert raw.status_code == 422 and "not valid JSON" in raw.json()["error"]["message"]
    assert rec_service.get("/api/recommend/user00", n=0).status_code == 422
    assert rec_service.get("/api/recommend/user00", n=51).status_code == 422
    assert rec_service.get("/api/recommend/user00", method="magic").status_code == 422
    too_big = rec_service.post("/api/feedback", {"user_id": "u" * 100_000, "item_id": "x", "kind": "click"})
    assert too_big.status_code == 413


def test_recommendations_exclude_history_and_carry_explanations(rec_service: RecService) -> None:
    history = rec_service.get("/api/users/user00").json()
    seen = {row["item_id"] for row in history["history"]}
    assert history["interactions"] == len(seen) and history["history"][0]["title"]
    response = rec_service.get("/api/recommend/user00", n=3, explain="true")
    assert response.status_code == 200, response.text
    data = response.json()
    items = data["items"]
    assert [i["rank"] for i in items] == [1, 2, 3] and data["method"] == "llm" and data["generator"] == "bpr"
    assert not {i["item_id"] for i in items} & seen
    p_like = [i["p_like"] for i in items]
    assert all(0 <= p <= 1 for p in p_like) and p_like == sorted(p_like, reverse=True)
    assert items[0]["explanation"] and items[1]["explanation"] is None  # explain_top=1
    assert items[0]["title"].split()[0] in ("Silkroot", "Dewlab", "Maison")
    cf = rec_service.get("/api/recommend/user00", n=3, method="cf").json()
    assert cf["method"] == "cf" and [i["generator_rank"] for i in cf["items"]] == [1, 2, 3]
    hybrid = rec_service.get("/api/recommend/user00", n=3, method="hybrid").json()  # P(like) from the cache
    assert hybrid["method"] == "hybrid" and all(
        abs(i["score"] - (0.5 * i["p_like"] + 0.5 * (1 - (i["generator_rank"] - 1) / 4))) < 1e-9 for i in hybrid["items"])
    explained = rec_service.post("/api/explain", {"user_id": "user00", "item_id": items[0]["item_id"]}).json()
    assert explained["explanation"] == items[0]["explanation"]  # the same prompt, answered from the LLM cache


def test_a_request_larger_than_the_queue_is_503_with_retry_after(rec_service: RecService) -> None:
    response = rec_service.get("/api/recommend/user01", n=10)  # 10 candidates > max_queue=8
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert "busy" in response.json()["error"]["message"]
    assert rec_service.get("/health/ready", key=None).status_code == 200


def test_feedback_and_ratings_are_persisted(rec_service: RecService) -> None:
    stored = rec_service.post("/api/feedback", {"user_id": "user02", "item_id": "SK001", "kind": "rating", "value": 4})
    assert stored.status_code == 201
    rating = {"annotator": "ann", "user_id": "user02", "item_id": "SK001", "method": "llm", "persuasiveness": 4,
              "transparency": 3, "accuracy": 5, "satisfaction": 2, "comment": "names the serum"}
    assert rec_service.post("/api/annotations", rating).status_code == 201
    assert rec_service.post("/api/annotations", {**rating, "accuracy": 1}).status_code == 201  # replaces
    listed = rec_service.get("/api/annotations", user_id="user02", annotator="ann").json()["annotations"]
    assert len(listed) == 1 and listed[0]["accuracy"] == 1
    with sqlite3.connect(f"file:{rec_service.feedback_db}?mode=ro", uri=True) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        rows = conn.execute("SELECT user_id, item_id, kind, value FROM feedback WHERE user_id='user02'").fetchall()
    assert rows == [("user02", "SK001", "rating", 4.0)]


def test_metrics_openapi_and_docs(rec_service: RecService) -> None:
    rec_service.get("/api/users")
    text = rec_service.get("/metrics").text
    assert 'reasonrec_http_requests_total{route="/api/users",status="200"}' in text
    assert "reasonrec_score_batches_total" in text and "reasonrec_queued_jobs" in text
    spec = rec_service.get("/openapi.json").json()
    assert {"/api/recommend/{user_id}", "/api/explain", "/api/feedback", "/api/users/{user_id}",
            "/health/ready"} <= set(spec["paths"])
    docs = rec_service.get("/docs", key=None)
    assert docs.status_code == 200 and "default-src 'self'" in docs.headers["Content-Security-Policy"]
    for page in (docs.text, rec_service.get("/explorer/", key=None).text):
        assert "http://" not in page and "https://" not in page  # no external assets
