"""What goes in and out of the market maker's pure core (``core.MarketMaker``).

Commands are what a counterparty asked for, already read out of FIX by ``codec``;
events are what the market maker says back, each addressed to one session. Numbers are
fixed-point ``int`` s (``model.fixed``), times are nanoseconds since the epoch. A session
is an opaque string (quickfix's ``SessionID.toString()`` in the shell).
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

from model.enums import OrderStatus, OrderType, Side, TimeInForce


class ExecKind(StrEnum):
    """ExecType (150) of an execution report."""

    NEW = "new"
    TRADE = "trade"
    CANCELED = "canceled"
    REPLACED = "replaced"
    REJECTED = "rejected"
    ORDER_STATUS = "order_status"


class RejectReason(StrEnum):
    """Why an order was rejected (OrdRejReason, 103)."""

    UNKNOWN_SYMBOL = "unknown_symbol"
    DUPLICATE_ORDER = "duplicate_order"
    UNSUPPORTED = "unsupported"
    INCORRECT_QUANTITY = "incorrect_quantity"
    EXCEEDS_LIMIT = "exceeds_limit"
    BAD_PRICE = "bad_price"
    UNKNOWN_ORDER = "unknown_order"


class CancelRejectReason(StrEnum):
    """Why a cancel or replace was refused (CxlRejReason, 102)."""

    TOO_LATE = "too_late"
    UNKNOWN_ORDER = "unknown_order"
    DUPLICATE_CL_ORD_ID = "duplicate_cl_ord_id"
    OTHER = "other"


class CancelRequestKind(StrEnum):
    """What a refused request was (CxlRejResponseTo, 434)."""

    CANCEL = "cancel"
    REPLACE = "replace"


class Subscription(StrEnum):
    """SubscriptionRequestType (263) of a market data request."""

    SNAPSHOT = "snapshot"
    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"


class MarketDataRejectReason(StrEnum):
    UNKNOWN_SYMBOL = "unknown_symbol"
    DUPLICATE_REQUEST_ID = "duplicate_request_id"


class Problem(msgspec.Struct, frozen=True):
    """A field the codec could not read or the market maker does not support."""

    reason: RejectReason
    text: str


# --- commands -----------------------------------------------------------------------------


class NewOrder(msgspec.Struct, frozen=True):
    """NewOrderSingle (D). Exactly one of ``qty`` and ``cash`` (CashOrderQty) is expected;
    ``poss_dup`` is set for PossDupFlag or PossResend; ``problem`` rejects it as is."""

    session: str
    cl_ord_id: str
    symbol: str | None
    side: Side
    order_type: OrderType | None
    tif: TimeInForce | None
    qty: int | None
    cash: int | None
    price: int | None
    poss_dup: bool = False
    problem: Problem | None = None


class CancelOrder(msgspec.Struct, frozen=True):
    """OrderCancelRequest (F)."""

    session: str
    cl_ord_id: str
    orig_cl_ord_id: str
    order_id: str | None


class ReplaceOrder(msgspec.Struct, frozen=True):
    """OrderCancelReplaceRequest (G): new qty and/or price; absent ones are kept."""

    session: str
    cl_ord_id: str
    orig_cl_ord_id: str
    order_id: str | None
    symbol: str | None
    side: Side
    order_type: OrderType | None
    qty: int | None
    price: int | None
    problem: Problem | None = None


class StatusRequest(msgspec.Struct, frozen=True):
    """OrderStatusRequest (H)."""

    session: str
    cl_ord_id: str
    order_id: str | None
    request_id: str | None
    symbol: str | None
    side: Side


class MarketDataRequest(msgspec.Struct, frozen=True):
    """MarketDataRequest (V) for top-of-book bid and offer."""

    session: str
    request_id: str
    subscription: Subscription
    symbols: list[str]


Command = NewOrder | CancelOrder | ReplaceOrder | StatusRequest | MarketDataRequest


# --- events -------------------------------------------------------------------------------


class Quote(msgspec.Struct, frozen=True):
    symbol: str
    quote_id: str
    bid: int
    ask: int
    bid_size: int
    ask_size: int


class ExecutionReport(msgspec.Struct, frozen=True):
    """ExecutionReport (8). ``avg_price`` is truncated to 10^-9; ``transact_time`` is when
    it happened (and OrigSendingTime when it is sent again with ``poss_dup``)."""

    session: str
    order_id: str
    exec_id: str
    kind: ExecKind
    status: OrderStatus
    cl_ord_id: str
    orig_cl_ord_id: str | None
    symbol: str | None
    side: Side
    order_type: OrderType | None
    tif: TimeInForce | None
    qty: int | None
    cash: int | None
    price: int | None
    last_qty: int
    last_price: int | None
    cum_qty: int
    leaves_qty: int
    avg_price: int
    transact_time: int
    text: str | None = None
    reject_reason: RejectReason | None = None
    status_request_id: str | None = None
    poss_dup: bool = False


class CancelRejected(msgspec.Struct, frozen=True):
    """OrderCancelReject (9). ``order_id`` is ``NONE`` for an unknown order."""

    session: str
    cl_ord_id: str
    orig_cl_ord_id: str
    order_id: str
    status: OrderStatus
    response_to: CancelRequestKind
    reason: CancelRejectReason
    text: str
    transact_time: int


class QuoteSent(msgspec.Struct, frozen=True):
    """Quote (S), sent to every logged-on session on every tick."""

    session: str
    quote: Quote


class MarketDataSent(msgspec.Struct, frozen=True):
    """MarketDataSnapshotFullRefresh (W) answering (or subscribed by) ``request_id``."""

    session: str
    request_id: str
    quote: Quote


class MarketDataRejected(msgspec.Struct, frozen=True):
    """MarketDataRequestReject (Y)."""

    session: str
    request_id: str
    reason: MarketDataRejectReason
    text: str


Event = ExecutionReport | CancelRejected | QuoteSent | MarketDataSent | MarketDataRejected
