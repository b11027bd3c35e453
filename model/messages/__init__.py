"""Every message that travels between actors: commands (imperative) and events (past tense).

All are frozen, ``array_like`` msgspec Structs with a small integer tag, so a batch of a
thousand encodes to compact msgpack once and the same bytes are what the journal stores.
Numbers are fixed-point ints (``model.fixed``); ``None`` means "not given".

One module per direction: ``client`` (gateway ↔ account shards), ``routing`` (account
shard → instrument actor → venue session and back, and the consolidated market),
``control`` (the supervisor's control path and what an actor journals to itself),
``bulk`` (a basket's orders in chunks, and their answers);
``base`` holds what every message is, ``batch`` what one hop carries. Import them from
here: ``from model.messages import NewOrder``.
"""

from __future__ import annotations

from model.messages.base import MessageBase, Reply
from model.messages.batch import Batch, Message, batch_prefix, decode_batch, encode_batch
from model.messages.bulk import LoadOrders, OrderColumns, OrdersLoaded
from model.messages.client import (
    AccountReply,
    CancelAll,
    CancelAllDone,
    CancelOrder,
    ExecutionReport,
    NewOrder,
    OrdersReply,
    Position,
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

__all__ = [
    "AccountReply",
    "AdminCancelAll",
    "AllocationReport",
    "Batch",
    "CancelAll",
    "CancelAllDone",
    "CancelOrder",
    "CancelRoute",
    "ExecutionReport",
    "LoadOrders",
    "MarketUpdate",
    "Message",
    "MessageBase",
    "NewOrder",
    "OpenAccount",
    "OpenMarket",
    "OrderColumns",
    "OrderUpdate",
    "OrdersLoaded",
    "OrdersReply",
    "Position",
    "QueryAccount",
    "QueryOrders",
    "QuoteEvent",
    "ReplaceOrder",
    "ReplaceRoute",
    "Reply",
    "ReportToAsker",
    "RequestRejected",
    "RouteOrder",
    "SetKill",
    "SetTradingStatus",
    "StrikeNav",
    "VenueCancel",
    "VenueCancelAll",
    "VenueNewOrder",
    "VenueQuote",
    "VenueRecovered",
    "VenueReplace",
    "VenueReport",
    "VenueSessionChanged",
    "VenueSetSession",
    "VenueStart",
    "VenueTick",
    "VenueWireIn",
    "VenueWireSent",
    "batch_prefix",
    "decode_batch",
    "encode_batch",
]
