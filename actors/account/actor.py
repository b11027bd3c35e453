"""The AccountShard Ray actor: hosts ``AccountState`` behind its journal."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import ray
import structlog

from actors.account.core import AccountState
from actors.account.marks import MarksHost
from actors.account.statements import StatementRefused
from actors.runtime import stash
from actors.runtime.machine import Core
from actors.runtime.outputs import ACCOUNT
from actors.runtime.roles import build_core
from actors.supervisor.core import ActorPlan
from model import fixed
from model.config import AccountSeed, Config
from model.instruments import Instrument
from model.limits import RiskLimits, tenant_limits
from model.risk import model as risk_model
from model.risk import report as risk_report
from model.risk import stored
from model.risk.history import HistoryError
from model.messages import SetPortfolioModel
from model.messages import AccountReply, DecideTransfer, Message, OpenAccount, OrdersReply, QueryAccount, QueryOrders, Reply, SetRiskLimits
from model.statements import GAINS_HEADER, STATEMENT_CSV_HEADER, statement_csv_rows, statement_json
from model.transfers import Decision, TransferReason, TransferStatus, transfer_view
from model.views import account_view, orders_view
from snapshots.files import atomic_text, write_allocations_csv, write_csv, write_positions_csv

log = structlog.get_logger("risk")


@ray.remote
class AccountActor(MarksHost):
    """Owns the accounts placed on this shard; every order of those accounts lives here.
    Its marks (quotes) are soft until a record carries them (``actors/account/marks.py``).

    Accounts from the accounts file that the journal does not hold yet enter as a journaled
    ``OpenAccount`` input once the shard is wired, so replay from empty rebuilds them too."""

    audited = True  # its core writes order events to its audit chain (docs/audit.md)

    def __init__(self, name: str, config: Config, instruments: list[Instrument] | stash.Ref) -> None:
        self.instruments = stash.take(instruments, list[Instrument])
        super().__init__(name, config)
        self.recover(config.server.data_dir)
        self.core.reports_made.clear()  # /metrics counts this process's live reports, not the replay's
        self.core.rejects_made.clear()
        self.last_status = (time.monotonic(), self.core.order_counter)
        self.deciding: set[str] = set()  # transfers whose decision is being journaled (``decide_transfer``)
        self.refresher: asyncio.Task[None] | None = None  # ``refresh_models``, once wired
        self.daily_seen: tuple[tuple[str, int, int], ...] | None = None  # the daily bars the model was last made from

    def make_core(self) -> Core:
        return build_core(ActorPlan(self.name, ACCOUNT, instruments=self.instruments), self.config)

    async def seed(self, accounts: list[AccountSeed]) -> int:
        """The accounts file's accounts that this shard's journal does not hold yet enter as
        journaled ``OpenAccount`` inputs (called once wired, at start and after a restart),
        after a ``SetRiskLimits`` when the configuration's limits are not those the state
        holds (a restart with a changed ``[risk]`` or ``[tenants.NAME.risk]``) or the journal
        is new.
        Not a constructor argument: Ray cannot restart an actor whose large creation
        arguments went to its object store (ray-project/ray#53713)."""
        core: AccountState = self.core
        fresh = [seed for seed in accounts if seed.account not in core.accounts]
        inputs: list[Message] = []
        limits, tenants = RiskLimits.from_config(self.config.risk, self.config.open, self.config.books), tenant_limits(self.config)
        if self.journal.last_seq == 0 or (limits, tenants) != (core.limits, core.tenant_limits):
            # the first record of a journal says which limits it started with (a replay from
            # empty then never takes a later configuration's); a restart with others journals them
            inputs.append(SetRiskLimits(limits, tenants))
        self.daily_seen = self.daily_signature()
        model = self.portfolio_model()
        if self.journal.last_seq == 0 or model != SetPortfolioModel(core.portfolio.model, core.portfolio.config):
            inputs.append(model)  # like the limits: the model replay decides with is the journal's, never the file's
        if self.config.portfolio.model_refresh_ms and self.refresher is None:
            self.refresher = asyncio.get_running_loop().create_task(self.refresh_models())
        inputs += [OpenAccount(s.account, s.owner, s.cash, s.allow_short, s.positions, s.group, s.tenant, s.basis) for s in fresh]
        if inputs:
            self.submit_local(inputs)
        return len(fresh)

    def portfolio_model(self) -> SetPortfolioModel:
        """The risk model from ``[portfolio]``'s history file, else the daily bars kept under
        the data dir when there are enough, else the demo history (``choose_history``); and
        its limits. A bad history file (or persisted daily file) stops the shard's start with
        the file's findings."""
        section, config = self.config.portfolio, self.config
        bars = config.bars.folder(config.server.data_dir) if config.bars.enabled else None
        loaded, source = risk_model.choose_history(section, self.instruments, bars=bars)
        log.info("risk history", actor=self.name, source=source, days=len(loaded.days))
        self.returns_window = risk_model.window_of(loaded, self.instruments, section)  # what ``admin risk`` measures with
        model = risk_model.build_model(loaded, self.instruments, section)
        return SetPortfolioModel(model, risk_model.portfolio_config(section))

    def daily_signature(self) -> tuple[tuple[str, int, int], ...] | None:
        """What the daily bars under the data dir are now (each file's name, modification time
        and size), or ``None`` when the model does not come from them (a history file is
        configured, or no bars are kept)."""
        section, config = self.config.portfolio, self.config
        if section.history_file or not config.bars.enabled:
            return None
        folder = config.bars.folder(config.server.data_dir) / stored.DAILY
        try:
            files = [(path.name, path.stat()) for path in folder.glob("*" + stored.SUFFIX)]
        except OSError:
            return ()
        return tuple(sorted((name, found.st_mtime_ns, found.st_size) for name, found in files))

    async def refresh_models(self) -> None:
        """Every ``[portfolio] model_refresh_ms``: when the daily bars changed (a day closed,
        a file was put there), the model they make now, journaled when it is not the one the
        shard holds — a ``SetPortfolioModel`` like the start's, so the alerts are reviewed
        with it and a replay decides with it. The model is computed off the event loop; a
        bad daily file is logged (its findings) and the model stays as it was."""
        while True:
            await asyncio.sleep(self.config.portfolio.model_refresh_ms / 1000)
            seen = self.daily_signature()
            if seen is None or seen == self.daily_seen:
                continue
            self.daily_seen = seen
            try:
                model = await asyncio.to_thread(self.portfolio_model)
            except HistoryError as error:
                log.warning("risk model not refreshed", actor=self.name, error=str(error))
                continue
            core: AccountState = self.core
            if model != SetPortfolioModel(core.portfolio.model, core.portfolio.config):
                log.info("risk model refreshed", actor=self.name, symbols=len(model.model.symbols) if model.model is not None else 0)
                self.submit_local([model])

    async def close(self) -> None:
        refresher = self.refresher
        if refresher is not None:  # no model journaled while (or after) the journal closes
            refresher.cancel()
            self.refresher = None
        await super().close()

    # --- admin risk (read only: not journaled) ------------------------------------------------

    async def risk_parts(self, accounts: list[str]) -> list[dict[str, Any]]:
        """Of each of ``accounts`` held here: its exposures at the marks, equity, high-water
        mark, limits, trading state and alerts raised (``Portfolio.risk_parts``)."""
        core: AccountState = self.core
        return [core.risk_parts(name) for name in accounts if name in core.accounts]

    async def risk_figures(self, exposures: dict[str, int], equity: int, high_water: int) -> dict[str, Any]:
        """The measures of a portfolio of ``exposures`` (fixed-point money per symbol) with
        ``equity`` and ``high_water`` (``model/risk/report.py``)."""
        window = getattr(self, "returns_window", None)
        if window is None:
            self.portfolio_model()
            window = self.returns_window
        return risk_report.figures(exposures, equity, high_water, window, self.core.portfolio.model, {i.symbol: i for i in self.instruments})

    # --- operator queries (read only: not journaled) -----------------------------------------

    async def admin_account(self, account: str) -> dict[str, Any] | None:
        core: AccountState = self.core
        record = core.accounts.get(account)
        if record is None:
            return None
        core._query_account(QueryAccount(account, Reply("admin", 0, b"")), time.time_ns())
        (send,) = core.out.drain()
        assert isinstance(send.message, AccountReply)
        view = account_view(send.message)
        view["killed"] = record.killed
        view["open_orders"] = core.open_orders(account)
        return view

    async def admin_orders(self, account: str) -> list[dict[str, Any]] | None:
        core: AccountState = self.core
        if account not in core.accounts:
            return None
        core._query_orders(QueryOrders(account, False, Reply("admin", 0, b"")), time.time_ns())
        (send,) = core.out.drain()
        assert isinstance(send.message, OrdersReply)
        return orders_view(send.message)

    # --- cash movements: the cashier's reads and decisions ---------------------------------------

    async def admin_transfers(self, accounts: list[str] | None, status: str | None, limit: int) -> list[dict[str, Any]]:
        """The transfers of ``accounts`` here (None: of every account here), ``status`` only if
        given, the most recent ``limit`` (0: all), as the API shows them."""
        core: AccountState = self.core
        wanted = None if status is None else TransferStatus(status)
        names = core.accounts if accounts is None else [a for a in accounts if a in core.accounts]
        records = sorted((r for name in names for r in core.transfers_of(name, wanted)), key=lambda r: (r.created_ts, r.transfer_id))
        return [transfer_view(record) for record in (records[-limit:] if limit else records)]

    async def transfer_view(self, transfer_id: str) -> dict[str, Any] | None:
        record = self.core.transfers.get(transfer_id)
        return None if record is None else transfer_view(record)

    async def decide_transfer(self, transfer_id: str, decision: str, reason: str | None, asker: str) -> dict[str, Any]:
        """Settle, reject or cancel a pending transfer: checked, then journaled as this shard's
        own input and applied (``DecideTransfer``); answered with the transfer as it then
        stands, or why not (``ok`` false, a reason code and a message: nothing changed).

        Guarantees: one decision per transfer at a time here — a second one asked while the
        first is being journaled is refused (``not_pending``), so the answer of each is the
        outcome of its own decision."""
        core: AccountState = self.core
        chosen = Decision(decision)
        problem = core.decision_problem(transfer_id, chosen)
        if problem is None and transfer_id in self.deciding:
            problem = (TransferReason.NOT_PENDING.value, f"transfer {transfer_id} is being decided")
        if problem is not None:
            return {"ok": False, "code": problem[0], "message": problem[1]}
        self.deciding.add(transfer_id)
        try:
            self.submit_local([DecideTransfer(transfer_id, chosen, reason, asker)])
            await self.local_inputs_applied()
        finally:
            self.deciding.discard(transfer_id)
        record = core.transfers[transfer_id]
        if record.status is not chosen.status:  # the shard refused it as it applied it (the cash changed meanwhile)
            code, message = core.decision_problem(transfer_id, chosen) or (TransferReason.NOT_PENDING.value, f"transfer {transfer_id} is {record.status.value}")
            return {"ok": False, "code": code, "message": message}
        return {"ok": True, "transfer": transfer_view(record)}

    async def status(self) -> dict[str, Any]:
        """The runtime's status plus the book: accounts, orders, and orders/s since the
        previous status call."""
        status = await super().status()
        now, orders = time.monotonic(), self.core.order_counter
        last_time, last_orders = self.last_status
        self.last_status = (now, orders)
        status["accounts"] = len(self.core.accounts)
        status["orders"] = orders
        status["orders_per_s"] = round((orders - last_orders) / (now - last_time), 1) if now > last_time else 0.0
        status["allocations_booked"] = self.core.allocations
        # execution reports made since this process rebuilt its book (``/metrics``)
        status["reports"] = {kind.value: count for kind, count in self.core.reports_made.items()}
        status["rejects"] = dict(self.core.rejects_made)
        return status

    async def open_orders(self, account: str | None) -> int:
        return self.core.open_orders(account)

    async def owns(self, account: str) -> bool:
        return account in self.core.accounts

    async def existing(self, accounts: list[str]) -> list[str]:
        """Which of ``accounts`` this shard already has."""
        return [account for account in accounts if account in self.core.accounts]

    # --- back office (read only) ---------------------------------------------------------------

    async def positions_book(self) -> dict[str, dict[str, int]]:
        """Every account here with its nonzero positions: ``reconcile``."""
        return {
            record.account: {symbol: position.qty for symbol, position in record.positions.items() if position.qty}
            for record in self.core.accounts.values()
        }

    async def admin_statement(self, account: str, from_day: int, to_day: int, max_rows: int, json_path: str, csv_path: str) -> dict[str, Any]:
        """``admin statement``: the account's statement (``AccountState.statement``, read only)
        written to ``json_path`` (as ``get_statement`` answers it) and ``csv_path``, each
        atomically; answered with its balances, totals, counts and the files, or why not
        (``ok`` false, a reason code and a message: nothing written)."""
        core: AccountState = self.core
        try:
            statement = core.statement(account, from_day, to_day, max_rows)
        except StatementRefused as refused:
            return {"ok": False, "code": refused.code, "message": str(refused)}
        body = statement_json(statement)
        with atomic_text(Path(json_path)) as handle:
            handle.write(msgspec.json.format(msgspec.json.encode(body), indent=2).decode())
            handle.write("\n")
        write_csv(Path(csv_path), STATEMENT_CSV_HEADER, statement_csv_rows(statement))
        counts = {"trades": len(statement.trades), "cash_movements": len(statement.cash), "security_moves": len(statement.moves), "realized": len(statement.gains)}
        return {
            "ok": True,
            "account": account,
            "from": body["from"],
            "to": body["to"],
            "opening": body["opening"],
            "closing": body["closing"],
            "totals": body["totals"],
            "entries": counts,
            "files": {"json": json_path, "csv": csv_path},
        }

    async def gains_part(self, folder: str, part: str, year: int, accounts: list[str] | None = None) -> int:
        """This shard's part of ``admin report gains YEAR``: one row per lot closed in ``year``
        (of ``accounts`` only, when given) into ``gains-YEAR.<part>.csv``; how many rows."""
        core: AccountState = self.core
        return write_csv(Path(folder) / f"gains-{year}.{part}.csv", GAINS_HEADER, core.gains_report(year, accounts))

    async def export_part(self, folder: str, part: str, day: str, accounts: list[str] | None = None) -> dict[str, int]:
        """Write this shard's positions and the day's allocations as two CSV parts: of every
        account, or only of ``accounts`` (one tenant's export holds no other tenant's row)."""
        core: AccountState = self.core
        only = None if accounts is None else set(accounts)
        multiplier = {symbol: instrument.multiplier for symbol, instrument in core.instruments.items()}

        def positions() -> Iterator[tuple[str, str, int, int]]:
            for record in core.accounts.values():
                if only is not None and record.account not in only:
                    continue
                held = [(symbol, position) for symbol, position in sorted(record.positions.items()) if position.qty]
                for symbol, position in held:
                    yield record.account, symbol, position.qty, fixed.ceil_cent(position.cost)  # its open lots' cash (docs/books.md)
                if not held:
                    yield record.account, "", 0, 0  # the account exists, holding nothing

        written = write_positions_csv(Path(folder) / f"positions.{part}.csv", positions())
        allocations = (
            (
                day,
                order.block,
                order.account,
                order.order_id,
                order.spec.symbol,
                order.spec.side.value,
                order.cum_qty,
                order.cum_value // (order.cum_qty * multiplier[order.spec.symbol]),
                order.booked_cash,
            )
            for order in core.orders.values()
            if order.block is not None and order.cum_qty and (only is None or order.account in only)
        )
        allocated = write_allocations_csv(Path(folder) / f"allocations.{part}.csv", allocations)
        return {"positions": written, "allocations": allocated}
