"""FIX 4.4 ⇄ the market maker's commands and events: pure translation, no sessions.

``decode`` reads an application message quickfix has already checked against the data
dictionary (required fields present, enum values valid, numbers well formed), so what
is left to catch is what the dictionary allows but the market maker does not: values it
does not support become a ``Problem`` on the command (rejected by the core with an
execution report or a cancel reject), and messages it cannot act on at all become an
``Unusable`` (answered with a BusinessMessageReject).

Numbers go through ``model.fixed``: decimal strings in and out, never a float. Tags, message
types and enumerated values are brokerd's one FIX vocabulary, ``adapters/fix/tags.py``.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec
import quickfix as fix
import quickfix44 as fix44

from adapters.fix.dictionary import Received, outgoing
from adapters.fix.simulator.messages import (
    BAD_PRICE,
    CancelOrder,
    CancelRejected,
    Command,
    Event,
    ExecutionReport,
    MarketDataRejected,
    MarketDataRequest,
    MarketDataSent,
    NewOrder,
    Problem,
    QuoteSent,
    ReplaceOrder,
    StatusRequest,
    Terms,
)
from adapters.fix.tags import (
    ORD_STATUS,
    ORD_TYPE,
    SIDE,
    TIME_IN_FORCE,
    YES,
    BusinessRejectReason,
    ExecTypeCode,
    MDEntryType,
    MsgType,
    OrdRejReason,
    SubscriptionRequestType,
    Tag,
    decoding,
)
from adapters.fix.values import fix_timestamp
from adapters.fix.writer import MessageWriter
from model import fixed
from model.enums import OrderStatus, OrderType, TimeInForce


class Unusable(msgspec.Struct, frozen=True):
    """An application message the market maker cannot act on: answered with a
    BusinessMessageReject (j) and otherwise ignored."""

    session: str
    ref_msg_type: str
    ref_seq_num: str | None
    ref_id: str | None
    reason: BusinessRejectReason
    text: str


_SIDES = decoding(SIDE)
_ORDER_TYPES = decoding(ORD_TYPE, only=frozenset({OrderType.MARKET, OrderType.LIMIT}))  # stops are brokerd's to hold
_TIME_IN_FORCE = decoding(TIME_IN_FORCE, only=frozenset({TimeInForce.DAY, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK}))
_SUBSCRIPTIONS = {str(subscription): subscription for subscription in SubscriptionRequestType}

_T = TypeVar("_T")


# --- FIX → commands -----------------------------------------------------------------------


def decode(message: fix.Message | Received, session: str) -> Command | Unusable:
    """The command in an application message from ``session``, or why there is none: read
    from quickfix's message, or from a plain one read in Python (``dictionary.plain``), alike."""
    fields = _Fields(message)
    msg_type = fields.header(Tag.MsgType) or ""
    if msg_type == MsgType.MARKET_DATA_REQUEST:
        return _market_data_request(fields, session)
    if msg_type not in (
        MsgType.NEW_ORDER_SINGLE,
        MsgType.ORDER_CANCEL_REQUEST,
        MsgType.ORDER_CANCEL_REPLACE_REQUEST,
        MsgType.ORDER_STATUS_REQUEST,
    ):
        return fields.unusable(session, BusinessRejectReason.UNSUPPORTED_MESSAGE_TYPE, f"MsgType {msg_type} not supported")
    cl_ord_id = fields.text(Tag.ClOrdID) or ""
    side = _SIDES.get(fields.text(Tag.Side) or "")
    if side is None:
        return fields.unusable(session, BusinessRejectReason.OTHER, f"Side(54)={fields.text(Tag.Side)} not supported", cl_ord_id)
    order_id = fields.text(Tag.OrderID)
    symbol = fields.text(Tag.Symbol)
    if msg_type == MsgType.ORDER_STATUS_REQUEST:
        return StatusRequest(session, cl_ord_id, order_id, fields.text(Tag.OrdStatusReqID), symbol, side)
    orig_cl_ord_id = fields.text(Tag.OrigClOrdID) or ""
    if msg_type == MsgType.ORDER_CANCEL_REQUEST:
        return CancelOrder(session, cl_ord_id, orig_cl_ord_id, order_id)
    order_type = fields.enum(Tag.OrdType, _ORDER_TYPES)
    qty = fields.decimal(Tag.OrderQty, OrdRejReason.INCORRECT_QUANTITY)
    price = fields.decimal(Tag.Price, BAD_PRICE)
    if msg_type == MsgType.ORDER_CANCEL_REPLACE_REQUEST:
        terms = Terms(symbol, side, order_type, qty=qty, price=price)
        return ReplaceOrder(session, cl_ord_id, orig_cl_ord_id, order_id, terms, fields.problem)
    tif = fields.enum(Tag.TimeInForce, _TIME_IN_FORCE, default=TimeInForce.DAY)
    cash = fields.decimal(Tag.CashOrderQty, OrdRejReason.INCORRECT_QUANTITY)
    return NewOrder(
        session=session,
        cl_ord_id=cl_ord_id,
        terms=Terms(symbol, side, order_type, tif, qty, cash, price),
        poss_dup=fields.header(Tag.PossDupFlag) == YES or fields.header(Tag.PossResend) == YES,
        problem=fields.problem,
    )


