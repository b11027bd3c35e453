"""The market-making desk, wired: each quoted symbol's desk lives in its InstrumentActor,
which holds the consolidated quote it prices from and the internal book its quotes rest in.

At the end of every input turn the desk of each symbol compares the quotes it wants
(``desk.wanted`` around the NBBO's mid) with those it has (``desk.refresh``) and sends
what changes as orders of its own account: a new quote is a ``DeskOrder`` to the
account's shard, which checks, holds and reports it exactly like a client's order and
sends its route back as a ``DeskRoute``; a pulled quote is a ``CancelOrder`` to the shard,
which cancels it here like any. A quote rests in the internal book, where client orders
cross it (``internal.py``), or — a copy of each level, with ``[desk] at_venues`` — goes to
a venue like any order. Fills of its routes, internal or at a venue, move its position and
cash here (``desk.on_fill``) as the shard books them there.

Guarantees:

* **Never through its limits.** A quote is placed for at most what ``max_position`` leaves
  after the desk's position and every quote it has — at the shard, working, or asked to
  cancel and not yet ended (``desk.refresh``); a fill can only come from one of those.
* **Stopped stays stopped.** Past ``max_loss`` (its fills, the position at the mid), or
  when the shard refuses a quote, the desk pulls every quote and places none until an
  operator's ``desk start`` — which a loss still over the day's limit does not lift.
* **Replayed exactly.** Every decision reads only journaled inputs (quotes, fills, the
  operator's commands, ``SetDesk``) and the input's time; the desks are in the snapshot.
"""

from __future__ import annotations

import sys
from datetime import date
from typing import Any

import structlog

from actors.instrument import crossing, desk
from actors.instrument.desk import Quote, Working
from actors.instrument.internal import Internal
from actors.instrument.records import Book, Desk, DeskQuote, Route
from actors.runtime.outputs import ACCOUNT
from model import fixed
from model.calendar import NS_PER_SECOND, trading_day
from model.desk import view
from model.enums import OrderType, Side, TimeInForce
from model.messages import CancelOrder, DeskControl, DeskOrder, DeskOrderRefused, DeskRoute, RouteOrder, SetDesk
from model.orders import OrderSpec

log = structlog.get_logger("desk")

VENUE_LEVEL = 1000  # a quote's level from here up: the copy of level − VENUE_LEVEL at a venue
STOPPED, MAX_LOSS, REFUSED = "stopped", "max_loss", "refused"


