"""The gateway's request handling without sockets: frames in, frames and commands out."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest

from actors.runtime.outbox import Outbox
from actors.runtime.router import Router
from keystore import apikeys
from keystore.apikeys import KeyStore, open_keys
from model.config import User
from model.messages import NewOrder, QueryOrders, decode_batch
from server.gateway.auth import signature
from server.gateway.connection import Connection
from server.gateway.core import Gateway
from server.gateway.ratelimit import TokenBucket
from tests.conftest import demo_setup
from tests.unit.server.gateway.harness import commands, keyed_setup, login_frame, socket_pair
from tests.unit.server.gateway.test_connection import closed_with

TRADER1 = User(key="trader1", secret="trader1-secret", role="trader", accounts=["A1", "A2"])


class NoSocket:
    """Where the websockets connection would be: these tests read the connection's queue."""


def make_gateway(rate: int) -> tuple[Gateway, list[Any]]:
    setup = demo_setup()
    config = msgspec.structs.replace(setup.config, gateway=msgspec.structs.replace(setup.config.gateway, rate_limit_per_s=rate, rate_limit_burst=rate))
    setup = msgspec.structs.replace(setup, config=config)
    sent: list[Any] = []
    outbox = Outbox("gateway-0", Router(config), config.batching, lambda name, data: sent.extend(commands(data)))
    return Gateway("gateway-0", setup, outbox), sent


def logged_in(gateway: Gateway, rate: int) -> Connection:
    conn = Connection(1, NoSocket(), TokenBucket(rate, rate), 1000)  # type: ignore[arg-type]
    ts = int(time.time() * 1000)
    gateway.on_frame(conn, json.dumps({"op": "login", "id": 1, "key": "trader1", "ts": ts, "nonce": "n1", "sig": signature("trader1-secret", ts, "n1")}))
    assert json.loads(conn.outgoing.pop())["ok"] is True
    return conn


def order(request_id: int) -> str:
    return json.dumps({"op": "new_order", "id": request_id, "account": "A1", "client_order_id": f"c{request_id}",
                       "symbol": "IBM", "side": "buy", "type": "limit", "qty": "1", "price": "149.00"})


async def test_requests_over_the_rate_limit_are_refused_and_never_reach_a_shard() -> None:
    gateway, sent = make_gateway(rate=2)
    conn = logged_in(gateway, rate=2)
    for request_id in (2, 3, 4):
        gateway.on_frame(conn, order(request_id))
    gateway.outbox.flush()
    assert [m.client_order_id for m in sent if isinstance(m, NewOrder)] == ["c2", "c3"]
    refused = json.loads(conn.outgoing.pop())
    assert (refused["id"], refused["code"]) == (4, "rate_limited")


async def test_a_valid_order_becomes_one_command_for_the_owning_shard_with_the_reply_address() -> None:
    gateway, sent = make_gateway(rate=100)
    conn = logged_in(gateway, rate=100)
    gateway.on_frame(conn, order(7))
    gateway.outbox.flush()
    (command,) = sent
    assert isinstance(command, NewOrder)
    assert (command.reply.gateway, command.reply.conn, command.reply.request) == ("gateway-0", 1, b"7")
    assert conn.outgoing == []  # the answer comes from the shard, not the gateway


async def test_a_new_orders_frame_over_the_frame_limit_is_refused_whole() -> None:
    gateway, sent = make_gateway(rate=10_000)
    conn = logged_in(gateway, rate=10_000)
    orders = [json.loads(order(i)) for i in range(1001)]
    for entry in orders:
        del entry["op"], entry["id"]
    gateway.on_frame(conn, json.dumps({"op": "new_orders", "id": 9, "orders": orders}))
    gateway.outbox.flush()
    assert sent == []
    assert json.loads(conn.outgoing.pop())["code"] == "invalid_request"


