"""The router: child orders at venues, their cancels and replaces, and what venues answer."""

from __future__ import annotations

import msgspec

from actors.instrument import sweep
from actors.instrument.base import TERMINAL_KINDS, InstrumentBase
from actors.instrument.records import Leg, Route
from actors.runtime.outputs import AUDIT, VENUE
from model import fixed
from model.audit import AuditEvent, AuditKind
from model.audit_bodies import Routed
from model.config import VenueSection
from model.enums import OrderType, Reason, SessionState, Side, TimeInForce, VenueEventKind
from model.messages import AdminCancelAll, Message, ReplaceRoute, VenueCancel, VenueCancelAll, VenueNewOrder, VenueReplace, VenueReport
from model.orders import OrderSpec
from model.routes import RouteEvent, RouteState

# members read on every route and venue report, bound once (model/enums.py says why)
_SEND, _INTERNAL, _DONE = RouteEvent.SEND, RouteState.INTERNAL, RouteState.DONE
_SWEEPABLE = (OrderType.MARKET, OrderType.LIMIT)
_TRADE, _ACCEPTED, _REPLACED, _REPLACE_REJECTED = (
    VenueEventKind.TRADE,
    VenueEventKind.ACCEPTED,
    VenueEventKind.REPLACED,
    VenueEventKind.REPLACE_REJECTED,
)


def _ending(route: Route, kind: VenueEventKind) -> VenueEventKind:
    """How ``route`` ends at its account when it ends ``kind``: a rejection of an order that
    has fills (what crossed before its child went out, a split order's filled children) is
    the cancel of the rest — its account's lifecycle has no rejection after a fill, and the
    fills stand. The venue's reason goes with it."""
    return VenueEventKind.CANCELED if kind is VenueEventKind.REJECTED and route.cum_qty else kind


