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
from actors.instrument.holding import HeldColumns, OpenHolding, eligible
from actors.instrument.opening import Block, BlockDone
from actors.instrument.quoting import DeskQuoting
from actors.instrument.records import Book, Desk, DeskQuote, Route
from actors.runtime.outputs import ACCOUNT
from model.config import VenueSection
from model.desk import DeskSetup
from model.enums import AssetClass, OrderType, Reason, SessionState, TimeInForce, VenueEventKind
from model.liquidity import LiquidityPolicy
from model.messages import (
    AdminCancelAll,
    CancelRoute,
    DeskControl,
    DeskOrderRefused,
    DeskRoute,
    OpenMarket,
    ReplaceRoute,
    RouteOrder,
    SetDesk,
    SetLiquidity,
    SetTradingStatus,
    StrikeNav,
    VenueQuote,
    VenueReport,
    VenueSessionChanged,
)
from model.routes import RouteState

_NEW, _FUND, _OPG = RouteState.NEW, AssetClass.MUTUAL_FUND, TimeInForce.OPG  # read on every route, bound once (model/enums.py)


class InstrumentSnapshot(msgspec.Struct):
    """An InstrumentActor in a snapshot: its books (with the reference data it was built
    with), venues, routes and blocks in the order it holds them, the open's and the NAV's
    markers, and its counters."""

    kind: ClassVar[str] = "instrument"

    name: str
    shards: int
    books: list[Book]
    venues: list[VenueSection]
    venue_sessions: dict[str, SessionState]
    routes: list[Route]
    child_counter: int
    blocks: list[Block]
    block_counter: int
    open_markers: dict[str, list[str]]
    opens_done: dict[int, list[int]]
    nav_marks: dict[str, dict[str, int]]
    navs_struck: dict[str, list[int]]
    allocations: int
    fills_allocated: int
    residuals: dict[str, list[int]]
    done_blocks: list[BlockDone]
    anomalies: list[str]
    # orders held for the open in columns (``holding``); snapshots of version 3 have none:
    # their orders for the open are all in ``routes`` and go into the columns on restore
    held_open: HeldColumns | None = None
    allocation_chunk: int = 1000  # fills per AllocationFills message: ``[batching] max_messages`` when the actor was first built
    policy: LiquidityPolicy | None = None  # the crossing and splitting policy journaled last (``SetLiquidity``); none: both off
    desk_setup: DeskSetup | None = None  # ``[desk]`` journaled last (``SetDesk``); none: never had a desk
    desks: list[Desk] | None = None  # the market-making desk of each symbol it quotes here (``quoting.py``)


