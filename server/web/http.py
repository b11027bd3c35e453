"""Plain HTTP beside the WebSocket API: the web page's committed assets, ``/metrics``,
``/healthz`` and ``/readyz`` (docs/web.md).

Served through websockets' ``process_request`` hook, so it lives on the gateway's own event
loop: a request that is no WebSocket upgrade is answered here and the connection closed;
an upgrade goes on to the gateway. The assets are read once, at start, from
``server/web/static`` (committed files: nothing is built or downloaded at run time).

Guarantees: every answer carries a strict Content-Security-Policy (scripts, styles and
connections from this origin only, no inline script, no framing); only GET and HEAD are
served (HEAD: GET's status and headers, no body) and only GET upgrades, any other method
being answered 405 with ``Allow: GET, HEAD``; a path outside the asset table is 404, so nothing
on disk but the assets is reachable; an endpoint that fails answers 500 or 503 with one
line, never a traceback; ``/metrics`` and ``/readyz`` make at most one supervisor call at a
time, however many requests come, and their answer (a refusal too) serves every request for
``[web] metrics_cache_ms`` after it came.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from pathlib import Path
from typing import Any

import structlog
from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from model.config import WebSection
from server.web.metrics import CONTENT_TYPE, render

log = structlog.get_logger("web")

STATIC = Path(__file__).resolve().parent / "static"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
# No inline script or style, no eval, nothing from another origin; the page's WebSocket goes to
# this origin ('self' covers ws:// and wss:// of the same host and port, CSP Level 3).
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cache-Control", "no-store"),
)

METHODS = ("GET", "HEAD")

Status = Callable[[], Awaitable[dict[str, Any]]]
Answer = tuple[HTTPStatus, bytes, str]  # status, body, Content-Type


def load_assets(folder: Path = STATIC) -> dict[str, tuple[bytes, str]]:
    """Every file under ``folder`` by URL path (``/`` is ``index.html``), with its type."""
    assets: dict[str, tuple[bytes, str]] = {}
    for path in sorted(folder.rglob("*")):
        kind = TYPES.get(path.suffix)
        if path.is_file() and kind is not None:
            assets["/" + path.relative_to(folder).as_posix()] = (path.read_bytes(), kind)
    if "/index.html" in assets:
        assets["/"] = assets["/index.html"]
    return assets


def response(status: HTTPStatus, body: bytes, content_type: str) -> Response:
    headers = Headers(SECURITY_HEADERS)
    headers["Content-Type"] = content_type
    headers["Content-Length"] = str(len(body))
    headers["Connection"] = "close"
    return Response(status.value, status.phrase, headers, body)


def _line(status: HTTPStatus, text: str) -> Answer:
    return status, text.encode(), "text/plain; charset=utf-8"


def _text(status: HTTPStatus, text: str) -> Response:
    return response(*_line(status, text))


def headers_only(answer: Response) -> Response:
    """The answer to HEAD: GET's status and headers (its Content-Length too), no body."""
    return Response(answer.status_code, answer.reason_phrase, answer.headers, b"")


def not_allowed() -> Response:
    answer = _text(HTTPStatus.METHOD_NOT_ALLOWED, "method not allowed: GET or HEAD\n")
    answer.headers["Allow"] = ", ".join(METHODS)
    return answer


def is_upgrade(request: Request) -> bool:
    return "websocket" in request.headers.get("Upgrade", "").lower()


class Kept:
    """An endpoint's answer that costs a supervisor call, shared: every request that comes
    while the call is made awaits that same call, and its answer (a refusal too) is kept
    ``keep_s`` after it came.

    Guarantees: at most one call in flight at a time, and none while a kept answer is younger
    than ``keep_s``; a request that goes away (its connection closed) leaves the call the
    others await running. ``make`` answers every failure itself (it never raises)."""

    def __init__(self, make: Callable[[], Awaitable[Answer]], keep_s: float) -> None:
        self.make = make
        self.keep_s = keep_s
        self.kept: tuple[float, Answer] | None = None  # the last answer and when it came (monotonic s)
        self.making: asyncio.Future[Answer] | None = None

    async def get(self) -> Answer:
        kept = self.kept
        if kept is not None and time.monotonic() - kept[0] < self.keep_s:
            return kept[1]
        if self.making is None:
            self.making = asyncio.ensure_future(self._make())
        return await asyncio.shield(self.making)

    async def _make(self) -> Answer:
        try:
            answer = await self.make()
            self.kept = (time.monotonic(), answer)
            return answer
        finally:
            self.making = None


class WebServer:
    """Answers the plain HTTP requests of one listener. ``metrics`` and ``readiness`` ask
    the supervisor (``metrics_all``, ``readiness``), through a ``Kept`` each: a burst of
    requests costs one call, and an answer serves ``[web] metrics_cache_ms``."""

    def __init__(self, config: WebSection, metrics: Status | None, readiness: Status | None) -> None:
        self.config = config
        self.metrics = metrics
        self.readiness = readiness
        self.assets = load_assets()
        keep_s = config.metrics_cache_ms / 1000
        self.kept_ready = Kept(self._ready, keep_s)
        self.kept_metrics = Kept(self._metrics, keep_s)

    async def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """websockets' hook: ``None`` lets a WebSocket upgrade (GET) through; anything else is
        answered, a method but GET and HEAD with 405."""
        if request.method not in METHODS:
            return not_allowed()
        if request.method == "GET" and is_upgrade(request):
            return None
        answer = await self._answer(request.path.split("?", 1)[0])
        return answer if request.method == "GET" else headers_only(answer)

    async def _answer(self, path: str) -> Response:
        if path == "/healthz":
            return _text(HTTPStatus.OK, "ok\n")
        if path == "/readyz":
            return response(*await self.kept_ready.get())
        if path == "/metrics":
            return response(*await self.kept_metrics.get())
        asset = self.assets.get(path)
        if asset is None:
            return _text(HTTPStatus.NOT_FOUND, "not found\n")
        return response(HTTPStatus.OK, *asset)

    async def _ask(self, status: Status | None) -> dict[str, Any]:
        if status is None:
            raise LookupError("this gateway has no supervisor to ask")
        return await asyncio.wait_for(status(), self.config.status_timeout_ms / 1000)

    async def _ready(self) -> Answer:
        try:
            answer = await self._ask(self.readiness)
        except TimeoutError:
            return _line(HTTPStatus.SERVICE_UNAVAILABLE, "not ready: the supervisor did not answer in time\n")
        except Exception as failure:  # the supervisor gone or restarting: not ready, said in one line
            return _line(HTTPStatus.SERVICE_UNAVAILABLE, f"not ready: {type(failure).__name__}\n")
        if answer.get("ready"):
            return _line(HTTPStatus.OK, "ready\n")
        return _line(HTTPStatus.SERVICE_UNAVAILABLE, "not ready: " + json.dumps(answer.get("not_ready", {}), sort_keys=True) + "\n")

    async def _metrics(self) -> Answer:
        try:
            status = await self._ask(self.metrics)
        except Exception as failure:  # one line for the scraper; the page and the API carry on
            log.warning("metrics: the supervisor did not answer", error=type(failure).__name__)
            return _line(HTTPStatus.SERVICE_UNAVAILABLE, f"metrics unavailable: {type(failure).__name__}\n")
        return HTTPStatus.OK, render(status).encode(), CONTENT_TYPE
