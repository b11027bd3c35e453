"""FIX 4.4 messages a venue sends ⇄ brokerd's domain messages: the decoders.

No sockets, no sessions, no clock: ``now`` (ns since the epoch) arrives with every call, so
the same input always gives the same output. A decoder first checks a message against the
FIX 4.4 dictionary (``dictionary.py``), then against what brokerd can act on, and either
returns a whole domain value or raises ``CodecError`` carrying what a Reject (3) or
BusinessMessageReject (j) needs (``outbound.reject``) — never half a message.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from typing import Any

import msgspec

from adapters.fix.dictionary import Fields, dictionary, groups, msg_type, possible_duplicate, validate
from adapters.fix.tags import (
    DONE_ORD_STATUSES,
    BusinessRejectReason,
    CxlRejReason,
    CxlRejResponseTo,
    ExecTypeCode,
    MDEntryType,
    MsgType,
    OrdRejReason,
    SessionRejectReason,
    Tag,
)
from adapters.fix.values import business_error, in_range, session_error, to_fix_decimal
from model.enums import Reason, VenueEventKind
from model.messages import VenueQuote, VenueReport

_EXEC_KIND: dict[str, VenueEventKind] = {
    ExecTypeCode.NEW: VenueEventKind.ACCEPTED,
    ExecTypeCode.TRADE: VenueEventKind.TRADE,
    ExecTypeCode.CANCELED: VenueEventKind.CANCELED,
    ExecTypeCode.REPLACED: VenueEventKind.REPLACED,
    ExecTypeCode.REJECTED: VenueEventKind.REJECTED,
    ExecTypeCode.EXPIRED: VenueEventKind.EXPIRED,
}
_CXL_REJ_RESPONSE_TO: dict[str, VenueEventKind] = {CxlRejResponseTo.CANCEL: VenueEventKind.CANCEL_REJECTED, CxlRejResponseTo.REPLACE: VenueEventKind.REPLACE_REJECTED}
# FIX reason codes that name one of brokerd's own reasons; any other code falls back to Text.
_CXL_REJ_REASONS: dict[str, Reason] = {
    CxlRejReason.TOO_LATE_TO_CANCEL: Reason.TOO_LATE_TO_CANCEL,
    CxlRejReason.UNKNOWN_ORDER: Reason.TOO_LATE_TO_CANCEL,
    CxlRejReason.ALREADY_PENDING: Reason.PENDING_REQUEST,
}
_ORD_REJ_REASONS: dict[str, Reason] = {OrdRejReason.EXCHANGE_CLOSED: Reason.MARKET_CLOSED}


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


def _reason(fields: Fields, code_tag: int, codes: dict[str, Reason], default: Reason | None) -> str | None:
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
    validate(msg, MsgType.EXECUTION_REPORT)
    fields = Fields(msg, MsgType.EXECUTION_REPORT)
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
            raise business_error(
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
            done=leaves_qty == 0 or order_status in DONE_ORD_STATUSES,
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
        possible_duplicate(msg),
    )


# ExecTypes of a report that only acknowledges: New (0), and Pending New (A), Pending Cancel
# (6), Pending Replace (E), which brokerd does not track. Nothing waits on one of these.
_ACKNOWLEDGING = frozenset({ExecTypeCode.NEW.value, "A", "6", "E"})
_IS_EXECUTION_REPORT = "\x0135=8\x01"
_EXEC_TYPE = "\x01150="


def acknowledges_only(raw: str) -> bool:
    """An ExecutionReport that only acknowledges an order or a request (``_ACKNOWLEDGING``),
    told from its string alone, cheaply, before it is journaled: the venue actor lets it ride
    in its next journal record instead of committing it on its own, since the fill that
    usually follows at once would otherwise wait for that commit, here and at the
    instrument actor. A misjudged message is only committed sooner or later, never lost:
    whatever the session took and the journal does not hold is asked of the venue again."""
    if _IS_EXECUTION_REPORT not in raw:
        return False
    start = raw.find(_EXEC_TYPE)
    if start < 0:
        return False
    start += len(_EXEC_TYPE)
    return raw[start : raw.find("\x01", start)] in _ACKNOWLEDGING


def _report_reason(fields: Fields, kind: VenueEventKind, orig_cl_ord_id: str | None) -> str | None:
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
    validate(msg, MsgType.ORDER_CANCEL_REJECT)
    fields = Fields(msg, MsgType.ORDER_CANCEL_REJECT)
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
        done=order_status in DONE_ORD_STATUSES,
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
        possible_duplicate(msg),
    )


def _quote_side(fields: Fields, price_tag: int, size_tag: int) -> tuple[int | None, int]:
    """One side of a quote: no price, no side (size ignored); a price needs a size."""
    price = fields.optional_amount(price_tag)
    return (None, 0) if price is None else (price, fields.amount(size_tag))


def _quote(venue: str, symbol: str, bid: tuple[int | None, int], ask: tuple[int | None, int], now: int, bid_tag: int) -> VenueQuote:
    if bid[0] is not None and ask[0] is not None and bid[0] > ask[0]:
        raise business_error(f"crossed quote: bid {to_fix_decimal(bid[0])} above offer {to_fix_decimal(ask[0])}", bid_tag)
    return VenueQuote(venue, symbol, bid[0], bid[1], ask[0], ask[1], now)


def decode_quote(msg: Any, venue: str, now: int) -> VenueQuote:
    """Quote (S) → ``VenueQuote``. A side without a price is empty (``None``, size 0); a
    crossed quote (bid above offer) is refused. Raises CodecError."""
    validate(msg, MsgType.QUOTE)
    fields = Fields(msg, MsgType.QUOTE)
    symbol = fields.text(Tag.Symbol)
    bid = _quote_side(fields, Tag.BidPx, Tag.BidSize)
    ask = _quote_side(fields, Tag.OfferPx, Tag.OfferSize)
    return _quote(venue, symbol, bid, ask, now, Tag.BidPx)


def _best(levels: list[tuple[int, int]], pick: Any) -> tuple[int | None, int]:
    """The best price of ``levels`` and the total size at it.

    Guarantees: the total is within the limit of any one size (``in_range``), else a
    session error: entries that add up past it are refused as one such entry would be, so
    no quote carries a size that messages and journals cannot encode."""
    if not levels:
        return None, 0
    price = pick(price for price, _ in levels)
    return price, in_range(sum(size for level_price, size in levels if level_price == price), Tag.MDEntrySize, zero_ok=False)


def decode_market_data(msg: Any, venue: str, now: int) -> VenueQuote:
    """MarketDataSnapshotFullRefresh (W) → ``VenueQuote``: the highest bid and lowest offer
    among the MDEntries, each with the total size at that price (refused past the limit of
    one size); entries other than bid (0) and offer (1) are skipped. Raises CodecError."""
    validate(msg, MsgType.MARKET_DATA_SNAPSHOT_FULL_REFRESH)
    symbol = Fields(msg, MsgType.MARKET_DATA_SNAPSHOT_FULL_REFRESH).text(Tag.Symbol)
    bids: list[tuple[int, int]] = []
    offers: list[tuple[int, int]] = []
    for group in groups(msg, Tag.NoMDEntries, Tag.MDEntryType):
        entry = Fields(group, MsgType.MARKET_DATA_SNAPSHOT_FULL_REFRESH)
        entry_type = entry.text(Tag.MDEntryType)
        if entry_type in (MDEntryType.BID, MDEntryType.OFFER):
            level = (entry.amount(Tag.MDEntryPx), entry.amount(Tag.MDEntrySize))
            (bids if entry_type == MDEntryType.BID else offers).append(level)
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


def decode_reject(msg: Any, venue: str, now: int) -> Refusal:
    """Reject (3) → ``Refusal``: RefSeqNum (required), RefMsgType, Text or else
    SessionRejectReason and RefTagID spelled out. Raises CodecError."""
    validate(msg, MsgType.REJECT)
    fields = Fields(msg, MsgType.REJECT)
    seq = fields.seq_num(Tag.RefSeqNum)
    tag = fields.optional(Tag.RefTagID)
    reason = fields.optional(Tag.Text) or _code_name(fields.optional(Tag.SessionRejectReason), SessionRejectReason, "session reject")
    if not fields.optional(Tag.Text) and tag is not None:
        reason += f", tag {tag}"
    return Refusal(MsgType.REJECT.value, seq, fields.optional(Tag.RefMsgType), None, reason, possible_duplicate(msg))


def decode_business_reject(msg: Any, venue: str, now: int) -> Refusal:
    """BusinessMessageReject (j) → ``Refusal``: RefSeqNum, RefMsgType (required),
    BusinessRejectRefID, Text or else BusinessRejectReason spelled out. Raises CodecError."""
    validate(msg, MsgType.BUSINESS_MESSAGE_REJECT)
    fields = Fields(msg, MsgType.BUSINESS_MESSAGE_REJECT)
    reason = fields.optional(Tag.Text) or _code_name(fields.optional(Tag.BusinessRejectReason), BusinessRejectReason, "business reject")
    return Refusal(
        MsgType.BUSINESS_MESSAGE_REJECT.value,
        fields.seq_num(Tag.RefSeqNum),
        fields.text(Tag.RefMsgType),
        fields.optional(Tag.BusinessRejectRefID),
        reason,
        possible_duplicate(msg),
    )


_DECODERS: dict[str, Callable[[Any, str, int], Inbound | VenueQuote | Refusal]] = {
    MsgType.EXECUTION_REPORT.value: decode_execution_report,
    MsgType.ORDER_CANCEL_REJECT.value: decode_cancel_reject,
    MsgType.QUOTE.value: decode_quote,
    MsgType.MARKET_DATA_SNAPSHOT_FULL_REFRESH.value: decode_market_data,
    MsgType.REJECT.value: decode_reject,
    MsgType.BUSINESS_MESSAGE_REJECT.value: decode_business_reject,
}


def decode(msg: Any, venue: str, now: int) -> Inbound | VenueQuote | Refusal:
    """Any application message a venue session receives, and a session-level Reject (3). A
    MsgType FIX 4.4 does not define is a session error (Invalid MsgType); one it defines that
    brokerd does not take is a business error (Unsupported Message Type)."""
    found = msg_type(msg)
    decoder = _DECODERS.get(found)
    if decoder is None:
        if not dictionary().isMsgType(found):
            raise session_error(f"invalid MsgType {found!r}", Tag.MsgType, SessionRejectReason.INVALID_MSG_TYPE)
        raise business_error(f"unsupported MsgType {found!r}", Tag.MsgType, BusinessRejectReason.UNSUPPORTED_MESSAGE_TYPE)
    return decoder(msg, venue, now)
