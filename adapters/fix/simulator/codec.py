"""FIX 4.4 ⇄ the market maker's commands and events: pure translation, no sessions.

``decode`` reads an application message quickfix has already checked against the data
dictionary (required fields present, enum values valid, numbers well formed), so what
is left to catch is what the dictionary allows but the market maker does not: values it
does not support become a ``Problem`` on the command (rejected by the core with an
execution report or a cancel reject), and messages it cannot act on at all become an
``Unusable`` (answered with a BusinessMessageReject).

Numbers go through ``model.fixed``: decimal strings in and out, never a float.
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import TypeVar

import msgspec
import quickfix as fix
import quickfix44 as fix44

from adapters.fix.simulator.messages import (
    CancelOrder,
    CancelRejected,
    CancelRejectReason,
    CancelRequestKind,
    Command,
    Event,
    ExecKind,
    ExecutionReport,
    MarketDataRejected,
    MarketDataRejectReason,
    MarketDataRequest,
    MarketDataSent,
    NewOrder,
    Problem,
    QuoteSent,
    RejectReason,
    ReplaceOrder,
    StatusRequest,
    Subscription,
)
from model import fixed
from model.enums import OrderStatus, OrderType, Side, TimeInForce

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000


class Tag:
    """The FIX 4.4 tags used here."""

    AVG_PX = 6
    CL_ORD_ID = 11
    CUM_QTY = 14
    EXEC_ID = 17
    LAST_PX = 31
    LAST_QTY = 32
    MSG_SEQ_NUM = 34
    MSG_TYPE = 35
    ORDER_ID = 37
    ORDER_QTY = 38
    ORD_STATUS = 39
    ORD_TYPE = 40
    ORIG_CL_ORD_ID = 41
    POSS_DUP_FLAG = 43
    PRICE = 44
    REF_SEQ_NUM = 45
    SIDE = 54
    SYMBOL = 55
    TEXT = 58
    TIME_IN_FORCE = 59
    TRANSACT_TIME = 60
    POSS_RESEND = 97
    CXL_REJ_REASON = 102
    ORD_REJ_REASON = 103
    QUOTE_ID = 117
    ORIG_SENDING_TIME = 122
    BID_PX = 132
    OFFER_PX = 133
    BID_SIZE = 134
    OFFER_SIZE = 135
    NO_RELATED_SYM = 146
    EXEC_TYPE = 150
    LEAVES_QTY = 151
    CASH_ORDER_QTY = 152
    MD_REQ_ID = 262
    SUBSCRIPTION_REQUEST_TYPE = 263
    MD_ENTRY_TYPE = 269
    MD_ENTRY_PX = 270
    MD_ENTRY_SIZE = 271
    MD_REQ_REJ_REASON = 281
    REF_MSG_TYPE = 372
    BUSINESS_REJECT_REF_ID = 379
    BUSINESS_REJECT_REASON = 380
    CXL_REJ_RESPONSE_TO = 434
    PASSWORD = 554
    ORD_STATUS_REQ_ID = 790


class MsgType(StrEnum):
    LOGON = "A"
    EXECUTION_REPORT = "8"
    ORDER_CANCEL_REJECT = "9"
    NEW_ORDER_SINGLE = "D"
    ORDER_CANCEL_REQUEST = "F"
    ORDER_CANCEL_REPLACE_REQUEST = "G"
    ORDER_STATUS_REQUEST = "H"
    QUOTE = "S"
    MARKET_DATA_REQUEST = "V"
    MARKET_DATA_SNAPSHOT = "W"
    MARKET_DATA_REQUEST_REJECT = "Y"
    BUSINESS_MESSAGE_REJECT = "j"


class BusinessRejectReason(StrEnum):
    """BusinessRejectReason (380) values used here."""

    OTHER = "0"
    UNSUPPORTED_MESSAGE_TYPE = "3"


class Unusable(msgspec.Struct, frozen=True):
    """An application message the market maker cannot act on: answered with a
    BusinessMessageReject (j) and otherwise ignored."""

    session: str
    ref_msg_type: str
    ref_seq_num: str | None
    ref_id: str | None
    reason: BusinessRejectReason
    text: str


_SIDES = {"1": Side.BUY, "2": Side.SELL}
_ORDER_TYPES = {"1": OrderType.MARKET, "2": OrderType.LIMIT}
_TIME_IN_FORCE = {"0": TimeInForce.DAY, "1": TimeInForce.GTC, "3": TimeInForce.IOC, "4": TimeInForce.FOK}
_SUBSCRIPTIONS = {"0": Subscription.SNAPSHOT, "1": Subscription.SUBSCRIBE, "2": Subscription.UNSUBSCRIBE}
_EXEC_TYPES = {
    ExecKind.NEW: "0",
    ExecKind.TRADE: "F",
    ExecKind.CANCELED: "4",
    ExecKind.REPLACED: "5",
    ExecKind.REJECTED: "8",
    ExecKind.ORDER_STATUS: "I",
}
_ORD_STATUS = {
    OrderStatus.PENDING_NEW: "A",
    OrderStatus.NEW: "0",
    OrderStatus.PARTIALLY_FILLED: "1",
    OrderStatus.FILLED: "2",
    OrderStatus.CANCELED: "4",
    OrderStatus.REPLACED: "5",
    OrderStatus.REJECTED: "8",
    OrderStatus.EXPIRED: "C",
}
_ORD_REJ_REASONS = {
    RejectReason.UNKNOWN_SYMBOL: "1",
    RejectReason.EXCEEDS_LIMIT: "3",
    RejectReason.UNKNOWN_ORDER: "5",
    RejectReason.DUPLICATE_ORDER: "6",
    RejectReason.UNSUPPORTED: "11",
    RejectReason.INCORRECT_QUANTITY: "13",
    RejectReason.BAD_PRICE: "99",
}
_CXL_REJ_REASONS = {
    CancelRejectReason.TOO_LATE: "0",
    CancelRejectReason.UNKNOWN_ORDER: "1",
    CancelRejectReason.DUPLICATE_CL_ORD_ID: "6",
    CancelRejectReason.OTHER: "99",
}
_CXL_REJ_RESPONSE_TO = {CancelRequestKind.CANCEL: "1", CancelRequestKind.REPLACE: "2"}
_MD_REJ_REASONS = {MarketDataRejectReason.UNKNOWN_SYMBOL: "0", MarketDataRejectReason.DUPLICATE_REQUEST_ID: "1"}
_MD_BID, _MD_OFFER = "0", "1"

_T = TypeVar("_T")


# --- FIX → commands -----------------------------------------------------------------------


def decode(message: fix.Message, session: str) -> Command | Unusable:
    """The command in an application message from ``session``, or why there is none."""
    fields = _Fields(message)
    msg_type = fields.header(Tag.MSG_TYPE) or ""
    if msg_type == MsgType.MARKET_DATA_REQUEST:
        return _market_data_request(fields, session)
    if msg_type not in (
        MsgType.NEW_ORDER_SINGLE,
        MsgType.ORDER_CANCEL_REQUEST,
        MsgType.ORDER_CANCEL_REPLACE_REQUEST,
        MsgType.ORDER_STATUS_REQUEST,
    ):
        return fields.unusable(session, BusinessRejectReason.UNSUPPORTED_MESSAGE_TYPE, f"MsgType {msg_type} not supported")
    cl_ord_id = fields.text(Tag.CL_ORD_ID) or ""
    side = _SIDES.get(fields.text(Tag.SIDE) or "")
    if side is None:
        return fields.unusable(session, BusinessRejectReason.OTHER, f"Side(54)={fields.text(Tag.SIDE)} not supported", cl_ord_id)
    order_id = fields.text(Tag.ORDER_ID)
    symbol = fields.text(Tag.SYMBOL)
    if msg_type == MsgType.ORDER_STATUS_REQUEST:
        return StatusRequest(session, cl_ord_id, order_id, fields.text(Tag.ORD_STATUS_REQ_ID), symbol, side)
    orig_cl_ord_id = fields.text(Tag.ORIG_CL_ORD_ID) or ""
    if msg_type == MsgType.ORDER_CANCEL_REQUEST:
        return CancelOrder(session, cl_ord_id, orig_cl_ord_id, order_id)
    order_type = fields.enum(Tag.ORD_TYPE, _ORDER_TYPES)
    qty = fields.decimal(Tag.ORDER_QTY, RejectReason.INCORRECT_QUANTITY)
    price = fields.decimal(Tag.PRICE, RejectReason.BAD_PRICE)
    if msg_type == MsgType.ORDER_CANCEL_REPLACE_REQUEST:
        return ReplaceOrder(session, cl_ord_id, orig_cl_ord_id, order_id, symbol, side, order_type, qty, price, fields.problem)
    return NewOrder(
        session=session,
        cl_ord_id=cl_ord_id,
        symbol=symbol,
        side=side,
        order_type=order_type,
        tif=fields.enum(Tag.TIME_IN_FORCE, _TIME_IN_FORCE, default=TimeInForce.DAY),
        qty=qty,
        cash=fields.decimal(Tag.CASH_ORDER_QTY, RejectReason.INCORRECT_QUANTITY),
        price=price,
        poss_dup=fields.header(Tag.POSS_DUP_FLAG) == "Y" or fields.header(Tag.POSS_RESEND) == "Y",
        problem=fields.problem,
    )


def _market_data_request(fields: _Fields, session: str) -> MarketDataRequest | Unusable:
    request_id = fields.text(Tag.MD_REQ_ID) or ""
    subscription = _SUBSCRIPTIONS.get(fields.text(Tag.SUBSCRIPTION_REQUEST_TYPE) or "")
    if subscription is None:
        return fields.unusable(session, BusinessRejectReason.OTHER, "SubscriptionRequestType(263) not supported", request_id)
    symbols: list[str] = []
    group = fix44.MarketDataRequest.NoRelatedSym()
    for index in range(1, int(fields.text(Tag.NO_RELATED_SYM) or "0") + 1):
        fields.message.getGroup(index, group)
        if group.isSetField(Tag.SYMBOL):
            symbols.append(group.getField(Tag.SYMBOL))
    return MarketDataRequest(session, request_id, subscription, symbols)


class _Fields:
    """Reads fields out of one message; keeps the first problem it meets."""

    def __init__(self, message: fix.Message) -> None:
        self.message = message
        self.problem: Problem | None = None

    def text(self, tag: int) -> str | None:
        return self.message.getField(tag) if self.message.isSetField(tag) else None

    def header(self, tag: int) -> str | None:
        header = self.message.getHeader()
        return header.getField(tag) if header.isSetField(tag) else None

    def decimal(self, tag: int, reason: RejectReason) -> int | None:
        text = self.text(tag)
        if text is None:
            return None
        try:
            return fixed.parse(text)
        except fixed.DecimalFormatError:
            self._note(reason, f"tag {tag} is not a decimal with at most {fixed.DECIMALS} places: {text!r}")
            return None

    def enum(self, tag: int, values: dict[str, _T], default: _T | None = None) -> _T | None:
        text = self.text(tag)
        if text is None:
            return default
        value = values.get(text)
        if value is None:
            self._note(RejectReason.UNSUPPORTED, f"tag {tag}={text} not supported")
        return value

    def unusable(self, session: str, reason: BusinessRejectReason, text: str, ref_id: str | None = None) -> Unusable:
        return Unusable(session, self.header(Tag.MSG_TYPE) or "", self.header(Tag.MSG_SEQ_NUM), ref_id, reason, text)

    def _note(self, reason: RejectReason, text: str) -> None:
        if self.problem is None:
            self.problem = Problem(reason, text)


# --- events → FIX -------------------------------------------------------------------------


def encode(event: Event | Unusable) -> fix.Message:
    """The FIX message for one event (its session is ``event.session``)."""
    if isinstance(event, ExecutionReport):
        return _execution_report(event)
    if isinstance(event, CancelRejected):
        return _cancel_reject(event)
    if isinstance(event, QuoteSent):
        return _quote(event)
    if isinstance(event, MarketDataSent):
        return _market_data_snapshot(event)
    if isinstance(event, MarketDataRejected):
        return _market_data_reject(event)
    return _business_reject(event)


def _execution_report(report: ExecutionReport) -> fix.Message:
    message = fix44.ExecutionReport()
    _set(message, Tag.ORDER_ID, report.order_id)
    _set(message, Tag.EXEC_ID, report.exec_id)
    _set(message, Tag.EXEC_TYPE, _EXEC_TYPES[report.kind])
    _set(message, Tag.ORD_STATUS, _ORD_STATUS[report.status])
    _set(message, Tag.CL_ORD_ID, report.cl_ord_id)
    _set(message, Tag.ORIG_CL_ORD_ID, report.orig_cl_ord_id)
    _set(message, Tag.SYMBOL, report.symbol)
    _set(message, Tag.SIDE, "1" if report.side is Side.BUY else "2")
    _set(message, Tag.ORD_TYPE, _key(_ORDER_TYPES, report.order_type))
    _set(message, Tag.TIME_IN_FORCE, _key(_TIME_IN_FORCE, report.tif))
    _set(message, Tag.ORDER_QTY, _quantity(report.qty))
    _set(message, Tag.CASH_ORDER_QTY, None if report.cash is None else fixed.format_cash(report.cash))
    _set(message, Tag.PRICE, _price(report.price))
    if report.kind is ExecKind.TRADE:
        _set(message, Tag.LAST_QTY, _quantity(report.last_qty))
        _set(message, Tag.LAST_PX, _price(report.last_price))
    _set(message, Tag.CUM_QTY, _quantity(report.cum_qty))
    _set(message, Tag.LEAVES_QTY, _quantity(report.leaves_qty))
    _set(message, Tag.AVG_PX, fixed.format(report.avg_price))
    _set(message, Tag.TRANSACT_TIME, utc_timestamp(report.transact_time))
    _set(message, Tag.TEXT, report.text)
    _set(message, Tag.ORD_REJ_REASON, None if report.reject_reason is None else _ORD_REJ_REASONS[report.reject_reason])
    _set(message, Tag.ORD_STATUS_REQ_ID, report.status_request_id)
    return message


def mark_poss_dup(message: fix.Message, orig_sending_time: int) -> None:
    """PossDupFlag=Y and OrigSendingTime on a message about to go out. quickfix's
    ``Session::send`` removes both, so this is done in ``Application.toApp``."""
    header = message.getHeader()
    header.setField(Tag.POSS_DUP_FLAG, "Y")
    header.setField(Tag.ORIG_SENDING_TIME, utc_timestamp(orig_sending_time))


def _cancel_reject(reject: CancelRejected) -> fix.Message:
    message = fix44.OrderCancelReject()
    _set(message, Tag.ORDER_ID, reject.order_id)
    _set(message, Tag.CL_ORD_ID, reject.cl_ord_id)
    _set(message, Tag.ORIG_CL_ORD_ID, reject.orig_cl_ord_id)
    _set(message, Tag.ORD_STATUS, _ORD_STATUS[reject.status])
    _set(message, Tag.CXL_REJ_RESPONSE_TO, _CXL_REJ_RESPONSE_TO[reject.response_to])
    _set(message, Tag.CXL_REJ_REASON, _CXL_REJ_REASONS[reject.reason])
    _set(message, Tag.TEXT, reject.text)
    _set(message, Tag.TRANSACT_TIME, utc_timestamp(reject.transact_time))
    return message


def _quote(event: QuoteSent) -> fix.Message:
    quote = event.quote
    message = fix44.Quote()
    _set(message, Tag.QUOTE_ID, quote.quote_id)
    _set(message, Tag.SYMBOL, quote.symbol)
    _set(message, Tag.BID_PX, _price(quote.bid))
    _set(message, Tag.OFFER_PX, _price(quote.ask))
    _set(message, Tag.BID_SIZE, _quantity(quote.bid_size))
    _set(message, Tag.OFFER_SIZE, _quantity(quote.ask_size))
    return message


def _market_data_snapshot(event: MarketDataSent) -> fix.Message:
    quote = event.quote
    message = fix44.MarketDataSnapshotFullRefresh()
    _set(message, Tag.MD_REQ_ID, event.request_id)
    _set(message, Tag.SYMBOL, quote.symbol)
    entry = fix44.MarketDataSnapshotFullRefresh.NoMDEntries()
    for entry_type, price, size in ((_MD_BID, quote.bid, quote.bid_size), (_MD_OFFER, quote.ask, quote.ask_size)):
        _set(entry, Tag.MD_ENTRY_TYPE, entry_type)
        _set(entry, Tag.MD_ENTRY_PX, _price(price))
        _set(entry, Tag.MD_ENTRY_SIZE, _quantity(size))
        message.addGroup(entry)
    return message


def _market_data_reject(event: MarketDataRejected) -> fix.Message:
    message = fix44.MarketDataRequestReject()
    _set(message, Tag.MD_REQ_ID, event.request_id)
    _set(message, Tag.MD_REQ_REJ_REASON, _MD_REJ_REASONS[event.reason])
    _set(message, Tag.TEXT, event.text)
    return message


def _business_reject(event: Unusable) -> fix.Message:
    message = fix44.BusinessMessageReject()
    _set(message, Tag.REF_SEQ_NUM, event.ref_seq_num)
    _set(message, Tag.REF_MSG_TYPE, event.ref_msg_type)
    _set(message, Tag.BUSINESS_REJECT_REF_ID, event.ref_id)
    _set(message, Tag.BUSINESS_REJECT_REASON, event.reason.value)
    _set(message, Tag.TEXT, event.text)
    return message


def _set(message: fix.FieldMap, tag: int, value: str | None) -> None:
    if value is not None:
        message.setField(tag, value)


def _key(values: dict[str, _T], value: _T | None) -> str | None:
    return next((key for key, known in values.items() if known == value), None)


def _quantity(value: int | None) -> str | None:
    return None if value is None else fixed.format(value)


def _price(value: int | None) -> str | None:
    return None if value is None else fixed.format(value, min_places=2)


def utc_timestamp(ns: int) -> str:
    """FIX UTCTimestamp with milliseconds: ``20261121-15:25:52.123``."""
    seconds, rest = divmod(ns, NS_PER_S)
    return time.strftime("%Y%m%d-%H:%M:%S", time.gmtime(seconds)) + f".{rest // NS_PER_MS:03d}"
