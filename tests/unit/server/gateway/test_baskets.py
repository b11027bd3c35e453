"""The ``load_orders`` upload at the gateway: checked whole before anything is sent, sent in
chunks a few at a time per shard, answered once with the shards' counts added up."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import msgspec
import pytest

from model.messages import LoadOrders, OrdersLoaded
from server.gateway.connection import Connection
from server.gateway.core import Gateway
from server.gateway.ratelimit import TokenBucket
from tests.unit.server.gateway.harness import logged_in, make_gateway, replies

HEADER = "account,client_order_id,symbol,side,qty"


def upload(rows: list[str], request_id: int = 5) -> str:
    return json.dumps({"op": "load_orders", "id": request_id, "csv": "\n".join([HEADER, *rows]) + "\n"})


async def checked(conn: Connection) -> None:
    """The upload's check, which runs off the event loop (the connection's ``pending``)."""
    assert conn.pending is not None
    await conn.pending


def basket_gateway(chunk_rows: int, in_flight: int) -> tuple[Gateway, list[object]]:
    gateway, sent = make_gateway()
    config = gateway.config
    gateway.config = msgspec.structs.replace(config, basket=msgspec.structs.replace(config.basket, chunk_rows=chunk_rows, chunks_in_flight=in_flight))
    gateway.baskets.chunks_in_flight = in_flight
    return gateway, sent


def answer_all(gateway: Gateway, chunks: list[LoadOrders], rejected: dict[str, int] | None = None) -> None:
    for chunk in chunks:
        refused = rejected or {}
        gateway._deliver(OrdersLoaded(chunk.reply, chunk.load, chunk.chunk, len(chunk.orders), len(chunk.orders) - sum(refused.values()), 0, refused))


async def test_an_upload_goes_out_a_few_chunks_at_a_time_and_is_answered_once_with_the_sums() -> None:
    gateway, sent = basket_gateway(chunk_rows=2, in_flight=1)
    conn = logged_in(gateway)  # trader1: A1 and A2 (both on shard 1)
    gateway.on_frame(conn, upload([f"A{1 + i % 2},c{i},IBM,buy,1" for i in range(7)]))
    await checked(conn)
    gateway.outbox.flush()
    for expected in range(1, 5):
        chunks = [m for m in sent if isinstance(m, LoadOrders)]
        assert len(chunks) == expected, chunks  # one chunk in flight at a time: the next goes out on its answer
        assert replies(conn) == []
        answer_all(gateway, chunks[-1:], {"max_order_size": 1} if expected == 2 else {})
        gateway.outbox.flush()
    assert [cloid for m in sent if isinstance(m, LoadOrders) for cloid in m.orders.client_order_ids] == [f"c{i}" for i in range(7)]
    [done] = replies(conn)
    assert (done["id"], done["type"], done["rows"], done["accepted"], done["already_loaded"]) == (5, "orders_loaded", 7, 6, 0)
    assert (done["rejected"], done["rejected_by_reason"]) == (1, {"max_order_size": 1})


async def test_an_upload_with_a_bad_row_or_another_users_account_sends_nothing() -> None:
    gateway, sent = basket_gateway(chunk_rows=100, in_flight=2)
    conn = logged_in(gateway)
    gateway.on_frame(conn, upload(["A1,c1,IBM,buy,1", "B1,c2,IBM,buy,1", "A2,c3,IBM,buy,1.5e1"]))
    await checked(conn)
    gateway.outbox.flush()
    assert sent == []
    [refused] = replies(conn)
    assert (refused["id"], refused["code"], refused["bad_rows"]) == (5, "invalid_request", 2)
    assert refused["problems"] == [
        {"row": 3, "code": "forbidden", "problem": "account 'B1' is not yours"},
        {"row": 4, "code": "invalid_request", "problem": "qty must be a decimal string with at most 9 places, not '1.5e1'"},
    ]


async def test_an_upload_counts_one_request_per_order_against_the_rate_limit() -> None:
    gateway, sent = make_gateway()
    conn = logged_in(gateway)
    conn.bucket = TokenBucket(3, 3)
    gateway.on_frame(conn, upload([f"A1,c{i},IBM,buy,1" for i in range(5)]))
    await checked(conn)
    gateway.outbox.flush()
    assert sent == [] and replies(conn)[0]["code"] == "rate_limited"


async def test_a_load_waits_as_encoded_chunks_and_only_the_chunks_sent_are_decoded() -> None:
    gateway, sent = basket_gateway(chunk_rows=2, in_flight=1)
    conn = logged_in(gateway)
    gateway.on_frame(conn, upload([f"A1,c{i},IBM,buy,1" for i in range(7)]))
    await checked(conn)
    gateway.outbox.flush()
    [load] = gateway.baskets.loads.values()
    [waiting] = load.waiting.values()
    assert [type(chunk.data) for _, chunk in waiting] == [bytes] * 3  # no object per order while it waits
    assert [chunk.rows for _, chunk in waiting] == [2, 2, 1]
    assert [m.orders.client_order_ids for m in sent if isinstance(m, LoadOrders)] == [["c0", "c1"]]


async def test_a_load_in_flight_shows_its_chunks_answered_of_all_in_status() -> None:
    """What the admin shell's progress bar of ``orders load`` reads (``baskets_progress``)."""
    gateway, sent = basket_gateway(chunk_rows=2, in_flight=1)
    conn = logged_in(gateway)
    gateway.on_frame(conn, upload([f"A{1 + i % 2},c{i},IBM,buy,1" for i in range(7)]))
    await checked(conn)
    gateway.outbox.flush()
    [load] = gateway.status()["baskets_progress"]
    assert (load["chunks"], load["answered"], load["rows"]) == (4, 0, 0)
    answer_all(gateway, [m for m in sent if isinstance(m, LoadOrders)][-1:])
    [load] = gateway.status()["baskets_progress"]
    assert (load["chunks"], load["answered"], load["rows"]) == (4, 1, 2)


