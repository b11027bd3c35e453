"""InstrumentActor core: reference data, trading status, the consolidated quote, held orders
(stops waiting for their trigger, orders for the open) and routing to venues.

Pure and deterministic like every core: inputs carry ``now``; child ids are counters.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable
from typing import ClassVar

import msgspec
import structlog

from actors.instrument import opening
from actors.instrument.opening import Block, Constituents
from actors.runtime.outputs import ACCOUNT, ALL, DROP_COPY, GATEWAY, VENUE, Dispatcher, Outputs
from model import fixed
from model.config import VenueSection
from model.enums import AssetClass, OrderType, Reason, SessionState, Side, TimeInForce, VenueEventKind
from model.instruments import Instrument
from model.messages import (
    AdminCancelAll,
    AllocationReport,
    CancelRoute,
    MarketUpdate,
    OpenMarket,
    OrderUpdate,
    QuoteEvent,
    ReplaceRoute,
    RouteOrder,
    SetTradingStatus,
    StrikeNav,
    VenueCancel,
    VenueCancelAll,
    VenueNewOrder,
    VenueQuote,
    VenueReplace,
    VenueReport,
    VenueSessionChanged,
)
from model.orders import OrderSpec
from model.routes import RouteEvent, RouteState, next_state

log = structlog.get_logger("instruments")


_TERMINAL_KINDS = frozenset({VenueEventKind.CANCELED, VenueEventKind.EXPIRED, VenueEventKind.REJECTED})


class Route(msgspec.Struct, gc=False):
    """A client order as this actor works it: held here, or a child order at one venue."""

    order_id: str
    account: str
    spec: OrderSpec  # the terms as this actor works them: a triggered stop is a market or limit order here
    qty_cap: int | None
    state: RouteState  # moved only by ``_move``, by the table of ``model.routes``
    child_id: str | None = None
    venue: str | None = None
    cum_qty: int = 0
    # while ``replacing``: the order id, qty and price the venue has been asked for
    replacing_to: str | None = None
    replacing_qty: int | None = None
    replacing_price: int | None = None
    nav_strike: int = 0  # a fund order: the fund's strike (1: its first NAV) it fills at


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
    nav: int | None = None  # a mutual fund: the last NAV struck (a fund has no bid or ask)


class InstrumentState(Dispatcher):
    """Owns the symbols placed on this actor.

    Guarantees: every accepted RouteOrder ends in exactly one terminal OrderUpdate (filled,
    canceled, expired or rejected) sent to its account; a held order is never sent to a venue
    twice; quotes are consolidated as best bid (highest) and best offer (lowest) over venues.
    """

    def __init__(self, name: str, instruments: list[Instrument], venues: list[VenueSection], shards: int = 1) -> None:
        self.name = name
        self.shards = shards  # account shards: the open waits for its marker from each
        self.open_markers: dict[str, list[str]] = {}  # "open_id:symbols" → shards whose marker came
        self.opens_done: dict[int, list[int]] = {}  # open_id → [markers completed, orders released]
        self.nav_marks: dict[str, dict[str, int]] = {}  # fund → account shard → last strike whose marker came from it
        self.navs_struck: dict[str, list[int]] = {}  # fund → orders filled or expired at each of its strikes
        self.blocks: dict[str, Block] = {}  # block id → a block at a venue
        self.block_children: dict[str, str] = {}  # child id → block id
        self.block_counter = 0
        self.allocations = 0  # account orders allocated from blocks
        self.fills_allocated = 0  # ... of which got a fill (the others expire)
        self.residuals: dict[str, list[int]] = {}  # symbol → [qty, cash] no order could take (the firm's)
        self.done_blocks: list[opening.BlockDone] = []  # every finished block, for operators and the back office
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
        if book.instrument.asset_class is AssetClass.MUTUAL_FUND:
            if route.spec.order_type is not OrderType.MARKET:  # the account shard rejects these first; kept as a guard
                self._update(route, VenueEventKind.REJECTED, now, reason=Reason.UNSUPPORTED.value)
                self._forget(route)
                return
            # Never routed: it fills at the fund's next NAV after the cut-off it made at its
            # shard — the next strike whose marker had not passed that shard yet.
            self._move(route, RouteEvent.HOLD_NAV)
            route.nav_strike = self._marks_passed(route) + 1
            self.routes[route.order_id] = route
            return
        self.routes[route.order_id] = route
        if route.spec.tif is TimeInForce.OPG:
            # Held for the next open. Whether it came too late for today's is the account
            # shard's to decide (it answered ``open_passed`` at once, never ``new``): one
            # that passed the shard before the open's marker is released by that open.
            self._move(route, RouteEvent.HOLD_OPEN)
        elif route.spec.order_type.has_stop:
            self._move(route, RouteEvent.HOLD_STOP)
            self.stops.setdefault(route.spec.symbol, {})[route.order_id] = route
            self._trigger_stops(book, now)
        else:
            self._send_to_venue(route, now)

    def _cancel_route(self, command: CancelRoute, now: int) -> None:
        route = self.routes.get(command.order_id)
        if route is None:
            self.out.to(
                ACCOUNT,
                command.account,
                _update_for(command.order_id, command.account, VenueEventKind.CANCEL_REJECTED, now, Reason.TOO_LATE_TO_CANCEL.value),
            )
            return
        if route.state.at_venue:
            assert route.child_id is not None and route.venue is not None
            self.out.to(VENUE, route.venue, VenueCancel(route.child_id))
            return
        if self._past_cut_off(route):
            too_late = _update_for(route.order_id, route.account, VenueEventKind.CANCEL_REJECTED, now, Reason.TOO_LATE_TO_CANCEL.value)
            self.out.to(ACCOUNT, route.account, too_late)
            return
        self._update(route, VenueEventKind.CANCELED, now, reason=Reason.USER_CANCELED.value)
        self._forget(route)

    def _replace_route(self, command: ReplaceRoute, now: int) -> None:
        route = self.routes.get(command.order_id)
        if route is None:
            self.out.to(
                ACCOUNT,
                command.account,
                _update_for(command.order_id, command.account, VenueEventKind.REPLACE_REJECTED, now, Reason.TOO_LATE_TO_CANCEL.value),
            )
            return
        if route.state.at_venue:
            assert route.child_id is not None and route.venue is not None
            self._move(route, RouteEvent.REPLACE_SENT)  # the shard sends one replace at a time
            route.replacing_to = command.new_order_id
            route.replacing_qty, route.replacing_price = command.qty, command.price
            self.out.to(VENUE, route.venue, VenueReplace(route.child_id, command.qty, command.price))
            return
        if self._past_cut_off(route):
            too_late = _update_for(route.order_id, route.account, VenueEventKind.REPLACE_REJECTED, now, Reason.TOO_LATE_TO_CANCEL.value)
            self.out.to(ACCOUNT, route.account, too_late)
            return
        route.spec = msgspec.structs.replace(route.spec, qty=command.qty, price=command.price, stop_price=command.stop_price)
        self._update(route, VenueEventKind.REPLACED, now)
        self._rekey(route, command.new_order_id)
        if route.state is RouteState.HELD_STOP:
            self._trigger_stops(self.books[route.spec.symbol], now)

    # --- venue events ----------------------------------------------------------------------

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
        if report.kind is VenueEventKind.TRADE:
            route.cum_qty += report.last_qty
            done = report.done or (route.spec.qty is not None and route.cum_qty >= route.spec.qty)
            self._update(route, report.kind, now, report.last_qty, report.last_price, report.reason, done, report.venue)
            if done:
                self._forget(route)
            return
        if report.kind is VenueEventKind.ACCEPTED:
            return  # the client order is already new; the venue's acceptance changes nothing there
        self._update(route, report.kind, now, reason=report.reason, venue=report.venue)
        if report.kind is VenueEventKind.REPLACED and route.state is RouteState.REPLACING:
            assert route.replacing_to is not None
            self._move(route, RouteEvent.REPLACED)
            route.spec = msgspec.structs.replace(route.spec, qty=route.replacing_qty, price=route.replacing_price)
            self._rekey(route, route.replacing_to)
            route.replacing_to = route.replacing_qty = route.replacing_price = None
        elif report.kind is VenueEventKind.REPLACE_REJECTED and route.state is RouteState.REPLACING:
            self._move(route, RouteEvent.REPLACE_REFUSED)
            route.replacing_to = route.replacing_qty = route.replacing_price = None
        elif report.kind in _TERMINAL_KINDS:
            self._forget(route)

    def _venue_quote(self, quote: VenueQuote, now: int) -> None:
        book = self.books.get(quote.symbol)
        if book is None or book.instrument.asset_class is AssetClass.MUTUAL_FUND:
            return  # a fund trades only at its NAV: a venue's bid or ask for it means nothing here
        book.quotes[quote.venue] = quote
        self._consolidate(book, now)
        self._trigger_stops(book, now)

    def _venue_session(self, change: VenueSessionChanged, now: int) -> None:
        self.venue_sessions[change.venue] = change.state
        if change.state is not SessionState.CLOSED:
            return
        for book in self.books.values():  # a closed venue's last quote is stale: out of the consolidated book
            if book.quotes.pop(change.venue, None) is not None:
                self._consolidate(book, now)
        for route in list(self.routes.values()):
            if route.state is RouteState.HELD_STOP and route.spec.tif is TimeInForce.DAY and not self._any_venue_open(route.spec.symbol):
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
            and (command.symbol is None or route.spec.symbol == command.symbol)
            and (command.venue is None or route.venue == command.venue)
            and route.state is not RouteState.REPLACING
        ]

    def _admin_cancel_all(self, command: AdminCancelAll, now: int) -> None:
        """Held orders are canceled here; orders at a venue are canceled there: with one
        cancel-all per venue where the venue has its own and no account filter narrows it,
        else (emulated) with one cancel per order."""
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
                assert route.child_id is not None and route.venue is not None
                self.out.to(VENUE, route.venue, VenueCancel(route.child_id))
        for venue, symbols in bulk.items():
            self.out.to(VENUE, venue, VenueCancelAll(symbols))
        for block in self.matching_blocks(command):
            assert block.child_id is not None and block.venue is not None
            self.out.to(VENUE, block.venue, VenueCancel(block.child_id))

    def matching_blocks(self, command: AdminCancelAll) -> list[Block]:
        """Blocks at a venue an operator's cancel-all covers: not with an account filter (a
        block is many accounts' orders at once; what it filled is allocated, the rest expires)."""
        if command.account is not None:
            return []
        return [
            block
            for block in self.blocks.values()
            if (command.symbol is None or block.symbol == command.symbol) and (command.venue is None or block.venue == command.venue)
        ]

    # --- the open (see ``actors.instrument.opening``) -----------------------------------------

    def _open_market(self, command: OpenMarket, now: int) -> None:
        """The open's marker from one account shard; the open itself once every shard's has
        come (each shard sends it behind the orders it routed before it)."""
        if command.shard:
            key = f"{command.open_id}:{','.join(command.symbols)}"
            seen = self.open_markers.setdefault(key, [])
            if command.shard not in seen:
                seen.append(command.shard)
            if len(seen) < self.shards:
                return
            del self.open_markers[key]
        released = self._open(command.symbols, now)
        done = self.opens_done.setdefault(command.open_id, [0, 0])
        done[0] += 1
        done[1] += released

    def _open(self, symbols: list[str], now: int) -> int:
        """Release the orders queued for the open: per symbol, quantity orders netted into one
        block, notional orders into one cash block per side, limits one by one (IOC)."""
        wanted = set(symbols)
        held: dict[str, list[Route]] = {}
        for route in self.routes.values():
            if route.state is RouteState.HELD_OPEN and (not wanted or route.spec.symbol in wanted):
                held.setdefault(route.spec.symbol, []).append(route)
        released = 0
        for symbol in sorted(held):
            if self.books[symbol].halted:
                continue  # a halted symbol keeps its orders for the open until it resumes and opens again
            self._open_symbol(symbol, sorted(held[symbol], key=lambda route: route.order_id), now)
            released += len(held[symbol])
        return released

    def _open_symbol(self, symbol: str, routes: list[Route], now: int) -> None:
        quantity = {Side.BUY: Constituents(), Side.SELL: Constituents()}
        cash = {Side.BUY: Constituents(), Side.SELL: Constituents()}
        for route in routes:
            if route.spec.order_type is not OrderType.MARKET:
                route.spec = msgspec.structs.replace(route.spec, tif=TimeInForce.IOC)  # a limit on the open: what the open gives it, no more
                self._send_to_venue(route, now)
                continue
            self._move(route, RouteEvent.JOIN_BLOCK)
            del self.routes[route.order_id]  # the block answers for it from here on
            if route.spec.qty is not None:
                quantity[route.spec.side].add(route.order_id, route.account, route.spec.qty)
            else:
                assert route.spec.notional is not None
                cash[route.spec.side].add(route.order_id, route.account, route.spec.notional, route.qty_cap)
        buys, sells = quantity[Side.BUY].total, quantity[Side.SELL].total
        if buys or sells:
            side = Side.BUY if buys >= sells else Side.SELL
            larger, smaller = (quantity[Side.BUY], quantity[Side.SELL]) if side is Side.BUY else (quantity[Side.SELL], quantity[Side.BUY])
            block = self._new_block(symbol, side, notional=False, orders=larger, routed=abs(buys - sells))
            block.crossed, block.cross = smaller, min(buys, sells)
            self._route_block(
                block, VenueNewOrder(block.child_id or "", OrderSpec(symbol, side, OrderType.MARKET, TimeInForce.DAY, qty=block.routed)), now
            )
        for side, orders in cash.items():
            if orders.order_ids:
                cap = sum(orders.qty_caps) if side is Side.SELL and len(orders.qty_caps) == len(orders.order_ids) else None
                block = self._new_block(symbol, side, notional=True, orders=orders, routed=orders.total)
                self._route_block(
                    block,
                    VenueNewOrder(block.child_id or "", OrderSpec(symbol, side, OrderType.MARKET, TimeInForce.DAY, notional=block.routed), cap),
                    now,
                )

    def _new_block(self, symbol: str, side: Side, *, notional: bool, orders: Constituents, routed: int) -> Block:
        self.block_counter += 1
        block_id = f"{self.name}-B{self.block_counter}"
        return Block(block_id, symbol, side, notional, orders, routed)

    def _route_block(self, block: Block, order: VenueNewOrder, now: int) -> None:
        """Send the block to the venue with the best price for it; allocate at once when
        netting covered everything or no venue takes it."""
        venue = self.venue_for(block.symbol, block.side, OrderType.MARKET, order.spec.qty) if block.routed else None
        if venue is None:
            self._finish_block(block, now)
            return
        self.child_counter += 1
        block.child_id, block.venue = f"{self.name}-{self.child_counter}", venue
        self.blocks[block.block_id] = block
        self.block_children[block.child_id] = block.block_id
        self.out.to(VENUE, venue, msgspec.structs.replace(order, child_id=block.child_id))

    def _block_report(self, block: Block, report: VenueReport, now: int) -> None:
        if report.kind is VenueEventKind.TRADE:
            if report.last_price is None or report.last_qty <= 0:
                self._anomaly(f"{report.venue} bad trade for block {block.block_id}: {report.last_qty} at {report.last_price}")
                return
            block.fill_qty += report.last_qty
            block.fill_value += fixed.raw_value(report.last_qty, report.last_price, self.books[block.symbol].instrument.multiplier)
            if report.done or (not block.notional and block.fill_qty >= block.routed):
                self._finish_block(block, now)
        elif report.kind in _TERMINAL_KINDS:
            self._finish_block(block, now, report.reason)
        elif report.kind is not VenueEventKind.ACCEPTED:
            self._anomaly(f"{report.venue} {report.kind.value} for block {block.block_id}")

    def _finish_block(self, block: Block, now: int, reason: str | None = None) -> None:
        """Allocate what the block filled (and what netting crossed); expire the rest."""
        if block.child_id is not None:
            del self.block_children[block.child_id]
            del self.blocks[block.block_id]
        instrument = self.books[block.symbol].instrument
        reference = self.books[block.symbol].reference
        unfilled = reason if reason is not None and not block.fill_qty else Reason.NOT_FILLED_AT_OPEN.value
        venue = block.venue or ""
        price = opening.average_price(block, instrument.multiplier, reference)
        self.done_blocks.append(
            opening.BlockDone(
                block.block_id,
                block.symbol,
                block.side,
                block.notional,
                len(block.orders.order_ids),
                block.routed,
                block.cross,
                len(block.crossed.order_ids),
                block.fill_qty,
                block.value_nanos,
                block.value_subnanos,
                price,
                venue,
                now,
            )
        )
        for allocation in opening.allocate(block, instrument.qty_increment, instrument.multiplier, reference):
            for fill in allocation.fills:
                if fill.qty:
                    done = fill.asked_qty is None or fill.qty == fill.asked_qty
                    trade = OrderUpdate(
                        fill.order_id,
                        fill.account,
                        VenueEventKind.TRADE,
                        fill.qty,
                        allocation.price,
                        None,
                        venue,
                        now,
                        done,
                        fill.cash,
                        allocation.alloc_id,
                    )
                    self.out.to(ACCOUNT, fill.account, trade)
                    self.fills_allocated += 1
                if (fill.qty == 0) if fill.asked_qty is None else (fill.qty < fill.asked_qty):
                    expiry = OrderUpdate(fill.order_id, fill.account, VenueEventKind.EXPIRED, 0, None, unfilled, venue, now, True)
                    self.out.to(ACCOUNT, fill.account, expiry)
            self.allocations += len(allocation.fills)
            if allocation.residual_qty or allocation.residual_cash:
                residual = self.residuals.setdefault(block.symbol, [0, 0])
                residual[0] += allocation.residual_qty if allocation.side is Side.BUY else -allocation.residual_qty
                residual[1] += allocation.residual_cash if allocation.side is Side.SELL else -allocation.residual_cash
            accounts, qtys = opening.per_account(allocation.fills)
            if accounts:
                self.out.to(
                    DROP_COPY,
                    ALL,
                    AllocationReport(allocation.alloc_id, block.symbol, allocation.side, allocation.price, accounts, qtys, now),
                )

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

    _handlers: ClassVar[dict[type, Callable[..., None]]] = {
        AdminCancelAll: _admin_cancel_all,
        RouteOrder: _route_order,
        CancelRoute: _cancel_route,
        ReplaceRoute: _replace_route,
        VenueReport: _venue_report,
        VenueQuote: _venue_quote,
        VenueSessionChanged: _venue_session,
        SetTradingStatus: _set_trading_status,
        OpenMarket: _open_market,
        StrikeNav: _strike_nav,
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
        self._move(route, RouteEvent.SEND)
        self.children[route.child_id] = route.order_id
        self.out.to(
            VENUE,
            venue,
            VenueNewOrder(child_id=route.child_id, spec=route.spec, qty_cap=route.qty_cap),
        )

    def choose_venue(self, route: Route) -> str | None:
        return self.venue_for(route.spec.symbol, route.spec.side, route.spec.order_type, route.spec.qty)

    def venue_for(self, symbol: str, side: Side, order_type: OrderType, qty: int | None) -> str | None:
        """The venue with the best price for the order among those that trade the symbol,
        take its type and have their session open, preferring one whose displayed size
        covers it; config order breaks ties and is the fallback when no open venue quotes
        (when no session is known to be open, the first venue in config order)."""
        candidates = [v.name for v in self.venues if v.trades(symbol) and order_type.value in v.order_types]
        if not candidates:
            return None
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
        if book.instrument.asset_class is AssetClass.MUTUAL_FUND:
            # no bid or ask (it fills only at the NAV struck): its quote is the last NAV, once there is one
            if book.nav is not None:
                self.out.to(GATEWAY, ALL, QuoteEvent(symbol, None, 0, None, 0, now, nav=book.nav))
            return
        self.out.to(GATEWAY, ALL, QuoteEvent(symbol, book.bid, book.bid_size, book.ask, book.ask_size, now))

    def _any_venue_open(self, symbol: str) -> bool:
        return any(self.venue_sessions.get(v.name) is SessionState.OPEN for v in self.venues if v.trades(symbol))

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
        held = self.stops.get(route.spec.symbol) if route.state is RouteState.HELD_STOP else None
        if held is not None:
            del held[route.order_id]
            held[new_order_id] = route
        route.order_id = new_order_id
        self.routes[new_order_id] = route
        if route.child_id is not None:
            self.children[route.child_id] = new_order_id

    @staticmethod
    def _move(route: Route, event: RouteEvent) -> None:
        """The one way a route's state changes, by the table of ``model.routes`` (an event
        it does not allow raises)."""
        route.state = next_state(route.state, event)

    def _forget(self, route: Route) -> None:
        """The route has ended here: out of every index."""
        self._move(route, RouteEvent.END)
        self.routes.pop(route.order_id, None)
        self.stops.get(route.spec.symbol, {}).pop(route.order_id, None)
        if route.child_id is not None:
            self.children.pop(route.child_id, None)

    def _anomaly(self, text: str) -> None:
        self.anomalies.append(text)
        log.warning("anomaly", actor=self.name, detail=text)

    def held_for_open(self, symbol: str) -> list[Route]:
        return [r for r in self.routes.values() if r.state is RouteState.HELD_OPEN and r.spec.symbol == symbol]

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


def _update_for(order_id: str, account: str, kind: VenueEventKind, now: int, reason: str) -> OrderUpdate:
    return OrderUpdate(order_id, account, kind, 0, None, reason, "", now)
