"""Starting and stopping the whole server inside a Ray cluster (used by ``run_server.py``
and by the integration tests, which share one cluster per session)."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import ray
import structlog

from actors.runtime.options import supervisor_options
from actors.runtime.outputs import GATEWAY
from actors.runtime.placement import check_cluster, node_of, placement_options
from actors.runtime.roles import ROLES, Role, Shutdown
from actors.runtime.router import SUPERVISOR
from actors.supervisor.actor import SupervisorActor
from actors.supervisor.core import ActorPlan, gateway_plans, plan
from model.config import Setup
from server.gateway.actor import GatewayActor
from server.gateway.tls import scheme

log = structlog.get_logger("server")
PING_PATIENCE_S = 5.0  # a ping unanswered this long is logged as slow, never taken for a death


def _gateway_actor() -> Any:
    return GatewayActor


def _gateway_args(actor_plan: ActorPlan, setup: Setup, gateways: int) -> tuple[Any, ...]:
    # the accounts follow by add_accounts: creation arguments must stay small to restart
    return actor_plan.name, msgspec.structs.replace(setup, accounts=[]), gateways


# The gateway is the server's role: the supervisor learns it from here, so nothing under
# actors/ imports server/. Soft state, no journal; stopped first at shutdown.
GATEWAY_ROLE = Role(GATEWAY, gateway_plans, actor=_gateway_actor, args=_gateway_args, shutdown=Shutdown.INTAKE)


class BrokerServer:
    """One brokerd topology. ``start`` returns when it takes orders."""

    def __init__(self, setup: Setup, host: str, ws_port: int) -> None:
        self.setup = setup
        self.host = host
        self.ws_port = ws_port
        self.supervisor: Any = None
        self.web_port: int | None = None  # the web page and /metrics (docs/web.md); None: [web] enabled = false

    @property
    def url(self) -> str:
        return f"{scheme(self.setup.config.gateway)}://{self.host}:{self.ws_port}"

    async def start(self) -> str:
        """Start the topology; returns its URL once it takes orders. Raises
        ``PlacementError`` before creating anything when the cluster lacks a node that
        ``[placement]`` names (an actor asking for it would wait forever)."""
        config = self.setup.config
        namespace = config.topology.namespace
        actors = [(SUPERVISOR, SUPERVISOR), *((p.name, p.role) for p in plan(self.setup, ROLES.extended([GATEWAY_ROLE]), config.gateway.count))]
        check_cluster(config.placement, actors)
        options = {**supervisor_options(namespace), **placement_options(config.placement, node_of(config.placement, SUPERVISOR, SUPERVISOR))}
        self.supervisor = SupervisorActor.options(**options).remote(self.setup, config.gateway.count, roles=[GATEWAY_ROLE])  # type: ignore[attr-defined]
        started = await self.supervisor.start.remote(self.host, self.ws_port)
        self.ws_port = started["ws_port"]
        self.web_port = started.get("web_port")
        return self.url

    @property
    def web_url(self) -> str | None:
        """The web page's address (``http://`` or ``https://`` with the gateway's TLS)."""
        if self.web_port is None:
            return None
        secure = scheme(self.setup.config.gateway) == "wss"
        return f"{'https' if secure else 'http'}://{self.host}:{self.web_port}/"

    async def stop(self) -> None:
        """Stop taking orders and flush every outbox, then end every actor."""
        if self.supervisor is None:
            return
        await self.supervisor.stop.remote()
        await self.supervisor.shutdown.remote()
        ray.kill(self.supervisor)
        self.supervisor = None

    async def supervise(self, interval_s: float) -> str:
        """Return, with the reason, once the supervisor has died.

        Guarantees: returns only on a death Ray reports (the supervisor's process is gone,
        and with it every actor of the topology, which are its children); a supervisor
        that is merely slow to answer is waited for, never declared dead. Noticed within
        about ``interval_s`` of Ray learning of the death.
        """
        patience = max(interval_s, PING_PATIENCE_S)
        slow = False
        while True:
            await asyncio.sleep(interval_s)
            try:
                await asyncio.wait_for(self.supervisor.ping.remote(), patience)
            except ray.exceptions.RayActorError as error:
                reason = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else 'actor died'}"
                log.error("supervisor died; the server serves nothing and exits", reason=reason)
                return reason
            except TimeoutError:
                if not slow:
                    log.warning("supervisor slow to answer a ping", waited_s=patience)
                slow = True
                continue
            slow = False