class DeskQuoting(Internal):
    """The desks of this actor's symbols (``self.desks``) and ``[desk]`` as journaled
    (``self.desk_setup``)."""

    # --- inputs ------------------------------------------------------------------------------

    def _set_desk(self, command: SetDesk, now: int) -> None:
        """``[desk]`` from now on: a symbol it no longer names is stopped (its quotes pulled);
        a symbol whose configured terms changed takes them (over any tune); another account
        starts the symbol's desk afresh, its old account's quotes canceled."""
        setup = command.setup
        self.desk_setup = setup
        configured = {params.symbol: params for params in setup.params}
        for symbol, current in list(self.desks.items()):
            if symbol not in configured:
                current.book.stopped = STOPPED
            elif current.account != setup.account:
                for quote in current.quotes:
                    self.out.to(ACCOUNT, current.account, CancelOrder(current.account, quote.client_order_id))
                del self.desks[symbol]
        for symbol, params in configured.items():
            if symbol not in self.books:
                self._anomaly(f"desk for {symbol}, not a symbol of this actor")
                continue
            existing = self.desks.get(symbol)
            if existing is None:
                self.desks[symbol] = Desk(symbol, sys.intern(setup.account), setup.at_venues, params, params)
                continue
            existing.at_venues = setup.at_venues
            if existing.configured != params:
                existing.configured = existing.params = params

    def _desk_control(self, command: DeskControl, now: int) -> None:
        """The operator's start, stop or tune of a symbol's desk."""
        current = self.desks.get(command.symbol)
        if current is None:
            self._anomaly(f"desk {command.action} for {command.symbol}: no desk quotes it")
            return
        book = current.book
        if command.action == "stop":
            book.stopped = STOPPED
        elif command.action == "start":
            mark = self._desk_mark(self.books[command.symbol])
            if book.stopped == MAX_LOSS and mark is not None:
                desk.start_day(book, self._desk_day(now), mark)
                if desk.check_loss(book, current.params, mark):
                    log.info("desk stays stopped", symbol=command.symbol, reason="the day's loss is past max_loss")
                    return
            book.stopped = ""
            current.refused = ""
        elif command.action == "tune" and command.params is not None and command.params.symbol == command.symbol:
            current.params = command.params
        else:
            self._anomaly(f"desk {command.action} for {command.symbol} not understood")

    def _desk_route(self, command: DeskRoute, now: int) -> None:
        """A quote the shard accepted: routed as any order (``_route_order``), then worked as
        the quote's (``_work_quote``). A route this desk does not expect is worked like any order."""
        current = self.desks.get(command.spec.symbol)
        quote = _quote(current, command.client_order_id) if current is not None and current.account == command.account else None
        if quote is not None and quote.order_id is None:
            quote.order_id = command.order_id
        else:
            quote = None  # none waiting for its route: worked as any order
        self._route_order(RouteOrder(command.order_id, command.account, command.spec), now, quote)

    def _route_order(self, command: RouteOrder, now: int, quote: DeskQuote | None = None) -> None:
        """Every route, a quote's too (``core.InstrumentState``)."""
        raise NotImplementedError

    def _work_quote(self, route: Route, book: Book, quote: DeskQuote, now: int) -> None:
        """A quote's route: resting in the internal book (whatever ``rest_limit_orders`` says,
        crossing what it can there, never sent on at the end of the turn), or at a venue for
        a venue copy or a symbol the crossing policy leaves out."""
        if quote.level >= VENUE_LEVEL or not self._cover(book):
            self._send_to_venue(route, now)
            return
        self._rest(route, pending=False)
        nbbo = self._crossing_nbbo(book, now)
        if not isinstance(nbbo, str):
            self._cross(route, book, nbbo, now)

    def _desk_refused(self, command: DeskOrderRefused, now: int) -> None:
        """The shard refused a quote (its account's limits, kill switch, ...): the desk stops
        quoting the symbol, its other quotes pulled, until an operator starts it."""
        current = self.desks.get(command.symbol)
        quote = None if current is None else _quote(current, command.client_order_id)
        if current is None or quote is None:
            self._anomaly(f"desk quote {command.client_order_id} refused, not one waiting")
            return
        current.quotes.remove(quote)
        current.refused = command.reason
        if not current.book.stopped:
            current.book.stopped = REFUSED
            log.warning("desk stopped", symbol=command.symbol, reason=f"quote refused: {command.reason}")

    # --- fills and the end of each turn ------------------------------------------------------

    def _desk_fill(self, route: Route, qty: int, price: int | None, now: int) -> None:
        """A trade of one of the desk's quotes (``_update`` calls this for every trade while
        a desk exists): its position and cash, and the loss check at the mid."""
        current = self.desks.get(route.spec.symbol)
        if current is None or current.account != route.account or price is None:
            return
        quote = next((q for q in current.quotes if q.order_id == route.order_id), None)
        if quote is None:
            return  # an order of the account the desk did not place: the account books it, the desk does not count it
        mark = self._desk_mark(self.books[route.spec.symbol]) or price
        desk.start_day(current.book, self._desk_day(now), mark)
        was = current.book.stopped
        desk.on_fill(current.book, current.params, quote.buy, qty, price, mark)
        if current.book.stopped == MAX_LOSS and was != MAX_LOSS:
            log.warning("desk stopped", symbol=current.symbol, reason="max_loss", loss=fixed.format(desk.loss_of_day(current.book, mark)))

    def _refresh_desks(self, now: int) -> None:
        for current in self.desks.values():
            self._refresh_desk(current, now)

    def _refresh_desk(self, current: Desk, now: int) -> None:
        """The quotes wanted now against those the desk has: cancels and new orders, sent
        to the account's shard. Quotes whose routes have ended are dropped first."""
        routes = self.routes
        current.quotes = [q for q in current.quotes if q.order_id is None or q.order_id in routes]
        if current.book.stopped and not any(not q.canceling for q in current.quotes):
            return  # stopped, nothing left to pull
        book = self.books[current.symbol]
        instrument = book.instrument
        nbbo = None if book.halted else self._crossing_nbbo(book, now)
        wanted: list[Quote] = []
        mid = 0
        if isinstance(nbbo, crossing.Nbbo):
            mid = (nbbo.bid + nbbo.ask) // 2
            desk.start_day(current.book, self._desk_day(now), mid)
            was = current.book.stopped
            wanted = desk.wanted(current.params, current.book, nbbo.bid, nbbo.ask, instrument.tick_size, instrument.qty_increment)
            if current.book.stopped == MAX_LOSS and was != MAX_LOSS:
                log.warning("desk stopped", symbol=current.symbol, reason="max_loss")
            if current.at_venues:
                wanted += [q._replace(level=q.level + VENUE_LEVEL) for q in wanted]
        working = [self._working(q) for q in current.quotes if not q.canceling]
        ending = [self._working(q) for q in current.quotes if q.canceling]
        cancel, place = desk.refresh(current.params, current.book, working, wanted, mid, instrument.qty_increment, ending)
        account = current.account
        for client_order_id in cancel:
            quote = _quote(current, client_order_id)
            assert quote is not None
            quote.canceling = True
            self.out.to(ACCOUNT, account, CancelOrder(account, client_order_id))
        for want in place:
            current.counter += 1
            client_order_id = f"desk-{current.symbol}-{current.counter}"
            current.quotes.append(DeskQuote(client_order_id, want.buy, want.level, want.price, want.qty))
            spec = OrderSpec(instrument.symbol, Side.BUY if want.buy else Side.SELL, OrderType.LIMIT, TimeInForce.DAY, want.qty, None, want.price, None)
            self.out.to(ACCOUNT, account, DeskOrder(account, client_order_id, spec))

    def _working(self, quote: DeskQuote) -> Working:
        """A quote as ``desk.refresh`` counts it: at the shard, its quantity; routed, its leaves."""
        route = None if quote.order_id is None else self.routes.get(quote.order_id)
        leaves = quote.qty if route is None or route.spec.qty is None else route.spec.qty - route.cum_qty
        return Working(quote.client_order_id, quote.buy, quote.level, quote.price, leaves)

    def _is_desk_route(self, route: Route) -> bool:
        """Whether ``route`` is one of a desk's quotes (it stays where it rests: the desk's
        refresh pulls it when the market comes to it, never sends it on to a venue)."""
        current = self.desks.get(route.spec.symbol) if self.desks else None
        return current is not None and current.account == route.account and any(q.order_id == route.order_id for q in current.quotes)

    @staticmethod
    def _desk_mark(book: Book) -> int | None:
        """The mid the desk marks its position at: the NBBO's, when two-sided and uncrossed."""
        if book.bid is None or book.ask is None or book.bid > book.ask:
            return None
        return (book.bid + book.ask) // 2

    def _desk_day(self, now: int) -> str:
        """The local date of ``now`` the desk counts its loss by (``[open] timezone``, journaled in ``SetDesk``)."""
        timezone = "UTC" if self.desk_setup is None else self.desk_setup.timezone
        second, seen = now // NS_PER_SECOND, self.desk_day_seen
        if seen is not None and seen[0] == second and seen[1] == timezone:
            return seen[2]  # the day depends on the second and the zone alone: asked every turn, worked out once a second at most
        day = date.fromordinal(trading_day(now, timezone)).isoformat()
        self.desk_day_seen = (second, timezone, day)
        return day

    # --- for operators ---------------------------------------------------------------------

    def desk_view(self, symbol: str | None = None) -> list[dict[str, Any]]:
        """Each desk (or ``symbol``'s) as ``admin desk status`` shows it: whether it quotes,
        its position, the day's P&L at the mid, its working quotes and its terms."""
        views = []
        for current in self.desks.values():
            if symbol is not None and current.symbol != symbol:
                continue
            book = current.book
            mark = self._desk_mark(self.books[current.symbol])
            quotes = []
            for quote in current.quotes:
                working = self._working(quote)
                route = None if quote.order_id is None else self.routes.get(quote.order_id)
                quotes.append({
                    "client_order_id": quote.client_order_id,
                    "order_id": quote.order_id,
                    "side": "buy" if quote.buy else "sell",
                    "price": fixed.format(quote.price),
                    "leaves": fixed.format(working.leaves),
                    "where": "shard" if route is None else route.venue if route.state.at_venue else "INTERNAL",
                    "canceling": quote.canceling,
                })  # fmt: skip
            views.append({
                "symbol": current.symbol,
                "account": current.account,
                "quoting": not book.stopped,
                "stopped": book.stopped,
                "stopped_by_loss": book.stopped == MAX_LOSS,
                "refused": current.refused,
                "position": fixed.format(book.position),
                "day": book.day,
                "day_pnl": None if mark is None or not book.day else fixed.format(-desk.loss_of_day(book, mark)),
                "quotes": quotes,
                "at_venues": current.at_venues,
                "params": view(current.params),
            })  # fmt: skip
        return views


def _quote(current: Desk, client_order_id: str) -> DeskQuote | None:
    return next((q for q in current.quotes if q.client_order_id == client_order_id), None)
