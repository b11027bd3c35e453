"""Starting and stopping the whole server inside a Ray cluster (used by ``run_server.py``
and by the integration tests, which share one cluster per session)."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import ray
import structlog

from actors.runtime import stash
from actors.runtime.options import supervisor_options
from actors.runtime.outputs import GATEWAY
from actors.runtime.placement import check_cluster, node_of, placement_options
from actors.runtime.roles import ROLES, Role, Shutdown
from actors.runtime.router import SUPERVISOR
from actors.supervisor.actor import SupervisorActor, setup_digest
from actors.supervisor.core import ActorPlan, gateway_plans, plan
from model.config import Setup
from server.gateway.tls import scheme

log = structlog.get_logger("server")
PING_PATIENCE_S = 5.0  # a ping unanswered this long is logged as slow, never taken for a death
KILL_PATIENCE_S = 10.0  # how long a killed actor's name may take to be free again
ATTACH_PATIENCE_S = 60.0  # how long a running supervisor may take to serve (it may be re-attaching itself)


class ServerRunning(RuntimeError):
    """Another server's supervisor lives in the namespace: its actors are not orphans."""


def _gateway_actor() -> Any:
    # imported when first needed, as the roles of actors/ import theirs: the supervisor
    # unpickles this role before it creates any actor, and the gateway's modules (the
    # basket checks with pyarrow's compute functions, the web page) would delay every
    # creation behind them
    from server.gateway.actor import GatewayActor

    return GatewayActor


def _gateway_args(actor_plan: ActorPlan, setup: Setup, gateways: int) -> tuple[Any, ...]:
    # the accounts follow by add_accounts: creation arguments must stay small to restart
    return actor_plan.name, msgspec.structs.replace(setup, accounts=[])


# The gateway is the server's role: the supervisor learns it from here, so nothing under
# actors/ imports server/. Soft state, no journal; stopped first at shutdown.
GATEWAY_ROLE = Role(GATEWAY, gateway_plans, actor=_gateway_actor, args=_gateway_args, shutdown=Shutdown.INTAKE, calls=(SUPERVISOR,))


