"""The decoders of what a venue sends (``adapters/fix/inbound.py``): every message type on good
and bad input, and the reject each refusal needs."""

from __future__ import annotations

import msgspec
import pytest
import quickfix as fix

from adapters.fix import outbound
from adapters.fix.inbound import (
    Inbound,
    Refusal,
    acknowledges_only,
    decode,
    decode_cancel_reject,
    decode_execution_report,
    decode_market_data,
    decode_quote,
)
from adapters.fix.tags import BusinessRejectReason, SessionRejectReason, Tag, is_refusal
from adapters.fix.values import CodecError
from model import fixed
from model.enums import Reason, VenueEventKind
from model.messages import VenueQuote, VenueReport
from tests.unit.adapters.fix.wire import (
    ACCEPTED,
    CANCEL_REJECT,
    EXECUTOR_REJECT,
    QUOTE,
    T0,
    TRADE,
    UNSUPPORTED,
    VENUE,
    Fields,
    changed,
    execution,
    from_venue,
    number,
    over_the_wire,
)

# --- inbound: execution reports ------------------------------------------------------------------------


def test_a_partial_fill_is_a_trade_with_last_qty_and_price() -> None:
    inbound = execution()
    assert inbound == Inbound(
        report=VenueReport(VENUE, "child-1", VenueEventKind.TRADE, number("0.1"), number("150.25"), None, T0, done=False),
        cl_ord_id="child-1",
        orig_cl_ord_id=None,
        leaves_qty=number("0.2"),
        cum_qty=number("0.1"),
        order_status="1",
        exec_type="F",
        exec_id="E-1",
        venue_order_id="V-1",
        possible_duplicate=False,
    )


def test_the_last_fill_is_done() -> None:
    report = execution({39: "2", 151: "0", 14: "0.3"}).report
    assert report is not None and report.done


def test_a_notional_order_filled_with_leaves_left_is_done_by_its_status() -> None:
    report = execution({39: "2", 151: "0.0001"}).report
    assert report is not None and report.done


def test_an_acknowledgement_is_accepted() -> None:
    inbound = decode_execution_report(from_venue("8", ACCEPTED), VENUE, T0)
    assert inbound.report == VenueReport(VENUE, "child-1", VenueEventKind.ACCEPTED, 0, None, None, T0, done=False)
    assert (inbound.leaves_qty, inbound.cum_qty) == (number("0.3"), 0)


def test_a_replace_acknowledgement_carries_both_cl_ord_ids() -> None:
    inbound = decode_execution_report(from_venue("8", changed(ACCEPTED, {150: "5", 11: "replace-1", 41: "child-1"})), VENUE, T0)
    assert inbound.report is not None and inbound.report.kind is VenueEventKind.REPLACED
    assert (inbound.cl_ord_id, inbound.orig_cl_ord_id) == ("replace-1", "child-1")
    assert inbound.for_child("child-1") == msgspec.structs.replace(inbound.report, child_id="child-1")


def test_a_canceled_answer_to_our_request_is_user_canceled() -> None:
    msg = from_venue("8", changed(ACCEPTED, {150: "4", 39: "4", 11: "cancel-1", 41: "child-1", 151: "0"}))
    inbound = decode_execution_report(msg, VENUE, T0)
    assert inbound.report == VenueReport(VENUE, "cancel-1", VenueEventKind.CANCELED, 0, None, Reason.USER_CANCELED.value, T0, done=True)
    assert inbound.orig_cl_ord_id == "child-1"


def test_an_unsolicited_cancel_keeps_the_venues_text() -> None:
    msg = from_venue("8", changed(ACCEPTED, {150: "4", 39: "4", 58: "ioc remainder", 151: "0"}))
    report = decode_execution_report(msg, VENUE, T0).report
    assert report is not None and (report.kind, report.reason, report.done) == (VenueEventKind.CANCELED, "ioc remainder", True)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({58: "price too far"}, "price too far"),
        ({103: "2", 58: "closed"}, Reason.MARKET_CLOSED.value),
        ({103: "0", 58: "no"}, "no"),
        ({}, Reason.VENUE_REJECTED.value),
    ],
)
def test_a_venue_reject_gives_a_reason(changes: Fields, reason: str) -> None:
    msg = from_venue("8", changed(ACCEPTED, {150: "8", 39: "8", 151: "0", **changes}))
    report = decode_execution_report(msg, VENUE, T0).report
    assert report is not None and (report.kind, report.reason, report.done) == (VenueEventKind.REJECTED, reason, True)


