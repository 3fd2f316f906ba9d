"""The FastAPI app of `reasonrec serve BUNDLE`: recommendations with explanations, feedback, human ratings of
explanations, and the web explorer, in front of one model bundle.

Routes (all JSON; errors are `{"error": {"message", "type", "param", "code"}}`):
- `GET /api/recommend/{user_id}?n=&explain=&method=`  top-n with P(like), explanation, evidence, grounding;
- `POST /api/explain {user_id, item_id}`               the student's explanation of one pair;
- `POST /api/feedback {user_id, item_id, kind, value}` stored in SQLite (WAL, synchronous=FULL);
- `GET /api/users`, `GET /api/users/{user_id}`         user ids (paged), one user's history with ratings;
- `GET /api/methods`; `POST|GET /api/annotations`      the explorer's comparison and human-rating form;
- `GET /health/live`, `GET /health/ready`, `GET /metrics` (Prometheus text), `GET /openapi.json`;
- `GET /docs` (API reference rendered from /openapi.json by a local script) and `GET /explorer/`.

Order of checks: API key (401; `X-API-Key` or `Authorization: Bearer`, except the health checks and the static
pages, which hold no data) → body size (413) → validation (422) → unknown user/item (404) → the bounded model
queue (503 + Retry-After). Ids only ever index in-memory tables and static assets come from a fixed table, so no
request can make the service read a file. LLM work runs on the model worker (`WorkerLLM`), where requests that
arrive together share batched forward passes, behind the SQLite LLM cache.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl
from fastapi import FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse

from reasonrec.bundle import Bundle
from reasonrec.llm.base import LLMUnavailable
from reasonrec.llm.cache import CachedLLM, LLMCache
from reasonrec.recommend import RecommendConfig, Recommender, as_records
from reasonrec.serve.batching import WorkerLLM
from reasonrec.serve.config import RecommendServeConfig
from reasonrec.serve.feedback import Annotation, FeedbackStore
from reasonrec.serve.guard import BEARER, X_API_KEY, Guard, install_error_handlers
from reasonrec.serve.metrics import RequestMetrics, metrics_text
from reasonrec.serve.recommend_schema import AnnotationBody, ExplainBody, FeedbackBody
from reasonrec.serve.schema import APIError
from reasonrec.serve.worker import ModelWorker, ServableLLM

log = logging.getLogger("reasonrec.serve")
OPEN_PATHS = ("/health/live", "/health/ready", "/docs", "/docs.js", "/")
OPEN_PREFIXES = ("/explorer/",)
STATIC_FILES = {  # URL name → (package file, content type): the only files the app ever serves
    "index.html": ("explorer.html", "text/html; charset=utf-8"),
    "explorer.js": ("explorer.js", "text/javascript; charset=utf-8"),
    "explorer.css": ("explorer.css", "text/css; charset=utf-8"),
    "docs.html": ("docs.html", "text/html; charset=utf-8"),
    "docs.js": ("docs.js", "text/javascript; charset=utf-8"),
}
FIXED_PAGES = {"/explorer/": "index.html", "/docs": "docs.html", "/docs.js": "docs.js"}
"""Paths that always serve one of STATIC_FILES (other explorer assets are served under /explorer/<name>)."""
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
MAX_HISTORY = 200


def default_feedback_db(bundle_root: Path) -> Path:
    return bundle_root.parent / f"{bundle_root.name}.feedback.sqlite"


def _static_assets() -> dict[str, tuple[bytes, str]]:
    folder = resources.files("reasonrec.serve") / "static"
    return {name: ((folder / file).read_bytes(), kind) for name, (file, kind) in STATIC_FILES.items()}


class Service:
    """Everything a request handler needs, built in the app's lifespan."""

    def __init__(self, bundle: Bundle, backend: ServableLLM | None, config: RecommendServeConfig) -> None:
        self.bundle = bundle
        self.config = config
        self.worker = ModelWorker(backend, config.limits) if backend is not None else None
        llm = None
        if backend is not None and self.worker is not None:
            cache = LLMCache(config.llm_cache or bundle.llm_config().resolved_cache_path())
            llm = CachedLLM(WorkerLLM(backend, self.worker, config.limits), cache, batch_size=10_000)
        self.recommender = Recommender(bundle, llm)
        self.store = FeedbackStore(config.feedback_db or default_feedback_db(bundle.root))
        self.metrics = RequestMetrics()
        self.model_name = backend.identity.model if backend is not None else "none"

    def close(self) -> None:
        if self.worker is not None:
            self.worker.close()
        self.store.close()

    def user(self, user_id: str) -> str:
        if not self.recommender.knows(user_id):
            raise APIError(404, f"unknown user {user_id!r}", type="not_found_error", param="user_id",
                           code="user_not_found")
        return user_id

    def item(self, item_id: str) -> str:
        if not self.recommender.has_item(item_id):
            raise APIError(404, f"unknown item {item_id!r}", type="not_found_error", param="item_id",
                           code="item_not_found")
        return item_id

    def method(self, method: str | None) -> str:
        name = method or self.bundle.config.scorer
        if name not in self.recommender.scorers():
            raise APIError(422, f"unknown method {name!r}; this service offers {self.recommender.scorers()}",
                           param="method")
        return name


