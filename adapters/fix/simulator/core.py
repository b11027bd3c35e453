"""The FIX market maker's pure core: quotes and order handling, no sockets, no clock.

Per symbol the market maker keeps a mid price that takes a seeded random walk, one step
every ``quote_interval_ms`` (a *tick*), and quotes a bid and an offer around it with
random sizes. Every tick sends the quote to every logged-on session.

Orders are acknowledged at once (``new``) and filled ``latency_ms`` later, in up to
``fill_parts`` parts, one part every ``latency_ms``; each part trades at the quote of
that moment (the offer for a buy, the bid for a sell), so fills of one order may come at
several prices. A limit order fills only while the quote is at or better than its limit;
otherwise it rests and starts filling ``latency_ms`` after a tick moves the quote through
it. IOC and FOK orders are decided against the displayed size when their first part is
due: IOC fills what is shown and cancels the rest, FOK fills everything in one part or
cancels. A notional order (``cash``) buys or sells whole increments while the exact value
of its fills stays within its cash (floored to the cent): each part spends its share, the
last part all that is left.

Guarantees:

* **Pure.** Time arrives as ``now`` (ns) with every call; randomness comes from one
  ``random.Random(f"{seed}:{symbol}")`` per symbol. Same calls, same events, same
  ``state_hash()``.
* **Exact.** Prices and quantities are fixed-point ``int`` s; the fills of an order sum
  exactly to its quantity; a notional order's fills are worth at most its cash.
* **Once.** A ClOrdID is taken once per session: a PossDup/PossResend copy of one already
  seen is ignored, any other repeat is rejected without touching the original order.
* **Bad input** is rejected with a reason and changes nothing else.

With ``cancel_on_disconnect`` a session's working orders are canceled when it logs out
(the reports wait in the FIX store for its next logon); without it they keep working.
"""

from __future__ import annotations

import hashlib
import heapq
import random
from collections import deque

import msgspec

from adapters.fix.simulator.config import SimulatorSettings
from adapters.fix.simulator.messages import (
    CancelOrder,
    CancelRejected,
    CancelRejectReason,
    CancelRequestKind,
    Command,
    Event,
    ExecKind,
    ExecutionReport,
    MarketDataRejected,
    MarketDataRejectReason,
    MarketDataRequest,
    MarketDataSent,
    NewOrder,
    Problem,
    Quote,
    QuoteSent,
    RejectReason,
    ReplaceOrder,
    StatusRequest,
    Subscription,
)
from model import fixed
from model.enums import OrderStatus, OrderType, Side, TimeInForce

NS_PER_MS = 1_000_000
BASIS_POINTS = 10_000
PERCENT = 100
NO_ORDER_ID = "NONE"  # OrderID (37) is required even where there is no order
CANCELED_ON_DISCONNECT = "cancel on disconnect"

# Model constants of the simulator itself (not venue rules, so not in conf/):
MID_FLOOR_TICKS = 10  # the random walk never takes the mid below ten ticks
MAX_CATCH_UP_TICKS = 10  # after a long pause advance() runs at most this many ticks, skips the rest

_WORKING = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED})
_IMMEDIATE = frozenset({TimeInForce.IOC, TimeInForce.FOK})


class _Order(msgspec.Struct):
    """An order as the market maker keeps it, working or finished. ``value_raw`` is
    Σ qty × price of its fills at 10^-18; ``budget`` is a notional order's cash floored
    to the cent. A working order is either scheduled (``due`` set) or resting."""

    order_id: str
    session: str
    cl_ord_id: str
    orig_cl_ord_id: str | None
    symbol: str | None
    side: Side
    order_type: OrderType | None
    tif: TimeInForce | None
    qty: int | None
    cash: int | None
    budget: int | None
    price: int | None
    status: OrderStatus
    parts_left: int
    cum_qty: int = 0
    value_raw: int = 0
    fill_cap: int | None = None  # IOC/FOK: the most cum_qty may reach, set when the first part is due
    due: int | None = None
    token: int = 0  # of its live entry in the schedule; older entries are stale


