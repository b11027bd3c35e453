"""Every message that travels between actors: commands (imperative) and events (past tense).

All are frozen, ``array_like`` msgspec Structs with a small integer tag, so a batch of a
thousand encodes to compact msgpack once and the same bytes are what the journal stores.
Numbers are fixed-point ints (``model.fixed``); ``None`` means "not given".
"""

from __future__ import annotations

from typing import Union

import msgspec

from model.enums import ExecType, OrderStatus, SessionState, Side, VenueEventKind
from model.orders import OrderSpec


class _Message(msgspec.Struct, frozen=True, array_like=True, tag=True, gc=False):
    pass


class Reply(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """Where the answer to a client request goes: gateway, connection, and the request's raw
    JSON ``id`` (``b""`` when the client sent none)."""

    gateway: str
    conn: int
    request: bytes = b""


# --- gateway → account shard -------------------------------------------------------------


class NewOrder(_Message, frozen=True, gc=False, tag=1):
    account: str
    client_order_id: str
    spec: OrderSpec
    reply: Reply | None = None


class CancelOrder(_Message, frozen=True, gc=False, tag=2):
    account: str
    client_order_id: str
    reply: Reply | None = None


class ReplaceOrder(_Message, frozen=True, gc=False, tag=3):
    account: str
    client_order_id: str
    new_client_order_id: str
    qty: int | None
    price: int | None
    stop_price: int | None
    reply: Reply | None = None


class CancelAll(_Message, frozen=True, gc=False, tag=4):
    """Cancel every open order of ``account`` (all accounts of the shard when ``None``),
    optionally only in ``symbol``."""

    account: str | None
    symbol: str | None
    reply: Reply | None = None


class QueryOrders(_Message, frozen=True, gc=False, tag=5):
    """One page of an account's orders: those after ``cursor`` (an ``order_id`` a previous
    page ended with; ``None``: from the first), at most ``limit`` (0: all, for the operator's
    own reads; the gateway always sends 1 to ``[queries] max_orders_page``)."""

    account: str
    open_only: bool
    reply: Reply
    cursor: str | None = None
    limit: int = 0


class QueryAccount(_Message, frozen=True, gc=False, tag=6):
    account: str
    reply: Reply


# --- account shard → gateway -------------------------------------------------------------


class ExecutionReport(_Message, frozen=True, gc=False, tag=20):
    """One state change of one client order, as the API reports it (docs/protocol.md)."""

    account: str
    order_id: str
    client_order_id: str
    exec_id: str
    exec_type: ExecType
    status: OrderStatus
    spec: OrderSpec
    cum_qty: int
    leaves_qty: int | None
    last_qty: int
    last_price: int | None
    avg_price: int | None
    reason: str | None
    ts: int
    reply: Reply | None = None
    venue: str | None = None  # where the order works or last traded (None while held here)


class OrdersReply(_Message, frozen=True, gc=False, tag=21):
    reply: Reply
    account: str
    orders: list[ExecutionReport]
    next_cursor: str | None = None  # where the next page starts; None: this page is the last


class Position(msgspec.Struct, frozen=True, array_like=True, gc=False):
    symbol: str
    qty: int
    avg_cost: int


class AccountReply(_Message, frozen=True, gc=False, tag=22):
    reply: Reply
    account: str
    cash: int
    buying_power: int
    positions: list[Position]


class RequestRejected(_Message, frozen=True, gc=False, tag=23):
    """A request that never became (or did not change) an order: the client gets an ``error``."""

    reply: Reply
    code: str
    message: str


class CancelAllDone(_Message, frozen=True, gc=False, tag=24):
    reply: Reply
    account: str | None
    requested: int


class ReportToAsker(_Message, frozen=True, gc=False, tag=25):
    """An execution report for the asking connection only: the answer to a resend of an
    order (its original first report) or to a reused ``client_order_id``. Neither changes
    an order, so no other connection is told."""

    reply: Reply
    report: ExecutionReport


# --- account shard → instrument actor ------------------------------------------------------


class RouteOrder(_Message, frozen=True, gc=False, tag=30):
    """An accepted client order, to be worked by the instrument actor of its symbol."""

    order_id: str
    account: str
    spec: OrderSpec
    qty_cap: int | None = None  # most shares a notional sell may sell (its position)


class CancelRoute(_Message, frozen=True, gc=False, tag=31):
    order_id: str
    account: str
    symbol: str


class ReplaceRoute(_Message, frozen=True, gc=False, tag=32):
    """Change total ``qty`` and prices; on success the order continues as ``new_order_id``."""

    order_id: str
    new_order_id: str
    account: str
    symbol: str
    qty: int
    price: int | None
    stop_price: int | None


# --- instrument actor → venue session -----------------------------------------------------


class VenueNewOrder(_Message, frozen=True, gc=False, tag=40):
    """A child order's terms: a market or limit order (brokerd holds stops until they
    trigger, so ``spec.stop_price`` is always ``None`` here)."""

    child_id: str
    spec: OrderSpec
    qty_cap: int | None = None


class VenueCancel(_Message, frozen=True, gc=False, tag=41):
    child_id: str


class VenueReplace(_Message, frozen=True, gc=False, tag=42):
    child_id: str
    qty: int
    price: int | None


# --- venue session → instrument actor -----------------------------------------------------


class VenueReport(_Message, frozen=True, gc=False, tag=50):
    """What a venue said about a child order. ``last_qty``/``last_price`` for trades."""

    venue: str
    child_id: str
    kind: VenueEventKind
    last_qty: int
    last_price: int | None
    reason: str | None
    ts: int
    done: bool = False  # nothing of the child is left to execute (last fill of a notional order)


class VenueQuote(_Message, frozen=True, gc=False, tag=51):
    venue: str
    symbol: str
    bid: int | None
    bid_size: int
    ask: int | None
    ask_size: int
    ts: int


class VenueSessionChanged(_Message, frozen=True, gc=False, tag=52):
    venue: str
    state: SessionState
    ts: int


# --- instrument actor → account shard / gateway --------------------------------------------


class OrderUpdate(_Message, frozen=True, gc=False, tag=60):
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


class AllocationReport(_Message, frozen=True, gc=False, tag=62):
    """One block's fill split over accounts (summed per account), for clearing's
    AllocationInstruction (J). ``qtys[i]`` went to ``accounts[i]`` at ``avg_price``."""

    alloc_id: str
    symbol: str
    side: Side
    avg_price: int
    accounts: list[str]
    qtys: list[int]
    ts: int


class MarketUpdate(_Message, frozen=True, gc=False, tag=61):
    """The consolidated view of one symbol that pre-trade risk prices against."""

    symbol: str
    bid: int | None
    ask: int | None
    reference: int
    halted: bool
    ts: int


class QuoteEvent(_Message, frozen=True, gc=False, tag=70):
    """Consolidated best bid/offer for the ``quotes:SYMBOL`` stream; for a mutual fund
    (no bid or ask: it fills only at the NAV) the last NAV struck instead."""

    symbol: str
    bid: int | None
    bid_size: int
    ask: int | None
    ask_size: int
    ts: int
    nav: int | None = None


# --- supervisor → actors (control path) -----------------------------------------------------


class SetTradingStatus(_Message, frozen=True, gc=False, tag=80):
    symbol: str
    halted: bool


class VenueCancelAll(_Message, frozen=True, gc=False, tag=43):
    """Cancel every working child in ``symbols`` with the venue's own cancel-all."""

    symbols: list[str]


class SetKill(_Message, frozen=True, gc=False, tag=81):
    """The kill switch: ``killed`` accounts have their open orders canceled and new ones
    refused until unkilled. ``account`` ``"*"``: every account, present and future."""

    account: str
    killed: bool


class AdminCancelAll(_Message, frozen=True, gc=False, tag=82):
    """Cancel every open order matching all the filters given (``None``: any)."""

    account: str | None = None
    symbol: str | None = None
    venue: str | None = None


class OpenAccount(_Message, frozen=True, gc=False, tag=83):
    """An account enters its shard (from the accounts file), journaled like any input."""

    account: str
    owner: str
    cash: int
    allow_short: bool = False
    positions: tuple[tuple[str, int], ...] = ()  # (symbol, qty) held at the start
    group: str = ""


class OpenMarket(_Message, frozen=True, gc=False, tag=84):
    """The open: release the orders queued for it (``symbols``; empty: every symbol).

    It travels supervisor → every account shard → the InstrumentActors, as a marker behind
    the orders each shard routed before it; an InstrumentActor opens once the marker of
    ``open_id`` has come from every shard, so no order acknowledged before the open misses it."""

    symbols: list[str]
    day: str = ""  # the local date of a scheduled open (``[open] at``), so it happens once a day
    open_id: int = 0  # the supervisor's count of opens
    shard: str = ""  # the account shard that passed the marker on


class StrikeNav(_Message, frozen=True, gc=False, tag=85):
    """A mutual fund's net asset value: every order acknowledged before it fills at ``nav``.

    It travels like the open: supervisor → every account shard → the fund's InstrumentActor,
    as a marker behind the orders each shard routed before it; the InstrumentActor strikes
    once the marker of the fund's ``strike``-th NAV has come from every shard. The cut-off
    of an order is the moment the marker passes its shard."""

    symbol: str
    nav: int
    strike: int = 0  # the supervisor's count of this fund's strikes (1: its first)
    shard: str = ""  # the account shard that passed the marker on


# --- an actor to itself (journaled like any input, so replay repeats them) --------------------


class VenueStart(_Message, frozen=True, gc=False, tag=90):
    """Open the venue adapter (its first quotes and session state)."""


class VenueTick(_Message, frozen=True, gc=False, tag=91):
    """Time passes at the venue: the adapter's clock runs to the record's ``now``."""


class VenueSetSession(_Message, frozen=True, gc=False, tag=92):
    state: str


class VenueWireIn(_Message, frozen=True, gc=False, tag=93):
    """An application message (or a session-level Reject) a venue's FIX session received,
    exactly as received."""

    raw: str


class VenueWireSent(_Message, frozen=True, gc=False, tag=94):
    """A message about one order (NewOrderSingle, cancel, replace, status request) handed to
    a venue's FIX session, with the MsgSeqNum quickfix gave it: a Reject naming only that
    number then finds the order."""

    seq: int
    msg_type: str
    cl_ord_id: str


class VenueRecovered(_Message, frozen=True, gc=False, tag=95):
    """A venue actor starts again, before its FIX session connects. ``sent``: what its
    session's store holds that was sent but never recorded (a crash in between); ``unsent``:
    the ClOrdIDs of the orders, cancels and replaces made before the restart that never
    reached the session (a crash between the record and the send), which the adapter settles."""

    sent: list[VenueWireSent]
    unsent: list[str]


Message = Union[
    NewOrder,
    CancelOrder,
    ReplaceOrder,
    CancelAll,
    QueryOrders,
    QueryAccount,
    ExecutionReport,
    OrdersReply,
    AccountReply,
    RequestRejected,
    CancelAllDone,
    ReportToAsker,
    RouteOrder,
    CancelRoute,
    ReplaceRoute,
    VenueNewOrder,
    VenueCancel,
    VenueReplace,
    VenueReport,
    VenueQuote,
    VenueSessionChanged,
    OrderUpdate,
    AllocationReport,
    MarketUpdate,
    QuoteEvent,
    SetTradingStatus,
    SetKill,
    AdminCancelAll,
    VenueCancelAll,
    OpenAccount,
    OpenMarket,
    StrikeNav,
    VenueStart,
    VenueTick,
    VenueSetSession,
    VenueWireIn,
    VenueWireSent,
    VenueRecovered,
]


class Batch(msgspec.Struct, frozen=True, array_like=True):
    """What one actor hop carries: ``seq`` counts batches from ``sender`` to one receiver."""

    sender: str
    seq: int
    ts: int
    messages: list[Message]


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Batch)


def encode_batch(batch: Batch) -> bytes:
    return _encoder.encode(batch)


def decode_batch(data: bytes) -> Batch:
    return _decoder.decode(data)


def batch_prefix(sender: str) -> bytes:
    """The bytes every encoded ``Batch`` from ``sender`` begins with: a four-element array
    (msgpack fixarray) whose first element is the sender's name. A link checks this on every
    batch, so an authenticated peer cannot slip in batches under another actor's name."""
    return b"\x94" + _encoder.encode(sender)
