"""What one actor hop carries: a ``Batch`` of messages, and its msgpack encoding."""

from __future__ import annotations

from typing import Union

import msgspec

from model.messages.bulk import LoadOrders, OrdersLoaded
from model.messages.client import (
    AccountReply,
    CancelAll,
    CancelAllDone,
    CancelOrder,
    ExecutionReport,
    NewOrder,
    OrdersReply,
    QueryAccount,
    QueryOrders,
    ReplaceOrder,
    ReportToAsker,
    RequestRejected,
)
from model.messages.control import (
    AdminCancelAll,
    OpenAccount,
    OpenMarket,
    SetKill,
    SetTradingStatus,
    StrikeNav,
    VenueRecovered,
    VenueSetSession,
    VenueStart,
    VenueTick,
    VenueWireIn,
    VenueWireSent,
)
from model.messages.routing import (
    AllocationReport,
    CancelRoute,
    MarketUpdate,
    OrderUpdate,
    QuoteEvent,
    ReplaceRoute,
    RouteOrder,
    VenueCancel,
    VenueCancelAll,
    VenueNewOrder,
    VenueQuote,
    VenueReplace,
    VenueReport,
    VenueSessionChanged,
)

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
    LoadOrders,
    OrdersLoaded,
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
