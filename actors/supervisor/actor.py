"""The Supervisor Ray actor: creates, wires and re-wires the topology, serves admin commands.

On the control path only: no order passes through it, so awaiting other actors here is
fine. Its own state (halted symbols, the kill switch) is journaled like every actor's:
an operator command is committed, applied, sent to the owning actors, and answered once
they have applied it (acked over the link, i.e. committed to their journals).

A watchdog pings every actor; one that Ray restarted (a new incarnation, not wired) is
given a fresh link, wired again, and every other actor is told its new address, so
they reconnect and resend what it has not acked.
"""

from __future__ import annotations

import asyncio
from typing import Any

import ray
import structlog

from actors.accounts.actor import AccountActor
from actors.cores import build_core
from actors.hop import SUPERVISOR
from actors.instruments.actor import InstrumentActor
from actors.options import actor_options
from actors.outputs import ALL
from actors.runtime import Core, DurableHost
from actors.supervisor.state import ActorPlan, plan
from actors.venues.actor import VenueActor
from model.config import Setup
from model.messages import AdminCancelAll, Message, SetKill, SetTradingStatus
from server.actor import GatewayActor

log = structlog.get_logger("supervisor")

WATCH_INTERVAL_S = 0.5
PING_TIMEOUT_S = 5.0
ANSWER_TIMEOUT_S = 10.0


class AdminError(ValueError):
    """A bad admin command: the message is for the operator."""


