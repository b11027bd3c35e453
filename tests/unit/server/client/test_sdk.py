"""server/client/sdk.py against a tiny brokerd stand-in on a real loopback socket
(``fake_broker``): the stand-in checks the login signature itself (its own HMAC, not the
client's helper) and then plays a per-test script of canned replies.
"""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal

import pytest
from websockets.asyncio.server import ServerConnection

from server.client.sdk import BrokerClient, LoginError
from tests.unit.server.client.fake_broker import KEY, SECRET, WAIT, FakeBroker, Message, connect, execution, running

# --------------------------------------------------------------------------- login


async def test_login_is_signed_with_hmac_of_ts_and_nonce_and_exposes_role_and_accounts() -> None:
    async with running() as (broker, url):
        client = await connect(url)
        await client.close()
    login = broker.received[0]
    assert set(login) == {"op", "id", "key", "ts", "nonce", "sig"}
    assert len(login["nonce"]) == 32 and int(login["nonce"], 16) >= 0
    assert abs(login["ts"] - time.time_ns() // 1_000_000) < WAIT * 1000
    assert (client.role, client.accounts) == ("trader", ("A1", "A2"))


async def test_each_login_uses_a_fresh_nonce() -> None:
    async with running() as (broker, url):
        async with BrokerClient(url, KEY, SECRET, proxy=None):
            pass
        async with BrokerClient(url, KEY, SECRET, proxy=None):
            pass
    assert len(broker.used_nonces) == 2


@pytest.mark.parametrize(
    "refusal",
    [
        {"type": "login", "ok": False, "code": "not_authenticated", "message": "bad signature"},
        {"type": "error", "code": "not_authenticated", "message": "bad signature"},
    ],
)
async def test_login_with_a_wrong_secret_raises_login_error_with_the_server_code(refusal: Message) -> None:
    async with running(refusal=refusal) as (_, url):
        with pytest.raises(LoginError) as raised:
            await connect(url, secret="not-the-secret")
    assert (raised.value.code, raised.value.message) == ("not_authenticated", "bad signature")


# --------------------------------------------------------------------------- replies


async def test_replies_are_matched_by_id_even_when_they_arrive_out_of_order() -> None:
    async def reverse_replies(broker: FakeBroker, websocket: ServerConnection) -> None:
        first, second = await broker.recv(websocket), await broker.recv(websocket)
        await broker.send(websocket, {"type": "quote", "symbol": "IBM", "bid": "1", "ask": "2"})
        await broker.send(websocket, {"type": "error", "id": 999, "code": "invalid_request", "message": "stray"})
        for request in (second, first):
            await broker.send(websocket, {"type": "account", "id": request["id"], "account": request["account"]})
        await websocket.wait_closed()

    async with running(reverse_replies) as (broker, url):
        client = await connect(url)
        a1, a2 = await asyncio.gather(client.get_account("A1", timeout=WAIT), client.get_account("A2", timeout=WAIT))
        await client.close()
    assert (a1["account"], a2["account"]) == ("A1", "A2")
    assert [m["id"] for m in broker.received] == [1, 2, 3]


async def test_new_orders_collects_one_reply_per_order_in_the_orders_order() -> None:
    async def batch_replies(broker: FakeBroker, websocket: ServerConnection) -> None:
        frame = await broker.recv(websocket)
        request_id = frame["id"]
        await broker.send(websocket, execution(request_id, "c-2", "pending_new", "pending_new"))
        await broker.send(websocket, {"type": "quote", "symbol": "IBM", "bid": "1", "ask": "2"})
        # a later report of c-2 under the same id: not a reply, must not complete the batch early
        await broker.send(websocket, execution(request_id, "c-2", "new", "new"))
        await broker.send(websocket, execution(request_id, "c-3", "rejected", "rejected"))
        await broker.send(
            websocket,
            {"type": "error", "id": request_id, "code": "unknown_symbol", "message": "XYZ", "client_order_id": "c-1"},
        )
        await websocket.wait_closed()

    orders = [
        {
            "account": "A1",
            "client_order_id": f"c-{n}",
            "symbol": "IBM",
            "side": "buy",
            "type": "market",
            "qty": Decimal(n),
            "tif": "day",
        }
        for n in (1, 2, 3)
    ]
    async with running(batch_replies) as (broker, url):
        client = await connect(url)
        replies = await client.new_orders(orders, timeout=WAIT)
        await client.close()
    assert [(r["type"], r.get("client_order_id"), r.get("exec_type")) for r in replies] == [
        ("error", "c-1", None),
        ("execution", "c-2", "pending_new"),
        ("execution", "c-3", "rejected"),
    ]
    assert [order["qty"] for order in broker.received[1]["orders"]] == ["1", "2", "3"]


async def test_new_orders_ends_at_an_error_that_answers_the_whole_frame() -> None:
    async def rate_limit(broker: FakeBroker, websocket: ServerConnection) -> None:
        frame = await broker.recv(websocket)
        await broker.send(websocket, {"type": "error", "id": frame["id"], "code": "rate_limited", "message": "slow down"})
        await websocket.wait_closed()

    orders = [{"account": "A1", "client_order_id": f"c-{n}", "symbol": "IBM", "side": "buy", "qty": "1"} for n in (1, 2)]
    async with running(rate_limit) as (_, url):
        client = await connect(url)
        replies = await client.new_orders(orders, timeout=WAIT)
        await client.close()
    assert [reply["code"] for reply in replies] == ["rate_limited"]


async def test_get_orders_follows_next_cursor_and_stops_at_an_error_page() -> None:
    pages = {None: (["c-1", "c-2"], "o-c-2"), "o-c-2": (["c-3"], "o-c-3")}

    async def paged(broker: FakeBroker, websocket: ServerConnection) -> None:
        async for frame in broker.requests(websocket):
            if frame.get("cursor") not in pages:
                await broker.send(websocket, {"type": "error", "id": frame["id"], "code": "invalid_request", "message": "bad cursor"})
                continue
            coids, cursor = pages[frame.get("cursor")]
            orders = [execution(None, coid, "new", "new") for coid in coids]
            await broker.send(websocket, {"type": "orders", "id": frame["id"], "account": "A1", "next_cursor": cursor, "orders": orders})

    async with running(paged) as (broker, url):
        client = await connect(url)
        failed = await client.get_orders("A1", limit=2, timeout=WAIT)
        pages["o-c-3"] = (["c-4"], None)
        listed = await client.get_orders("A1", open_only=True, limit=2, timeout=WAIT)
        await client.close()
    assert (failed["type"], failed["code"]) == ("error", "invalid_request")
    assert [o["client_order_id"] for o in listed["orders"]] == ["c-1", "c-2", "c-3", "c-4"] and listed["next_cursor"] is None
    asked = [(m.get("cursor"), m.get("limit"), m.get("open_only")) for m in broker.received if m.get("op") == "get_orders"]
    assert asked[3:] == [(None, 2, True), ("o-c-2", 2, True), ("o-c-3", 2, True)]


async def test_a_request_without_reply_times_out_and_is_forgotten() -> None:
    async with running() as (_, url):
        client = await connect(url)
        with pytest.raises(TimeoutError):
            await client.get_orders("A1", timeout=0.05)
        assert client._pending == {}
        await client.close()


# --------------------------------------------------------------------------- decimals


async def test_float_decimal_arguments_are_refused_before_anything_is_sent() -> None:
    async def accept_orders(broker: FakeBroker, websocket: ServerConnection) -> None:
        async for order in broker.requests(websocket):
            await broker.send(websocket, execution(order["id"], order["client_order_id"], "new", "new"))

    async with running(accept_orders) as (broker, url):
        client = await connect(url)
        with pytest.raises(TypeError):
            await client.new_order("A1", "c-1", "IBM", "buy", qty=1.5)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            await client.new_order("A1", "c-1", "IBM", "buy", "limit", qty="1", price=150.25)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            await client.new_orders([{"account": "A1", "client_order_id": "c-1", "notional": 10.0}])
        with pytest.raises(TypeError):
            await client.replace_order("A1", "c-1", "c-2", qty=2.0)  # type: ignore[arg-type]
        reply = await client.new_order(
            "A1",
            "c-9",
            "IBM",
            "buy",
            "stop_limit",
            qty=Decimal("1.30"),
            price=150,
            stop_price=Decimal("1E+2"),
            timeout=WAIT,
        )
        await client.close()
    assert reply["client_order_id"] == "c-9"
    sent = broker.received[1:]
    assert len(sent) == 1
    assert (sent[0]["qty"], sent[0]["price"], sent[0]["stop_price"]) == ("1.30", "150", "100")
    assert "notional" not in sent[0]


# --------------------------------------------------------------------------- disconnects


async def test_pending_requests_and_waits_fail_with_connection_error_when_the_server_disconnects() -> None:
    async def hang_up_after_one_request(broker: FakeBroker, websocket: ServerConnection) -> None:
        await broker.recv(websocket)

    async with running(hang_up_after_one_request) as (_, url):
        client = await connect(url)
        waiting = asyncio.create_task(client.wait_for(lambda message: False, timeout=WAIT))
        with pytest.raises(ConnectionError):
            await client.get_account("A1", timeout=WAIT)
        with pytest.raises(ConnectionError):
            await waiting
        with pytest.raises(ConnectionError):
            await client.get_account("A1", timeout=WAIT)
        assert client.closed
        async with asyncio.timeout(WAIT):
            received = [message["type"] async for message in client.events()]
        await client.close()
    assert received == ["login"]


async def test_a_frame_that_is_not_a_json_object_ends_the_connection() -> None:
    async def send_garbage(broker: FakeBroker, websocket: ServerConnection) -> None:
        await broker.recv(websocket)
        await websocket.send("[1, 2]")
        await websocket.wait_closed()

    async with running(send_garbage) as (_, url):
        client = await connect(url)
        with pytest.raises(ConnectionError, match="neither a JSON object"):
            await client.get_orders("A1", timeout=WAIT)
        await client.close()


# --------------------------------------------------------------------------- events


async def unsolicited_fill_then_answers(broker: FakeBroker, websocket: ServerConnection) -> None:
    await broker.send(websocket, execution(None, "old", "trade", "filled"))
    async for request in broker.requests(websocket):
        await broker.send(websocket, {"type": "account", "id": request["id"], "account": "A1"})


async def test_wait_for_finds_a_message_already_in_the_history() -> None:
    async with running(unsolicited_fill_then_answers) as (_, url):
        client = await connect(url)
        await client.get_account("A1", timeout=WAIT)  # the fill was sent before this reply
        fill = await client.wait_for(lambda message: message.get("status") == "filled", timeout=0.01)
        with pytest.raises(TimeoutError):
            await client.wait_for(lambda message: message.get("status") == "filled", timeout=0.05, since=len(client.history))
        await client.close()
    assert fill["client_order_id"] == "old"


async def test_wait_for_waits_for_a_message_still_to_come() -> None:
    async with running(unsolicited_fill_then_answers) as (_, url):
        client = await connect(url)
        waiting = asyncio.create_task(client.wait_for(lambda m: m.get("type") == "account", timeout=WAIT))
        await asyncio.sleep(0)
        assert not waiting.done()
        reply = await client.get_account("A1", timeout=WAIT)
        assert await waiting is reply
        await client.close()


async def test_events_yields_every_message_in_arrival_order_and_ends_after_close() -> None:
    async with running(unsolicited_fill_then_answers) as (_, url):
        client = await connect(url)
        await client.get_account("A1", timeout=WAIT)
        await client.close()
        async with asyncio.timeout(WAIT):
            types = [message["type"] async for message in client.events()]
    assert types == ["login", "execution", "account"]


# --------------------------------------------------------------------------- batched frames


async def test_a_batching_client_asks_for_batch_and_handles_an_array_message_by_message_in_order() -> None:
    async def answers_in_one_array(broker: FakeBroker, websocket: ServerConnection) -> None:
        frame = await broker.recv(websocket)
        request_id = frame["id"]
        quote = {"type": "quote", "symbol": "IBM", "bid": "1", "ask": "2"}
        await websocket.send(json.dumps([quote, execution(request_id, "c-2", "new", "new"), execution(request_id, "c-1", "new", "new")]))
        await websocket.wait_closed()

    orders = [{"account": "A1", "client_order_id": cid, "symbol": "IBM", "side": "buy", "type": "market", "qty": "1"} for cid in ("c-1", "c-2")]
    async with running(answers_in_one_array) as (broker, url):
        async with BrokerClient(url, KEY, SECRET, batch=True, proxy=None) as client:
            replies = await client.new_orders(orders, timeout=WAIT)
            seen = [(message["type"], message.get("client_order_id")) for message in client.history]
    assert broker.received[0]["batch"] is True
    assert [reply["client_order_id"] for reply in replies] == ["c-1", "c-2"]  # aligned with the orders
    assert seen == [("login", None), ("quote", None), ("execution", "c-2"), ("execution", "c-1")]  # the array's order
