"""The router: child orders at venues, their cancels and replaces, and what venues answer."""

from __future__ import annotations

import msgspec

from actors.instrument.base import TERMINAL_KINDS, InstrumentBase
from actors.instrument.records import Route
from actors.runtime.outputs import AUDIT, VENUE
from model.audit import AuditEvent, AuditKind
from model.audit_bodies import Routed
from model.enums import OrderType, Reason, SessionState, Side, VenueEventKind
from model.messages import AdminCancelAll, Message, ReplaceRoute, VenueCancel, VenueCancelAll, VenueNewOrder, VenueReplace, VenueReport
from model.orders import OrderSpec
from model.routes import RouteEvent, RouteState

# members read on every route and venue report, bound once (model/enums.py says why)
_SEND = RouteEvent.SEND
_TRADE, _ACCEPTED, _REPLACED, _REPLACE_REJECTED = (
    VenueEventKind.TRADE,
    VenueEventKind.ACCEPTED,
    VenueEventKind.REPLACED,
    VenueEventKind.REPLACE_REJECTED,
)


class Router(InstrumentBase):
    """Guarantees: a route goes to at most one venue, once (its child id is a counter); a
    cancel or replace of a route at a venue goes to that venue; a venue's answer about a
    child reaches the account of the order it works for, under the order's current id."""

    def _send_to_venue(self, route: Route, now: int) -> None:
        venue = self.choose_venue(route)
        if venue is None:
            self._update(route, VenueEventKind.REJECTED, now, reason=Reason.NO_VENUE.value)
            self._forget(route)
            return
        self.child_counter += 1
        route.child_id = f"{self.name}-{self.child_counter}"
        route.venue = venue
        self._move(route, _SEND)
        self.children[route.child_id] = route.order_id
        self.out.to(
            VENUE,
            venue,
            VenueNewOrder(child_id=route.child_id, spec=route.spec, qty_cap=route.qty_cap),
        )
        if self.out.audit:
            self.out.to(AUDIT, "", routed(route.account, route.order_id, venue, route.child_id, route.spec))

    def choose_venue(self, route: Route) -> str | None:
        return self.venue_for(route.spec.symbol, route.spec.side, route.spec.order_type, route.spec.qty)

    def venue_for(self, symbol: str, side: Side, order_type: OrderType, qty: int | None) -> str | None:
        """The venue with the best price for the order among those that trade the symbol,
        take its type and have their session open, preferring one whose displayed size
        covers it; config order breaks ties and is the fallback when no open venue quotes
        (when no session is known to be open, the first venue in config order)."""
        candidates = self._candidates.get((symbol, order_type))
        if candidates is None:  # the venues are configuration: worked out once per symbol and type
            candidates = [v.name for v in self.venues if v.trades(symbol) and order_type.value in v.order_types]
            self._candidates[(symbol, order_type)] = candidates
        if len(candidates) < 2:  # none, or the only one whatever its session and quote
            return candidates[0] if candidates else None
        live = [name for name in candidates if self.venue_sessions.get(name, SessionState.OPEN) is SessionState.OPEN]
        if not live:
            return candidates[0]
        book = self.books[symbol]
        quoted = []
        for rank, name in enumerate(live):
            quote = book.quotes.get(name)
            price = None if quote is None else (quote.ask if side is Side.BUY else quote.bid)
            if price is None or quote is None:
                continue
            size = quote.ask_size if side is Side.BUY else quote.bid_size
            covers = qty is None or size >= qty
            better = price if side is Side.BUY else -price
            quoted.append((not covers, better, rank, name))
        return min(quoted)[3] if quoted else live[0]

    def _any_venue_open(self, symbol: str) -> bool:
        return any(self.venue_sessions.get(v.name) is SessionState.OPEN for v in self.venues if v.trades(symbol))

    def _cancel_at_venue(self, route: Route) -> None:
        assert route.child_id is not None and route.venue is not None
        self.out.to(VENUE, route.venue, VenueCancel(route.child_id))

    def _replace_at_venue(self, route: Route, command: ReplaceRoute) -> None:
        """Ask the venue; the route keeps its terms and id until the venue confirms."""
        assert route.child_id is not None and route.venue is not None
        self._move(route, RouteEvent.REPLACE_SENT)  # the shard sends one replace at a time
        route.replacing_to = command.new_order_id
        route.replacing_qty, route.replacing_price = command.qty, command.price
        self.out.to(VENUE, route.venue, VenueReplace(route.child_id, command.qty, command.price))

    def _route_report(self, route: Route, report: VenueReport, now: int) -> None:
        """What a venue said about a route's child, passed on to its account."""
        kind = report.kind
        if kind is _TRADE:
            route.cum_qty += report.last_qty
            self._traded(route.spec.symbol, report.last_price, report.last_qty, now)
            done = report.done or (route.spec.qty is not None and route.cum_qty >= route.spec.qty)
            self._update(route, report.kind, now, report.last_qty, report.last_price, report.reason, done, report.venue)
            if done:
                self._forget(route)
            return
        if kind is _ACCEPTED:
            return  # the client order is already new; the venue's acceptance changes nothing there (``only_acceptances``)
        self._update(route, kind, now, reason=report.reason, venue=report.venue)
        if kind is _REPLACED and route.state is RouteState.REPLACING:
            assert route.replacing_to is not None
            self._move(route, RouteEvent.REPLACED)
            route.spec = msgspec.structs.replace(route.spec, qty=route.replacing_qty, price=route.replacing_price)
            self._rekey(route, route.replacing_to)
            route.replacing_to = route.replacing_qty = route.replacing_price = None
        elif kind is _REPLACE_REJECTED and route.state is RouteState.REPLACING:
            self._move(route, RouteEvent.REPLACE_REFUSED)
            route.replacing_to = route.replacing_qty = route.replacing_price = None
        elif kind in TERMINAL_KINDS:
            self._forget(route)

    def matching(self, command: AdminCancelAll) -> list[Route]:
        """Open routes the operator's cancel-all covers (with a venue filter: only orders
        working at that venue)."""
        return [
            route
            for route in self.routes.values()
            if (command.account is None or route.account == command.account)
            and (command.symbol is None or route.spec.symbol == command.symbol)
            and (command.venue is None or route.venue == command.venue)
            and route.state is not RouteState.REPLACING
        ]

    def _cancel_matching_routes(self, command: AdminCancelAll, now: int) -> None:
        """The operator's cancel-all of routes: held ones are canceled here; ones at a venue
        there, with one cancel-all per venue where the venue has its own and no account
        filter narrows it, else (emulated) with one cancel per order."""
        native = {venue.name for venue in self.venues if venue.supports_cancel_all} if command.account is None else set()
        bulk: dict[str, list[str]] = {}
        for route in self.matching(command):
            if not route.state.at_venue:
                self._update(route, VenueEventKind.CANCELED, now, reason=Reason.USER_CANCELED.value)
                self._forget(route)
            elif route.venue in native:
                symbols = bulk.setdefault(route.venue, [])
                if route.spec.symbol not in symbols:
                    symbols.append(route.spec.symbol)
            else:
                self._cancel_at_venue(route)
        for venue, symbols in bulk.items():
            self.out.to(VENUE, venue, VenueCancelAll(symbols))


def routed(account: str, order_id: str, venue: str, child_id: str, spec: OrderSpec) -> AuditEvent:
    """The audit event of a child order sent to a venue (for a block: account "", its id)."""
    return AuditEvent(AuditKind.ROUTED, Routed(account, order_id, venue, child_id, spec.symbol, spec.side, spec.qty, spec.price))


def only_acceptances(messages: list[Message]) -> bool:
    """Whether every message is a venue's acceptance of a child order: for a route or a block
    it changes nothing and sends nothing (``Router._route_report``, ``blocks.py``), so a batch
    of them need not cost a commit of its own (``InstrumentActor.may_wait``)."""
    return all(type(message) is VenueReport and message.kind is _ACCEPTED for message in messages)