def _market_data_request(fields: _Fields, session: str) -> MarketDataRequest | Unusable:
    request_id = fields.text(Tag.MDReqID) or ""
    subscription = _SUBSCRIPTIONS.get(fields.text(Tag.SubscriptionRequestType) or "")
    if subscription is None:
        return fields.unusable(session, BusinessRejectReason.OTHER, "SubscriptionRequestType(263) not supported", request_id)
    symbols: list[str] = []
    message = fields.message
    assert not isinstance(message, Received)  # its symbols are a group: never a plain message
    group = fix44.MarketDataRequest.NoRelatedSym()
    for index in range(1, int(fields.text(Tag.NoRelatedSym) or "0") + 1):
        message.getGroup(index, group)
        if group.isSetField(Tag.Symbol):
            symbols.append(group.getField(Tag.Symbol))
    return MarketDataRequest(session, request_id, subscription, symbols)


class _Fields:
    """Reads fields out of one message; keeps the first problem it meets."""

    def __init__(self, message: fix.Message | Received) -> None:
        self.message = message
        self.problem: Problem | None = None

    def text(self, tag: int) -> str | None:
        return self.message.getField(tag) if self.message.isSetField(tag) else None

    def header(self, tag: int) -> str | None:
        header = self.message.getHeader()
        return header.getField(tag) if header.isSetField(tag) else None

    def decimal(self, tag: int, reason: OrdRejReason) -> int | None:
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
            self._note(OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC, f"tag {tag}={text} not supported")
        return value

    def unusable(self, session: str, reason: BusinessRejectReason, text: str, ref_id: str | None = None) -> Unusable:
        return Unusable(session, self.header(Tag.MsgType) or "", self.header(Tag.MsgSeqNum), ref_id, reason, text)

    def _note(self, reason: OrdRejReason, text: str) -> None:
        if self.problem is None:
            self.problem = Problem(reason, text)


# --- events → FIX -------------------------------------------------------------------------
#
# Each message is written as its string (``adapters/fix/writer.py``, as the venue adapter writes
# its orders) and parsed once with the FIX 4.4 dictionary: one call into quickfix instead of
# one per field. Every call into quickfix's bindings lets go of the GIL and must win it back
# from the session's reader thread, so a report built field by field (some twenty calls) cost
# the simulator about twice the CPU, more while orders arrive.


def encode(event: Event | Unusable) -> fix.Message:
    """The FIX message for one event (its session is ``event.session``): the same fields, in
    the same order, as quickfix makes of them."""
    return outgoing(render(event))


def render(event: Event | Unusable) -> str:
    """The FIX string of one event's message, BodyLength and CheckSum included; the session
    adds the rest of the header when it sends it."""
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


def _execution_report(report: ExecutionReport) -> str:
    message = MessageWriter(MsgType.EXECUTION_REPORT)
    _set_order(message, report.order_id, report.cl_ord_id, report.orig_cl_ord_id, report.status)
    message.set(Tag.ExecID, report.exec_id)
    message.set(Tag.ExecType, report.kind)
    _set_terms(message, report.terms)
    details = report.details
    if report.kind is ExecTypeCode.TRADE:
        message.set(Tag.LastQty, fixed.format(details.last_qty))
        _set(message, Tag.LastPx, _price(details.last_price))
    message.set(Tag.CumQty, fixed.format(report.cum_qty))
    message.set(Tag.LeavesQty, fixed.format(report.leaves_qty))
    message.set(Tag.AvgPx, fixed.format(report.avg_price))
    message.set(Tag.TransactTime, fix_timestamp(report.transact_time))
    _set(message, Tag.Text, details.text)
    _set(message, Tag.OrdRejReason, details.reject_reason)
    _set(message, Tag.OrdStatusReqID, details.status_request_id)
    return message.render()


