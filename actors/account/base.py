"""The account shard's state and the primitives its parts share (see ``ShardBase``)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import overload

import structlog

from actors.account import risk
from actors.account.gateways import GatewayRoutes
from actors.account.limits import tenant_of
from actors.account.orders import Orders
from actors.account.records import AccountRecord, OrderRecord
from actors.account.risk import MarketView, RiskLimits
from actors.runtime.outputs import ALL, DROP_COPY, GATEWAY, STRATEGY, Dispatcher, Outputs
from model.enums import ExecType, Reason
from model.instruments import Instrument
from model.lifecycle import OrderEvent, can, step
from model import lots
from model.lots import Books, StagedTrades
from model.messages import ExecutionReport, Reply, ReportToAsker, RequestRejected
from model.messages.strategies import STRATEGY_ORDER_PREFIX

log = structlog.get_logger("accounts")

_TRADE, _REJECTED = ExecType.TRADE, ExecType.REJECTED  # read on every report, bound once (model/enums.py says why)


@overload
def shared(text: str) -> str: ...
@overload
def shared(text: None) -> None: ...
@overload
def shared(text: str | None) -> str | None: ...


def shared(text: str | None) -> str | None:
    """One string object for a value that many orders repeat — a venue, a block id, a
    reason — instead of the copy each decoded message brings (a shard holds millions of
    orders: ~50-70 bytes each per field). The value is the same, so is every encoding."""
    return None if text is None else sys.intern(text)


def exec_id(order: OrderRecord, count: int | None = None) -> str:
    """The id of ``order``'s ``count``-th execution report (its latest: ``exec_count``)."""
    return f"{order.order_id}-{order.exec_count if count is None else count}"