def test_an_expiry_is_expired() -> None:
    report = decode_execution_report(from_venue("8", changed(ACCEPTED, {150: "C", 39: "C", 151: "0"})), VENUE, T0).report
    assert report is not None and (report.kind, report.reason, report.done) == (VenueEventKind.EXPIRED, None, True)


@pytest.mark.parametrize("exec_type", ["I", "D", "6", "E", "A", "H"])
def test_exec_types_brokerd_does_not_apply_give_no_report(exec_type: str) -> None:
    inbound = decode_execution_report(from_venue("8", changed(ACCEPTED, {150: exec_type})), VENUE, T0)
    assert inbound.report is None and inbound.for_child("child-1") is None
    assert (inbound.exec_type, inbound.cl_ord_id, inbound.leaves_qty) == (exec_type, "child-1", number("0.3"))


def test_a_resend_is_flagged_possible_duplicate() -> None:
    assert execution(poss_dup=True).possible_duplicate
    assert not execution().possible_duplicate


# --- inbound: cancel rejects ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "kind", "reason"),
    [
        ({102: "0"}, VenueEventKind.CANCEL_REJECTED, Reason.TOO_LATE_TO_CANCEL.value),
        ({434: "2", 58: "qty below filled"}, VenueEventKind.REPLACE_REJECTED, "qty below filled"),
        ({434: "2", 102: "3"}, VenueEventKind.REPLACE_REJECTED, Reason.PENDING_REQUEST.value),
        ({102: "2"}, VenueEventKind.CANCEL_REJECTED, Reason.VENUE_REJECTED.value),
    ],
)
def test_a_cancel_reject_refuses_the_cancel_or_the_replace(changes: Fields, kind: VenueEventKind, reason: str) -> None:
    inbound = decode_cancel_reject(from_venue("9", changed(CANCEL_REJECT, changes)), VENUE, T0)
    assert inbound.report == VenueReport(VENUE, "cancel-1", kind, 0, None, reason, T0, done=False)
    assert (inbound.cl_ord_id, inbound.orig_cl_ord_id, inbound.order_status, inbound.venue_order_id) == ("cancel-1", "child-1", "0", "V-1")


def test_a_cancel_reject_for_a_filled_order_is_done() -> None:
    report = decode_cancel_reject(from_venue("9", changed(CANCEL_REJECT, {39: "2"})), VENUE, T0).report
    assert report is not None and report.done


# --- inbound: quotes -----------------------------------------------------------------------------------


def test_a_quote_is_a_venue_quote() -> None:
    quote = decode_quote(from_venue("S", QUOTE), VENUE, T0)
    assert quote == VenueQuote(VENUE, "IBM", number("150.20"), number("300"), number("150.30"), number("200.5"), T0)


def test_a_one_sided_quote_leaves_the_other_side_empty() -> None:
    quote = decode_quote(from_venue("S", changed(QUOTE, {133: None, 135: None})), VENUE, T0)
    assert (quote.bid, quote.bid_size, quote.ask, quote.ask_size) == (number("150.20"), number("300"), None, 0)


def test_market_data_picks_the_best_bid_and_offer_of_several_entries() -> None:
    entries: list[Fields] = [
        {269: "0", 270: "150.10", 271: "500"},
        {269: "0", 270: "150.20", 271: "100"},
        {269: "1", 270: "150.40", 271: "50"},
        {269: "0", 270: "150.20", 271: "0.5"},
        {269: "2", 270: "151.00", 271: "10"},  # a trade: not a side of the quote
        {269: "1", 270: "150.30", 271: "200"},
        {269: "1", 270: "150.35", 271: "75"},
    ]
    quote = decode_market_data(from_venue("W", {55: "IBM"}, entries), VENUE, T0)
    assert quote == VenueQuote(VENUE, "IBM", number("150.20"), number("100.5"), number("150.30"), number("200"), T0)


def test_market_data_with_one_side_only() -> None:
    quote = decode_market_data(from_venue("W", {55: "IBM"}, [{269: "1", 270: "150.30", 271: "200"}]), VENUE, T0)
    assert (quote.bid, quote.bid_size, quote.ask, quote.ask_size) == (None, 0, number("150.30"), number("200"))


def test_decode_routes_by_msg_type() -> None:
    assert isinstance(decode(from_venue("8", TRADE), VENUE, T0), Inbound)
    assert isinstance(decode(from_venue("9", CANCEL_REJECT), VENUE, T0), Inbound)
    assert isinstance(decode(from_venue("S", QUOTE), VENUE, T0), VenueQuote)
    assert isinstance(decode(from_venue("W", {55: "IBM"}, [{269: "0", 270: "1", 271: "1"}]), VENUE, T0), VenueQuote)


