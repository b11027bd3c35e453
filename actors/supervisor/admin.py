"""The server's admin commands: one handler per entry of ``model/admin_commands.py``.

:class:`AdminCommands` checks a command against the table (the same check as the shell's
and the gateway's) and runs the method the entry's ``handler`` names, with the arguments
as :class:`~model.admin_commands.Given`, and the tenant the command is confined to (``None``:
every tenant, the platform operator's). A handler returns the JSON result, or raises
``AdminError`` with a readable reason (nothing changed).

Tenants: a confined command sees and touches only its tenant's accounts — another tenant's
account is answered like one that does not exist (``unknown account``), ``kill all`` and
``cancel-all`` without ``--account`` mean every account of the tenant, ``export`` and
``report gains`` write and
``reconcile``, ``accounts load`` and ``orders load`` read only the tenant's own folder
(``<export dir>/<tenant>/``, ``<import dir>/<tenant>/``) and only its accounts. The
server-wide commands (permission ``server.*`` in ``model/permissions.py``) refuse a confined
caller (the gateway refuses it first).

On the control path only: the handlers await the other actors. An operator command that
changes state is journaled by the supervisor, applied, and answered once the actors it
concerns have applied what it sent them (acked over the link, i.e. committed to their
journals).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import msgspec
import structlog

from actors.runtime.heap import give_back
from actors.runtime.outputs import ACCOUNT, ALL, GATEWAY, INSTRUMENT
from actors.runtime.router import SUPERVISOR, Router
from actors.strategy.admin import StrategyCommands
from actors.supervisor import nav
from actors.supervisor.core import ActorPlan
from keystore import apikeys, totp, vault
from keystore.masterkey import MasterKeyError
from keystore.store import SecretInfo, StoreError
from model import backoffice, fixed, lots, permissions
from model.admin_commands import SERVER, AdminError, Forbidden, Given, check
from model.config import Config, ConfigError, Setup, User, check_account_symbols, check_tenant_name, parse_accounts_csv
from model.desk import tuned
from model.messages import AdminCancelAll, DeskControl, Message, OpenAccount, OpenMarket, SetAccountTradingState, SetKill, SetLotMethod, SetPortfolioLimits, SetTradingStatus
from model.risk.limits import TradingState, parse_limits
from model.permissions import DEFAULT_TENANT, Reach
from model.statements import check_period, parse_day
from model.transfers import Decision, TransferStatus
from snapshots.files import PathRefused, concatenate_csv, confine, read_import, read_positions

if TYPE_CHECKING:
    from model.basket import BasketRules

# ``model.basket`` (pyarrow with it) is imported where a basket is loaded, not here: Ray
# imports this module in every actor process that is handed the supervisor's handle (to
# know its class), and only the supervisor loads baskets — about 9 MB of memory and a
# tenth of a second of each other process's start.

log = structlog.get_logger("supervisor")

ANSWER_TIMEOUT_S = 10.0
OPEN_WAIT_S = 20.0  # 'open' and 'nav' answer once applied at every InstrumentActor, or after this long (they go on)
PROGRESS_POLL_S = 0.02  # how often 'open' and 'nav' ask the InstrumentActors whether they are done
MAX_BREAKS_SHOWN = 1000  # reconcile lists this many breaks (and counts them all)

Result = dict[str, Any]


class Supervisor(Protocol):
    """What the commands use of the supervisor actor (``actors/supervisor/actor.py``)."""

    setup: Setup
    plans: list[ActorPlan]
    handles: dict[str, Any]
    import_root: Path
    export_root: Path

    @property
    def config(self) -> Config: ...
    @property
    def router(self) -> Router: ...
    @property
    def core(self) -> Any: ...
    def submit_local(self, messages: list[Message]) -> None: ...
    async def settle(self) -> None: ...
    async def wait_acked(self, timeout: float = 10.0) -> bool: ...
    async def status_all(self) -> Result: ...
    async def snapshot_all(self) -> dict[str, int]: ...
    async def check_invariants(self) -> None: ...
    async def replay_hashes(self) -> dict[str, Result]: ...
    async def replay_hash(self) -> Result: ...
    def actors_of(self, role: str) -> list[str]: ...
    # the actor's own helpers (private: not remote methods of the Ray actor)
    def _killed(self) -> list[str]: ...
    def _all_accounts(self) -> list[tuple[str, str, str]]: ...
    def _tenant_of(self, account: str) -> str | None: ...
    async def _tell_gateways(self) -> None: ...
    async def _tell_gateways_keys(self) -> dict[str, Any]: ...


class AdminCommands(StrategyCommands):
    """The handlers, named by the table's ``handler`` (one method each, public, async)."""

    def __init__(self, supervisor: Supervisor) -> None:
        self.top = supervisor
        # one ``accounts load`` at a time from its check that no account exists to their opening:
        # two files naming the same account (two tenants' admins at once) cannot both pass it
        self.opening = asyncio.Lock()

    async def run(self, name: str, args: list[str], tenant: str | None = None) -> Result:
        """Check ``name`` and ``args`` against the table and run the handler, confined to
        ``tenant`` (None: every tenant). Raises ``AdminError`` with a readable reason on bad
        input, ``Forbidden`` for a server-wide command asked by a confined caller."""
        command, given = check(name, args, SERVER)
        needed = permissions.command_permission(name, args)
        if tenant is not None and needed.startswith("server."):
            raise Forbidden(f"admin {name} is server-wide: only the {permissions.PLATFORM_OPERATOR} role runs it", needed)
        chosen = given.get("tenant")
        if chosen is not None and tenant is None:  # the platform operator's choice
            tenant = self._known_tenant(name, chosen)
        elif chosen is not None and chosen != tenant:
            raise Forbidden(f"admin {name} --tenant: only the {permissions.PLATFORM_OPERATOR} role chooses a tenant")
        handler = getattr(self, command.handler)
        result: Result = await handler(given, tenant)
        return result

    # --- tenants ---------------------------------------------------------------------------------

    def _accounts_of(self, tenant: str | None) -> list[str]:
        """Every account of ``tenant`` (None: of every tenant)."""
        return [account for account, _, owner in self.top._all_accounts() if tenant is None or owner == tenant]

    def _reach(self, tenant: str | None) -> TenantAccounts:
        """The accounts a caller confined to ``tenant`` may name (every account when None), to
        ask ``in`` of: each answer two look-ups, no list of the tenant's accounts built."""
        return TenantAccounts(self.top._tenant_of, tenant)

    def _within(self, account: str, tenant: str | None) -> None:
        """``AdminError`` ``unknown account`` unless ``account`` is ``tenant``'s (any when None):
        another tenant's account is answered exactly like one that does not exist."""
        if tenant is not None and account not in self._reach(tenant):
            raise AdminError(f"unknown account {account}")

    def _known_tenant(self, name: str, tenant: str) -> str:
        """``--tenant T`` checked: a tenant's name (what names its folders) that a user, an
        account or a ``[tenants.T]`` section has, or the default tenant; else ``AdminError``.
        A mistyped tenant is refused, not answered with an empty export."""
        try:
            check_tenant_name(tenant, f"admin {name} --tenant")
        except ValueError as error:
            raise AdminError(f"{error}; nothing read or written") from None
        top = self.top
        if not (
            tenant == DEFAULT_TENANT
            or tenant in top.config.tenants
            or any(user.tenant == tenant for user in top.setup.users)
            or any(owner == tenant for _, _, owner in top._all_accounts())
        ):
            raise AdminError(
                f"admin {name} --tenant: unknown tenant {tenant!r} (no user or account belongs to it); nothing read or written"
            )
        return tenant

    def _tenant_dir(self, root: Path, tenant: str | None) -> Path:
        """A tenant's own folder under the import or export dir (the dir itself for None).

        Guarantees: a folder directly inside ``root``: a name that is no tenant's (``..``,
        ``a/b``, an absolute path) is ``AdminError``."""
        if tenant is None:
            return root
        try:
            check_tenant_name(tenant, "the tenant")
        except ValueError as error:
            raise AdminError(f"{error}; nothing read or written") from None
        return root / tenant

    # --- the topology --------------------------------------------------------------------------

    def _actors(self, role: str) -> list[str]:
        return self.top.actors_of(role)

    async def _operator(self, messages: list[Message]) -> None:
        """Journal the operator's command, apply it, and wait until the actors it concerns
        have applied what it sent them."""
        self.top.submit_local(messages)
        await self.top.settle()
        if not await self.top.wait_acked(ANSWER_TIMEOUT_S):
            raise AdminError("the command is journaled but not every actor confirmed it yet; check 'status'")

    async def _shard_owning(self, account: str, tenant: str | None) -> Any:
        self._within(account, tenant)
        handle = self.top.handles[self.top.router.account(account)]
        if not await handle.owns.remote(account):
            raise AdminError(f"unknown account {account}")
        return handle

    def _symbol(self, symbol: str) -> str:
        if symbol not in self.top.core.symbols:
            raise AdminError(f"unknown symbol {symbol}")
        return symbol

    def _imported(self, given: str, tenant: str | None = None) -> Path:
        """A file an admin command reads: ``given`` inside the import dir (a tenant's: inside
        its folder of the import dir), or ``AdminError``."""
        try:
            return confine(self._tenant_dir(self.top.import_root, tenant), given, what="import dir")
        except PathRefused as refused:
            log.warning("admin path refused", path=given, folder=str(self.top.import_root))
            raise AdminError(f"{refused}; nothing read") from None

    # --- looking ---------------------------------------------------------------------------------

    async def status(self, given: Given, tenant: str | None) -> Result:
        return await self.top.status_all()

    async def account(self, given: Given, tenant: str | None) -> Result:
        handle = await self._shard_owning(given["ACCOUNT"], tenant)
        return {"ok": True, "account": await handle.admin_account.remote(given["ACCOUNT"])}

    async def orders(self, given: Given, tenant: str | None) -> Result:
        file = given.get("FILE")
        if file is not None:
            return await self._orders_load(file, tenant)
        account = given["ACCOUNT"]
        handle = await self._shard_owning(account, tenant)
        return {"ok": True, "account": account, "orders": await handle.admin_orders.remote(account)}

    async def blocks(self, given: Given, tenant: str | None) -> Result:
        parts = await asyncio.gather(*(self.top.handles[n].admin_blocks.remote() for n in self._actors(INSTRUMENT)))
        blocks = sorted((block for part in parts for block in part), key=lambda block: (block["ts"], block["block_id"]))
        return {"ok": True, "blocks": blocks}

    async def config(self, given: Given, tenant: str | None) -> Result:
        """The running configuration, every section with its defaults filled in. It holds no
        secret: logins live in the users file, FIX passwords in the sessions' ``.cfg`` or sealed
        in the vault (named ``vault:NAME`` there); ``[secrets]`` names files, never the key."""
        return {"ok": True, "config": msgspec.to_builtins(self.top.config)}

    async def snapshot(self, given: Given, tenant: str | None) -> Result:
        return {"ok": True, "snapshots": await self.top.snapshot_all()}

    async def check(self, given: Given, tenant: str | None) -> Result:
        """Check the live state against itself and its journals: every core's invariants
        (cash and positions equal to what the orders booked), and each journal replayed
        into a fresh core (from empty, or from its oldest snapshot once truncated) giving
        the live state hash."""
        problems: list[str] = []
        try:
            await self.top.check_invariants()
        except Exception as failure:
            problems.append(f"invariants: {failure!r}")
        replays = await self.top.replay_hashes()
        replays[SUPERVISOR] = await self.top.replay_hash()
        for name, result in replays.items():
            if result["live"] != result["replayed"]:
                problems.append(f"{name}: replay from {result['from']} differs from the live state")
        return {"ok": not problems, "problems": problems, "replayed_from": {name: r["from"] for name, r in replays.items()}}

    async def strategy(self, given: Given, tenant: str | None) -> Result:
        """``strategy ...``: the strategy actor's commands (``actors/strategy/admin.py``)."""
        return await self._strategy(given, tenant)

    # --- switches --------------------------------------------------------------------------------

    async def halt(self, given: Given, tenant: str | None) -> Result:
        return await self._trading_status(given["SYMBOL"], True)

    async def resume(self, given: Given, tenant: str | None) -> Result:
        return await self._trading_status(given["SYMBOL"], False)

    async def _trading_status(self, symbol: str, halted: bool) -> Result:
        await self._operator([SetTradingStatus(self._symbol(symbol), halted)])
        return {"ok": True, "symbol": symbol, "halted": halted}

    # --- the market-making desk ---------------------------------------------------------------

    async def desk(self, given: Given, tenant: str | None) -> Result:
        """``desk start|stop|tune SYMBOL``, journaled and applied by the symbol's
        InstrumentActor (a tune checked whole first: a bad value changes nothing), answered
        with the desk's status; ``desk status [SYMBOL]``: every desk's, or one."""
        action = ("start", "stop", "tune", "status")[given.form]
        symbol = given.get("SYMBOL")
        if action == "status" and symbol is None:
            parts = await asyncio.gather(*(self.top.handles[n].desk_status.remote() for n in self._actors(INSTRUMENT)))
            return {"ok": True, "desks": sorted((d for part in parts for d in part), key=lambda d: d["symbol"])}
        symbol = self._desk_symbol(symbol)
        handle = self.top.handles[self.top.router.instrument(symbol)]
        if action == "tune":
            current = await handle.desk_params.remote(symbol)
            if current is None:
                raise AdminError(f"no desk in {symbol} yet; nothing changed")
            try:
                params = tuned(current, given.many, self.top.config.desk.max_levels)
            except ValueError as bad:
                raise AdminError(f"{bad}; nothing changed") from None
            await self._operator([DeskControl(symbol, "tune", params)])
        elif action != "status":
            await self._operator([DeskControl(symbol, action)])
        desks = await handle.desk_status.remote(symbol)
        if not desks:
            raise AdminError(f"no desk in {symbol} yet (its InstrumentActor has not taken [desk])")
        desk = desks[0]
        if action == "start" and desk["stopped"]:
            raise AdminError(f"desk {symbol} stays stopped ({desk['stopped']}): its loss of the day is past max_loss; tune max_loss or start it on a later day")
        return {"ok": True, "desk": desk}

    def _desk_symbol(self, symbol: str | None) -> str:
        """``symbol`` if the desk quotes it (``[desk] symbols``), else ``AdminError``."""
        section = self.top.config.desk
        if not section.enabled:
            raise AdminError("the desk is off ([desk] enabled = false)")
        if symbol is None or symbol not in section.symbols:
            raise AdminError(f"the desk does not quote {symbol}; [desk] symbols: {', '.join(section.symbols)}")
        return symbol

    async def kill(self, given: Given, tenant: str | None) -> Result:
        return await self._kill(given["ACCOUNT|all"], True, tenant)

    async def unkill(self, given: Given, tenant: str | None) -> Result:
        return await self._kill(given["ACCOUNT|all"], False, tenant)

    async def _kill(self, target: str, killed: bool, tenant: str | None) -> Result:
        """One account, or ``all``: every account (every account of ``tenant`` when confined:
        one switch per account, so another tenant's accounts are never touched)."""
        if target == "all" and tenant is not None:
            accounts = self._accounts_of(tenant)
            canceled = sum([await self._open_orders(account) for account in accounts]) if killed else 0
            await self._operator([SetKill(account, killed) for account in accounts])
            return {"ok": True, "killed": self._killed_of(tenant), "canceled": canceled}
        account = ALL if target == "all" else target
        if account != ALL:
            await self._shard_owning(account, tenant)
        canceled = await self._open_orders(None if account == ALL else account) if killed else 0
        await self._operator([SetKill(account, killed)])
        return {"ok": True, "killed": self._killed_of(tenant), "canceled": canceled}

    async def risk_limits(self, given: Given, tenant: str | None) -> Result:
        """Portfolio limits of one account or of a group (``group:NAME``): checked here (a
        negative amount, a share above 100 %, an unknown account or group changes nothing),
        then journaled by the supervisor and by each shard that applies them."""
        target = given["ACCOUNT|group:NAME"]
        clear = given.form == 1
        try:
            limits = parse_limits(
                given.get("max-var"), given.get("max-concentration-pct"), given.get("max-gross-exposure"), given.get("max-drawdown-pct"), given.get("max-sector-pct")
            )
        except ValueError as error:
            raise AdminError(str(error)) from None
        if not clear and not limits.any():
            raise AdminError("give at least one limit (--max-var, --max-gross-exposure, --max-concentration-pct, --max-sector-pct, --max-drawdown-pct), or 'clear'")
        if target.startswith("group:"):
            group = target.removeprefix("group:")
            if not group or not any(g == group and (tenant is None or t == tenant) for _, g, t in self.top._all_accounts()):
                raise AdminError(f"unknown group {group}")
            # a confined caller's: its tenant's group alone (two tenants' groups of one name are
            # two groups); the platform operator's: every tenant's group of that name
            command = SetPortfolioLimits(group=group, limits=limits, clear=clear, tenant=tenant or "")
        else:
            await self._shard_owning(target, tenant)
            command = SetPortfolioLimits(account=target, limits=limits, clear=clear)
        await self._operator([command])
        return {"ok": True, "target": target, "limits": None if clear else limits.wire(), "cleared": clear}

    async def risk(self, given: Given, tenant: str | None) -> Result:
        """The portfolio measures now (docs/risk.md#admin-risk) of one account, of a group
        (``group:NAME``: its accounts' positions summed, on any shard) or of every account
        within the caller's reach: each shard gives its accounts' exposures, equity, limits,
        states and alerts; one shard computes the measures of their sum from its history.
        Read only: nothing is journaled."""
        target = given.get("ACCOUNT|group:NAME")
        if target is None or target.startswith("group:"):  # every account listed only when the target needs it
            everyone = [(a, g, t) for a, g, t in self.top._all_accounts() if tenant is None or t == tenant]
        if target is None:
            names = [a for a, _, _ in everyone]
        elif target.startswith("group:"):
            group = target.removeprefix("group:")
            names = [a for a, g, _ in everyone if g == group]
            if not group or not names:
                raise AdminError(f"unknown group {group}")
        else:
            await self._shard_owning(target, tenant)
            names = [target]
        by_shard: dict[str, list[str]] = {}
        for name in names:
            by_shard.setdefault(self.top.router.account(name), []).append(name)
        if not by_shard:
            raise AdminError("no account to measure")
        found = await asyncio.gather(*(self.top.handles[shard].risk_parts.remote(accounts) for shard, accounts in sorted(by_shard.items())))
        parts = [part for shard_parts in found for part in shard_parts]
        exposures: dict[str, int] = {}
        for part in parts:
            for symbol, value in part["exposures"].items():
                exposures[symbol] = exposures.get(symbol, 0) + value
        equity = sum(part["equity"] for part in parts)
        high_water = sum(part["high_water"] for part in parts)
        first = self.top.handles[min(by_shard)]
        measures = await first.risk_figures.remote(exposures, equity, high_water)
        result: Result = {"ok": True, "target": target or "all", "accounts": len(parts), **measures}
        if target is not None and not target.startswith("group:"):
            (part,) = parts
            result.update(limits=part["limits"], trading_state=part["trading_state"], alerts=part["alerts"])
        else:
            result["alerts"] = [{"account": p["account"], **alert} for p in parts for alert in p["alerts"]]
            result["trading_states"] = {p["account"]: p["trading_state"] for p in parts if p["trading_state"] != TradingState.ACTIVE}
        return result

    async def trading_state(self, given: Given, tenant: str | None) -> Result:
        account, state = given["ACCOUNT"], given["active|reducing|halted"]
        if state not in set(TradingState):
            raise AdminError(f"unknown trading state {state!r}; states: active, reducing, halted")
        await self._shard_owning(account, tenant)
        await self._operator([SetAccountTradingState(account, state)])
        return {"ok": True, "account": account, "state": state}

    async def lot_method(self, given: Given, tenant: str | None) -> Result:
        """The account's tax-lot method (docs/books.md); ``specific`` is an order's choice, not an account's."""
        account, method = given["ACCOUNT"], given["METHOD"]
        if method not in lots.METHODS or method == lots.LotMethod.SPECIFIC:
            raise AdminError(f"unknown lot method {method!r}; methods: fifo, lifo, hifo, average")
        await self._shard_owning(account, tenant)
        await self._operator([SetLotMethod(account, method)])
        return {"ok": True, "account": account, "lot_method": method}

    def _killed_of(self, tenant: str | None) -> list[str]:
        """The killed accounts a caller confined to ``tenant`` may see (``all``: the switch for
        every account is on)."""
        killed = self.top._killed()
        if tenant is None or killed == ["all"]:
            return killed
        own = self._reach(tenant)
        return [account for account in killed if account in own]

    async def _open_orders(self, account: str | None) -> int:
        shards = self._actors(ACCOUNT) if account is None else [self.top.router.account(account)]
        counts = await asyncio.gather(*(self.top.handles[n].open_orders.remote(account) for n in shards))
        return sum(counts)

    async def cancel_all(self, given: Given, tenant: str | None) -> Result:
        filters = dict(given.values)
        account, symbol, venue = filters.get("account"), filters.get("symbol"), filters.get("venue")
        if account is not None:
            await self._shard_owning(account, tenant)
        if symbol is not None:
            self._symbol(symbol)
        if venue is not None and venue not in {v.name for v in self.top.config.venues}:
            raise AdminError(f"unknown venue {venue}")
        names = self._actors(INSTRUMENT) if symbol is None else [self.top.router.instrument(symbol)]
        # confined without --account: every account of the tenant, one by one
        accounts: list[str | None] = [account] if account is not None or tenant is None else list(self._accounts_of(tenant))
        counts = await asyncio.gather(*(self.top.handles[n].cancel_count.remote(a, symbol, venue) for n in names for a in accounts))
        await self._operator([AdminCancelAll(a, symbol, venue) for a in accounts])
        return {"ok": True, "canceled": sum(counts), "filters": filters}

    # --- cash movements ------------------------------------------------------------------------------

    async def transfers(self, given: Given, tenant: str | None) -> Result:
        """Deposits, withdrawals and journal legs: of one account, or the most recent
        ``[transfers] admin_listed`` of every account (of ``tenant`` when confined)."""
        status = given.get("status")
        if status is not None and status not in {s.value for s in TransferStatus}:
            raise AdminError(f"--status must be one of {', '.join(TransferStatus)}, not {status!r}")
        account = given.get("ACCOUNT")
        if account is not None:
            handle = await self._shard_owning(account, tenant)
            listed: list[Result] = await handle.admin_transfers.remote([account], status, 0)
        else:
            accounts = None if tenant is None else self._accounts_of(tenant)
            limit = self.top.config.transfers.admin_listed
            parts = await asyncio.gather(*(self.top.handles[n].admin_transfers.remote(accounts, status, limit) for n in self._actors(ACCOUNT)))
            listed = sorted((view for part in parts for view in part), key=lambda view: (view["created_ts"], view["transfer_id"]))[-limit:]
        return {"ok": True, "account": account, "status": status, "transfers": listed}

    async def transfer(self, given: Given, tenant: str | None) -> Result:
        """Settle, reject or cancel one pending deposit or withdrawal: journaled by the shard
        that holds it, and answered with the transfer as it now stands (an unknown id, another
        tenant's, or one already decided: ``AdminError``, nothing changed)."""
        decision = Decision(("settle", "reject", "cancel")[given.form])
        transfer_id = given["ID"]
        shard = _shard_of_transfer(transfer_id)
        handle = self.top.handles.get(shard) if shard in self._actors(ACCOUNT) else None
        view = None if handle is None else await handle.transfer_view.remote(transfer_id)
        if view is None and shard:  # its account moved to another shard (``admin reshard``): the id names the first
            handle, view = await self._moved_transfer(transfer_id, shard)
        if view is None or (tenant is not None and view["account"] not in self._reach(tenant)):
            raise AdminError(f"unknown transfer {transfer_id}" + ("" if shard else " (a journal is booked at once: nothing to settle)"))
        assert handle is not None
        result: Result = await handle.decide_transfer.remote(transfer_id, decision.value, given.get("REASON"), "operator")
        if not result.get("ok"):
            raise AdminError(f"{result['code']}: {result['message']}")
        return {"ok": True, "transfer": result["transfer"]}

    async def _moved_transfer(self, transfer_id: str, named: str) -> tuple[Any, Result | None]:
        """The shard that holds ``transfer_id`` other than the one its id names, and the
        transfer's view (``None, None``: none holds it)."""
        for name in self._actors(ACCOUNT):
            if name != named:
                handle = self.top.handles[name]
                view = await handle.transfer_view.remote(transfer_id)
                if view is not None:
                    return handle, view
        return None, None

    # --- the open and mutual funds -----------------------------------------------------------------

    async def open(self, given: Given, tenant: str | None) -> Result:
        """Release the orders queued for the open (all symbols, or those named)."""
        unknown = [symbol for symbol in given.many if symbol not in self.top.core.symbols]
        if unknown:
            raise AdminError(f"unknown symbol {', '.join(unknown)}; usage: open [SYMBOL ...]")
        symbols = sorted(set(given.many))
        expected: dict[str, int] = {}  # instrument actor → markers it completes for this open
        for symbol in symbols:
            name = self.top.router.instrument(symbol)
            expected[name] = expected.get(name, 0) + 1
        if not symbols:
            expected = {name: 1 for name in self._actors(INSTRUMENT)}
        await self._operator([OpenMarket(symbols)])
        open_id = self.top.core.opens
        deadline = time.monotonic() + OPEN_WAIT_S
        while True:
            progress = await asyncio.gather(*(self.top.handles[n].open_progress.remote(open_id) for n in expected))
            opened = all(done >= expected[n] for n, (done, _) in zip(expected, progress, strict=True))
            if opened or time.monotonic() > deadline:
                # journaled everywhere either way: a very large open goes on after the answer
                released = sum(released for _, released in progress)
                return {"ok": True, "opened": opened, "released": released, "symbols": symbols or "all"}
            await asyncio.sleep(PROGRESS_POLL_S)

    async def nav(self, given: Given, tenant: str | None) -> Result:
        """Strike mutual funds' NAVs: ``nav FUND PRICE``, or ``nav FILE`` (CSV ``symbol,nav``;
        a bad row refuses the whole file). Every order collected for a fund fills at its NAV."""
        instruments = {i.symbol: i for i in self.top.setup.instruments}
        file = given.get("FILE")
        if file is None:
            strikes = [nav.strike(instruments, given["FUND"], given["PRICE"])]
        else:
            path = self._imported(file)
            try:
                text = read_import(path).decode("utf-8-sig")
            except PathRefused as refused:
                raise AdminError(f"{refused}; nothing read") from None
            except (OSError, UnicodeDecodeError) as error:
                raise AdminError(f"cannot read {path}: {error}") from None
            strikes = nav.nav_file(text, path, instruments)
        await self._operator(list(strikes))
        # journaled and passed every account shard: the cut-off is behind us; now wait until
        # each fund's InstrumentActor has every shard's marker and strikes
        wanted = {strike.symbol: self.top.core.nav_strikes[strike.symbol] for strike in strikes}
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
            by_actor.setdefault(self.top.router.instrument(symbol), []).append(symbol)
        deadline = time.monotonic() + OPEN_WAIT_S
        while True:
            parts = await asyncio.gather(*(self.top.handles[name].nav_progress.remote(symbols) for name, symbols in by_actor.items()))
            done = {symbol: counts for part in parts for symbol, counts in part.items()}
            orders = {symbol: done[symbol][strike - 1] for symbol, strike in wanted.items() if len(done[symbol]) >= strike}
            if len(orders) == len(wanted) or time.monotonic() > deadline:
                return len(orders) == len(wanted), orders
            await asyncio.sleep(PROGRESS_POLL_S)

    # --- files: accounts, end of day ----------------------------------------------------------------

    async def accounts_load(self, given: Given, tenant: str | None) -> Result:
        """``accounts load FILE``: open the accounts of an accounts file (same format as the
        one read at start); a bad row, a known account or an unknown symbol loads nothing."""
        path = self._imported(given["FILE"], tenant)
        try:
            seeds = parse_accounts_csv(read_import(path).decode("utf-8-sig"), str(path), tenant)
            check_account_symbols(seeds, {i.symbol: i for i in self.top.setup.instruments})
        except ConfigError as error:
            raise AdminError(str(error)) from None
        except PathRefused as refused:
            raise AdminError(f"{refused}; nothing loaded") from None
        except (OSError, UnicodeDecodeError) as error:
            raise AdminError(f"cannot read {path}: {error}") from None
        by_shard: dict[str, list[str]] = {}
        for seed in seeds:
            by_shard.setdefault(self.top.router.account(seed.account), []).append(seed.account)
        async with self.opening:
            found = await asyncio.gather(*(self.top.handles[n].existing.remote(accounts) for n, accounts in by_shard.items()))
            known = sorted(account for part in found for account in part)
            if known:
                raise AdminError(f"{path}: {len(known)} accounts exist already, nothing loaded: {', '.join(known[:20])}")
            await self._operator([OpenAccount(s.account, s.owner, s.cash, s.allow_short, s.positions, s.group, s.tenant, s.basis) for s in seeds])
        await self.top._tell_gateways()
        return {"ok": True, "loaded": len(seeds), "file": str(path)}

    async def _orders_load(self, file: str, tenant: str | None) -> Result:
        """``orders load FILE``: a basket file of orders (CSV, or Parquet by its ``.parquet``
        name) checked whole here — a bad row loads nothing and the answer lists every bad
        row — then loaded through a gateway, like the same basket uploaded there, in chunks
        each shard journals before applying. Answers with what became of the orders."""
        from model.basket import BasketError, BasketRules, refused_rows  # (see the note on the module's imports)

        started = time.monotonic()
        path = self._imported(file, tenant)
        config = self.top.config
        known = self._reach(tenant)
        rules = BasketRules(
            {instrument.symbol: instrument for instrument in self.top.setup.instruments},
            known,
            lambda account: f"unknown account {account!r}",
            config.basket.max_rows,
            config.risk.max_client_order_id_length,
            config.basket.errors_listed,
        )
        try:  # off the event loop: the reader and the checks take a while on a large file
            chunks = await asyncio.to_thread(_checked_chunks, path, rules, self.top.router.account, config.basket.chunk_rows)
        except PathRefused as refused:
            raise AdminError(f"{refused}; nothing loaded") from None
        except OSError as error:
            raise AdminError(f"cannot read {path}: {error}") from None
        except BasketError as refused:
            if refused.problem:
                raise AdminError(str(refused)) from None
            return {"ok": False, "file": str(path), "error": refused.summary(), **refused_rows(refused)}
        finally:
            give_back()  # what the reader and the checks used, garbage now (actors/runtime/heap.py)
        checked = time.monotonic()
        gateways = self._actors(GATEWAY)
        if not gateways:
            raise AdminError("no gateway to load the orders through; nothing loaded")
        loading = self.top.handles[gateways[0]].load_orders.remote(chunks)
        del chunks  # handed to Ray: the gateway holds them while they load
        summary: Result = await loading
        summary["load_ms"] = summary.pop("ms")
        return {
            "ok": True,
            "file": str(path),
            **summary,
            "check_ms": round((checked - started) * 1000),
            "ms": round((time.monotonic() - started) * 1000),
        }

    async def export(self, given: Given, tenant: str | None) -> Result:
        """End of day: every account's positions and the day's allocations as two CSV files
        (in FOLDER, default ``<export dir>/<UTC date>``), each shard's part joined atomically."""
        day = time.strftime("%Y-%m-%d", time.gmtime())
        named = given.get("FOLDER")
        root = self._tenant_dir(self.top.export_root, tenant)
        try:
            root.mkdir(parents=True, exist_ok=True)
            folder = confine(root, named or day, what="export dir", allow_root=True)
        except PathRefused as refused:
            log.warning("admin path refused", command="export", path=named, folder=str(root))
            raise AdminError(f"export: {refused}; nothing written") from None
        except OSError as error:
            raise AdminError(f"cannot write to {root}: {error}") from None
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise AdminError(f"cannot write to {folder}: {error}") from None
        shards = self._actors(ACCOUNT)
        only = None if tenant is None else self._accounts_of(tenant)
        counts = await asyncio.gather(*(self.top.handles[n].export_part.remote(str(folder), n, day, only) for n in shards))
        files = {}
        for kind in ("positions", "allocations"):
            target = folder / f"{kind}.csv"
            concatenate_csv([folder / f"{kind}.{n}.csv" for n in shards], target)
            files[kind] = str(target)
        return {
            "ok": True,
            "positions": sum(c["positions"] for c in counts),
            "allocations": sum(c["allocations"] for c in counts),
            "files": files,
            "tenant": tenant or "all",
        }

    # --- statements and the gains report ---------------------------------------------------------------

    async def statement(self, given: Given, tenant: str | None) -> Result:
        """``statement ACCOUNT FROM TO``: the account's statement (docs/books.md) as a JSON and a
        CSV file in ``<export dir>/<the account's tenant>/statements/``, each written atomically
        by the account's shard (read only there); answered with the balances, the totals, how
        many entries of each kind, and the files. The period and the entries are bounded as for
        ``get_statement`` (``[books] statement_max_days``, ``statement_max_rows``)."""
        account, books = given["ACCOUNT"], self.top.config.books
        try:
            first, last = parse_day(given["FROM"]), parse_day(given["TO"])
            check_period(first, last, books.statement_max_days)
        except ValueError as problem:
            raise AdminError(f"statement: {problem}; nothing written") from None
        handle = await self._shard_owning(account, tenant)
        root = self.top.export_root / self._tenant_of_account(account) / "statements"
        stem = f"{account}_{first.isoformat()}_{last.isoformat()}"
        try:
            root.mkdir(parents=True, exist_ok=True)
            json_path, csv_path = (confine(root, f"{stem}.{kind}", what="export dir") for kind in ("json", "csv"))
        except PathRefused as refused:
            log.warning("admin path refused", command="statement", path=stem, folder=str(root))
            raise AdminError(f"statement: {refused}; nothing written") from None
        except OSError as error:
            raise AdminError(f"cannot write to {root}: {error}") from None
        result: Result = await handle.admin_statement.remote(account, first.toordinal(), last.toordinal(), books.statement_max_rows, str(json_path), str(csv_path))
        if not result["ok"]:
            raise AdminError(f"statement: {result['code']}: {result['message']}; nothing written")
        return result

    def _tenant_of_account(self, account: str) -> str:
        return self.top._tenant_of(account) or DEFAULT_TENANT

    async def report(self, given: Given, tenant: str | None) -> Result:
        """``report gains YEAR``: one row per lot closed in YEAR (by the local date it was sold)
        of every account (of ``tenant``'s only, into its folder of the export dir), each shard
        writing its part, joined atomically into ``gains-YEAR.csv``."""
        year_text = given["YEAR"]
        if not (len(year_text) == 4 and year_text.isdigit() and 1970 <= int(year_text) <= 9999):
            raise AdminError(f"report gains: YEAR must be a year from 1970 to 9999, not {year_text[:12]!r}; nothing written")
        year = int(year_text)
        root = self._tenant_dir(self.top.export_root, tenant)
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise AdminError(f"cannot write to {root}: {error}") from None
        shards = self._actors(ACCOUNT)
        only = None if tenant is None else self._accounts_of(tenant)
        counts = await asyncio.gather(*(self.top.handles[n].gains_part.remote(str(root), n, year, only) for n in shards))
        target = root / f"gains-{year}.csv"
        concatenate_csv([root / f"gains-{year}.{n}.csv" for n in shards], target)
        return {"ok": True, "year": year, "rows": sum(counts), "file": str(target), "tenant": tenant or "all"}

    # --- the vault of venue credentials ---------------------------------------------------------------

    async def vault(self, given: Given, tenant: str | None) -> Result:
        """``vault list | add NAME | rotate NAME | remove NAME`` (the forms, in the table's
        order). The value of ``add`` and ``rotate`` is sealed at once and never answered,
        logged or kept; a FIX session reads it at its next logon. An entry a venue's session
        file names is not removed. The file work runs off the event loop (it fsyncs, and may
        wait for the lock ``brokerd secrets`` holds)."""
        action = ("list", "add", "rotate", "remove")[given.form]
        secrets = self.top.config.secrets
        try:
            if action == "remove":
                where = vault.references(self.top.config).get(given["NAME"])
                if where:
                    raise AdminError(f"{', '.join(where)} names {given['NAME']!r}: change that first; nothing removed")
            store = vault.open_vault(secrets)
            if action == "list":
                entries = await asyncio.to_thread(lambda: store.list() if store.exists() else [])
                return {"ok": True, "vault_file": str(store.path), "entries": [info._asdict() for info in entries]}
            if action == "remove":
                await asyncio.to_thread(store.remove, given["NAME"])
                return {"ok": True, "removed": given["NAME"]}
            value = given["VALUE"].encode("utf-8")
            info: SecretInfo = await asyncio.to_thread(store.add if action == "add" else store.rotate, given["NAME"], value)
        except (MasterKeyError, StoreError, OSError) as refused:
            raise AdminError(f"vault {action}: {refused}") from None
        return {"ok": True, action: info._asdict(), "note": "FIX sessions use the new value from their next logon"}

    # --- API keys, MFA and lockouts -----------------------------------------------------------------

    def _user(self, name: str, tenant: str | None) -> User:
        """User ``name``, if a caller confined to ``tenant`` may manage it: one of its tenant
        whose role does not span tenants. Anyone else is answered like no user at all."""
        user = next((user for user in self.top.setup.users if user.key == name), None)
        if user is None or (tenant is not None and (user.tenant != tenant or permissions.role(user.role).reach is Reach.PLATFORM)):
            raise AdminError(f"unknown user {name}")
        return user

    async def keys(self, given: Given, tenant: str | None) -> Result:
        """``keys create USER [options] | list [USER] | rotate KEY_ID | revoke KEY_ID``. The
        store's file work runs off the event loop; a change is answered once every gateway
        holds the new keys (and closed the connections of a key revoked or rotated)."""
        action = ("create", "list", "rotate", "revoke")[given.form]
        config = self.top.config
        try:
            store = apikeys.open_keys(config) if action != "list" or apikeys.keys_path(config).exists() else None
            if action == "list":
                keys = await asyncio.to_thread(store.load) if store is not None else {}
                user = given.get("USER")
                if user is not None:
                    self._user(user, tenant)
                shown = [
                    key.public()
                    for key in sorted(keys.values(), key=lambda key: (key.user, key.created, key.key_id))
                    if (user is None or key.user == user) and self._manages(key.user, tenant)
                ]
                return {"ok": True, "keys": shown}
            assert store is not None
            if action == "create":
                key = await asyncio.to_thread(self._create_key, store, given, tenant)
            else:
                current = (await asyncio.to_thread(store.load)).get(given["KEY_ID"])
                if current is None or not self._manages(current.user, tenant):  # another tenant's: like no key at all
                    raise AdminError(f"unknown key {given['KEY_ID']}")
                key = await asyncio.to_thread(store.rotate if action == "rotate" else store.revoke, given["KEY_ID"])
        except (apikeys.KeyRefused, MasterKeyError, StoreError, OSError) as refused:
            raise AdminError(f"keys {action}: {refused}") from None
        told = await self.top._tell_gateways_keys()
        log.info("api key changed", action=action, key=key.key_id, user=key.user)
        result: Result = {"ok": True, action: key.public(), **told}
        if action in ("create", "rotate"):
            result["secret"] = key.secret
            result["note"] = "the secret is shown this once: store it now; a login names key_id as its key and signs with the secret"
        return result

    def _manages(self, user: str, tenant: str | None) -> bool:
        try:
            self._user(user, tenant)
        except AdminError:
            return False
        return True

    def _create_key(self, store: apikeys.KeyStore, given: Given, tenant: str | None) -> apikeys.ApiKey:
        user = self._user(given["USER"], tenant)
        gateway = self.top.config.gateway
        now_ms = time.time_ns() // 1_000_000
        return store.create(
            user,
            apikeys.parse_scopes(given.get("scopes"), user.role),
            apikeys.parse_allow(given.get("allow")),
            apikeys.parse_expiry(given.get("expires"), now_ms, gateway.api_key_default_days, gateway.api_key_max_days),
            apikeys.parse_label(given.get("label")),
            taken=(user.key for user in self.top.setup.users),
        )

    async def mfa(self, given: Given, tenant: str | None) -> Result:
        """``mfa enroll USER | reset USER``: the secret and its URI are answered once."""
        action = ("enroll", "reset")[given.form]
        user = self._user(given["USER"], tenant)
        try:
            store = totp.open_mfa(self.top.config)
            if action == "reset":
                removed = await asyncio.to_thread(store.reset, user.key)
                return {"ok": True, "user": user.key, "reset": removed}
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            secret, uri = await asyncio.to_thread(store.enroll, user.key, stamp)
        except (totp.MfaRefused, MasterKeyError, StoreError, OSError) as refused:
            raise AdminError(f"mfa {action}: {refused}") from None
        log.info("mfa enrolled", user=user.key)
        return {
            "ok": True,
            "user": user.key,
            "secret": secret,
            "uri": uri,
            "note": "shown this once: add it to an authenticator app now; from now on the user's admin logins need its code",
        }

    async def lockout(self, given: Given, tenant: str | None) -> Result:
        """``lockout list | lift KEY|ADDRESS``: each gateway counts its own failed logins."""
        lift = given.get("KEY|ADDRESS")
        parts = await asyncio.gather(*(self.top.handles[name].lockouts.remote(lift) for name in self._actors(GATEWAY)))
        result: Result = {"ok": True, "gateways": parts}
        if lift is not None:
            result["lifted"] = any(part["lifted"] for part in parts)
        return result

    async def reconcile(self, given: Given, tenant: str | None) -> Result:
        """Compare every account's positions with a back-office file; ``ok`` only without breaks."""
        path = self._imported(given["FILE"], tenant)
        try:
            theirs = backoffice.by_account(read_positions(path))
        except backoffice.BackOfficeFileError as error:
            raise AdminError(str(error)) from None
        except PathRefused as refused:
            raise AdminError(f"{refused}; nothing read") from None
        except OSError as error:
            raise AdminError(f"cannot read {path}: {error}") from None
        ours: dict[str, dict[str, int]] = {}
        for part in await asyncio.gather(*(self.top.handles[n].positions_book.remote() for n in self._actors(ACCOUNT))):
            ours.update(part)
        if tenant is not None:  # a tenant's positions only: another tenant's accounts are not there
            own = self._reach(tenant)
            ours = {account: book for account, book in ours.items() if account in own}
        breaks = backoffice.reconcile(ours, theirs)
        shown = backoffice.breaks_to_json(breaks[:MAX_BREAKS_SHOWN])
        return {"ok": not breaks, "accounts": len(ours), "breaks_found": len(breaks), "breaks": shown, "tenant": tenant or "all"}


