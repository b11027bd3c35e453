"""InstrumentActor core: reference data, trading status, the consolidated quote, held orders
(stops waiting for their trigger, orders for the open, fund orders) and routing to venues.

Pure and deterministic like every core: inputs carry ``now``; child ids are counters.

``InstrumentState`` puts together the actor's parts, one idea per module: ``base`` (the
state, the one route mutator, updates to accounts), ``books`` (quotes consolidated),
``router`` (child orders at venues and their answers), ``held`` (stops, orders for the
open, fund orders and the NAV) and ``blocks`` (the open's blocks and their allocation).
This module holds the handler table, which sends each input to the part it concerns, the
invariants and the hash.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable
from typing import ClassVar

import msgspec

from actors.instrument.base import update_for
from actors.instrument.blocks import OpenBlocks
from actors.instrument.books import Books
from actors.instrument.held import HeldOrders
from actors.instrument.records import Route
from actors.runtime.outputs import ACCOUNT
from model.enums import AssetClass, OrderType, Reason, SessionState, VenueEventKind
from model.messages import (
    AdminCancelAll,
    CancelRoute,
    OpenMarket,
    ReplaceRoute,
    RouteOrder,
    SetTradingStatus,
    StrikeNav,
    VenueQuote,
    VenueReport,
    VenueSessionChanged,
)
from model.routes import RouteState


class InstrumentState(OpenBlocks, HeldOrders, Books):
    """Owns the symbols placed on this actor.

    Guarantees: every accepted RouteOrder ends in exactly one terminal OrderUpdate (filled,
    canceled, expired or rejected) sent to its account; a held order is never sent to a venue
    twice; quotes are consolidated as best bid (highest) and best offer (lowest) over venues.
    """

    # --- orders from account shards ----------------------------------------------------------

    def _route_order(self, command: RouteOrder, now: int) -> None:
        book = self.books.get(command.spec.symbol)
        if book is None or command.order_id in self.routes:
            self._anomaly(f"route for {command.order_id} in {command.spec.symbol} refused")
            return
        route = Route(
            order_id=command.order_id,
            account=sys.intern(command.account),  # one string per account, not per order
            spec=msgspec.structs.replace(command.spec, symbol=book.instrument.symbol),  # one string per symbol, not per order
            qty_cap=command.qty_cap,
            state=RouteState.NEW,
        )
        if book.halted:
            self._update(route, VenueEventKind.REJECTED, now, reason=Reason.HALTED.value)
            self._forget(route)
            return
        if book.instrument.asset_class is AssetClass.MUTUAL_FUND and route.spec.order_type is not OrderType.MARKET:
            # the account shard rejects these first; kept as a guard
            self._update(route, VenueEventKind.REJECTED, now, reason=Reason.UNSUPPORTED.value)
            self._forget(route)
            return
        self.routes[route.order_id] = route
        if not self._hold(route, book, now):
            self._send_to_venue(route, now)

    def _cancel_route(self, command: CancelRoute, now: int) -> None:
        route = self.routes.get(command.order_id)
        if route is None:
            too_late = update_for(command.order_id, command.account, VenueEventKind.CANCEL_REJECTED, now, Reason.TOO_LATE_TO_CANCEL.value)
            self.out.to(ACCOUNT, command.account, too_late)
        elif route.state.at_venue:
            self._cancel_at_venue(route)
        else:
            self._cancel_held(route, now)

    def _replace_route(self, command: ReplaceRoute, now: int) -> None:
        route = self.routes.get(command.order_id)
        if route is None:
            too_late = update_for(command.order_id, command.account, VenueEventKind.REPLACE_REJECTED, now, Reason.TOO_LATE_TO_CANCEL.value)
            self.out.to(ACCOUNT, command.account, too_late)
        elif route.state.at_venue:
            self._replace_at_venue(route, command)
        else:
            self._replace_held(route, command, now)

    # --- venues ------------------------------------------------------------------------------

    def _venue_report(self, report: VenueReport, now: int) -> None:
        block_id = self.block_children.get(report.child_id)
        if block_id is not None:
            self._block_report(self.blocks[block_id], report, now)
            return
        order_id = self.children.get(report.child_id)
        route = self.routes.get(order_id) if order_id else None
        if route is None:
            self._anomaly(f"{report.venue} report for unknown child {report.child_id}: {report.kind.value}")
            return
        self._route_report(route, report, now)

    def _venue_quote(self, quote: VenueQuote, now: int) -> None:
        book = self._take_quote(quote, now)
        if book is not None:
            self._trigger_stops(book, now)

    def _venue_session(self, change: VenueSessionChanged, now: int) -> None:
        self.venue_sessions[change.venue] = change.state
        if change.state is not SessionState.CLOSED:
            return
        self._drop_quotes(change.venue, now)
        self._expire_day_stops(now)

    # --- the operator ------------------------------------------------------------------------

    def _admin_cancel_all(self, command: AdminCancelAll, now: int) -> None:
        """Every route and block the operator's filters cover (see ``matching`` and
        ``matching_blocks``)."""
        self._cancel_matching_routes(command, now)
        self._cancel_matching_blocks(command)

    _handlers: ClassVar[dict[type, Callable[..., None]]] = {
        AdminCancelAll: _admin_cancel_all,
        RouteOrder: _route_order,
        CancelRoute: _cancel_route,
        ReplaceRoute: _replace_route,
        VenueReport: _venue_report,
        VenueQuote: _venue_quote,
        VenueSessionChanged: _venue_session,
        SetTradingStatus: Books._set_trading_status,
        OpenMarket: OpenBlocks._open_market,
        StrikeNav: HeldOrders._strike_nav,
    }

    # --- checks ------------------------------------------------------------------------------

    def check_invariants(self) -> None:
        for child_id, block_id in self.block_children.items():
            assert self.blocks[block_id].child_id == child_id, child_id
        assert len(self.block_children) == len(self.blocks), "a block without its child order"
        held = {r.order_id for r in self.routes.values() if r.state is RouteState.HELD_STOP}
        assert held == {order_id for stops in self.stops.values() for order_id in stops}, "stop index out of step"
        for child_id, order_id in self.children.items():
            route = self.routes[order_id]
            assert route.child_id == child_id and route.state.at_venue, child_id
        for route in self.routes.values():
            assert route.state is not RouteState.NEW and route.state is not RouteState.DONE, route.order_id
            assert (route.replacing_to is not None) == (route.state is RouteState.REPLACING), route.order_id
            assert (route.child_id is not None) == route.state.at_venue, route.order_id
            if route.spec.qty is not None:
                assert 0 <= route.cum_qty <= route.spec.qty, route.order_id

    def state_hash(self) -> str:
        state = (
            self.books,
            self.venue_sessions,
            self.routes,
            self.children,
            self.child_counter,
            self.blocks,
            self.block_counter,
            self.open_markers,
            self.opens_done,
            self.nav_marks,
            self.navs_struck,
            self.allocations,
            self.fills_allocated,
            self.residuals,
            self.done_blocks,
        )
        return hashlib.sha256(msgspec.msgpack.encode(state)).hexdigest()
