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
import csv
import io
import os
import shutil
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import ray
import structlog

from actors.runtime.frames import LinkSecret
from actors.runtime.host import DurableHost
from actors.runtime.machine import Core
from actors.runtime.outputs import ACCOUNT, ALL, GATEWAY, INSTRUMENT
from actors.runtime.roles import ROLES, Role, Shutdown, build_core
from actors.runtime.router import SUPERVISOR
from actors.supervisor.core import ActorPlan, plan
from model import fixed
from model.config import Config, ConfigError, Setup, check_account_symbols, numbered_csv_rows, parse_accounts_csv
from model.enums import AssetClass
from model.messages import AdminCancelAll, Message, OpenAccount, OpenMarket, SetKill, SetTradingStatus, StrikeNav
from server.admin import backoffice
from server.admin.paths import PathRefused, confine

log = structlog.get_logger("supervisor")

WATCH_INTERVAL_S = 0.5
PING_TIMEOUT_S = 5.0
ANSWER_TIMEOUT_S = 10.0
OPEN_WAIT_S = 20.0  # 'open' and 'nav' answer once applied at every InstrumentActor, or after this long (they go on)
PROGRESS_POLL_S = 0.02  # how often 'nav' asks the InstrumentActors whether the strike is applied
MAX_BREAKS_SHOWN = 1000  # reconcile lists this many breaks (and counts them all)


class AdminError(ValueError):
    """A bad admin command: the message is for the operator."""