class InstrumentState(OpenBlocks, HeldOrders, DeskQuoting, Books):
    """Owns the symbols placed on this actor.

    Guarantees: every accepted RouteOrder ends in exactly one terminal OrderUpdate (filled,
    canceled, expired or rejected) sent to its account; a held order is never sent to a venue
    twice; quotes are consolidated as best bid (highest) and best offer (lowest) over venues.
    """

    # --- orders from account shards ----------------------------------------------------------

    def _route_order(self, command: RouteOrder, now: int, quote: DeskQuote | None = None) -> None:
        """An accepted order: held here, worked (crossed internally first where the policy
        says, ``internal.py``), or refused. ``quote``: the market-making desk's quote it is
        the route of (``quoting.DeskQuoting._desk_route``), worked as the desk's."""
        book = self.books.get(command.spec.symbol)
        spec = command.spec
        held: bool | None = False
        if book is not None and command.order_id not in self.routes and not book.halted and spec.tif is _OPG and book.instrument.asset_class is not _FUND:
            # held for the open: a market order as a row of the columns (``holding``), no Route
            held = self.held_open.add(command.order_id, command.account, spec, command.qty_cap, book.instrument.symbol)
            if held:
                return
        if book is None or held is None or command.order_id in self.routes or command.order_id in self.held_open:
            self._anomaly(f"route for {command.order_id} in {command.spec.symbol} refused")
            return
        route = Route(
            order_id=command.order_id,
            account=sys.intern(command.account),  # one string per account, not per order
            spec=msgspec.structs.replace(spec, symbol=book.instrument.symbol),  # one string per symbol, not per order
            qty_cap=command.qty_cap,
            state=_NEW,
        )
        if book.halted:
            self._update(route, VenueEventKind.REJECTED, now, reason=Reason.HALTED.value)
            self._forget(route)
            return
        if book.instrument.asset_class is _FUND and route.spec.order_type is not OrderType.MARKET:
            # the account shard rejects these first; kept as a guard
            self._update(route, VenueEventKind.REJECTED, now, reason=Reason.UNSUPPORTED.value)
            self._forget(route)
            return
        self.routes[route.order_id] = route
        if quote is not None:
            self._work_quote(route, book, quote, now)  # a day limit order: never held
        elif not self._hold(route, book, now):
            self._work(route, book, now)

    def _cancel_route(self, command: CancelRoute, now: int) -> None:
        route = self._thaw(command.order_id)
        if route is None:
            too_late = update_for(command.order_id, command.account, VenueEventKind.CANCEL_REJECTED, now, Reason.TOO_LATE_TO_CANCEL.value)
            self.out.to(ACCOUNT, command.account, too_late)
        elif route.state.at_venue:
            self._cancel_at_venue(route)
        else:
            self._cancel_held(route, now)

    def _replace_route(self, command: ReplaceRoute, now: int) -> None:
        route = self._thaw(command.order_id)
        if route is None:
            too_late = update_for(command.order_id, command.account, VenueEventKind.REPLACE_REJECTED, now, Reason.TOO_LATE_TO_CANCEL.value)
            self.out.to(ACCOUNT, command.account, too_late)
        elif route.state.at_venue:
            self._replace_at_venue(route, command)
        elif route.state is RouteState.INTERNAL:
            self._replace_internal(route, command, now)
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
            self._release_marketable(book, now)

    def _venue_session(self, change: VenueSessionChanged, now: int) -> None:
        self.venue_sessions[change.venue] = change.state
        if change.state is not SessionState.CLOSED:
            return
        self._drop_quotes(change.venue, now)
        self._expire_day_stops(now)
        self._expire_day_internal(now)

    # --- the operator ------------------------------------------------------------------------

    def _admin_cancel_all(self, command: AdminCancelAll, now: int) -> None:
        """Every route and block the operator's filters cover (see ``matching`` and
        ``matching_blocks``); orders held for the open in columns are thawed first."""
        if command.venue is None:  # a held order is at no venue: a venue filter never covers it
            for route in self.held_open.take_matching(command.account, command.symbol):
                self.routes[route.order_id] = route
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
        SetLiquidity: DeskQuoting._set_liquidity,
        SetDesk: DeskQuoting._set_desk,
        DeskControl: DeskQuoting._desk_control,
        DeskRoute: DeskQuoting._desk_route,
        DeskOrderRefused: DeskQuoting._desk_refused,
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
            legs = route.legs or ()
            assert (route.child_id == child_id or any(leg.child_id == child_id for leg in legs)) and route.state.at_venue, child_id
        for route in self.routes.values():
            assert route.state is not RouteState.NEW and route.state is not RouteState.DONE, route.order_id
            assert (route.replacing_to is not None) == (route.state is RouteState.REPLACING), route.order_id
            assert (route.child_id is not None) == route.state.at_venue, route.order_id
            if route.spec.qty is not None:
                assert 0 <= route.cum_qty <= route.spec.qty, route.order_id
            if route.legs is not None:  # a split order: its children cover what was left when they went out
                assert route.state.at_venue and route.child_id == route.legs[0].child_id, route.order_id
                assert route.spec.qty is not None and sum(leg.qty for leg in route.legs) == route.spec.qty - route.offset, route.order_id
                assert sum(leg.cum_qty for leg in route.legs) == route.cum_qty - route.offset, route.order_id
                ended = [leg.ended for leg in route.legs if leg.ended]  # each child's end in its own place
                assert len(set(ended)) == len(ended) and all(leg.end is not None for leg in route.legs if leg.ended), route.order_id
            if route.state is RouteState.HELD_OPEN:  # held in columns whenever it can be
                assert eligible(route.order_id, route.spec, route.qty_cap) is None, route.order_id
                assert route.order_id not in self.held_open, route.order_id
        self.held_open.check()
        resting = [route for routes in self.internal.values() for route in routes]
        assert [r.order_id for r in resting if r.state is RouteState.INTERNAL] == [r.order_id for r in resting], "internal book out of step"
        assert {r.order_id for r in resting} == {r.order_id for r in self.routes.values() if r.state is RouteState.INTERNAL}, "internal book out of step"
        for route in self.routes.values():
            assert 0 <= route.crossed <= route.cum_qty, route.order_id
        for symbol, desk in self.desks.items():  # each quote once, and a routed one is its account's order in its symbol
            assert desk.symbol == symbol and symbol in self.books, symbol
            assert len({q.client_order_id for q in desk.quotes}) == len(desk.quotes), f"desk {symbol}: a quote twice"
            for quote in desk.quotes:
                quoted = None if quote.order_id is None else self.routes.get(quote.order_id)
                assert quoted is None or (quoted.account == desk.account and quoted.spec.symbol == symbol), quote.client_order_id

    # --- snapshots ------------------------------------------------------------------------

    snapshot_type: ClassVar[type[InstrumentSnapshot]] = InstrumentSnapshot

    def snapshot(self) -> InstrumentSnapshot:
        """The state as it stands (encode it before anything changes: records are shared)."""
        return InstrumentSnapshot(
            name=self.name,
            shards=self.shards,
            books=list(self.books.values()),
            venues=self.venues,
            venue_sessions=self.venue_sessions,
            routes=list(self.routes.values()),
            child_counter=self.child_counter,
            blocks=list(self.blocks.values()),
            block_counter=self.block_counter,
            open_markers=self.open_markers,
            opens_done=self.opens_done,
            nav_marks=self.nav_marks,
            navs_struck=self.navs_struck,
            allocations=self.allocations,
            fills_allocated=self.fills_allocated,
            residuals=self.residuals,
            done_blocks=self.done_blocks,
            anomalies=self.anomalies,
            held_open=self.held_open.columns(),
            allocation_chunk=self.allocation_chunk,
            policy=self.policy if self.policy != LiquidityPolicy() else None,
            desk_setup=self.desk_setup,
            desks=list(self.desks.values()) or None,
        )

    def records(self) -> int:
        """The routes and the block orders a snapshot holds: what its size grows with (``Snapshotter``)."""
        in_blocks = sum(len(b.orders.order_ids) + len(b.crossed.order_ids) for b in self.blocks.values())
        return len(self.routes) + len(self.held_open) + in_blocks + len(self.done_blocks)

    @classmethod
    def restore(cls, state: InstrumentSnapshot) -> InstrumentState:
        """The actor ``snapshot`` described. The indexes — routes by child id, held stops by
        symbol (in the routes' order, which is the order they trigger in) and blocks by
        child id — are rebuilt from the routes and the blocks."""
        core = cls(state.name, [book.instrument for book in state.books], state.venues, state.shards, state.allocation_chunk)
        core.books = {book.instrument.symbol: book for book in state.books}
        core.venue_sessions, core.child_counter, core.block_counter = state.venue_sessions, state.child_counter, state.block_counter
        core.open_markers, core.opens_done, core.nav_marks, core.navs_struck = state.open_markers, state.opens_done, state.nav_marks, state.navs_struck
        core.allocations, core.fills_allocated, core.residuals = state.allocations, state.fills_allocated, state.residuals
        core.done_blocks, core.anomalies = state.done_blocks, state.anomalies
        symbols = {symbol: symbol for symbol in core.books}
        if state.held_open is not None:
            core.held_open = OpenHolding.restore(state.held_open, symbols)
        routes = []
        for route in state.routes:
            # a snapshot written before the columns holds its orders for the open as routes
            symbol = symbols.get(route.spec.symbol)
            if route.state is RouteState.HELD_OPEN and symbol is not None and core.held_open.add(route.order_id, route.account, route.spec, route.qty_cap, symbol):
                continue
            routes.append(route)
        core.routes = {route.order_id: route for route in routes}
        core.children = {route.child_id: route.order_id for route in routes if route.child_id is not None}
        core.children.update((leg.child_id, route.order_id) for route in routes for leg in route.legs or ())
        intern = sys.intern
        for route in routes:
            route.account = intern(route.account)  # one string per account, as when routed
            if route.state is RouteState.HELD_STOP:
                core.stops.setdefault(route.spec.symbol, {})[route.order_id] = route
            elif route.state is RouteState.INTERNAL:  # the book's order is the routes' (a replace moves both to the back)
                core.internal.setdefault(route.spec.symbol, []).append(route)
        if state.policy is not None:
            core.policy = state.policy
        core.desk_setup = state.desk_setup
        core.desks = {desk.symbol: desk for desk in state.desks or ()}
        core.blocks = {block.block_id: block for block in state.blocks}
        core.block_children = {block.child_id: block.block_id for block in state.blocks if block.child_id is not None}
        return core

    def state_hash(self) -> str:
        state: tuple[object, ...] = (
            self.books,
            self.venue_sessions,
            self.routes,
            self.held_open.digest(),
            sorted(self.children.items()),  # an index of the routes: its order means nothing
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
            self.policy,
        )
        if self.desk_setup is not None or self.desks:  # a state that never had a desk hashes as before there was one
            state += (self.desk_setup, list(self.desks.values()))
        return hashlib.sha256(msgspec.msgpack.encode(state)).hexdigest()
