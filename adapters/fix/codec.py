"""FIX 4.4 application messages ⇄ brokerd's domain messages: a pure codec.

No sockets, no sessions, no clock: ``now`` (ns since the epoch) arrives with every call, so
the same input always gives the same output. Builders return a ``quickfix.Message`` with
BeginString and MsgType set; the session adds the rest of the header (CompIDs, MsgSeqNum,
SendingTime). Decoders first check a message against the FIX 4.4 dictionary, then against
what brokerd can act on, and either return a whole domain value or raise ``CodecError``
carrying what a Reject (3) or BusinessMessageReject (j) needs — never half a message.

Numbers are decimal strings on the wire and ``model.fixed`` ints inside; no float is ever
produced or accepted. quickfix has no type stubs, so its objects are ``Any`` here and stay
at this module's edge: callers get domain structs back.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from enum import IntEnum, StrEnum
from typing import Any, Literal

import msgspec
import quickfix as fix

from adapters.fix.spec import fix44_dictionary
from model import fixed
from model.enums import ExecType, OrderStatus, OrderType, Reason, Side, TimeInForce, VenueEventKind
from model.messages import ExecutionReport, VenueNewOrder, VenueQuote, VenueReport

BEGIN_STRING = "FIX.4.4"

MAX_WHOLE_UNITS = 10**9
"""The largest quantity, price or cash amount taken from the wire, in whole units. Far beyond
any real order, and small enough that the value at 10^-9 stays well inside the int64 that
msgpack (journals, hops) can carry: 10^9 × 10^9 = 10^18 < 9.2 × 10^18."""

_MAX_VALUE = MAX_WHOLE_UNITS * fixed.SCALE
_NANOS_PER_SECOND = 10**9
_NANOS_PER_MILLI = 10**6


class Tag(IntEnum):
    """The FIX tags this codec reads or writes, under their FIX names."""

    Account = 1
    AvgPx = 6
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
    CxlRejReason = 102
    OrdRejReason = 103
    QuoteID = 117
    BidPx = 132
    OfferPx = 133
    BidSize = 134
    OfferSize = 135
    ExecType = 150
    LeavesQty = 151
    CashOrderQty = 152
    NoMDEntries = 268
    MDEntryType = 269
    MDEntryPx = 270
    MDEntrySize = 271
    RefTagID = 371
    RefMsgType = 372
    SessionRejectReason = 373
    BusinessRejectRefID = 379
    BusinessRejectReason = 380
    CxlRejResponseTo = 434
    AllocType = 626
    AllocNoOrdersType = 857


class MsgType(StrEnum):
    REJECT = "3"
    EXECUTION_REPORT = "8"
    ORDER_CANCEL_REJECT = "9"
    NEW_ORDER_SINGLE = "D"
    ORDER_CANCEL_REQUEST = "F"
    ORDER_CANCEL_REPLACE_REQUEST = "G"
    ORDER_STATUS_REQUEST = "H"
    ALLOCATION_INSTRUCTION = "J"
    QUOTE = "S"
    MARKET_DATA_SNAPSHOT_FULL_REFRESH = "W"
    BUSINESS_MESSAGE_REJECT = "j"


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


ORDER_MESSAGES = frozenset(
    {MsgType.NEW_ORDER_SINGLE, MsgType.ORDER_CANCEL_REQUEST, MsgType.ORDER_CANCEL_REPLACE_REQUEST, MsgType.ORDER_STATUS_REQUEST}
)
"""What brokerd sends a venue about one order, each naming it by ClOrdID: a venue's Reject or
BusinessMessageReject of one of these ends, or refuses, something about that order."""


RejectKind = Literal["session", "business"]


class CodecError(ValueError):
    """A message brokerd cannot take (or, from a builder, cannot send), and why.

    ``reject_kind`` says which answer fits: ``"session"`` — malformed for FIX 4.4 or out of
    range (a Reject (3) with RefTagID ``tag`` and SessionRejectReason ``code``); ``"business"``
    — well formed but not something brokerd can act on (a BusinessMessageReject (j) with
    BusinessRejectReason ``code``). Fields FIX 4.4 requires are session errors when missing;
    fields only brokerd needs (ClOrdID on an ExecutionReport, LastPx on a trade) are business
    errors ("conditionally required field missing").
    """

    def __init__(self, reason: str, tag: int | None, reject_kind: RejectKind, code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.tag = tag
        self.reject_kind: RejectKind = reject_kind
        if code is None:
            code = SessionRejectReason.OTHER if reject_kind == "session" else BusinessRejectReason.OTHER
        self.code = int(code)

    def __repr__(self) -> str:
        return f"CodecError({self.reason!r}, tag={self.tag}, {self.reject_kind}, code={self.code})"


def _session_error(reason: str, tag: int | None, code: SessionRejectReason) -> CodecError:
    return CodecError(reason, tag, "session", code)


def _business_error(reason: str, tag: int | None, code: BusinessRejectReason = BusinessRejectReason.OTHER) -> CodecError:
    return CodecError(reason, tag, "business", code)


def _label(tag: int) -> str:
    try:
        return f"{Tag(tag).name}({tag})"
    except ValueError:
        return f"tag {tag}"


# --- the dictionary -----------------------------------------------------------------------------


@functools.cache
def dictionary() -> Any:
    """The FIX 4.4 ``quickfix.DataDictionary`` decoders check against: required fields, enum
    values, data formats, group counts. Lenient about field order and user-defined or unknown
    fields, which sessions may be configured to allow: the codec must not refuse for form what
    the session let through."""
    data_dictionary = fix.DataDictionary(str(fix44_dictionary()))
    data_dictionary.checkFieldsOutOfOrder(False)
    data_dictionary.checkUserDefinedFields(False)
    data_dictionary.allowUnknownMsgFields(True)
    return data_dictionary


def outgoing(raw: str) -> Any:
    """A message this side built and journaled as a string, parsed back with the FIX 4.4
    dictionary so its repeating groups (an allocation's NoAllocs) survive: without it
    quickfix reads every field as flat and sends the group's fields sorted by tag."""
    return fix.Message(raw, dictionary(), False)


_QUICKFIX_REJECT_REASONS: list[tuple[type[Exception], SessionRejectReason]] = [
    (fix.RequiredTagMissing, SessionRejectReason.REQUIRED_TAG_MISSING),
    (fix.FieldNotFound, SessionRejectReason.REQUIRED_TAG_MISSING),
    (fix.IncorrectTagValue, SessionRejectReason.VALUE_IS_INCORRECT),
    (fix.IncorrectDataFormat, SessionRejectReason.INCORRECT_DATA_FORMAT),
    (fix.FieldConvertError, SessionRejectReason.INCORRECT_DATA_FORMAT),
    (fix.NoTagValue, SessionRejectReason.TAG_SPECIFIED_WITHOUT_VALUE),
    (fix.InvalidTagNumber, SessionRejectReason.INVALID_TAG_NUMBER),
    (fix.TagNotDefinedForMessage, SessionRejectReason.TAG_NOT_DEFINED_FOR_MESSAGE_TYPE),
    (fix.InvalidMessageType, SessionRejectReason.INVALID_MSG_TYPE),
    (fix.RepeatedTag, SessionRejectReason.TAG_APPEARS_MORE_THAN_ONCE),
    (fix.TagOutOfOrder, SessionRejectReason.TAG_SPECIFIED_OUT_OF_REQUIRED_ORDER),
    (fix.RepeatingGroupCountMismatch, SessionRejectReason.INCORRECT_NUM_IN_GROUP_COUNT),
]


def _from_quickfix(error: Exception) -> CodecError:
    tag = getattr(error, "field", 0) or None
    if isinstance(error, fix.UnsupportedMessageType):
        return _business_error(f"unsupported message type: {error}", Tag.MsgType, BusinessRejectReason.UNSUPPORTED_MESSAGE_TYPE)
    for error_type, code in _QUICKFIX_REJECT_REASONS:
        if isinstance(error, error_type):
            return _session_error(str(error), tag, code)
    return _session_error(str(error), tag, SessionRejectReason.OTHER)


def _msg_type(msg: Any) -> str:
    header = msg.getHeader()
    if not header.isSetField(Tag.MsgType):
        raise _session_error("MsgType(35) missing", Tag.MsgType, SessionRejectReason.REQUIRED_TAG_MISSING)
    return str(header.getField(Tag.MsgType))


def _validate(msg: Any, expected: MsgType) -> None:
    msg_type = _msg_type(msg)
    if msg_type != expected:
        raise _business_error(
            f"expected MsgType {expected.value}, got {msg_type}", Tag.MsgType, BusinessRejectReason.UNSUPPORTED_MESSAGE_TYPE
        )
    try:
        dictionary().validate(msg, True)
    except fix.FIXException as error:
        raise _from_quickfix(error) from None


# --- decimals -------------------------------------------------------------------------------

# ASCII digits only, matched in full: ``\d`` and ``$`` would also let through other scripts'
# digits and a trailing newline, which ``int()`` and ``fixed.parse`` then accept.
_FIX_FLOAT = re.compile(r"(-?)([0-9]*)(?:\.([0-9]*))?")


def to_fix_decimal(value: int) -> str:
    """A fixed-point value as a FIX decimal: ``1_300_000_000`` → ``"1.3"``."""
    return fixed.format(value)


def from_fix_decimal(text: str, tag: int | None = None) -> int:
    """A FIX float field as a fixed-point value, exactly. Takes what FIX allows — ``"0023.50"``,
    ``".5"``, ``"5."``, trailing zeros past the ninth place — and refuses exponents, signs other
    than a leading ``-``, ``nan``/``inf`` (incorrect data format) and any value that needs more
    than nine decimal places or eighteen digits (value incorrect)."""
    match = _FIX_FLOAT.fullmatch(text)
    if match is None or not (match.group(2) or match.group(3)):
        raise _session_error(f"{_where(tag)}not a decimal number: {text!r}", tag, SessionRejectReason.INCORRECT_DATA_FORMAT)
    sign, whole, fraction = match.groups()
    canonical = sign + (whole.lstrip("0") or "0")
    fraction = (fraction or "").rstrip("0")
    if fraction:
        canonical += "." + fraction
    try:
        return fixed.parse(canonical)
    except fixed.DecimalFormatError:
        raise _session_error(
            f"{_where(tag)}{text!r} needs more than {fixed.DECIMALS} decimal places or 18 digits",
            tag,
            SessionRejectReason.VALUE_IS_INCORRECT,
        ) from None


def _where(tag: int | None) -> str:
    return f"{_label(tag)}: " if tag is not None else ""


def _in_range(value: int, tag: int, *, zero_ok: bool) -> int:
    if value < 0 or (value == 0 and not zero_ok):
        bound = ">= 0" if zero_ok else "> 0"
        raise _session_error(f"{_label(tag)} must be {bound}, got {to_fix_decimal(value)}", tag, SessionRejectReason.VALUE_IS_INCORRECT)
    if value > _MAX_VALUE:
        raise _session_error(
            f"{_label(tag)} {to_fix_decimal(value)} is over the limit of {MAX_WHOLE_UNITS}", tag, SessionRejectReason.VALUE_IS_INCORRECT
        )
    return value


# --- reading fields -----------------------------------------------------------------------------


class _Fields:
    """Typed reads from one message body or repeating group; every failure is a CodecError."""

    def __init__(self, fields: Any, msg_type: MsgType) -> None:
        self._fields = fields
        self._msg_type = msg_type

    def optional(self, tag: int) -> str | None:
        return str(self._fields.getField(tag)) if self._fields.isSetField(tag) else None

    def text(self, tag: int) -> str:
        value = self.optional(tag)
        if value is None:
            if dictionary().isRequiredField(self._msg_type.value, tag):
                raise _session_error(f"{_label(tag)} missing", tag, SessionRejectReason.REQUIRED_TAG_MISSING)
            raise _business_error(f"{_label(tag)} missing", tag, BusinessRejectReason.CONDITIONALLY_REQUIRED_FIELD_MISSING)
        # quickfix's validate() does not look inside repeating groups: check enum values here.
        if dictionary().hasFieldValue(tag) and not dictionary().isFieldValue(tag, value):
            raise _session_error(f"{_label(tag)} has no value {value!r} in FIX 4.4", tag, SessionRejectReason.VALUE_IS_INCORRECT)
        return value

    def amount(self, tag: int, *, zero_ok: bool = False) -> int:
        return _in_range(from_fix_decimal(self.text(tag), tag), tag, zero_ok=zero_ok)

    def optional_amount(self, tag: int) -> int | None:
        return None if self.optional(tag) is None else self.amount(tag)

    def choice(self, tag: int, choices: dict[str, Any]) -> Any:
        value = self.text(tag)
        if value not in choices:
            raise _session_error(f"{_label(tag)} value {value!r} not supported", tag, SessionRejectReason.VALUE_IS_INCORRECT)
        return choices[value]


def _groups(msg: Any, count_tag: int, delimiter: int) -> Iterator[Any]:
    count = msg.getField(count_tag) if msg.isSetField(count_tag) else "0"
    if not (count.isascii() and count.isdigit()):
        raise _session_error(f"{_label(count_tag)} is not a count: {count!r}", count_tag, SessionRejectReason.INCORRECT_DATA_FORMAT)
    expected = int(count)
    found = msg.groupCount(count_tag)
    if found != expected:
        raise _session_error(
            f"{_label(count_tag)} says {expected} entries, found {found}", count_tag, SessionRejectReason.INCORRECT_NUM_IN_GROUP_COUNT
        )
    for number in range(1, found + 1):
        group = fix.Group(count_tag, delimiter)
        msg.getGroup(number, group)
        yield group


# --- enums ----------------------------------------------------------------------------------------

_SIDE = {Side.BUY: "1", Side.SELL: "2"}
_ORD_TYPE = {OrderType.MARKET: "1", OrderType.LIMIT: "2", OrderType.STOP: "3", OrderType.STOP_LIMIT: "4"}
_TIME_IN_FORCE = {TimeInForce.DAY: "0", TimeInForce.GTC: "1", TimeInForce.OPG: "2", TimeInForce.IOC: "3", TimeInForce.FOK: "4"}
_ORD_STATUS = {
    OrderStatus.NEW: "0",
    OrderStatus.PARTIALLY_FILLED: "1",
    OrderStatus.FILLED: "2",
    OrderStatus.CANCELED: "4",
    OrderStatus.REPLACED: "5",
    OrderStatus.REJECTED: "8",
    OrderStatus.PENDING_NEW: "A",
    OrderStatus.EXPIRED: "C",
}
_EXEC_KIND = {
    "0": VenueEventKind.ACCEPTED,
    "F": VenueEventKind.TRADE,
    "4": VenueEventKind.CANCELED,
    "5": VenueEventKind.REPLACED,
    "8": VenueEventKind.REJECTED,
    "C": VenueEventKind.EXPIRED,
}
_DONE_ORD_STATUSES = frozenset({"2", "4", "8", "C"})  # filled, canceled, rejected, expired
_CXL_REJ_RESPONSE_TO = {"1": VenueEventKind.CANCEL_REJECTED, "2": VenueEventKind.REPLACE_REJECTED}
# FIX reason codes that name one of brokerd's own reasons; any other code falls back to Text.
_CXL_REJ_REASONS = {"0": Reason.TOO_LATE_TO_CANCEL, "1": Reason.TOO_LATE_TO_CANCEL, "3": Reason.PENDING_REQUEST}
_ORD_REJ_REASONS = {"2": Reason.MARKET_CLOSED}
_BID, _OFFER = "0", "1"  # MDEntryType


# --- outbound: broker → market maker -----------------------------------------------------------


class ChildOrder(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """A child order as the venue holds it: what cancel and replace requests must repeat.

    ``child_id`` is brokerd's id for it (the first ClOrdID); ``cl_ord_id`` is the ClOrdID the
    venue knows it by now when an accepted replace has changed it (``None``: still
    ``child_id``). The FIX adapter keeps one per working child.
    """

    child_id: str
    symbol: str
    side: Side
    order_type: OrderType
    tif: TimeInForce
    qty: int | None
    notional: int | None
    price: int | None
    cl_ord_id: str | None = None

    @classmethod
    def of(cls, order: VenueNewOrder) -> ChildOrder:
        spec = order.spec
        return cls(order.child_id, spec.symbol, spec.side, spec.order_type, spec.tif, spec.qty, spec.notional, spec.price)

    @property
    def venue_cl_ord_id(self) -> str:
        """The ClOrdID a cancel or replace request names as OrigClOrdID."""
        return self.cl_ord_id or self.child_id

    def replaced(self, cl_ord_id: str, qty: int, price: int | None) -> ChildOrder:
        """The child after the venue accepted a replace that gave it ``cl_ord_id``."""
        return msgspec.structs.replace(self, cl_ord_id=cl_ord_id, qty=qty, price=price)


def fix_timestamp(now: int) -> str:
    """ns since the epoch → a FIX UTCTimestamp with milliseconds, ``20251121-04:40:00.123``."""
    seconds, nanos = divmod(now, _NANOS_PER_SECOND)
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    return f"{moment:%Y%m%d-%H:%M:%S}.{nanos // _NANOS_PER_MILLI:03d}"


def _message(msg_type: MsgType) -> Any:
    msg = fix.Message()
    header = msg.getHeader()
    header.setField(fix.BeginString(BEGIN_STRING))
    header.setField(fix.MsgType(msg_type.value))
    return msg


def _set_amount(fields: Any, tag: Tag, value: int, *, zero_ok: bool = False) -> None:
    if value < 0 or (value == 0 and not zero_ok):
        raise _business_error(f"{_label(tag)} must be {'>= 0' if zero_ok else '> 0'}, got {to_fix_decimal(value)}", tag)
    fields.setField(tag, to_fix_decimal(value))


def _set_order_qty(msg: Any, qty: int | None, notional: int | None) -> None:
    """OrderQty (38) for a quantity, CashOrderQty (152) for a cash amount: exactly one."""
    if (qty is None) == (notional is None):
        raise _business_error("exactly one of qty and notional is needed", Tag.OrderQty)
    if qty is not None:
        _set_amount(msg, Tag.OrderQty, qty)
    else:
        assert notional is not None
        _set_amount(msg, Tag.CashOrderQty, notional)


def _set_order_type(msg: Any, order_type: OrderType, tif: TimeInForce, price: int | None) -> None:
    """OrdType, TimeInForce and, for limit orders, Price. Stop orders never reach a venue:
    brokerd holds them and sends them as market or limit once triggered."""
    if order_type.has_stop:
        raise _business_error(f"{order_type.value} orders are triggered by brokerd and sent as market or limit", Tag.OrdType)
    msg.setField(Tag.OrdType, _ORD_TYPE[order_type])
    msg.setField(Tag.TimeInForce, _TIME_IN_FORCE[tif])
    if order_type.has_price:
        if price is None:
            raise _business_error(f"a {order_type.value} order needs a price", Tag.Price)
        _set_amount(msg, Tag.Price, price)


def new_order_single(order: VenueNewOrder, now: int) -> Any:
    """NewOrderSingle (D) for a child order; ClOrdID is ``child_id``. ``qty_cap`` has no FIX
    field and is not sent. Raises CodecError (business) for an order FIX cannot carry."""
    msg = _message(MsgType.NEW_ORDER_SINGLE)
    msg.setField(Tag.ClOrdID, order.child_id)
    msg.setField(Tag.HandlInst, "1")  # automated execution, no broker intervention
    msg.setField(Tag.Symbol, order.spec.symbol)
    msg.setField(Tag.Side, _SIDE[order.spec.side])
    msg.setField(Tag.TransactTime, fix_timestamp(now))
    _set_order_qty(msg, order.spec.qty, order.spec.notional)
    _set_order_type(msg, order.spec.order_type, order.spec.tif, order.spec.price)
    return msg


def cancel_request(child: ChildOrder, cancel_id: str, now: int) -> Any:
    """OrderCancelRequest (F): ClOrdID ``cancel_id``, OrigClOrdID the child's current ClOrdID."""
    msg = _message(MsgType.ORDER_CANCEL_REQUEST)
    msg.setField(Tag.ClOrdID, cancel_id)
    msg.setField(Tag.OrigClOrdID, child.venue_cl_ord_id)
    msg.setField(Tag.Symbol, child.symbol)
    msg.setField(Tag.Side, _SIDE[child.side])
    msg.setField(Tag.TransactTime, fix_timestamp(now))
    _set_order_qty(msg, child.qty, child.notional)
    return msg


def replace_request(child: ChildOrder, replace_id: str, qty: int, price: int | None, now: int) -> Any:
    """OrderCancelReplaceRequest (G) to total quantity ``qty`` and ``price``: ClOrdID
    ``replace_id``, OrigClOrdID the child's current ClOrdID. Only quantity orders can be
    replaced (as in the sim venue); a notional child raises CodecError."""
    if child.notional is not None:
        raise _business_error("a notional order cannot be replaced", Tag.CashOrderQty)
    msg = _message(MsgType.ORDER_CANCEL_REPLACE_REQUEST)
    msg.setField(Tag.ClOrdID, replace_id)
    msg.setField(Tag.OrigClOrdID, child.venue_cl_ord_id)
    msg.setField(Tag.HandlInst, "1")
    msg.setField(Tag.Symbol, child.symbol)
    msg.setField(Tag.Side, _SIDE[child.side])
    msg.setField(Tag.TransactTime, fix_timestamp(now))
    _set_order_qty(msg, qty, None)
    _set_order_type(msg, child.order_type, child.tif, price)
    return msg


def order_status_request(child: ChildOrder, now: int) -> Any:
    """OrderStatusRequest (H) for a child by its current ClOrdID (reconciliation after a
    restart). The venue answers with an ExecutionReport, ExecType I."""
    msg = _message(MsgType.ORDER_STATUS_REQUEST)
    msg.setField(Tag.ClOrdID, child.venue_cl_ord_id)
    msg.setField(Tag.Symbol, child.symbol)
    msg.setField(Tag.Side, _SIDE[child.side])
    return msg


def order_reference(msg: Any) -> tuple[str, str] | None:
    """``(MsgType, ClOrdID)`` of a message brokerd sends about one order (NewOrderSingle,
    OrderCancelRequest, OrderCancelReplaceRequest, OrderStatusRequest); ``None`` for any
    other message. What the session records with the MsgSeqNum each one got, so that a
    Reject naming only that number finds the order."""
    header = msg.getHeader()
    if not header.isSetField(Tag.MsgType) or not msg.isSetField(Tag.ClOrdID):
        return None
    msg_type = str(header.getField(Tag.MsgType))
    return (msg_type, str(msg.getField(Tag.ClOrdID))) if msg_type in ORDER_MESSAGES else None


# --- inbound: market maker → broker ---------------------------------------------------------------


class Inbound(msgspec.Struct, frozen=True, gc=False):
    """An ExecutionReport (8) or OrderCancelReject (9) as the adapter needs it.

    ``report`` is what to apply, with ``child_id`` = ClOrdID as the venue sent it; ``None``
    when the ExecType changes nothing brokerd tracks (order status, restated, pending, trade
    correct/cancel — ``exec_type`` says which, for the log). For replace and cancel answers
    the venue sends the request's ClOrdID with OrigClOrdID = the order's previous one: the
    adapter maps either to its child and calls ``for_child``. ``order_status`` is the FIX
    OrdStatus (39) code; ``exec_id`` (None on a 9) is what resends are deduplicated by.
    """

    report: VenueReport | None
    cl_ord_id: str
    orig_cl_ord_id: str | None
    leaves_qty: int | None
    cum_qty: int | None
    order_status: str
    exec_type: str | None
    exec_id: str | None
    venue_order_id: str
    possible_duplicate: bool = False

    def for_child(self, child_id: str) -> VenueReport | None:
        """``report`` renamed to the adapter's own child id."""
        return None if self.report is None else msgspec.structs.replace(self.report, child_id=child_id)


def _possible_duplicate(msg: Any) -> bool:
    header = msg.getHeader()
    return bool(header.isSetField(Tag.PossDupFlag) and header.getField(Tag.PossDupFlag) == "Y")


def _reason(fields: _Fields, code_tag: int, codes: dict[str, Reason], default: Reason | None) -> str | None:
    """A domain reason when the FIX reason code names one, else the venue's Text, else ``default``."""
    code = fields.optional(code_tag)
    if code is not None and code in codes:
        return codes[code].value
    text = fields.optional(Tag.Text)
    if text:
        return text
    return None if default is None else default.value


def decode_execution_report(msg: Any, venue: str, now: int) -> Inbound:
    """ExecutionReport (8) → ``Inbound``. ExecType 0 accepted, F trade (LastQty, LastPx > 0),
    4 canceled, 5 replaced (OrigClOrdID required), 8 rejected, C expired; any other ExecType
    gives ``report=None``. ``done`` when LeavesQty is 0 or OrdStatus is filled, canceled,
    rejected or expired. Raises CodecError."""
    _validate(msg, MsgType.EXECUTION_REPORT)
    fields = _Fields(msg, MsgType.EXECUTION_REPORT)
    exec_type = fields.text(Tag.ExecType)
    order_status = fields.text(Tag.OrdStatus)
    cl_ord_id = fields.text(Tag.ClOrdID)
    orig_cl_ord_id = fields.optional(Tag.OrigClOrdID)
    leaves_qty = fields.amount(Tag.LeavesQty, zero_ok=True)
    cum_qty = fields.amount(Tag.CumQty, zero_ok=True)
    kind = _EXEC_KIND.get(exec_type)
    report = None
    if kind is not None:
        if kind is VenueEventKind.REPLACED and orig_cl_ord_id is None:
            raise _business_error(
                "a replace acknowledgement needs OrigClOrdID(41)",
                Tag.OrigClOrdID,
                BusinessRejectReason.CONDITIONALLY_REQUIRED_FIELD_MISSING,
            )
        last_qty, last_price = (fields.amount(Tag.LastQty), fields.amount(Tag.LastPx)) if kind is VenueEventKind.TRADE else (0, None)
        report = VenueReport(
            venue=venue,
            child_id=cl_ord_id,
            kind=kind,
            last_qty=last_qty,
            last_price=last_price,
            reason=_report_reason(fields, kind, orig_cl_ord_id),
            ts=now,
            done=leaves_qty == 0 or order_status in _DONE_ORD_STATUSES,
        )
    return Inbound(
        report,
        cl_ord_id,
        orig_cl_ord_id,
        leaves_qty,
        cum_qty,
        order_status,
        exec_type,
        fields.text(Tag.ExecID),
        fields.text(Tag.OrderID),
        _possible_duplicate(msg),
    )


def _report_reason(fields: _Fields, kind: VenueEventKind, orig_cl_ord_id: str | None) -> str | None:
    if kind is VenueEventKind.REJECTED:
        return _reason(fields, Tag.OrdRejReason, _ORD_REJ_REASONS, Reason.VENUE_REJECTED)
    if kind is VenueEventKind.CANCELED:
        # An answer to our cancel request names the order in OrigClOrdID; an unsolicited
        # cancel (an IOC remainder, the venue's own) does not.
        solicited = orig_cl_ord_id is not None
        return fields.optional(Tag.Text) or (Reason.USER_CANCELED.value if solicited else None)
    if kind is VenueEventKind.EXPIRED:
        return fields.optional(Tag.Text)
    return None


def decode_cancel_reject(msg: Any, venue: str, now: int) -> Inbound:
    """OrderCancelReject (9) → ``Inbound`` with a ``cancel_rejected`` (CxlRejResponseTo 1) or
    ``replace_rejected`` (2) report; ClOrdID is the refused request's, OrigClOrdID the order's.
    Raises CodecError."""
    _validate(msg, MsgType.ORDER_CANCEL_REJECT)
    fields = _Fields(msg, MsgType.ORDER_CANCEL_REJECT)
    kind = fields.choice(Tag.CxlRejResponseTo, _CXL_REJ_RESPONSE_TO)
    cl_ord_id = fields.text(Tag.ClOrdID)
    order_status = fields.text(Tag.OrdStatus)
    report = VenueReport(
        venue=venue,
        child_id=cl_ord_id,
        kind=kind,
        last_qty=0,
        last_price=None,
        reason=_reason(fields, Tag.CxlRejReason, _CXL_REJ_REASONS, Reason.VENUE_REJECTED),
        ts=now,
        done=order_status in _DONE_ORD_STATUSES,
    )
    return Inbound(
        report,
        cl_ord_id,
        fields.text(Tag.OrigClOrdID),
        None,
        None,
        order_status,
        None,
        None,
        fields.text(Tag.OrderID),
        _possible_duplicate(msg),
    )


def _quote_side(fields: _Fields, price_tag: int, size_tag: int) -> tuple[int | None, int]:
    """One side of a quote: no price, no side (size ignored); a price needs a size."""
    price = fields.optional_amount(price_tag)
    return (None, 0) if price is None else (price, fields.amount(size_tag))


def _quote(venue: str, symbol: str, bid: tuple[int | None, int], ask: tuple[int | None, int], now: int, bid_tag: int) -> VenueQuote:
    if bid[0] is not None and ask[0] is not None and bid[0] > ask[0]:
        raise _business_error(f"crossed quote: bid {to_fix_decimal(bid[0])} above offer {to_fix_decimal(ask[0])}", bid_tag)
    return VenueQuote(venue, symbol, bid[0], bid[1], ask[0], ask[1], now)


def decode_quote(msg: Any, venue: str, now: int) -> VenueQuote:
    """Quote (S) → ``VenueQuote``. A side without a price is empty (``None``, size 0); a
    crossed quote (bid above offer) is refused. Raises CodecError."""
    _validate(msg, MsgType.QUOTE)
    fields = _Fields(msg, MsgType.QUOTE)
    symbol = fields.text(Tag.Symbol)
    bid = _quote_side(fields, Tag.BidPx, Tag.BidSize)
    ask = _quote_side(fields, Tag.OfferPx, Tag.OfferSize)
    return _quote(venue, symbol, bid, ask, now, Tag.BidPx)


def _best(levels: list[tuple[int, int]], pick: Any) -> tuple[int | None, int]:
    if not levels:
        return None, 0
    price = pick(price for price, _ in levels)
    return price, sum(size for level_price, size in levels if level_price == price)


def decode_market_data(msg: Any, venue: str, now: int) -> VenueQuote:
    """MarketDataSnapshotFullRefresh (W) → ``VenueQuote``: the highest bid and lowest offer
    among the MDEntries, each with the total size at that price; entries other than bid (0)
    and offer (1) are skipped. Raises CodecError."""
    _validate(msg, MsgType.MARKET_DATA_SNAPSHOT_FULL_REFRESH)
    symbol = _Fields(msg, MsgType.MARKET_DATA_SNAPSHOT_FULL_REFRESH).text(Tag.Symbol)
    bids: list[tuple[int, int]] = []
    offers: list[tuple[int, int]] = []
    for group in _groups(msg, Tag.NoMDEntries, Tag.MDEntryType):
        entry = _Fields(group, MsgType.MARKET_DATA_SNAPSHOT_FULL_REFRESH)
        entry_type = entry.text(Tag.MDEntryType)
        if entry_type in (_BID, _OFFER):
            level = (entry.amount(Tag.MDEntryPx), entry.amount(Tag.MDEntrySize))
            (bids if entry_type == _BID else offers).append(level)
    return _quote(venue, symbol, _best(bids, max), _best(offers, min), now, Tag.MDEntryPx)


class Refusal(msgspec.Struct, frozen=True, gc=False):
    """A Reject (3) or BusinessMessageReject (j) from the venue: which message of ours it
    refuses, and why.

    ``ref_seq_num`` is RefSeqNum (45), the MsgSeqNum our message went out with (required on a
    Reject, optional on a BusinessMessageReject); ``ref_msg_type`` is RefMsgType (372);
    ``ref_id`` is BusinessRejectRefID (379), the refused message's own id (our ClOrdID), which
    only a BusinessMessageReject carries, and not always; ``reason`` is the venue's Text, or
    the reason code spelled out when it sent none.
    """

    msg_type: str
    ref_seq_num: int | None
    ref_msg_type: str | None
    ref_id: str | None
    reason: str
    possible_duplicate: bool = False

    @property
    def name(self) -> str:
        return "Reject" if self.msg_type == MsgType.REJECT else "BusinessMessageReject"

    def describe(self) -> str:
        """One line for the anomalies: what refused what, and why."""
        refers = f"RefSeqNum {self.ref_seq_num}" if self.ref_seq_num is not None else "no RefSeqNum"
        return f"{self.name} of MsgType {self.ref_msg_type or '?'} ({refers}, ref id {self.ref_id or '-'}): {self.reason}"


def _code_name(code: str | None, codes: type[IntEnum], prefix: str) -> str:
    if code is None:
        return prefix
    try:
        return f"{prefix} {code} ({codes(int(code)).name.lower().replace('_', ' ')})"
    except ValueError:
        return f"{prefix} {code}"


def _seq_num(fields: _Fields, tag: int) -> int | None:
    text = fields.optional(tag)
    if text is None:
        return None
    if not (text.isascii() and text.isdigit()):
        raise _session_error(f"{_label(tag)} is not a sequence number: {text!r}", tag, SessionRejectReason.INCORRECT_DATA_FORMAT)
    return int(text)


def decode_reject(msg: Any, venue: str, now: int) -> Refusal:
    """Reject (3) → ``Refusal``: RefSeqNum (required), RefMsgType, Text or else
    SessionRejectReason and RefTagID spelled out. Raises CodecError."""
    _validate(msg, MsgType.REJECT)
    fields = _Fields(msg, MsgType.REJECT)
    seq = _seq_num(fields, Tag.RefSeqNum)
    tag = fields.optional(Tag.RefTagID)
    reason = fields.optional(Tag.Text) or _code_name(fields.optional(Tag.SessionRejectReason), SessionRejectReason, "session reject")
    if not fields.optional(Tag.Text) and tag is not None:
        reason += f", tag {tag}"
    return Refusal(MsgType.REJECT.value, seq, fields.optional(Tag.RefMsgType), None, reason, _possible_duplicate(msg))


def decode_business_reject(msg: Any, venue: str, now: int) -> Refusal:
    """BusinessMessageReject (j) → ``Refusal``: RefSeqNum, RefMsgType (required),
    BusinessRejectRefID, Text or else BusinessRejectReason spelled out. Raises CodecError."""
    _validate(msg, MsgType.BUSINESS_MESSAGE_REJECT)
    fields = _Fields(msg, MsgType.BUSINESS_MESSAGE_REJECT)
    reason = fields.optional(Tag.Text) or _code_name(fields.optional(Tag.BusinessRejectReason), BusinessRejectReason, "business reject")
    return Refusal(
        MsgType.BUSINESS_MESSAGE_REJECT.value,
        _seq_num(fields, Tag.RefSeqNum),
        fields.text(Tag.RefMsgType),
        fields.optional(Tag.BusinessRejectRefID),
        reason,
        _possible_duplicate(msg),
    )


_DECODERS: dict[str, Callable[[Any, str, int], Inbound | VenueQuote | Refusal]] = {
    MsgType.EXECUTION_REPORT.value: decode_execution_report,
    MsgType.ORDER_CANCEL_REJECT.value: decode_cancel_reject,
    MsgType.QUOTE.value: decode_quote,
    MsgType.MARKET_DATA_SNAPSHOT_FULL_REFRESH.value: decode_market_data,
    MsgType.REJECT.value: decode_reject,
    MsgType.BUSINESS_MESSAGE_REJECT.value: decode_business_reject,
}


def is_refusal(msg_type: str) -> bool:
    """A Reject (3) or BusinessMessageReject (j): never answered with another one, or two
    sides that each refuse the other's refusal would do so forever."""
    return msg_type in (MsgType.REJECT, MsgType.BUSINESS_MESSAGE_REJECT)


def decode(msg: Any, venue: str, now: int) -> Inbound | VenueQuote | Refusal:
    """Any application message a venue session receives, and a session-level Reject (3). A
    MsgType FIX 4.4 does not define is a session error (Invalid MsgType); one it defines that
    brokerd does not take is a business error (Unsupported Message Type)."""
    msg_type = _msg_type(msg)
    decoder = _DECODERS.get(msg_type)
    if decoder is None:
        if not dictionary().isMsgType(msg_type):
            raise _session_error(f"invalid MsgType {msg_type!r}", Tag.MsgType, SessionRejectReason.INVALID_MSG_TYPE)
        raise _business_error(f"unsupported MsgType {msg_type!r}", Tag.MsgType, BusinessRejectReason.UNSUPPORTED_MESSAGE_TYPE)
    return decoder(msg, venue, now)


# --- drop copy: broker → clearing ---------------------------------------------------------------


def execution_copy(report: ExecutionReport) -> Any:
    """ExecutionReport (8, ExecType F) copying one client fill to clearing. TransactTime is the
    fill's ``ts``. A notional order with no share quantity left to report sends LeavesQty 0.
    Raises CodecError (business) for a report that is not a fill."""
    if report.exec_type is not ExecType.TRADE or report.last_qty <= 0 or report.last_price is None:
        raise _business_error(f"only fills are copied, not {report.exec_type.value} {report.exec_id}", Tag.ExecType)
    msg = _message(MsgType.EXECUTION_REPORT)
    msg.setField(Tag.Account, report.account)
    msg.setField(Tag.ClOrdID, report.client_order_id)
    msg.setField(Tag.OrderID, report.order_id)
    msg.setField(Tag.ExecID, report.exec_id)
    msg.setField(Tag.ExecType, "F")
    msg.setField(Tag.OrdStatus, _ORD_STATUS[report.status])
    msg.setField(Tag.Symbol, report.spec.symbol)
    msg.setField(Tag.Side, _SIDE[report.spec.side])
    msg.setField(Tag.OrdType, _ORD_TYPE[report.spec.order_type])
    _set_order_qty(msg, report.spec.qty, report.spec.notional)
    _set_amount(msg, Tag.LastQty, report.last_qty)
    _set_amount(msg, Tag.LastPx, report.last_price)
    _set_amount(msg, Tag.CumQty, report.cum_qty)
    _set_amount(msg, Tag.AvgPx, report.avg_price if report.avg_price is not None else report.last_price)
    _set_amount(msg, Tag.LeavesQty, report.leaves_qty or 0, zero_ok=True)
    msg.setField(Tag.TransactTime, fix_timestamp(report.ts))
    return msg


def allocation_instruction(
    alloc_id: str,
    symbol: str,
    side: Side,
    avg_price: int,
    allocations: list[tuple[str, int]],
    now: int,
    *,
    trade_date: date | None = None,
) -> Any:
    """AllocationInstruction (J, new, calculated) splitting a block across accounts: Quantity
    (53) is the sum of the allocations, so the message always adds up. TradeDate is ``now``'s
    UTC date unless ``trade_date`` gives the market's own. Raises CodecError (business) for an
    empty split, a blank account or a quantity that is not positive."""
    if not allocations:
        raise _business_error("an allocation needs at least one account", Tag.NoAllocs)
    msg = _message(MsgType.ALLOCATION_INSTRUCTION)
    msg.setField(Tag.AllocID, alloc_id)
    msg.setField(Tag.AllocTransType, "0")  # new
    msg.setField(Tag.AllocType, "1")  # calculated
    msg.setField(Tag.AllocNoOrdersType, "0")  # no list of orders follows
    msg.setField(Tag.Side, _SIDE[side])
    msg.setField(Tag.Symbol, symbol)
    _set_amount(msg, Tag.AvgPx, avg_price)
    day = trade_date if trade_date is not None else datetime.fromtimestamp(now // _NANOS_PER_SECOND, tz=UTC).date()
    msg.setField(Tag.TradeDate, f"{day:%Y%m%d}")
    total = 0
    for account, qty in allocations:
        if not account:
            raise _business_error("an allocation account is blank", Tag.AllocAccount)
        group = fix.Group(Tag.NoAllocs, Tag.AllocAccount)
        group.setField(Tag.AllocAccount, account)
        _set_amount(group, Tag.AllocQty, qty)
        msg.addGroup(group)
        total += qty
    _set_amount(msg, Tag.Quantity, total)
    return msg


# --- rejects ----------------------------------------------------------------------------------------


def _reference(ref_msg: Any, msg: Any) -> None:
    header = ref_msg.getHeader()
    msg.setField(Tag.RefSeqNum, header.getField(Tag.MsgSeqNum) if header.isSetField(Tag.MsgSeqNum) else "0")
    if header.isSetField(Tag.MsgType):
        msg.setField(Tag.RefMsgType, header.getField(Tag.MsgType))


def session_reject(ref_msg: Any, error: CodecError) -> Any:
    """Reject (3) of ``ref_msg``: RefSeqNum, RefMsgType, RefTagID = ``error.tag``,
    SessionRejectReason = ``error.code`` (Other for a business error), Text = the reason."""
    msg = _message(MsgType.REJECT)
    _reference(ref_msg, msg)
    if error.tag is not None:
        msg.setField(Tag.RefTagID, str(error.tag))
    code = error.code if error.reject_kind == "session" else SessionRejectReason.OTHER
    msg.setField(Tag.SessionRejectReason, str(int(code)))
    msg.setField(Tag.Text, error.reason)
    return msg


_REFERENCE_ID_TAGS = (Tag.ClOrdID, Tag.QuoteID, Tag.AllocID, Tag.ExecID)


def business_reject(ref_msg: Any, error: CodecError) -> Any:
    """BusinessMessageReject (j) of ``ref_msg``: RefSeqNum, RefMsgType, BusinessRejectRefID =
    its ClOrdID (or QuoteID, AllocID, ExecID), BusinessRejectReason = ``error.code`` (Other
    for a session error), Text = the reason."""
    msg = _message(MsgType.BUSINESS_MESSAGE_REJECT)
    _reference(ref_msg, msg)
    for tag in _REFERENCE_ID_TAGS:
        if ref_msg.isSetField(tag):
            msg.setField(Tag.BusinessRejectRefID, ref_msg.getField(tag))
            break
    code = error.code if error.reject_kind == "business" else BusinessRejectReason.OTHER
    msg.setField(Tag.BusinessRejectReason, str(int(code)))
    msg.setField(Tag.Text, error.reason)
    return msg


def reject(ref_msg: Any, error: CodecError) -> Any:
    """The reject ``error`` asks for: ``session_reject`` or ``business_reject``."""
    return session_reject(ref_msg, error) if error.reject_kind == "session" else business_reject(ref_msg, error)
