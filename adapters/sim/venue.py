"""The simulated market maker: a seeded, pure venue behind the ``VenueAdapter`` interface.

Per symbol the market maker keeps a mid price that takes a random walk, one step every
``quote_interval_ms`` (a *tick*), and shows a two-sided quote around it with random
sizes. Child orders trade against that quote only — there is no book of other clients —
at the quote's price, never through a limit, never more than the displayed size, which
fills of one tick consume and the next tick refreshes. Quotes keep coming in every
session state; orders are taken and filled only while the session is open.

A notional order (``notional`` instead of ``qty``) buys or sells whole increments whose
exact value fits in the cash it has left. It is done when, at the price of its latest
fill, not one more increment fits (or ``qty_cap`` is reached); until then it keeps
working, and if the price moves so that nothing fits it waits like a limit would.

Guarantees:

* **Pure.** No clock, no global random source, no I/O: time comes in as ``now`` (ns),
  randomness from one ``random.Random(f"{seed}:{symbol}")`` per symbol. The same calls
  with the same arguments give the same events and the same ``state_hash()``.
* **Exact.** Every number is a fixed-point ``int`` (``model.fixed``); no float is used.
* **Never overfills.** A qty order never trades more than ``qty`` (nor ``qty_cap``); a
  notional order's exact fill value ``Σ qty × price × multiplier`` never exceeds its
  notional; a limit never trades through its price.
* **Ordered.** Events come back in the order they happened; resting orders are matched
  in time priority (an order loses priority when a replace raises its qty or moves its
  price). Bad input is rejected with a reason and leaves the state untouched.
"""

from __future__ import annotations

import hashlib
import random
from enum import StrEnum

import msgspec

from adapters.base import VenueEvent
from model import fixed
from model.config import SimSection
from model.enums import AssetClass, OrderType, Reason, SessionState, Side, TimeInForce, VenueEventKind
from model.instruments import Instrument
from model.messages import VenueNewOrder, VenueQuote, VenueReplace, VenueReport, VenueSessionChanged

NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000
BASIS_POINTS = 10_000

# Model constants of the simulator itself (not venue rules, so not in conf/):
MID_FLOOR_TICKS = 10  # the random walk never takes the mid below ten ticks
MAX_CATCH_UP_TICKS = 10  # after a long pause advance() runs at most this many ticks, skips the rest


class SimReason(StrEnum):
    """Reasons only this venue gives; the shared ones are ``model.enums.Reason``."""

    UNKNOWN_SYMBOL = "unknown_symbol"
    DUPLICATE_CHILD_ID = "duplicate_child_id"
    INVALID_QUANTITY = "invalid_quantity"  # not exactly one of qty / notional, or not > 0
    QTY_NOT_ON_INCREMENT = "qty_not_on_increment"
    INVALID_QTY_CAP = "invalid_qty_cap"  # not > 0 or not a multiple of the increment
    INVALID_PRICE = "invalid_price"  # limit without a price, market with one, or not > 0
    PRICE_NOT_ON_TICK = "price_not_on_tick"
    NOTIONAL_TOO_SMALL = "notional_too_small"
    QTY_NOT_ABOVE_FILLED = "qty_not_above_filled"


class _Child(msgspec.Struct, array_like=True):
    """A working child order. ``value_raw`` is Σ qty × price × multiplier of its fills (10^-18)."""

    child_id: str
    symbol: str
    side: Side
    order_type: OrderType
    tif: TimeInForce
    qty: int | None
    notional: int | None
    price: int | None
    qty_cap: int | None
    cum_qty: int = 0
    value_raw: int = 0


class _Book(msgspec.Struct, array_like=True):
    """The market maker's current quote in one symbol; sizes shrink as fills consume them."""

    mid: int
    bid: int = 0
    ask: int = 0
    bid_size: int = 0
    ask_size: int = 0


class _State(msgspec.Struct, array_like=True):
    """Everything ``state_hash`` covers, in a canonical order."""

    name: str
    started: bool
    session: SessionState
    next_tick: int | None
    close_at: int | None
    books: list[tuple[str, _Book]]
    random_states: list[tuple[str, object]]
    orders: list[_Child]
    queues: list[tuple[str, list[str]]]
    seen: list[str]


