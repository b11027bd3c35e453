"""The gateway's defences without sockets: what a hostile frame gets, what it changes, and how
much of the shards' queues one connection may hold. (Over a real WebSocket against a running
server: tests/integration/test_hostile.py.)"""

from __future__ import annotations

import json
import time
from typing import Any

import msgspec
import pytest

from actors.runtime.outbox import Outbox
from actors.runtime.router import Router
from model.config import ConfigError, load_config
from model.messages import NewOrder, QueryAccount, Reply, RequestRejected, decode_batch
from server.gateway.auth import signature
from server.gateway.core import Connection, Gateway
from server.gateway.ratelimit import TokenBucket
from tests.conftest import demo_setup

pytestmark = pytest.mark.asyncio


class NoSocket:
    """Where the websockets connection would be: these tests read the connection's queue."""


def make_gateway(**limits: int) -> tuple[Gateway, list[Any]]:
    setup = demo_setup()
    gateway_config = msgspec.structs.replace(setup.config.gateway, **limits)
    config = msgspec.structs.replace(setup.config, gateway=gateway_config)
    setup = msgspec.structs.replace(setup, config=config)
    sent: list[Any] = []
    outbox = Outbox("gateway-0", Router(config), config.batching, lambda name, data: sent.extend(decode_batch(data).messages))
    return Gateway("gateway-0", setup, outbox), sent


def connection(gateway: Gateway, conn_id: int, address: str = "10.0.0.1") -> Connection:
    conn = Connection(conn_id, NoSocket(), TokenBucket(10**6, 10**6), 10**6, address=address)  # type: ignore[arg-type]
    gateway.connections[conn_id] = conn
    return conn


def login_frame(key: str = "trader1", secret: str | None = None, nonce: str = "n1") -> str:
    ts = int(time.time() * 1000)
    sig = signature(secret or f"{key}-secret", ts, nonce)
    return json.dumps({"op": "login", "id": 1, "key": key, "ts": ts, "nonce": nonce, "sig": sig})


def replies(conn: Connection) -> list[dict[str, Any]]:
    frames, conn.outgoing = conn.outgoing, []
    return [json.loads(frame) for frame in frames]


def logged_in(gateway: Gateway, conn_id: int = 1, key: str = "trader1") -> Connection:
    conn = connection(gateway, conn_id)
    gateway.on_frame(conn, login_frame(key, nonce=f"n{conn_id}"))
    assert replies(conn)[-1]["ok"] is True
    return conn


# --- subscribe amplification -------------------------------------------------------------------


async def test_a_channel_named_95000_times_is_one_subscription_with_one_reply_entry_and_one_quote() -> None:
    gateway, _ = make_gateway(max_channels_per_connection=100_000)
    conn = logged_in(gateway)
    gateway.last_quotes["IBM"] = b'{"type":"quote","symbol":"IBM"}'
    gateway.on_frame(conn, json.dumps({"op": "subscribe", "id": 2, "channels": ["quotes:IBM"] * 95_000}))
    reply, quote = replies(conn)
    assert reply == {"id": 2, "type": "subscribed", "channels": ["quotes:IBM"]}
    assert quote["symbol"] == "IBM"
    assert gateway.quote_connections["IBM"] == {conn.conn_id}
    gateway.on_frame(conn, json.dumps({"op": "subscribe", "id": 3, "channels": ["quotes:IBM", "quotes:AAPL"]}))
    assert [frame["type"] for frame in replies(conn)] == ["subscribed"]  # IBM again: no second snapshot


async def test_a_subscribe_frame_over_the_cap_is_refused_whole_and_changes_nothing() -> None:
    gateway, _ = make_gateway(max_channels_per_connection=3)
    conn = logged_in(gateway)
    gateway.on_frame(conn, json.dumps({"op": "subscribe", "id": 2, "channels": ["quotes:IBM"] * 4}))
    (refused,) = replies(conn)
    assert (refused["id"], refused["code"]) == (2, "invalid_request") and "at most 3" in refused["message"]
    gateway.on_frame(conn, json.dumps({"op": "subscribe", "id": 3, "channels": ["quotes:IBM", "quotes:AAPL"]}))
    assert replies(conn)[0]["channels"] == ["quotes:IBM", "quotes:AAPL"]
    gateway.on_frame(conn, json.dumps({"op": "subscribe", "id": 4, "channels": ["quotes:IBM", "quotes:MSFT", "quotes:SPY"]}))
    (refused,) = replies(conn)  # 2 held + 2 new > 3
    assert refused["code"] == "invalid_request" and "holds 2" in refused["message"]
    assert conn.quotes == {"IBM", "AAPL"} and "MSFT" not in gateway.quote_connections
    gateway.on_frame(conn, json.dumps({"op": "subscribe", "id": 5, "channels": ["quotes:AAPL", "quotes:MSFT", "quotes:IBM"]}))
    assert replies(conn)[0]["type"] == "subscribed" and conn.quotes == {"IBM", "AAPL", "MSFT"}


