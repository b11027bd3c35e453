"""The FIX 4.4 vocabulary brokerd speaks: the tags, message types and enumerated values it
reads or writes, under their FIX names, and how brokerd's own enums map onto them.

One vocabulary for everything FIX here: the codec (``outbound.py``, ``inbound.py``), the
quickfix session (``session.py``), the venue adapter (``venue.py``) and the market-maker
simulator (``simulator/``). Pure: no quickfix, so a pure core may use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum, StrEnum
from typing import TypeVar

from model.enums import OrderStatus, OrderType, Side, TimeInForce

BEGIN_STRING = "FIX.4.4"
YES = "Y"  # a FIX Boolean: PossDupFlag, PossResend

K = TypeVar("K")


class Tag(IntEnum):
    """The FIX tags brokerd or its simulator reads or writes, under their FIX names."""

    Account = 1
    AvgPx = 6
    BeginString = 8
    BodyLength = 9
    CheckSum = 10
    ClOrdID = 11
    CumQty = 14
    ExecID = 17
    HandlInst = 21
    LastPx = 31
    LastQty = 32
    MsgSeqNum = 34
    MsgType = 35
    OrderID = 37
    OrderQty = 38
    OrdStatus = 39
    OrdType = 40
    OrigClOrdID = 41
    PossDupFlag = 43
    Price = 44
    RefSeqNum = 45
    Quantity = 53
    Side = 54
    Symbol = 55
    Text = 58
    TimeInForce = 59
    TransactTime = 60
    AllocID = 70
    AllocTransType = 71
    TradeDate = 75
    NoAllocs = 78
    AllocAccount = 79
    AllocQty = 80
    PossResend = 97
    CxlRejReason = 102
    OrdRejReason = 103
    QuoteID = 117
    OrigSendingTime = 122
    BidPx = 132
    OfferPx = 133
    BidSize = 134
    OfferSize = 135
    NoRelatedSym = 146
    ExecType = 150
    LeavesQty = 151
    CashOrderQty = 152
    MDReqID = 262
    SubscriptionRequestType = 263
    NoMDEntries = 268
    MDEntryType = 269
    MDEntryPx = 270
    MDEntrySize = 271
    MDReqRejReason = 281
    RefTagID = 371
    RefMsgType = 372
    SessionRejectReason = 373
    BusinessRejectRefID = 379
    BusinessRejectReason = 380
    CxlRejResponseTo = 434
    Username = 553
    Password = 554
    AllocType = 626
    OrdStatusReqID = 790
    AllocNoOrdersType = 857


class MsgType(StrEnum):
    REJECT = "3"
    LOGON = "A"
    EXECUTION_REPORT = "8"
    ORDER_CANCEL_REJECT = "9"
    NEW_ORDER_SINGLE = "D"
    ORDER_CANCEL_REQUEST = "F"
    ORDER_CANCEL_REPLACE_REQUEST = "G"
    ORDER_STATUS_REQUEST = "H"
    ALLOCATION_INSTRUCTION = "J"
    QUOTE = "S"
    MARKET_DATA_REQUEST = "V"
    MARKET_DATA_SNAPSHOT_FULL_REFRESH = "W"
    MARKET_DATA_REQUEST_REJECT = "Y"
    BUSINESS_MESSAGE_REJECT = "j"


ORDER_MESSAGES = frozenset(
    {MsgType.NEW_ORDER_SINGLE, MsgType.ORDER_CANCEL_REQUEST, MsgType.ORDER_CANCEL_REPLACE_REQUEST, MsgType.ORDER_STATUS_REQUEST}
)
"""What brokerd sends a venue about one order, each naming it by ClOrdID: a venue's Reject or
BusinessMessageReject of one of these ends, or refuses, something about that order."""


def is_refusal(msg_type: str) -> bool:
    """A Reject (3) or BusinessMessageReject (j): never answered with another one, or two
    sides that each refuse the other's refusal would do so forever."""
    return msg_type in (MsgType.REJECT, MsgType.BUSINESS_MESSAGE_REJECT)


class SessionRejectReason(IntEnum):
    """Values of SessionRejectReason (373) in a Reject (3)."""

    INVALID_TAG_NUMBER = 0
    REQUIRED_TAG_MISSING = 1
    TAG_NOT_DEFINED_FOR_MESSAGE_TYPE = 2
    TAG_SPECIFIED_WITHOUT_VALUE = 4
    VALUE_IS_INCORRECT = 5
    INCORRECT_DATA_FORMAT = 6
    INVALID_MSG_TYPE = 11
    TAG_APPEARS_MORE_THAN_ONCE = 13
    TAG_SPECIFIED_OUT_OF_REQUIRED_ORDER = 14
    INCORRECT_NUM_IN_GROUP_COUNT = 16
    OTHER = 99


