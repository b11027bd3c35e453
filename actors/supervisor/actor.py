"""The Supervisor Ray actor: creates, wires and re-wires the topology, serves admin commands
(their handlers: ``actors/supervisor/admin.py``).

On the control path only: no order passes through it, so awaiting other actors here is
fine. Its own state (halted symbols, the kill switch) is journaled like every actor's:
an operator command is committed, applied, sent to the owning actors, and answered once
they have applied it (acked over the link, i.e. committed to their journals).

A watchdog pings every actor; one that Ray restarted (a new incarnation, not wired) is
given a fresh link, wired again, and every other actor is told its new address, so
they reconnect and resend what it has not acked.

The supervisor is restarted by Ray too. The other actors are detached (they outlive it),
so a restarted supervisor rebuilds its own state from its journal, finds each of them by
name (``ray.get_actor``) and re-wires the whole topology under a new link secret
(``_resume``); trading goes on meanwhile, and admin commands fail with a clear error
until it is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
import ray
import structlog

from actors.reshard.layout import hold_server_lock
from actors.runtime import stash
from actors.runtime.audit import AuditLog, open_audit
from actors.runtime.frames import LinkSecret
from actors.runtime.host import DurableHost
from actors.runtime.machine import Core
from actors.runtime.outputs import ACCOUNT, GATEWAY
from actors.runtime.placement import MOVABLE_ROLES, PlacementError, failover_target, link_problem, lost, node_names, node_of, placed_config
from actors.runtime.roles import ROLES, Role, Shutdown, build_core, handles_for
from actors.runtime.router import SUPERVISOR
from actors.supervisor.admin import AdminCommands
from actors.supervisor.core import ActorPlan, plan
from actors.supervisor.nonces import NonceBook
from actors.supervisor.schedule import open_due
from model.admin_commands import AdminError, Forbidden, public_args
from model.audit import AuditEvent, AuditKind
from model.audit_bodies import AdminCommand
from model.config import Config, Setup
from model.messages import OpenMarket
from model.permissions import DEFAULT_TENANT
from snapshots.audit import Batch

log = structlog.get_logger("supervisor")

WATCH_INTERVAL_S = 0.5
PING_TIMEOUT_S = 5.0
MAX_AUDIT_TEXT = 500  # characters of a refused command's reason kept in its audit record


@ray.remote
class SupervisorActor(DurableHost):
    """Owns the topology. ``start`` returns once every actor is wired and serving."""

    def __init__(self, setup: Setup | stash.Ref, gateways: int = 1, roles: Sequence[Role] = ()) -> None:
        setup = stash.take(setup, Setup)  # the driver put it in the cluster's store (``stash``)
        self.setup = setup  # the cluster's: each actor it creates gets its own node's copy (``Role.create``)
        self.seed_tenants = {seed.account: seed.tenant for seed in setup.accounts}  # the accounts file's: ``_tenant_of``
        self.setup_digest = setup_digest(setup)  # what a driver attaching must run with (``attach_point``)
        super().__init__(SUPERVISOR, placed_config(setup.config, node_of(setup.config.placement, SUPERVISOR, SUPERVISOR)))
        self.link_secret = LinkSecret.generate()  # this cluster's: every actor gets it with open_link
        self.gateway_count = gateways
        self.roles = ROLES.extended(roles)
        self.plans = plan(setup, self.roles, gateways)
        self.plan_of = {p.name: p for p in self.plans}
        self.recover(self.config.server.data_dir)  # its node's data dir ([placement])
        # held while it lives, like the driver's: a detached server whose driver ended still
        # keeps `admin reshard` off its journals
        self.layout_lock = hold_server_lock(Path(self.config.server.data_dir))
        self.addresses: dict[str, tuple[str, int]] = {}
        self.incarnations: dict[str, int] = {}
        self.restarts: dict[str, int] = {}
        self.host = "127.0.0.1"
        self.ws_port = 0
        self.nonces = NonceBook(setup.config.gateway.login_window_ms)  # the gateways' login nonces (several gateways)
        self.gateway_ports: dict[str, int] = {}  # where each gateway listens (a restarted one binds its own again)
        self.web_port: int | None = None  # the first gateway's web page and /metrics (None: [web] enabled = false)
        self.watchdog: asyncio.Task[None] | None = None
        self.rewiring: set[str] = set()
        placement = setup.config.placement
        self.placed: dict[str, str | None] = {p.name: node_of(placement, p.name, p.role) for p in self.plans}  # the node each runs on now
        self.failovers: dict[str, dict[str, Any]] = {}  # actor → its last move off a lost node (from, to, seconds)
        self.stranded: set[str] = set()  # actors on a lost node that cannot move (said once)
        self.moving = asyncio.Lock()
        self.failing_over: set[str] = set()  # actors whose node is lost, waiting for their move or in it
        self.import_root, self.export_root = _file_roots(self.config)
        self.commands = AdminCommands(self)
        self.admin_audit: AuditLog | None = None  # the chain of admin commands, opened by the first
        self.resuming: asyncio.Task[None] | None = None
        if _restarted():  # Ray restarted this actor: the topology is running, find it
            self.resuming = asyncio.get_running_loop().create_task(self._resume())

    def make_core(self) -> Core:
        return build_core(ActorPlan(SUPERVISOR, SUPERVISOR, instruments=self.setup.instruments), self.config)

    # --- start -----------------------------------------------------------------------------------

    async def start(self, host: str, ws_port: int) -> dict[str, Any]:
        namespace = self.setup.config.topology.namespace
        for actor_plan in self.plans:
            self.handles[actor_plan.name] = self._create(actor_plan, namespace)
        self.handles[SUPERVISOR] = ray.get_runtime_context().current_actor
        names = [p.name for p in self.plans]
        addresses = await asyncio.gather(*(self.handles[name].open_link.remote(self.link_secret) for name in names))
        self.addresses = dict(zip(names, (tuple(a) for a in addresses), strict=True))
        await self._check_links(names)
        pings = await asyncio.gather(*(self.handles[name].ping.remote() for name in names))
        self.incarnations = {name: ping["incarnation"] for name, ping in zip(names, pings, strict=True)}
        await asyncio.gather(*(self.handles[name].wire.remote(self._handles_for(name, self.handles), self.addresses) for name in names))
        await self.wire(self.handles, self.addresses)
        self.host = host
        await asyncio.gather(*(self.handles[p.name].start.remote() for p in self.plans if self.roles[p.role].starts))
        await self._seed_accounts(self.actors_of(ACCOUNT))
        await self._tell_gateways()
        await self._start_gateways(host, ws_port)
        self.web_port = await self.handles[self.actors_of(GATEWAY)[0]].web_port.remote()
        await self._where_now()
        self.watchdog = asyncio.get_running_loop().create_task(self._watch())
        log.info("started", actors=len(self.plans), ws_port=self.ws_port, web_port=self.web_port)
        return {"ws_port": self.ws_port, "web_port": self.web_port, "actors": names}

    # --- a restart of the supervisor ---------------------------------------------------------------

    async def _resume(self) -> None:
        """This supervisor is a restart (its state is rebuilt from its journal already): find
        every actor of the topology by name, hand them all a new link secret (the old one
        died with the old process) and wire them again; an actor that Ray restarted while
        no supervisor watched is started as the watchdog would have. Retried until done.

        Guarantees: no actor is created here — each is the running one, found by name;
        the supervisor's unacked control messages are resent over the new links and applied
        once (the receivers' ``(sender, seq)`` check); admin commands are refused until
        the topology is wired and the watchdog runs."""
        while True:
            try:
                await self._attach_topology()
                break
            except Exception:
                log.exception("re-attaching to the topology failed; will retry")
                await asyncio.sleep(WATCH_INTERVAL_S)
        self.watchdog = asyncio.get_running_loop().create_task(self._watch())
        log.warning("supervisor restarted and re-attached to the running topology", actors=len(self.plans), ws_port=self.ws_port)

    async def _attach_topology(self) -> None:
        namespace = self.setup.config.topology.namespace
        self.handles = {p.name: ray.get_actor(p.name, namespace=namespace) for p in self.plans}
        self.handles[SUPERVISOR] = ray.get_runtime_context().current_actor
        names = [p.name for p in self.plans]
        # a new secret: every actor listens anew (a restarting one answers once it is back)
        addresses = await asyncio.gather(*(self.handles[name].open_link.remote(self.link_secret) for name in names))
        self.addresses = dict(zip(names, (tuple(a) for a in addresses), strict=True))
        pings = await asyncio.gather(*(self.handles[name].ping.remote() for name in names))
        await self._find_gateway_address()
        await asyncio.gather(*(self.handles[name].wire.remote(self._handles_for(name, self.handles), self.addresses) for name in names))
        await self.wire(self.handles, self.addresses)
        unwired = [name for name, ping in zip(names, pings, strict=True) if not ping["wired"]]
        for name in unwired:  # restarted while no supervisor watched: wired now, started as after any restart
            await self._start_again(name)
        self.incarnations = {name: ping["incarnation"] for name, ping in zip(names, pings, strict=True)}
        self.restarts = dict.fromkeys(unwired, 1)
        await self._where_now()
        gateway = self.actors_of(GATEWAY)[0]
        self.web_port = await self.handles[gateway].web_port.remote()

    async def _find_gateway_address(self) -> None:
        """The host and ports the gateways serve on, asked of the running ones (a port may
        have been chosen by the system at the first start: a gateway restarted later must
        take that same one)."""
        gateways = self.actors_of(GATEWAY)
        for name in gateways:  # each one's own port: a restarted one binds it again
            listening = await self.handles[name].listening.remote()
            if listening is not None:
                self.host, self.gateway_ports[name] = listening[0], int(listening[1])
        first = self.gateway_ports.get(gateways[0])
        if first is None and self.setup.config.gateway.shared_port and self.gateway_ports:
            first = next(iter(self.gateway_ports.values()))  # one port for all
        if first:
            self.ws_port = first
            return
        server = self.config.server
        if server.ws_port:  # every gateway restarted meanwhile: the configured port is theirs
            self.host, self.ws_port = server.host, server.ws_port
            return
        raise RuntimeError("no gateway is serving: cannot tell on which port a restarted one serves")

    async def _start_gateways(self, host: str, ws_port: int) -> None:
        """The first gateway binds ``ws_port`` (0: a free port); the others then bind the
        port it got (``[gateway] shared_port``: SO_REUSEPORT) or the next ones, one each."""
        gateways = self.actors_of(GATEWAY)
        self.ws_port = await self.handles[gateways[0]].start.remote(host, ws_port)
        shared = self.setup.config.gateway.shared_port
        wanted = {name: self.ws_port if shared else (ws_port + index if ws_port else 0) for index, name in enumerate(gateways) if index}
        ports = await asyncio.gather(*(self.handles[name].start.remote(host, port) for name, port in wanted.items()))
        self.gateway_ports = {gateways[0]: self.ws_port, **dict(zip(wanted, ports, strict=True))}

    async def attach_point(self) -> dict[str, Any] | None:
        """What a driver attaching to this running server needs (``BrokerServer.start``):
        where the gateways serve and the digest of the setup this server runs with; None
        while it is not serving yet (starting, or re-attaching after its own restart)."""
        if self.watchdog is None or self.watchdog.done():
            return None
        return {"host": self.host, "ws_port": self.ws_port, "web_port": self.web_port, "setup": self.setup_digest}

    async def spend_nonce(self, key: str, nonce: str) -> bool:
        """A gateway's well-signed login: True the first time its nonce is spent for ``key``
        on any gateway, False for a replay (``nonces.py``)."""
        return self.nonces.spend(key, nonce, time.time_ns() // 1_000_000)

    async def _check_links(self, names: list[str]) -> None:
        """Refuse to wire actors that cannot reach each other's links: loopback addresses
        on nodes of several machines (``[batching] link_host``)."""
        nodes = await asyncio.gather(*(self.handles[name].node.remote() for name in names))
        ips = {name: node["ip"] for name, node in zip(names, nodes, strict=True)} | {SUPERVISOR: (await self.node())["ip"]}
        problem = link_problem(self.addresses, ips)
        if problem:
            raise PlacementError(problem)

    def _create(self, actor_plan: ActorPlan, namespace: str) -> Any:
        return self.roles[actor_plan.role].create(actor_plan, self.setup, self.gateway_count, namespace)

    def _role_of(self, name: str) -> str:
        return SUPERVISOR if name == SUPERVISOR else self.plan_of[name].role

    def _handles_for(self, name: str, handles: dict[str, Any]) -> dict[str, Any]:
        """Of ``handles``, those ``name``'s role calls (``Role.calls``): what it is wired with."""
        return handles_for(self.roles[self._role_of(name)], handles, self._role_of)

    def actors_of(self, role: str) -> list[str]:
        """The names of the actors of ``role``, in plan order."""
        return [p.name for p in self.plans if p.role == role]

    # --- restarts ------------------------------------------------------------------------------

    async def _watch(self) -> None:
        names = [p.name for p in self.plans]
        while True:
            await asyncio.sleep(WATCH_INTERVAL_S)
            day = self._open_due()
            if day is not None:
                log.info("the open, at the configured time", day=day, at=self.config.open.at)
                self.submit_local([OpenMarket([], day)])
            if self.config.placement.failover:
                await self._fail_over()
            pings = await asyncio.gather(*(self._ping(name) for name in names))
            for name, ping in zip(names, pings, strict=True):
                if ping is None or name in self.rewiring or name in self.failing_over:
                    continue
                if ping["incarnation"] != self.incarnations.get(name) or not ping["wired"]:
                    asyncio.get_running_loop().create_task(self._rewire(name, ping["incarnation"]))

    def _open_due(self) -> str | None:
        """Today's local date when the configured open time has passed on a weekday and
        today's scheduled open has not happened yet (holidays are the operator's: leave
        ``[open] at`` empty and use ``admin open``)."""
        return open_due(self.config.open.at, self.config.open.timezone, self.core.scheduled_open, time.time())

    async def _ping(self, name: str) -> dict[str, Any] | None:
        try:
            result: dict[str, Any] = await asyncio.wait_for(self.handles[name].ping.remote(), PING_TIMEOUT_S)
            return result
        except Exception:  # restarting, or its call was lost with the old process: next round
            return None

    async def _rewire(self, name: str, incarnation: int) -> None:
        """``name`` came back in a new process (it has already rebuilt itself from its
        journal): give it a link, wire it, and move everyone's link to it."""
        self.rewiring.add(name)
        try:
            handle = self.handles[name]
            address = tuple(await handle.open_link.remote(self.link_secret))
            if name in self.failing_over:  # its node was lost meanwhile: the move owns it now
                return
            self.addresses[name] = address  # type: ignore[assignment]
            await self._wire_again(name, handle, self.handles)
            self.incarnations[name] = incarnation
            self.restarts[name] = self.restarts.get(name, 0) + 1
            log.warning("actor restarted and re-wired", actor=name, restarts=self.restarts[name])
        except Exception:
            log.exception("re-wiring failed; will retry", actor=name)
        finally:
            self.rewiring.discard(name)

    async def _wire_again(self, name: str, handle: Any, handles: dict[str, Any]) -> None:
        """``name`` in a new process (restarted, or created again on another node) and
        listening at ``self.addresses[name]``: give it those of ``handles`` its role calls
        (``Role.calls``) and the addresses, start it as its role needs, and move everyone's
        link to it (and the handle of those that call it). An actor that cannot
        be told now (itself gone, restarting, or waiting to move) learns it when it is wired
        again; none is waited on beyond ``PING_TIMEOUT_S``."""
        address = self.addresses[name]
        await handle.wire.remote(self._handles_for(name, handles), self.addresses)
        await self._start_again(name)
        await self.update_address(name, address, handle)
        others = [n for n in self.handles if n not in (name, SUPERVISOR) and n not in self.failing_over]
        told = await asyncio.gather(
            # the new handle only to those that call it: a handle received imports its class
            *(asyncio.wait_for(self.handles[n].update_address.remote(name, address, self._handles_for(n, {name: handle}).get(name)), PING_TIMEOUT_S)
              for n in others),
            return_exceptions=True,
        )
        for other, answer in zip(others, told, strict=True):
            if isinstance(answer, Exception):
                log.warning("could not tell an actor of a new address; it learns it when it is wired again", actor=other, moved=name)

    # --- a lost node ------------------------------------------------------------------------------

    async def _fail_over(self) -> None:
        """The actors placed on a node that is gone (no live node carries its resource:
        ``ray.cluster_resources()`` counts live nodes only) are created again on another
        node (``_move``), if their role can move. One call to Ray's GCS per watch, made off
        the event loop (it waits while the GCS is down)."""
        placement = self.config.placement
        resources = await asyncio.to_thread(ray.cluster_resources)
        for name, node in list(self.placed.items()):
            if node is None or name in self.failing_over or not lost(placement, node, resources):
                continue
            if self.plan_of[name].role not in MOVABLE_ROLES:
                if name not in self.stranded:
                    self.stranded.add(name)
                    log.error("actor's node is lost and its role cannot move: it waits for the node", actor=name, node=node)
                continue
            log.warning("actor's node is lost: moving it", actor=name, node=node)
            self.failing_over.add(name)
            asyncio.get_running_loop().create_task(self._move(name, node, time.monotonic()))

    async def _move(self, name: str, lost_node: str, started: float) -> None:
        """Create ``name`` again on a live node: the old actor (waiting for its node) is
        ended, the new one rebuilds its journal from the shipped copy (its new node's data
        dir is empty or stale: ``snapshots/shipping.py``), and everyone is given its new
        link (and its handle, those that call it), as after a restart. A move that fails is
        tried again at the next watch (the actor is still placed on the lost node).

        Guarantees: at most one actor of the name lives (Ray's names); the new one claims
        the shipped journal, so the old one, if its node comes back, can acknowledge
        nothing more; one move at a time, each wired with the moves before it; a move never
        waits forever (``[placement] move_timeout_ms`` for the new actor to answer)."""
        try:
            async with self.moving:
                await self._move_now(name, lost_node, started, self.plan_of[name])
        except Exception:
            log.exception("moving an actor off a lost node failed; will retry", actor=name)
        finally:
            self.failing_over.discard(name)

    async def _move_now(self, name: str, lost_node: str, started: float, actor_plan: ActorPlan) -> None:
        handle, address, target = await self._recreate(name, lost_node, actor_plan)
        self.handles[name] = handle
        self.placed[name] = target
        self.addresses[name] = address
        # those still waiting to move left out: a call to them would wait for their lost node
        await self._wire_again(name, handle, {n: h for n, h in self.handles.items() if n not in self.failing_over or n == name})
        self.incarnations[name] = (await handle.ping.remote())["incarnation"]
        seconds = round(time.monotonic() - started, 3)
        self.failovers[name] = {"from": lost_node, "to": target, "seconds": seconds}
        self.restarts[name] = self.restarts.get(name, 0) + 1
        log.warning("actor moved off a lost node", actor=name, lost=lost_node, to=target, seconds=seconds)

    async def _recreate(self, name: str, lost_node: str, actor_plan: ActorPlan) -> tuple[Any, tuple[str, int], str]:
        """The actor created again and answering on a live node: (handle, link address,
        node). Each try picks the target again (it may be lost too); a new actor that does
        not answer within ``move_timeout_ms`` is ended and the next try made."""
        placement = self.config.placement
        namespace = self.setup.config.topology.namespace
        patience = placement.move_timeout_ms / 1000
        while True:
            resources = await asyncio.to_thread(ray.cluster_resources)
            target = failover_target(placement, lost_node, self.placed, resources)
            handle = None
            try:
                if target is None:
                    raise RuntimeError("no configured node is alive to take it")
                _end(self.handles[name])
                handle = await self._create_on(actor_plan, namespace, target)
                address = await asyncio.wait_for(handle.open_link.remote(self.link_secret), patience)
                return handle, (str(address[0]), int(address[1])), target
            except Exception as failure:  # the name not yet free, the new actor failed or is too slow, its node died
                log.warning("moving actor off a lost node: retrying", actor=name, to=target, failure=str(failure)[:200] or type(failure).__name__)
                if handle is not None:
                    _end(handle)
                await asyncio.sleep(WATCH_INTERVAL_S)

    async def _create_on(self, actor_plan: ActorPlan, namespace: str, node: str) -> Any:
        """``_create`` on the given node, once the old actor's name is free."""
        deadline = time.monotonic() + PING_TIMEOUT_S
        while True:
            try:
                return self.roles[actor_plan.role].create(actor_plan, self.setup, self.gateway_count, namespace, node=node)
            except ValueError:  # the killed actor still holds its name for a moment
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)

    async def _where_now(self) -> None:
        """Each actor's node as Ray has it now (after a supervisor restart the moves made
        before are only known this way)."""
        if not self.config.placement.nodes:
            return
        names = node_names(self.config.placement, await asyncio.to_thread(ray.nodes))
        actors = [name for name in self.handles if name != SUPERVISOR]
        nodes = await asyncio.gather(*(self.handles[name].node.remote() for name in actors))
        for name, node in zip(actors, nodes, strict=True):
            self.placed[name] = names.get(node["id"], self.placed.get(name))

    async def _start_again(self, name: str) -> None:
        """What a restarted, newly wired actor needs besides its links, by its role."""
        handle = self.handles[name]
        role = self.plan_of[name].role
        if self.roles[role].starts:
            await handle.start.remote()
        elif role == GATEWAY:
            await handle.add_accounts.remote(self._all_accounts())
            await handle.start.remote(self.host, self.gateway_ports.get(name, self.ws_port))
        elif role == ACCOUNT:
            await self._seed_accounts([name])

    # --- admin ---------------------------------------------------------------------------------

    async def admin(
        self, command: str, args: list[str], tenant: str | None = None, caller: tuple[str, str, str] | None = None
    ) -> dict[str, Any]:
        """Operator commands (``model/admin_commands.py``; the handlers are in
        ``actors/supervisor/admin.py``), confined to ``tenant``'s accounts (None: every
        tenant's, the platform operator's). Raises ``AdminError`` with a readable reason on
        bad input.

        Each command is one audit record (docs/audit.md), appended and fsynced before its
        answer leaves: ``caller`` (user, key id, address: the gateway's session; none for a
        call from inside the cluster), the command, its arguments without a secret value,
        and the outcome (``ok``, ``failed`` for an answer that says not ok, ``forbidden`` or
        ``admin_failed``)."""
        now = time.time_ns()
        if self.watchdog is None:  # neither started (``start``) nor re-attached (``_resume``) yet: both end by starting it
            raise AdminError("the supervisor is restarting (re-wiring the topology): try again in a few seconds")
        try:
            result = await self.commands.run(command, args, tenant)
        except Exception as failure:
            outcome = "forbidden" if isinstance(failure, Forbidden) else "admin_failed"
            self._audit_admin(now, command, args, caller, outcome, str(failure)[:MAX_AUDIT_TEXT])
            raise
        self._audit_admin(now, command, args, caller, "ok" if result.get("ok", True) else "failed", "")
        return result

    def _audit_admin(self, now: int, command: str, args: list[str], caller: tuple[str, str, str] | None, outcome: str, text: str) -> None:
        if not self.config.audit.enabled:
            return
        if self.admin_audit is None:  # opened at the first command: a supervisor that runs none holds no chain
            self.admin_audit = open_audit(SUPERVISOR, self.config, self.config.server.data_dir)
        assert self.admin_audit is not None
        user, key_id, address = caller if caller is not None else ("", "", "")
        record = AdminCommand(user, key_id, address, command, public_args(command, args), outcome, text)
        self.admin_audit.append([Batch(now, 0, (AuditEvent(AuditKind.ADMIN_COMMAND, record),))], durable=True)

    def _all_accounts(self) -> list[tuple[str, str, str]]:
        """Every account (file and run time) with its group and tenant, for the gateways."""
        loaded = [(account, group, self._tenant_of_loaded(account)) for account, group in sorted(self.core.loaded.items())]
        return [(seed.account, seed.group, seed.tenant) for seed in self.setup.accounts] + loaded

    def _tenant_of_loaded(self, account: str) -> str:
        return self.core.loaded_tenants.get(account, DEFAULT_TENANT)

    def _tenant_of(self, account: str) -> str | None:
        """The tenant of ``account`` (from the accounts file or loaded since), ``None`` for
        no such account: two look-ups, where ``_all_accounts`` lists and sorts every account
        (a third of a second at a million). An account of the file is its tenant's, whatever
        was loaded since under its name."""
        tenant = self.seed_tenants.get(account)
        if tenant is None and account in self.core.loaded:
            tenant = self._tenant_of_loaded(account)
        return tenant

    async def _tell_gateways(self) -> None:
        """Gateways learn every account and its group (for advisors)."""
        pairs = self._all_accounts()
        gateways = self.actors_of(GATEWAY)
        await asyncio.gather(*(self.handles[n].add_accounts.remote(pairs) for n in gateways))

    async def _tell_gateways_keys(self) -> dict[str, Any]:
        """Every gateway loads the API keys again and closes the connections of keys revoked or
        rotated: how many closed, and the gateways that did not answer (one being restarted
        loads the store when it starts). The change itself is made already: a gateway's
        failure is reported, never lost with a new key's secret."""
        gateways = self.actors_of(GATEWAY)
        answers = await asyncio.gather(*(self.handles[n].keys_changed.remote() for n in gateways), return_exceptions=True)
        failed = [name for name, answer in zip(gateways, answers, strict=True) if isinstance(answer, BaseException)]
        for name, answer in zip(gateways, answers, strict=True):
            if isinstance(answer, BaseException):
                log.warning("gateway did not take the API keys", gateway=name, error=repr(answer)[:200])
        return {"connections_closed": sum(a for a in answers if isinstance(a, int)), "gateways_not_told": failed}

    async def _seed_accounts(self, shards: list[str]) -> None:
        plans = {p.name: p for p in self.plans}
        await asyncio.gather(*(self.handles[name].seed.remote(plans[name].accounts) for name in shards))

    def _killed(self) -> list[str]:
        return ["all"] if self.core.kill_all else sorted(self.core.killed)

    async def status_all(self) -> dict[str, Any]:
        names = [p.name for p in self.plans]
        statuses = await asyncio.gather(*(self.handles[name].status.remote() for name in names))
        for status in statuses:
            status["restarts"] = self.restarts.get(status["name"], 0)
            status["placed_on"] = self.placed.get(status["name"]) or ""
            status["failed_over"] = self.failovers.get(status["name"])
        own = await self.status()
        own["placed_on"] = node_of(self.setup.config.placement, SUPERVISOR, SUPERVISOR) or ""
        return {
            "ok": True,
            "ws_port": self.ws_port,
            "web_port": self.web_port,
            "halted": sorted(self.core.halted),
            "killed": self._killed(),
            "import_dir": str(self.import_root),
            "export_dir": str(self.export_root),
            "actors": [own, *statuses],
        }

    async def metrics_all(self) -> dict[str, Any]:
        """``status_all`` with each actor's latency histograms (``histograms``) beside its
        status: what ``/metrics`` renders (docs/web.md#metrics). An actor that does not
        answer within its ping patience is left out of the histograms, never waited on."""
        status = await self.status_all()
        names = [p.name for p in self.plans]
        answers = await asyncio.gather(
            *(asyncio.wait_for(self.handles[name].histograms.remote(), PING_TIMEOUT_S) for name in names), return_exceptions=True
        )
        status["histograms"] = {name: answer for name, answer in zip(names, answers, strict=True) if isinstance(answer, dict)}
        status["histograms"][SUPERVISOR] = await self.histograms()
        return status

    async def readiness(self) -> dict[str, Any]:
        """Whether the server takes orders (``/readyz``): started, and every actor of the
        topology answering, wired, in the incarnation the supervisor wired (a restarted
        actor has replayed its journal before it answers a ping, and is ready again once
        re-wired). ``{"ready": bool, "not_ready": {actor: why}}``.

        Guarantees: never raises and never waits longer than ``PING_TIMEOUT_S`` per actor
        (the pings go out together)."""
        if self.watchdog is None or self.watchdog.done():
            return {"ready": False, "not_ready": {SUPERVISOR: "starting" if self.watchdog is None else "stopping"}}
        names = [p.name for p in self.plans]
        pings = await asyncio.gather(*(self._ping(name) for name in names))
        not_ready: dict[str, str] = {}
        for name, ping in zip(names, pings, strict=True):
            if ping is None:
                not_ready[name] = "not answering"
            elif name in self.rewiring or name in self.failing_over or not ping["wired"] or ping["incarnation"] != self.incarnations.get(name):
                not_ready[name] = "restarting"
        return {"ready": not not_ready, "not_ready": not_ready}

    async def snapshot_all(self) -> dict[str, int]:
        names = self._journaled()
        seqs = await asyncio.gather(*(self.handles[name].take_snapshot.remote() for name in names))
        result = dict(zip(names, seqs, strict=True))
        result[SUPERVISOR] = self.snapshot()
        return result

    # --- stop ------------------------------------------------------------------------------------

    async def flush_all(self) -> None:
        await asyncio.gather(*(self.handles[p.name].flush.remote() for p in self.plans))

    async def stop(self) -> None:
        """Stop taking orders: close the gateways, let what is in flight settle, then
        snapshot every actor and close its journal (a clean shutdown replays nothing)."""
        if self.watchdog is not None:
            self.watchdog.cancel()
        await asyncio.gather(*(self.handles[name].stop.remote() for name in self._ending(Shutdown.INTAKE)))
        await asyncio.gather(*(self.handles[name].close.remote() for name in self._ending(Shutdown.SOURCE)))
        await self.flush_all()
        await asyncio.sleep(0.1)
        for name in self._ending(Shutdown.STATE):  # one at a time: each final snapshot briefly needs the memory of its book again
            await self.handles[name].close.remote()
        await self.close()
        if self.admin_audit is not None:
            self.admin_audit.close()
            self.admin_audit = None
        # every journal closed: the data dir is free for `admin reshard` once the stop returns
        # (on a shared cluster this process ends a moment after its name is free)
        self.layout_lock.close()

    async def shutdown(self) -> None:
        """End every actor of the topology (the supervisor itself is ended by its owner)."""
        for name, handle in self.handles.items():
            if name != SUPERVISOR:
                ray.kill(handle, no_restart=True)

    async def check_invariants(self) -> None:
        await asyncio.gather(*(self.handles[p.name].check_invariants.remote() for p in self.plans if self.roles[p.role].check))

    async def state_hashes(self) -> dict[str, str]:
        names = self._journaled()
        hashes = await asyncio.gather(*(self.handles[name].state_hash.remote() for name in names))
        return dict(zip(names, hashes, strict=True))

    async def replay_hashes(self) -> dict[str, dict[str, Any]]:
        names = self._journaled()
        results = await asyncio.gather(*(self.handles[name].replay_hash.remote() for name in names))
        return dict(zip(names, results, strict=True))

    def _journaled(self) -> list[str]:
        return [p.name for p in self.plans if self.roles[p.role].journaled]

    def _ending(self, phase: Shutdown) -> list[str]:
        return [p.name for p in self.plans if self.roles[p.role].shutdown is phase]

    async def handle_of(self, name: str) -> Any:
        return self.handles[name]