_TRANSFER_ID = re.compile(r"(account-[0-9]+)-t[0-9]+")


class TenantAccounts:
    """The accounts of ``tenant`` (every account when ``None``) as a container: ``in`` asks
    the supervisor for the account's tenant (``tenant_of``: ``None`` for no such account).
    What the basket checks and the confined commands ask of a caller's reach, without a list
    of a million accounts made for each command."""

    __slots__ = ("tenant_of", "tenant")

    def __init__(self, tenant_of: Callable[[str], str | None], tenant: str | None) -> None:
        self.tenant_of = tenant_of
        self.tenant = tenant

    def __contains__(self, account: object) -> bool:
        if not isinstance(account, str):
            return False
        owner = self.tenant_of(account)
        return owner is not None and (self.tenant is None or owner == self.tenant)


def _shard_of_transfer(transfer_id: str) -> str:
    """The account shard a deposit's or withdrawal's id names (``account-1-t7``), or ``""``."""
    match = _TRANSFER_ID.fullmatch(transfer_id)
    return match.group(1) if match else ""


def _checked_chunks(path: Path, rules: BasketRules, shard_of: Callable[[str], str], chunk_rows: int) -> bytes:
    """A basket file read, checked whole and split into its shards' chunks, as the bytes a
    gateway's ``load_orders`` takes (``BasketError``: refused, nothing built; ``PathRefused``:
    not a regular file, or too large to read). Only the
    encoded chunks outlive this call: the file's bytes, its columns and the checked basket
    are dropped here."""
    from model.basket import encode_chunks, is_parquet, parse_basket

    basket = parse_basket(read_import(path), str(path), rules, is_parquet(path.name))
    return encode_chunks(basket.chunks(shard_of, chunk_rows))
