"""AccountShard core: accounts, positions, cash, reservations and the life of client orders.

A plain class with synchronous methods. It never reads a clock or a random source: every
call carries ``now`` and ids are counters in the state, so replaying the same inputs gives
the same state (``state_hash``). Business outcomes are events; exceptions mean a broken
invariant.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import ClassVar

import msgspec
import structlog

from actors.account import risk
from actors.account.records import AccountRecord, OrderRecord, PendingReplace, PositionRecord
from actors.account.risk import MarketView, RiskLimits
from actors.runtime.outputs import ALL, DROP_COPY, GATEWAY, INSTRUMENT, Dispatcher, Outputs
from model import fixed
from model.calendar import trading_day
from model.config import AccountSeed
from model.enums import ExecType, OrderStatus, Reason, Side, VenueEventKind
from model.instruments import Instrument
from model.lifecycle import STATES, OrderEvent, Pending, can, inherited, step
from model.messages import (
    AccountReply,
    CancelAll,
    CancelAllDone,
    CancelOrder,
    CancelRoute,
    ExecutionReport,
    MarketUpdate,
    NewOrder,
    OpenAccount,
    OpenMarket,
    OrdersReply,
    OrderUpdate,
    Position,
    QueryAccount,
    QueryOrders,
    ReplaceOrder,
    ReplaceRoute,
    Reply,
    ReportToAsker,
    RequestRejected,
    RouteOrder,
    SetKill,
    SetTradingStatus,
    StrikeNav,
)
from model.orders import OrderSpec

log = structlog.get_logger("accounts")

_fingerprint_encoder = msgspec.msgpack.Encoder()

_VENUE_EVENT_EXEC = {
    VenueEventKind.CANCELED: (OrderEvent.CANCEL, ExecType.CANCELED),
    VenueEventKind.EXPIRED: (OrderEvent.EXPIRE, ExecType.EXPIRED),
    VenueEventKind.REJECTED: (OrderEvent.REJECT, ExecType.REJECTED),
}


class AccountState(Dispatcher):
    """Owns a set of accounts (each account has exactly one owning shard) and their orders.

    Guarantees: an order is reported ``new`` only after every pre-trade check passed and its
    reservation is held; ``(account, client_order_id)`` is unique forever (a resend with the
    same content gets the original result, different content ``duplicate_client_order_id``);
    a rejected request changes nothing but the rejection counter.
    """

    def __init__(self, name: str, instruments: list[Instrument], limits: RiskLimits) -> None:
        self.name = name
        self.instruments = {instrument.symbol: instrument for instrument in instruments}
        self.limits = limits
        self.accounts: dict[str, AccountRecord] = {}
        self.orders: dict[str, OrderRecord] = {}
        self.markets: dict[str, MarketView] = {}
        self.order_counter = 0
        self.allocations = 0  # fills allocated from blocks
        self.nav_markers = 0  # NAV strikes passed on to the funds' InstrumentActors
        self.kill_all = False  # "kill all": every account, including ones opened later
        self.rejected_requests = 0
        self.anomalies: list[str] = []
        self.out = Outputs()

    # --- set-up ------------------------------------------------------------------------

    def open_account(self, seed: AccountSeed) -> None:
        if seed.account in self.accounts:
            raise ValueError(f"account {seed.account} already exists")
        record = AccountRecord(
            account=seed.account,
            owner=seed.owner,
            cash=seed.cash,
            allow_short=seed.allow_short,
            initial_cash=seed.cash,
            killed=self.kill_all,
            group=seed.group,
        )
        for symbol, qty in seed.positions:
            instrument = self.instruments.get(symbol)
            if instrument is None:
                raise ValueError(f"account {seed.account}: unknown symbol {symbol}")
            # Positions brought in carry the instrument's reference price as their cost basis.
            record.positions[symbol] = PositionRecord(qty=qty)
            record.positions[symbol].cost = abs(qty) * instrument.reference_price
            record.initial_positions[symbol] = qty
        self.accounts[seed.account] = record

    def _open_account(self, command: OpenAccount, now: int) -> None:
        if command.account in self.accounts:
            self._anomaly(f"account {command.account} opened twice")
            return
        try:
            self.open_account(
                AccountSeed(command.account, command.owner, command.cash, command.allow_short, command.positions, command.group)
            )
        except ValueError as error:
            self._anomaly(str(error))

    def _set_kill(self, command: SetKill, now: int) -> None:
        """The kill switch: cancel the open orders of the account(s); ``risk`` refuses new
        ones while ``killed``. Persisted like any state: it survives a restart."""
        if command.account == ALL:
            self.kill_all = command.killed
            targets = list(self.accounts.values())
        else:
            account = self.accounts.get(command.account)
            targets = [account] if account is not None else []
        for account in targets:
            account.killed = command.killed
        if not command.killed:
            return
        killed = {account.account for account in targets}
        for order in list(self.orders.values()):
            if order.account in killed and can(order.status, order.pending, OrderEvent.CANCEL_REQUESTED):
                self._request_cancel(order)

    def open_orders(self, account: str | None) -> int:
        """How many open orders ``account`` (``None``: every account here) has."""
        return sum(1 for order in self.orders.values() if order.status.is_open and (account is None or order.account == account))

    # --- input -------------------------------------------------------------------------

    # --- commands from clients -----------------------------------------------------------

    def _new_order(self, command: NewOrder, now: int) -> None:
        account = self.accounts.get(command.account)
        if account is None:
            self._refuse(command.reply, "forbidden", f"unknown account {command.account}")
            return
        spec = command.spec
        instrument = self.instruments.get(spec.symbol)
        if instrument is None:
            self._refuse(command.reply, "unknown_symbol", f"unknown symbol {spec.symbol}")
            return
        fingerprint = _fingerprint(command)
        existing_id = account.orders.get(command.client_order_id)
        if existing_id is not None:
            # an id reserved by a pending replace is not yet an order: any new order with it differs
            self._answer_resend(self.orders.get(existing_id), fingerprint, command, now)
            return
        self.order_counter += 1
        # one string object per account and per symbol, not one per order (millions of orders)
        spec = msgspec.structs.replace(spec, symbol=instrument.symbol)
        order = _record(command, spec, f"{self.name}-{self.order_counter}", fingerprint, now)
        order.account = account.account
        market = self.markets.get(spec.symbol)
        reason = risk.first_failure(order, account, instrument, market, self.limits)
        self.orders[order.order_id] = order
        account.orders[order.client_order_id] = order.order_id
        if reason is not None:
            self._move(order, OrderEvent.REJECT)
            order.reason = reason.value
            self._report(order, ExecType.REJECTED, now, reply=command.reply)
            return
        estimate = risk.estimate_price(order, instrument, market, self.limits)
        if order.spec.side is Side.SELL and order.spec.notional is not None:
            order.qty_cap = risk.notional_sell_cap(order, account, instrument, estimate)
        self._move(order, OrderEvent.ACCEPT)
        self._reserve(account, order, instrument, estimate)
        self._report(order, ExecType.NEW, now, reply=command.reply)
        self.out.to(
            INSTRUMENT,
            order.spec.symbol,
            RouteOrder(order_id=order.order_id, account=order.account, spec=order.spec, qty_cap=order.qty_cap),
        )

    def _answer_resend(self, order: OrderRecord | None, fingerprint: bytes, command: NewOrder, now: int) -> None:
        """A ``new_order`` whose ``client_order_id`` the account has used: the same content
        gets the order's original first report again, whatever happened to the order since
        (an idempotent retry must not depend on when it was retried; the current state is
        what ``get_orders`` and the later reports say); other content is refused. Both go to
        the asker alone and change nothing."""
        if order is not None and order.fingerprint == fingerprint:
            self._to_asker(command.reply, self._first_report(order, command.reply))
            return
        self.rejected_requests += 1
        refused = _record(command, command.spec, "", fingerprint, now)
        self._move(refused, OrderEvent.REJECT)
        refused.reason = Reason.DUPLICATE_CLIENT_ORDER_ID.value
        self._to_asker(command.reply, self._execution(refused, ExecType.REJECTED, now, exec_id="", reply=command.reply))

    def _first_report(self, order: OrderRecord, reply: Reply | None) -> ExecutionReport:
        """The order's first execution report as it was sent: ``rejected`` if the checks
        refused it (then it never had another), else ``new`` with nothing filled, at its
        creation time."""
        rejected_at_once = order.status is OrderStatus.REJECTED and order.exec_count == 1
        if rejected_at_once:
            return self._execution(order, ExecType.REJECTED, order.created_ts, f"{order.order_id}-1", reply)
        accepted = msgspec.structs.replace(
            order, status=OrderStatus.NEW, cum_qty=0, value_nanos=0, value_subnanos=0, reason=None, venue=None
        )
        return self._execution(accepted, ExecType.NEW, order.created_ts, f"{order.order_id}-1", reply)

    def _to_asker(self, reply: Reply | None, report: ExecutionReport) -> None:
        if reply is not None:
            self.out.to(GATEWAY, reply.gateway, ReportToAsker(reply, report))

    def _cancel_order(self, command: CancelOrder, now: int) -> None:
        order = self._find_open(command.account, command.client_order_id, command.reply)
        if order is None:
            return
        order.cancel_reply = command.reply
        self._request_cancel(order)

    def _request_cancel(self, order: OrderRecord) -> None:
        self._move(order, OrderEvent.CANCEL_REQUESTED)
        self.out.to(INSTRUMENT, order.spec.symbol, CancelRoute(order.order_id, order.account, order.spec.symbol))

    def _replace_order(self, command: ReplaceOrder, now: int) -> None:
        order = self._find_open(command.account, command.client_order_id, command.reply)
        if order is None:
            return
        account = self.accounts[order.account]
        error = self._replace_error(order, account, command)
        if error is not None:
            self._refuse(command.reply, "invalid_request", error)
            return
        instrument = self.instruments[order.spec.symbol]
        qty = command.qty if command.qty is not None else order.spec.qty
        assert qty is not None
        trial = msgspec.structs.replace(
            order,
            spec=msgspec.structs.replace(
                order.spec,
                qty=qty,
                price=command.price if command.price is not None else order.spec.price,
                stop_price=command.stop_price if command.stop_price is not None else order.spec.stop_price,
            ),
        )
        market = self.markets.get(order.spec.symbol)
        estimate = risk.estimate_price(trial, instrument, market, self.limits)
        held_cash = max(0, risk.cash_to_reserve(trial, instrument, estimate) - order.reserved_cash)
        held_qty = max(0, risk.qty_to_reserve(trial) - order.reserved_qty)
        reason = (
            risk.check_size(trial, instrument, estimate, self.limits)
            or risk.check_price_band(trial, instrument, market, self.limits)
            or self._replace_funds_failure(account, order, held_cash, held_qty)
        )
        if reason is not None:
            self._refuse(command.reply, reason.value, f"replace refused: {reason.value}")
            return
        self.order_counter += 1
        pending = PendingReplace(
            new_order_id=f"{self.name}-{self.order_counter}",
            new_client_order_id=command.new_client_order_id,
            qty=qty,
            price=trial.spec.price,
            stop_price=trial.spec.stop_price,
            reply=command.reply,
            held_cash=held_cash,
            held_qty=held_qty,
        )
        self._move(order, OrderEvent.REPLACE_REQUESTED)
        order.pending_replace = pending
        account.reserved_cash += held_cash
        self._adjust_reserved_qty(account, order.spec.symbol, held_qty)
        account.orders[command.new_client_order_id] = pending.new_order_id
        self.out.to(
            INSTRUMENT,
            order.spec.symbol,
            ReplaceRoute(order.order_id, pending.new_order_id, order.account, order.spec.symbol, qty, pending.price, pending.stop_price),
        )

    def _replace_error(self, order: OrderRecord, account: AccountRecord, command: ReplaceOrder) -> str | None:
        if order.spec.notional is not None:
            return "notional orders cannot be replaced; cancel and place a new one"
        if command.new_client_order_id in account.orders:
            return f"client_order_id {command.new_client_order_id} already used"
        if command.qty is None and command.price is None and command.stop_price is None:
            return "replace needs qty, price or stop_price"
        if command.price is not None and not order.spec.order_type.has_price:
            return f"a {order.spec.order_type.value} order has no price"
        if command.stop_price is not None and not order.spec.order_type.has_stop:
            return f"a {order.spec.order_type.value} order has no stop_price"
        if command.qty is not None and command.qty <= order.cum_qty:
            return "qty must be more than the quantity already filled"
        instrument = self.instruments[order.spec.symbol]
        if command.qty is not None and command.qty % instrument.qty_increment:
            return f"qty must be a multiple of {fixed.format(instrument.qty_increment)} for {order.spec.symbol}"
        for price in (command.price, command.stop_price):
            if price is not None and price % instrument.tick_size:
                return f"price is off the tick of {fixed.format(instrument.tick_size)} for {order.spec.symbol}"
        return None

    @staticmethod
    def _replace_funds_failure(account: AccountRecord, order: OrderRecord, held_cash: int, held_qty: int) -> Reason | None:
        if held_cash > account.buying_power:
            return Reason.INSUFFICIENT_BUYING_POWER
        if held_qty and not account.allow_short and held_qty > account.available_qty(order.spec.symbol):
            return Reason.INSUFFICIENT_POSITION
        return None

    def _cancel_all(self, command: CancelAll, now: int) -> None:
        count = 0
        for order in list(self.orders.values()):
            if not can(order.status, order.pending, OrderEvent.CANCEL_REQUESTED):
                continue
            if command.account is not None and order.account != command.account:
                continue
            if command.symbol is not None and order.spec.symbol != command.symbol:
                continue
            self._request_cancel(order)
            count += 1
        if command.reply is not None:
            self.out.to(GATEWAY, command.reply.gateway, CancelAllDone(command.reply, command.account, count))

    def _query_orders(self, command: QueryOrders, now: int) -> None:
        """One page of the account's orders, each as a report of its current state.

        Guarantees: pages list orders in the order they came into being (``account.orders``
        order: an order is appended when created, a replace's new order when the venue
        confirms it, and no listed order ever moves or leaves), so paging with the
        ``next_cursor`` of each page lists every order exactly once, also while orders
        arrive between pages; each as it was when its page was read. A cursor that is not an
        order of this account is refused (``invalid_request``) and nothing is listed."""
        account = self.accounts.get(command.account)
        if account is None:
            self._refuse(command.reply, "forbidden", f"unknown account {command.account}")
            return
        order_ids = list(account.orders.values())
        start = 0
        if command.cursor is not None:
            after = self.orders.get(command.cursor)
            if after is None or after.account != account.account:
                self._refuse(command.reply, "invalid_request", f"cursor {command.cursor!r} is not a position in {account.account}'s orders")
                return
            start = order_ids.index(after.order_id) + 1
        views: list[ExecutionReport] = []
        next_cursor: str | None = None
        for position in range(start, len(order_ids)):
            order = self.orders.get(order_ids[position])  # None: reserved for a replace the venue has not confirmed
            if order is None or (command.open_only and not order.status.is_open):
                continue
            if command.limit and len(views) == command.limit:
                next_cursor = views[-1].order_id  # more may follow
                break
            views.append(self._execution(order, order.last_exec_type, now, exec_id=f"{order.order_id}-{order.exec_count}"))
        self.out.to(GATEWAY, command.reply.gateway, OrdersReply(command.reply, command.account, views, next_cursor))

    def _query_account(self, command: QueryAccount, now: int) -> None:
        account = self.accounts.get(command.account)
        if account is None:
            self._refuse(command.reply, "forbidden", f"unknown account {command.account}")
            return
        positions = [Position(symbol, position.qty, _avg(position)) for symbol, position in account.positions.items() if position.qty != 0]
        self.out.to(
            GATEWAY,
            command.reply.gateway,
            AccountReply(command.reply, account.account, account.cash, account.buying_power, positions),
        )

    # --- events from instrument actors -------------------------------------------------------

    def _order_update(self, update: OrderUpdate, now: int) -> None:
        order = self.orders.get(update.order_id)
        if order is None:
            self._anomaly(f"update for unknown order {update.order_id}: {update.kind.value}")
            return
        if update.kind is VenueEventKind.ACCEPTED:
            order.venue = update.venue or order.venue
            return
        if update.kind is VenueEventKind.TRADE:
            self._trade(order, update, now)
        elif update.kind is VenueEventKind.REPLACED:
            self._replaced(order, now)
        elif update.kind is VenueEventKind.CANCEL_REJECTED:
            self._cancel_refused(order, update)
        elif update.kind is VenueEventKind.REPLACE_REJECTED:
            self._replace_refused(order, update)
        else:
            self._finish(order, update, now)

    def _trade(self, order: OrderRecord, update: OrderUpdate, now: int) -> None:
        price = update.last_price
        if price is None or update.last_qty <= 0 or not order.status.is_open:
            self._anomaly(f"bad trade for {order.order_id}: qty={update.last_qty} price={price} status={order.status.value}")
            return
        instrument = self.instruments[order.spec.symbol]
        # An allocation from a block books the cash it was given (whole cents, summing exactly
        # to the block's); any other fill is worth exactly qty × price × multiplier.
        value = update.cash * fixed.SCALE if update.cash is not None else update.last_qty * price * instrument.multiplier
        if update.cash is not None and (update.cash < 0 or update.cash % fixed.CENT):
            self._anomaly(f"allocation for {order.order_id} with cash {update.cash} not in whole cents refused")
            return
        if _would_overfill(order, update.last_qty, value):
            self._anomaly(f"overfill refused for {order.order_id}: {update.last_qty} at {price}")
            return
        account = self.accounts[order.account]
        order.venue = update.venue or order.venue
        order.cum_qty += update.last_qty
        order.cum_value += value
        if update.block is not None:
            order.block = update.block
            self.allocations += 1
        self._book_cash(account, order)
        self._book_position(account, order.spec.symbol, order.spec.side, update.last_qty, price)
        complete = update.done if order.spec.qty is None else order.cum_qty == order.spec.qty
        self._move(order, OrderEvent.FILL if complete else OrderEvent.PARTIAL_FILL)
        if order.pending_replace is not None and not order.pending.has_replace:  # filled: nothing left to replace
            self._release_replace(order, account, "order filled")
        self._rereserve(account, order)
        self._report(order, ExecType.TRADE, now, last_qty=update.last_qty, last_price=price)

    def _finish(self, order: OrderRecord, update: OrderUpdate, now: int) -> None:
        event, exec_type = _VENUE_EVENT_EXEC[update.kind]
        if not can(order.status, order.pending, event):
            self._anomaly(f"{update.kind.value} for {order.order_id} in status {order.status.value}")
            return
        account = self.accounts[order.account]
        order.venue = update.venue or order.venue
        self._move(order, event)
        order.reason = update.reason
        if order.pending_replace is not None:
            self._release_replace(order, account, f"order {order.status.value}")
        self._rereserve(account, order)
        reply, order.cancel_reply = order.cancel_reply, None
        self._report(order, exec_type, now, reply=reply)

    def _replaced(self, order: OrderRecord, now: int) -> None:
        pending = order.pending_replace
        if pending is None or not can(order.status, order.pending, OrderEvent.REPLACE):
            self._anomaly(f"unexpected replace confirmation for {order.order_id}")
            return
        account = self.accounts[order.account]
        if pending.qty <= order.cum_qty:
            # fills overtook the replace: a venue must refuse it; we never book qty < filled
            self._anomaly(f"replace of {order.order_id} to {pending.qty} confirmed after {order.cum_qty} filled")
            self._move(order, OrderEvent.REPLACE_REFUSED)
            self._release_replace(order, account, "replace overtaken by fills")
            return
        order.pending_replace = None
        account.reserved_cash -= pending.held_cash
        self._adjust_reserved_qty(account, order.spec.symbol, -pending.held_qty)
        successor = msgspec.structs.replace(
            order,
            order_id=pending.new_order_id,
            client_order_id=pending.new_client_order_id,
            spec=msgspec.structs.replace(order.spec, qty=pending.qty, price=pending.price, stop_price=pending.stop_price),
            exec_count=0,
            pending=inherited(order.pending),
            cancel_reply=None,
            pending_replace=None,
            created_ts=now,
            reserved_cash=0,
            reserved_qty=0,
            fingerprint=b"",  # never sent as a new_order: a new_order with its id is a duplicate
        )
        self._move(order, OrderEvent.REPLACE)
        order.replaced_by = successor.order_id
        self._rereserve(account, order)
        self.orders[successor.order_id] = successor
        # listed from now on, after every order before it: a page already past the id it
        # reserved when the replace was asked must still list it (see ``_query_orders``)
        del account.orders[successor.client_order_id]
        account.orders[successor.client_order_id] = successor.order_id
        self._rereserve(account, successor)
        self._report(order, ExecType.REPLACED, now)
        self._report(successor, ExecType.REPLACED, now, reply=pending.reply)

    def _cancel_refused(self, order: OrderRecord, update: OrderUpdate) -> None:
        self._move(order, OrderEvent.CANCEL_REFUSED)
        reply, order.cancel_reply = order.cancel_reply, None
        if reply is not None:
            self._refuse(reply, "cancel_rejected", update.reason or Reason.TOO_LATE_TO_CANCEL.value)

    def _replace_refused(self, order: OrderRecord, update: OrderUpdate) -> None:
        if order.pending_replace is None:
            if order.status.is_open:
                self._anomaly(f"unexpected replace rejection for {order.order_id}")
            return
        self._move(order, OrderEvent.REPLACE_REFUSED)
        self._release_replace(order, self.accounts[order.account], update.reason or "venue refused the replace")

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

    def _market_update(self, update: MarketUpdate, now: int) -> None:
        view = self.markets.setdefault(update.symbol, MarketView())
        view.bid, view.ask, view.reference = update.bid, update.ask, update.reference
        # ``halted`` is the supervisor's to set (SetTradingStatus): a quote already in flight
        # when the operator halts must not lift the halt again.

    def _set_trading_status(self, command: SetTradingStatus, now: int) -> None:
        self.markets.setdefault(command.symbol, MarketView()).halted = command.halted

    def _open_market(self, command: OpenMarket, now: int) -> None:
        """Pass the open on to the InstrumentActors behind every order routed so far, and
        remember the day each symbol opened: an ``opg`` order after it is rejected here, as
        its first report (``risk.check_open_passed``). A symbol halted now does not open
        (its InstrumentActor keeps its orders for a later open), so it is not marked."""
        day = trading_day(now, self.limits.open_timezone)
        for symbol in command.symbols or self.instruments:
            view = self.markets.setdefault(symbol, MarketView())
            if not view.halted:
                view.opened_day = day
        marker = msgspec.structs.replace(command, shard=self.name)
        if command.symbols:
            for symbol in command.symbols:
                self.out.to(INSTRUMENT, symbol, msgspec.structs.replace(marker, symbols=[symbol]))
        else:
            self.out.to(INSTRUMENT, ALL, marker)

    def _strike_nav(self, command: StrikeNav, now: int) -> None:
        """Pass a fund's NAV strike on to its InstrumentActor behind every order routed so
        far: this is the cut-off. An order acknowledged here before it fills at this NAV; one
        acknowledged after it waits for the next (the InstrumentActor strikes once every
        shard's marker has come, and knows which orders came after which marker)."""
        self.nav_markers += 1
        self.out.to(INSTRUMENT, command.symbol, msgspec.structs.replace(command, shard=self.name))

    _handlers: ClassVar[dict[type, Callable[..., None]]] = {
        NewOrder: _new_order,
        CancelOrder: _cancel_order,
        ReplaceOrder: _replace_order,
        CancelAll: _cancel_all,
        QueryOrders: _query_orders,
        QueryAccount: _query_account,
        OrderUpdate: _order_update,
        MarketUpdate: _market_update,
        SetTradingStatus: _set_trading_status,
        SetKill: _set_kill,
        OpenAccount: _open_account,
        OpenMarket: _open_market,
        StrikeNav: _strike_nav,
    }

    # --- booking -------------------------------------------------------------------------

    def _book_cash(self, account: AccountRecord, order: OrderRecord) -> None:
        if order.spec.side is Side.BUY:
            booked = fixed.ceil_cent(order.cum_value)
            account.cash -= booked - order.booked_cash
        else:
            booked = fixed.floor_cent(order.cum_value)
            account.cash += booked - order.booked_cash
        order.booked_cash = booked

    @staticmethod
    def _book_position(account: AccountRecord, symbol: str, side: Side, qty: int, price: int) -> None:
        position = account.positions.setdefault(symbol, PositionRecord())
        signed = qty if side is Side.BUY else -qty
        if position.qty == 0 or (position.qty > 0) == (signed > 0):
            position.qty += signed
            position.cost += abs(signed) * price
            return
        closing = min(abs(signed), abs(position.qty))
        position.cost -= position.cost * closing // abs(position.qty)
        position.qty += signed
        opened = abs(signed) - closing
        if position.qty == 0:
            position.cost = 0
        elif opened:
            position.cost = opened * price

    def _reserve(self, account: AccountRecord, order: OrderRecord, instrument: Instrument, estimate: int) -> None:
        order.reserved_cash = risk.cash_to_reserve(order, instrument, estimate)
        order.reserved_qty = 0 if account.allow_short else risk.qty_to_reserve(order)
        account.reserved_cash += order.reserved_cash
        self._adjust_reserved_qty(account, order.spec.symbol, order.reserved_qty)

    def _rereserve(self, account: AccountRecord, order: OrderRecord) -> None:
        """Recompute what an order holds after a change; terminal orders hold nothing."""
        account.reserved_cash -= order.reserved_cash
        self._adjust_reserved_qty(account, order.spec.symbol, -order.reserved_qty)
        order.reserved_cash = order.reserved_qty = 0
        if order.status.is_open:
            instrument = self.instruments[order.spec.symbol]
            estimate = risk.estimate_price(order, instrument, self.markets.get(order.spec.symbol), self.limits)
            self._reserve(account, order, instrument, estimate)

    @staticmethod
    def _adjust_reserved_qty(account: AccountRecord, symbol: str, delta: int) -> None:
        if not delta:
            return
        remaining = account.reserved_qty.get(symbol, 0) + delta
        if remaining:
            account.reserved_qty[symbol] = remaining
        else:
            account.reserved_qty.pop(symbol, None)

    # --- reports ---------------------------------------------------------------------------

    def _report(
        self,
        order: OrderRecord,
        exec_type: ExecType,
        now: int,
        *,
        reply: Reply | None = None,
        last_qty: int = 0,
        last_price: int | None = None,
    ) -> None:
        order.exec_count += 1
        order.last_exec_type = exec_type
        order.updated_ts = now
        self._emit(
            order, exec_type, now, reply=reply, exec_id=f"{order.order_id}-{order.exec_count}", last_qty=last_qty, last_price=last_price
        )

    def _emit(
        self,
        order: OrderRecord,
        exec_type: ExecType,
        now: int,
        *,
        reply: Reply | None,
        exec_id: str,
        last_qty: int = 0,
        last_price: int | None = None,
    ) -> None:
        report = self._execution(order, exec_type, now, exec_id, reply, last_qty, last_price)
        self.out.to(GATEWAY, ALL, report)
        if exec_type is ExecType.TRADE:
            self.out.to(DROP_COPY, ALL, report)  # clearing gets every fill (nowhere when drop copy is off)

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
        multiplier = self.instruments[order.spec.symbol].multiplier
        return ExecutionReport(
            account=order.account,
            order_id=order.order_id,
            client_order_id=order.client_order_id,
            exec_id=exec_id,
            exec_type=exec_type,
            status=order.status,
            spec=order.spec,
            cum_qty=order.cum_qty,
            leaves_qty=order.leaves_qty,
            last_qty=last_qty,
            last_price=last_price,
            avg_price=order.cum_value // (order.cum_qty * multiplier) if order.cum_qty else None,
            reason=order.reason,
            ts=now,
            reply=reply,
            venue=order.venue,
        )

    @staticmethod
    def _move(order: OrderRecord, event: OrderEvent) -> None:
        """The one way an order's state changes: its status and its request in flight
        together, by the table of ``model.lifecycle`` (an event it does not allow raises)."""
        order.status, order.pending = step(order.status, order.pending, event)

    def _find_open(self, account_id: str, client_order_id: str, reply: Reply | None) -> OrderRecord | None:
        account = self.accounts.get(account_id)
        order_id = account.orders.get(client_order_id) if account else None
        order = self.orders.get(order_id) if order_id else None
        if account is None:
            self._refuse(reply, "forbidden", f"unknown account {account_id}")
        elif order is None:
            self._refuse(reply, "unknown_order", f"no order {client_order_id} in {account_id}")
        elif not order.status.is_open:
            self._refuse(reply, "order_not_open", f"order {client_order_id} is {order.status.value}")
        elif order.pending is not Pending.NONE:
            self._refuse(reply, Reason.PENDING_REQUEST.value, f"order {client_order_id} has a cancel or replace pending")
        else:
            return order
        return None

    def _refuse(self, reply: Reply | None, code: str, message: str) -> None:
        self.rejected_requests += 1
        if reply is not None:
            self.out.to(GATEWAY, reply.gateway, RequestRejected(reply, code, message))

    def _anomaly(self, text: str) -> None:
        self.anomalies.append(text)
        log.warning("anomaly", shard=self.name, detail=text)

    # --- checks ------------------------------------------------------------------------------

    def check_invariants(self) -> None:
        """Reservations equal the sum over open orders and are never negative; cash equals the
        opening cash less every buy booked plus every sell booked; positions equal the fills."""
        for account in self.accounts.values():
            orders = [self.orders[order_id] for order_id in set(account.orders.values()) if order_id in self.orders]
            pending = [order.pending_replace for order in orders if order.pending_replace is not None]
            expected_cash_hold = sum(o.reserved_cash for o in orders) + sum(p.held_cash for p in pending)
            assert account.reserved_cash == expected_cash_hold >= 0, (account.account, account.reserved_cash, expected_cash_hold)
            holds: dict[str, int] = {}
            for order in orders:
                assert order.reserved_cash >= 0 and order.reserved_qty >= 0, order.order_id
                assert (order.status, order.pending) in STATES, (order.order_id, order.status, order.pending)
                assert (order.pending_replace is not None) == order.pending.has_replace, order.order_id
                assert order.cancel_reply is None or order.pending.has_cancel, order.order_id
                holds[order.spec.symbol] = holds.get(order.spec.symbol, 0) + order.reserved_qty
                if order.pending_replace is not None:
                    holds[order.spec.symbol] += order.pending_replace.held_qty
            assert {s: q for s, q in holds.items() if q} == account.reserved_qty, (account.account, holds, account.reserved_qty)
            chains = [o for o in orders if o.replaced_by is None]
            cash = account.initial_cash
            positions: dict[str, int] = dict(account.initial_positions)
            for order in chains:
                signed = order.booked_cash if order.spec.side is Side.SELL else -order.booked_cash
                cash += signed
                positions[order.spec.symbol] = positions.get(order.spec.symbol, 0) + (order.cum_qty if order.spec.side is Side.BUY else -order.cum_qty)
                if order.spec.notional is not None and order.spec.side is Side.BUY:
                    assert order.booked_cash <= order.spec.notional, order.order_id
                if order.spec.qty is not None:
                    assert order.cum_qty <= order.spec.qty, order.order_id
            assert cash == account.cash, (account.account, cash, account.cash)
            held = {s: p.qty for s, p in account.positions.items() if p.qty}
            assert {s: q for s, q in positions.items() if q} == held, (account.account, positions, held)

    # --- snapshots: the books as msgspec (about 10× faster than pickling each struct) ---------

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state["accounts"] = _ENCODER.encode(list(self.accounts.values()))
        state["orders"] = _ENCODER.encode(list(self.orders.values()))
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        accounts = _ACCOUNTS.decode(state.pop("accounts"))  # type: ignore[arg-type]
        orders = _ORDERS.decode(state.pop("orders"))  # type: ignore[arg-type]
        self.__dict__.update(state)
        self.accounts = {account.account: account for account in accounts}
        self.orders = {order.order_id: order for order in orders}

    def state_hash(self) -> str:
        """SHA-256 of the whole state in a canonical encoding: equal states, equal hashes."""
        state = (self.accounts, self.orders, self.markets, self.order_counter, self.rejected_requests, self.kill_all)
        return hashlib.sha256(msgspec.msgpack.encode(state)).hexdigest()


_ENCODER = msgspec.msgpack.Encoder()
_ACCOUNTS = msgspec.msgpack.Decoder(list[AccountRecord])
_ORDERS = msgspec.msgpack.Decoder(list[OrderRecord])


def _record(command: NewOrder, spec: OrderSpec, order_id: str, fingerprint: bytes, now: int) -> OrderRecord:
    return OrderRecord(
        order_id=order_id,
        account=command.account,
        client_order_id=command.client_order_id,
        spec=spec,
        status=OrderStatus.PENDING_NEW,
        created_ts=now,
        updated_ts=now,
        fingerprint=fingerprint,
    )


def _fingerprint(command: NewOrder) -> bytes:
    """The terms of a ``new_order`` as bytes: an array in field order, the same bytes the
    tuple of the eight fields gave (fingerprints in earlier states stay comparable)."""
    return _fingerprint_encoder.encode(command.spec)


def _would_overfill(order: OrderRecord, qty: int, value: int) -> bool:
    """More than the order's quantity, its notional sell cap, or its notional cash
    (``value``: the fill's exact raw value)."""
    if order.spec.qty is not None:
        return order.cum_qty + qty > order.spec.qty
    if order.qty_cap is not None and order.cum_qty + qty > order.qty_cap:
        return True
    assert order.spec.notional is not None
    return order.spec.side is Side.BUY and fixed.ceil_cent(order.cum_value + value) > order.spec.notional


def _avg(position: PositionRecord) -> int:
    return position.cost // abs(position.qty) if position.qty else 0