def _end(handle: Any) -> None:
    """Kill an actor for good; one already dead is no error."""
    with contextlib.suppress(Exception):
        ray.kill(handle, no_restart=True)


def setup_digest(setup: Setup) -> str:
    """A fingerprint of everything a server runs with (configuration, instruments, users,
    accounts): a driver attaches only to a server started with the same. A recovery test's
    crash point (``[server] crash_at``, from the environment) is not part of it."""
    if setup.config.server.crash_at:
        server = msgspec.structs.replace(setup.config.server, crash_at="")
        setup = msgspec.structs.replace(setup, config=msgspec.structs.replace(setup.config, server=server))
    return hashlib.sha256(msgspec.msgpack.encode(setup)).hexdigest()


def _restarted() -> bool:
    """Whether Ray restarted this actor after its process died (not its first start);
    False outside a Ray actor (the unit tests build the shell directly)."""
    if not ray.is_initialized() or ray.get_runtime_context().get_actor_id() is None:
        return False
    with warnings.catch_warnings():  # Ray 2.60 warns inside its own property
        warnings.simplefilter("ignore", DeprecationWarning)
        return bool(ray.get_runtime_context().was_current_actor_reconstructed)


def _file_roots(config: Config) -> tuple[Path, Path]:
    """The import and export dirs (``[admin]``), created when missing so the operator sees
    where files go; one that cannot be created is logged, and the commands using it fail."""
    data_dir = Path(config.server.data_dir).resolve()
    roots = config.admin.import_root(data_dir).resolve(), config.admin.export_root(data_dir).resolve()
    for root in roots:
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            log.warning("cannot create an admin folder", folder=str(root), error=str(error))
    return roots
