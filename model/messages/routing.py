"""Messages that work an order and bring back what happened to it: account shard →
instrument actor → venue session, and back; and the consolidated market the instrument
actors publish."""

from __future__ import annotations

from typing import ClassVar, Union

from model.enums import SessionState, Side, VenueEventKind
from model.messages.base import MessageBase
from model.orders import OrderSpec

__all__ = [
    "AllocationFills",
    "AllocationReport",
    "CancelRoute",
    "MarketUpdate",
    "OrderUpdate",
    "QuoteEvent",
    "ReplaceRoute",
    "RouteOrder",
    "RoutingMessage",
    "VenueCancel",
    "VenueCancelAll",
    "VenueNewOrder",
    "VenueQuote",
    "VenueReplace",
    "VenueReport",
    "VenueSessionChanged",
]

# --- account shard → instrument actor ------------------------------------------------------


class RouteOrder(MessageBase, frozen=True, gc=False, tag=30):
    """An accepted client order, to be worked by the instrument actor of its symbol."""

    order_id: str
    account: str
    spec: OrderSpec
    qty_cap: int | None = None  # most shares a notional sell may sell (its position)


class CancelRoute(MessageBase, frozen=True, gc=False, tag=31):
    order_id: str
    account: str
    symbol: str


class ReplaceRoute(MessageBase, frozen=True, gc=False, tag=32):
    """Change total ``qty`` and prices; on success the order continues as ``new_order_id``."""

    order_id: str
    new_order_id: str
    account: str
    symbol: str
    qty: int
    price: int | None
    stop_price: int | None


# --- instrument actor → venue session -----------------------------------------------------


class VenueNewOrder(MessageBase, frozen=True, gc=False, tag=40):
    """A child order's terms: a market or limit order (brokerd holds stops until they
    trigger, so ``spec.stop_price`` is always ``None`` here)."""

    child_id: str
    spec: OrderSpec
    qty_cap: int | None = None


class VenueCancel(MessageBase, frozen=True, gc=False, tag=41):
    child_id: str


class VenueReplace(MessageBase, frozen=True, gc=False, tag=42):
    child_id: str
    qty: int
    price: int | None


class VenueCancelAll(MessageBase, frozen=True, gc=False, tag=43):
    """Cancel every working child in ``symbols`` with the venue's own cancel-all."""

    symbols: list[str]


# --- venue session → instrument actor -----------------------------------------------------


class VenueReport(MessageBase, frozen=True, gc=False, tag=50):
    """What a venue said about a child order. ``last_qty``/``last_price`` for trades."""

    venue: str
    child_id: str
    kind: VenueEventKind
    last_qty: int
    last_price: int | None
    reason: str | None
    ts: int
    done: bool = False  # nothing of the child is left to execute (last fill of a notional order)


class VenueQuote(MessageBase, frozen=True, gc=False, tag=51):
    venue: str
    symbol: str
    bid: int | None
    bid_size: int
    ask: int | None
    ask_size: int
    ts: int


class VenueSessionChanged(MessageBase, frozen=True, gc=False, tag=52):
    venue: str
    state: SessionState
    ts: int


# --- instrument actor → account shard / gateway --------------------------------------------


class OrderUpdate(MessageBase, frozen=True, gc=False, tag=60):
    """A venue event mapped back onto the client order it belongs to."""

    order_id: str
    account: str
    kind: VenueEventKind
    last_qty: int
    last_price: int | None
    reason: str | None
    venue: str
    ts: int
    done: bool = False
    cash: int | None = None  # an allocation's booked cash (whole cents), instead of last_qty × last_price
    block: str | None = None  # the block (allocation id) an allocation came from


class AllocationFills(MessageBase, frozen=True, gc=False, tag=63):
    """Fills of one allocation (block ``block`` of ``symbol`` at ``price`` on ``venue``) to
    the orders of one account shard, in columns: ``order_ids[i]`` of ``accounts[i]`` got
    ``qtys[i]`` for ``cash[i]`` (whole cents), and is complete if ``done[i]``. What a run of
    ``OrderUpdate`` trades with ``block`` set would say, one message for up to
    ``[batching] max_messages`` of them: the open books millions of allocations, and a
    message each was most of a shard's decoding and dispatch."""

    many: ClassVar[bool] = True

    block: str
    symbol: str
    venue: str
    price: int
    order_ids: list[str]
    accounts: list[str]
    qtys: list[int]
    cash: list[int]
    done: list[bool]
    ts: int

    def carried(self) -> int:
        return len(self.order_ids)

    def updates(self) -> list[OrderUpdate]:
        """The same fills as the ``OrderUpdate`` trades they stand for, one per order."""
        return [
            OrderUpdate(order_id, account, VenueEventKind.TRADE, qty, self.price, None, self.venue, self.ts, done, cash, self.block)
            for order_id, account, qty, cash, done in zip(self.order_ids, self.accounts, self.qtys, self.cash, self.done, strict=True)
        ]


class AllocationReport(MessageBase, frozen=True, gc=False, tag=62):
    """One block's fill split over accounts (summed per account), for clearing's
    AllocationInstruction (J). ``qtys[i]`` went to ``accounts[i]`` at ``avg_price``."""

    alloc_id: str
    symbol: str
    side: Side
    avg_price: int
    accounts: list[str]
    qtys: list[int]
    ts: int


class MarketUpdate(MessageBase, frozen=True, gc=False, tag=61):
    """The consolidated view of one symbol that pre-trade risk prices against."""

    symbol: str
    bid: int | None
    ask: int | None
    reference: int
    halted: bool
    ts: int


class QuoteEvent(MessageBase, frozen=True, gc=False, tag=70):
    """Consolidated best bid/offer for the ``quotes:SYMBOL`` stream; for a mutual fund
    (no bid or ask: it fills only at the NAV) the last NAV struck instead."""

    symbol: str
    bid: int | None
    bid_size: int
    ask: int | None
    ask_size: int
    ts: int
    nav: int | None = None


# What works an order and brings back what happened to it, in tag order.
RoutingMessage = Union[
    RouteOrder,
    CancelRoute,
    ReplaceRoute,
    VenueNewOrder,
    VenueCancel,
    VenueReplace,
    VenueCancelAll,
    VenueReport,
    VenueQuote,
    VenueSessionChanged,
    OrderUpdate,
    MarketUpdate,
    AllocationReport,
    AllocationFills,
    QuoteEvent,
]