# --- inputs that used to escape the decoder ----------------------------------------------------

HOSTILE_FRAMES: list[tuple[str, str | bytes, str]] = [
    ("array nested 1,000 deep", "[" * 1000 + "]" * 1000, "nested too deeply"),
    ("field nested 100,000 deep", '{"op": "login", "key": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
    ("id nested 1,000 deep", '{"op": "get_account", "account": "A1", "id": ' + "[" * 1000 + "]" * 1000 + "}", "nested too deeply"),
    ("binary frame, invalid UTF-8", b'{"op": "get_account", "account": "\xff\xfe"}', "UTF-8"),
    ("binary frame, not JSON", b"\x00\x01\x02\xff", "malformed JSON"),
    ("huge op", '{"op": "' + "x" * 1_000_000 + '"}', "unknown op"),
    ("op of the wrong type", '{"op": [1, 2]}', "unknown op"),
    ("lone surrogate", '{"op": "get_account", "account": "\\ud800"}', "malformed JSON"),
    ("ts beyond any int", '{"op": "login", "key": "k", "ts": ' + "9" * 5000 + ', "nonce": "n", "sig": "s"}', "malformed JSON"),
]


@pytest.mark.parametrize(("case", "frame", "message_part"), HOSTILE_FRAMES, ids=[case[0] for case in HOSTILE_FRAMES])
async def test_a_hostile_frame_is_an_invalid_request_before_and_after_login(case: str, frame: str | bytes, message_part: str) -> None:
    gateway, sent = make_gateway()
    fresh = connection(gateway, 1)
    conn = logged_in(gateway, 2)
    for target in (fresh, conn):
        gateway.on_frame(target, frame)  # nothing escapes
        (reply,) = replies(target)
        assert (reply["type"], reply["code"]) == ("error", "invalid_request"), reply
        assert message_part in reply["message"] and len(reply["message"]) < 600, reply["message"][:200]
    gateway.outbox.flush()
    assert sent == [] and not fresh.dropped and not conn.dropped


async def test_a_binary_frame_holding_utf8_json_is_served_like_a_text_frame() -> None:
    gateway, sent = make_gateway()
    conn = logged_in(gateway)
    gateway.on_frame(conn, b'{"op": "get_account", "id": 7, "account": "A1"}')
    gateway.outbox.flush()
    (query,) = sent
    assert isinstance(query, QueryAccount) and query.reply.request == b"7"


# --- who may knock -----------------------------------------------------------------------------


async def test_after_five_failures_a_connection_is_refused_unchecked_even_with_the_right_signature() -> None:
    gateway, _ = make_gateway()
    conn = connection(gateway, 1)
    for attempt in range(5):
        gateway.on_frame(conn, login_frame(secret="guess", nonce=f"bad{attempt}"))
        assert replies(conn)[0]["code"] == "not_authenticated"
    gateway.on_frame(conn, login_frame(nonce="good"))
    (refused,) = replies(conn)
    assert refused["code"] == "rate_limited" and 0 < refused["retry_after_ms"] <= 1000, refused
    assert ("trader1", "good") not in gateway.auth.seen  # never checked: the nonce is still unused
    assert conn.user is None


async def test_failures_from_one_address_lock_that_address_but_no_other() -> None:
    gateway, _ = make_gateway(login_failures_per_address=6)
    for conn_id in range(1, 4):  # two failures each: under the connection's allowance
        conn = connection(gateway, conn_id, address="10.0.0.66")
        for attempt in range(2):
            gateway.on_frame(conn, login_frame(key="nobody", nonce=f"x{conn_id}-{attempt}"))
    conn = connection(gateway, 4, address="10.0.0.66")
    gateway.on_frame(conn, login_frame(nonce="n4"))
    assert replies(conn)[0]["code"] == "rate_limited"
    other = connection(gateway, 5, address="10.0.0.7")
    gateway.on_frame(other, login_frame(nonce="n5"))
    assert replies(other)[0]["ok"] is True


async def test_failures_on_one_user_key_lock_that_key_on_every_connection_but_no_other_key() -> None:
    gateway, _ = make_gateway(login_failures_per_user=4)
    for conn_id in range(1, 5):
        conn = connection(gateway, conn_id, address=f"10.0.1.{conn_id}")
        gateway.on_frame(conn, login_frame(key="trader2", secret="guess", nonce=f"g{conn_id}"))
    target = connection(gateway, 9, address="10.0.2.1")
    gateway.on_frame(target, login_frame(key="trader2", nonce="right"))
    assert replies(target)[0]["code"] == "rate_limited"
    gateway.on_frame(target, login_frame(key="trader1", nonce="other"))
    assert replies(target)[0]["ok"] is True


async def test_a_user_at_its_connection_cap_is_refused_at_login_and_admitted_once_one_closes() -> None:
    gateway, _ = make_gateway(max_connections_per_user=2)
    first, _second = logged_in(gateway, 1), logged_in(gateway, 2)
    third = connection(gateway, 3)
    gateway.on_frame(third, login_frame(nonce="n3"))
    (refused,) = replies(third)
    assert refused["code"] == "too_many_connections" and third.user is None
    gateway._forget(first)
    gateway.on_frame(third, login_frame(nonce="n3b"))
    assert replies(third)[0]["ok"] is True


# --- fairness: how much of the shards' queues one connection holds -----------------------------


def new_orders(count: int, first: int = 0) -> str:
    orders = [
        {"account": "A1", "client_order_id": f"c{first + index}", "symbol": "IBM", "side": "buy", "type": "limit", "qty": "1", "price": "149.00"}
        for index in range(count)
    ]
    return json.dumps({"op": "new_orders", "id": 3, "orders": orders})


async def test_a_connection_never_has_more_than_its_window_in_flight_and_the_rest_follows_in_order() -> None:
    gateway, sent = make_gateway(max_in_flight_per_connection=300)
    conn = logged_in(gateway)
    gateway.on_frame(conn, new_orders(1000))
    gateway.outbox.flush()
    assert len(sent) == 300 and [m.client_order_id for m in sent if isinstance(m, NewOrder)] == [f"c{index}" for index in range(300)]
    assert (conn.in_flight, len(conn.held)) == (300, 700)
    other = logged_in(gateway, 2)
    gateway.on_frame(other, json.dumps({"op": "get_account", "id": 9, "account": "A1"}))
    gateway.outbox.flush()
    assert isinstance(sent[-1], QueryAccount)  # another connection is not held behind it
    del sent[:]
    for _ in range(250):  # answers (here: refusals) make room, one command per answer
        gateway._deliver(RequestRejected(Reply("gateway-0", conn.conn_id, b"3"), "forbidden", "no"))
    gateway.outbox.flush()
    assert [m.client_order_id for m in sent if isinstance(m, NewOrder)] == [f"c{index}" for index in range(300, 550)]
    assert (conn.in_flight, len(conn.held)) == (300, 450)
    gateway.on_frame(conn, new_orders(1, first=5000))  # read while some are held: it queues behind them
    assert conn.held[-1][1].client_order_id == "c5000"  # type: ignore[union-attr]
    del sent[:]
    gateway._forget(conn)  # a connection that goes leaves nothing it sent behind
    gateway.outbox.flush()
    assert len(sent) == 451 and [m.client_order_id for m in sent if isinstance(m, NewOrder)] == [f"c{index}" for index in range(550, 1000)] + ["c5000"]


async def test_a_gateway_limit_of_zero_is_a_configuration_error(tmp_path: Any) -> None:
    path = tmp_path / "server.toml"
    path.write_text("[gateway]\nmax_in_flight_per_connection = 0\n")
    with pytest.raises(ConfigError, match="max_in_flight_per_connection must be > 0"):
        load_config(path)