@ray.remote
class SupervisorActor(DurableHost):
    """Owns the topology. ``start`` returns once every actor is wired and serving.

    ``roles``: the roles beyond those of ``actors/`` (the gateway's, from ``server/``),
    added to the role registry for this topology."""

    def __init__(self, setup: Setup, gateways: int = 1, roles: Sequence[Role] = ()) -> None:
        self.setup = setup
        super().__init__(SUPERVISOR, setup.config, gateways)
        self.link_secret = LinkSecret.generate()  # this cluster's: every actor gets it with open_link
        self.gateway_count = gateways
        self.roles = ROLES.extended(roles)
        self.plans = plan(setup, self.roles, gateways)
        self.recover(setup.config.server.data_dir)
        self.addresses: dict[str, tuple[str, int]] = {}
        self.incarnations: dict[str, int] = {}
        self.restarts: dict[str, int] = {}
        self.host = "127.0.0.1"
        self.ws_port = 0
        self.watchdog: asyncio.Task[None] | None = None
        self.rewiring: set[str] = set()
        self.import_root, self.export_root = _file_roots(setup.config)

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
        pings = await asyncio.gather(*(self.handles[name].ping.remote() for name in names))
        self.incarnations = {name: ping["incarnation"] for name, ping in zip(names, pings, strict=True)}
        await asyncio.gather(*(self.handles[name].wire.remote(self.handles, self.addresses) for name in names))
        await self.wire(self.handles, self.addresses)
        self.host = host
        await asyncio.gather(*(self.handles[p.name].start.remote() for p in self.plans if self.roles[p.role].starts))
        await self._seed_accounts(self.actors_of(ACCOUNT))
        await self._tell_gateways()
        ports = await asyncio.gather(*(self.handles[name].start.remote(host, ws_port) for name in self.actors_of(GATEWAY)))
        self.ws_port = ports[0]
        self.watchdog = asyncio.get_running_loop().create_task(self._watch())
        log.info("started", actors=len(self.plans), ws_port=self.ws_port)
        return {"ws_port": self.ws_port, "actors": names}

    def _create(self, actor_plan: ActorPlan, namespace: str) -> Any:
        return self.roles[actor_plan.role].create(actor_plan, self.setup, self.gateway_count, namespace)

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
            pings = await asyncio.gather(*(self._ping(name) for name in names))
            for name, ping in zip(names, pings, strict=True):
                if ping is None or name in self.rewiring:
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
            self.addresses[name] = address  # type: ignore[assignment]
            await handle.wire.remote(self.handles, self.addresses)
            role = next(p.role for p in self.plans if p.name == name)
            if self.roles[role].starts:
                await handle.start.remote()
            elif role == GATEWAY:
                await handle.add_accounts.remote(self._all_accounts())
                await handle.start.remote(self.host, self.ws_port)
            elif role == ACCOUNT:
                await self._seed_accounts([name])
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
        handlers = {
            "status": self._status,
            "account": self._account,
            "orders": self._orders,
            "cancel-all": self._cancel_all,
            "snapshot": self._snapshot,
            "check": self._check,
            "open": self._open,
            "nav": self._nav,
            "blocks": self._blocks,
            "export": self._export,
            "reconcile": self._reconcile,
            "accounts": self._accounts,
        }
        handler = handlers.get(command)
        if handler is None:
            raise AdminError(unknown_command(command, ["halt", "resume", "kill", "unkill", *handlers]))
        return await handler(args)

    async def _operator(self, message: Message) -> None:
        await self._operator_many([message])

    async def _operator_many(self, messages: list[Message]) -> None:
        """Journal the operator's command, apply it, and wait until the actors it concerns
        have applied what it sent them."""
        self.submit_local(messages)
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
        names = self.actors_of(INSTRUMENT)
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

    async def _open(self, args: list[str]) -> dict[str, Any]:
        """Release the orders queued for the open (all symbols, or those named)."""
        unknown = [symbol for symbol in args if symbol not in self.core.symbols]
        if unknown:
            raise AdminError(f"unknown symbol {', '.join(unknown)}; usage: open [SYMBOL ...]")
        symbols = sorted(set(args))
        expected: dict[str, int] = {}  # instrument actor → markers it completes for this open
        for symbol in symbols:
            name = self.router.instrument(symbol)
            expected[name] = expected.get(name, 0) + 1
        if not symbols:
            expected = {name: 1 for name in self.actors_of(INSTRUMENT)}
        await self._operator(OpenMarket(symbols))
        open_id = self.core.opens
        deadline = time.monotonic() + OPEN_WAIT_S
        while True:
            progress = await asyncio.gather(*(self.handles[n].open_progress.remote(open_id) for n in expected))
            opened = all(done >= expected[n] for n, (done, _) in zip(expected, progress, strict=True))
            if opened or time.monotonic() > deadline:
                # journaled everywhere either way: a very large open goes on after the answer
                released = sum(released for _, released in progress)
                return {"ok": True, "opened": opened, "released": released, "symbols": symbols or "all"}
            await asyncio.sleep(0.02)

    async def _nav(self, args: list[str]) -> dict[str, Any]:
        """Strike mutual funds' NAVs: ``nav FUND PRICE``, or ``nav FILE`` (CSV ``symbol,nav``;
        a bad row refuses the whole file). Every order collected for a fund fills at its NAV."""
        if len(args) == 2:
            strikes = [self._strike(args[0], args[1])]
        elif len(args) == 1:
            strikes = self._nav_file(args[0])
        else:
            raise AdminError("usage: nav FUND PRICE | nav FILE")
        await self._operator_many(list(strikes))
        # journaled and passed every account shard: the cut-off is behind us; now wait until
        # each fund's InstrumentActor has every shard's marker and strikes
        wanted = {strike.symbol: self.core.nav_strikes[strike.symbol] for strike in strikes}
        struck, orders = await self._struck(wanted)
        return {
            "ok": True,
            "struck": struck,
            "navs": {strike.symbol: fixed.format(strike.nav, min_places=2) for strike in strikes},
            "orders": orders,
        }

    async def _struck(self, wanted: dict[str, int]) -> tuple[bool, dict[str, int]]:
        """Until every fund's ``wanted``-th strike is applied at its InstrumentActor (or
        ``OPEN_WAIT_S`` passed): whether all are, and how many orders each strike filled or
        expired. A fund's strikes happen in order, so a later one (another operator's
        concurrent ``nav``) implies ours."""
        by_actor: dict[str, list[str]] = {}
        for symbol in wanted:
            by_actor.setdefault(self.router.instrument(symbol), []).append(symbol)
        deadline = time.monotonic() + OPEN_WAIT_S
        while True:
            parts = await asyncio.gather(*(self.handles[name].nav_progress.remote(symbols) for name, symbols in by_actor.items()))
            done = {symbol: counts for part in parts for symbol, counts in part.items()}
            orders = {symbol: done[symbol][strike - 1] for symbol, strike in wanted.items() if len(done[symbol]) >= strike}
            if len(orders) == len(wanted) or time.monotonic() > deadline:
                return len(orders) == len(wanted), orders
            await asyncio.sleep(PROGRESS_POLL_S)

    def _strike(self, symbol: str, text: str) -> StrikeNav:
        instrument = next((i for i in self.setup.instruments if i.symbol == symbol), None)
        if instrument is None or instrument.asset_class is not AssetClass.MUTUAL_FUND:
            raise AdminError(f"{symbol} is not a mutual fund")
        try:
            nav = fixed.parse(text)
        except ValueError as error:
            raise AdminError(f"bad NAV {text!r}: {error}") from None
        if nav <= 0 or nav % instrument.tick_size:
            raise AdminError(f"{symbol}: NAV must be a positive multiple of the tick {fixed.format(instrument.tick_size)}, not {text}")
        return StrikeNav(symbol, nav)

    def _nav_file(self, given: str) -> list[StrikeNav]:
        path = self._imported(given)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as error:
            raise AdminError(f"cannot read {path}: {error}") from None
        strikes, problems, seen = [], [], set()
        try:
            rows = numbered_csv_rows(csv.reader(io.StringIO(text, newline=""), strict=True))
            header = next(rows, None)
            if header is None or header[1] != ["symbol", "nav"]:
                raise AdminError(f"{path}: row 1: the header must be symbol,nav")
            for number, row in rows:
                try:
                    if len(row) != 2:
                        raise AdminError(f"expected symbol,nav, got {len(row)} fields")
                    if row[0] in seen:
                        raise AdminError(f"{row[0]} appears twice")
                    strikes.append(self._strike(row[0], row[1]))
                    seen.add(row[0])
                except AdminError as problem:
                    problems.append(f"row {number}: {problem}")
        except csv.Error as error:
            problems.append(str(error))
        if problems:
            raise AdminError(f"{path}: nothing struck; " + "; ".join(problems))
        if not strikes:
            raise AdminError(f"{path}: no NAVs in the file")
        return strikes

    async def _blocks(self, args: list[str]) -> dict[str, Any]:
        if args:
            raise AdminError("usage: blocks")
        names = self.actors_of(INSTRUMENT)
        parts = await asyncio.gather(*(self.handles[n].admin_blocks.remote() for n in names))
        blocks = sorted((block for part in parts for block in part), key=lambda block: (block["ts"], block["block_id"]))
        return {"ok": True, "blocks": blocks}

    async def _export(self, args: list[str]) -> dict[str, Any]:
        """End of day: every account's positions and the day's allocations as two CSV files
        (in FOLDER, default ``<data-dir>/exports/<UTC date>``)."""
        if len(args) > 1:
            raise AdminError("usage: export [FOLDER]")
        day = time.strftime("%Y-%m-%d", time.gmtime())
        try:
            folder = confine(self.export_root, args[0] if args else day, what="export dir", allow_root=True)
        except PathRefused as refused:
            log.warning("admin path refused", command="export", path=args[0], folder=str(self.export_root))
            raise AdminError(f"export: {refused}; nothing written") from None
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise AdminError(f"cannot write to {folder}: {error}") from None
        shards = self.actors_of(ACCOUNT)
        counts = await asyncio.gather(*(self.handles[n].export_part.remote(str(folder), n, day) for n in shards))
        files = {}
        for kind in ("positions", "allocations"):
            target = folder / f"{kind}.csv"
            _concatenate([folder / f"{kind}.{n}.csv" for n in shards], target)
            files[kind] = str(target)
        return {
            "ok": True,
            "positions": sum(c["positions"] for c in counts),
            "allocations": sum(c["allocations"] for c in counts),
            "files": files,
        }

    async def _reconcile(self, args: list[str]) -> dict[str, Any]:
        """Compare every account's positions with a back-office file; ``ok`` only without breaks."""
        path = self._imported(_one(args, "reconcile FILE"))
        try:
            theirs = backoffice.by_account(backoffice.read_positions(path))
        except backoffice.BackOfficeFileError as error:
            raise AdminError(str(error)) from None
        except OSError as error:
            raise AdminError(f"cannot read {path}: {error}") from None
        shards = self.actors_of(ACCOUNT)
        ours: dict[str, dict[str, int]] = {}
        for part in await asyncio.gather(*(self.handles[n].positions_book.remote() for n in shards)):
            ours.update(part)
        breaks = backoffice.reconcile(ours, theirs)
        shown = backoffice.breaks_to_json(breaks[:MAX_BREAKS_SHOWN])
        return {"ok": not breaks, "accounts": len(ours), "breaks_found": len(breaks), "breaks": shown}

    async def _accounts(self, args: list[str]) -> dict[str, Any]:
        """``accounts load FILE``: open the accounts of an accounts file (same format as the
        one read at start); a bad row, a known account or an unknown symbol loads nothing."""
        if len(args) != 2 or args[0] != "load":
            raise AdminError("usage: accounts load FILE")
        path = self._imported(args[1])
        try:
            seeds = parse_accounts_csv(path.read_text(encoding="utf-8-sig"), str(path))
            check_account_symbols(seeds, set(self.core.symbols))
        except ConfigError as error:
            raise AdminError(str(error)) from None
        except (OSError, UnicodeDecodeError) as error:
            raise AdminError(f"cannot read {path}: {error}") from None
        by_shard: dict[str, list[str]] = {}
        for seed in seeds:
            by_shard.setdefault(self.router.account(seed.account), []).append(seed.account)
        found = await asyncio.gather(*(self.handles[n].existing.remote(accounts) for n, accounts in by_shard.items()))
        known = sorted(account for part in found for account in part)
        if known:
            raise AdminError(f"{path}: {len(known)} accounts exist already, nothing loaded: {', '.join(known[:20])}")
        await self._operator_many([OpenAccount(s.account, s.owner, s.cash, s.allow_short, s.positions, s.group) for s in seeds])
        await self._tell_gateways()
        return {"ok": True, "loaded": len(seeds), "file": str(path)}

    def _imported(self, given: str) -> Path:
        """A file an admin command reads: ``given`` inside the import dir, or ``AdminError``."""
        try:
            return confine(self.import_root, given, what="import dir")
        except PathRefused as refused:
            log.warning("admin path refused", path=given, folder=str(self.import_root))
            raise AdminError(f"{refused}; nothing read") from None

    def _all_accounts(self) -> list[tuple[str, str]]:
        """Every account (file and run time) with its group, for the gateways."""
        return [(seed.account, seed.group) for seed in self.setup.accounts] + sorted(self.core.loaded.items())

    async def _tell_gateways(self) -> None:
        """Gateways learn every account and its group (for advisors)."""
        pairs = self._all_accounts()
        gateways = self.actors_of(GATEWAY)
        await asyncio.gather(*(self.handles[n].add_accounts.remote(pairs) for n in gateways))

    async def _seed_accounts(self, shards: list[str]) -> None:
        plans = {p.name: p for p in self.plans}
        await asyncio.gather(*(self.handles[name].seed.remote(plans[name].accounts) for name in shards))

    async def _shard_owning(self, account: str) -> Any:
        handle = self.handles[self.router.account(account)]
        if not await handle.owns.remote(account):
            raise AdminError(f"unknown account {account}")
        return handle

    async def _open_orders(self, account: str | None) -> int:
        shards = self.actors_of(ACCOUNT)
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
            "import_dir": str(self.import_root),
            "export_dir": str(self.export_root),
            "actors": [own, *statuses],
        }

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

    async def handle_of(self, name: str) -> Any:
        return self.handles[name]

    def _journaled(self) -> list[str]:
        return [p.name for p in self.plans if self.roles[p.role].journaled]

    def _ending(self, phase: Shutdown) -> list[str]:
        return [p.name for p in self.plans if self.roles[p.role].shutdown is phase]


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