class ShardBase(Dispatcher):
    """An account shard's state and what every part of it uses: the one lifecycle mutator,
    the holds an order keeps on its account, execution reports, refusals and anomalies.

    The parts (``entry``, ``requests``, ``booking``, ``queries``, ``markets``) are mixins of
    this class; ``actors.account.core.AccountState`` puts them together.
    """

    def __init__(
        self, name: str, instruments: list[Instrument], limits: RiskLimits, tenant_limits: dict[str, RiskLimits] | None = None
    ) -> None:
        self.name = name
        self.instruments = {instrument.symbol: instrument for instrument in instruments}
        self.limits = limits  # the server's ``[risk]``: a tenant without its own
        self.tenant_limits = dict(tenant_limits or {})  # ``[tenants.NAME.risk]`` resolved, by tenant
        self.accounts: dict[str, AccountRecord] = {}
        self.orders = Orders()  # hot records and cold bytes (``actors/account/orders.py``)
        self.markets: dict[str, MarketView] = {}
        self.last_trade: dict[str, int] = {}  # symbol → the price of the last fill booked here (``[books] mark = "last"``)
        self.order_counter = 0
        self.allocations = 0  # fills allocated from blocks
        self.nav_markers = 0  # NAV strikes passed on to the funds' InstrumentActors
        self.kill_all = False  # "kill all": every account, including ones opened later
        self.rejected_requests = 0
        self.anomalies: list[str] = []
        self.out = Outputs()
        self.gateway_routes = GatewayRoutes()  # which gateways get which account's reports (``gateways.py``)
        # The execution reports of this shard's orders, by exec type, and its rejections by reason:
        # what /metrics counts (every one, whether or not it was made and sent: ``_report``). Soft, not
        # state (no snapshot, no hash): the shell clears them once it has rebuilt its book,
        # so they count the reports of this process's live inputs, like any process's counter.
        self.reports_made: dict[ExecType, int] = {}
        self.rejects_made: dict[str, int] = {}
        # fills whose trade rows wait in the shard's columns until any books are read (not
        # state: filed before every read, snapshot and hash; ``file_staged``)
        self.staged = StagedTrades()

    # --- the one way an order's state changes ---------------------------------------------

    @staticmethod
    def _move(order: OrderRecord, event: OrderEvent) -> None:
        """The one way an order's state changes: its status and its request in flight
        together, by the table of ``model.lifecycle`` (an event it does not allow raises)."""
        order.status, order.pending = step(order.status, order.pending, event)

    def _cancelable(self, select: Callable[[OrderRecord], bool]) -> list[str]:
        """The ids of the orders a cancel may be asked for that ``select`` picks, in order.
        Read first, changed after: the orders at rest are read without being kept hot."""
        _cancel = OrderEvent.CANCEL_REQUESTED
        return [order_id for order_id, order in self.orders.items() if can(order.status, order.pending, _cancel) and select(order)]

    def limits_of(self, tenant: str) -> RiskLimits:
        """The limits of ``tenant``'s accounts: its own, or the server's. Read once per
        account (when it opens, when the shard is restored), never per order."""
        return self.tenant_limits.get(tenant_of(tenant), self.limits)

    def _books(self, account: AccountRecord) -> Books:
        """The account's books (lots and ledgers: ``actors/account/books.py``), made when first
        used, with the fills the shard staged for it filed first (``file_staged``): whatever
        reads or changes the books sees them whole."""
        if self.staged.has(account.account):
            self._file(account, self.staged.take(account.account))
        if account.books is None:
            account.books = Books()
        return account.books

    def file_staged(self) -> None:
        """Every staged fill's trade row written into its account's books (``lots.StagedTrades``),
        one account after another, each account's in order, as ``lots.book_opening`` would
        have written them fill by fill. Nothing else changes: the positions' costs and the
        cash were booked when the fills were."""
        accounts = self.accounts
        for name, rows in self.staged.take_all():
            self._file(accounts[name], rows)

    def _file(self, account: AccountRecord, rows: Iterable[tuple[str, str, bool, int, int, int, int]]) -> None:
        books = account.books
        if books is None:
            books = account.books = Books()
        self._file_into(books, rows)

    def _file_into(self, books: Books, rows: Iterable[tuple[str, str, bool, int, int, int, int]]) -> None:
        timezone, book = self.limits.open_timezone, lots.book_opening
        for order_id, symbol, buy, qty, price, cash, now in rows:
            book(books, symbol, buy, qty, price, cash, now, order_id, timezone)

    # --- holds: what an open order keeps of its account's cash and shares -------------------

    def _reserve(self, account: AccountRecord, order: OrderRecord, instrument: Instrument, estimate: int, cash: int | None = None) -> None:
        """Hold what ``order`` needs at ``estimate``; ``cash``: its ``cash_to_reserve`` there, when known."""
        order.reserved_cash = risk.cash_to_reserve(order, instrument, estimate) if cash is None else cash
        order.reserved_qty = 0 if account.allow_short else risk.qty_to_reserve(order)
        account.reserved_cash += order.reserved_cash
        self._adjust_reserved_qty(account, order.spec.symbol, order.reserved_qty)
        self._open_leg(account, order)

    def _rereserve(self, account: AccountRecord, order: OrderRecord) -> None:
        """Recompute what an order holds after a change; terminal orders hold nothing."""
        account.reserved_cash -= order.reserved_cash
        if order.reserved_qty:  # (none for an account that may sell short, or for any buy)
            self._adjust_reserved_qty(account, order.spec.symbol, -order.reserved_qty)
        order.reserved_cash = order.reserved_qty = 0
        if order.status.is_open:
            instrument = self.instruments[order.spec.symbol]
            estimate = risk.estimate_price(order, instrument, self.markets.get(order.spec.symbol), account.limits or self.limits)
            self._reserve(account, order, instrument, estimate)
        else:
            self._open_leg(account, order)

    def _open_leg(self, account: AccountRecord, order: OrderRecord) -> None:
        """The order's part of its account's open-order exposure changed (held, filled, ended):
        kept by ``actors/account/portfolio.py``, called wherever holds are taken or released."""

    def portfolio_failure(self, account: AccountRecord, order: OrderRecord, instrument: Instrument) -> Reason | None:
        """The portfolio steps of the pre-trade check for ``order``: ``actors/account/portfolio.py``."""
        return None

    def _new_position(self, account: AccountRecord, symbol: str) -> None:
        """A fill opened the account's first position record in ``symbol``: followed by
        ``actors/account/portfolio.py`` (the accounts a mark of ``symbol`` reviews)."""

    @staticmethod
    def _adjust_reserved_qty(account: AccountRecord, symbol: str, delta: int) -> None:
        if not delta:
            return
        remaining = account.reserved_qty.get(symbol, 0) + delta
        if remaining:
            # a new key: one string per symbol (a thawed order's symbol is its own copy)
            account.reserved_qty[shared(symbol)] = remaining
        else:
            account.reserved_qty.pop(symbol, None)

    def _release_replace(self, order: OrderRecord, account: AccountRecord, why: str) -> None:
        """A replace that will not happen (refused, or the order ended first): release what it
        held and the client order id it reserved, and tell whoever asked."""
        pending = order.pending_replace
        assert pending is not None
        order.pending_replace = None
        account.reserved_cash -= pending.held_cash
        self._adjust_reserved_qty(account, order.spec.symbol, -pending.held_qty)
        del account.orders[pending.new_client_order_id]
        if pending.reply is not None:
            self._refuse(pending.reply, "replace_rejected", why)

    # --- reports and answers ----------------------------------------------------------------

    def _report(
        self,
        order: OrderRecord,
        exec_type: ExecType,
        now: int,
        *,
        reply: Reply | None = None,
        last_qty: int = 0,
        last_price: int | None = None,
    ) -> ExecutionReport | None:
        """The order's next execution report, counted (its ``exec_id``: ``exec_id(order)``
        after the call), to the gateways whose sessions follow its account (``gateways.py``),
        the asker's, the drop copy (a fill) and the order's strategy; returned. When none of
        them takes it — at the open, a basket's orders for accounts whose owners are not
        connected, with no drop copy — it is counted and not made: ``None``. The order
        changes the same either way; only a report that would go nowhere is skipped."""
        order.exec_count += 1
        order.last_exec_type = exec_type
        order.updated_ts = now
        made = self.reports_made
        made[exec_type] = made.get(exec_type, 0) + 1
        if exec_type is _REJECTED:
            reason = order.reason or "unknown"
            self.rejects_made[reason] = self.rejects_made.get(reason, 0) + 1
        out, routes = self.out, self.gateway_routes
        # a strategy's live order (its actor follows it; nowhere when off). Its id says so: the
        # test costs ~80 ns a report, under 1 % of an order's core time (tests/perf/bench_cores.py),
        # where a flag would be a field on every order record and in every snapshot
        strategy = order.client_order_id.startswith(STRATEGY_ORDER_PREFIX) and STRATEGY not in out.nowhere
        copied = exec_type is _TRADE and DROP_COPY not in out.nowhere  # clearing gets every fill
        if reply is None and not copied and not strategy and not routes.wanted(order.account):
            return None
        report = self._execution(order, exec_type, now, exec_id(order), reply, last_qty, last_price)
        if routes.routed:  # a gateway announced (each does as it starts): those following the account (``gateways.py``)
            routes.send(out, report)
        else:
            out.to(GATEWAY, ALL, report)
        if copied:
            out.to(DROP_COPY, ALL, report)
        if strategy:
            out.to(STRATEGY, ALL, report)
        return report

    def _execution(
        self,
        order: OrderRecord,
        exec_type: ExecType,
        now: int,
        exec_id: str,
        reply: Reply | None = None,
        last_qty: int = 0,
        last_price: int | None = None,
    ) -> ExecutionReport:
        cum_qty, spec = order.cum_qty, order.spec
        avg_price = order.cum_value // (cum_qty * self.instruments[spec.symbol].multiplier) if cum_qty else None
        return ExecutionReport(  # positional, in field order: one report or two per order and fill
            order.account,
            order.order_id,
            order.client_order_id,
            exec_id,
            exec_type,
            order.status,
            spec,
            cum_qty,
            order.leaves_qty,
            last_qty,
            last_price,
            avg_price,
            order.reason,
            now,
            reply,
            order.venue,
            order.block,
        )

    def _to_asker(self, reply: Reply | None, report: ExecutionReport) -> None:
        if reply is not None:
            self.out.to(GATEWAY, reply.gateway, ReportToAsker(reply, report))

    def _refuse(self, reply: Reply | None, code: str, message: str) -> None:
        self.rejected_requests += 1
        if reply is not None:
            self.out.to(GATEWAY, reply.gateway, RequestRejected(reply, code, message))

    def _anomaly(self, text: str) -> None:
        self.anomalies.append(text)
        log.warning("anomaly", shard=self.name, detail=text)
