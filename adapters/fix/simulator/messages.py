"""What goes in and out of the market maker's pure core (``core.MarketMaker``).

Commands are what a counterparty asked for, already read out of FIX by ``codec``;
events are what the market maker says back, each addressed to one session. Numbers are
fixed-point ``int`` s (``model.fixed``), times are nanoseconds since the epoch. A session
is an opaque string (quickfix's ``SessionID.toString()`` in the shell). Enumerated values
(ExecType, OrdRejReason, CxlRejReason, ...) are the FIX vocabulary's (``adapters/fix/tags.py``)
as they go on the wire: the codec writes them as they are and keeps no second set.
"""

from __future__ import annotations

import msgspec

from adapters.fix.tags import CxlRejReason, CxlRejResponseTo, ExecTypeCode, MDReqRejReason, OrdRejReason, SubscriptionRequestType
from model.enums import OrderStatus, OrderType, Side, TimeInForce

BAD_PRICE = OrdRejReason.OTHER  # OrdRejReason has no code for a bad price: Other (99), the text says why


class Problem(msgspec.Struct, frozen=True):
    """A field the codec could not read or the market maker does not support."""

    reason: OrdRejReason
    text: str


class Terms(msgspec.Struct, frozen=True):
    """An order's terms as a counterparty gave them, carried alike by the orders, their
    replaces and the reports about them. ``None``: the field was left out, or its value is
    one the market maker does not support (the request then has a ``Problem``)."""

    symbol: str | None
    side: Side
    order_type: OrderType | None = None
    tif: TimeInForce | None = None
    qty: int | None = None
    cash: int | None = None  # CashOrderQty (152): a notional order
    price: int | None = None


# --- commands -----------------------------------------------------------------------------


class NewOrder(msgspec.Struct, frozen=True):
    """NewOrderSingle (D). Exactly one of ``qty`` and ``cash`` (CashOrderQty) is expected;
    ``poss_dup`` is set for PossDupFlag or PossResend; ``problem`` rejects it as is."""

    session: str
    cl_ord_id: str
    terms: Terms
    poss_dup: bool = False
    problem: Problem | None = None


class CancelOrder(msgspec.Struct, frozen=True):
    """OrderCancelRequest (F)."""

    session: str
    cl_ord_id: str
    orig_cl_ord_id: str
    order_id: str | None


class ReplaceOrder(msgspec.Struct, frozen=True):
    """OrderCancelReplaceRequest (G): new qty and/or price; absent ones are kept. Its
    ``terms`` have no TimeInForce or CashOrderQty (neither may change)."""

    session: str
    cl_ord_id: str
    orig_cl_ord_id: str
    order_id: str | None
    terms: Terms
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
    subscription: SubscriptionRequestType
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


class ReportDetails(msgspec.Struct, frozen=True):
    """What one execution report says beyond the order as it stands: the fill it reports
    (LastQty, LastPx), why (Text, OrdRejReason), and the status request it answers."""

    last_qty: int = 0
    last_price: int | None = None
    text: str | None = None
    reject_reason: OrdRejReason | None = None
    status_request_id: str | None = None


NO_DETAILS = ReportDetails()


class ExecutionReport(msgspec.Struct, frozen=True):
    """ExecutionReport (8): the order as it stands, and this report's ``details``.
    ``avg_price`` is truncated to 10^-9; ``transact_time`` is when it happened (and
    OrigSendingTime when it is sent again with ``poss_dup``)."""

    session: str
    order_id: str
    exec_id: str
    kind: ExecTypeCode
    status: OrderStatus
    cl_ord_id: str
    orig_cl_ord_id: str | None
    terms: Terms
    cum_qty: int
    leaves_qty: int
    avg_price: int
    transact_time: int
    details: ReportDetails = NO_DETAILS
    poss_dup: bool = False


class CancelRejected(msgspec.Struct, frozen=True):
    """OrderCancelReject (9). ``order_id`` is ``NONE`` for an unknown order."""

    session: str
    cl_ord_id: str
    orig_cl_ord_id: str
    order_id: str
    status: OrderStatus
    response_to: CxlRejResponseTo
    reason: CxlRejReason
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
    reason: MDReqRejReason
    text: str


Event = ExecutionReport | CancelRejected | QuoteSent | MarketDataSent | MarketDataRejected
