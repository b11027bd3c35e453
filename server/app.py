"""Starting and stopping the whole server inside a Ray cluster (used by ``run_server.py``
and by the integration tests, which share one cluster per session)."""

from __future__ import annotations

from typing import Any

import ray

from actors.options import supervisor_options
from actors.supervisor.actor import SupervisorActor
from model.config import Setup


class BrokerServer:
    """One brokerd topology. ``start`` returns when it takes orders."""

    def __init__(self, setup: Setup, host: str, ws_port: int) -> None:
        self.setup = setup
        self.host = host
        self.ws_port = ws_port
        self.supervisor: Any = None

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.ws_port}"

    async def start(self) -> str:
        namespace = self.setup.config.topology.namespace
        self.supervisor = SupervisorActor.options(**supervisor_options(namespace)).remote(self.setup)  # type: ignore[attr-defined]
        started = await self.supervisor.start.remote(self.host, self.ws_port)
        self.ws_port = started["ws_port"]
        return self.url

    async def stop(self) -> None:
        """Stop taking orders and flush every outbox, then end every actor."""
        if self.supervisor is None:
            return
        await self.supervisor.stop.remote()
        await self.supervisor.shutdown.remote()
        ray.kill(self.supervisor)
        self.supervisor = None
