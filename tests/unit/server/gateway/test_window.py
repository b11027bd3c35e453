"""Fairness: the in-flight window (``InFlightWindow``) on its own, its pacing over a real
socket, and the window through a gateway's frames."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import msgspec
import pytest

from actors.runtime.outbox import Outbox
from actors.runtime.router import Router
from model.config import ConfigError, GatewaySection, load_config
from model.messages import NewOrder, QueryAccount, Reply, RequestRejected
from server.gateway.connection import Connection
from server.gateway.ratelimit import TokenBucket
from server.gateway.window import InFlightWindow
from tests.conftest import demo_setup
from tests.unit.server.gateway.harness import NoSocket, commands, logged_in, make_gateway, socket_pair


def make_window(size: int, orders_per_turn: int = 500) -> tuple[InFlightWindow, list[tuple[str, Any]]]:
    """A window whose outbox records ``(destination actor, command)`` at each flush."""
    config = demo_setup().config
    sent: list[tuple[str, Any]] = []
    outbox = Outbox("gateway-0", Router(config), config.batching, lambda name, data: sent.extend((name, m) for m in commands(data)))
    limits = msgspec.structs.replace(GatewaySection(), max_in_flight_per_connection=size, orders_per_turn=orders_per_turn)
    return InFlightWindow(limits, outbox), sent


def client(conn_id: int = 1, socket: Any = None) -> Connection:
    return Connection(conn_id, socket or NoSocket(), TokenBucket(1, 1), 10**6)


def query(account: str, request: int) -> QueryAccount:
    return QueryAccount(account, Reply("gateway-0", 1, b"%d" % request))


async def test_commands_beyond_the_window_are_held_and_go_out_one_per_answer_in_order() -> None:
    window, sent = make_window(size=2)
    conn = client()
    for request in range(5):
        window.send(conn, "A1", query("A1", request))
    window.outbox.flush()
    assert [m.reply.request for _, m in sent] == [b"0", b"1"] and (conn.in_flight, len(conn.held)) == (2, 3)
    assert window.full(conn)
    sent.clear()
    window.answered(conn)
    window.outbox.flush()
    assert [m.reply.request for _, m in sent] == [b"2"] and (conn.in_flight, len(conn.held)) == (2, 2)
    assert conn.answered.is_set()


async def test_commands_sent_together_fill_the_window_and_the_rest_are_held_in_order() -> None:
    window, sent = make_window(size=3)
    conn = client()
    window.send(conn, "A1", query("A1", 0))
    window.send_all(conn, [("A1", query("A1", request)) for request in range(1, 6)])
    window.outbox.flush()
    assert [m.reply.request for _, m in sent] == [b"0", b"1", b"2"] and (conn.in_flight, len(conn.held)) == (3, 3)
    window.send_all(conn, [("A2", query("A2", 6))])  # behind the held ones, though one answer would make room
    sent.clear()
    for _ in range(4):
        window.answered(conn)
    window.outbox.flush()
    assert [m.reply.request for _, m in sent] == [b"3", b"4", b"5", b"6"] and (conn.in_flight, len(conn.held)) == (3, 0)
    window.send_all(conn, [])
    assert (conn.in_flight, len(conn.held)) == (3, 0)


async def test_a_command_read_while_others_are_held_waits_behind_them_even_with_room() -> None:
    window, sent = make_window(size=2)
    conn = client()
    for request in range(3):
        window.send(conn, "A1", query("A1", request))
    conn.in_flight = 0  # room again, but one command is still held
    window.send(conn, "A1", query("A1", 3))
    assert [command.reply.request for _, command in conn.held] == [b"2", b"3"]


async def test_answers_beyond_the_commands_in_flight_never_make_the_count_negative() -> None:
    window, _ = make_window(size=2)
    conn = client()
    window.answered(conn)
    assert conn.in_flight == 0 and not window.full(conn)


async def test_release_sends_every_held_command_to_its_own_shard() -> None:
    window, sent = make_window(size=1)
    conn = client()
    for request, account in enumerate(("A1", "B1", "C1")):
        window.send(conn, account, query(account, request))
    window.release(conn)
    window.outbox.flush()
    router = Router(demo_setup().config)
    assert sorted((name, m.account) for name, m in sent) == sorted((router.account(account), account) for account in ("A1", "B1", "C1"))
    assert not conn.held


async def test_pace_returns_at_once_with_room_and_yields_the_loop_after_orders_per_turn() -> None:
    window, _ = make_window(size=2, orders_per_turn=3)
    conn = client()
    conn.work = 2
    await window.pace(conn)
    assert conn.work == 2  # under the turn: carries on without yielding
    conn.work = 3
    await window.pace(conn)
    assert conn.work == 0


async def test_pace_waits_for_an_answer_while_the_window_is_full_and_ends_when_the_socket_closes() -> None:
    window, _ = make_window(size=1)
    async with socket_pair() as (socket, peer):
        conn = client(socket=socket)
        window.send(conn, "A1", query("A1", 1))
        window.send(conn, "A1", query("A1", 2))
        conn.work = 10
        paced = asyncio.create_task(window.pace(conn))
        await asyncio.sleep(0.05)
        assert not paced.done()  # not read while a command is held
        window.answered(conn)  # the held one goes out: the window is full again
        await asyncio.sleep(0.05)
        assert not paced.done()
        window.answered(conn)
        await asyncio.wait_for(paced, 5)
        assert conn.work == 0
        window.send(conn, "A1", query("A1", 3))
        window.send(conn, "A1", query("A1", 4))
        paced = asyncio.create_task(window.pace(conn))
        await peer.close()  # a client that goes while held is not waited for
        await asyncio.wait_for(paced, 5)


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