@ray.remote
class SupervisorActor(DurableHost):
    """Owns the topology. ``start`` returns once every actor is wired and serving."""

    def __init__(self, setup: Setup, gateways: int = 1) -> None:
        self.setup = setup
        super().__init__(SUPERVISOR, setup.config, gateways)
        self.gateway_count = gateways
        self.plans = plan(setup, gateways)
        self.recover(setup.config.server.data_dir)
        self.addresses: dict[str, tuple[str, int]] = {}
        self.incarnations: dict[str, int] = {}
        self.restarts: dict[str, int] = {}
        self.host = "127.0.0.1"
        self.ws_port = 0
        self.watchdog: asyncio.Task[None] | None = None
        self.rewiring: set[str] = set()

    def make_core(self) -> Core:
        return build_core(ActorPlan(SUPERVISOR, "supervisor", instruments=self.setup.instruments), self.config)

    # --- start -----------------------------------------------------------------------------------

    async def start(self, host: str, ws_port: int) -> dict[str, Any]:
        namespace = self.setup.config.topology.namespace
        for actor_plan in self.plans:
            self.handles[actor_plan.name] = self._create(actor_plan, namespace)
        self.handles[SUPERVISOR] = ray.get_runtime_context().current_actor
        names = [p.name for p in self.plans]
        addresses = await asyncio.gather(*(self.handles[name].open_link.remote() for name in names))
        self.addresses = dict(zip(names, (tuple(a) for a in addresses), strict=True))
        pings = await asyncio.gather(*(self.handles[name].ping.remote() for name in names))
        self.incarnations = {name: ping["incarnation"] for name, ping in zip(names, pings, strict=True)}
        await asyncio.gather(*(self.handles[name].wire.remote(self.handles, self.addresses) for name in names))
        await self.wire(self.handles, self.addresses)
        self.host = host
        await asyncio.gather(*(self.handles[p.name].start.remote() for p in self.plans if p.role in ("venue", "drop_copy")))
        ports = await asyncio.gather(*(self.handles[p.name].start.remote(host, ws_port) for p in self.plans if p.role == "gateway"))
        self.ws_port = ports[0]
        self.watchdog = asyncio.get_running_loop().create_task(self._watch())
        log.info("started", actors=len(self.plans), ws_port=self.ws_port)
        return {"ws_port": self.ws_port, "actors": names}

    def _create(self, actor_plan: ActorPlan, namespace: str) -> Any:
        options = actor_options(actor_plan.name, namespace)
        config = self.setup.config
        if actor_plan.role == "account":
            return AccountActor.options(**options).remote(  # type: ignore[attr-defined]
                actor_plan.name, config, actor_plan.instruments, actor_plan.accounts)
        if actor_plan.role == "instrument":
            return InstrumentActor.options(**options).remote(  # type: ignore[attr-defined]
                actor_plan.name, config, actor_plan.instruments)
        if actor_plan.role == "drop_copy":
            from actors.dropcopy.actor import DropCopyActor

            return DropCopyActor.options(**options).remote(actor_plan.name, config)  # type: ignore[attr-defined]
        if actor_plan.role == "venue":
            assert actor_plan.venue is not None
            return VenueActor.options(**options).remote(  # type: ignore[attr-defined]
                actor_plan.name, config, actor_plan.venue, actor_plan.instruments)
        return GatewayActor.options(**options).remote(  # type: ignore[attr-defined]
                actor_plan.name, self.setup, self.gateway_count)

    # --- restarts ------------------------------------------------------------------------------

    async def _watch(self) -> None:
        names = [p.name for p in self.plans]
        while True:
            await asyncio.sleep(WATCH_INTERVAL_S)
            pings = await asyncio.gather(*(self._ping(name) for name in names))
            for name, ping in zip(names, pings, strict=True):
                if ping is None or name in self.rewiring:
                    continue
                if ping["incarnation"] != self.incarnations.get(name) or not ping["wired"]:
                    asyncio.get_running_loop().create_task(self._rewire(name, ping["incarnation"]))

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
            address = tuple(await handle.open_link.remote())
            self.addresses[name] = address  # type: ignore[assignment]
            await handle.wire.remote(self.handles, self.addresses)
            role = next(p.role for p in self.plans if p.name == name)
            if role in ("venue", "drop_copy"):
                await handle.start.remote()
            elif role == "gateway":
                await handle.start.remote(self.host, self.ws_port)
            self.incarnations[name] = incarnation
            self.restarts[name] = self.restarts.get(name, 0) + 1
            await self.update_address(name, address)  # type: ignore[arg-type]
            others = [n for n in self.handles if n not in (name, SUPERVISOR)]
            await asyncio.gather(*(self.handles[n].update_address.remote(name, address) for n in others))
            log.warning("actor restarted and re-wired", actor=name, restarts=self.restarts[name])
        except Exception:
            log.exception("re-wiring failed; will retry", actor=name)
        finally:
            self.rewiring.discard(name)

    # --- admin ---------------------------------------------------------------------------------

    async def admin(self, command: str, args: list[str]) -> dict[str, Any]:
        """Operator commands. Raises ``AdminError`` with a readable reason on bad input."""
        if command in ("halt", "resume"):
            return await self._halt(args, command == "halt")
        if command in ("kill", "unkill"):
            return await self._kill(args, command == "kill")
        handler = {
            "status": self._status,
            "account": self._account,
            "orders": self._orders,
            "cancel-all": self._cancel_all,
            "snapshot": self._snapshot,
            "check": self._check,
            "open": self._not_yet,
            "reconcile": self._not_yet,
        }.get(command)
        if handler is None:
            raise AdminError(f"unknown admin command {command!r}; try 'help'")
        return await handler(args)

    async def _operator(self, message: Message) -> None:
        """Journal the operator's command, apply it, and wait until the actors it concerns
        have applied what it sent them."""
        self.submit_local([message])
        await self.settle()
        if not await self.wait_acked(ANSWER_TIMEOUT_S):
            raise AdminError("the command is journaled but not every actor confirmed it yet; check 'status'")

    async def _halt(self, args: list[str], halted: bool) -> dict[str, Any]:
        symbol = _one(args, "halt SYMBOL" if halted else "resume SYMBOL")
        if symbol not in self.core.symbols:
            raise AdminError(f"unknown symbol {symbol}")
        await self._operator(SetTradingStatus(symbol, halted))
        return {"ok": True, "symbol": symbol, "halted": halted}

    async def _kill(self, args: list[str], killed: bool) -> dict[str, Any]:
        target = _one(args, "kill ACCOUNT|all" if killed else "unkill ACCOUNT|all")
        account = ALL if target == "all" else target
        if account != ALL:
            await self._shard_owning(account)
        canceled = await self._open_orders(None if account == ALL else account) if killed else 0
        await self._operator(SetKill(account, killed))
        return {"ok": True, "killed": self._killed(), "canceled": canceled}

    def _killed(self) -> list[str]:
        return ["all"] if self.core.kill_all else sorted(self.core.killed)

    async def _cancel_all(self, args: list[str]) -> dict[str, Any]:
        filters = _flags(args, ("--account", "--symbol", "--venue"), "cancel-all [--account A] [--symbol S] [--venue V]")
        account, symbol, venue = filters.get("account"), filters.get("symbol"), filters.get("venue")
        if account is not None:
            await self._shard_owning(account)
        if symbol is not None and symbol not in self.core.symbols:
            raise AdminError(f"unknown symbol {symbol}")
        if venue is not None and venue not in {v.name for v in self.config.venues}:
            raise AdminError(f"unknown venue {venue}")
        names = [p.name for p in self.plans if p.role == "instrument"]
        if symbol is not None:
            names = [self.router.instrument(symbol)]
        counts = await asyncio.gather(*(self.handles[n].cancel_count.remote(account, symbol, venue) for n in names))
        await self._operator(AdminCancelAll(account, symbol, venue))
        return {"ok": True, "canceled": sum(counts), "filters": filters}

    async def _account(self, args: list[str]) -> dict[str, Any]:
        account = _one(args, "account ACCOUNT")
        handle = await self._shard_owning(account)
        return {"ok": True, "account": await handle.admin_account.remote(account)}

    async def _orders(self, args: list[str]) -> dict[str, Any]:
        account = _one(args, "orders ACCOUNT")
        handle = await self._shard_owning(account)
        return {"ok": True, "account": account, "orders": await handle.admin_orders.remote(account)}

    async def _snapshot(self, args: list[str]) -> dict[str, Any]:
        if args:
            raise AdminError("usage: snapshot")
        return {"ok": True, "snapshots": await self.snapshot_all()}

    async def _check(self, args: list[str]) -> dict[str, Any]:
        """Check the live state against itself and its journals: every core's invariants
        (cash and positions equal to what the orders booked), and each journal replayed
        into a fresh core (from empty, or from its oldest snapshot once truncated) giving
        the live state hash."""
        if args:
            raise AdminError("usage: check")
        problems: list[str] = []
        try:
            await self.check_invariants()
        except Exception as failure:
            problems.append(f"invariants: {failure!r}")
        replays = await self.replay_hashes()
        mine = await self.replay_hash()
        replays[SUPERVISOR] = mine
        for name, result in replays.items():
            if result["live"] != result["replayed"]:
                problems.append(f"{name}: replay from {result['from']} differs from the live state")
        return {"ok": not problems, "problems": problems, "replayed_from": {name: r["from"] for name, r in replays.items()}}

    async def _not_yet(self, args: list[str]) -> dict[str, Any]:
        raise AdminError("not available yet: block orders at the open and reconciliation come with the block-order work")

    async def _shard_owning(self, account: str) -> Any:
        handle = self.handles[self.router.account(account)]
        if not await handle.owns.remote(account):
            raise AdminError(f"unknown account {account}")
        return handle

    async def _open_orders(self, account: str | None) -> int:
        shards = [p.name for p in self.plans if p.role == "account"]
        if account is not None:
            shards = [self.router.account(account)]
        counts = await asyncio.gather(*(self.handles[n].open_orders.remote(account) for n in shards))
        return sum(counts)

    async def _status(self, args: list[str]) -> dict[str, Any]:
        return await self.status_all()

    async def status_all(self) -> dict[str, Any]:
        names = [p.name for p in self.plans]
        statuses = await asyncio.gather(*(self.handles[name].status.remote() for name in names))
        for status in statuses:
            status["restarts"] = self.restarts.get(status["name"], 0)
        own = await self.status()
        return {
            "ok": True,
            "ws_port": self.ws_port,
            "halted": sorted(self.core.halted),
            "killed": self._killed(),
            "actors": [own, *statuses],
        }

    async def snapshot_all(self) -> dict[str, int]:
        names = [p.name for p in self.plans if p.role != "gateway"]
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
        await asyncio.gather(*(self.handles[p.name].stop.remote() for p in self.plans if p.role == "gateway"))
        await asyncio.gather(*(self.handles[p.name].close.remote() for p in self.plans if p.role == "venue"))
        await self.flush_all()
        await asyncio.sleep(0.1)
        await asyncio.gather(*(self.handles[p.name].close.remote() for p in self.plans if p.role in ("account", "instrument", "drop_copy")))
        await self.close()

    async def shutdown(self) -> None:
        """End every actor of the topology (the supervisor itself is ended by its owner)."""
        for name, handle in self.handles.items():
            if name != SUPERVISOR:
                ray.kill(handle, no_restart=True)

    async def check_invariants(self) -> None:
        await asyncio.gather(*(self.handles[p.name].check_invariants.remote() for p in self.plans if p.role in ("account", "instrument")))

    async def state_hashes(self) -> dict[str, str]:
        names = [p.name for p in self.plans if p.role != "gateway"]
        hashes = await asyncio.gather(*(self.handles[name].state_hash.remote() for name in names))
        return dict(zip(names, hashes, strict=True))

    async def replay_hashes(self) -> dict[str, dict[str, Any]]:
        names = [p.name for p in self.plans if p.role != "gateway"]
        results = await asyncio.gather(*(self.handles[name].replay_hash.remote() for name in names))
        return dict(zip(names, results, strict=True))

    async def handle_of(self, name: str) -> Any:
        return self.handles[name]


def _one(args: list[str], usage: str) -> str:
    if len(args) != 1 or not args[0]:
        raise AdminError(f"usage: {usage}")
    return args[0]


def _flags(args: list[str], allowed: tuple[str, ...], usage: str) -> dict[str, str]:
    found: dict[str, str] = {}
    rest = list(args)
    while rest:
        flag = rest.pop(0)
        if flag not in allowed or not rest or flag[2:] in found:
            raise AdminError(f"usage: {usage}")
        found[flag[2:]] = rest.pop(0)
    return found
