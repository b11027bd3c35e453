"""Plain HTTP beside the WebSocket API: the web page's committed assets, ``/metrics``,
``/healthz`` and ``/readyz`` (docs/web.md), and the door every request to a gateway
listener passes first.

Served through websockets' ``process_request`` hook, so it lives on the gateway's own event
loop: a request that is no WebSocket upgrade is answered here and the connection closed;
an upgrade goes on to the gateway once its ``Origin`` may connect. The assets are read
once, at start, from ``server/web/static`` (committed files: nothing is built or downloaded
at run time).

Guarantees: every answer carries a strict Content-Security-Policy (scripts, styles and
connections from this origin only, no inline script, no framing); only GET and HEAD are
served (HEAD: GET's status and headers, no body), any other method, an upgrade's too,
being answered 405 with ``Allow: GET, HEAD``; a path outside the asset table is 404, so nothing
on disk but the assets is reachable; an endpoint that fails answers 500 or 503 with one
line, never a traceback; ``/metrics`` and ``/readyz`` make at most one supervisor call at a
time, however many requests come, and their answer (a refusal too) serves every request for
``[web] metrics_cache_ms`` after it came. ``Door`` says what else every listener refuses
(another site's WebSocket, a Host the listener is not).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import time
from collections.abc import Awaitable, Callable, Iterable
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import structlog
from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from actors.runtime.options import is_loopback
from model.config import WebSection, web_origin
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
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})  # what a browser on the machine may call a loopback listener

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
    """An answer with its content's headers; the security headers are the door's
    ``process_response``, for every answer alike."""
    headers = Headers()
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


def host_name(header: str) -> str | None:
    """The host a ``Host`` header names: lower case, without its port, an IPv6 address's
    brackets or the one trailing dot of a fully qualified name (``localhost.`` is
    ``localhost``); None when it names none."""
    origin = web_origin("http://" + header.strip())  # host[:port], nothing more
    name = None if origin is None else urlsplit(origin).hostname
    if name and name.endswith(".") and not name.endswith(".."):
        name = name[:-1] or None
    return name


def is_wildcard(host: str) -> bool:
    """Whether ``host`` binds every address of the machine (``0.0.0.0``, ``::``)."""
    try:
        return not host or ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


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


class Door:
    """What every request to one gateway listener passes first (docs/web.md, "Who may
    connect"): its method, a plain request's ``Host``, a WebSocket upgrade's ``Origin``.
    ``web`` answers the plain requests that pass, on the listener that serves the page
    (none: ``426``, this port takes WebSockets only).

    The listener answers to the names of ``host`` (the one it was bound to), of the address a
    connection reached, of loopback when bound there (``localhost``, ``127.0.0.1``, ``::1``)
    and of the ``allowed_origins``; bound to every address (``0.0.0.0``, ``::``) it cannot
    tell them, and answers to any. Its own origin, for a request, is ``scheme://`` and the
    request's ``Host`` when the listener answers to that Host: the page it served, as the
    browser reached it (a port forwarded to it included).

    Guarantees: a method but GET and HEAD is 405 (HEAD is never an upgrade); an upgrade that
    carries an ``Origin`` goes through only when that is the listener's own origin or one of
    ``allowed_origins``, else 403 — a browser always sends one, so no other site's page opens
    a socket here; an upgrade without ``Origin`` (the Python client, the CLI, any program)
    goes through; a plain request whose ``Host`` the listener does not answer to is 421 (no
    one ``Host``: 400), so a name rebound to this address (DNS rebinding) reads nothing.
    Every refusal carries the security headers and asks the supervisor nothing — websockets'
    own too (an upgrade it finds malformed: ``process_response``); no answer names the
    server's software (no ``Server`` header)."""

    def __init__(self, host: str, tls: bool, allowed_origins: Iterable[str], web: WebServer | None) -> None:
        self.scheme = "https" if tls else "http"
        self.allowed = frozenset(origin for origin in map(web_origin, allowed_origins) if origin is not None)
        names = {host.strip("[]").lower()} | {host_name(origin.split("://", 1)[1]) or "" for origin in self.allowed}
        if is_loopback(host.strip("[]")):
            names |= LOOPBACK_NAMES
        self.names: frozenset[str] | None = None if is_wildcard(host) else frozenset(names - {""})
        self.web = web

    def answers_to(self, host: str | None, address: str) -> bool:
        """Whether ``host`` (a ``Host`` header's name) is one this listener answers to;
        ``address``: the one the connection reached."""
        if host is None:
            return False
        return self.names is None or host in self.names or host == address.lower()

    def origin_refused(self, headers: Headers, address: str) -> str | None:
        """Why an upgrade with these headers is refused (its ``Origin`` as sent), or None."""
        origins = headers.get_all("Origin")
        if not origins:
            return None
        origin = web_origin(origins[0]) if len(origins) == 1 else None
        if origin is not None and origin in self.allowed:
            return None
        hosts = headers.get_all("Host")
        if origin is not None and len(hosts) == 1 and self.answers_to(host_name(hosts[0]), address):
            if origin == web_origin(f"{self.scheme}://{hosts[0].strip()}"):
                return None
        return ", ".join(origins)[:200]

    async def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """websockets' hook: ``None`` lets a WebSocket upgrade through; anything else is
        answered (to HEAD, without its body)."""
        answer = await self._process(connection, request)
        return headers_only(answer) if answer is not None and request.method == "HEAD" else answer

    @staticmethod
    def process_response(connection: ServerConnection, request: Request, answer: Response) -> None:
        """websockets' hook on every handshake answer: every one but a 101 gets the security
        headers — the door's and the page's, and a refusal websockets made itself (an upgrade
        without a valid key or version: 400, 426)."""
        if answer.status_code != HTTPStatus.SWITCHING_PROTOCOLS:
            headers = answer.headers
            for name, value in SECURITY_HEADERS:
                headers[name] = value

    async def _process(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.method not in METHODS:
            return not_allowed()
        address = str(connection.local_address[0]) if connection.local_address else ""
        if request.method == "GET" and is_upgrade(request):
            origin = self.origin_refused(request.headers, address)
            if origin is None:
                return None
            log.info("upgrade refused", origin=origin, address=str(connection.remote_address[0]) if connection.remote_address else "")
            return _text(HTTPStatus.FORBIDDEN, "forbidden: this origin may not open a WebSocket here\n")
        hosts = request.headers.get_all("Host")
        if len(hosts) != 1:
            return _text(HTTPStatus.BAD_REQUEST, "bad request: one Host header\n")
        if not self.answers_to(host_name(hosts[0]), address):
            return _text(HTTPStatus.MISDIRECTED_REQUEST, "misdirected request: not a name of this server\n")
        if self.web is None:
            refusal = _text(HTTPStatus.UPGRADE_REQUIRED, "upgrade required: this port takes WebSocket connections only\n")
            refusal.headers["Upgrade"] = "websocket"
            return refusal
        return await self.web.answer(request.path.split("?", 1)[0])


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

    async def answer(self, path: str) -> Response:
        """The answer to a plain request for ``path`` that passed the ``Door``."""
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
