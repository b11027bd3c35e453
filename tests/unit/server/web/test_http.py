"""The web listener of a real gateway core on loopback (no Ray): assets, health, readiness,
metrics, and WebSocket upgrades beside them, on the WebSocket port and on a port of its own."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from typing import Any

import msgspec
import pytest
from websockets.asyncio.client import connect
from websockets.datastructures import Headers

from actors.runtime.outbox import Outbox
from actors.runtime.router import Router
from model.config import GatewaySection, WebSection
from server.gateway.auth import signature
from server.gateway.core import Gateway
from server.web.http import CSP, Door, Kept, host_name, load_assets
from tests.conftest import demo_setup


def gateway(web: WebSection, readiness: Any = None, metrics: Any = None) -> Gateway:
    setup = demo_setup()
    config = msgspec.structs.replace(setup.config, web=web)
    setup = msgspec.structs.replace(setup, config=config)
    outbox = Outbox("gateway-0", Router(config), config.batching, lambda name, data: None)
    core = Gateway("gateway-0", setup, outbox)
    core.serve_web(metrics, readiness)
    return core


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


async def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    return await asyncio.to_thread(get, url)


async def raw(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """One request as written, on a socket of its own: status, headers (names lower case), body
    (none read after a 101: the socket is a WebSocket then)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        status, *lines = head.decode().strip().split("\r\n")
        code = int(status.split()[1])
        body = b"" if code == 101 else await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
    headers = {name.lower(): value for name, _, value in (line.partition(": ") for line in lines)}
    return code, headers, body


UPGRADE = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"