class _Book(msgspec.Struct):
    mid: int
    bid: int = 0
    ask: int = 0
    bid_size: int = 0
    ask_size: int = 0
    seq: int = 0


class MarketMaker:
    """Quotes ``settings.symbols`` and fills the orders it is sent; see the module text.

    Every method takes ``now`` (ns since the epoch) where time matters and returns the
    events it caused, in order, each addressed to a session. ``advance(now)`` runs the
    ticks and fills due by ``now``; call it again at ``next_wakeup()``.
    """

    def __init__(self, settings: SimulatorSettings, run_id: str, now: int) -> None:
        settings.check()
        self._settings = settings
        self._run_id = run_id
        self._tick_size = fixed.parse(settings.quotes.tick_size)
        self._increment = fixed.parse(settings.orders.qty_increment)
        self._max_qty = fixed.parse(settings.orders.max_order_qty)
        self._max_notional = fixed.parse(settings.orders.max_notional)
        self._interval = settings.quote_interval_ms * NS_PER_MS
        self._latency = settings.latency_ms * NS_PER_MS
        floor = MID_FLOOR_TICKS * self._tick_size
        self._random = {symbol: random.Random(f"{settings.seed}:{symbol}") for symbol in settings.symbols}
        self._books = {
            symbol: _Book(mid=max(fixed.floor_to(settings.start_price(symbol), self._tick_size), floor)) for symbol in settings.symbols
        }
        for symbol in self._books:
            self._draw_quote(symbol)
        self._next_tick = now + self._interval
        self._orders: dict[str, _Order] = {}
        self._by_cl_ord_id: dict[tuple[str, str], str] = {}  # every ClOrdID an order has had
        self._resting: dict[str, dict[str, None]] = {symbol: {} for symbol in settings.symbols}
        self._schedule: list[tuple[int, int, str]] = []  # (due, token, order_id), a heap
        self._counters = {"order": 0, "exec": 0, "token": 0}
        self._sessions: dict[str, None] = {}  # logged on, in logon order
        self._subscriptions: dict[str, dict[str, list[str]]] = {}  # session → request id → symbols
        self._history: dict[str, deque[ExecutionReport]] = {}

    # --- sessions ---------------------------------------------------------------------------

    def logged_on(self, session: str) -> list[Event]:
        """Start quoting to ``session``; in test mode (``resend_on_logon`` > 0) its last
        execution reports again, unchanged but for ``poss_dup``."""
        self._sessions[session] = None
        return [msgspec.structs.replace(report, poss_dup=True) for report in self._history.get(session, ())]

    def logged_out(self, session: str, now: int) -> list[Event]:
        """Stop quoting to ``session`` and end its market data subscriptions. Its orders
        keep working (their reports wait in the FIX store for the next logon), unless
        ``cancel_on_disconnect``: then every working one is canceled, in order of arrival."""
        self._sessions.pop(session, None)
        self._subscriptions.pop(session, None)
        if not self._settings.cancel_on_disconnect:
            return []
        working = [order for order in self._orders.values() if order.session == session and order.status in _WORKING]
        return [self._cancel_remainder(order, now, CANCELED_ON_DISCONNECT) for order in working]

    # --- time -------------------------------------------------------------------------------

    def next_wakeup(self) -> int:
        """When ``advance`` next has something to do (ns)."""
        return min(self._next_tick, self._schedule[0][0]) if self._schedule else self._next_tick

    def advance(self, now: int) -> list[Event]:
        """Run every tick and every fill due by ``now``, in time order (a fill due before a
        tick runs before it). After a pause longer than ``MAX_CATCH_UP_TICKS`` ticks only
        the latest ones run."""
        events: list[Event] = []
        due_ticks = (now - self._next_tick) // self._interval + 1
        if due_ticks > MAX_CATCH_UP_TICKS:
            self._next_tick += (due_ticks - MAX_CATCH_UP_TICKS) * self._interval
        while self.next_wakeup() <= now:
            if self._schedule and self._schedule[0][0] < self._next_tick:
                _, token, order_id = heapq.heappop(self._schedule)
                order = self._orders[order_id]
                if order.token == token and order.due is not None:
                    events.extend(self._fill_part(order, now))
            else:
                self._next_tick += self._interval
                events.extend(self._tick(now))
        return events

    # --- commands ---------------------------------------------------------------------------

    def handle(self, command: Command, now: int) -> list[Event]:
        """Apply one command; the events it caused."""
        if isinstance(command, NewOrder):
            return self.submit(command, now)
        if isinstance(command, CancelOrder):
            return self.cancel(command, now)
        if isinstance(command, ReplaceOrder):
            return self.replace(command, now)
        if isinstance(command, StatusRequest):
            return self.order_status(command, now)
        return self.market_data(command)

    def submit(self, request: NewOrder, now: int) -> list[Event]:
        """``new`` (fills follow from ``advance``), or ``rejected`` with a reason. A repeated
        ClOrdID: nothing if it is a PossDup/PossResend copy, else ``rejected``."""
        if (request.session, request.cl_ord_id) in self._by_cl_ord_id:
            if request.poss_dup:
                return []
            return [self._duplicate_rejected(request, now)]
        budget = None if request.cash is None else fixed.floor_to(request.cash, fixed.CENT)
        order = _Order(
            order_id=self._next_id("order", "O"),
            session=request.session,
            cl_ord_id=request.cl_ord_id,
            orig_cl_ord_id=None,
            symbol=request.symbol,
            side=request.side,
            order_type=request.order_type,
            tif=request.tif,
            qty=request.qty,
            cash=request.cash,
            budget=budget,
            price=request.price,
            status=OrderStatus.NEW,
            parts_left=self._settings.fill_parts,
        )
        self._orders[order.order_id] = order
        self._by_cl_ord_id[(order.session, order.cl_ord_id)] = order.order_id
        problem = request.problem or self._order_problem(order)
        if problem is not None:
            order.status = OrderStatus.REJECTED
            return [self._report(order, ExecKind.REJECTED, now, text=problem.text, reject_reason=problem.reason)]
        self._schedule_fill(order, now + self._latency)
        return [self._report(order, ExecKind.NEW, now)]

    def cancel(self, request: CancelOrder, now: int) -> list[Event]:
        """``canceled`` (ClOrdID the request's, OrigClOrdID the order's), or a cancel reject:
        unknown order, too late (finished), or a ClOrdID already used."""
        order = self._find(request.session, request.orig_cl_ord_id, request.order_id)
        refusal = self._request_refusal(request.session, request.cl_ord_id, order)
        if refusal is not None:
            reason, text = refusal
            return [self._cancel_rejected(request, order, CancelRequestKind.CANCEL, reason, text, now)]
        assert order is not None
        self._stop_working(order, OrderStatus.CANCELED)
        self._rename(order, request.cl_ord_id)
        return [self._report(order, ExecKind.CANCELED, now, text="canceled on request")]

    def replace(self, request: ReplaceOrder, now: int) -> list[Event]:
        """``replaced`` with the new ClOrdID, qty and price (the order keeps its OrderID,
        fills and place in the schedule), or a cancel reject with the reason."""
        order = self._find(request.session, request.orig_cl_ord_id, request.order_id)
        refusal = self._request_refusal(request.session, request.cl_ord_id, order)
        if refusal is None:
            assert order is not None
            problem = request.problem or self._replace_problem(order, request)
            refusal = None if problem is None else (CancelRejectReason.OTHER, problem.text)
        if refusal is not None:
            reason, text = refusal
            return [self._cancel_rejected(request, order, CancelRequestKind.REPLACE, reason, text, now)]
        assert order is not None
        order.qty = order.qty if request.qty is None else request.qty
        order.price = order.price if request.price is None else request.price
        self._rename(order, request.cl_ord_id)
        events: list[Event] = [self._report(order, ExecKind.REPLACED, now)]
        if order.due is None and order.symbol is not None and self._crosses(order):
            del self._resting[order.symbol][order.order_id]
            self._schedule_fill(order, now + self._latency)
        return events

    def order_status(self, request: StatusRequest, now: int) -> list[Event]:
        """``order_status`` with the order's current state, or with status ``rejected`` and
        the text ``unknown order`` when there is no such order in the session."""
        order = self._find(request.session, request.cl_ord_id, request.order_id)
        if order is not None:
            return [self._report(order, ExecKind.ORDER_STATUS, now, status_request_id=request.request_id)]
        unknown = _Order(
            order_id=NO_ORDER_ID,
            session=request.session,
            cl_ord_id=request.cl_ord_id,
            orig_cl_ord_id=None,
            symbol=request.symbol,
            side=request.side,
            order_type=None,
            tif=None,
            qty=None,
            cash=None,
            budget=None,
            price=None,
            status=OrderStatus.REJECTED,
            parts_left=0,
        )
        return [
            self._report(
                unknown,
                ExecKind.ORDER_STATUS,
                now,
                text="unknown order",
                reject_reason=RejectReason.UNKNOWN_ORDER,
                status_request_id=request.request_id,
            )
        ]

    def market_data(self, request: MarketDataRequest) -> list[Event]:
        """A snapshot per symbol now; ``subscribe`` also sends one on every tick until
        ``unsubscribe`` (or logout). Unknown symbols reject the whole request."""
        subscriptions = self._subscriptions.setdefault(request.session, {})
        if request.subscription is Subscription.UNSUBSCRIBE:
            subscriptions.pop(request.request_id, None)
            return []
        unknown = [symbol for symbol in request.symbols if symbol not in self._books]
        if unknown or not request.symbols:
            text = f"unknown symbols {unknown}" if unknown else "no symbols requested"
            return [MarketDataRejected(request.session, request.request_id, MarketDataRejectReason.UNKNOWN_SYMBOL, text)]
        if request.subscription is Subscription.SUBSCRIBE:
            if request.request_id in subscriptions:
                reason = MarketDataRejectReason.DUPLICATE_REQUEST_ID
                return [MarketDataRejected(request.session, request.request_id, reason, "MDReqID already subscribed")]
            subscriptions[request.request_id] = list(request.symbols)
        return [MarketDataSent(request.session, request.request_id, self.quote(symbol)) for symbol in request.symbols]

    def quote(self, symbol: str) -> Quote:
        book = self._books[symbol]
        return Quote(
            symbol=symbol,
            quote_id=f"{self._run_id}-{symbol}-{book.seq}",
            bid=book.bid,
            ask=book.ask,
            bid_size=book.bid_size,
            ask_size=book.ask_size,
        )

    # --- state ------------------------------------------------------------------------------

    def state_hash(self) -> str:
        """SHA-256 of a canonical encoding of the whole state. JSON, because values at
        10^-18 outgrow msgpack's 64-bit integers."""
        state = (
            self._run_id,
            self._next_tick,
            sorted(self._books.items()),
            sorted((symbol, generator.getstate()) for symbol, generator in self._random.items()),
            sorted(self._orders.items()),
            sorted(self._by_cl_ord_id.items()),
            sorted((symbol, list(resting)) for symbol, resting in self._resting.items()),
            sorted(self._schedule),
            sorted(self._counters.items()),
            list(self._sessions),
            sorted(self._subscriptions.items()),
            sorted((session, list(reports)) for session, reports in self._history.items()),
        )
        return hashlib.sha256(msgspec.json.encode(state)).hexdigest()

    def check_invariants(self) -> None:
        """Raise ``AssertionError`` if the state breaks a guarantee (used by tests)."""
        for order in self._orders.values():
            if order.cum_qty < 0 or order.cum_qty % self._increment:
                raise AssertionError(f"{order.order_id}: cum_qty {order.cum_qty} off the increment")
            if order.qty is not None and order.cum_qty > order.qty:
                raise AssertionError(f"{order.order_id}: overfilled")
            if order.budget is not None and order.value_raw > order.budget * fixed.SCALE:
                raise AssertionError(f"{order.order_id}: fills worth more than the cash")
            resting = order.symbol is not None and order.order_id in self._resting.get(order.symbol, {})
            if order.status in _WORKING and (order.due is None) == (not resting):
                raise AssertionError(f"{order.order_id}: working but {'both' if resting else 'neither'} resting and scheduled")
            if order.status not in _WORKING and (order.due is not None or resting):
                raise AssertionError(f"{order.order_id}: finished but still working")
        for symbol, book in self._books.items():
            if not 0 < book.bid < book.ask or book.bid_size <= 0 or book.ask_size <= 0:
                raise AssertionError(f"{symbol}: bad quote {book}")

    # --- validation -------------------------------------------------------------------------

    def _order_problem(self, order: _Order) -> Problem | None:
        if order.symbol is None:
            return Problem(RejectReason.UNKNOWN_SYMBOL, "Symbol(55) missing")
        if order.symbol not in self._books:
            return Problem(RejectReason.UNKNOWN_SYMBOL, f"unknown symbol {order.symbol}")
        if (order.qty is None) == (order.cash is None):
            return Problem(RejectReason.INCORRECT_QUANTITY, "exactly one of OrderQty(38) and CashOrderQty(152) is required")
        if order.cash is not None:
            problem = self._cash_problem(order)
        else:
            assert order.qty is not None
            problem = self._qty_problem(order.qty)
        return problem or self._price_problem(order.order_type, order.price, order.symbol)

    def _qty_problem(self, qty: int) -> Problem | None:
        if qty <= 0:
            return Problem(RejectReason.INCORRECT_QUANTITY, "OrderQty(38) must be positive")
        if not fixed.is_multiple(qty, self._increment):
            return Problem(RejectReason.INCORRECT_QUANTITY, f"OrderQty(38) not a multiple of {fixed.format(self._increment)}")
        if qty > self._max_qty:
            return Problem(RejectReason.EXCEEDS_LIMIT, f"OrderQty(38) above {fixed.format(self._max_qty)}")
        return None

    def _cash_problem(self, order: _Order) -> Problem | None:
        assert order.cash is not None and order.budget is not None and order.symbol is not None
        if order.cash <= 0:
            return Problem(RejectReason.INCORRECT_QUANTITY, "CashOrderQty(152) must be positive")
        if order.cash > self._max_notional:
            return Problem(RejectReason.EXCEEDS_LIMIT, f"CashOrderQty(152) above {fixed.format(self._max_notional)}")
        if order.order_type is not OrderType.MARKET:
            return Problem(RejectReason.UNSUPPORTED, "CashOrderQty(152) only on market orders")
        if self._affordable(order.budget * fixed.SCALE, self._quote_price(order.symbol, order.side)) == 0:
            return Problem(RejectReason.INCORRECT_QUANTITY, "CashOrderQty(152) buys less than one increment at the quote")
        return None

    def _price_problem(self, order_type: OrderType | None, price: int | None, symbol: str) -> Problem | None:
        if order_type is OrderType.LIMIT and price is None:
            return Problem(RejectReason.BAD_PRICE, "Price(44) missing on a limit order")
        if order_type is OrderType.MARKET and price is not None:
            return Problem(RejectReason.BAD_PRICE, "Price(44) on a market order")
        if price is None:
            return None
        if price <= 0:
            return Problem(RejectReason.BAD_PRICE, "Price(44) must be positive")
        if not fixed.is_multiple(price, self._tick_size):
            return Problem(RejectReason.BAD_PRICE, f"Price(44) not on the tick {fixed.format(self._tick_size)}")
        mid = self._books[symbol].mid
        band = self._settings.orders.price_band_pct
        if abs(price - mid) * PERCENT > mid * band:
            return Problem(RejectReason.BAD_PRICE, f"Price(44) more than {band}% from the mid {fixed.format(mid)}")
        return None

    def _replace_problem(self, order: _Order, request: ReplaceOrder) -> Problem | None:
        assert order.symbol is not None
        if order.cash is not None:
            return Problem(RejectReason.UNSUPPORTED, "notional orders cannot be replaced")
        if request.side is not order.side or request.symbol not in (None, order.symbol):
            return Problem(RejectReason.UNSUPPORTED, "Side(54) and Symbol(55) cannot change")
        if request.order_type not in (None, order.order_type):
            return Problem(RejectReason.UNSUPPORTED, "OrdType(40) cannot change")
        qty = order.qty if request.qty is None else request.qty
        assert qty is not None
        problem = self._qty_problem(qty)
        if problem is not None:
            return problem
        if qty <= order.cum_qty:
            return Problem(RejectReason.INCORRECT_QUANTITY, "OrderQty(38) must be above CumQty(14)")
        # a market order has no price to keep: a Price on its replace is refused like on a new one
        price = request.price if order.order_type is OrderType.MARKET or request.price is not None else order.price
        return self._price_problem(order.order_type, price, order.symbol)

    def _request_refusal(self, session: str, cl_ord_id: str, order: _Order | None) -> tuple[CancelRejectReason, str] | None:
        """Why a cancel or replace of ``order`` under the new ``cl_ord_id`` cannot be done."""
        if (session, cl_ord_id) in self._by_cl_ord_id:
            return CancelRejectReason.DUPLICATE_CL_ORD_ID, f"ClOrdID {cl_ord_id} already used"
        if order is None:
            return CancelRejectReason.UNKNOWN_ORDER, "unknown order"
        if order.status not in _WORKING:
            return CancelRejectReason.TOO_LATE, f"too late: order is {order.status.value}"
        return None

    # --- matching ---------------------------------------------------------------------------

    def _tick(self, now: int) -> list[Event]:
        """Move every quote and send it; start filling the resting orders it crosses."""
        events: list[Event] = []
        for symbol in self._books:
            self._move_mid(symbol)
            self._draw_quote(symbol)
            quote = self.quote(symbol)
            events.extend(QuoteSent(session, quote) for session in self._sessions)
            for session, subscriptions in self._subscriptions.items():
                events.extend(
                    MarketDataSent(session, request_id, quote) for request_id, symbols in subscriptions.items() if symbol in symbols
                )
            resting = self._resting[symbol]
            for order_id in list(resting):
                order = self._orders[order_id]
                if self._crosses(order):
                    del resting[order_id]
                    self._schedule_fill(order, now + self._latency)
        return events

    def _fill_part(self, order: _Order, now: int) -> list[Event]:
        """Fill the order's next part at the quote, or rest it (day/GTC) or cancel it
        (IOC/FOK) if the quote is not at its limit."""
        assert order.symbol is not None
        order.due = None
        price = self._quote_price(order.symbol, order.side)
        if not self._crosses(order):
            if order.tif in _IMMEDIATE:
                return [self._cancel_remainder(order, now, f"{order.tif}: quote {fixed.format(price)} not at the limit")]
            self._resting[order.symbol][order.order_id] = None
            return []
        if order.tif in _IMMEDIATE and order.fill_cap is None:
            shown = fixed.floor_to(self._shown_size(order.symbol, order.side), self._increment)
            wanted = self._room(order, price)
            if order.tif is TimeInForce.FOK:
                if wanted > shown:
                    return [self._cancel_remainder(order, now, f"FOK: {fixed.format(shown)} shown, {fixed.format(wanted)} wanted")]
                order.parts_left = 1
            order.fill_cap = order.cum_qty + min(wanted, shown)
        part = self._part_qty(order, price)
        if part == 0:
            return [self._cancel_remainder(order, now, "nothing more fits at the quote")]
        order.cum_qty += part
        order.value_raw += fixed.raw_value(part, price)
        order.parts_left = max(1, order.parts_left - 1)
        if self._unfilled(order, price) == 0:
            order.status = OrderStatus.FILLED
            return [self._report(order, ExecKind.TRADE, now, last_qty=part, last_price=price)]
        order.status = OrderStatus.PARTIALLY_FILLED
        events: list[Event] = [self._report(order, ExecKind.TRADE, now, last_qty=part, last_price=price)]
        if self._room(order, price) == 0:
            events.append(self._cancel_remainder(order, now, f"{order.tif}: remainder canceled"))
        else:
            self._schedule_fill(order, now + self._latency)
        return events

    def _part_qty(self, order: _Order, price: int) -> int:
        """The next part: an even share of what may still trade, in whole increments (at
        least one); the last part takes all of it."""
        room = self._room(order, price)
        if room == 0 or order.parts_left <= 1:
            return room
        share = fixed.floor_to(room // order.parts_left, self._increment)
        return min(room, max(self._increment, share))

    def _unfilled(self, order: _Order, price: int) -> int:
        """What the order still wants at ``price``: qty − cum_qty, or the increments its
        remaining cash buys."""
        if order.budget is not None:
            return self._affordable(order.budget * fixed.SCALE - order.value_raw, price)
        assert order.qty is not None
        return order.qty - order.cum_qty

    def _room(self, order: _Order, price: int) -> int:
        """What may trade now: ``_unfilled``, within an IOC/FOK order's cap."""
        unfilled = self._unfilled(order, price)
        return unfilled if order.fill_cap is None else min(unfilled, order.fill_cap - order.cum_qty)

    def _affordable(self, value_raw: int, price: int) -> int:
        """Most quantity, in whole increments, whose exact value at ``price`` is ≤ ``value_raw`` (10^-18)."""
        return fixed.floor_to(value_raw // price, self._increment)

    def _crosses(self, order: _Order) -> bool:
        """Whether the order may trade at the quote now (a market order always may)."""
        assert order.symbol is not None
        if order.price is None:
            return True
        price = self._quote_price(order.symbol, order.side)
        return price <= order.price if order.side is Side.BUY else price >= order.price

    def _quote_price(self, symbol: str, side: Side) -> int:
        book = self._books[symbol]
        return book.ask if side is Side.BUY else book.bid

    def _shown_size(self, symbol: str, side: Side) -> int:
        book = self._books[symbol]
        return book.ask_size if side is Side.BUY else book.bid_size

    def _move_mid(self, symbol: str) -> None:
        """One random-walk step of a whole number of bps in ±volatility_bps, on the tick, floored."""
        book = self._books[symbol]
        volatility = self._settings.quotes.volatility_bps
        step_bps = self._random[symbol].randint(-volatility, volatility)
        step = _round_to_tick(book.mid * step_bps, BASIS_POINTS, self._tick_size)
        book.mid = max(book.mid + step, MID_FLOOR_TICKS * self._tick_size)

    def _draw_quote(self, symbol: str) -> None:
        """Bid and offer around the mid (half-spread ≥ one tick), sizes in whole shares."""
        quotes = self._settings.quotes
        tick = self._tick_size
        book = self._books[symbol]
        half_spread = max(tick, _round_to_tick(book.mid * quotes.spread_bps, 2 * BASIS_POINTS, tick))
        book.bid = max(tick, book.mid - half_spread)
        book.ask = book.mid + half_spread
        low = max(1, quotes.quote_size // 2)
        high = max(low, 3 * quotes.quote_size // 2)
        generator = self._random[symbol]
        book.bid_size = generator.randint(low, high) * fixed.SCALE
        book.ask_size = generator.randint(low, high) * fixed.SCALE
        book.seq += 1

    # --- bookkeeping ------------------------------------------------------------------------

    def _schedule_fill(self, order: _Order, due: int) -> None:
        order.due = due
        order.token = self._next_count("token")
        heapq.heappush(self._schedule, (due, order.token, order.order_id))

    def _stop_working(self, order: _Order, status: OrderStatus) -> None:
        order.status = status
        order.due = None
        if order.symbol is not None:
            self._resting.get(order.symbol, {}).pop(order.order_id, None)

    def _cancel_remainder(self, order: _Order, now: int, text: str) -> ExecutionReport:
        self._stop_working(order, OrderStatus.CANCELED)
        return self._report(order, ExecKind.CANCELED, now, text=text)

    def _rename(self, order: _Order, cl_ord_id: str) -> None:
        """The order now answers to ``cl_ord_id``; its earlier ClOrdIDs still find it."""
        order.orig_cl_ord_id, order.cl_ord_id = order.cl_ord_id, cl_ord_id
        self._by_cl_ord_id[(order.session, cl_ord_id)] = order.order_id

    def _find(self, session: str, cl_ord_id: str, order_id: str | None) -> _Order | None:
        known = self._by_cl_ord_id.get((session, cl_ord_id))
        if known is None and order_id is not None:
            by_id = self._orders.get(order_id)
            known = by_id.order_id if by_id is not None and by_id.session == session else None
        return None if known is None else self._orders[known]

    def _next_count(self, name: str) -> int:
        self._counters[name] += 1
        return self._counters[name]

    def _next_id(self, name: str, prefix: str) -> str:
        return f"{self._run_id}-{prefix}{self._next_count(name)}"

    def _report(
        self,
        order: _Order,
        kind: ExecKind,
        now: int,
        *,
        last_qty: int = 0,
        last_price: int | None = None,
        text: str | None = None,
        reject_reason: RejectReason | None = None,
        status_request_id: str | None = None,
    ) -> ExecutionReport:
        leaves = 0
        if order.status in _WORKING and order.symbol is not None:
            leaves = self._unfilled(order, self._quote_price(order.symbol, order.side))
        report = ExecutionReport(
            session=order.session,
            order_id=order.order_id,
            exec_id=self._next_id("exec", "E"),
            kind=kind,
            status=order.status,
            cl_ord_id=order.cl_ord_id,
            orig_cl_ord_id=order.orig_cl_ord_id if kind in (ExecKind.CANCELED, ExecKind.REPLACED) else None,
            symbol=order.symbol,
            side=order.side,
            order_type=order.order_type,
            tif=order.tif,
            qty=order.qty,
            cash=order.cash,
            price=order.price,
            last_qty=last_qty,
            last_price=last_price,
            cum_qty=order.cum_qty,
            leaves_qty=leaves,
            avg_price=order.value_raw // order.cum_qty if order.cum_qty else 0,
            transact_time=now,
            text=text,
            reject_reason=reject_reason,
            status_request_id=status_request_id,
        )
        self._remember(report)
        return report

    def _duplicate_rejected(self, request: NewOrder, now: int) -> ExecutionReport:
        """A reject for a repeated ClOrdID that leaves the order already under it alone."""
        duplicate = _Order(
            order_id=NO_ORDER_ID,
            session=request.session,
            cl_ord_id=request.cl_ord_id,
            orig_cl_ord_id=None,
            symbol=request.symbol,
            side=request.side,
            order_type=request.order_type,
            tif=request.tif,
            qty=request.qty,
            cash=request.cash,
            budget=None,
            price=request.price,
            status=OrderStatus.REJECTED,
            parts_left=0,
        )
        text = f"duplicate ClOrdID {request.cl_ord_id}"
        return self._report(duplicate, ExecKind.REJECTED, now, text=text, reject_reason=RejectReason.DUPLICATE_ORDER)

    def _cancel_rejected(
        self,
        request: CancelOrder | ReplaceOrder,
        order: _Order | None,
        response_to: CancelRequestKind,
        reason: CancelRejectReason,
        text: str,
        now: int,
    ) -> CancelRejected:
        return CancelRejected(
            session=request.session,
            cl_ord_id=request.cl_ord_id,
            orig_cl_ord_id=request.orig_cl_ord_id,
            order_id=NO_ORDER_ID if order is None else order.order_id,
            status=OrderStatus.REJECTED if order is None else order.status,
            response_to=response_to,
            reason=reason,
            text=text,
            transact_time=now,
        )

    def _remember(self, report: ExecutionReport) -> None:
        """Keep the last ``resend_on_logon`` reports per session (test mode only)."""
        keep = self._settings.resend_on_logon
        if keep and report.kind is not ExecKind.ORDER_STATUS:
            self._history.setdefault(report.session, deque(maxlen=keep)).append(report)


def _round_to_tick(numerator: int, denominator: int, tick: int) -> int:
    """``numerator / denominator`` rounded to the nearest multiple of ``tick``, halves away from zero."""
    unit = denominator * tick
    ticks = (2 * abs(numerator) + unit) // (2 * unit)
    return ticks * tick if numerator >= 0 else -ticks * tick
