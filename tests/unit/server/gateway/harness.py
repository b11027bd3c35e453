"""A gateway without sockets for the unit tests: frames in, the connections' queues and the
commands for the shards out."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve

from actors.runtime.outbox import Outbox
from actors.runtime.router import Router
from model.config import SecretsSection, Setup
from model.messages import GatewayServes, decode_batch
from server.gateway.auth import signature
from server.gateway.connection import Connection
from server.gateway.core import Gateway
from server.gateway.ratelimit import TokenBucket
from tests.conftest import demo_setup
from tests.unit.keystore.support import secrets_in


class NoSocket:
    """Where the websockets connection would be: these tests read the connection's queue."""

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """A close the gateway starts (``Connection.close``): nothing to tell here."""


def commands(data: bytes) -> list[Any]:
    """A batch the gateway sent, without its announcements of who follows what
    (``GatewayServes``: every login and close makes some; ``test_interest.py`` reads them)."""
    return [message for message in decode_batch(data).messages if not isinstance(message, GatewayServes)]


def make_gateway(**limits: int) -> tuple[Gateway, list[Any]]:
    setup = demo_setup()
    gateway_config = msgspec.structs.replace(setup.config.gateway, **limits)
    config = msgspec.structs.replace(setup.config, gateway=gateway_config)
    setup = msgspec.structs.replace(setup, config=config)
    sent: list[Any] = []
    outbox = Outbox("gateway-0", Router(config), config.batching, lambda name, data: sent.extend(commands(data)))
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


@asynccontextmanager
async def socket_pair(**client_options: Any) -> AsyncIterator[tuple[ServerConnection, ClientConnection]]:
    """A real WebSocket connection on loopback: the server's end (what a ``Connection``
    wraps) and the client's."""
    accepted: asyncio.Queue[ServerConnection] = asyncio.Queue()

    async def handler(socket: ServerConnection) -> None:
        await accepted.put(socket)
        await socket.wait_closed()

    async with serve(handler, "127.0.0.1", 0, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", compression=None, **client_options) as client:
            yield await accepted.get(), client


def keyed_setup(folder: Path, **gateway: object) -> Setup:
    """The demo setup with a master key, the API keys and the MFA enrolments in ``folder``
    (its data dir), and ``[gateway]`` settings changed as given."""
    setup = demo_setup()
    key = folder / "master.key"
    section = SecretsSection(master_key_file=str(key), vault_file=str(folder / "vault.json")) if key.exists() else secrets_in(folder)
    config = msgspec.structs.replace(
        setup.config,
        server=msgspec.structs.replace(setup.config.server, data_dir=str(folder)),
        secrets=section,
        gateway=msgspec.structs.replace(setup.config.gateway, **gateway),  # type: ignore[arg-type]
    )
    return msgspec.structs.replace(setup, config=config)
