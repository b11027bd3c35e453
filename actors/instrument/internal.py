"""The internal book: client orders crossed against each other before any goes to a venue.

A route the crossing policy covers (``model.liquidity``) meets the opposite side of its
symbol's internal book first, best price then arrival, at a price of ``crossing.py``'s rule.
What does not cross: a marketable order waits in the book until the end of the input turn
(so the marketable orders of one batch cross each other), then goes to a venue as today; a
non-marketable day or GTC limit order rests in the book when ``rest_limit_orders`` is on,
until it crosses, is canceled, or the market comes to it (then it goes to a venue).

An execution here is the same ``OrderUpdate`` trade a venue's fill becomes, with venue
``INTERNAL``, sent to each party's account shard: booking, reports, the drop copy and the
audit trail take it as they take any fill.
"""

from __future__ import annotations

import msgspec
import structlog

from actors.instrument import crossing
from actors.instrument.crossing import Nbbo
from actors.instrument.records import Book, Route
from actors.instrument.router import Router
from model.enums import OrderType, Reason, Side, TimeInForce, VenueEventKind
from model.messages import ReplaceRoute, SetLiquidity
from model.routes import RouteEvent, RouteState

log = structlog.get_logger("crossing")

INTERNAL = "INTERNAL"  # the venue of an internal execution
_BUY, _LIMIT, _MARKET = Side.BUY, OrderType.LIMIT, OrderType.MARKET
_RESTING_TIF = (TimeInForce.DAY, TimeInForce.GTC)
_TRADE, _INTERNAL, _DONE = VenueEventKind.TRADE, RouteState.INTERNAL, RouteState.DONE


