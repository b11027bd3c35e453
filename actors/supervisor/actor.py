"""The Supervisor Ray actor: creates and wires the topology, serves admin commands.

On the control path only: no order passes through it, so awaiting other actors here is
fine.
"""

from __future__ import annotations

import asyncio
from typing import Any

import ray
import structlog

from actors.accounts.actor import AccountActor
from actors.hop import SUPERVISOR, Outbox, Router
from actors.instruments.actor import InstrumentActor
from actors.logs import configure
from actors.options import actor_options
from actors.supervisor.state import ActorPlan, SupervisorState, plan
from actors.venues.actor import VenueActor
from model.config import Setup
from server.actor import GatewayActor

log = structlog.get_logger("supervisor")


@ray.remote
class SupervisorActor:
    """Owns the topology. ``start`` returns once every actor is wired and serving."""

    def __init__(self, setup: Setup, gateways: int = 1) -> None:
        self.setup = setup
        self.gateway_count = gateways
        configure(setup.config.logging.level)
        self.plans = plan(setup, gateways)
        self.router = Router(setup.config, gateways)
        self.state = SupervisorState(setup)
        self.handles: dict[str, Any] = {}
        self.outbox: Outbox | None = None
        self.ws_port = 0
        self.in_flight: list[Any] = []

    async def start(self, host: str, ws_port: int) -> dict[str, Any]:
        namespace = self.setup.config.topology.namespace
        for actor_plan in self.plans:
            self.handles[actor_plan.name] = self._create(actor_plan, namespace)
        self.handles[SUPERVISOR] = ray.get_runtime_context().current_actor
        names = [p.name for p in self.plans]
        addresses = dict(zip(names, await asyncio.gather(*(self.handles[name].open_link.remote() for name in names)), strict=True))
        await asyncio.gather(*(self.handles[name].wire.remote(self.handles, addresses) for name in names))
        self.outbox = Outbox(SUPERVISOR, self.router, self.setup.config.batching, self._deliver)
        await asyncio.gather(*(self.handles[p.name].start.remote() for p in self.plans if p.role == "venue"))
        ports = await asyncio.gather(*(self.handles[p.name].start.remote(host, ws_port) for p in self.plans if p.role == "gateway"))
        self.ws_port = ports[0]
        log.info("started", actors=len(self.plans), ws_port=self.ws_port)
        return {"ws_port": self.ws_port, "actors": [p.name for p in self.plans]}

    def _create(self, actor_plan: ActorPlan, namespace: str) -> Any:
        options = actor_options(actor_plan.name, namespace)
        config = self.setup.config
        if actor_plan.role == "account":
            return AccountActor.options(**options).remote(  # type: ignore[attr-defined]
                actor_plan.name, config, actor_plan.instruments, actor_plan.accounts)
        if actor_plan.role == "instrument":
            return InstrumentActor.options(**options).remote(  # type: ignore[attr-defined]
                actor_plan.name, config, actor_plan.instruments)
        if actor_plan.role == "venue":
            assert actor_plan.venue is not None
            return VenueActor.options(**options).remote(  # type: ignore[attr-defined]
                actor_plan.name, config, actor_plan.venue, actor_plan.instruments)
        return GatewayActor.options(**options).remote(  # type: ignore[attr-defined]
                actor_plan.name, self.setup, self.gateway_count)

    def _deliver(self, name: str, data: bytes) -> None:
        self.in_flight.append(self.handles[name].on_batch.remote(data))

    async def _send_control(self) -> None:
        """Send the core's control messages and wait until every receiver applied them, so an
        operator's command has taken effect when its answer comes back."""
        assert self.outbox is not None
        self.outbox.post(self.state.out.drain())
        self.outbox.flush()
        in_flight, self.in_flight = self.in_flight, []
        await asyncio.gather(*in_flight)

    async def admin(self, command: str, args: list[str]) -> dict[str, Any]:
        """Operator commands. Raises ``ValueError`` with a readable reason on bad input."""
        if command == "status":
            return await self.status()
        if command in ("halt", "resume"):
            if len(args) != 1:
                raise ValueError(f"usage: {command} SYMBOL")
            try:
                self.state.set_halted(args[0], command == "halt")
            except KeyError as unknown:
                raise ValueError(str(unknown.args[0])) from None
            await self._send_control()
            return {"ok": True, "symbol": args[0], "halted": command == "halt"}
        raise ValueError(f"unknown admin command {command!r}")

    async def status(self) -> dict[str, Any]:
        names = [p.name for p in self.plans]
        statuses = await asyncio.gather(*(self.handles[name].status.remote() for name in names))
        return {"ok": True, "ws_port": self.ws_port, "halted": sorted(self.state.halted), "actors": statuses}

    async def flush_all(self) -> None:
        await asyncio.gather(*(self.handles[p.name].flush.remote() for p in self.plans))

    async def stop(self) -> None:
        """Stop taking orders: close the gateways, then flush every outbox."""
        await asyncio.gather(*(self.handles[p.name].stop.remote() for p in self.plans if p.role == "gateway"))
        await self.flush_all()

    async def shutdown(self) -> None:
        """End every actor of the topology (the supervisor itself is ended by its owner)."""
        for name, handle in self.handles.items():
            if name != SUPERVISOR:
                ray.kill(handle)

    async def check_invariants(self) -> None:
        await asyncio.gather(*(self.handles[p.name].check_invariants.remote() for p in self.plans if p.role in ("account", "instrument")))

    async def state_hashes(self) -> dict[str, str]:
        names = [p.name for p in self.plans if p.role != "gateway"]
        hashes = await asyncio.gather(*(self.handles[name].state_hash.remote() for name in names))
        return dict(zip(names, hashes, strict=True))
