"""The InstrumentActor's state and the primitives its parts share (see ``InstrumentBase``)."""

from __future__ import annotations

import structlog

from actors.instrument import opening
from actors.instrument.crossing import Nbbo
from actors.instrument.holding import OpenHolding
from actors.instrument.opening import Block
from actors.instrument.records import Book, Desk, Route
from actors.runtime.outputs import ACCOUNT, Dispatcher, Outputs
from model.config import VenueSection
from model.desk import DeskSetup
from model.enums import OrderType, SessionState, VenueEventKind
from model.instruments import Instrument
from model.liquidity import LiquidityPolicy
from model.messages import MarketUpdate, OrderUpdate
from model.routes import RouteEvent, RouteState, next_state

log = structlog.get_logger("instruments")

TERMINAL_KINDS = frozenset({VenueEventKind.CANCELED, VenueEventKind.EXPIRED, VenueEventKind.REJECTED})
_END, _INTERNAL = RouteEvent.END, RouteState.INTERNAL  # read on every route's end, bound once (model/enums.py says why)
_TRADE = VenueEventKind.TRADE


class InstrumentBase(Dispatcher):
    """An InstrumentActor's state and what every part of it uses: the one route mutator,
    the indexes of routes (by order id, by child id, held stops), and updates to accounts.

    The parts (``books``, ``router``, ``held``, ``blocks``) are mixins of this class;
    ``actors.instrument.core.InstrumentState`` puts them together.
    """

    def __init__(self, name: str, instruments: list[Instrument], venues: list[VenueSection], shards: int = 1, allocation_chunk: int = 1000) -> None:
        self.name = name
        self.shards = shards  # account shards: the open waits for its marker from each
        self.allocation_chunk = allocation_chunk  # fills per AllocationFills message (``[batching] max_messages``)
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
        self.marks_out: dict[str, MarketUpdate] = {}  # marks published, not yet taken (soft: not state; books.py)
        # each venue trade as (symbol, price, quantity, now), for the shell's bars
        # (``actors/instrument/bars.py``): soft, not state, and collected only once the shell
        # asks for it (``collect_trades``) — a replay or a core outside a shell keeps none
        self.trades_out: list[tuple[str, int, int, int]] | None = None
        self.venues = venues
        self._candidates: dict[tuple[str, OrderType], list[str]] = {}  # derived from ``venues``: not state
        self._fee_cache: dict[str, tuple[int, int]] = {}  # venue → (take fee, rebate): derived from ``venues``
        self.venue_sessions: dict[str, SessionState] = {}
        self.routes: dict[str, Route] = {}
        self.held_open = OpenHolding()  # market orders for the open, in columns (not in ``routes``)
        self.children: dict[str, str] = {}  # child_id → order_id
        self.stops: dict[str, dict[str, Route]] = {}  # symbol → held stops (derived from routes)
        self.child_counter = 0
        self.anomalies: list[str] = []
        # internal crossing (``internal.py``): the policy (journaled by ``SetLiquidity``), each
        # symbol's internal book — its ``internal`` routes in arrival order (derived from
        # ``routes``) — and the marketable routes of this turn that go to a venue at its end
        self.policy = LiquidityPolicy()
        self.internal: dict[str, list[Route]] = {}
        self.pending: list[Route] = []  # empty between turns (``end_turn``): not state
        self.crossing_stats: dict[str, int] = {}  # crosses and skips by reason (soft: status only)
        # derived, not state (``internal.py``): whether the policy ``covered_by`` covers each
        # symbol, and the last NBBO worked out for crossing as (book, now, policy, NBBO or why
        # not), forgotten whenever a book's quotes change (``books._consolidate``)
        self.covered: dict[str, bool] = {}
        self.covered_by: LiquidityPolicy | None = None
        self.nbbo_seen: tuple[Book, int, LiquidityPolicy, Nbbo | str] | None = None
        # the market-making desk (``quoting.py``): ``[desk]`` as journaled by ``SetDesk``, and
        # the desk of each symbol it quotes here (empty: no desk, and nothing on any path)
        self.desk_setup: DeskSetup | None = None
        self.desks: dict[str, Desk] = {}
        self.desk_day_seen: tuple[int, str, str] | None = None  # (second, time zone, its day): derived, not state (``quoting._desk_day``)
        self.out = Outputs()

    @staticmethod
    def _move(route: Route, event: RouteEvent) -> None:
        """The one way a route's state changes, by the table of ``model.routes`` (an event
        it does not allow raises)."""
        route.state = next_state(route.state, event)

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
        if kind is _TRADE and self.desks:  # a desk's fill moves its position (``quoting.py``)
            self._desk_fill(route, last_qty, last_price, now)

    def _desk_fill(self, route: Route, qty: int, price: int | None, now: int) -> None:
        """A trade of ``route`` while a desk exists: ``quoting.DeskQuoting`` counts its own."""

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
        for leg in route.legs or ():
            self.children[leg.child_id] = new_order_id

    def _thaw(self, order_id: str) -> Route | None:
        """The route of ``order_id``: from ``routes``, or out of the columns of orders held
        for the open into ``routes`` (something is about to touch it)."""
        route = self.routes.get(order_id)
        if route is None:
            route = self.held_open.take(order_id)
            if route is not None:
                self.routes[order_id] = route
        return route

    def _freeze(self, route: Route) -> None:
        """A route held for the open back into the columns, when it can be held there."""
        if self.held_open.add(route.order_id, route.account, route.spec, route.qty_cap, route.spec.symbol):
            del self.routes[route.order_id]

    def _forget(self, route: Route) -> None:
        """The route has ended here: out of every index."""
        if route.state is _INTERNAL:
            self.internal[route.spec.symbol].remove(route)
        self._move(route, _END)
        self.routes.pop(route.order_id, None)
        held = self.stops.get(route.spec.symbol)  # (no empty dict made per route for a symbol with no stops)
        if held:
            held.pop(route.order_id, None)
        if route.child_id is not None:
            self.children.pop(route.child_id, None)
        if route.legs is not None:
            for leg in route.legs:
                self.children.pop(leg.child_id, None)

    def collect_trades(self) -> None:
        """From now on keep each venue trade for ``take_trades`` (the shell's bars)."""
        if self.trades_out is None:
            self.trades_out = []

    def take_trades(self) -> list[tuple[str, int, int, int]]:
        """The venue trades since the last call (none unless ``collect_trades``)."""
        trades = self.trades_out
        if not trades:
            return []
        self.trades_out = []
        return trades

    def _traded(self, symbol: str, price: int | None, qty: int, now: int) -> None:
        if self.trades_out is not None and price is not None:
            self.trades_out.append((symbol, price, qty, now))

    def _anomaly(self, text: str) -> None:
        self.anomalies.append(text)
        log.warning("anomaly", actor=self.name, detail=text)


def update_for(order_id: str, account: str, kind: VenueEventKind, now: int, reason: str) -> OrderUpdate:
    return OrderUpdate(order_id, account, kind, 0, None, reason, "", now)
