"""The compliance reports of the audit log, pure: from records (``model.audit.Record``, bodies
decoded here with ``model.audit_bodies``) to rows. No I/O and no clock: the shell's
``report trades|cat|best-ex|admin-actions`` (``server/client/local.py``) reads the records
(``snapshots.audit.read_records``) and writes the rows; docs/reports.md describes every column.

- :func:`trades`: the trade blotter, one row per ``fill`` and ``allocation`` record;
- :func:`cat`: the order events of FINRA CAT (new, route, modify, cancel, execute, allocate,
  reject), each with its event id and the event it links to;
- :func:`best_ex`: execution quality per symbol and venue, in the spirit of SEC Rule 605;
- :func:`admin_actions`: who did what: every ``admin_command`` and ``login`` record.

Every builder takes the records in the order the reader gives them: by time, a writer's own
records in their chain order (:func:`order_key` breaks ties of one nanosecond by the order in
which the events happen: a login before an order, an order before its route, ...).

Guarantees:
- Exact: quantities, prices and cash are the decimal strings of ``model/fixed.py`` (never a
  binary float); an average is the exact ratio of integers, rounded to 10^-9 half to even.
- A value that does not apply, or that the report does not hold, is ``None`` (an empty CSV
  field, a JSON ``null``), never a made-up zero.
- No records, no rows: a report of a day without data is its header alone.
- A record whose body does not decode as its kind's struct is :class:`ReportError` naming it
  (``writer:seq``), never skipped in silence.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from model import fixed
from model.audit import AuditKind, Record
from model.audit_bodies import (
    AdminCommand,
    Allocation,
    Canceled,
    Fill,
    Login,
    OrderAccepted,
    OrderRejected,
    Replaced,
    Routed,
    decode_body,
)
from model.calendar import NS_PER_SECOND, day_start_ns, parse_iso_day

Value = str | int | None
Row = tuple[Value, ...]

MAX_DAYS = 366 * 7  # a range longer than the retention period (six years under 17a-4) is a typo


class ReportError(ValueError):
    """A report that cannot be made: the message says why (a bad date or range, a record that
    does not decode)."""


# --- dates and times --------------------------------------------------------------------------------


def day_range(first: str, last: str, zone: str) -> tuple[int, int]:
    """``[start_ns, end_ns)`` of the local days ``first``..``last`` (``YYYY-MM-DD``, inclusive)
    in ``zone``; ``ReportError`` for a malformed date, ``first`` after ``last``, or a range of
    more than :data:`MAX_DAYS` days."""
    days = []
    for text in (first, last):
        try:
            days.append(parse_iso_day(text))
        except ValueError:
            raise ReportError(f"{text[:20]!r} is not a date (YYYY-MM-DD)") from None
    start, end = days
    if start > end:
        raise ReportError(f"FROM {first} is after TO {last}")
    if (end - start).days >= MAX_DAYS:
        raise ReportError(f"{first} to {last} is more than {MAX_DAYS} days")
    if end >= date.max - timedelta(days=1):
        raise ReportError(f"{last} is past the last date a report covers")
    return day_start_ns(start.toordinal(), zone), day_start_ns(end.toordinal() + 1, zone)


@lru_cache(maxsize=4096)
def _second(seconds: int, zone: str) -> tuple[str, str]:
    """The local date and time of a second and its UTC offset (remembered: a report formats
    many records of one second)."""
    moment = datetime.fromtimestamp(seconds, ZoneInfo(zone))
    text = moment.isoformat()
    return text[:19], text[19:]


def local_time(time_ns: int, zone: str) -> str:
    """``time_ns`` as local ISO 8601 with nanoseconds and the offset:
    ``2025-01-02T09:30:00.000000001-05:00``."""
    seconds, nanos = divmod(time_ns, NS_PER_SECOND)
    clock, offset = _second(seconds, zone)
    return f"{clock}.{nanos:09d}{offset}"


def event_id(record: Record) -> str:
    """A record's id in every report: ``writer:seq``, which ``audit export`` and ``audit
    verify`` name it by."""
    return f"{record.writer}:{record.seq}"


# --- shared helpers ----------------------------------------------------------------------------------

# The order in which events of one nanosecond happen (the reader's tie-break across writers)
_RANK: dict[str, int] = {
    kind.value: rank
    for rank, kinds in enumerate(
        (
            (AuditKind.LOGIN,),
            (AuditKind.ADMIN_COMMAND,),
            (AuditKind.ORDER_RECEIVED,),
            (AuditKind.ORDER_ACCEPTED, AuditKind.ORDER_REJECTED),
            (AuditKind.REPLACED,),
            (AuditKind.ROUTED,),
            (AuditKind.FILL,),
            (AuditKind.ALLOCATION,),
            (AuditKind.CANCELED,),
        )
    )
    for kind in kinds
}
_LAST_RANK = len(_RANK)


def order_key(record: Record) -> tuple[int, int]:
    """How the reader merges the writers' chains: by time, then by the order in which events of
    one nanosecond happen (a login before the order it carries, an order before its route,
    its fill before the fill's allocation)."""
    return record.time_ns, _RANK.get(record.kind, _LAST_RANK)


def _body(record: Record) -> Any:
    try:
        return decode_body(record.kind, record.body)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise ReportError(f"audit record {event_id(record)} ({record.kind}): its body does not decode ({error})") from None


# A day's prices and quantities repeat (a symbol trades at a few hundred prices, lots of 100):
# formatting each once is a fifth of a report's time
_decimal = lru_cache(maxsize=1 << 16)(fixed.format)
_money = lru_cache(maxsize=1 << 16)(fixed.format_cash)


def _num(value: int | None) -> str | None:
    return None if value is None else _decimal(value)


def _cash(value: int | None) -> str | None:
    return None if value is None else _money(value)


def ratio(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded to the nearest integer, half to even (exact)."""
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2):
        quotient += 1
    return quotient


def median_ns(values: list[int]) -> int | None:
    """The median (of an even count, the mean of the middle two, down to the ns)."""
    if not values:
        return None
    values = sorted(values)
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) // 2


# --- the trade blotter -----------------------------------------------------------------------------

TRADES_COLUMNS = ("time", "time_ns", "event_id", "kind", "account", "order_id", "symbol", "side", "qty", "price", "cash", "venue", "block", "exec_id")
TRADES_KINDS = frozenset({AuditKind.FILL.value, AuditKind.ALLOCATION.value})


def trades(records: Iterable[Record], zone: str) -> Iterator[Row]:
    """One row per ``fill`` (an execution at a venue: ``venue``, ``exec_id``) and ``allocation``
    (a block's fill booked to an account: ``block``) record, in the records' order."""
    fill, allocation = AuditKind.FILL.value, AuditKind.ALLOCATION.value
    for record in records:
        if record.kind == fill:
            body: Any = _body(record)
            yield (local_time(record.time_ns, zone), record.time_ns, event_id(record), fill, body.account, body.order_id, body.symbol, body.side,
                   _decimal(body.qty), _decimal(body.price), _money(body.cash), body.venue, None, body.exec_id)  # fmt: skip
        elif record.kind == allocation:
            body = _body(record)
            yield (local_time(record.time_ns, zone), record.time_ns, event_id(record), allocation, body.account, body.order_id, body.symbol, body.side,
                   _decimal(body.qty), _decimal(body.price), _money(body.cash), None, body.block, None)  # fmt: skip


# --- CAT order events ----------------------------------------------------------------------------------

class CatEvent(msgspec.Struct, gc=False):
    """One row of the CAT report, its fields in column order (docs/reports.md#cat)."""

    event_id: str
    time: str
    time_ns: int
    event: str
    linked_event_id: str | None = None
    order_event_id: str | None = None
    account: str | None = None
    order_id: str | None = None
    client_order_id: str | None = None
    parent_order_id: str | None = None
    child_order_id: str | None = None
    block: str | None = None
    symbol: str | None = None
    side: str | None = None
    order_type: str | None = None
    tif: str | None = None
    qty: str | None = None
    notional: str | None = None
    price: str | None = None
    stop_price: str | None = None
    venue: str | None = None
    exec_id: str | None = None
    leaves: str | None = None
    reason: str | None = None
    gateway: str | None = None
    conn: int | None = None
    user: str | None = None
    key_id: str | None = None


CAT_COLUMNS: tuple[str, ...] = CatEvent.__struct_fields__
CAT_KINDS = frozenset(
    kind.value
    for kind in (
        AuditKind.LOGIN,
        AuditKind.ORDER_ACCEPTED,
        AuditKind.ORDER_REJECTED,
        AuditKind.ROUTED,
        AuditKind.REPLACED,
        AuditKind.CANCELED,
        AuditKind.FILL,
        AuditKind.ALLOCATION,
    )
)


@dataclass(slots=True)
class _Order:
    """What the CAT report remembers of an order: its new event, its latest version (new or
    modify: what a modify or cancel links to) and who sent it."""

    new: str
    version: str
    user: str | None
    key_id: str | None


class _CatLinks:
    """The events a later one links to, as the records go by: orders, routes by (order,
    venue), the latest fill of each block, and the last good login of each connection."""

    def __init__(self) -> None:
        self.orders: dict[str, _Order] = {}
        self.routes: dict[tuple[str, str], str] = {}
        self.first_route: dict[str, str] = {}
        self.fills: dict[str, str] = {}
        self.logins: dict[tuple[str, int], tuple[str, str]] = {}
        self.first_id: dict[str, str] = {}  # a replace's successor id → the id its order was routed under

    def route_of(self, order_id: str, venue: str) -> str | None:
        return self.routes.get((self.first_id.get(order_id, order_id), venue))

    def who(self, gateway: str, conn: int) -> tuple[str | None, str | None]:
        found = self.logins.get((gateway, conn)) if gateway else None
        return (None, None) if found is None else found

    def order_of(self, order_id: str) -> _Order | None:
        return self.orders.get(order_id)


def cat(records: Iterable[Record], zone: str) -> Iterator[Row]:
    """The order events in the records' order, each linked to the event before it in the
    order's life (docs/reports.md#cat): new → its parent's new; route → the order's new;
    modify and cancel → the order's latest version; execute → the route of its order to its
    venue, else the order's new; allocate → the block's latest fill; reject → nothing. A
    ``login`` record is not a row: it names the user of its connection's orders."""
    links = _CatLinks()
    for record in records:
        kind = record.kind
        if kind not in CAT_KINDS:
            continue
        body = _body(record)
        if kind == AuditKind.LOGIN:
            if body.outcome == "ok":
                links.logins[(body.gateway, body.conn)] = (body.user, body.key_id)
            continue
        yield _cat_row(record, body, links, zone)


def _cat_row(record: Record, body: Any, links: _CatLinks, zone: str) -> Row:
    this = event_id(record)
    at = local_time(record.time_ns, zone)
    row: CatEvent
    if isinstance(body, OrderAccepted):
        user, key = links.who(body.gateway, body.conn)
        parent = links.order_of(body.parent) if body.parent else None
        links.orders[body.order_id] = _Order(this, this, user, key)
        row = CatEvent(this, at, record.time_ns, "new", linked_event_id=parent.new if parent else None, account=body.account,
                       order_id=body.order_id, client_order_id=body.client_order_id, parent_order_id=body.parent, symbol=body.symbol,
                       side=body.side, order_type=body.order_type, tif=body.tif, qty=_num(body.qty), notional=_cash(body.notional),
                       price=_num(body.price), stop_price=_num(body.stop_price), gateway=body.gateway or None,
                       conn=body.conn if body.gateway else None, user=user, key_id=key)  # fmt: skip
    elif isinstance(body, OrderRejected):
        user, key = links.who(body.gateway, body.conn)
        row = CatEvent(this, at, record.time_ns, "reject", account=body.account, client_order_id=body.client_order_id, symbol=body.symbol,
                       side=body.side, order_type=body.order_type, qty=_num(body.qty), notional=_cash(body.notional), price=_num(body.price),
                       reason=_reason(body.reason, body.text), gateway=body.gateway or None, conn=body.conn if body.gateway else None,
                       user=user, key_id=key)  # fmt: skip
    elif isinstance(body, Routed):
        order = links.order_of(body.order_id)
        links.routes[(body.order_id, body.venue)] = this
        links.first_route.setdefault(body.order_id, this)
        row = CatEvent(this, at, record.time_ns, "route", linked_event_id=order.new if order else None, order_event_id=order.new if order else None,
                       account=body.account or None, order_id=body.order_id, parent_order_id=body.order_id, child_order_id=body.child_id,
                       block=None if body.account else body.order_id, symbol=body.symbol, side=body.side, qty=_num(body.qty),
                       price=_num(body.price), venue=body.venue)  # fmt: skip
        _who(row, order)
    elif isinstance(body, Replaced):
        order = links.order_of(body.order_id)
        row = CatEvent(this, at, record.time_ns, "modify", linked_event_id=order.version if order else None, order_event_id=order.new if order else None,
                       account=body.account, order_id=body.order_id, client_order_id=body.new_client_order_id, qty=_num(body.qty),
                       price=_num(body.price), stop_price=_num(body.stop_price))  # fmt: skip
        _who(row, order)
        if order is not None:
            order.version = this
            if body.new_order_id:  # the order goes on under its successor's id: its later events carry that
                links.orders[body.new_order_id] = order
                links.first_id[body.new_order_id] = links.first_id.get(body.order_id, body.order_id)
    elif isinstance(body, Canceled):
        order = links.order_of(body.order_id)
        row = CatEvent(this, at, record.time_ns, "cancel", linked_event_id=order.version if order else None, order_event_id=order.new if order else None,
                       account=body.account, order_id=body.order_id, leaves=_decimal(body.leaves), reason=body.reason or None)  # fmt: skip
        _who(row, order)
    elif isinstance(body, Fill):
        order = links.order_of(body.order_id)
        route = links.route_of(body.order_id, body.venue)
        block = None if body.account else body.order_id
        if block is not None:
            links.fills[block] = this
        row = CatEvent(this, at, record.time_ns, "execute", linked_event_id=route or (order.new if order else None),
                       order_event_id=order.new if order else None, account=body.account or None, order_id=body.order_id, block=block,
                       symbol=body.symbol, side=body.side, qty=_decimal(body.qty), price=_decimal(body.price), venue=body.venue,
                       exec_id=body.exec_id)  # fmt: skip
        _who(row, order)
    else:
        assert isinstance(body, Allocation)
        order = links.order_of(body.order_id)
        row = CatEvent(this, at, record.time_ns, "allocate", linked_event_id=links.fills.get(body.block) or links.first_route.get(body.block),
                       order_event_id=order.new if order else None, account=body.account, order_id=body.order_id, block=body.block,
                       symbol=body.symbol, side=body.side, qty=_decimal(body.qty), price=_decimal(body.price))  # fmt: skip
        _who(row, order)
    return msgspec.structs.astuple(row)


def _reason(code: str, text: str) -> str:
    return f"{code}: {text}" if text else code


def _who(row: CatEvent, order: _Order | None) -> None:
    """The user and key of the order's connection on a later event of the order."""
    if order is not None:
        row.user, row.key_id = order.user, order.key_id


# --- best execution --------------------------------------------------------------------------------

BEST_EX_COLUMNS = (
    "symbol", "venue", "orders", "orders_quoted", "ordered_qty", "filled_qty", "fill_rate", "orders_filled", "orders_complete",
    "quoted_executed_qty", "avg_price_improvement", "avg_effective_spread", "median_time_to_first_fill_s", "median_time_to_complete_s",
)  # fmt: skip
BEST_EX_KINDS = frozenset(kind.value for kind in (AuditKind.ORDER_ACCEPTED, AuditKind.REPLACED, AuditKind.ROUTED, AuditKind.FILL, AuditKind.ALLOCATION))


@dataclass(slots=True)
class _Execution:
    """One order's life as best execution sees it."""

    symbol: str
    buy: bool
    qty: int | None  # None: a notional order (no quantity to fill)
    bid: int | None
    ask: int | None
    arrived: int
    venue: str | None = None  # of its first route, else of its first execution
    executed: int = 0
    first_ns: int | None = None
    complete_ns: int | None = None
    quoted_qty: int = 0
    improvement: int = 0  # Σ qty × improvement, at SCALE²
    spread: int = 0  # Σ qty × 2|price − mid|, at SCALE²

    @property
    def quoted(self) -> bool:
        return self.bid is not None and self.ask is not None

    def execute(self, qty: int, price: int, venue: str | None, time_ns: int) -> None:
        if self.venue is None:
            self.venue = venue
        self.executed += qty
        if self.first_ns is None:
            self.first_ns = time_ns
        if self.complete_ns is None and self.qty is not None and self.executed >= self.qty:
            self.complete_ns = time_ns
        if self.bid is not None and self.ask is not None:
            self.quoted_qty += qty
            self.improvement += qty * ((self.ask - price) if self.buy else (price - self.bid))
            self.spread += qty * abs(2 * price - self.bid - self.ask)


def best_ex(records: Iterable[Record], zone: str) -> list[Row]:
    """Per symbol and venue, the orders accepted among ``records`` and their executions (fills
    and allocations) among them (docs/reports.md#best-ex). An order's venue: that of its first
    route, else of its first execution (an allocation's: its block's route), else none. An
    order without a two-sided quote at arrival counts in ``orders``, the fill rate and the
    times, not in the price improvement or the effective spread."""
    orders: dict[str, _Execution] = {}
    crossed: dict[str, _Execution] = {}  # the INTERNAL part of orders routed for the rest
    block_venue: dict[str, str] = {}
    for record in records:
        kind = record.kind
        if kind not in BEST_EX_KINDS:
            continue
        body = _body(record)
        if isinstance(body, OrderAccepted):
            orders[body.order_id] = _Execution(body.symbol, body.side == "buy", body.qty, body.bid, body.ask, record.time_ns)
        elif isinstance(body, Routed):
            if not body.account:
                block_venue.setdefault(body.order_id, body.venue)
            order = orders.get(body.order_id)
            if order is not None and order.venue is None:
                order.venue = body.venue
        elif isinstance(body, Replaced):
            order = orders.get(body.order_id)
            if order is not None and body.qty is not None and order.qty is not None:
                order.qty = body.qty
            if order is not None and body.new_order_id:  # its later fills carry its successor's id
                orders[body.new_order_id] = order
        elif isinstance(body, Fill):
            order = orders.get(body.order_id)
            if order is not None:
                if body.venue == INTERNAL and order.venue not in (None, INTERNAL):
                    order = _internal_part(order, body.order_id, body.qty, crossed)  # crossed in part, routed for the rest
                order.execute(body.qty, body.price, body.venue, record.time_ns)
        elif isinstance(body, Allocation):
            order = orders.get(body.order_id)
            if order is not None:
                order.execute(body.qty, body.price, block_venue.get(body.block), record.time_ns)
    groups: dict[tuple[str, str], list[_Execution]] = {}
    for order in {id(order): order for order in [*orders.values(), *crossed.values()]}.values():  # a replaced order: under both its ids, once
        groups.setdefault((order.symbol, order.venue or ""), []).append(order)
    return [_best_ex_row(symbol, venue, group) for (symbol, venue), group in sorted(groups.items())]


INTERNAL = "INTERNAL"  # the venue of an execution crossed inside the broker (docs/liquidity.md)


def _internal_part(order: _Execution, order_id: str, qty: int, crossed: dict[str, _Execution]) -> _Execution:
    """The INTERNAL part of an order that crossed in part and was routed for the rest: an
    order of its own in the INTERNAL row, of the quantity that crossed, with the parent's
    arrival and quote; the parent's quantity is what was left to route."""
    part = crossed.get(order_id)
    if part is None:
        part = crossed[order_id] = _Execution(order.symbol, order.buy, 0 if order.qty is not None else None, order.bid, order.ask, order.arrived, INTERNAL)
    if part.qty is not None and order.qty is not None:
        part.qty += qty
        order.qty -= qty
    return part


def _best_ex_row(symbol: str, venue: str, group: list[_Execution]) -> Row:
    sized = [order for order in group if order.qty is not None]
    ordered = sum(order.qty or 0 for order in sized)
    filled = sum(min(order.executed, order.qty or 0) for order in sized)
    quoted = [order for order in group if order.quoted]
    weight = sum(order.quoted_qty for order in quoted)
    improvement = sum(order.improvement for order in quoted)
    spread = sum(order.spread for order in quoted)
    to_first = [order.first_ns - order.arrived for order in group if order.first_ns is not None]
    to_complete = [order.complete_ns - order.arrived for order in sized if order.complete_ns is not None]
    first, complete = median_ns(to_first), median_ns(to_complete)
    return (
        symbol,
        venue or None,
        len(group),
        len(quoted),
        fixed.format(ordered),
        fixed.format(filled),
        fixed.format(ratio(filled * fixed.SCALE, ordered)) if ordered else None,
        len(to_first),
        len(to_complete),
        fixed.format(weight),
        fixed.format(ratio(improvement, weight)) if weight else None,
        fixed.format(ratio(spread, weight)) if weight else None,
        None if first is None else fixed.format(first),  # ns at SCALE 10^9 are seconds
        None if complete is None else fixed.format(complete),
    )


# --- admin actions -----------------------------------------------------------------------------------

ADMIN_COLUMNS = ("time", "time_ns", "event_id", "event", "user", "key_id", "address", "command", "args", "gateway", "conn", "outcome", "text")
ADMIN_KINDS = frozenset({AuditKind.ADMIN_COMMAND.value, AuditKind.LOGIN.value})


def admin_actions(records: Iterable[Record], zone: str) -> Iterator[Row]:
    """One row per ``admin_command`` and ``login`` record, in the records' order: who (user,
    key, address), what (the command and its arguments as typed, shell-quoted; or the gateway
    and connection logged in to) and the outcome (``ok`` or the refusal's code, with its text)."""
    for record in records:
        if record.kind not in ADMIN_KINDS:
            continue
        body = _body(record)
        head = (local_time(record.time_ns, zone), record.time_ns, event_id(record))
        if isinstance(body, AdminCommand):
            yield (*head, "admin_command", body.user, body.key_id, body.address, body.command, _shell_words(body.args), None, None, body.outcome, body.text or None)
        else:
            assert isinstance(body, Login)
            yield (*head, "login", body.user, body.key_id, body.address, None, None, body.gateway, body.conn, body.outcome, body.reason or None)


def _shell_words(args: list[str]) -> str:
    return shlex.join(args)


# --- the reports by name -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportSpec:
    """One report: its columns, the record kinds it reads (the reader skips the others before
    the merge), how it is built, and whether it covers one day (``DATE``) or a range."""

    name: str
    columns: tuple[str, ...]
    kinds: frozenset[str]
    build: Callable[[Iterable[Record], str], Iterable[Row]]
    one_day: bool


REPORTS: dict[str, ReportSpec] = {
    spec.name: spec
    for spec in (
        ReportSpec("trades", TRADES_COLUMNS, TRADES_KINDS, trades, True),
        ReportSpec("cat", CAT_COLUMNS, CAT_KINDS, cat, True),
        ReportSpec("best-ex", BEST_EX_COLUMNS, BEST_EX_KINDS, best_ex, False),
        ReportSpec("admin-actions", ADMIN_COLUMNS, ADMIN_KINDS, admin_actions, False),
    )
}