SHELL_COMMANDS = ("help", "journal", "quit", "exit")  # the admin shell runs these itself, never the server


def unknown_command(command: str, commands: list[str]) -> str:
    """The answer to a command the server does not have, naming those it has (there is no
    ``help`` over the WebSocket API); the admin shell's own commands are pointed to the shell."""
    known = ", ".join(commands)
    if command in SHELL_COMMANDS:
        return f"{command!r} is a command of the admin shell (python run_server.py admin {command}), not of the server; server commands: {known}"
    return f"unknown admin command {command!r}; server commands: {known}"


def open_due(at: str, timezone: str, last_day: str, now_s: float) -> str | None:
    if not at:
        return None
    local = datetime.fromtimestamp(now_s, ZoneInfo(timezone))
    hours, minutes = (int(part) for part in at.split(":"))
    if local.weekday() >= 5 or (local.hour, local.minute) < (hours, minutes):
        return None
    day = local.date().isoformat()
    return None if day == last_day else day


def _concatenate(parts: list[Path], target: Path) -> None:
    """Join CSV parts with the same header into ``target`` (atomically) and remove them."""
    temporary = target.with_name(f".{target.name}.tmp")
    with temporary.open("w", encoding="utf-8", newline="") as out:
        for index, part in enumerate(parts):
            with part.open(encoding="utf-8", newline="") as source:
                header = source.readline()
                if index == 0:
                    out.write(header)
                shutil.copyfileobj(source, out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, target)
    for part in parts:
        part.unlink()


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