class BusinessRejectReason(IntEnum):
    """Values of BusinessRejectReason (380) in a BusinessMessageReject (j)."""

    OTHER = 0
    UNKNOWN_ID = 1
    UNSUPPORTED_MESSAGE_TYPE = 3
    CONDITIONALLY_REQUIRED_FIELD_MISSING = 5


class ExecTypeCode(StrEnum):
    """Values of ExecType (150); named apart from brokerd's own ``model.enums.ExecType``."""

    NEW = "0"
    CANCELED = "4"
    REPLACED = "5"
    REJECTED = "8"
    EXPIRED = "C"
    TRADE = "F"
    ORDER_STATUS = "I"


class OrdStatus(StrEnum):
    """Values of OrdStatus (39)."""

    NEW = "0"
    PARTIALLY_FILLED = "1"
    FILLED = "2"
    CANCELED = "4"
    REPLACED = "5"
    REJECTED = "8"
    PENDING_NEW = "A"
    EXPIRED = "C"


DONE_ORD_STATUSES = frozenset({OrdStatus.FILLED, OrdStatus.CANCELED, OrdStatus.REJECTED, OrdStatus.EXPIRED})
"""An order in one of these works no more at the venue."""


class OrdRejReason(StrEnum):
    """Values of OrdRejReason (103)."""

    UNKNOWN_SYMBOL = "1"
    EXCHANGE_CLOSED = "2"
    ORDER_EXCEEDS_LIMIT = "3"
    UNKNOWN_ORDER = "5"
    DUPLICATE_ORDER = "6"
    UNSUPPORTED_ORDER_CHARACTERISTIC = "11"
    INCORRECT_QUANTITY = "13"
    OTHER = "99"


class CxlRejReason(StrEnum):
    """Values of CxlRejReason (102)."""

    TOO_LATE_TO_CANCEL = "0"
    UNKNOWN_ORDER = "1"
    BROKER_OPTION = "2"
    ALREADY_PENDING = "3"
    DUPLICATE_CL_ORD_ID = "6"
    OTHER = "99"


class CxlRejResponseTo(StrEnum):
    """Values of CxlRejResponseTo (434): what an OrderCancelReject refuses."""

    CANCEL = "1"
    REPLACE = "2"


class MDEntryType(StrEnum):
    BID = "0"
    OFFER = "1"


class SubscriptionRequestType(StrEnum):
    SNAPSHOT = "0"
    SUBSCRIBE = "1"
    UNSUBSCRIBE = "2"


class MDReqRejReason(StrEnum):
    UNKNOWN_SYMBOL = "0"
    DUPLICATE_MD_REQ_ID = "1"


HANDL_INST_AUTOMATED = "1"  # HandlInst (21): automated execution, no broker intervention
ALLOC_TRANS_TYPE_NEW = "0"  # AllocTransType (71)
ALLOC_TYPE_CALCULATED = "1"  # AllocType (626)
ALLOC_NO_ORDERS_NOT_SPECIFIED = "0"  # AllocNoOrdersType (857): no list of orders follows


# --- brokerd's enums on the wire ---------------------------------------------------------------

SIDE: Mapping[Side, str] = {Side.BUY: "1", Side.SELL: "2"}
ORD_TYPE: Mapping[OrderType, str] = {OrderType.MARKET: "1", OrderType.LIMIT: "2", OrderType.STOP: "3", OrderType.STOP_LIMIT: "4"}
TIME_IN_FORCE: Mapping[TimeInForce, str] = {
    TimeInForce.DAY: "0",
    TimeInForce.GTC: "1",
    TimeInForce.OPG: "2",
    TimeInForce.IOC: "3",
    TimeInForce.FOK: "4",
}
ORD_STATUS: Mapping[OrderStatus, OrdStatus] = {
    OrderStatus.NEW: OrdStatus.NEW,
    OrderStatus.PARTIALLY_FILLED: OrdStatus.PARTIALLY_FILLED,
    OrderStatus.FILLED: OrdStatus.FILLED,
    OrderStatus.CANCELED: OrdStatus.CANCELED,
    OrderStatus.REPLACED: OrdStatus.REPLACED,
    OrderStatus.REJECTED: OrdStatus.REJECTED,
    OrderStatus.PENDING_NEW: OrdStatus.PENDING_NEW,
    OrderStatus.EXPIRED: OrdStatus.EXPIRED,
}


def decoding(encoding: Mapping[K, str], only: frozenset[K] | None = None) -> dict[str, K]:
    """The wire value → enum map of ``encoding`` (an enum → wire value map), limited to
    ``only`` when given: what a reader of the wire takes."""
    return {code: member for member, code in encoding.items() if only is None or member in only}