async def test_get_orders_goes_to_the_shard_with_the_default_page_size_and_the_cursor() -> None:
    gateway, sent = make_gateway(rate=100)
    conn = logged_in(gateway, rate=100)
    gateway.on_frame(conn, json.dumps({"op": "get_orders", "id": 2, "account": "A1"}))
    paged = {"op": "get_orders", "id": 3, "account": "A1", "open_only": True, "cursor": "account-1-7", "limit": 1000}
    gateway.on_frame(conn, json.dumps(paged))
    gateway.outbox.flush()
    first, second = sent
    assert isinstance(first, QueryOrders) and isinstance(second, QueryOrders)
    assert (first.cursor, first.limit) == (None, gateway.config.queries.orders_page_size) and 0 < first.limit < 1000
    assert (second.cursor, second.limit, second.open_only) == ("account-1-7", gateway.config.queries.max_orders_page, True)
    assert conn.outgoing == []


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"limit": 1001}, "limit must be 1 to 1000"),
        ({"limit": 0}, "limit must be 1 to 1000"),
        ({"limit": -5}, "limit must be 1 to 1000"),
        ({"limit": "10"}, "Expected `int | null`"),
        ({"limit": 2.5}, "Expected `int | null`"),
        ({"limit": True}, "Expected `int | null`"),
        ({"limit": 10**40}, "limit"),
        ({"cursor": 17}, "Expected `str | null`"),
        ({"cursor": ""}, "cursor must be 1 to 64 printable characters"),
        ({"cursor": "x" * 65}, "cursor must be 1 to 64 printable characters"),
        ({"cursor": "a\nb"}, "cursor must be 1 to 64 printable characters"),
        ({"open_only": "yes"}, "Expected `bool`"),
        ({"page": 2}, "unknown field `page`"),
    ],
)
async def test_a_bad_get_orders_page_is_an_invalid_request_that_reaches_no_shard(fields: dict[str, Any], words: str) -> None:
    gateway, sent = make_gateway(rate=100)
    conn = logged_in(gateway, rate=100)
    gateway.on_frame(conn, json.dumps({"op": "get_orders", "id": 5, "account": "A1", **fields}))
    gateway.outbox.flush()
    assert sent == []
    refused = json.loads(conn.outgoing.pop())
    assert (refused["id"], refused["type"], refused["code"]) == (5, "error", "invalid_request") and words in refused["message"], refused


# --- API keys: their scopes, whoami, and revocation closing their connections ---------------------------


def keyed_gateway(folder: Path) -> tuple[Gateway, KeyStore]:
    setup = keyed_setup(folder)
    config = setup.config
    outbox = Outbox("gateway-0", Router(config), config.batching, lambda name, data: decode_batch(data))
    return Gateway("gateway-0", setup, outbox), open_keys(config)


def key_login(gateway: Gateway, conn: Connection, key_id: str, secret: str, nonce: str) -> dict[str, Any]:
    ts = int(time.time() * 1000)
    gateway.on_frame(conn, json.dumps({"op": "login", "id": 1, "key": key_id, "ts": ts, "nonce": nonce, "sig": signature(secret, ts, nonce)}))
    answer: dict[str, Any] = json.loads(conn.outgoing.pop())
    return answer


async def test_a_read_key_may_read_and_ask_whoami_but_not_trade(tmp_path: Path) -> None:
    gateway, keys = keyed_gateway(tmp_path)
    key = keys.create(TRADER1, ("read",), (), int(time.time() * 1000) + 3_600_000, "ro")
    gateway.access.keys = keys.load()
    conn = Connection(1, object(), TokenBucket(10**6, 10**6), 1000)  # type: ignore[arg-type]
    gateway.connections[1] = conn
    assert key_login(gateway, conn, key.key_id, key.secret, "n1")["scopes"] == ["read"]
    gateway.on_frame(conn, json.dumps({"op": "whoami", "id": 2}))
    who = json.loads(conn.outgoing.pop())
    assert (who["type"], who["user"], who["key_id"], who["scopes"], who["allow"]) == ("whoami", "trader1", key.key_id, ["read"], [])
    order = {"op": "new_order", "id": 3, "account": "A1", "client_order_id": "c1", "symbol": "IBM", "side": "buy", "type": "market", "qty": "1"}
    gateway.on_frame(conn, json.dumps(order))
    refused = json.loads(conn.outgoing.pop())
    assert (refused["code"], refused["message"]) == ("forbidden", "new_order needs the orders.place permission (trader: its scopes lack it)")