async def test_an_upload_is_checked_off_the_event_loop_while_other_sessions_go_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """While one session's basket is being checked — in a thread, held there at the check's
    end — another session's request is read and sent on at once; the basket's chunks go out
    only once its check is done; a connection the gateway closes meanwhile has nothing
    loaded."""
    from server.gateway import core

    started, release = threading.Event(), threading.Event()
    loop_thread = threading.get_ident()
    real = core._checked_upload

    def held(*args: Any) -> Any:
        assert threading.get_ident() != loop_thread  # not on the event loop's thread
        checked = real(*args)
        started.set()
        assert release.wait(10)
        return checked

    monkeypatch.setattr(core, "_checked_upload", held)
    gateway, sent = basket_gateway(chunk_rows=100, in_flight=2)
    uploader, other = logged_in(gateway, 1), logged_in(gateway, 2, "trader2")
    gateway.on_frame(uploader, upload([f"A1,c{i},IBM,buy,1" for i in range(5)]))
    assert await asyncio.to_thread(started.wait, 10)  # checked, and held in its thread
    gateway.on_frame(other, json.dumps({"op": "get_account", "id": 9, "account": "B1"}))
    gateway.outbox.flush()
    assert [type(m).__name__ for m in sent] == ["QueryAccount"]  # the other session's request: not held up
    release.set()
    await checked(uploader)
    gateway.outbox.flush()
    assert [m.orders.client_order_ids for m in sent if isinstance(m, LoadOrders)] == [[f"c{i}" for i in range(5)]]

    started.clear()
    release.clear()
    closed = logged_in(gateway, 3)
    gateway.on_frame(closed, upload(["A1,d1,IBM,buy,1"]))
    assert await asyncio.to_thread(started.wait, 10)
    closed.close(1008, "too slow")  # the gateway closes it while its basket is checked
    release.set()
    await checked(closed)
    gateway.outbox.flush()
    assert [m.orders.client_order_ids for m in sent if isinstance(m, LoadOrders)] == [[f"c{i}" for i in range(5)]]  # nothing more


async def test_a_failure_after_the_check_is_answered_and_the_connection_carries_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """Something no check foresaw failing once the basket is checked: the upload is answered
    ``invalid_request``, nothing loads, and the connection's next request is served."""
    gateway, sent = basket_gateway(chunk_rows=100, in_flight=2)
    conn = logged_in(gateway)

    def broken(*args: Any) -> None:
        raise RuntimeError("no chunks today")

    monkeypatch.setattr(gateway.baskets, "start", broken)
    gateway.on_frame(conn, upload(["A1,c1,IBM,buy,1"]))
    await checked(conn)
    gateway.outbox.flush()
    [answer] = replies(conn)
    assert (answer["id"], answer["code"]) == (5, "invalid_request") and sent == []
    gateway.on_frame(conn, json.dumps({"op": "get_account", "id": 6, "account": "A1"}))
    gateway.outbox.flush()
    assert [type(m).__name__ for m in sent] == ["QueryAccount"]
