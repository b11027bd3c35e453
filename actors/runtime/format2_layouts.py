"""What changed layout since format 2, rebuilt in today's, field by field (used by
``actors/runtime/format2.py``): the records pickled with their order terms flat (a route,
the sim's and the FIX adapter's children) and an account's orders as encoded before the
re-layout, whose terms are one ``OrderSpec`` now and whose request in flight is a
``Pending``; and the batches sent before the re-layout, whose messages carried the terms flat.
"""

from __future__ import annotations

from typing import Any

import msgspec

from actors.account.records import OrderRecord, PendingReplace
from actors.instrument.records import Route
from adapters.fix.outbound import ChildOrder
from adapters.sim.orders import Child
from model.enums import ExecType, OrderStatus, OrderType, Side, TimeInForce
from model.lifecycle import Pending
from model.messages import Reply, decode_batch
from model.orders import OrderSpec
from model.routes import RouteState

# --- records pickled with their terms flat -----------------------------------------------------------


def _spec(symbol: str, side: Side, order_type: OrderType, tif: TimeInForce, qty: int | None, notional: int | None,
          price: int | None, stop_price: int | None = None) -> OrderSpec:
    return OrderSpec(symbol, side, order_type, tif, qty, notional, price, stop_price)


def route_before_relayout(
    order_id: str, account: str, symbol: str, side: Side, order_type: OrderType, tif: TimeInForce, qty: int | None,
    notional: int | None, price: int | None, stop_price: int | None, qty_cap: int | None, state: str,
    child_id: str | None = None, venue: str | None = None, cum_qty: int = 0, replacing_to: str | None = None,
    replacing_qty: int | None = None, replacing_price: int | None = None, nav_strike: int = 0,
) -> Route:
    """A route's terms were flat and its state a string; a replace in flight was a routed
    route with ``replacing_to`` set, the ``replacing`` state now."""
    route_state = RouteState(state)
    if route_state is RouteState.ROUTED and replacing_to is not None:
        route_state = RouteState.REPLACING
    spec = _spec(symbol, side, order_type, tif, qty, notional, price, stop_price)
    return Route(order_id, account, spec, qty_cap, route_state, child_id, venue, cum_qty, replacing_to, replacing_qty, replacing_price, nav_strike)


def sim_child_flat(
    child_id: str, symbol: str, side: Side, order_type: OrderType, tif: TimeInForce, qty: int | None, notional: int | None,
    price: int | None, qty_cap: int | None, cum_qty: int = 0, value_raw: int = 0,
) -> Child:
    """A sim child as pickled until its terms became an ``OrderSpec`` (``_Child``, then ``Child``)."""
    child = Child(child_id, _spec(symbol, side, order_type, tif, qty, notional, price), qty_cap, cum_qty)
    child.value_raw = value_raw
    return child


def fix_child_flat(
    child_id: str, symbol: str, side: Side, order_type: OrderType, tif: TimeInForce, qty: int | None, notional: int | None,
    price: int | None, cl_ord_id: str | None = None,
) -> ChildOrder:
    """A FIX child as pickled until its terms became an ``OrderSpec`` (in ``codec``, then ``outbound``)."""
    return ChildOrder(child_id, _spec(symbol, side, order_type, tif, qty, notional, price), cl_ord_id)


# --- an account's orders before the re-layout ----------------------------------------------------------


class PendingReplaceBefore(msgspec.Struct, array_like=True):
    new_order_id: str
    new_client_order_id: str
    qty: int
    price: int | None
    stop_price: int | None
    reply: Reply | None
    held_cash: int
    held_qty: int


class OrderRecordBefore(msgspec.Struct, array_like=True):
    """``OrderRecord`` as it was before the re-layout: the terms flat, a cancel in flight a
    flag (``cancel_requested``, left set after the order ended) and its asker."""

    order_id: str
    account: str
    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    tif: TimeInForce
    qty: int | None
    notional: int | None
    price: int | None
    stop_price: int | None
    status: OrderStatus
    created_ts: int
    fingerprint: bytes
    qty_cap: int | None
    cum_qty: int
    value_nanos: int
    value_subnanos: int
    booked_cash: int
    reserved_cash: int
    reserved_qty: int
    last_exec_type: ExecType
    exec_count: int
    reason: str | None
    updated_ts: int
    pending_cancel: Reply | None
    cancel_requested: bool
    pending_replace: PendingReplaceBefore | None
    replaced_by: str | None
    block: str | None
    venue: str | None


def order_before_relayout(old: OrderRecordBefore) -> OrderRecord:
    """The terms become the order's ``OrderSpec`` (a pending replace's: the order's, with its
    qty and prices); the request in flight a ``Pending``: a cancel counts only while the
    order is open (the old flag stayed set after the order ended, the lifecycle's does not)."""
    spec = _spec(old.symbol, old.side, old.order_type, old.tif, old.qty, old.notional, old.price, old.stop_price)
    replace = old.pending_replace
    pending_replace = None
    if replace is not None:
        terms = msgspec.structs.replace(spec, qty=replace.qty, price=replace.price, stop_price=replace.stop_price)
        pending_replace = PendingReplace(replace.new_order_id, replace.new_client_order_id, terms, replace.reply, replace.held_cash, replace.held_qty)
    cancel = old.cancel_requested and old.status.is_open
    if cancel:
        pending = Pending.REPLACE_AND_CANCEL if pending_replace is not None else Pending.CANCEL
    else:
        pending = Pending.REPLACE if pending_replace is not None else Pending.NONE
    return OrderRecord(
        old.order_id, old.account, old.client_order_id, spec, old.status, old.created_ts, old.fingerprint, old.qty_cap,
        old.cum_qty, old.value_nanos, old.value_subnanos, old.booked_cash, old.reserved_cash, old.reserved_qty,
        old.last_exec_type, old.exec_count, old.reason, old.updated_ts, pending, old.pending_cancel if cancel else None,
        pending_replace, old.replaced_by, old.block, old.venue,
    )


# --- batches sent before the re-layout ------------------------------------------------------------------

# message tag → (index of the first term in its array, after the tag; how many): the terms
# that are one ``OrderSpec`` now (NewOrder, ExecutionReport, RouteOrder, VenueNewOrder)
_FLAT_TERMS = {1: (3, 8), 20: (7, 8), 30: (3, 8), 40: (2, 7)}
_REPORT_TO_ASKER, _ORDERS_REPLY, _VENUE_NEW_ORDER = 25, 21, 40


def batch_before_relayout(data: bytes) -> bytes:
    """A batch as encoded before the re-layout, in today's layout (checked by decoding it)."""
    sender, seq, ts, messages = msgspec.msgpack.decode(data)
    migrated = msgspec.msgpack.encode([sender, seq, ts, [_message_before_relayout(message) for message in messages]])
    decode_batch(migrated)
    return migrated


def _message_before_relayout(message: list[Any]) -> list[Any]:
    tag = message[0]
    if tag == _REPORT_TO_ASKER:
        return [*message[:2], _message_before_relayout(message[2]), *message[3:]]
    if tag == _ORDERS_REPLY:
        return [*message[:3], [_message_before_relayout(report) for report in message[3]], *message[4:]]
    where = _FLAT_TERMS.get(tag)
    if where is None:
        return message
    start, count = where
    terms = message[start : start + count]
    if tag == _VENUE_NEW_ORDER:
        terms.append(None)  # a child order carried no stop price
    return [*message[:start], terms, *message[start + count :]]
