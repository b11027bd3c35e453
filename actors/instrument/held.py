"""Held orders: stops until their trigger, orders for the open until it, fund orders until
the fund's NAV — kept here, never at a venue, so they cancel and replace without one."""

from __future__ import annotations

import msgspec

from actors.instrument.base import update_for
from actors.instrument.books import Books
from actors.instrument.records import Book, Route
from actors.instrument.router import Router
from actors.runtime.outputs import ACCOUNT
from model import fixed
from model.enums import AssetClass, OrderType, Reason, Side, TimeInForce, VenueEventKind
from model.messages import ReplaceRoute, StrikeNav
from model.routes import RouteEvent, RouteState

_FUND, _OPG = AssetClass.MUTUAL_FUND, TimeInForce.OPG  # read on every route, bound once (model/enums.py)


class HeldOrders(Router, Books):
    """Guarantees: a held order is never sent to a venue twice (a stop leaves the stop index
    as it triggers; an order for the open leaves the held ones when the open releases it);
    a fund order fills at exactly one NAV, the first struck after its cut-off."""

    def _hold(self, route: Route, book: Book, now: int) -> bool:
        """Hold a route that waits for something here; ``False``: it goes to a venue now."""
        if book.instrument.asset_class is _FUND:
            # Never routed: it fills at the fund's next NAV after the cut-off it made at its
            # shard — the next strike whose marker had not passed that shard yet.
            self._move(route, RouteEvent.HOLD_NAV)
            route.nav_strike = self._marks_passed(route) + 1
        elif route.spec.tif is _OPG:
            # Held for the next open. Whether it came too late for today's is the account
            # shard's to decide (it answered ``open_passed`` at once, never ``new``): one
            # that passed the shard before the open's marker is released by that open.
            self._move(route, RouteEvent.HOLD_OPEN)
        elif route.spec.order_type.has_stop:
            self._move(route, RouteEvent.HOLD_STOP)
            self.stops.setdefault(route.spec.symbol, {})[route.order_id] = route
            self._trigger_stops(book, now)
        else:
            return False
        return True

    def _trigger_stops(self, book: Book, now: int) -> None:
        if book.halted:
            return
        held = self.stops.get(book.instrument.symbol)
        for route in list(held.values()) if held else ():
            assert route.spec.stop_price is not None
            if route.spec.side is Side.BUY:
                triggered = book.ask is not None and book.ask >= route.spec.stop_price
            else:
                triggered = book.bid is not None and book.bid <= route.spec.stop_price
            if triggered:
                assert held is not None
                del held[route.order_id]
                # from here a plain child order: a limit or market order with no stop
                order_type = OrderType.LIMIT if route.spec.order_type is OrderType.STOP_LIMIT else OrderType.MARKET
                route.spec = msgspec.structs.replace(route.spec, order_type=order_type, stop_price=None)
                self._send_to_venue(route, now)

    def _expire_day_stops(self, now: int) -> None:
        """Day stops whose symbol has no venue open any more expire (the day is over)."""
        for route in list(self.routes.values()):
            if route.state is RouteState.HELD_STOP and route.spec.tif is TimeInForce.DAY and not self._any_venue_open(route.spec.symbol):
                self._update(route, VenueEventKind.EXPIRED, now, reason=Reason.END_OF_DAY.value)
                self._forget(route)

    def _cancel_held(self, route: Route, now: int) -> None:
        if self._past_cut_off(route):
            too_late = update_for(route.order_id, route.account, VenueEventKind.CANCEL_REJECTED, now, Reason.TOO_LATE_TO_CANCEL.value)
            self.out.to(ACCOUNT, route.account, too_late)
            return
        self._update(route, VenueEventKind.CANCELED, now, reason=Reason.USER_CANCELED.value)
        self._forget(route)

    def _replace_held(self, route: Route, command: ReplaceRoute, now: int) -> None:
        """New terms at once (no venue to ask); a stop may trigger on them."""
        if self._past_cut_off(route):
            too_late = update_for(route.order_id, route.account, VenueEventKind.REPLACE_REJECTED, now, Reason.TOO_LATE_TO_CANCEL.value)
            self.out.to(ACCOUNT, route.account, too_late)
            return
        route.spec = msgspec.structs.replace(route.spec, qty=command.qty, price=command.price, stop_price=command.stop_price)
        self._update(route, VenueEventKind.REPLACED, now)
        self._rekey(route, command.new_order_id)
        if route.state is RouteState.HELD_OPEN:
            self._freeze(route)  # under its new id, in the columns again when it can be held there
        elif route.state is RouteState.HELD_STOP:
            self._trigger_stops(self.books[route.spec.symbol], now)

    def held_for_open(self, symbol: str) -> list[Route]:
        """The orders held for the open of ``symbol``: routes, then those in columns (as
        routes built for the answer; they stay in the columns)."""
        routes = [r for r in self.routes.values() if r.state is RouteState.HELD_OPEN and r.spec.symbol == symbol]
        return routes + self.held_open.peek(symbol)

    # --- mutual funds: the NAV ------------------------------------------------------------------

    def _strike_nav(self, command: StrikeNav, now: int) -> None:
        """One account shard's marker of a fund's NAV strike; the strike itself once every
        shard's marker of it has come (each shard sends it behind the orders it routed
        before it). A strike without a shard (journals from before markers) strikes at once.

        Guarantees: the fund's strikes happen once each, in their order; strike k fills every
        order routed by a shard before that shard's k-th marker and no order routed after it."""
        book = self.books.get(command.symbol)
        if book is None or book.instrument.asset_class is not AssetClass.MUTUAL_FUND or command.nav <= 0:
            self._anomaly(f"nav {command.nav} for {command.symbol} refused")
            return
        if not command.shard:
            self._strike(book, command.nav, None, now)
            return
        marks = self.nav_marks.setdefault(command.symbol, {})
        if command.strike <= marks.get(command.shard, 0):
            if command.strike < 1:
                self._anomaly(f"nav marker for {command.symbol} from {command.shard} without a strike number")
            return  # a repeat counts once
        marks[command.shard] = command.strike
        struck = len(self.navs_struck.get(command.symbol, ()))
        if len(marks) < self.shards or min(marks.values()) < command.strike or struck >= command.strike:
            return
        self._strike(book, command.nav, command.strike, now)

    def _strike(self, book: Book, nav: int, strike: int | None, now: int) -> None:
        """Fill every order held for the fund's ``strike`` (``None``: every order held) at
        ``nav`` — a notional order: the whole increments its cash buys — never at a venue."""
        instrument = book.instrument
        symbol = instrument.symbol
        book.reference = book.nav = nav
        held = sorted(
            (r for r in self.routes.values() if r.state is RouteState.HELD_NAV and r.spec.symbol == symbol and (strike is None or r.nav_strike <= strike)),
            key=lambda r: r.order_id,
        )
        for route in held:
            qty = route.spec.qty
            if qty is None:
                assert route.spec.notional is not None
                qty = fixed.qty_for_cash(route.spec.notional, nav, instrument.qty_increment, instrument.multiplier)
                if route.qty_cap is not None:
                    qty = min(qty, route.qty_cap)
            if qty:
                self._update(route, VenueEventKind.TRADE, now, qty, nav, done=True, venue="NAV")
            else:
                self._update(route, VenueEventKind.EXPIRED, now, reason=Reason.NO_LIQUIDITY.value, venue="NAV")
            self._forget(route)
        self.navs_struck.setdefault(symbol, []).append(len(held))
        self._publish(book, now)

    @property
    def nav_markers(self) -> int:
        """NAV markers received from the account shards (each fund's strikes are numbered)."""
        return sum(sum(shards.values()) for shards in self.nav_marks.values())

    def _marks_passed(self, route: Route) -> int:
        """How many of the fund's strike markers had passed the order's account shard when
        it routed the order (or a cancel or replace of it): order ids are the shard's name
        and its counter (``account-1-17``), and a shard's routes and markers arrive in order."""
        shard = route.order_id.rpartition("-")[0]
        return self.nav_marks.get(route.spec.symbol, {}).get(shard, 0)

    def _past_cut_off(self, route: Route) -> bool:
        """A fund order whose strike's marker has passed its shard: it is bound to that
        strike, so a cancel or replace sent after the cut-off is too late."""
        return route.state is RouteState.HELD_NAV and 0 < route.nav_strike <= self._marks_passed(route)