# --- the venue's refusals -----------------------------------------------------------------------------------

# What the QuickFIX example executor answers a market order with (it takes limit orders only)


def test_a_session_reject_names_the_refused_message_by_its_number_and_keeps_the_venues_text() -> None:
    refusal = decode(from_venue("3", EXECUTOR_REJECT), VENUE, T0)
    assert refusal == Refusal("3", 5, "D", None, "Value is incorrect (out of range) for this tag")


def test_a_business_reject_names_the_message_type_and_maybe_its_id() -> None:
    assert decode(from_venue("j", UNSUPPORTED), VENUE, T0) == Refusal("j", 9, "H", None, "Unsupported Message Type")
    with_id = decode(from_venue("j", changed(UNSUPPORTED, {45: None, 379: "child-1", 372: "D"}), poss_dup=True), VENUE, T0)
    assert with_id == Refusal("j", None, "D", "child-1", "Unsupported Message Type", possible_duplicate=True)


@pytest.mark.parametrize(
    ("msg_type", "fields", "reason"),
    [
        ("3", changed(EXECUTOR_REJECT, {58: None}), "session reject 5 (value is incorrect), tag 40"),
        ("3", {45: "5", 372: "D", 373: "17"}, "session reject 17"),
        ("3", {45: "5"}, "session reject"),
        ("j", changed(UNSUPPORTED, {58: None}), "business reject 3 (unsupported message type)"),
    ],
)
def test_a_refusal_without_text_spells_out_its_reason_code(msg_type: str, fields: Fields, reason: str) -> None:
    refusal = decode(from_venue(msg_type, fields), VENUE, T0)
    assert isinstance(refusal, Refusal) and refusal.reason == reason


@pytest.mark.parametrize(
    ("msg_type", "fields", "tag"),
    [("3", changed(EXECUTOR_REJECT, {45: None}), Tag.RefSeqNum), ("j", changed(UNSUPPORTED, {372: None}), Tag.RefMsgType)],
)
def test_a_refusal_missing_what_fix_requires_is_a_codec_error(msg_type: str, fields: Fields, tag: int) -> None:
    with pytest.raises(CodecError) as caught:
        decode(from_venue(msg_type, fields), VENUE, T0)
    assert (caught.value.tag, caught.value.reject_kind) == (tag, "session")
    assert is_refusal(msg_type)  # which the adapter logs and never answers


# --- bad input -------------------------------------------------------------------------------------------

