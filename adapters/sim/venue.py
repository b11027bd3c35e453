"""The simulated market maker: a seeded, pure venue behind the ``VenueAdapter`` interface.

Per symbol the market maker keeps a mid price that takes a random walk, one step every
``quote_interval_ms`` (a *tick*), and shows a two-sided quote around it with random
sizes. Child orders trade against that quote only — there is no book of other clients —
at the quote's price, never through a limit, never more than the displayed size, which
fills of one tick consume and the next tick refreshes. Quotes keep coming in every
session state; orders are taken and filled only while the session is open.

The quote model is ``adapters/sim/quotes.py`` (shared with the FIX market-maker simulator);
what a child order is, what is refused and how much one may trade, ``adapters/sim/orders.py``.

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

import msgspec

from adapters.base import VenueEvent, WithoutWire
from adapters.sim.orders import Child, SimReason, loses_priority, order_problem, replace_problem, room
from adapters.sim.snapshot import SimSnapshot as SimSnapshot  # re-exported: the factory and format 2 import it from here
from adapters.sim.snapshot import SimState as SimState
from adapters.sim.quotes import MID_FLOOR_TICKS, Book, catch_up, crosses, draw_quote, next_quote, random_walk, starting_mid
from model import fixed
from model.config import SimSection, VenueSection
from model.enums import AssetClass, Reason, SessionState, TimeInForce, VenueEventKind
from model.instruments import Instrument
from model.messages import VenueNewOrder, VenueQuote, VenueReplace, VenueReport, VenueSessionChanged

NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000


# members read on every order, bound once: on Python 3.11 reading one off its enum class is
# several times slower than a global (model/enums.py)
_OPEN = SessionState.OPEN
_IOC, _FOK = TimeInForce.IOC, TimeInForce.FOK
_REJECTED, _ACCEPTED, _CANCELED, _TRADE = VenueEventKind.REJECTED, VenueEventKind.ACCEPTED, VenueEventKind.CANCELED, VenueEventKind.TRADE
_IOC_REMAINDER = Reason.IOC_REMAINDER.value

class SimVenue(WithoutWire):
    """A market maker quoting every symbol it trades (every instrument but mutual funds, unless
    ``symbols`` names them); implements ``adapters.base.VenueAdapter``. It has no wire
    session: the wire hooks are ``WithoutWire``'s.

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
        self._random = {symbol: random_walk(config.seed, symbol) for symbol in chosen}
        self._books = {symbol: Book(mid=starting_mid(by_symbol[symbol].reference_price, by_symbol[symbol].tick_size)) for symbol in chosen}
        self._queues: dict[str, dict[str, None]] = {symbol: {} for symbol in chosen}
        self._orders: dict[str, Child] = {}  # working orders, in time priority
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
        for symbol, book in self._books.items():
            draw_quote(book, self._random[symbol], self._instruments[symbol].tick_size, self._config)
            events.append(self._quote(symbol, book, now))
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
        ``quotes.MAX_CATCH_UP_TICKS`` ticks only the latest ones run; the others are skipped."""
        events: list[VenueEvent] = []
        if self._next_tick is not None:
            self._next_tick = catch_up(self._next_tick, now, self._interval)
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
        child = Child.of(order)
        reason = self._rejection(child)
        if reason is not None:
            return [self._report(child.child_id, _REJECTED, now, reason=reason)]
        self._seen.add(child.child_id)
        events: list[VenueEvent] = [self._report(child.child_id, _ACCEPTED, now)]
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
        for child_id in [c.child_id for c in self._orders.values() if c.spec.symbol in wanted]:
            self._retire(child_id)
            events.append(self._report(child_id, VenueEventKind.CANCELED, now, reason=Reason.USER_CANCELED.value))
        return events

    def replace(self, request: VenueReplace, now: int) -> list[VenueEvent]:
        """``replaced`` and then a trade if the order has become marketable, or one
        ``replace_rejected`` with a reason and no change. Only qty orders can be replaced."""
        child = self._orders.get(request.child_id)
        if child is None:
            return [self._replace_rejected(request, now, Reason.TOO_LATE_TO_CANCEL.value)]
        reason = replace_problem(child, request, self._instruments[child.spec.symbol])
        if reason is not None:
            return [self._replace_rejected(request, now, reason)]
        if loses_priority(child, request):
            self._requeue(child)
        child.replaced(request.qty, request.price)
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

    def configure(self, venue: VenueSection) -> None:
        """Nothing to take: the sim venue's options are ``[sim]``, whose seed, interval and
        quote shape made the state replay rebuilds, so it keeps the ones it was built with."""

    @property
    def anomalies(self) -> list[str]:
        """Always empty: every bad request gets a reject report, nothing is refused silently."""
        return []

    # --- state ------------------------------------------------------------------------------

    def state_hash(self) -> str:
        """SHA-256 of a canonical encoding of the whole state (orders, quotes, random
        generators, schedule). Equal states give equal hashes in any process."""
        return hashlib.sha256(msgspec.json.encode(self._state())).hexdigest()

    def _state(self) -> SimState:
        return SimState(
            name=self.name,
            started=self._started,
            session=self._session,
            next_tick=self._next_tick,
            close_at=self._close_at,
            books=list(self._books.items()),
            random_states=[(symbol, generator.getstate()) for symbol, generator in self._random.items()],
            orders=list(self._orders.values()),
            seen=sorted(self._seen),
        )

    def snapshot(self) -> SimSnapshot:
        return SimSnapshot(self._config, list(self._instruments.values()), self._state())

    @classmethod
    def restore(cls, snapshot: SimSnapshot) -> SimVenue:
        """The venue ``snapshot`` described, its queues rebuilt from the working orders."""
        state = snapshot.state
        venue = cls(state.name, snapshot.instruments, snapshot.config)
        for symbol, random_state in state.random_states:
            venue._random[symbol].setstate(random_state)
        venue._books = dict(state.books)
        for child in state.orders:
            venue._orders[child.child_id] = child
            venue._queues[child.spec.symbol][child.child_id] = None
        venue._seen = set(state.seen)
        venue._started, venue._session, venue._next_tick, venue._close_at = state.started, state.session, state.next_tick, state.close_at
        return venue

    def check_invariants(self) -> None:
        """Raise ``AssertionError`` if the state breaks a guarantee (used by tests)."""
        queued = [child_id for queue in self._queues.values() for child_id in queue]
        if sorted(queued) != sorted(self._orders):
            raise AssertionError("queues and working orders disagree")
        for child in self._orders.values():
            instrument = self._instruments[child.spec.symbol]
            limits = [limit for limit in (child.spec.qty, child.qty_cap) if limit is not None]
            if any(child.cum_qty > limit for limit in limits) or child.cum_qty % instrument.qty_increment:
                raise AssertionError(f"{child.child_id}: cum_qty {child.cum_qty} out of bounds")
            if child.spec.notional is not None and child.value_raw > child.spec.notional * fixed.SCALE:
                raise AssertionError(f"{child.child_id}: fills worth more than the notional")
        for symbol, book in self._books.items():
            tick = self._instruments[symbol].tick_size
            if book.bid_size < 0 or book.ask_size < 0 or book.mid < MID_FLOOR_TICKS * tick:
                raise AssertionError(f"{symbol}: bad quote {book}")
            if self._started and not 0 < book.bid < book.ask:
                raise AssertionError(f"{symbol}: crossed or empty quote {book}")

    # --- validation ---------------------------------------------------------------------------

    def _rejection(self, child: Child) -> str | None:
        """Why ``child`` cannot be accepted, or ``None``."""
        instrument = self._instruments.get(child.spec.symbol)
        if child.child_id in self._seen:
            return SimReason.DUPLICATE_CHILD_ID.value
        if instrument is None:
            return SimReason.UNKNOWN_SYMBOL.value
        if self._session is not _OPEN:
            return Reason.MARKET_CLOSED.value
        problem = order_problem(child, instrument)
        if problem is None and child.spec.notional is not None and not self._buys_an_increment(child, child.spec.notional):
            problem = SimReason.NOTIONAL_TOO_SMALL.value
        return problem

    def _buys_an_increment(self, child: Child, notional: int) -> bool:
        """Whether ``notional`` covers one increment at the price the order would trade at
        now: the quote if it is marketable, else its limit."""
        spec = child.spec
        instrument = self._instruments[spec.symbol]
        price = self._books[spec.symbol].price_for(spec.side)
        if spec.price is not None and not crosses(spec.side, spec.price, price):
            price = spec.price
        return fixed.qty_for_cash(notional, price, instrument.qty_increment, instrument.multiplier) > 0

    def _replace_rejected(self, request: VenueReplace, now: int, reason: str) -> VenueReport:
        return self._report(request.child_id, VenueEventKind.REPLACE_REJECTED, now, reason=reason)

    # --- matching -----------------------------------------------------------------------------

    def _on_arrival(self, child: Child, now: int) -> list[VenueEvent]:
        """Trade an accepted order against the quote; rest it, or cancel an IOC/FOK remainder."""
        tif = child.spec.tif
        if tif is _FOK and not self._fills_completely(child):
            return [self._report(child.child_id, VenueEventKind.CANCELED, now, reason=Reason.FOK_NOT_FILLED.value)]
        events: list[VenueEvent] = []
        trade = self._trade(child, now)
        if trade is not None:
            events.append(trade)
            if trade.done:
                return events
        if tif is _IOC or tif is _FOK:
            events.append(self._report(child.child_id, _CANCELED, now, reason=_IOC_REMAINDER))
        else:
            self._orders[child.child_id] = child
            self._queues[child.spec.symbol][child.child_id] = None
        return events

    def _fill_resting(self, child: Child, now: int) -> list[VenueEvent]:
        """Trade a working order against the current quote; retire it when it is done."""
        trade = self._trade(child, now)
        if trade is None:
            return []
        if trade.done:
            self._retire(child.child_id)
        return [trade]

    def _trade(self, child: Child, now: int) -> VenueReport | None:
        """Fill as much of ``child`` as the quote allows; the trade report, or ``None``."""
        qty, price = self._fillable(child)
        if qty == 0:
            return None
        instrument = self._instruments[child.spec.symbol]
        self._books[child.spec.symbol].take(child.spec.side, qty)
        child.cum_qty += qty
        child.value_raw += fixed.raw_value(qty, price, instrument.multiplier)
        done = room(child, price, instrument) == 0
        return self._report(child.child_id, _TRADE, now, last_qty=qty, last_price=price, done=done)

    def _fillable(self, child: Child) -> tuple[int, int]:
        """``(qty, price)`` that ``child`` can trade now: at the quote, within its limit,
        the displayed size (in whole increments) and what it has left."""
        spec = child.spec
        book = self._books[spec.symbol]
        price = book.price_for(spec.side)
        if not crosses(spec.side, spec.price, price):
            return 0, price
        instrument = self._instruments[spec.symbol]
        return min(room(child, price, instrument), fixed.floor_to(book.size_for(spec.side), instrument.qty_increment)), price

    def _fills_completely(self, child: Child) -> bool:
        """Whether one trade now would leave nothing of ``child`` to execute (for FOK)."""
        qty, price = self._fillable(child)
        return qty > 0 and qty == room(child, price, self._instruments[child.spec.symbol])

    # --- time ---------------------------------------------------------------------------------

    def _tick(self, now: int) -> list[VenueEvent]:
        """New quotes for every symbol, then (when open) resting orders in time priority."""
        events: list[VenueEvent] = []
        generators, instruments, shape, quote = self._random, self._instruments, self._config, self._quote
        for symbol, book in self._books.items():  # every symbol, every tick (10,000 quotes a second in the benchmarks)
            next_quote(book, generators[symbol], instruments[symbol].tick_size, shape)
            events.append(quote(symbol, book, now))
        if self._session is SessionState.OPEN:
            for symbol, queue in self._queues.items():
                if queue:
                    events.extend(self._fill_queue(self._books[symbol], queue, now))
        return events

    def _fill_queue(self, book: Book, queue: dict[str, None], now: int) -> list[VenueEvent]:
        """One symbol's working orders traded against its new quote, in time priority.

        Guarantees: the same trades as ``_fill_resting`` on every order in turn. An order on
        a side whose displayed size is used up trades nothing (``_fillable``), so it is
        passed over without a look, and once both sides are used up the rest of the queue
        is: a tick's Python work is bounded by the orders that trade and those on a side
        still showing size, not by every order resting (a flood of marketable orders beyond
        the displayed size rests here). The queue's ids are still copied once a tick (in C),
        as an order that finishes leaves it."""
        events: list[VenueEvent] = []
        orders = self._orders
        for child_id in list(queue):
            child = orders[child_id]
            if not book.size_for(child.spec.side):
                if not book.bid_size and not book.ask_size:
                    break
                continue
            events.extend(self._fill_resting(child, now))
        return events

    def _enter_session(self, state: SessionState, now: int) -> VenueSessionChanged:
        """Set the state; an open session closes by itself after ``session_length_s`` (if > 0)."""
        self._session = state
        length = self._config.session_length_s
        self._close_at = now + length * NS_PER_S if state is SessionState.OPEN and length > 0 else None
        return VenueSessionChanged(venue=self.name, state=state, ts=now)

    def _expire_day_orders(self, now: int) -> list[VenueEvent]:
        expiring = [child_id for child_id, child in self._orders.items() if child.spec.tif is TimeInForce.DAY]
        for child_id in expiring:
            self._retire(child_id)
        return [
            self._report(child_id, VenueEventKind.EXPIRED, now, reason=Reason.END_OF_DAY.value)
            for child_id in expiring
        ]

    # --- bookkeeping --------------------------------------------------------------------------

    def _retire(self, child_id: str) -> None:
        child = self._orders.pop(child_id)
        del self._queues[child.spec.symbol][child_id]

    def _requeue(self, child: Child) -> None:
        """Send ``child`` to the back of the time priority."""
        self._retire(child.child_id)
        self._orders[child.child_id] = child
        self._queues[child.spec.symbol][child.child_id] = None

    def _quote(self, symbol: str, book: Book, now: int) -> VenueQuote:
        """``symbol``'s quote as ``book`` shows it (venue, symbol, bid, bid size, ask, ask size, time)."""
        return VenueQuote(self.name, symbol, book.bid, book.bid_size, book.ask, book.ask_size, now)

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

