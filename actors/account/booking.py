"""Execution booking: fills to cash and positions, and the venue's ends of an order."""

from __future__ import annotations

from sys import intern

from actors.account import auditing
from actors.account.base import exec_id, shared
from actors.account.books import Bookkeeping
from actors.account.records import OrderRecord
from actors.runtime.outputs import AUDIT
from model import fixed
from model.enums import ExecType, OrderStatus, Reason, Side, VenueEventKind
from model.lifecycle import OrderEvent, can
from model.messages import AllocationFills, OrderUpdate

_VENUE_EVENT_EXEC = {
    VenueEventKind.CANCELED: (OrderEvent.CANCEL, ExecType.CANCELED),
    VenueEventKind.EXPIRED: (OrderEvent.EXPIRE, ExecType.EXPIRED),
    VenueEventKind.REJECTED: (OrderEvent.REJECT, ExecType.REJECTED),
}

# members read on every fill, bound once (model/enums.py says why)
_BUY = Side.BUY
_FILL, _PARTIAL_FILL = OrderEvent.FILL, OrderEvent.PARTIAL_FILL
_TRADE = ExecType.TRADE
_OPEN = frozenset(status for status in OrderStatus if status.is_open)
_CENT, _SCALE = fixed.CENT, fixed.SCALE
_TOO_LATE = Reason.TOO_LATE_TO_CANCEL.value


