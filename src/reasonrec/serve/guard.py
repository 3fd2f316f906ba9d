"""What every reasonrec HTTP app puts in front of its routes: the API key and the body-size guard (ASGI
middleware, before anything parses a request), and one error body for every refusal.

Both the OpenAI-compatible model server and the recommendation service use these, so auth, size limits and error
shapes cannot drift apart. A key may be sent as `Authorization: Bearer <key>` (what OpenAI clients send) and, where
an app accepts it, as `X-API-Key: <key>`; keys are compared in constant time.
"""

from __future__ import annotations

import hmac
from collections.abc import Collection

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reasonrec.serve.engine import internal_error
from reasonrec.serve.schema import APIError

BEARER = "authorization"
X_API_KEY = "x-api-key"
KEY_HINTS = {BEARER: "'Authorization: Bearer <key>'", X_API_KEY: "'X-API-Key: <key>'"}


class Guard:
    """ASGI middleware: the API key, then the body size, before anything parses the request. A body over the
    limit is refused by its Content-Length unread, or as soon as the bytes read pass the limit.

    `open_paths` (exact) and paths under `open_prefixes` need no key: health checks, static pages that hold no
    data."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        api_key: str | None,
        max_body_bytes: int,
        open_paths: Collection[str] = (),
        open_prefixes: tuple[str, ...] = (),
        key_headers: tuple[str, ...] = (BEARER,),
    ) -> None:
        self.app = app
        self.api_key = api_key
        self.max_body_bytes = max_body_bytes
        self.open_paths = frozenset(open_paths)
        self.open_prefixes = open_prefixes
        self.key_headers = key_headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refuse_early(scope)
        if refusal is None:
            body, refusal = await self._read_body(receive)
        if refusal is not None:
            await refusal.response()(scope, receive, send)
            return
        replayed = started = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # after the body: disconnects still reach the app
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, replay, tracked_send)
        except Exception as exc:  # noqa: BLE001 - a bug: logged once under a reference, never sent
            error = internal_error(f"{type(exc).__name__} on {scope['method']} {scope['path']}: {exc}", exc)
            if not started:
                await error.response()(scope, receive, send)

    def is_open(self, path: str) -> bool:
        return path in self.open_paths or path.startswith(self.open_prefixes)

    def _key_sent(self, headers: dict[str, str]) -> str | None:
        for header in self.key_headers:
            value = headers.get(header)
            if value is None:
                continue
            if header == BEARER:
                scheme, _, token = value.partition(" ")
                if scheme.lower() == "bearer":
                    return token.strip()
            else:
                return value.strip()
        return None

    def _refuse_early(self, scope: Scope) -> APIError | None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if self.api_key is not None and not self.is_open(scope["path"]):
            sent = self._key_sent(headers)
            if sent is None or not hmac.compare_digest(sent.encode(), self.api_key.encode()):
                hint = " or ".join(KEY_HINTS[h] for h in self.key_headers)
                return APIError(
                    401,
                    f"missing or invalid API key (send {hint})",
                    type="authentication_error",
                    code="invalid_api_key",
                )
        length = headers.get("content-length")
        if length is not None:
            if not length.strip().isdigit():
                return APIError(400, "Content-Length is not a number")
            if int(length) > self.max_body_bytes:
                return self._too_large(int(length))
        return None

    async def _read_body(self, receive: Receive) -> tuple[bytes, APIError | None]:
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks), None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return b"", self._too_large(size, at_least=True)
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), None

    def _too_large(self, size: int, *, at_least: bool = False) -> APIError:
        return APIError(
            413,
            f"the request body is {'over ' if at_least else ''}{size} bytes; this server accepts "
            f"at most {self.max_body_bytes} (max_body_bytes)",
            code="request_too_large",
        )


def validation_error(exc: RequestValidationError, status: int) -> APIError:
    """One clear message for a body or parameter that failed validation (the first five problems)."""
    parts, first_param = [], None
    for err in exc.errors()[:5]:
        if err.get("type") == "json_invalid":
            detail = (err.get("ctx") or {}).get("error", "")
            return APIError(status, f"request body is not valid JSON: {detail}".rstrip(": "))
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        param = ".".join(loc[1:] if loc and loc[0] in ("query", "path") else loc) or None
        first_param = first_param or param
        if err.get("type") == "extra_forbidden":
            parts.append(f"unknown parameter {param!r} (not implemented by this server)")
        elif param is None and err.get("type") in ("model_attributes_type", "dict_type"):
            parts.append("the body must be a JSON object sent with Content-Type: application/json")
        else:
            parts.append(f"{param or 'body'}: {err.get('msg', 'invalid')}")
    return APIError(status, "invalid request: " + "; ".join(parts), param=first_param)


def install_error_handlers(app: FastAPI, *, validation_status: int) -> None:
    """Every refusal as `{"error": {...}}`; validation failures with `validation_status` (OpenAI: 400)."""

    @app.exception_handler(APIError)
    async def _api_error(_: Request, exc: APIError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_error(exc, validation_status).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
        return APIError(exc.status_code, str(exc.detail), type=kind).response()


__all__ = ["BEARER", "X_API_KEY", "Guard", "install_error_handlers", "validation_error"]