async def upgrade(port: int, host: str, origin: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """A WebSocket handshake as a browser sends it (``origin``: its page's; None: as a program)."""
    more = "" if origin is None else f"Origin: {origin}\r\n"
    return await raw(port, f"GET / HTTP/1.1\r\nHost: {host}\r\n{UPGRADE}{more}\r\n".encode())


class Counted:
    """A supervisor status that counts its calls and takes ``seconds``; ``fails``: it raises."""

    def __init__(self, answer: dict[str, Any], seconds: float = 0.2, fails: bool = False) -> None:
        self.answer = answer
        self.seconds = seconds
        self.fails = fails
        self.calls = 0

    async def __call__(self) -> dict[str, Any]:
        self.calls += 1
        await asyncio.sleep(self.seconds)
        if self.fails:
            raise RuntimeError("the supervisor is restarting")
        return self.answer


async def ready() -> dict[str, Any]:
    return {"ready": True, "not_ready": {}}


async def not_ready() -> dict[str, Any]:
    return {"ready": False, "not_ready": {"account-1": "restarting"}}


async def slow() -> dict[str, Any]:
    await asyncio.sleep(5)
    return {"ready": True}


async def statuses() -> dict[str, Any]:
    return {"halted": ["IBM"], "killed": [], "actors": [{"name": "account-0", "orders": 7, "journal_seq": 10, "snapshot_seq": 4, "applied": 3}],
            "histograms": {"account-0": {"commit": {"le_us": [1000], "cumulative": [2, 3], "count": 3, "sum_us": 4500}}}}


async def test_page_health_and_metrics_share_the_websocket_port_and_upgrades_still_log_in() -> None:
    core = gateway(WebSection(), ready, statuses)
    port = await core.start("127.0.0.1", 0)
    try:
        assert core.web_port == port
        status, headers, body = await fetch(f"http://127.0.0.1:{port}/")
        assert status == 200 and b'<script type="module" src="/js/main.js">' in body
        assert headers["Content-Security-Policy"] == CSP and headers["X-Content-Type-Options"] == "nosniff"
        assert (await fetch(f"http://127.0.0.1:{port}/js/main.js"))[1]["Content-Type"].startswith("text/javascript")
        assert (await fetch(f"http://127.0.0.1:{port}/healthz"))[:3:2] == (200, b"ok\n")
        assert (await fetch(f"http://127.0.0.1:{port}/readyz"))[:3:2] == (200, b"ready\n")
        status, headers, body = await fetch(f"http://127.0.0.1:{port}/metrics")
        assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
        assert 'brokerd_journal_lag_records{actor="account-0"} 6' in body.decode()
        assert 'brokerd_commit_latency_seconds_bucket{actor="account-0",le="+Inf"} 3' in body.decode()
        for path in ("/../conf/users.toml", "/static/index.html", "/js/", "/nothing"):
            assert (await fetch(f"http://127.0.0.1:{port}{path}"))[0] == 404, path
        async with connect(f"ws://127.0.0.1:{port}/") as socket:  # the API on the same port, unchanged
            ts = int(time.time() * 1000)
            await socket.send(json.dumps({"op": "login", "id": 1, "key": "trader1", "ts": ts, "nonce": "w1", "sig": signature("trader1-secret", ts, "w1")}))
            assert json.loads(await socket.recv())["ok"] is True
    finally:
        await core.stop()


async def test_a_web_port_of_its_own_and_readiness_refused_in_one_line() -> None:
    core = gateway(WebSection(port=0, status_timeout_ms=200), slow, None)
    port = await core.start("127.0.0.1", 0)
    try:
        assert (await fetch(f"http://127.0.0.1:{port}/readyz"))[:3:2] == (503, b"not ready: the supervisor did not answer in time\n")
        status, _, body = await fetch(f"http://127.0.0.1:{port}/metrics")
        assert status == 503 and body == b"metrics unavailable: LookupError\n"
    finally:
        await core.stop()
    free = await asyncio.get_running_loop().run_in_executor(None, _free_port)
    core = gateway(WebSection(port=free), not_ready, None)
    ws_port = await core.start("127.0.0.1", 0)
    try:
        assert core.web_port == free != ws_port
        status, _, body = await fetch(f"http://127.0.0.1:{free}/readyz")
        assert status == 503 and body == b'not ready: {"account-1": "restarting"}\n'
        assert (await fetch(f"http://127.0.0.1:{ws_port}/"))[0] == 426  # the WebSocket port serves no page then
    finally:
        await core.stop()


async def test_a_burst_of_requests_costs_one_supervisor_call_and_a_refusal_is_kept_too() -> None:
    metrics, readiness = Counted({"actors": [{"name": "account-0", "orders": 1}], "histograms": {}}), Counted({"ready": True})
    core = gateway(WebSection(metrics_cache_ms=5000), readiness, metrics)
    port = await core.start("127.0.0.1", 0)
    try:
        for path, status in (("/metrics", metrics), ("/readyz", readiness)):
            answers = await asyncio.gather(*(raw(port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()) for _ in range(20)))
            assert {answer[0] for answer in answers} == {200} and status.calls == 1, path
            assert (await raw(port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()))[0] == 200 and status.calls == 1, path
    finally:
        await core.stop()
    metrics, readiness = Counted({}, fails=True), Counted({}, fails=True)
    core = gateway(WebSection(metrics_cache_ms=600), readiness, metrics)
    port = await core.start("127.0.0.1", 0)
    try:
        for path, status, body in (("/metrics", metrics, b"metrics unavailable: RuntimeError\n"), ("/readyz", readiness, b"not ready: RuntimeError\n")):
            answers = await asyncio.gather(*(raw(port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()) for _ in range(10)))
            answers.append(await raw(port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()))  # after the call: kept
            assert {(answer[0], answer[2]) for answer in answers} == {(503, body)} and status.calls == 1, path
        await asyncio.sleep(0.7)
        assert (await raw(port, b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))[0] == 503 and metrics.calls == 2  # kept no longer
    finally:
        await core.stop()


async def test_a_request_that_goes_away_leaves_the_shared_call_running() -> None:
    calls = 0
    started = asyncio.Event()

    async def make() -> Any:
        nonlocal calls
        calls += 1
        started.set()
        await asyncio.sleep(0.1)
        return "answer"

    kept = Kept(make, 0)
    first = asyncio.ensure_future(kept.get())
    await started.wait()
    second = asyncio.ensure_future(kept.get())
    first.cancel()
    assert await second == "answer" and calls == 1
    assert kept.making is None and await kept.get() == "answer" and calls == 2  # keep_s 0: a new call once one is done


async def test_only_get_and_head_are_served_and_head_gets_no_body() -> None:
    metrics = Counted({"actors": [], "histograms": {}}, seconds=0)
    core = gateway(WebSection(), ready, metrics)
    port = await core.start("127.0.0.1", 0)
    try:
        for path in ("/", "/metrics", "/nothing"):
            status, headers, body = await raw(port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            head = await raw(port, f"HEAD {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            assert head[0] == status and head[1]["content-length"] == str(len(body)) != "0" and head[2] == b"", path
            assert head[1]["content-type"] == headers["content-type"] and head[1]["content-security-policy"] == CSP, path
        calls = metrics.calls
        for method, path, more in (("POST", "/", "Content-Length: 0\r\n"), ("DELETE", "/metrics", ""), ("OPTIONS", "/", ""), ("PUT", "/readyz", ""),
                                   ("TRACE", "/healthz", ""), ("POST", "/", UPGRADE)):
            status, headers, body = await raw(port, f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{more}\r\n".encode())
            assert (status, headers["allow"], body) == (405, "GET, HEAD", b"method not allowed: GET or HEAD\n"), (method, path)
            assert headers["content-security-policy"] == CSP and headers["cache-control"] == "no-store", (method, path)
        assert metrics.calls == calls  # a refused method asks the supervisor nothing
    finally:
        await core.stop()


async def test_another_sites_page_opens_no_websocket_and_the_pages_own_origin_does() -> None:
    core = gateway(WebSection(), ready, statuses)
    port = await core.start("127.0.0.1", 0)
    try:
        for origin in ("https://evil.example", f"http://evil.example:{port}", f"http://127.0.0.1:{port + 1}", f"https://127.0.0.1:{port}", "null",
                       f"http://127.0.0.1:{port}/page"):
            status, headers, body = await upgrade(port, f"127.0.0.1:{port}", origin)
            assert (status, body) == (403, b"forbidden: this origin may not open a WebSocket here\n"), origin
            assert headers["content-security-policy"] == CSP and headers["x-frame-options"] == "DENY", origin
        assert (await upgrade(port, f"127.0.0.1:{port}", f"http://127.0.0.1:{port}"))[0] == 101  # the page it served
        assert (await upgrade(port, f"localhost:{port}", f"http://localhost:{port}"))[0] == 101  # ... reached as localhost
        assert (await upgrade(port, "forwarded.example:8080"))[0] == 101  # a program sends no Origin: any Host
        assert (await upgrade(port, "evil.example:8080", "http://evil.example:8080"))[0] == 403  # a rebound name's page
        async with connect(f"ws://127.0.0.1:{port}/", origin=f"http://127.0.0.1:{port}") as socket:
            ts = int(time.time() * 1000)
            await socket.send(json.dumps({"op": "login", "id": 1, "key": "trader1", "ts": ts, "nonce": "o1", "sig": signature("trader1-secret", ts, "o1")}))
            assert json.loads(await socket.recv())["ok"] is True
    finally:
        await core.stop()


async def test_websockets_own_refusals_carry_the_security_headers_and_no_answer_names_the_server() -> None:
    core = gateway(WebSection(), ready, statuses)
    port = await core.start("127.0.0.1", 0)
    try:
        host = f"Host: 127.0.0.1:{port}\r\n"
        for broken in (UPGRADE.replace("dGhlIHNhbXBsZSBub25jZQ==", "short"), UPGRADE.replace("Version: 13", "Version: 8"),
                       UPGRADE.replace("Connection: Upgrade\r\n", "")):
            status, headers, body = await raw(port, f"GET / HTTP/1.1\r\n{host}{broken}\r\n".encode())
            assert status in (400, 426) and body.startswith(b"Failed to open a WebSocket connection"), (broken, status, body)
            assert headers["content-security-policy"] == CSP and headers["x-frame-options"] == "DENY", broken
            assert headers["x-content-type-options"] == "nosniff" and headers["cache-control"] == "no-store", broken
            assert "server" not in headers, broken
        status, headers, _ = await upgrade(port, f"127.0.0.1:{port}")
        assert status == 101 and "server" not in headers and "content-security-policy" not in headers
        for request in (f"GET / HTTP/1.1\r\n{host}\r\n", f"GET /nothing HTTP/1.1\r\n{host}\r\n", f"POST / HTTP/1.1\r\n{host}Content-Length: 0\r\n\r\n"):
            status, headers, _ = await raw(port, request.encode())
            assert status in (200, 404, 405) and "server" not in headers, (request, headers)
    finally:
        await core.stop()


async def test_a_name_the_listener_is_not_reads_nothing() -> None:
    metrics = Counted({"actors": [], "histograms": {}}, seconds=0)
    core = gateway(WebSection(), ready, metrics)
    port = await core.start("127.0.0.1", 0)
    try:
        for host in ("evil.example", f"evil.example:{port}", f"127.0.0.1.evil.example:{port}", "", "a b"):
            for path in ("/", "/metrics", "/readyz", "/healthz"):
                status, headers, body = await raw(port, f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
                assert (status, body) == (421, b"misdirected request: not a name of this server\n"), (host, path)
                assert headers["content-security-policy"] == CSP, (host, path)
        assert metrics.calls == 0
        status, headers, body = await raw(port, b"HEAD /metrics HTTP/1.1\r\nHost: evil.example\r\n\r\n")
        assert (status, headers["content-length"], body) == (421, "47", b"")  # HEAD: no body, a refusal's neither
        for request in (b"GET /metrics HTTP/1.0\r\n\r\n", b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n\r\n"):
            assert (await raw(port, request))[::2] == (400, b"bad request: one Host header\n")
        for host in ("127.0.0.1", f"127.0.0.1:{port}", f"LOCALHOST:{port}", f"[::1]:{port}"):
            assert (await raw(port, f"GET /metrics HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()))[0] == 200, host
    finally:
        await core.stop()


async def test_allowed_origins_and_a_listener_without_the_page() -> None:
    setup = demo_setup()
    allowed = ["HTTPS://Desk.Example.com:443", "http://10.0.0.5:8080"]
    config = msgspec.structs.replace(setup.config, gateway=msgspec.structs.replace(setup.config.gateway, allowed_origins=allowed))
    core = Gateway("gateway-1", msgspec.structs.replace(setup, config=config), Outbox("gateway-1", Router(config), config.batching, lambda name, data: None))
    port = await core.start("127.0.0.1", 0)  # a second gateway: serves no page
    try:
        assert (await upgrade(port, "broker.internal:8765", "https://desk.example.com"))[0] == 101
        assert (await upgrade(port, "127.0.0.1", "http://10.0.0.5:8080"))[0] == 101
        assert (await upgrade(port, "127.0.0.1", "http://desk.example.com"))[0] == 403  # not its scheme
        assert (await upgrade(port, f"127.0.0.1:{port}", "https://evil.example"))[0] == 403
        status, headers, _ = await raw(port, b"GET / HTTP/1.1\r\nHost: desk.example.com\r\n\r\n")
        assert (status, headers["upgrade"], headers["content-security-policy"]) == (426, "websocket", CSP)
        assert (await raw(port, b"GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n"))[0] == 421
    finally:
        await core.stop()
    free = await asyncio.get_running_loop().run_in_executor(None, _free_port)
    core = gateway(WebSection(port=free), ready, None)  # the page on a port of its own: it talks to that port
    await core.start("127.0.0.1", 0)
    try:
        assert (await fetch(f"http://127.0.0.1:{free}/"))[0] == 200
        assert (await upgrade(free, f"127.0.0.1:{free}", f"http://127.0.0.1:{free}"))[0] == 101
        assert (await upgrade(free, f"127.0.0.1:{free}", "https://evil.example"))[0] == 403
    finally:
        await core.stop()


def test_a_fully_qualified_host_is_the_name_without_its_dot() -> None:
    door = Door("127.0.0.1", False, ["https://broker.example.com"], None)
    for header in ("localhost.:8765", "LOCALHOST.", "127.0.0.1.:8765", "broker.example.com."):
        assert door.answers_to(host_name(header), "127.0.0.1"), header
    for header in ("localhost..", "evil.example.", ".", "broker.example.com.evil."):
        assert not door.answers_to(host_name(header), "127.0.0.1"), header
    assert door.origin_refused(Headers([("Host", "localhost.:8765"), ("Origin", "http://localhost.:8765")]), "127.0.0.1") is None


def test_the_door_of_a_listener_on_every_address_and_over_tls() -> None:
    door = Door("0.0.0.0", False, [], None)  # bound to every address: any Host, the page's own origin as the browser reached it
    assert door.answers_to("broker.lan", "10.0.0.5") and door.answers_to("evil.example", "10.0.0.5")
    assert door.origin_refused(Headers([("Host", "broker.lan:8765"), ("Origin", "http://broker.lan:8765")]), "10.0.0.5") is None
    assert door.origin_refused(Headers([("Host", "broker.lan:8765"), ("Origin", "https://evil.example")]), "10.0.0.5") == "https://evil.example"
    assert Door("::", False, [], None).names is None
    door = Door("10.0.0.5", True, [], None)  # bound to one address, TLS: https:// origins only, the address or its configured name
    assert door.answers_to("10.0.0.5", "10.0.0.5") and not door.answers_to("localhost", "10.0.0.5") and not door.answers_to("broker.lan", "10.0.0.5")
    assert door.origin_refused(Headers([("Host", "10.0.0.5:8765"), ("Origin", "https://10.0.0.5:8765")]), "10.0.0.5") is None
    assert door.origin_refused(Headers([("Host", "10.0.0.5:8765"), ("Origin", "http://10.0.0.5:8765")]), "10.0.0.5") is not None
    assert door.origin_refused(Headers([("Host", "10.0.0.5"), ("Origin", "https://10.0.0.5:443")]), "10.0.0.5") is None  # the default port, left out
    two = Headers([("Host", "10.0.0.5:8765"), ("Origin", "https://10.0.0.5:8765"), ("Origin", "https://10.0.0.5:8765")])
    assert door.origin_refused(two, "10.0.0.5") is not None
    assert door.origin_refused(Headers([("Host", "10.0.0.5:8765")]), "10.0.0.5") is None  # no Origin: no browser


def test_allowed_origins_are_origins() -> None:
    for bad in ("*", "null", "desk.example.com", "https://desk.example.com/page", "ftp://desk.example.com", "https://user@desk.example.com", "https://x:99999"):
        with pytest.raises(msgspec.ValidationError):
            msgspec.convert({"allowed_origins": [bad]}, GatewaySection)
    assert msgspec.convert({"allowed_origins": ["https://desk.example.com/"]}, GatewaySection).allowed_origins == ["https://desk.example.com/"]


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_every_committed_asset_is_served_and_index_is_the_root() -> None:
    assets = load_assets()
    assert assets["/"] == assets["/index.html"]
    assert {"/style.css", "/js/main.js", "/js/conn.js", "/js/sign.js", "/js/vtable.js"} <= set(assets)
    index = assets["/"][0].decode()
    assert "<script>" not in index and "style=" not in index  # nothing inline: the CSP allows none


def test_web_section_refuses_bad_values() -> None:
    for bad in ({"port": 70000}, {"status_timeout_ms": 0}, {"latency_buckets_us": [5000, 1000]}, {"latency_buckets_us": []}):
        with pytest.raises(msgspec.ValidationError):
            msgspec.convert(bad, WebSection)
