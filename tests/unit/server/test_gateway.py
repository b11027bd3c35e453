"""The gateway's request handling without sockets: frames in, frames and commands out."""

from __future__ import annotations

import json
import time
from typing import Any

import msgspec

from actors.hop import Outbox, Router
from model.messages import NewOrder, decode_batch
from server.auth import signature
from server.gateway import Connection, Gateway
from server.ratelimit import TokenBucket
from tests.conftest import demo_setup


class NoSocket:
    """Where the websockets connection would be: these tests read the connection's queue."""


def make_gateway(rate: int) -> tuple[Gateway, list[Any]]:
    setup = demo_setup()
    config = msgspec.structs.replace(setup.config, gateway=msgspec.structs.replace(setup.config.gateway, rate_limit_per_s=rate, rate_limit_burst=rate))
    setup = msgspec.structs.replace(setup, config=config)
    sent: list[Any] = []
    outbox = Outbox("gateway-0", Router(config), config.batching, lambda name, data: sent.extend(decode_batch(data).messages))
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
