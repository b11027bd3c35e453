"""The FIX market maker's pure core: quotes and order handling, no sockets, no clock.

Per symbol the market maker keeps a mid price that takes a seeded random walk, one step
every ``quote_interval_ms`` (a *tick*), and quotes a bid and an offer around it with
random sizes. Every tick sends the quote to every logged-on session.
The quote model is the sim venue's (``adapters/sim/quotes.py``), so the two markets move
alike; what an order may be is ``orders.py``'s, what is said about it ``reports.py``'s.

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
from collections import deque

import msgspec

from adapters.fix.simulator.config import SimulatorSettings
from adapters.fix.simulator.marketdata import Subscriptions
from adapters.fix.simulator.messages import (
    NO_DETAILS,
    CancelOrder,
    Command,
    Event,
    ExecutionReport,
    MarketDataRequest,
    NewOrder,
    Quote,
    QuoteSent,
    ReplaceOrder,
    ReportDetails,
    StatusRequest,
    Terms,
)
from adapters.fix.simulator.orders import IMMEDIATE, WORKING, Order, Rules, part_qty, room, stand_in, unfilled
from adapters.fix.simulator.reports import cancel_rejected, execution_report
from adapters.fix.tags import CxlRejReason, CxlRejResponseTo, ExecTypeCode, OrdRejReason
from adapters.sim.quotes import Book, catch_up, crosses, draw_quote, next_quote, random_walk, starting_mid
from model import fixed
from model.enums import OrderStatus, TimeInForce

NS_PER_MS = 1_000_000
CANCELED_ON_DISCONNECT = "cancel on disconnect"


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
        self._rules = Rules(settings)
        self._tick_size = fixed.parse(settings.quotes.tick_size)
        self._increment = fixed.parse(settings.orders.qty_increment)
        self._interval = settings.quote_interval_ms * NS_PER_MS
        self._latency = settings.latency_ms * NS_PER_MS
        self._random = {symbol: random_walk(settings.seed, symbol) for symbol in settings.symbols}
        self._books = {
            instrument.symbol: Book(mid=starting_mid(instrument.reference_price, instrument.tick_size))
            for instrument in self._rules.instruments.values()
        }
        self._quote_seq = {symbol: 0 for symbol in settings.symbols}  # quotes drawn: the QuoteID's last part
        for symbol, book in self._books.items():
            draw_quote(book, self._random[symbol], self._tick_size, settings.quotes)
            self._quote_seq[symbol] += 1
        self._next_tick = now + self._interval
        self._orders: dict[str, Order] = {}
        self._by_cl_ord_id: dict[tuple[str, str], str] = {}  # every ClOrdID an order has had
        self._resting: dict[str, dict[str, None]] = {symbol: {} for symbol in settings.symbols}
        self._schedule: list[tuple[int, int, str]] = []  # (due, token, order_id), a heap
        self._counters = {"order": 0, "exec": 0, "token": 0}
        self._sessions: dict[str, None] = {}  # logged on, in logon order
        self._subscriptions = Subscriptions()
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
        self._subscriptions.end(session)
        if not self._settings.cancel_on_disconnect:
            return []
        working = [order for order in self._orders.values() if order.session == session and order.status in WORKING]
        return [self._cancel_remainder(order, now, CANCELED_ON_DISCONNECT) for order in working]

    # --- time -------------------------------------------------------------------------------

    def next_wakeup(self) -> int:
        """When ``advance`` next has something to do (ns)."""
        return min(self._next_tick, self._schedule[0][0]) if self._schedule else self._next_tick

    def advance(self, now: int) -> list[Event]:
        """Run every tick and every fill due by ``now``, in time order (a fill due before a
        tick runs before it). After a pause longer than ``quotes.MAX_CATCH_UP_TICKS`` ticks
        only the latest ones run."""
        events: list[Event] = []
        self._next_tick = catch_up(self._next_tick, now, self._interval)
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
        cash = request.terms.cash
        budget = None if cash is None else fixed.floor_to(cash, fixed.CENT)
        order_id = self._next_id("order", "O")
        order = Order(order_id, request.session, request.cl_ord_id, None, request.terms, budget, OrderStatus.NEW, self._settings.fill_parts)
        self._orders[order.order_id] = order
        self._by_cl_ord_id[(order.session, order.cl_ord_id)] = order.order_id
        problem = request.problem or self._rules.order_problem(order, self._books)
        if problem is not None:
            order.status = OrderStatus.REJECTED
            return [self._report(order, ExecTypeCode.REJECTED, now, ReportDetails(text=problem.text, reject_reason=problem.reason))]
        self._schedule_fill(order, now + self._latency)
        return [self._report(order, ExecTypeCode.NEW, now)]

    def cancel(self, request: CancelOrder, now: int) -> list[Event]:
        """``canceled`` (ClOrdID the request's, OrigClOrdID the order's), or a cancel reject:
        unknown order, too late (finished), or a ClOrdID already used."""
        order = self._find(request.session, request.orig_cl_ord_id, request.order_id)
        refusal = self._request_refusal(request.session, request.cl_ord_id, order)
        if refusal is not None:
            reason, text = refusal
            return [cancel_rejected(request, order, CxlRejResponseTo.CANCEL, reason, text, now)]
        assert order is not None
        self._stop_working(order, OrderStatus.CANCELED)
        self._rename(order, request.cl_ord_id)
        return [self._report(order, ExecTypeCode.CANCELED, now, ReportDetails(text="canceled on request"))]

    def replace(self, request: ReplaceOrder, now: int) -> list[Event]:
        """``replaced`` with the new ClOrdID, qty and price (the order keeps its OrderID,
        fills and place in the schedule), or a cancel reject with the reason."""
        order = self._find(request.session, request.orig_cl_ord_id, request.order_id)
        refusal = self._request_refusal(request.session, request.cl_ord_id, order)
        if refusal is None:
            assert order is not None
            assert order.terms.symbol is not None
            problem = request.problem or self._rules.replace_problem(order, request, self._books[order.terms.symbol])
            refusal = None if problem is None else (CxlRejReason.OTHER, problem.text)
        if refusal is not None:
            reason, text = refusal
            return [cancel_rejected(request, order, CxlRejResponseTo.REPLACE, reason, text, now)]
        assert order is not None
        terms, asked = order.terms, request.terms
        order.terms = msgspec.structs.replace(
            terms, qty=terms.qty if asked.qty is None else asked.qty, price=terms.price if asked.price is None else asked.price
        )
        self._rename(order, request.cl_ord_id)
        events: list[Event] = [self._report(order, ExecTypeCode.REPLACED, now)]
        if order.due is None and terms.symbol is not None and self._crosses(order):
            del self._resting[terms.symbol][order.order_id]
            self._schedule_fill(order, now + self._latency)
        return events

    def order_status(self, request: StatusRequest, now: int) -> list[Event]:
        """``order_status`` with the order's current state, or with status ``rejected`` and
        the text ``unknown order`` when there is no such order in the session."""
        order = self._find(request.session, request.cl_ord_id, request.order_id)
        if order is not None:
            return [self._report(order, ExecTypeCode.ORDER_STATUS, now, ReportDetails(status_request_id=request.request_id))]
        unknown = stand_in(request.session, request.cl_ord_id, Terms(request.symbol, request.side))
        details = ReportDetails(text="unknown order", reject_reason=OrdRejReason.UNKNOWN_ORDER, status_request_id=request.request_id)
        return [self._report(unknown, ExecTypeCode.ORDER_STATUS, now, details)]

    def market_data(self, request: MarketDataRequest) -> list[Event]:
        """A snapshot per symbol now, and one on every tick while subscribed; see ``Subscriptions``."""
        return self._subscriptions.request(request, self._books, self.quote)

    def quote(self, symbol: str) -> Quote:
        book = self._books[symbol]
        return Quote(
            symbol=symbol,
            quote_id=f"{self._run_id}-{symbol}-{self._quote_seq[symbol]}",
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
            sorted(self._quote_seq.items()),
            sorted((symbol, generator.getstate()) for symbol, generator in self._random.items()),
            sorted(self._orders.items()),
            sorted(self._by_cl_ord_id.items()),
            sorted((symbol, list(resting)) for symbol, resting in self._resting.items()),
            sorted(self._schedule),
            sorted(self._counters.items()),
            list(self._sessions),
            sorted(self._subscriptions.by_session.items()),
            sorted((session, list(reports)) for session, reports in self._history.items()),
        )
        return hashlib.sha256(msgspec.json.encode(state)).hexdigest()

    def check_invariants(self) -> None:
        """Raise ``AssertionError`` if the state breaks a guarantee (used by tests)."""
        for order in self._orders.values():
            if order.cum_qty < 0 or order.cum_qty % self._increment:
                raise AssertionError(f"{order.order_id}: cum_qty {order.cum_qty} off the increment")
            if order.terms.qty is not None and order.cum_qty > order.terms.qty:
                raise AssertionError(f"{order.order_id}: overfilled")
            if order.budget is not None and order.value_raw > order.budget * fixed.SCALE:
                raise AssertionError(f"{order.order_id}: fills worth more than the cash")
            resting = order.terms.symbol is not None and order.order_id in self._resting.get(order.terms.symbol, {})
            if order.status in WORKING and (order.due is None) == (not resting):
                raise AssertionError(f"{order.order_id}: working but {'both' if resting else 'neither'} resting and scheduled")
            if order.status not in WORKING and (order.due is not None or resting):
                raise AssertionError(f"{order.order_id}: finished but still working")
        for symbol, book in self._books.items():
            if not 0 < book.bid < book.ask or book.bid_size <= 0 or book.ask_size <= 0:
                raise AssertionError(f"{symbol}: bad quote {book}")

    # --- refusals ---------------------------------------------------------------------------

    def _request_refusal(self, session: str, cl_ord_id: str, order: Order | None) -> tuple[CxlRejReason, str] | None:
        """Why a cancel or replace of ``order`` under the new ``cl_ord_id`` cannot be done."""
        if (session, cl_ord_id) in self._by_cl_ord_id:
            return CxlRejReason.DUPLICATE_CL_ORD_ID, f"ClOrdID {cl_ord_id} already used"
        if order is None:
            return CxlRejReason.UNKNOWN_ORDER, "unknown order"
        if order.status not in WORKING:
            return CxlRejReason.TOO_LATE_TO_CANCEL, f"too late: order is {order.status.value}"
        return None

    # --- matching ---------------------------------------------------------------------------

    def _tick(self, now: int) -> list[Event]:
        """Move every quote and send it; start filling the resting orders it crosses."""
        events: list[Event] = []
        for symbol, book in self._books.items():
            next_quote(book, self._random[symbol], self._tick_size, self._settings.quotes)
            self._quote_seq[symbol] += 1
            quote = self.quote(symbol)
            events.extend(QuoteSent(session, quote) for session in self._sessions)
            events.extend(self._subscriptions.on_quote(quote))
            resting = self._resting[symbol]
            for order_id in list(resting):
                order = self._orders[order_id]
                if self._crosses(order):
                    del resting[order_id]
                    self._schedule_fill(order, now + self._latency)
        return events

    def _fill_part(self, order: Order, now: int) -> list[Event]:
        """Fill the order's next part at the quote, or rest it (day/GTC) or cancel it
        (IOC/FOK) if the quote is not at its limit."""
        terms = order.terms
        assert terms.symbol is not None
        order.due = None
        book = self._books[terms.symbol]
        price = book.price_for(terms.side)
        if not self._crosses(order):
            if terms.tif in IMMEDIATE:
                return [self._cancel_remainder(order, now, f"{terms.tif}: quote {fixed.format(price)} not at the limit")]
            self._resting[terms.symbol][order.order_id] = None
            return []
        if terms.tif in IMMEDIATE and order.fill_cap is None:
            shown = fixed.floor_to(book.size_for(terms.side), self._increment)
            wanted = room(order, price, self._increment)
            if terms.tif is TimeInForce.FOK:
                if wanted > shown:
                    return [self._cancel_remainder(order, now, f"FOK: {fixed.format(shown)} shown, {fixed.format(wanted)} wanted")]
                order.parts_left = 1
            order.fill_cap = order.cum_qty + min(wanted, shown)
        part = part_qty(order, price, self._increment)
        if part == 0:
            return [self._cancel_remainder(order, now, "nothing more fits at the quote")]
        order.cum_qty += part
        order.value_raw += fixed.raw_value(part, price)
        order.parts_left = max(1, order.parts_left - 1)
        if unfilled(order, price, self._increment) == 0:
            order.status = OrderStatus.FILLED
            return [self._report(order, ExecTypeCode.TRADE, now, ReportDetails(last_qty=part, last_price=price))]
        order.status = OrderStatus.PARTIALLY_FILLED
        events: list[Event] = [self._report(order, ExecTypeCode.TRADE, now, ReportDetails(last_qty=part, last_price=price))]
        if room(order, price, self._increment) == 0:
            events.append(self._cancel_remainder(order, now, f"{terms.tif}: remainder canceled"))
        else:
            self._schedule_fill(order, now + self._latency)
        return events

    def _crosses(self, order: Order) -> bool:
        """Whether the order may trade at the quote now (a market order always may)."""
        terms = order.terms
        assert terms.symbol is not None
        return crosses(terms.side, terms.price, self._books[terms.symbol].price_for(terms.side))

    # --- bookkeeping ------------------------------------------------------------------------

    def _schedule_fill(self, order: Order, due: int) -> None:
        order.due = due
        order.token = self._next_count("token")
        heapq.heappush(self._schedule, (due, order.token, order.order_id))

    def _stop_working(self, order: Order, status: OrderStatus) -> None:
        order.status = status
        order.due = None
        if order.terms.symbol is not None:
            self._resting.get(order.terms.symbol, {}).pop(order.order_id, None)

    def _cancel_remainder(self, order: Order, now: int, text: str) -> ExecutionReport:
        self._stop_working(order, OrderStatus.CANCELED)
        return self._report(order, ExecTypeCode.CANCELED, now, ReportDetails(text=text))

    def _rename(self, order: Order, cl_ord_id: str) -> None:
        """The order now answers to ``cl_ord_id``; its earlier ClOrdIDs still find it."""
        order.orig_cl_ord_id, order.cl_ord_id = order.cl_ord_id, cl_ord_id
        self._by_cl_ord_id[(order.session, cl_ord_id)] = order.order_id

    def _find(self, session: str, cl_ord_id: str, order_id: str | None) -> Order | None:
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

    def _report(self, order: Order, kind: ExecTypeCode, now: int, details: ReportDetails = NO_DETAILS) -> ExecutionReport:
        """An execution report about ``order`` with the next ExecID and what is left to fill
        at the quote; kept for resends."""
        terms = order.terms
        leaves = 0
        if order.status in WORKING and terms.symbol is not None:
            leaves = unfilled(order, self._books[terms.symbol].price_for(terms.side), self._increment)
        report = execution_report(order, kind, now, self._next_id("exec", "E"), leaves, details)
        self._remember(report)
        return report

    def _duplicate_rejected(self, request: NewOrder, now: int) -> ExecutionReport:
        """A reject for a repeated ClOrdID that leaves the order already under it alone."""
        duplicate = stand_in(request.session, request.cl_ord_id, request.terms)
        details = ReportDetails(text=f"duplicate ClOrdID {request.cl_ord_id}", reject_reason=OrdRejReason.DUPLICATE_ORDER)
        return self._report(duplicate, ExecTypeCode.REJECTED, now, details)

    def _remember(self, report: ExecutionReport) -> None:
        """Keep the last ``resend_on_logon`` reports per session (test mode only)."""
        keep = self._settings.resend_on_logon
        if keep and report.kind is not ExecTypeCode.ORDER_STATUS:
            self._history.setdefault(report.session, deque(maxlen=keep)).append(report)