class SimVenue:
    """A market maker quoting every symbol it trades (every instrument but mutual funds, unless
    ``symbols`` names them); implements ``adapters.base.VenueAdapter``.

    Each method takes ``now`` and returns the events it caused, in order. ``start`` must
    be called once before anything else trades; until then the session is ``closed``.
    """

    def __init__(
        self,
        name: str,
        instruments: list[Instrument],
        config: SimSection,
        symbols: list[str] | None = None,
    ) -> None:
        if config.quote_interval_ms <= 0:
            raise ValueError("sim: quote_interval_ms must be positive")
        by_symbol = {instrument.symbol: instrument for instrument in instruments}
        # A mutual fund fills only at the NAV the operator strikes: no market maker quotes it.
        funds = {symbol for symbol, instrument in by_symbol.items() if instrument.asset_class is AssetClass.MUTUAL_FUND}
        chosen = [symbol for symbol in by_symbol if symbol not in funds] if symbols is None else symbols
        unknown = [symbol for symbol in chosen if symbol not in by_symbol]
        if unknown:
            raise ValueError(f"sim {name}: no reference data for {unknown}")
        if funds.intersection(chosen):
            raise ValueError(f"sim {name}: {sorted(funds.intersection(chosen))} are mutual funds, traded only at their NAV")
        self.name = name
        self._config = config
        self._interval = config.quote_interval_ms * NS_PER_MS
        self._instruments = {symbol: by_symbol[symbol] for symbol in chosen}
        self._random = {symbol: random.Random(f"{config.seed}:{symbol}") for symbol in chosen}
        self._books = {symbol: _Book(mid=_starting_mid(by_symbol[symbol])) for symbol in chosen}
        self._queues: dict[str, dict[str, None]] = {symbol: {} for symbol in chosen}
        self._orders: dict[str, _Child] = {}  # working orders, in time priority
        self._seen: set[str] = set()  # every child id ever accepted
        self._started = False
        self._session = SessionState.CLOSED
        self._next_tick: int | None = None
        self._close_at: int | None = None

    # --- the VenueAdapter interface ---------------------------------------------------------

    def start(self, now: int) -> list[VenueEvent]:
        """Enter ``config.start_state``, show the first quotes, schedule ticks from ``now``."""
        if self._started:
            raise RuntimeError(f"sim {self.name}: already started")
        self._started = True
        self._next_tick = now + self._interval
        events: list[VenueEvent] = [self._enter_session(self._config.start_state, now)]
        for symbol in self._books:
            self._draw_sizes(symbol)
            events.append(self._quote(symbol, now))
        return events

    def next_wakeup(self) -> int | None:
        """The next tick or scheduled close (ns), ``None`` before ``start``."""
        if self._next_tick is None:
            return self._close_at
        if self._close_at is None:
            return self._next_tick
        return min(self._next_tick, self._close_at)

    def advance(self, now: int) -> list[VenueEvent]:
        """Run every tick and the session close due by ``now``, in time order (a tick at the
        very moment of the close runs first). After a pause longer than
        ``MAX_CATCH_UP_TICKS`` ticks only the latest ones run; the others are skipped."""
        events: list[VenueEvent] = []
        self._skip_stale_ticks(now)
        while True:
            due = self.next_wakeup()
            if due is None or due > now:
                return events
            if self._next_tick == due:
                self._next_tick = due + self._interval
                events.extend(self._tick(now))
            else:
                events.extend(self.set_session(SessionState.CLOSED, now))

    def submit(self, order: VenueNewOrder, now: int) -> list[VenueEvent]:
        """``accepted`` then any immediate trade, then the IOC/FOK cancel if one is due; or
        one ``rejected`` with a reason and no change of state."""
        reason = self._rejection(order)
        if reason is not None:
            return [self._report(order.child_id, VenueEventKind.REJECTED, now, reason=reason)]
        child = _Child(
            child_id=order.child_id,
            symbol=order.spec.symbol,
            side=order.spec.side,
            order_type=order.spec.order_type,
            tif=order.spec.tif,
            qty=order.spec.qty,
            notional=order.spec.notional,
            price=order.spec.price,
            qty_cap=order.qty_cap,
        )
        self._seen.add(child.child_id)
        events: list[VenueEvent] = [self._report(child.child_id, VenueEventKind.ACCEPTED, now)]
        events.extend(self._on_arrival(child, now))
        return events

    def cancel(self, child_id: str, now: int) -> list[VenueEvent]:
        """``canceled`` for a working order; ``cancel_rejected`` (too late) for any other id."""
        if child_id not in self._orders:
            return [self._report(child_id, VenueEventKind.CANCEL_REJECTED, now, reason=Reason.TOO_LATE_TO_CANCEL.value)]
        self._retire(child_id)
        return [self._report(child_id, VenueEventKind.CANCELED, now, reason=Reason.USER_CANCELED.value)]

    def cancel_all(self, symbols: list[str], now: int) -> list[VenueEvent]:
        """The venue's own cancel-all: ``canceled`` for every working order in ``symbols``,
        in time priority."""
        wanted = set(symbols)
        events: list[VenueEvent] = []
        for child_id in [c.child_id for c in self._orders.values() if c.symbol in wanted]:
            self._retire(child_id)
            events.append(self._report(child_id, VenueEventKind.CANCELED, now, reason=Reason.USER_CANCELED.value))
        return events

    def replace(self, request: VenueReplace, now: int) -> list[VenueEvent]:
        """``replaced`` and then a trade if the order has become marketable, or one
        ``replace_rejected`` with a reason and no change. Only qty orders can be replaced."""
        child = self._orders.get(request.child_id)
        if child is None:
            return [self._replace_rejected(request, now, Reason.TOO_LATE_TO_CANCEL.value)]
        reason = self._replace_problem(child, request)
        if reason is not None:
            return [self._replace_rejected(request, now, reason)]
        if _loses_priority(child, request):
            self._requeue(child)
        child.qty, child.price = request.qty, request.price
        events: list[VenueEvent] = [self._report(child.child_id, VenueEventKind.REPLACED, now)]
        if self._session is SessionState.OPEN:
            events.extend(self._fill_resting(child, now))
        return events

    def set_session(self, state: SessionState, now: int) -> list[VenueEvent]:
        """Move the session: ``session_changed`` and, on ``closed``, every working DAY order
        ``expired`` (in time priority; GTC orders stay). No events if already in ``state``."""
        if not self._started:
            raise RuntimeError(f"sim {self.name}: set_session before start")
        if state is self._session:
            return []
        events: list[VenueEvent] = [self._enter_session(state, now)]
        if state is SessionState.CLOSED:
            events.extend(self._expire_day_orders(now))
        return events

    @property
    def session(self) -> SessionState:
        return self._session

    def open_orders(self) -> list[str]:
        """Child ids still working, in time priority."""
        return list(self._orders)

    # --- state ------------------------------------------------------------------------------

    def state_hash(self) -> str:
        """SHA-256 of a canonical encoding of the whole state (orders, quotes, random
        generators, schedule). Equal states give equal hashes in any process. JSON, not
        msgpack, because fill values at 10^-18 outgrow msgpack's 64-bit integers."""
        state = _State(
            name=self.name,
            started=self._started,
            session=self._session,
            next_tick=self._next_tick,
            close_at=self._close_at,
            books=list(self._books.items()),
            random_states=[(symbol, generator.getstate()) for symbol, generator in self._random.items()],
            orders=list(self._orders.values()),
            queues=[(symbol, list(queue)) for symbol, queue in self._queues.items()],
            seen=sorted(self._seen),
        )
        return hashlib.sha256(msgspec.json.encode(state)).hexdigest()

    def check_invariants(self) -> None:
        """Raise ``AssertionError`` if the state breaks a guarantee (used by tests)."""
        queued = [child_id for queue in self._queues.values() for child_id in queue]
        if sorted(queued) != sorted(self._orders):
            raise AssertionError("queues and working orders disagree")
        for child in self._orders.values():
            instrument = self._instruments[child.symbol]
            limits = [limit for limit in (child.qty, child.qty_cap) if limit is not None]
            if any(child.cum_qty > limit for limit in limits) or child.cum_qty % instrument.qty_increment:
                raise AssertionError(f"{child.child_id}: cum_qty {child.cum_qty} out of bounds")
            if child.notional is not None and child.value_raw > child.notional * fixed.SCALE:
                raise AssertionError(f"{child.child_id}: fills worth more than the notional")
        for symbol, book in self._books.items():
            tick = self._instruments[symbol].tick_size
            if book.bid_size < 0 or book.ask_size < 0 or book.mid < MID_FLOOR_TICKS * tick:
                raise AssertionError(f"{symbol}: bad quote {book}")
            if self._started and not 0 < book.bid < book.ask:
                raise AssertionError(f"{symbol}: crossed or empty quote {book}")

    # --- validation ---------------------------------------------------------------------------

    def _rejection(self, order: VenueNewOrder) -> str | None:
        """Why ``order`` cannot be accepted, or ``None``."""
        instrument = self._instruments.get(order.spec.symbol)
        if order.child_id in self._seen:
            return SimReason.DUPLICATE_CHILD_ID.value
        if instrument is None:
            return SimReason.UNKNOWN_SYMBOL.value
        if self._session is not SessionState.OPEN:
            return Reason.MARKET_CLOSED.value
        if order.spec.order_type not in (OrderType.MARKET, OrderType.LIMIT) or order.spec.tif is TimeInForce.OPG:
            return Reason.UNSUPPORTED.value
        problem = _quantity_problem(order.spec.qty, order.spec.notional, order.qty_cap, instrument)
        problem = problem or _price_problem(order.spec.order_type, order.spec.price, instrument)
        if problem is None and order.spec.notional is not None and not self._buys_an_increment(order, order.spec.notional):
            problem = SimReason.NOTIONAL_TOO_SMALL.value
        return problem

    def _buys_an_increment(self, order: VenueNewOrder, notional: int) -> bool:
        """Whether ``notional`` covers one increment at the price the order would trade at
        now: the quote if it is marketable, else its limit."""
        instrument = self._instruments[order.spec.symbol]
        price = self._quote_price(order.spec.symbol, order.spec.side)
        if order.spec.price is not None and not _crosses(order.spec.side, order.spec.price, price):
            price = order.spec.price
        return fixed.qty_for_cash(notional, price, instrument.qty_increment, instrument.multiplier) > 0

    def _replace_problem(self, child: _Child, request: VenueReplace) -> str | None:
        instrument = self._instruments[child.symbol]
        if child.qty is None:
            return Reason.UNSUPPORTED.value
        if request.qty <= 0:
            return SimReason.INVALID_QUANTITY.value
        if not fixed.is_multiple(request.qty, instrument.qty_increment):
            return SimReason.QTY_NOT_ON_INCREMENT.value
        if request.qty <= child.cum_qty:
            return SimReason.QTY_NOT_ABOVE_FILLED.value
        return _price_problem(child.order_type, request.price, instrument)

    def _replace_rejected(self, request: VenueReplace, now: int, reason: str) -> VenueReport:
        return self._report(request.child_id, VenueEventKind.REPLACE_REJECTED, now, reason=reason)

    # --- matching -----------------------------------------------------------------------------

    def _on_arrival(self, child: _Child, now: int) -> list[VenueEvent]:
        """Trade an accepted order against the quote; rest it, or cancel an IOC/FOK remainder."""
        if child.tif is TimeInForce.FOK and not self._fills_completely(child):
            return [self._report(child.child_id, VenueEventKind.CANCELED, now, reason=Reason.FOK_NOT_FILLED.value)]
        events: list[VenueEvent] = []
        trade = self._trade(child, now)
        if trade is not None:
            events.append(trade)
            if trade.done:
                return events
        if child.tif in (TimeInForce.IOC, TimeInForce.FOK):
            events.append(self._report(child.child_id, VenueEventKind.CANCELED, now, reason=Reason.IOC_REMAINDER.value))
        else:
            self._orders[child.child_id] = child
            self._queues[child.symbol][child.child_id] = None
        return events

    def _fill_resting(self, child: _Child, now: int) -> list[VenueEvent]:
        """Trade a working order against the current quote; retire it when it is done."""
        trade = self._trade(child, now)
        if trade is None:
            return []
        if trade.done:
            self._retire(child.child_id)
        return [trade]

    def _trade(self, child: _Child, now: int) -> VenueReport | None:
        """Fill as much of ``child`` as the quote allows; the trade report, or ``None``."""
        qty, price = self._fillable(child)
        if qty == 0:
            return None
        instrument = self._instruments[child.symbol]
        book = self._books[child.symbol]
        if child.side is Side.BUY:
            book.ask_size -= qty
        else:
            book.bid_size -= qty
        child.cum_qty += qty
        child.value_raw += fixed.raw_value(qty, price, instrument.multiplier)
        done = self._room(child, price) == 0
        return self._report(child.child_id, VenueEventKind.TRADE, now, last_qty=qty, last_price=price, done=done)

    def _fillable(self, child: _Child) -> tuple[int, int]:
        """``(qty, price)`` that ``child`` can trade now: at the quote, within its limit,
        the displayed size (in whole increments) and what it has left."""
        price = self._quote_price(child.symbol, child.side)
        if not _crosses(child.side, child.price, price):
            return 0, price
        book = self._books[child.symbol]
        displayed = book.ask_size if child.side is Side.BUY else book.bid_size
        increment = self._instruments[child.symbol].qty_increment
        return min(self._room(child, price), fixed.floor_to(displayed, increment)), price

    def _fills_completely(self, child: _Child) -> bool:
        """Whether one trade now would leave nothing of ``child`` to execute (for FOK)."""
        qty, price = self._fillable(child)
        return qty > 0 and qty == self._room(child, price)

    def _room(self, child: _Child, price: int) -> int:
        """How much more ``child`` may trade at ``price``: what is left of ``qty`` and of
        ``qty_cap``, and for a notional order the whole increments its remaining cash buys
        at ``price`` — whichever is least. Zero means the order is done."""
        limits = [limit - child.cum_qty for limit in (child.qty, child.qty_cap) if limit is not None]
        if child.notional is not None:
            instrument = self._instruments[child.symbol]
            cash = (child.notional * fixed.SCALE - child.value_raw) // fixed.SCALE
            limits.append(fixed.qty_for_cash(cash, price, instrument.qty_increment, instrument.multiplier))
        return min(limits)

    def _quote_price(self, symbol: str, side: Side) -> int:
        book = self._books[symbol]
        return book.ask if side is Side.BUY else book.bid

    # --- time ---------------------------------------------------------------------------------

    def _skip_stale_ticks(self, now: int) -> None:
        if self._next_tick is None or self._next_tick > now:
            return
        due = (now - self._next_tick) // self._interval + 1
        if due > MAX_CATCH_UP_TICKS:
            self._next_tick += (due - MAX_CATCH_UP_TICKS) * self._interval

    def _tick(self, now: int) -> list[VenueEvent]:
        """New quotes for every symbol, then (when open) resting orders in time priority."""
        events: list[VenueEvent] = []
        for symbol in self._books:
            self._move_mid(symbol)
            self._draw_sizes(symbol)
            events.append(self._quote(symbol, now))
        if self._session is SessionState.OPEN:
            for queue in self._queues.values():
                for child_id in list(queue):
                    events.extend(self._fill_resting(self._orders[child_id], now))
        return events

    def _move_mid(self, symbol: str) -> None:
        """One random-walk step of ±volatility_bps (whole bps, rounded to the tick), floored."""
        instrument = self._instruments[symbol]
        book = self._books[symbol]
        volatility = self._config.volatility_bps
        step_bps = self._random[symbol].randint(-volatility, volatility)
        step = _round_to_tick(book.mid * step_bps, BASIS_POINTS, instrument.tick_size)
        book.mid = max(book.mid + step, MID_FLOOR_TICKS * instrument.tick_size)

    def _draw_sizes(self, symbol: str) -> None:
        """Quote around the mid with half-spread ≥ one tick; sizes in whole units drawn from
        [quote_size/2, 3·quote_size/2]."""
        tick = self._instruments[symbol].tick_size
        book = self._books[symbol]
        half_spread = max(tick, _round_to_tick(book.mid * self._config.spread_bps, 2 * BASIS_POINTS, tick))
        book.bid = max(tick, book.mid - half_spread)
        book.ask = book.mid + half_spread
        low = max(1, self._config.quote_size // 2)
        high = max(low, 3 * self._config.quote_size // 2)
        generator = self._random[symbol]
        book.bid_size = generator.randint(low, high) * fixed.SCALE
        book.ask_size = generator.randint(low, high) * fixed.SCALE

    def _enter_session(self, state: SessionState, now: int) -> VenueSessionChanged:
        """Set the state; an open session closes by itself after ``session_length_s`` (if > 0)."""
        self._session = state
        length = self._config.session_length_s
        self._close_at = now + length * NS_PER_S if state is SessionState.OPEN and length > 0 else None
        return VenueSessionChanged(venue=self.name, state=state, ts=now)

    def _expire_day_orders(self, now: int) -> list[VenueEvent]:
        expiring = [child_id for child_id, child in self._orders.items() if child.tif is TimeInForce.DAY]
        for child_id in expiring:
            self._retire(child_id)
        return [
            self._report(child_id, VenueEventKind.EXPIRED, now, reason=Reason.END_OF_DAY.value)
            for child_id in expiring
        ]

    # --- bookkeeping --------------------------------------------------------------------------

    def _retire(self, child_id: str) -> None:
        child = self._orders.pop(child_id)
        del self._queues[child.symbol][child_id]

    def _requeue(self, child: _Child) -> None:
        """Send ``child`` to the back of the time priority."""
        self._retire(child.child_id)
        self._orders[child.child_id] = child
        self._queues[child.symbol][child.child_id] = None

    def _quote(self, symbol: str, now: int) -> VenueQuote:
        book = self._books[symbol]
        return VenueQuote(
            venue=self.name,
            symbol=symbol,
            bid=book.bid,
            bid_size=book.bid_size,
            ask=book.ask,
            ask_size=book.ask_size,
            ts=now,
        )

    def _report(
        self,
        child_id: str,
        kind: VenueEventKind,
        now: int,
        *,
        reason: str | None = None,
        last_qty: int = 0,
        last_price: int | None = None,
        done: bool = False,
    ) -> VenueReport:
        return VenueReport(
            venue=self.name,
            child_id=child_id,
            kind=kind,
            last_qty=last_qty,
            last_price=last_price,
            reason=reason,
            ts=now,
            done=done,
        )


def _starting_mid(instrument: Instrument) -> int:
    """The reference price, snapped to the tick and kept above the floor."""
    tick = instrument.tick_size
    return max(fixed.floor_to(instrument.reference_price, tick), MID_FLOOR_TICKS * tick)


def _round_to_tick(numerator: int, denominator: int, tick: int) -> int:
    """``numerator / denominator`` rounded to the nearest multiple of ``tick``, halves away from zero."""
    unit = denominator * tick
    ticks = (2 * abs(numerator) + unit) // (2 * unit)
    return ticks * tick if numerator >= 0 else -ticks * tick


def _loses_priority(child: _Child, request: VenueReplace) -> bool:
    """A replace that raises the qty or moves the price goes to the back of the queue."""
    return child.qty is None or request.qty > child.qty or request.price != child.price


def _crosses(side: Side, limit: int | None, quote_price: int) -> bool:
    """Whether an order with ``limit`` (``None``: market) may trade at ``quote_price``."""
    if limit is None:
        return True
    return quote_price <= limit if side is Side.BUY else quote_price >= limit


def _quantity_problem(qty: int | None, notional: int | None, qty_cap: int | None, instrument: Instrument) -> str | None:
    if (qty is None) == (notional is None):
        return SimReason.INVALID_QUANTITY.value
    if (qty is not None and qty <= 0) or (notional is not None and notional <= 0):
        return SimReason.INVALID_QUANTITY.value
    if qty is not None and not fixed.is_multiple(qty, instrument.qty_increment):
        return SimReason.QTY_NOT_ON_INCREMENT.value
    if qty_cap is not None and not (qty_cap > 0 and fixed.is_multiple(qty_cap, instrument.qty_increment)):
        return SimReason.INVALID_QTY_CAP.value
    return None


def _price_problem(order_type: OrderType, price: int | None, instrument: Instrument) -> str | None:
    if (price is None) == (order_type is OrderType.LIMIT) or (price is not None and price <= 0):
        return SimReason.INVALID_PRICE.value
    if price is not None and not fixed.is_multiple(price, instrument.tick_size):
        return SimReason.PRICE_NOT_ON_TICK.value
    return None