SESSION, BUSINESS = "session", "business"
BAD_INPUT = [
    # ExecutionReport (8)
    ("8", changed(TRADE, {150: None}), [], Tag.ExecType, SESSION, SessionRejectReason.REQUIRED_TAG_MISSING),
    ("8", changed(TRADE, {150: "Z"}), [], Tag.ExecType, SESSION, SessionRejectReason.VALUE_IS_INCORRECT),
    ("8", changed(TRADE, {39: "X"}), [], Tag.OrdStatus, SESSION, SessionRejectReason.VALUE_IS_INCORRECT),
    ("8", changed(TRADE, {37: None}), [], Tag.OrderID, SESSION, SessionRejectReason.REQUIRED_TAG_MISSING),
    ("8", changed(TRADE, {11: None}), [], Tag.ClOrdID, BUSINESS, BusinessRejectReason.CONDITIONALLY_REQUIRED_FIELD_MISSING),
    ("8", changed(TRADE, {31: None}), [], Tag.LastPx, BUSINESS, BusinessRejectReason.CONDITIONALLY_REQUIRED_FIELD_MISSING),
    ("8", changed(TRADE, {32: None}), [], Tag.LastQty, BUSINESS, BusinessRejectReason.CONDITIONALLY_REQUIRED_FIELD_MISSING),
    ("8", changed(TRADE, {32: "0"}), [], Tag.LastQty, SESSION, SessionRejectReason.VALUE_IS_INCORRECT),
    ("8", changed(TRADE, {32: "-1"}), [], Tag.LastQty, SESSION, SessionRejectReason.VALUE_IS_INCORRECT),
    ("8", changed(TRADE, {32: "1e3"}), [], Tag.LastQty, SESSION, SessionRejectReason.INCORRECT_DATA_FORMAT),
    ("8", changed(TRADE, {32: "nan"}), [], Tag.LastQty, SESSION, SessionRejectReason.INCORRECT_DATA_FORMAT),
    ("8", changed(TRADE, {32: "0.0000000001"}), [], Tag.LastQty, SESSION, SessionRejectReason.VALUE_IS_INCORRECT),
    ("8", changed(TRADE, {32: "1000000000000"}), [], Tag.LastQty, SESSION, SessionRejectReason.VALUE_IS_INCORRECT),
    ("8", changed(TRADE, {31: "0"}), [], Tag.LastPx, SESSION, SessionRejectReason.VALUE_IS_INCORRECT),
    ("8", changed(TRADE, {31: "-150.25"}), [], Tag.LastPx, SESSION, SessionRejectReason.VALUE_IS_INCORRECT),
    ("8", changed(TRADE, {31: "1000000001"}), [], Tag.LastPx, SESSION, SessionRejectReason.VALUE_IS_INCORRECT),
    ("8", changed(TRADE, {151: "-1"}), [], Tag.LeavesQty, SESSION, SessionRejectReason.VALUE_IS_INCORRECT),
    ("8", changed(TRADE, {14: "abc"}), [], Tag.CumQty, SESSION, SessionRejectReason.INCORRECT_DATA_FORMAT),
    ("8", changed(TRADE, {54: "Z"}), [], Tag.Side, SESSION, SessionRejectReason.VALUE_IS_INCORRECT),
    ("8", changed(ACCEPTED, {150: "5"}), [], Tag.OrigClOrdID, BUSINESS, BusinessRejectReason.CONDITIONALLY_REQUIRED_FIELD_MISSING),
    # OrderCancelReject (9)
    ("9", changed(CANCEL_REJECT, {434: None}), [], Tag.CxlRejResponseTo, SESSION, SessionRejectReason.REQUIRED_TAG_MISSING),
    ("9", changed(CANCEL_REJECT, {434: "3"}), [], Tag.CxlRejResponseTo, SESSION, SessionRejectReason.VALUE_IS_INCORRECT),
    ("9", changed(CANCEL_REJECT, {41: None}), [], Tag.OrigClOrdID, SESSION, SessionRejectReason.REQUIRED_TAG_MISSING),
    # Quote (S)
    ("S", changed(QUOTE, {55: None}), [], Tag.Symbol, BUSINESS, BusinessRejectReason.CONDITIONALLY_REQUIRED_FIELD_MISSING),
    ("S", changed(QUOTE, {117: None}), [], Tag.QuoteID, SESSION, SessionRejectReason.REQUIRED_TAG_MISSING),
    ("S", changed(QUOTE, {134: None}), [], Tag.BidSize, BUSINESS, BusinessRejectReason.CONDITIONALLY_REQUIRED_FIELD_MISSING),
    ("S", changed(QUOTE, {132: "0"}), [], Tag.BidPx, SESSION, SessionRejectReason.VALUE_IS_INCORRECT),
    ("S", changed(QUOTE, {135: "-5"}), [], Tag.OfferSize, SESSION, SessionRejectReason.VALUE_IS_INCORRECT),
    ("S", changed(QUOTE, {133: "1e2"}), [], Tag.OfferPx, SESSION, SessionRejectReason.INCORRECT_DATA_FORMAT),
    ("S", changed(QUOTE, {132: "150.40"}), [], Tag.BidPx, BUSINESS, BusinessRejectReason.OTHER),  # crossed
    # MarketDataSnapshotFullRefresh (W)
    ("W", {55: "IBM"}, [{269: "0", 271: "5"}], Tag.MDEntryPx, BUSINESS, BusinessRejectReason.CONDITIONALLY_REQUIRED_FIELD_MISSING),
    ("W", {55: "IBM"}, [{269: "0", 270: "1", 271: "-5"}], Tag.MDEntrySize, SESSION, SessionRejectReason.VALUE_IS_INCORRECT),
    ("W", {55: "IBM"}, [{269: "0", 270: "nan", 271: "5"}], Tag.MDEntryPx, SESSION, SessionRejectReason.INCORRECT_DATA_FORMAT),
    ("W", {55: "IBM"}, [{269: "Z", 270: "1", 271: "5"}], Tag.MDEntryType, SESSION, SessionRejectReason.VALUE_IS_INCORRECT),
    # sizes each in range that add up past the limit at the best price
    ("W", {55: "IBM"}, [{269: "0", 270: "1", 271: "999999999"}] * 2, Tag.MDEntrySize, SESSION, SessionRejectReason.VALUE_IS_INCORRECT),
    (
        "W",
        {55: "IBM"},
        [{269: "0", 270: "2", 271: "5"}, {269: "1", 270: "1", 271: "5"}],
        Tag.MDEntryPx,
        BUSINESS,
        BusinessRejectReason.OTHER,
    ),
    ("W", {55: "IBM", 268: "2"}, [], Tag.NoMDEntries, SESSION, SessionRejectReason.INCORRECT_NUM_IN_GROUP_COUNT),
    ("W", {}, [{269: "0", 270: "1", 271: "5"}], Tag.Symbol, BUSINESS, BusinessRejectReason.CONDITIONALLY_REQUIRED_FIELD_MISSING),
    # message types
    ("ZZ", {55: "IBM"}, [], Tag.MsgType, SESSION, SessionRejectReason.INVALID_MSG_TYPE),
    ("D", {55: "IBM"}, [], Tag.MsgType, BUSINESS, BusinessRejectReason.UNSUPPORTED_MESSAGE_TYPE),
]


