"""A tiny brokerd stand-in on a real loopback socket, for the SDK's and the command line's tests.

It checks the login signature itself (its own HMAC, not the client's helper) and then
plays a per-test script of canned replies.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.server import ServerConnection, serve

from server.client.sdk import BrokerClient

KEY = "trader1"
SECRET = "trader1-secret"
LOGIN_WINDOW_MS = 30_000
WAIT = 5.0  # seconds: generous upper bound for anything that should happen at once

Message = dict[str, Any]


class FakeBroker:
    """Accepts one login per connection, then runs ``script``; records every client frame."""

    def __init__(
        self,
        script: Callable[[FakeBroker, ServerConnection], Awaitable[None]],
        refusal: Message | None = None,
    ) -> None:
        self.script = script
        self.refusal = refusal or {
            "type": "login",
            "ok": False,
            "code": "not_authenticated",
            "message": "bad signature",
        }
        self.received: list[Message] = []
        self.used_nonces: set[str] = set()

    async def handle(self, websocket: ServerConnection) -> None:
        login = await self.recv(websocket)
        if not self.signature_is_valid(login):
            await self.send(websocket, {**self.refusal, "id": login.get("id")})
            return
        await self.send(
            websocket,
            {"type": "login", "id": login["id"], "ok": True, "role": "trader", "accounts": ["A1", "A2"]},
        )
        await self.script(self, websocket)

    def signature_is_valid(self, login: Message) -> bool:
        ts, nonce = login.get("ts"), login.get("nonce")
        if login.get("op") != "login" or login.get("key") != KEY or not isinstance(ts, int):
            return False
        if abs(ts - time.time_ns() // 1_000_000) > LOGIN_WINDOW_MS or nonce in self.used_nonces:
            return False
        self.used_nonces.add(str(nonce))
        expected = hmac.new(SECRET.encode(), f"{ts}:{nonce}:login".encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, str(login.get("sig")))

    async def recv(self, websocket: ServerConnection) -> Message:
        frame = await websocket.recv()
        assert isinstance(frame, str), "the protocol uses text frames"
        message: Message = json.loads(frame)
        self.received.append(message)
        return message

    async def requests(self, websocket: ServerConnection) -> AsyncIterator[Message]:
        """Every further client frame, until the client closes the connection."""
        async for frame in websocket:
            message: Message = json.loads(frame)
            self.received.append(message)
            yield message

    async def send(self, websocket: ServerConnection, message: Message) -> None:
        await websocket.send(json.dumps(message))


async def stay_open(broker: FakeBroker, websocket: ServerConnection) -> None:
    await websocket.wait_closed()


@asynccontextmanager
async def running(
    script: Callable[[FakeBroker, ServerConnection], Awaitable[None]] = stay_open,
    refusal: Message | None = None,
) -> AsyncIterator[tuple[FakeBroker, str]]:
    broker = FakeBroker(script, refusal)
    async with serve(broker.handle, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield broker, f"ws://127.0.0.1:{port}"


async def connect(url: str, secret: str = SECRET) -> BrokerClient:
    return await BrokerClient.connect(url, KEY, secret, proxy=None)


def execution(
    request_id: int | None,
    client_order_id: str,
    exec_type: str,
    status: str,
    order_id: str | None = None,
    exec_id: str | None = None,
) -> Message:
    return {
        "type": "execution",
        "id": request_id,
        "account": "A1",
        "order_id": order_id or f"o-{client_order_id}",
        "client_order_id": client_order_id,
        "exec_id": exec_id or f"e-{client_order_id}-{exec_type}",
        "exec_type": exec_type,
        "status": status,
        "symbol": "IBM",
        "side": "buy",
        "qty": "1",
        "cum_qty": "0",
        "leaves_qty": "1",
        "reason": None,
        "ts": 0,
    }
