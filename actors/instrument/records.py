"""The records an InstrumentActor owns: the routes it works, the book of each symbol, and
the market-making desk of each symbol it quotes."""

from __future__ import annotations

import msgspec

from actors.instrument.desk import DeskBook
from model.desk import DeskParams
from model.enums import VenueEventKind
from model.instruments import Instrument
from model.messages import VenueQuote
from model.orders import OrderSpec
from model.routes import RouteState


class Leg(msgspec.Struct, gc=False, array_like=True):
    """One child of a split order (a sweep, docs/liquidity.md#splitting): at one venue, for
    ``qty``; ``end``: how it ended without filling in full (canceled, expired, rejected);
    ``ended``: its place among its order's children ending so (1: the first), 0 while it has
    not — or when it ended before a snapshot written by a version that did not record it
    (such children ended before any later one, and among themselves count in list order)."""

    child_id: str
    venue: str
    qty: int
    cum_qty: int = 0
    end: VenueEventKind | None = None
    reason: str | None = None
    ended: int = 0

    @property
    def done(self) -> bool:
        return self.end is not None or self.cum_qty >= self.qty


class Route(msgspec.Struct, gc=False, array_like=True):
    """A client order as this actor works it: held here, or a child order at one venue.
    Encoded as an array in field order (snapshots hold hundreds of thousands of them)."""

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
    crossed: int = 0  # of ``cum_qty``, what crossed internally (its child at a venue is for the rest)
    offset: int = 0  # ``cum_qty`` when its child(ren) went out: a child's quantity is the order's less it
    legs: list[Leg] | None = None  # a split order's children (``child_id``/``venue``: the first's)


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


class DeskQuote(msgspec.Struct, gc=False, array_like=True):
    """One quote of the desk: placed as an order of its account (``client_order_id``), at
    the shard until its route comes (``order_id`` None), then working here or at a venue
    until its route ends. ``level`` ≥ ``VENUE_LEVEL``: a copy of a level at a venue."""

    client_order_id: str
    buy: bool
    level: int
    price: int
    qty: int
    order_id: str | None = None
    canceling: bool = False  # its cancel was asked: counted against the limits until it ends


class Desk(msgspec.Struct):
    """The market-making desk in one symbol: its account, terms (``params``: as tuned;
    ``configured``: as ``[desk]`` last said), book (position, cash, the day, why stopped),
    quotes, the counter its client order ids come from, and a refusal that stopped it."""

    symbol: str
    account: str
    at_venues: bool
    params: DeskParams
    configured: DeskParams
    book: DeskBook = msgspec.field(default_factory=DeskBook)
    quotes: list[DeskQuote] = msgspec.field(default_factory=list)
    counter: int = 0
    refused: str = ""  # why the shard refused its last refused quote