@pytest.mark.parametrize(("msg_type", "fields", "groups", "tag", "kind", "code"), BAD_INPUT)
def test_bad_input_is_refused_with_the_tag_and_the_reject_it_needs(
    msg_type: str, fields: Fields, groups: list[Fields], tag: int, kind: str, code: int
) -> None:
    msg = from_venue(msg_type, fields, groups)
    with pytest.raises(CodecError) as caught:
        decode(msg, VENUE, T0)
    error = caught.value
    assert (error.tag, error.reject_kind, error.code) == (tag, kind, code), error.reason
    assert error.reason
    reject = over_the_wire(outbound.reject(msg, error))
    assert reject.getHeader().getField(35) == ("3" if kind == SESSION else "j")


def test_a_decoder_refuses_a_message_of_another_type() -> None:
    with pytest.raises(CodecError) as caught:
        decode_quote(from_venue("8", TRADE), VENUE, T0)
    assert (caught.value.tag, caught.value.code) == (Tag.MsgType, BusinessRejectReason.UNSUPPORTED_MESSAGE_TYPE)


def test_a_message_without_msg_type_is_refused() -> None:
    with pytest.raises(CodecError) as caught:
        decode(fix.Message(), VENUE, T0)
    assert (caught.value.tag, caught.value.code) == (Tag.MsgType, SessionRejectReason.REQUIRED_TAG_MISSING)


# --- what may wait for the next journal record -------------------------------------------------


@pytest.mark.parametrize(
    ("msg_type", "fields", "only"),
    [
        ("8", ACCEPTED, True),
        ("8", changed(ACCEPTED, {150: "A", 39: "A"}), True),  # pending new
        ("8", changed(ACCEPTED, {150: "6", 39: "6"}), True),  # pending cancel
        ("8", changed(ACCEPTED, {150: "E", 39: "E"}), True),  # pending replace
        ("8", TRADE, False),
        ("8", changed(TRADE, {150: "4", 39: "4"}), False),
        ("8", changed(TRADE, {150: "I"}), False),  # an answer to a status request may end an order
        ("8", changed(TRADE, {150: None}), False),
        ("9", CANCEL_REJECT, False),
        ("S", QUOTE, False),
        ("3", EXECUTOR_REJECT, False),
        ("8", changed(TRADE, {58: "150=0"}), False),  # the text names no tag
    ],
)
def test_only_a_report_that_acknowledges_may_wait_for_the_next_record(msg_type: str, fields: Fields, only: bool) -> None:
    raw = from_venue(msg_type, fields).toString()
    assert acknowledges_only(raw) is only
    assert not acknowledges_only("garbage") and not acknowledges_only("")


def test_a_decimal_read_again_reads_alike_and_a_bad_one_is_refused_every_time() -> None:
    """Decimal texts are read once and kept (prices repeat); a refusal is never kept."""
    for _ in range(2):
        inbound = decode_execution_report(from_venue("8", changed(TRADE, {31: "150.25", 32: "0.5"})), VENUE, T0)
        assert inbound.report is not None and (inbound.report.last_price, inbound.report.last_qty) == (fixed.parse("150.25"), fixed.parse("0.5"))
    for bad, code in (("1e5", SessionRejectReason.INCORRECT_DATA_FORMAT), ("-1", SessionRejectReason.VALUE_IS_INCORRECT)):
        for _ in range(2):
            with pytest.raises(CodecError) as caught:
                decode(from_venue("8", changed(TRADE, {32: bad})), VENUE, T0)
            assert (caught.value.tag, caught.value.code) == (Tag.LastQty, code)