class Internal(Router):
    """Guarantees: an internal execution's price is within the NBBO at that input and within
    both orders' limits (``crossing.py``); nothing crosses on a one-sided, crossed, locked
    (unless allowed) or stale NBBO; an order never crosses one of its own account's; a
    crossed quantity never goes to a venue (a child is sent for what is left); every route
    the book holds at the end of a turn is a resting limit order — the turn's marketable
    ones have gone to a venue."""

    def _work(self, route: Route, book: Book, now: int) -> None:
        """A route that is not held: crossed first when the policy covers it, the rest to a
        venue (now, or at the end of the turn), or resting in the internal book."""
        if not self._crossable(route, book):
            self._send_to_venue(route, now)
            return
        spec = route.spec
        # the cheap test first: an order that would neither take nor rest goes on at once (a
        # market order always takes: no NBBO is built to say so)
        limit = _limit(route)
        pending = limit is None or book.bid is None or book.ask is None or crossing.marketable(spec.side is _BUY, limit, Nbbo(book.bid, book.ask))
        if not pending and not (self.policy.rest_limit_orders and spec.tif in _RESTING_TIF):
            self._send_to_venue(route, now)
            return
        nbbo = self._nbbo(book, now)
        if isinstance(nbbo, str):
            self._send_to_venue(route, now)
            return
        # it takes what it can first, then rests what is left at the back of the book (as it
        # would have had it rested first: a cross only removes orders of the other side): an
        # order filled at once never enters the book
        self._cross(route, book, nbbo, now)
        if route.state is not _DONE:
            self._rest(route, pending=pending)

    def _crossable(self, route: Route, book: Book) -> bool:
        """The policy covers the symbol, and the order is a market or limit order with a
        quantity that may fill in parts (not fill-or-kill, not for the open)."""
        spec = route.spec
        covered = self.covered.get(spec.symbol) if self.covered_by is self.policy else None
        if covered is None:
            covered = self._cover(book)
        return (
            covered
            and spec.qty is not None
            and (spec.order_type is _MARKET or spec.order_type is _LIMIT)
            and spec.tif is not TimeInForce.FOK
            and spec.tif is not TimeInForce.OPG
            and not book.halted
        )

    def _cover(self, book: Book) -> bool:
        """Whether the policy covers ``book``'s symbol, remembered until the policy changes
        (``covered``: derived from the policy, not state)."""
        if self.covered_by is not self.policy:
            self.covered, self.covered_by = {}, self.policy
        covered = self.covered.get(book.instrument.symbol)
        if covered is None:
            covered = self.covered[book.instrument.symbol] = self.policy.covers(book.instrument.symbol, book.instrument.asset_class.value)
        return covered

    def _nbbo(self, book: Book, now: int) -> Nbbo | str:
        """The NBBO a cross may price from, or why not (``_crossing_nbbo``): a reason is
        counted, and logged when a symbol's reason changes."""
        nbbo = self._crossing_nbbo(book, now)
        if nbbo.__class__ is str:
            key = f"{book.instrument.symbol}:{nbbo}"
            if key not in self.crossing_stats:
                log.info("crossing stopped", actor=self.name, symbol=book.instrument.symbol, reason=nbbo)
            self.crossing_stats[key] = self.crossing_stats.get(key, 0) + 1
        return nbbo

    def _crossing_nbbo(self, book: Book, now: int) -> Nbbo | str:
        """The NBBO a cross may price from, or why not. Worked out once per book, input time
        and policy: the marketable orders of a batch share their record's time, and every
        change of a book's quotes forgets it (``Books._consolidate``)."""
        seen = self.nbbo_seen
        if seen is not None and seen[0] is book and seen[1] == now and seen[2] is self.policy:
            return seen[3]
        nbbo = crossing.nbbo_for_crossing(book.bid, book.ask, book.quotes.values(), now, self.policy)
        self.nbbo_seen = (book, now, self.policy, nbbo)
        return nbbo

    def _rest(self, route: Route, pending: bool) -> None:
        """Into the book, at the back (a replaced order comes back in ``internal``)."""
        book = self.internal.get(route.spec.symbol)
        if book is None:
            book = self.internal[route.spec.symbol] = []
        if route.state is _INTERNAL:
            book.remove(route)
        else:
            self._move(route, RouteEvent.REST_INTERNAL)
        book.append(route)
        if pending:
            self.pending.append(route)

    def _cross(self, route: Route, book: Book, nbbo: Nbbo, now: int) -> None:
        """``route`` (in the book, or arriving) against the opposite side, best price then
        arrival, while both have quantity left and a price is allowed."""
        side, account = route.spec.side, route.account
        opposite = [other for other in self.internal.get(route.spec.symbol, ()) if other.spec.side is not side and other.account != account]
        if not opposite:
            return  # the first of a pair, or one side of the book only: nothing to price
        buy = side is _BUY
        if len(opposite) > 1:  # one order needs no ranking (the sort is stable: arrival breaks ties)
            opposite.sort(key=lambda other: crossing.priority(not buy, _limit(other)))
        tick, rule, limit = book.instrument.tick_size, self.policy.price, _limit(route)
        crossed = 0
        for other in opposite:
            price = crossing.cross_price(nbbo, tick, rule, limit, _limit(other)) if buy else crossing.cross_price(nbbo, tick, rule, _limit(other), limit)
            if price is None:
                break  # the next is no better priced: nothing further crosses
            qty = min(_leaves(route), _leaves(other))
            self._fill_internal(other, qty, price, now)
            self._fill_internal(route, qty, price, now)
            crossed += 2
            if route.state is _DONE:
                break  # filled
        if crossed:
            self.crossing_stats["crossed"] = self.crossing_stats.get("crossed", 0) + crossed

    def _fill_internal(self, route: Route, qty: int, price: int, now: int) -> None:
        route.cum_qty += qty
        route.crossed += qty
        done = route.cum_qty == route.spec.qty
        self._update(route, _TRADE, now, qty, price, done=done, venue=INTERNAL)
        if done:
            self._forget(route)

    def end_turn(self, now: int) -> None:
        """The turn's marketable routes that did not cross in full go to a venue, in the
        order they came; then the market-making desks, if any, refresh their quotes
        (``quoting.py``). The shell calls this after each record's inputs, live and in replay."""
        if self.pending:
            pending, self.pending = self.pending, []
            for route in pending:
                if route.state is _INTERNAL:  # not filled, canceled or replaced into a resting order
                    self._send_to_venue(route, now)  # out of the book as it goes
        if self.desks:
            self._refresh_desks(now)

    def _refresh_desks(self, now: int) -> None:
        """Each desk's quotes brought to what it wants now (``quoting.DeskQuoting``)."""

    def _release_marketable(self, book: Book, now: int) -> None:
        """After a quote: resting orders the market has come to cross what they can, then go
        to a venue (a limit order in the book is never left marketable against the NBBO). On
        a locked NBBO that may not be crossed (``cross_locked`` off) they go to a venue
        uncrossed; on a stale, crossed or one-sided one, or while halted, they stay."""
        resting = self.internal.get(book.instrument.symbol)
        if not resting or book.halted:  # a halted symbol neither crosses nor routes
            return
        nbbo = crossing.nbbo_for_crossing(book.bid, book.ask, book.quotes.values(), now, self.policy)
        cross = not isinstance(nbbo, str)
        if isinstance(nbbo, str):
            if nbbo != crossing.LOCKED_MARKET or book.bid is None or book.ask is None:
                return
            if crossing.stale(book.bid, book.ask, book.quotes.values(), now, self.policy):
                return
            nbbo = Nbbo(book.bid, book.ask)  # a fresh locked market: nothing crosses, what it came to goes on
        for route in [r for r in resting if crossing.marketable(r.spec.side is _BUY, _limit(r), nbbo)]:
            if route.state is not _INTERNAL:
                continue  # filled by an earlier one of this loop
            if cross:
                self._cross(route, book, nbbo, now)
            if route.state is _INTERNAL and route not in self.pending and not (self.desks and self._is_desk_route(route)):
                self._send_to_venue(route, now)

    def _is_desk_route(self, route: Route) -> bool:
        """Whether ``route`` is a quote of the market-making desk (``quoting.py``)."""
        return False

    def _replace_internal(self, route: Route, command: ReplaceRoute, now: int) -> None:
        """New terms at once (no venue to ask); the order loses its time priority, and with
        its new price it may cross, or go to a venue.

        Guarantees: a replace to no more than has already crossed (crosses the shard had not
        heard of when it asked) is refused, ``too_late_to_cancel``, and changes nothing — as
        a venue or a split order refuses one its fills overtook (``_legs_ended``) — so a
        route never holds less than it has filled."""
        if command.qty <= route.cum_qty:
            self._update(route, VenueEventKind.REPLACE_REJECTED, now, reason=Reason.TOO_LATE_TO_CANCEL.value)
            return
        route.spec = msgspec.structs.replace(route.spec, qty=command.qty, price=command.price, stop_price=command.stop_price)
        self._update(route, VenueEventKind.REPLACED, now)
        self._rekey(route, command.new_order_id)
        if route in self.pending:
            self.pending.remove(route)
        book = self.books[route.spec.symbol]
        if book.halted:  # it waits, at the back, for the symbol to resume
            self._rest(route, pending=False)
            return
        self._work(route, book, now)

    def _set_liquidity(self, command: SetLiquidity, now: int) -> None:
        """The policy from now on; resting orders of symbols it no longer covers go to a venue."""
        self.policy = command.policy
        for symbol, resting in self.internal.items():
            book = self.books[symbol]
            if command.policy.covers(symbol, book.instrument.asset_class.value):
                continue
            for route in list(resting):
                if route not in self.pending:
                    self._send_to_venue(route, now)

    def _expire_day_internal(self, now: int) -> None:
        """Resting day orders whose symbol has no venue open any more expire (the day is over)."""
        for symbol, resting in self.internal.items():
            if not self._any_venue_open(symbol):
                for route in [r for r in resting if r.spec.tif is TimeInForce.DAY and r not in self.pending]:
                    self._update(route, VenueEventKind.EXPIRED, now, reason=Reason.END_OF_DAY.value)
                    self._forget(route)


def _limit(route: Route) -> int | None:
    return route.spec.price if route.spec.order_type is _LIMIT else None


def _leaves(route: Route) -> int:
    assert route.spec.qty is not None
    return route.spec.qty - route.cum_qty