async def test_revoking_or_rotating_a_key_closes_its_live_connections_at_once_and_no_other(tmp_path: Path) -> None:
    gateway, keys = keyed_gateway(tmp_path)
    expires = int(time.time() * 1000) + 3_600_000
    doomed, rotated, kept = (keys.create(TRADER1, ("trade",), (), expires, label) for label in ("a", "b", "c"))
    gateway.access.keys = keys.load()
    async with socket_pair() as (s1, c1), socket_pair() as (s2, c2), socket_pair() as (s3, c3), socket_pair() as (s4, c4):
        conns = [Connection(n, socket, TokenBucket(10**6, 10**6), 1000) for n, socket in enumerate((s1, s2, s3, s4), 1)]
        for conn in conns:
            gateway.connections[conn.conn_id] = conn
        for conn, key in zip(conns, (doomed, rotated, kept), strict=False):
            assert key_login(gateway, conn, key.key_id, key.secret, f"n{conn.conn_id}")["ok"] is True
        assert gateway.on_frame(conns[3], login_frame("trader1", nonce="plain")) is None and conns[3].outgoing.pop()
        keys.revoke(doomed.key_id)
        keys.rotate(rotated.key_id)
        assert gateway.replace_keys(keys.load()) == 2
        assert await closed_with(c1) == (1008, f"api key {doomed.key_id} revoked")
        assert await closed_with(c2) == (1008, f"api key {rotated.key_id} rotated: log in with its new secret")
        assert [conn.dropped for conn in conns] == [True, True, False, False]
        assert gateway.replace_keys(keys.load()) == 0  # told again: nothing more to close


async def test_a_connection_of_an_api_key_is_closed_when_the_key_expires_and_nothing_counts_against_the_login(tmp_path: Path) -> None:
    gateway, keys = keyed_gateway(tmp_path)
    now_ms = int(time.time() * 1000)
    expires = now_ms + 3_600_000
    key = keys.create(TRADER1, ("trade",), (), expires, "expiring")
    gateway.access.keys = keys.load()
    async with socket_pair() as (s1, c1), socket_pair() as (s2, c2):
        conn, plain = (Connection(n, socket, TokenBucket(10**6, 10**6), 1000, address="10.0.0.9") for n, socket in ((1, s1), (2, s2)))
        gateway.connections.update({1: conn, 2: plain})
        assert key_login(gateway, conn, key.key_id, key.secret, "n1")["ok"] is True
        gateway.on_frame(plain, login_frame("trader1", nonce="plain"))
        assert json.loads(plain.outgoing.pop())["ok"] is True
        timer = conn.key_expiry
        assert timer is not None and plain.key_expiry is None  # a users-file login has no key to expire
        assert 3_590 < timer.when() - asyncio.get_running_loop().time() <= 3_600  # scheduled at login, for the expiry
        assert gateway.close_if_key_expired(conn, expires - 1) is False and not conn.dropped  # a millisecond before: still open
        assert gateway.close_if_key_expired(plain, expires + 1) is False and not plain.dropped
        assert gateway.close_if_key_expired(conn, expires) is True
        assert await closed_with(c1) == (1008, f"api key {key.key_id} expired at {apikeys.iso(expires)}")
        assert conn.dropped and not plain.dropped
        assert gateway.close_if_key_expired(conn, expires + 1) is False  # closed once
        access = gateway.access
        assert access.throttle.strikes == {} and access.lockout.failures == {}  # the backoff and the lockout are untouched


async def test_the_expiry_timer_closes_the_connection_itself_and_a_clock_set_back_schedules_it_again(tmp_path: Path) -> None:
    gateway, keys = keyed_gateway(tmp_path)
    expires = int(time.time() * 1000) + 300
    key = keys.create(TRADER1, ("read",), (), expires, "short")
    gateway.access.keys = keys.load()
    async with socket_pair() as (s1, c1):
        conn = Connection(1, s1, TokenBucket(10**6, 10**6), 1000)
        gateway.connections[1] = conn
        assert key_login(gateway, conn, key.key_id, key.secret, "n1")["ok"] is True
        first = conn.key_expiry
        assert first is not None and first.when() - asyncio.get_running_loop().time() <= 0.3
        assert gateway.close_if_key_expired(conn, expires - 10_000) is False  # as if the wall clock went back 10 s: due again later
        again = conn.key_expiry
        assert again is not None and first.cancelled() and 9.5 < again.when() - asyncio.get_running_loop().time() <= 10
        # due in 1 ms, the timer fires before the key has expired (by the real clock): it waits again, then closes
        assert gateway.close_if_key_expired(conn, expires - 1) is False and again.cancelled()
        assert await closed_with(c1) == (1008, f"api key {key.key_id} expired at {apikeys.iso(expires)}")
        assert conn.dropped and int(time.time() * 1000) >= expires