class BrokerServer:
    """One brokerd topology. ``start`` returns when it takes orders."""

    def __init__(self, setup: Setup, host: str, ws_port: int, detached: bool = False) -> None:
        self.setup = setup
        self.host = host
        self.ws_port = ws_port
        # on a cluster (``--address``): the supervisor outlives a driver that dies, and a
        # driver that finds it serving attaches to it instead of starting another
        self.detached = detached
        self.attached = False  # this driver found the server running (``start``)
        self.supervisor: Any = None
        self.names: list[str] = []  # every actor of the topology, by name in its namespace (the supervisor first)
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
        self.names = [name for name, _ in actors]
        running = running_supervisor(namespace) if self.detached else None
        if running is not None:
            return await self._attach(running)
        await self._end_orphans()
        stash.drop_all(namespace)  # what a server that ended without its stop left there
        options = {**supervisor_options(namespace, self.detached), **placement_options(config.placement, node_of(config.placement, SUPERVISOR, SUPERVISOR))}
        # the setup by key, not by value: Ray restarts the supervisor with its creation arguments,
        # which must not live in this driver's object store (actors/runtime/stash.py)
        setup = stash.ref(namespace, self.setup)
        self.supervisor = SupervisorActor.options(**options).remote(setup, config.gateway.count, roles=[GATEWAY_ROLE])  # type: ignore[attr-defined]
        try:
            started = await self.supervisor.start.remote(self.host, self.ws_port)
        except BaseException:
            await self._end_all()  # the actors are detached: none may outlive a failed start
            self.supervisor = None
            self._drop_setup()
            raise
        self.ws_port = started["ws_port"]
        self.web_port = started.get("web_port")
        return self.url

    async def _attach(self, supervisor: Any) -> str:
        """Take over a running server whose driver died (the supervisor is detached): once
        it serves, and only if it runs with this driver's setup. Raises ``ServerRunning``
        for a server of another setup, or one that does not come to serve."""
        deadline = asyncio.get_running_loop().time() + ATTACH_PATIENCE_S
        while (point := await supervisor.attach_point.remote()) is None:
            if asyncio.get_running_loop().time() > deadline:
                raise ServerRunning(f"a brokerd supervisor is in the Ray namespace {self.setup.config.topology.namespace!r} but not serving after {ATTACH_PATIENCE_S:g} s")
            await asyncio.sleep(0.2)
        if point["setup"] != setup_digest(self.setup):
            raise ServerRunning(
                f"a brokerd server runs in the Ray namespace {self.setup.config.topology.namespace!r} with another configuration "
                "(configuration, instruments, users or accounts differ): attach with the same, or stop it first"
            )
        self.supervisor, self.attached = supervisor, True
        self.host, self.ws_port, self.web_port = point["host"], point["ws_port"], point["web_port"]
        log.warning("attached to the running server: its driver had ended", url=self.url)
        return self.url

    @property
    def web_url(self) -> str | None:
        """The web page's address (``http://`` or ``https://`` with the gateway's TLS)."""
        if self.web_port is None:
            return None
        secure = scheme(self.setup.config.gateway) == "wss"
        return f"{'https' if secure else 'http'}://{self.host}:{self.web_port}/"

    async def stop(self) -> None:
        """Stop taking orders and flush every outbox, then end every actor.

        Guarantees: every actor of the topology is ended, by name, even when the clean stop
        fails (a supervisor being restarted): the actors are detached, and one left running
        would hold its name and serve on."""
        if self.supervisor is None:
            return
        try:
            await self.supervisor.stop.remote()
            await self.supervisor.shutdown.remote()
        finally:
            await self._end_all()
            self.supervisor = None
            self._drop_setup()

    def _drop_setup(self) -> None:
        """What was put in the cluster's store for the server's actors (the setup, the
        instruments) dropped once the server ended."""
        namespace = self.setup.config.topology.namespace
        try:
            stash.drop_all(namespace)
        except Exception as error:  # the cluster ending too: nothing is left to drop it from
            log.warning("the setup stays in the cluster's key-value store", namespace=namespace, error=repr(error)[:200])

    async def _end_orphans(self) -> None:
        """End the actors of this topology that a driver which died left running (detached,
        they outlive it; they journal everything, so the new ones recover from where they
        stopped). A running supervisor of the namespace is another live server: refused."""
        namespace = self.setup.config.topology.namespace
        if running_supervisor(namespace) is not None:
            raise ServerRunning(f"a brokerd supervisor is running in the Ray namespace {namespace!r} already: stop that server first")
        orphans = [name for name in self.names if _named(name, namespace) is not None]
        if orphans:
            log.warning("ending the actors a stopped server left running", actors=orphans, namespace=namespace)
            await self._end_all()

    async def _end_all(self) -> None:
        """Kill every actor of the topology (no restart) and wait until their names are free."""
        namespace = self.setup.config.topology.namespace
        for name in self.names:
            handle = self.supervisor if name == SUPERVISOR and self.supervisor is not None else _named(name, namespace)
            if handle is not None:
                ray.kill(handle, no_restart=True)
        deadline = asyncio.get_running_loop().time() + KILL_PATIENCE_S
        while any(_named(name, namespace) is not None for name in self.names):
            if asyncio.get_running_loop().time() > deadline:
                log.warning("actors still registered after being killed", namespace=namespace)
                return
            await asyncio.sleep(0.05)

    async def supervise(self, interval_s: float) -> str:
        """Return, with the reason, once the supervisor has died.

        Guarantees: returns only on a death Ray reports as final (Ray restarts the
        supervisor when its process dies: a restart is logged and waited for, the other
        actors running on meanwhile); a supervisor that is merely slow to answer is waited
        for, never declared dead. Noticed within about ``interval_s`` of Ray learning of
        the death.
        """
        patience = max(interval_s, PING_PATIENCE_S)
        slow = restarting = False
        while True:
            await asyncio.sleep(interval_s)
            try:
                await asyncio.wait_for(self.supervisor.ping.remote(), patience)
            except ray.exceptions.ActorUnavailableError:
                if not restarting:
                    log.warning("supervisor unavailable: Ray is restarting it; the other actors run on")
                restarting = True
                continue
            except ray.exceptions.RayActorError as error:
                reason = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else 'actor died'}"
                log.error("supervisor died; the server serves nothing and exits", reason=reason)
                return reason
            except TimeoutError:
                if not slow:
                    log.warning("supervisor slow to answer a ping", waited_s=patience)
                slow = True
                continue
            if restarting:
                log.warning("supervisor answering again")
            slow = restarting = False


def running_supervisor(namespace: str) -> Any:
    """The supervisor of a server running in ``namespace`` (on the cluster joined), or None."""
    return _named(SUPERVISOR, namespace)


def _named(name: str, namespace: str) -> Any:
    """The live actor called ``name`` in ``namespace``, or None."""
    try:
        return ray.get_actor(name, namespace=namespace)
    except ValueError:
        return None