class Booking(Bookkeeping):
    """Fills booked to cash and positions, and the venue's ends of an order (canceled,
    expired, rejected). Cash is booked on the cumulative value, rounded up to the cent for
    a buy and down for a sell, so the sum over fills is exact."""

    def _trade(self, order: OrderRecord, update: OrderUpdate, now: int) -> None:
        venue = update.venue
        self._book_trade(order, update.last_qty, update.last_price, update.cash, intern(venue) if venue else venue, shared(update.block), update.done, now)

    def _allocation_fills(self, fills: AllocationFills, now: int) -> None:
        """An allocation's fills to this shard's orders, booked one by one as the same
        ``OrderUpdate`` trades would be; each order at rest again goes cold at once, as
        after a message each (a chunk is up to ``[batching] max_messages`` orders)."""
        count = len(fills.order_ids)
        if not len(fills.accounts) == len(fills.qtys) == len(fills.cash) == len(fills.done) == count:
            self._anomaly(f"allocation fills of block {fills.block} with columns of unequal length refused")
            return
        book = self._book_trade
        block, venue, price = shared(fills.block), shared(fills.venue), fills.price
        for order, order_id, qty, cash, done in zip(self.orders.each(fills.order_ids), fills.order_ids, fills.qtys, fills.cash, fills.done):
            if order is None:
                self._anomaly(f"allocation fill for unknown order {order_id} of block {fills.block}")
                continue
            book(order, qty, price, cash, venue, block, done, now)

    def _book_trade(self, order: OrderRecord, qty: int, price: int | None, cash: int | None, venue: str, block: str | None, done: bool, now: int) -> None:
        """One fill of ``order``: ``qty`` at ``price``; from a block, ``cash`` (whole cents)
        is what it books, else exactly qty × price × multiplier. ``venue`` and ``block``:
        strings already shared (``shared``: one object for every order they fill)."""
        if price is None or qty <= 0 or order.status not in _OPEN:
            self._anomaly(f"bad trade for {order.order_id}: qty={qty} price={price} status={order.status.value}")
            return
        instrument = self.instruments[order.spec.symbol]
        # An allocation from a block books the cash it was given (whole cents, summing exactly
        # to the block's); any other fill is worth exactly qty × price × multiplier.
        if cash is None:
            value = qty * price * instrument.multiplier
        elif cash < 0 or cash % _CENT:
            self._anomaly(f"allocation for {order.order_id} with cash {cash} not in whole cents refused")
            return
        else:
            value = cash * _SCALE
        spec_qty = order.spec.qty
        if (order.cum_qty + qty > spec_qty) if spec_qty is not None else _would_overfill(order, qty, value):
            self._anomaly(f"overfill refused for {order.order_id}: {qty} at {price}")
            return
        account = self.accounts[order.account]
        if venue:
            order.venue = venue
        order.cum_qty += qty
        order.cum_value += value
        if block is not None:
            order.block = block
            self.allocations += 1
        booked_before = order.booked_cash
        # the instrument's symbol: a position's key is one string per symbol, not the thawed order's copy
        self._book_fill(account, order, instrument.symbol, qty, price, now)
        complete = done if spec_qty is None else order.cum_qty == spec_qty
        self._move(order, _FILL if complete else _PARTIAL_FILL)
        if order.pending_replace is not None and not order.pending.has_replace:  # filled: nothing left to replace
            self._release_replace(order, account, "order filled")
        self._rereserve(account, order)
        self._report(order, _TRADE, now, last_qty=qty, last_price=price)
        if complete and order.cancel_reply is not None:
            # the fill beat a client's cancel: answered here, after the fill's report (the venue's
            # own refusal, if it sends one, finds the route gone at the InstrumentActor)
            reply, order.cancel_reply = order.cancel_reply, None
            self._refuse(reply, "cancel_rejected", _TOO_LATE)
        if self.out.audit:
            cash = order.booked_cash - booked_before
            if block is not None:  # the account's share of a block's fill: its allocation
                event = auditing.allocation(order, block, qty, price, cash)
            else:  # the execution id the client's report carries
                event = auditing.fill(order, exec_id(order), venue or order.venue or "", qty, price, cash)
            self.out.to(AUDIT, "", event)

    def _finish(self, order: OrderRecord, update: OrderUpdate, now: int) -> None:
        event, exec_type = _VENUE_EVENT_EXEC[update.kind]
        if not can(order.status, order.pending, event):
            self._anomaly(f"{update.kind.value} for {order.order_id} in status {order.status.value}")
            return
        account = self.accounts[order.account]
        order.venue = shared(update.venue) or order.venue
        leaves = order.leaves_qty or 0  # what will not trade (0 for a notional order)
        cause = self._end_cause(order, update)
        self._move(order, event)
        order.reason = shared(update.reason)
        if order.pending_replace is not None:
            self._release_replace(order, account, f"order {order.status.value}")
        self._rereserve(account, order)
        reply, order.cancel_reply = order.cancel_reply, None
        self._report(order, exec_type, now, reply=reply)
        if self.out.audit:
            self.out.to(AUDIT, "", auditing.canceled(order, leaves, cause))

    def _end_cause(self, order: OrderRecord, update: OrderUpdate) -> str:
        """Who or what ended ``order`` without (further) fills, for its ``canceled`` record:
        ``client`` (its cancel), ``kill`` (its account's kill switch), ``cancel_all``,
        ``venue`` (a cancel nobody here asked for), ``expired`` or ``rejected`` (by the
        venue), with the venue's reason after a colon when it gave one."""
        kind = update.kind
        if kind is VenueEventKind.EXPIRED:
            cause = "expired"
        elif kind is VenueEventKind.REJECTED:
            cause = "rejected"
        elif not order.pending.has_cancel:
            cause = "venue"
        elif order.cancel_reply is not None:
            cause = "client"
        else:
            cause = "kill" if self.accounts[order.account].killed else "cancel_all"
        return f"{cause}: {update.reason}" if update.reason else cause



def _would_overfill(order: OrderRecord, qty: int, value: int) -> bool:
    """More than the order's quantity, its notional sell cap, or its notional cash
    (``value``: the fill's exact raw value)."""
    if order.spec.qty is not None:
        return order.cum_qty + qty > order.spec.qty
    if order.qty_cap is not None and order.cum_qty + qty > order.qty_cap:
        return True
    assert order.spec.notional is not None
    return order.spec.side is _BUY and fixed.ceil_cent(order.cum_value + value) > order.spec.notional