class Router(InstrumentBase):
    """Guarantees: a route goes out once — to one venue, or split across several, one child
    each (child ids are a counter); a cancel or replace of a route at a venue goes to that
    venue (to each of a split order's open children); a venue's answer about a child
    reaches the account of the order it works for, under the order's current id."""

    def _send_to_venue(self, route: Route, now: int) -> None:
        """``route`` to a venue (``_dispatch``); one in the internal book leaves it.

        Guarantees: a route leaves the internal book once — routed, it is taken out here;
        rejected, no venue taking its type, ``_forget`` has taken it out."""
        resting = route.state is _INTERNAL
        self._dispatch(route, now, _SEND)
        if resting and route.state is not _DONE:  # what did not cross leaves the internal book
            self.internal[route.spec.symbol].remove(route)

    def _dispatch(self, route: Route, now: int, event: RouteEvent | None) -> None:
        """Child orders for what is left of ``route`` (``event``: the route's move, ``None``
        when it is already ``routed``, after a split order's replace): one, at the venue
        ``venue_for`` picks, or — splitting on and more than the best venue shows — one per
        venue of the sweep (``sweep.py``). No venue taking its type: the order ends,
        ``no_venue`` — rejected, or canceled when part of it has crossed (an order with fills
        keeps them: its account's lifecycle has no rejection after a fill)."""
        spec = route.spec
        route.offset = route.cum_qty  # what crossed (or filled before a replace) is no child's
        qty = None if spec.qty is None else spec.qty - route.offset
        legs = self._sweep(route, qty) if qty is not None and self.policy.split else None
        if legs is not None:
            if event is not None:
                self._move(route, event)
            self._send_legs(route, legs)
            return
        venue = self.venue_for(spec.symbol, spec.side, spec.order_type, qty)
        if venue is None:
            self._update(route, _ending(route, VenueEventKind.REJECTED), now, reason=Reason.NO_VENUE.value)
            self._forget(route)
            return
        self.child_counter += 1
        route.child_id = f"{self.name}-{self.child_counter}"
        route.venue = venue
        if event is not None:
            self._move(route, event)
        self.children[route.child_id] = route.order_id
        if qty != spec.qty:  # the child is for what did not cross internally
            spec = msgspec.structs.replace(spec, qty=qty)
        self.out.to(
            VENUE,
            venue,
            VenueNewOrder(child_id=route.child_id, spec=spec, qty_cap=route.qty_cap),
        )
        if self.out.audit:
            self.out.to(AUDIT, "", routed(route.account, route.order_id, venue, route.child_id, spec))

    def _sweep(self, route: Route, qty: int) -> list[sweep.Leg] | None:
        """The sweep of ``qty`` across the open venues quoting the symbol that take limit
        orders (each child is a limit at its venue's price), or ``None``: one child."""
        spec = route.spec
        if spec.order_type not in _SWEEPABLE or spec.tif is TimeInForce.FOK:  # fill-or-kill cannot be split
            return None
        book = self.books[spec.symbol]
        buy = spec.side is Side.BUY
        views = []
        for rank, venue in enumerate(self.venues):
            if not venue.trades(spec.symbol) or "limit" not in venue.order_types or spec.order_type.value not in venue.order_types:
                continue
            if self.venue_sessions.get(venue.name, SessionState.OPEN) is not SessionState.OPEN:
                continue
            quote = book.quotes.get(venue.name)
            price = None if quote is None else (quote.ask if buy else quote.bid)
            if quote is None or price is None:
                continue
            fee, rebate = self._fees(venue)
            views.append(sweep.VenueQuoteView(venue.name, price, quote.ask_size if buy else quote.bid_size, fee, rebate, rank))
        limit = spec.price if spec.order_type is OrderType.LIMIT else None
        return sweep.plan(buy, limit, qty, views, self.policy.remainder)

    def _send_legs(self, route: Route, legs: list[sweep.Leg]) -> None:
        route.legs = []
        for leg in legs:
            self.child_counter += 1
            child_id = f"{self.name}-{self.child_counter}"
            route.legs.append(Leg(child_id, leg.venue, leg.qty))
            self.children[child_id] = route.order_id
            if leg.price is None:  # the parent's terms
                spec = msgspec.structs.replace(route.spec, qty=leg.qty)
            else:
                spec = msgspec.structs.replace(route.spec, qty=leg.qty, order_type=OrderType.LIMIT, price=leg.price)
            self.out.to(VENUE, leg.venue, VenueNewOrder(child_id=child_id, spec=spec, qty_cap=route.qty_cap))
            if self.out.audit:
                self.out.to(AUDIT, "", routed(route.account, route.order_id, leg.venue, child_id, spec))
        route.child_id, route.venue = route.legs[0].child_id, route.legs[0].venue

    def _fees(self, venue: VenueSection) -> tuple[int, int]:
        """The venue's take fee and rebate per share, fixed-point (parsed once)."""
        fees = self._fee_cache.get(venue.name)
        if fees is None:
            fees = self._fee_cache[venue.name] = (fixed.parse(venue.take_fee), fixed.parse(venue.rebate))
        return fees

    def venue_for(self, symbol: str, side: Side, order_type: OrderType, qty: int | None) -> str | None:
        """The venue with the best price for the order, net of its take fee, among those
        that trade the symbol, take its type and have their session open, preferring one
        whose displayed size covers it; config order breaks ties and is the fallback when
        no open venue quotes (when no session is known to be open, the first venue in
        config order)."""
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
        sections = {v.name: v for v in self.venues}
        quoted = []
        for rank, name in enumerate(live):
            quote = book.quotes.get(name)
            price = None if quote is None else (quote.ask if side is Side.BUY else quote.bid)
            if price is None or quote is None:
                continue
            size = quote.ask_size if side is Side.BUY else quote.bid_size
            covers = qty is None or size >= qty
            fee = self._fees(sections[name])[0]
            better = price + fee if side is Side.BUY else -(price - fee)
            quoted.append((not covers, better, rank, name))
        return min(quoted)[3] if quoted else live[0]

    def _any_venue_open(self, symbol: str) -> bool:
        return any(self.venue_sessions.get(v.name) is SessionState.OPEN for v in self.venues if v.trades(symbol))

    def _cancel_at_venue(self, route: Route, venue: str | None = None) -> None:
        """Cancel the route's child; a split order's every open child (``venue``: those at
        that venue only)."""
        if route.legs is not None:
            for leg in route.legs:
                if not leg.done and (venue is None or leg.venue == venue):
                    self.out.to(VENUE, leg.venue, VenueCancel(leg.child_id))
            return
        assert route.child_id is not None and route.venue is not None
        self.out.to(VENUE, route.venue, VenueCancel(route.child_id))

    def _replace_at_venue(self, route: Route, command: ReplaceRoute) -> None:
        """Ask the venue; the route keeps its terms and id until the venue confirms. A split
        order's replace fans out as a cancel of every open child; once all have ended, the
        order takes its new terms and is routed again for what is left (``_legs_ended``)."""
        assert route.child_id is not None and route.venue is not None
        self._move(route, RouteEvent.REPLACE_SENT)  # the shard sends one replace at a time
        route.replacing_to = command.new_order_id
        route.replacing_qty, route.replacing_price = command.qty, command.price
        if route.legs is not None:
            self._cancel_at_venue(route)
            return
        # the venue's child is for what did not cross (or fill) before it went out: its new quantity is the rest
        self.out.to(VENUE, route.venue, VenueReplace(route.child_id, command.qty - route.offset, command.price))

    def _route_report(self, route: Route, report: VenueReport, now: int) -> None:
        """What a venue said about a route's child, passed on to its account."""
        if route.legs is not None:
            self._leg_report(route, report, now)
            return
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
        self._update(route, _ending(route, kind), now, reason=report.reason, venue=report.venue)
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

    def _leg_report(self, route: Route, report: VenueReport, now: int) -> None:
        """A split order's child: fills go to the account as they come; a child's end is
        the order's only once every child has ended (its parent stays working while any
        does), and a child's refused cancel is no answer while others work.

        Guarantees: the order's fills are the sum of its children's; it ends once, when
        it is filled or its last child ends — not filled, as the last child in time to end
        without filling did (``Leg.ended``)."""
        leg = next(leg for leg in route.legs or () if leg.child_id == report.child_id)
        kind = report.kind
        if kind is _TRADE:
            leg.cum_qty += report.last_qty
            route.cum_qty += report.last_qty
            filled = route.spec.qty is not None and route.cum_qty >= route.spec.qty
            self._update(route, kind, now, report.last_qty, report.last_price, report.reason, filled, report.venue)
            if filled:
                self._forget(route)
            elif all(leg.done for leg in route.legs or ()):
                self._legs_ended(route, now)
            return
        if kind in TERMINAL_KINDS and not leg.done:
            leg.end, leg.reason = kind, report.reason
            leg.ended = 1 + max(other.ended for other in route.legs or ())
            if all(leg.done for leg in route.legs or ()):
                self._legs_ended(route, now)
        # acceptances, refused cancels and replaces of one child: nothing for the order yet

    def _legs_ended(self, route: Route, now: int) -> None:
        """Every child of a split order has ended, not filled in full: a replace under way
        takes effect (the order routed again for what is left), else the order ends as its
        last child to end without filling did."""
        legs = route.legs or []
        if route.state is RouteState.REPLACING:
            assert route.replacing_to is not None and route.replacing_qty is not None
            if route.replacing_qty <= route.cum_qty:  # filled past the new size while the children were canceled
                self._update(route, VenueEventKind.REPLACE_REJECTED, now, reason=Reason.TOO_LATE_TO_CANCEL.value)
                self._move(route, RouteEvent.REPLACE_REFUSED)
                route.replacing_to = route.replacing_qty = route.replacing_price = None
            else:
                self._update(route, VenueEventKind.REPLACED, now)
                self._move(route, RouteEvent.REPLACED)
                route.spec = msgspec.structs.replace(route.spec, qty=route.replacing_qty, price=route.replacing_price)
                for leg in legs:
                    self.children.pop(leg.child_id, None)
                route.legs = route.child_id = route.venue = None
                self._rekey(route, route.replacing_to)
                route.replacing_to = route.replacing_qty = route.replacing_price = None
                self._dispatch(route, now, None)
                return
        # the last to end in time; among children that ended before a snapshot recorded when
        # (``ended`` 0, all before any later one), the last in list order (the sort is stable)
        last = sorted((leg for leg in legs if leg.end is not None), key=lambda leg: leg.ended)[-1]
        assert last.end is not None
        self._update(route, _ending(route, last.end), now, reason=last.reason, venue=last.venue)
        self._forget(route)

    def matching(self, command: AdminCancelAll) -> list[Route]:
        """Open routes the operator's cancel-all covers (with a venue filter: only orders
        working at that venue)."""
        return [
            route
            for route in self.routes.values()
            if (command.account is None or route.account == command.account)
            and (command.symbol is None or route.spec.symbol == command.symbol)
            and (command.venue is None or route.venue == command.venue or any(leg.venue == command.venue for leg in route.legs or ()))
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
            elif route.legs is not None:  # a split order: each open child at its venue
                for leg in route.legs:
                    if leg.done or (command.venue is not None and leg.venue != command.venue):
                        continue
                    if leg.venue in native:
                        symbols = bulk.setdefault(leg.venue, [])
                        if route.spec.symbol not in symbols:
                            symbols.append(route.spec.symbol)
                    else:
                        self.out.to(VENUE, leg.venue, VenueCancel(leg.child_id))
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