def _set_order(message: MessageWriter, order_id: str, cl_ord_id: str, orig_cl_ord_id: str | None, status: OrderStatus) -> None:
    """The fields that name an order and say its status: an ExecutionReport and an
    OrderCancelReject both carry them."""
    message.set(Tag.OrderID, order_id)
    message.set(Tag.ClOrdID, cl_ord_id)
    _set(message, Tag.OrigClOrdID, orig_cl_ord_id)
    message.set(Tag.OrdStatus, ORD_STATUS[status])


def _set_terms(message: MessageWriter, terms: Terms) -> None:
    """An order's terms, as an ExecutionReport repeats them."""
    _set(message, Tag.Symbol, terms.symbol)
    message.set(Tag.Side, SIDE[terms.side])
    _set(message, Tag.OrdType, None if terms.order_type is None else ORD_TYPE[terms.order_type])
    _set(message, Tag.TimeInForce, None if terms.tif is None else TIME_IN_FORCE[terms.tif])
    _set(message, Tag.OrderQty, _quantity(terms.qty))
    _set(message, Tag.CashOrderQty, None if terms.cash is None else fixed.format_cash(terms.cash))
    _set(message, Tag.Price, _price(terms.price))


def mark_poss_dup(message: fix.Message, orig_sending_time: int) -> None:
    """PossDupFlag=Y and OrigSendingTime on a message about to go out. quickfix's
    ``Session::send`` removes both, so this is done in ``Application.toApp``."""
    header = message.getHeader()
    header.setField(Tag.PossDupFlag, YES)
    header.setField(Tag.OrigSendingTime, fix_timestamp(orig_sending_time))


def _cancel_reject(reject: CancelRejected) -> str:
    message = MessageWriter(MsgType.ORDER_CANCEL_REJECT)
    _set_order(message, reject.order_id, reject.cl_ord_id, reject.orig_cl_ord_id, reject.status)
    message.set(Tag.CxlRejResponseTo, reject.response_to)
    _set(message, Tag.CxlRejReason, reject.reason)
    _set(message, Tag.Text, reject.text)
    message.set(Tag.TransactTime, fix_timestamp(reject.transact_time))
    return message.render()


def _quote(event: QuoteSent) -> str:
    quote = event.quote
    message = MessageWriter(MsgType.QUOTE)
    message.set(Tag.QuoteID, quote.quote_id)
    message.set(Tag.Symbol, quote.symbol)
    _set(message, Tag.BidPx, _price(quote.bid))
    _set(message, Tag.OfferPx, _price(quote.ask))
    _set(message, Tag.BidSize, _quantity(quote.bid_size))
    _set(message, Tag.OfferSize, _quantity(quote.ask_size))
    return message.render()


def _market_data_snapshot(event: MarketDataSent) -> str:
    quote = event.quote
    message = MessageWriter(MsgType.MARKET_DATA_SNAPSHOT_FULL_REFRESH)
    message.set(Tag.MDReqID, event.request_id)
    message.set(Tag.Symbol, quote.symbol)
    for entry_type, price, size in ((MDEntryType.BID, quote.bid, quote.bid_size), (MDEntryType.OFFER, quote.ask, quote.ask_size)):
        entry = {Tag.MDEntryType: entry_type, Tag.MDEntryPx: _price(price), Tag.MDEntrySize: _quantity(size)}
        message.add_group(Tag.NoMDEntries, Tag.MDEntryType, {tag: value for tag, value in entry.items() if value is not None})
    return message.render()


def _market_data_reject(event: MarketDataRejected) -> str:
    message = MessageWriter(MsgType.MARKET_DATA_REQUEST_REJECT)
    message.set(Tag.MDReqID, event.request_id)
    _set(message, Tag.MDReqRejReason, event.reason)
    _set(message, Tag.Text, event.text)
    return message.render()


def _business_reject(event: Unusable) -> str:
    message = MessageWriter(MsgType.BUSINESS_MESSAGE_REJECT)
    _set(message, Tag.RefSeqNum, event.ref_seq_num)
    _set(message, Tag.RefMsgType, event.ref_msg_type)
    _set(message, Tag.BusinessRejectRefID, event.ref_id)
    message.set(Tag.BusinessRejectReason, str(int(event.reason)))
    _set(message, Tag.Text, event.text)
    return message.render()


def _set(message: MessageWriter, tag: int, value: str | None) -> None:
    if value is not None:
        message.set(tag, value)


def _quantity(value: int | None) -> str | None:
    return None if value is None else fixed.format(value)


def _price(value: int | None) -> str | None:
    return None if value is None else fixed.format(value, min_places=2)
