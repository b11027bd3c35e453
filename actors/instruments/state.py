"""InstrumentActor core: reference data, trading status, the consolidated quote, held orders
(stops waiting for their trigger, orders for the open) and routing to venues.

Pure and deterministic like every core: inputs carry ``now``; child ids are counters.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import ClassVar

import msgspec
import structlog

from actors.outputs import ACCOUNT, ALL, GATEWAY, VENUE, Dispatcher, Outputs
from model.config import VenueSection
from model.enums import OrderType, Reason, SessionState, Side, TimeInForce, VenueEventKind
from model.instruments import Instrument
from model.messages import (
    AdminCancelAll,
    CancelRoute,
    MarketUpdate,
    OrderUpdate,
    QuoteEvent,
    ReplaceRoute,
    RouteOrder,
    SetTradingStatus,
    VenueCancel,
    VenueCancelAll,
    VenueNewOrder,
    VenueQuote,
    VenueReplace,
    VenueReport,
    VenueSessionChanged,
)

log = structlog.get_logger("instruments")

HELD_STOP = "held_stop"
HELD_OPEN = "held_open"
ROUTED = "routed"

_TERMINAL_KINDS = frozenset({VenueEventKind.CANCELED, VenueEventKind.EXPIRED, VenueEventKind.REJECTED})


class Route(msgspec.Struct, gc=False):
    """A client order as this actor works it: held here, or a child order at one venue."""

    order_id: str
    account: str
    symbol: str
    side: Side
    order_type: OrderType
    tif: TimeInForce
    qty: int | None
    notional: int | None
    price: int | None
    stop_price: int | None
    qty_cap: int | None
    state: str
    child_id: str | None = None
    venue: str | None = None
    cum_qty: int = 0
    replacing_to: str | None = None
    replacing_qty: int | None = None
    replacing_price: int | None = None


class Book(msgspec.Struct):
    """One symbol: its quotes per venue and what is consolidated from them."""

    instrument: Instrument
    quotes: dict[str, VenueQuote] = msgspec.field(default_factory=dict)
    bid: int | None = None
    bid_size: int = 0
    ask: int | None = None
    ask_size: int = 0
    reference: int = 0
    halted: bool = False


class InstrumentState(Dispatcher):
    """Owns the symbols placed on this actor.

    Guarantees: every accepted RouteOrder ends in exactly one terminal OrderUpdate (filled,
    canceled, expired or rejected) sent to its account; a held order is never sent to a venue
    twice; quotes are consolidated as best bid (highest) and best offer (lowest) over venues.
    """

    def __init__(self, name: str, instruments: list[Instrument], venues: list[VenueSection]) -> None:
        self.name = name
        self.books = {i.symbol: Book(instrument=i, reference=i.reference_price) for i in instruments}
        self.venues = venues
        self.venue_sessions: dict[str, SessionState] = {}
        self.routes: dict[str, Route] = {}
        self.children: dict[str, str] = {}  # child_id → order_id
        self.stops: dict[str, dict[str, Route]] = {}  # symbol → held stops (derived from routes)
        self.child_counter = 0
        self.anomalies: list[str] = []
        self.out = Outputs()

    # --- orders from account shards ----------------------------------------------------------

    def _route_order(self, command: RouteOrder, now: int) -> None:
        book = self.books.get(command.symbol)
        if book is None or command.order_id in self.routes:
            self._anomaly(f"route for {command.order_id} in {command.symbol} refused")
            return
        route = Route(
            order_id=command.order_id,
            account=command.account,
            symbol=command.symbol,
            side=command.side,
            order_type=command.order_type,
            tif=command.tif,
            qty=command.qty,
            notional=command.notional,
            price=command.price,
            stop_price=command.stop_price,
            qty_cap=command.qty_cap,
            state=ROUTED,
        )
        if book.halted:
            self._update(route, VenueEventKind.REJECTED, now, reason=Reason.HALTED.value)
            return
        self.routes[route.order_id] = route
        if route.tif is TimeInForce.OPG:
            route.state = HELD_OPEN
        elif route.order_type.has_stop:
            route.state = HELD_STOP
            self.stops.setdefault(route.symbol, {})[route.order_id] = route
            self._trigger_stops(book, now)
        else:
            self._send_to_venue(route, now)

    def _cancel_route(self, command: CancelRoute, now: int) -> None:
        route = self.routes.get(command.order_id)
        if route is None:
            self.out.to(ACCOUNT, command.account, _update_for(command.order_id, command.account, VenueEventKind.CANCEL_REJECTED, now, Reason.TOO_LATE_TO_CANCEL.value))
            return
        if route.state == ROUTED:
            assert route.child_id is not None and route.venue is not None
            self.out.to(VENUE, route.venue, VenueCancel(route.child_id))
            return
        self._update(route, VenueEventKind.CANCELED, now, reason=Reason.USER_CANCELED.value)
        self._forget(route)

    def _replace_route(self, command: ReplaceRoute, now: int) -> None:
        route = self.routes.get(command.order_id)
        if route is None:
            self.out.to(ACCOUNT, command.account, _update_for(command.order_id, command.account, VenueEventKind.REPLACE_REJECTED, now, Reason.TOO_LATE_TO_CANCEL.value))
            return
        if route.state == ROUTED:
            assert route.child_id is not None and route.venue is not None
            route.replacing_to = command.new_order_id
            route.replacing_qty, route.replacing_price = command.qty, command.price
            self.out.to(VENUE, route.venue, VenueReplace(route.child_id, command.qty, command.price))
            return
        route.qty, route.price, route.stop_price = command.qty, command.price, command.stop_price
        self._update(route, VenueEventKind.REPLACED, now)
        self._rekey(route, command.new_order_id)
        if route.state == HELD_STOP:
            self._trigger_stops(self.books[route.symbol], now)

    # --- venue events ----------------------------------------------------------------------

    def _venue_report(self, report: VenueReport, now: int) -> None:
        order_id = self.children.get(report.child_id)
        route = self.routes.get(order_id) if order_id else None
        if route is None:
            self._anomaly(f"{report.venue} report for unknown child {report.child_id}: {report.kind.value}")
            return
        if report.kind is VenueEventKind.TRADE:
            route.cum_qty += report.last_qty
            done = report.done or (route.qty is not None and route.cum_qty >= route.qty)
            self._update(route, report.kind, now, report.last_qty, report.last_price, report.reason, done, report.venue)
            if done:
                self._forget(route)
            return
        if report.kind is VenueEventKind.ACCEPTED:
            return  # the client order is already new; the venue's acceptance changes nothing there
        self._update(route, report.kind, now, reason=report.reason, venue=report.venue)
        if report.kind is VenueEventKind.REPLACED and route.replacing_to is not None:
            route.qty, route.price = route.replacing_qty, route.replacing_price
            self._rekey(route, route.replacing_to)
            route.replacing_to = route.replacing_qty = route.replacing_price = None
        elif report.kind is VenueEventKind.REPLACE_REJECTED:
            route.replacing_to = route.replacing_qty = route.replacing_price = None
        elif report.kind in _TERMINAL_KINDS:
            self._forget(route)

    def _venue_quote(self, quote: VenueQuote, now: int) -> None:
        book = self.books.get(quote.symbol)
        if book is None:
            return
        book.quotes[quote.venue] = quote
        self._consolidate(book, now)
        self._trigger_stops(book, now)

    def _venue_session(self, change: VenueSessionChanged, now: int) -> None:
        self.venue_sessions[change.venue] = change.state
        if change.state is not SessionState.CLOSED:
            return
        for route in list(self.routes.values()):
            if route.state == HELD_STOP and route.tif is TimeInForce.DAY and not self._any_venue_open(route.symbol):
                self._update(route, VenueEventKind.EXPIRED, now, reason=Reason.END_OF_DAY.value)
                self._forget(route)

    def _set_trading_status(self, command: SetTradingStatus, now: int) -> None:
        book = self.books.get(command.symbol)
        if book is None:
            return
        book.halted = command.halted
        self._publish(book, now)

    def matching(self, command: AdminCancelAll) -> list[Route]:
        """Open routes the operator's cancel-all covers (with a venue filter: only orders
        working at that venue)."""
        return [
            route
            for route in self.routes.values()
            if (command.account is None or route.account == command.account)
            and (command.symbol is None or route.symbol == command.symbol)
            and (command.venue is None or route.venue == command.venue)
            and route.replacing_to is None
        ]

    def _admin_cancel_all(self, command: AdminCancelAll, now: int) -> None:
        """Held orders are canceled here; orders at a venue are canceled there: with one
        cancel-all per venue where the venue has its own and no account filter narrows it,
        else (emulated) with one cancel per order."""
        native = {venue.name for venue in self.venues if venue.supports_cancel_all} if command.account is None else set()
        bulk: dict[str, list[str]] = {}
        for route in self.matching(command):
            if route.state != ROUTED:
                self._update(route, VenueEventKind.CANCELED, now, reason=Reason.USER_CANCELED.value)
                self._forget(route)
            elif route.venue in native:
                symbols = bulk.setdefault(route.venue, [])
                if route.symbol not in symbols:
                    symbols.append(route.symbol)
            else:
                assert route.child_id is not None and route.venue is not None
                self.out.to(VENUE, route.venue, VenueCancel(route.child_id))
        for venue, symbols in bulk.items():
            self.out.to(VENUE, venue, VenueCancelAll(symbols))

    _handlers: ClassVar[dict[type, Callable[..., None]]] = {
        AdminCancelAll: _admin_cancel_all,
        RouteOrder: _route_order,
        CancelRoute: _cancel_route,
        ReplaceRoute: _replace_route,
        VenueReport: _venue_report,
        VenueQuote: _venue_quote,
        VenueSessionChanged: _venue_session,
        SetTradingStatus: _set_trading_status,
    }

    # --- routing -----------------------------------------------------------------------------

    def _send_to_venue(self, route: Route, now: int) -> None:
        venue = self.choose_venue(route)
        if venue is None:
            self._update(route, VenueEventKind.REJECTED, now, reason=Reason.NO_VENUE.value)
            self._forget(route)
            return
        self.child_counter += 1
        route.child_id = f"{self.name}-{self.child_counter}"
        route.venue = venue
        route.state = ROUTED
        self.children[route.child_id] = route.order_id
        self.out.to(
            VENUE,
            venue,
            VenueNewOrder(
                child_id=route.child_id,
                symbol=route.symbol,
                side=route.side,
                order_type=route.order_type,
                tif=route.tif,
                qty=route.qty,
                notional=route.notional,
                price=route.price,
                qty_cap=route.qty_cap,
            ),
        )

    def choose_venue(self, route: Route) -> str | None:
        """The venue with the best price for the order among those that trade the symbol and
        take its type, preferring one whose displayed size covers it; config order breaks ties
        and is the fallback when no venue quotes."""
        candidates = [v.name for v in self.venues if v.trades(route.symbol) and route.order_type.value in v.order_types]
        if not candidates:
            return None
        book = self.books[route.symbol]
        quoted = []
        for rank, name in enumerate(candidates):
            quote = book.quotes.get(name)
            price = None if quote is None else (quote.ask if route.side is Side.BUY else quote.bid)
            if price is None or quote is None:
                continue
            size = quote.ask_size if route.side is Side.BUY else quote.bid_size
            covers = route.qty is None or size >= route.qty
            better = price if route.side is Side.BUY else -price
            quoted.append((not covers, better, rank, name))
        return min(quoted)[3] if quoted else candidates[0]

    def _trigger_stops(self, book: Book, now: int) -> None:
        if book.halted:
            return
        held = self.stops.get(book.instrument.symbol)
        for route in list(held.values()) if held else ():
            assert route.stop_price is not None
            if route.side is Side.BUY:
                triggered = book.ask is not None and book.ask >= route.stop_price
            else:
                triggered = book.bid is not None and book.bid <= route.stop_price
            if triggered:
                assert held is not None
                del held[route.order_id]
                route.order_type = OrderType.LIMIT if route.order_type is OrderType.STOP_LIMIT else OrderType.MARKET
                self._send_to_venue(route, now)

    def _consolidate(self, book: Book, now: int) -> None:
        bids = [(q.bid, q.bid_size) for q in book.quotes.values() if q.bid is not None]
        asks = [(q.ask, q.ask_size) for q in book.quotes.values() if q.ask is not None]
        book.bid = max(price for price, _ in bids) if bids else None
        book.bid_size = sum(size for price, size in bids if price == book.bid)
        book.ask = min(price for price, _ in asks) if asks else None
        book.ask_size = sum(size for price, size in asks if price == book.ask)
        if book.bid is not None and book.ask is not None:
            tick = book.instrument.tick_size
            book.reference = (book.bid + book.ask) // 2 // tick * tick
        self._publish(book, now)

    def _publish(self, book: Book, now: int) -> None:
        symbol = book.instrument.symbol
        self.out.to(ACCOUNT, ALL, MarketUpdate(symbol, book.bid, book.ask, book.reference, book.halted, now))
        self.out.to(GATEWAY, ALL, QuoteEvent(symbol, book.bid, book.bid_size, book.ask, book.ask_size, now))

    def _any_venue_open(self, symbol: str) -> bool:
        return any(
            self.venue_sessions.get(v.name) is SessionState.OPEN for v in self.venues if v.trades(symbol)
        )

    # --- helpers -----------------------------------------------------------------------------

    def _update(
        self,
        route: Route,
        kind: VenueEventKind,
        now: int,
        last_qty: int = 0,
        last_price: int | None = None,
        reason: str | None = None,
        done: bool = False,
        venue: str | None = None,
    ) -> None:
        self.out.to(
            ACCOUNT,
            route.account,
            OrderUpdate(route.order_id, route.account, kind, last_qty, last_price, reason, venue or route.venue or "", now, done),
        )

    def _rekey(self, route: Route, new_order_id: str) -> None:
        del self.routes[route.order_id]
        held = self.stops.get(route.symbol) if route.state == HELD_STOP else None
        if held is not None:
            del held[route.order_id]
            held[new_order_id] = route
        route.order_id = new_order_id
        self.routes[new_order_id] = route
        if route.child_id is not None:
            self.children[route.child_id] = new_order_id

    def _forget(self, route: Route) -> None:
        self.routes.pop(route.order_id, None)
        self.stops.get(route.symbol, {}).pop(route.order_id, None)
        if route.child_id is not None:
            self.children.pop(route.child_id, None)

    def _anomaly(self, text: str) -> None:
        self.anomalies.append(text)
        log.warning("anomaly", actor=self.name, detail=text)

    def held_for_open(self, symbol: str) -> list[Route]:
        return [r for r in self.routes.values() if r.state == HELD_OPEN and r.symbol == symbol]

    def check_invariants(self) -> None:
        held = {r.order_id for r in self.routes.values() if r.state == HELD_STOP}
        assert held == {order_id for stops in self.stops.values() for order_id in stops}, "stop index out of step"
        for child_id, order_id in self.children.items():
            route = self.routes[order_id]
            assert route.child_id == child_id and route.state == ROUTED, child_id
        for route in self.routes.values():
            if route.qty is not None:
                assert 0 <= route.cum_qty <= route.qty, route.order_id

    def state_hash(self) -> str:
        state = (self.books, self.venue_sessions, self.routes, self.children, self.child_counter)
        return hashlib.sha256(msgspec.msgpack.encode(state)).hexdigest()


def _update_for(order_id: str, account: str, kind: VenueEventKind, now: int, reason: str) -> OrderUpdate:
    return OrderUpdate(order_id, account, kind, 0, None, reason, "", now)
