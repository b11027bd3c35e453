"""The Gateway Ray actor: the WebSocket server runs on this actor's event loop (uvloop,
which Ray uses for async actors when it is installed)."""

from __future__ import annotations

from typing import Any

import ray

from actors.hop import Outbox, Router
from actors.link import Links, LinkServer, link_host
from actors.logs import configure
from model.config import Setup
from server.gateway import Gateway


@ray.remote
class GatewayActor:
    """Serves traders on one port; events for them arrive through ``on_batch``."""

    def __init__(self, name: str, setup: Setup, gateways: int) -> None:
        self.name = name
        self.setup = setup
        configure(setup.config.logging.level)
        self.router = Router(setup.config, gateways)
        self.handles: dict[str, Any] = {}
        self.gateway: Gateway | None = None

    async def open_link(self) -> tuple[str, int]:
        """Listen for event batches from the actors; returns the address to give them."""
        self.link_server = LinkServer(self._receive)
        return await self.link_server.start(link_host(self.setup.config))

    async def wire(self, handles: dict[str, Any], addresses: dict[str, tuple[str, int]]) -> None:
        self.handles = handles
        self.links = Links(addresses)
        outbox = Outbox(self.name, self.router, self.setup.config.batching, self.links.send)
        supervisor = handles.get("supervisor")
        admin = None if supervisor is None else self._admin
        self.gateway = Gateway(self.name, self.setup, outbox, admin)

    def _receive(self, data: bytes) -> None:
        assert self.gateway is not None
        self.gateway.on_batch(data)

    async def _admin(self, command: str, args: list[str]) -> dict[str, Any]:
        result: dict[str, Any] = await self.handles["supervisor"].admin.remote(command, args)
        return result

    async def start(self, host: str, port: int) -> int:
        assert self.gateway is not None
        return await self.gateway.start(host, port)

    async def stop(self) -> None:
        if self.gateway is not None:
            await self.gateway.stop()

    async def on_batch(self, data: bytes) -> None:
        assert self.gateway is not None
        self.gateway.on_batch(data)

    async def flush(self) -> None:
        if self.gateway is not None:
            self.gateway.outbox.flush()

    async def status(self) -> dict[str, Any]:
        return self.gateway.status() if self.gateway else {"name": self.name}
