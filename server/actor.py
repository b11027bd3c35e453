"""The Gateway Ray actor: the WebSocket server runs on this actor's event loop (uvloop,
which Ray uses for async actors when it is installed)."""

from __future__ import annotations

from typing import Any

import ray

from actors.runtime import LinkedHost
from model.config import Setup
from server.gateway import Gateway


@ray.remote
class GatewayActor(LinkedHost):
    """Serves traders on one port; events for them arrive as batches over its link."""

    def __init__(self, name: str, setup: Setup, gateways: int) -> None:
        super().__init__(name, setup.config, gateways)
        self.setup = setup
        self.gateway: Gateway | None = None

    def wired(self) -> None:
        assert self.outbox is not None
        admin = self._admin if "supervisor" in self.handles else None
        self.gateway = Gateway(self.name, self.setup, self.outbox, admin)

    def receive(self, data: bytes) -> None:
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

    async def status(self) -> dict[str, Any]:
        return self.gateway.status() if self.gateway else {"name": self.name}
