"""Login, authorisation and bad input over a real WebSocket: each gets a clear error and
changes nothing."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

from server.app import BrokerServer
from server.gateway.auth import signature
from server.client.sdk import LoginError
from tests.integration.helpers import cloid, connect

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def exchange(socket: ClientConnection, message: dict[str, Any] | str) -> dict[str, Any]:
    await socket.send(message if isinstance(message, str) else json.dumps(message))
    reply: dict[str, Any] = json.loads(await socket.recv())
    return reply


def login(key: str = "trader1", secret: str = "trader1-secret", ts: int | None = None, nonce: str | None = None) -> dict[str, Any]:
    ts = int(time.time() * 1000) if ts is None else ts
    nonce = nonce or cloid("nonce")
    return {"op": "login", "id": 1, "key": key, "ts": ts, "nonce": nonce, "sig": signature(secret, ts, nonce)}


async def test_good_login_names_role_and_accounts(server: BrokerServer) -> None:
    async with ws_connect(server.url) as socket:
        reply = await exchange(socket, login())
        scopes = ["admin", "read", "trade", "transfer"]
        assert reply == {"id": 1, "type": "login", "ok": True, "role": "trader", "tenant": "default", "scopes": scopes, "accounts": ["A1", "A2"], "gateway": "gateway-0"}


@pytest.mark.parametrize(
    ("case", "message_part"),
    [("wrong_secret", "signature"), ("unknown_key", "signature"), ("stale", "server time"), ("future", "server time")],
)
async def test_bad_logins_are_refused(server: BrokerServer, case: str, message_part: str) -> None:
    now = int(time.time() * 1000)
    request = {
        "wrong_secret": login(secret="guess"),
        "unknown_key": login(key="mallory"),
        "stale": login(ts=now - 31_000),
        "future": login(ts=now + 31_000),
    }[case]
    async with ws_connect(server.url) as socket:
        reply = await exchange(socket, request)
        assert (reply["type"], reply["code"], reply["id"]) == ("error", "not_authenticated", 1)
        assert message_part in reply["message"]
        refused = await exchange(socket, {"op": "get_account", "id": 2, "account": "A1"})
        assert refused["code"] == "not_authenticated"


async def test_a_replayed_nonce_is_refused(server: BrokerServer) -> None:
    request = login()
    async with ws_connect(server.url) as first:
        assert (await exchange(first, request))["ok"] is True
    async with ws_connect(server.url) as second:
        reply = await exchange(second, request)
        assert reply["code"] == "not_authenticated" and "nonce" in reply["message"]


async def test_the_client_raises_login_error_on_refusal(server: BrokerServer) -> None:
    with pytest.raises(LoginError):
        async with connect(server.url, "trader1", "wrong"):
            pass


async def test_orders_before_login_are_refused(server: BrokerServer) -> None:
    async with ws_connect(server.url) as socket:
        order = {"op": "new_order", "id": 5, "account": "A1", "client_order_id": "x", "symbol": "IBM", "side": "buy", "type": "market", "qty": "1"}
        reply = await exchange(socket, order)
        assert (reply["type"], reply["code"], reply["id"]) == ("error", "not_authenticated", 5)


GOOD = {"op": "new_order", "id": 9, "account": "T20", "symbol": "IBM", "side": "buy", "type": "limit", "qty": "1", "price": "140.00"}

# One case per layer a frame passes, each to show that its refusal reaches the client as an
# ``error`` and changes nothing on a running server. Every case of each layer is in the unit
# tests of that layer: tests/unit/server/gateway/test_protocol.py (decoding),
# test_validation.py (reference data), test_access.py (whose account).
BAD_INPUT = [
    ("malformed json", "{not json", "invalid_request", "malformed JSON"),
    ("unknown field", {**GOOD, "colour": "red"}, "invalid_request", "colour"),
    ("price off tick", {**GOOD, "price": "140.001"}, "invalid_request", "tick"),
    ("unknown symbol", {**GOOD, "symbol": "NOPE"}, "unknown_symbol", "NOPE"),
    ("another user's account", {**GOOD, "account": "A1"}, "forbidden", "A1"),
]


@pytest.mark.parametrize(("case", "frame", "code", "message_part"), BAD_INPUT, ids=[case[0] for case in BAD_INPUT])
async def test_bad_input_gets_a_clear_error_and_changes_nothing(
    server: BrokerServer, case: str, frame: dict[str, Any] | str, code: str, message_part: str
) -> None:
    async with connect(server.url) as client:
        before = await client.get_orders("T20")
        if isinstance(frame, dict):
            frame = json.dumps({"client_order_id": cloid(), **{k: v for k, v in frame.items() if v is not None}})
        reply = await _raw(server, frame)
        assert reply["type"] == "error", reply
        assert reply["code"] == code, reply
        assert message_part in reply["message"], reply
        after = await client.get_orders("T20")
        assert after["orders"] == before["orders"]
        account = await client.get_account("T20")
        assert account["cash"] == account["buying_power"] == "1000000.00"


async def _raw(server: BrokerServer, frame: str) -> dict[str, Any]:
    async with ws_connect(server.url) as socket:
        await exchange(socket, login("tester", "tester-secret"))
        return await exchange(socket, frame)


async def test_a_trader_cannot_see_or_cancel_another_users_account(server: BrokerServer) -> None:
    async with connect(server.url, "trader2", "trader2-secret") as intruder:
        for reply in (
            await intruder.get_account("A1"),
            await intruder.get_orders("A1"),
            await intruder.cancel_order("A1", "anything"),
            await intruder.cancel_all("A1"),
        ):
            assert (reply["type"], reply["code"]) == ("error", "forbidden")


async def test_quote_stream_carries_consolidated_quotes_as_decimal_strings(server: BrokerServer) -> None:
    async with connect(server.url) as client:
        reply = await client.subscribe(["executions", "quotes:IBM"])
        assert reply["type"] == "subscribed"
        quote = await client.wait_for(lambda m: m.get("type") == "quote" and m.get("symbol") == "IBM", timeout=10)
        assert isinstance(quote["bid"], str) and isinstance(quote["ask"], str)
        assert Decimal(quote["bid"]) < Decimal(quote["ask"])
        bad = await client.subscribe(["quotes:NOPE"])
        assert bad["code"] == "unknown_symbol"


async def test_halted_symbol_rejects_orders_until_resumed(server: BrokerServer) -> None:
    async with connect(server.url, "admin", "admin-secret") as admin, connect(server.url) as client:
        halted = await admin.request({"op": "admin", "command": "halt", "args": ["SPY"]})
        assert halted["type"] == "admin" and halted["result"]["halted"] is True
        refused = await client.new_order("T21", cloid(), "SPY", "buy", type="limit", qty="1", price="550.00")
        assert (refused["status"], refused["reason"]) == ("rejected", "halted")
        await admin.request({"op": "admin", "command": "resume", "args": ["SPY"]})
        accepted = await client.new_order("T21", cloid(), "SPY", "buy", type="limit", qty="1", price="550.00")
        assert accepted["status"] == "new"
        trader_try = await client.request({"op": "admin", "command": "halt", "args": ["SPY"]})
        assert trader_try["code"] == "forbidden"