def create_recommend_app(bundle: Bundle, backend: ServableLLM | None, config: RecommendServeConfig,
                         api_key: str | None = None) -> FastAPI:
    """The service for `bundle`; `backend` is the loaded student (None: a CF-only bundle, no explanations)."""
    assets = _static_assets()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.service = Service(bundle, backend, config)
        try:
            yield
        finally:
            app.state.service.close()

    app = FastAPI(title=f"reasonrec recommendations — {bundle.config.name}", lifespan=lifespan, docs_url=None,
                  redoc_url=None, description="Recommendations that say why. Send the key as X-API-Key.")
    app.add_middleware(Guard, api_key=api_key or None, max_body_bytes=config.limits.max_body_bytes,
                       open_paths=OPEN_PATHS, open_prefixes=OPEN_PREFIXES, key_headers=(X_API_KEY, BEARER))
    install_error_handlers(app, validation_status=422)

    @app.exception_handler(LLMUnavailable)
    async def _busy(_: Request, exc: LLMUnavailable) -> JSONResponse:
        return APIError(503, str(exc), type="server_error", code="busy",
                        headers={"Retry-After": str(exc.retry_after_s)}).response()

    @app.middleware("http")
    async def _observe(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        service = getattr(request.app.state, "service", None)
        if service is not None:
            service.metrics.observe(route, response.status_code, time.perf_counter() - started)
        return response

    _pages(app, assets)
    _health_routes(app)
    _data_routes(app)
    _feedback_routes(app)
    return app


def _service(request: Request) -> Service:
    return request.app.state.service


def _pages(app: FastAPI, assets: dict[str, tuple[bytes, str]]) -> None:
    def page(name: str) -> Response:
        body, kind = assets[name]
        return Response(body, media_type=kind, headers=PAGE_HEADERS)

    def fixed(name: str) -> Callable[[], Response]:
        return lambda: page(name)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/explorer/")

    for path, name in FIXED_PAGES.items():
        app.add_api_route(path, fixed(name), methods=["GET"], include_in_schema=False)

    @app.get("/explorer/{name}", include_in_schema=False)
    def explorer_asset(name: str) -> Response:
        if name not in assets or name == "index.html":
            raise APIError(404, "not found", type="not_found_error")
        return page(name)


def _health_routes(app: FastAPI) -> None:
    @app.get("/health/live", tags=["health"])
    def live() -> dict:
        """The process answers."""
        return {"status": "alive"}

    @app.get("/health/ready", tags=["health"])
    def ready(request: Request) -> JSONResponse:
        """The bundle is loaded, the model worker runs and the feedback store answers (else 503)."""
        service = getattr(request.app.state, "service", None)
        checks = {
            "bundle": service is not None,
            "model_worker": service is not None and (service.worker is None or service.worker.alive()),
            "feedback_store": service is not None and service.store.ping(),
        }
        ok = all(checks.values())
        body: dict[str, Any] = {"status": "ready" if ok else "not_ready", "checks": checks}
        if service is not None:
            body |= {"bundle": bundle_summary(service)}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", response_class=PlainTextResponse, tags=["health"])
    def metrics(request: Request) -> str:
        """Prometheus text: model worker queue and counters, requests and latency per route."""
        service = _service(request)
        worker = service.worker.stats() if service.worker is not None else None
        text = metrics_text(worker, service.model_name) if worker is not None else ""
        return text + service.metrics.text()


def bundle_summary(service: Service) -> dict[str, Any]:
    b = service.bundle
    return {"name": b.config.name, "dataset": b.config.dataset, "generator": b.cf.generator,
            "default_method": b.config.scorer, "methods": service.recommender.scorers(),
            "users": len(service.recommender.users()), "items": b.items.height,
            "explain": service.recommender.llm is not None, "explain_top": service.config.explain_top,
            "max_list": service.config.max_list}


def _data_routes(app: FastAPI) -> None:
    @app.get("/api/methods", tags=["recommend"])
    def methods(request: Request) -> dict:
        """What this bundle serves: the methods (scorers) a list can be ranked by, and the limits."""
        return bundle_summary(_service(request))

    @app.get("/api/users", tags=["users"])
    def users(request: Request, offset: int = Query(0, ge=0), limit: int = Query(50, ge=1, le=200),
              q: str | None = Query(None, max_length=200, description="substring of the user id")) -> dict:
        """User ids (sorted), paged."""
        ids = _service(request).recommender.users()
        if q:
            ids = [u for u in ids if q in u]
        return {"total": len(ids), "offset": offset, "users": ids[offset:offset + limit]}

    @app.get("/api/users/{user_id}", tags=["users"])
    def user(request: Request, user_id: str, limit: int = Query(50, ge=1, le=MAX_HISTORY)) -> dict:
        """One user's history with ratings, newest first."""
        service = _service(request)
        history = service.recommender.history(service.user(user_id))
        threshold = service.bundle.config.like_threshold
        rows = [{"item_id": i, "title": service.recommender.title(i), "rating": r, "timestamp": t,
                 "liked": None if r is None else r > threshold}
                for i, r, t in zip(history.item_ids, history.ratings, history.timestamps, strict=True)]
        return {"user_id": user_id, "interactions": len(rows), "history": rows[::-1][:limit]}

    @app.get("/api/recommend/{user_id}", tags=["recommend"])
    def recommend(request: Request, user_id: str, n: int = Query(10, ge=1, le=100),
                  explain: bool = Query(False, description="explain the top explain_top items"),
                  method: str | None = Query(None, max_length=64, description="a method of /api/methods")) -> dict:
        """Top-n items for the user, excluding everything they interacted with, with P(like) and reasons."""
        service = _service(request)
        service.user(user_id)
        scorer = service.method(method)
        if n > service.config.max_list:
            raise APIError(422, f"n={n} exceeds this service's maximum of {service.config.max_list}", param="n")
        if explain and service.recommender.llm is None:
            raise APIError(422, "this bundle has no model to explain with", param="explain")
        config = RecommendConfig(n=n, n_candidates=max(n, service.config.n_candidates), explain=explain,
                                 explain_top=min(n, service.config.explain_top), scorer=scorer)
        table = service.recommender.recommend([user_id], config)
        return {"user_id": user_id, "method": scorer, "generator": service.bundle.cf.generator,
                "items": [_item(r) for r in as_records(table)]}

    @app.post("/api/explain", tags=["recommend"])
    def explain(request: Request, body: ExplainBody) -> dict:
        """The student's explanation for one (user, item) pair, with its P(like)."""
        service = _service(request)
        service.user(body.user_id)
        service.item(body.item_id)
        if service.recommender.llm is None:
            raise APIError(422, "this bundle has no model to explain with", param="item_id")
        pair = pl.DataFrame({"user_id": [body.user_id], "item_id": [body.item_id]})
        row = as_records(service.recommender.explain(service.recommender.targets(pair)))[0]
        return {"user_id": body.user_id, "item_id": body.item_id, "title": service.recommender.title(body.item_id),
                "p_like": row["p_like"], "explanation": row["explanation"], "evidence": None, "grounding": None,
                "error": row["error"]}


def _item(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "user_id"}


def _feedback_routes(app: FastAPI) -> None:
    @app.post("/api/feedback", status_code=201, tags=["feedback"])
    def feedback(request: Request, body: FeedbackBody) -> dict:
        """Store what the user did with an item (kind 'rating' needs a value 1–5)."""
        service = _service(request)
        service.user(body.user_id)
        service.item(body.item_id)
        if (body.kind == "rating") != (body.value is not None):
            raise APIError(422, "value (1–5) is required for kind 'rating' and only for it", param="value")
        row_id = service.store.add_feedback(body.user_id, body.item_id, body.kind, body.value, body.method)
        return {"id": row_id, "stored": True}

    @app.post("/api/annotations", status_code=201, tags=["annotations"])
    def annotate(request: Request, body: AnnotationBody) -> dict:
        """A person's 1–5 ratings of one explanation (a later rating by the same annotator replaces it)."""
        service = _service(request)
        service.user(body.user_id)
        service.item(body.item_id)
        row_id = service.store.annotate(Annotation(**body.model_dump()))
        return {"id": row_id, "stored": True}

    @app.get("/api/annotations", tags=["annotations"])
    def annotations(request: Request, user_id: str | None = Query(None, max_length=200),
                    annotator: str | None = Query(None, max_length=200),
                    limit: int = Query(200, ge=1, le=1000)) -> dict:
        """Stored ratings, filtered by user and/or annotator."""
        rows = _service(request).store.annotations(user_id=user_id, annotator=annotator, limit=limit)
        return {"annotations": rows}


__all__ = ["Service", "create_recommend_app", "default_feedback_db"]
