"""The FIX 4.4 codec (``adapters/fix/codec.py``): every builder through quickfix's own wire
form, every decoder on good and bad messages, and decimals both ways."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

import msgspec
import pytest
import quickfix as fix
from hypothesis import given
from hypothesis import strategies as st

from adapters.fix import codec
from adapters.fix.codec import (
    BusinessRejectReason,
    ChildOrder,
    CodecError,
    Inbound,
    Refusal,
    SessionRejectReason,
    Tag,
)
from adapters.fix.spec import fix44_dictionary
from model import fixed
from model.enums import ExecType, OrderStatus, OrderType, Reason, Side, TimeInForce, VenueEventKind
from model.messages import ExecutionReport, VenueNewOrder, VenueQuote, VenueReport
from model.orders import OrderSpec

SOH = "\x01"
STRICT = fix.DataDictionary(str(fix44_dictionary()))  # quickfix's defaults, as a counterparty's session checks
T0 = 1_763_700_000_123_456_789  # 2025-11-21 04:40:00.123456789 UTC
T0_FIX = "20251121-04:40:00.123"
VENUE = "MM1"
Fields = dict[int, str | None]


def number(text: str) -> int:
    return fixed.parse(text)


# --- helpers --------------------------------------------------------------------------------------


def stamp(msg: Any, seq: int = 7, sender: str = "BROKER", target: str = "MM1") -> Any:
    """Fill in the header a quickfix session adds before sending."""
    header = msg.getHeader()
    header.setField(8, "FIX.4.4")
    header.setField(49, sender)
    header.setField(56, target)
    header.setField(34, str(seq))
    header.setField(52, T0_FIX)
    return msg


def over_the_wire(msg: Any) -> Any:
    """What the other side gets: the string quickfix sends, parsed back and validated strictly."""
    text = stamp(msg).toString()
    assert text.startswith("8=FIX.4.4" + SOH) and text.endswith(SOH)
    parsed = fix.Message(text, STRICT, True)
    STRICT.validate(parsed)
    assert parsed.toString() == text
    return parsed


def fields_of(msg: Any, *tags: int) -> dict[int, str | None]:
    return {tag: msg.getField(tag) if msg.isSetField(tag) else None for tag in tags}


def from_venue(msg_type: str, fields: Fields, groups: Sequence[Fields] = (), poss_dup: bool = False) -> Any:
    """A message as a venue's session would deliver it: stamped, sent, parsed with the FIX 4.4
    dictionary, but not validated (that is the codec's job)."""
    msg = fix.Message()
    stamp(msg, sender="MM1", target="BROKER")
    msg.getHeader().setField(35, msg_type)
    if poss_dup:
        msg.getHeader().setField(43, "Y")
        msg.getHeader().setField(122, T0_FIX)
    for tag, value in fields.items():
        if value is not None:
            msg.setField(tag, value)
    for entry in groups:
        group = fix.Group(Tag.NoMDEntries, Tag.MDEntryType)
        for tag, value in entry.items():
            if value is not None:
                group.setField(tag, value)
        msg.addGroup(group)
    return fix.Message(msg.toString(), STRICT, True)


def changed(base: Fields, changes: Fields) -> Fields:
    return {**base, **changes}


TRADE: Fields = {
    11: "child-1",
    37: "V-1",
    17: "E-1",
    150: "F",
    39: "1",
    55: "IBM",
    54: "1",
    32: "0.1",
    31: "150.25",
    151: "0.2",
    14: "0.1",
    6: "150.25",
    60: T0_FIX,
}
ACCEPTED: Fields = changed(TRADE, {150: "0", 39: "0", 32: None, 31: None, 151: "0.3", 14: "0", 6: "0"})
CANCEL_REJECT: Fields = {37: "V-1", 11: "cancel-1", 41: "child-1", 39: "0", 434: "1"}
QUOTE: Fields = {117: "Q-1", 55: "IBM", 132: "150.20", 133: "150.30", 134: "300", 135: "200.5"}


def execution(changes: Fields | None = None, poss_dup: bool = False) -> Inbound:
    return codec.decode_execution_report(from_venue("8", changed(TRADE, changes or {}), poss_dup=poss_dup), VENUE, T0)


def limit_order(qty_cap: int | None = None, **changes: Any) -> VenueNewOrder:
    spec = OrderSpec("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, number("0.3"), None, number("150.25"))
    return VenueNewOrder("child-1", msgspec.structs.replace(spec, **changes), qty_cap)


# --- decimals -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.3", 300_000_000),
        ("100", 100 * fixed.SCALE),
        ("150.25", 150_250_000_000),
        ("0.000000001", 1),
        ("0023.50", 23_500_000_000),
        (".5", 500_000_000),
        ("5.", 5 * fixed.SCALE),
        ("1.500000000000", 1_500_000_000),
        ("-1", -fixed.SCALE),
    ],
)
def test_fix_decimals_read_exactly(text: str, value: int) -> None:
    assert codec.from_fix_decimal(text) == value


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("1e3", SessionRejectReason.INCORRECT_DATA_FORMAT),
        ("nan", SessionRejectReason.INCORRECT_DATA_FORMAT),
        ("inf", SessionRejectReason.INCORRECT_DATA_FORMAT),
        ("", SessionRejectReason.INCORRECT_DATA_FORMAT),
        (".", SessionRejectReason.INCORRECT_DATA_FORMAT),
        ("+1", SessionRejectReason.INCORRECT_DATA_FORMAT),
        (" 1", SessionRejectReason.INCORRECT_DATA_FORMAT),
        ("1.2.3", SessionRejectReason.INCORRECT_DATA_FORMAT),
        ("1,5", SessionRejectReason.INCORRECT_DATA_FORMAT),
        ("1\n", SessionRejectReason.INCORRECT_DATA_FORMAT),
        ("\u0661\u0662", SessionRejectReason.INCORRECT_DATA_FORMAT),  # Arabic-Indic digits
        ("0.0000000001", SessionRejectReason.VALUE_IS_INCORRECT),
        ("1" * 19, SessionRejectReason.VALUE_IS_INCORRECT),
    ],
)
def test_fix_decimals_refuse_what_is_not_an_exact_nine_place_decimal(text: str, code: SessionRejectReason) -> None:
    with pytest.raises(CodecError) as caught:
        codec.from_fix_decimal(text, Tag.OrderQty)
    assert (caught.value.tag, caught.value.reject_kind, caught.value.code) == (Tag.OrderQty, "session", code)


@given(st.integers(min_value=-(10**18), max_value=10**18))
def test_fixed_to_fix_decimal_and_back_is_identity(value: int) -> None:
    text = codec.to_fix_decimal(value)
    assert codec.from_fix_decimal(text) == value
    assert "e" not in text.lower()


@given(st.integers(min_value=1, max_value=10**18), st.integers(min_value=0, max_value=5))
def test_any_fix_spelling_of_a_value_reads_back_the_same(value: int, padding: int) -> None:
    whole, fraction = fixed.format(value, min_places=1).split(".")
    assert codec.from_fix_decimal("0" * padding + whole + "." + fraction + "0" * padding) == value


# --- outbound: orders -------------------------------------------------------------------------------


def test_new_order_single_carries_a_fractional_limit_order() -> None:
    msg = over_the_wire(codec.new_order_single(limit_order(tif=TimeInForce.IOC), T0))
    assert msg.getHeader().getField(35) == "D"
    assert fields_of(msg, 11, 21, 55, 54, 40, 59, 38, 152, 44, 60) == {
        11: "child-1",
        21: "1",
        55: "IBM",
        54: "1",
        40: "2",
        59: "3",
        38: "0.3",
        152: None,
        44: "150.25",
        60: T0_FIX,
    }


def test_a_notional_order_goes_out_as_cash_order_qty_without_order_qty() -> None:
    order = limit_order(order_type=OrderType.MARKET, qty=None, notional=number("100.00"), price=None, qty_cap=number("0.5"))
    msg = over_the_wire(codec.new_order_single(order, T0))
    assert fields_of(msg, 40, 38, 152, 44) == {40: "1", 38: None, 152: "100", 44: None}


@pytest.mark.parametrize(
    ("tif", "code"),
    [(TimeInForce.DAY, "0"), (TimeInForce.GTC, "1"), (TimeInForce.OPG, "2"), (TimeInForce.IOC, "3"), (TimeInForce.FOK, "4")],
)
def test_time_in_force_codes(tif: TimeInForce, code: str) -> None:
    assert over_the_wire(codec.new_order_single(limit_order(tif=tif), T0)).getField(59) == code


def test_a_sell_market_order_sends_no_price() -> None:
    msg = over_the_wire(codec.new_order_single(limit_order(side=Side.SELL, order_type=OrderType.MARKET, price=None), T0))
    assert fields_of(msg, 54, 40, 44) == {54: "2", 40: "1", 44: None}


@pytest.mark.parametrize(
    ("changes", "tag"),
    [
        ({"order_type": OrderType.STOP}, Tag.OrdType),
        ({"order_type": OrderType.STOP_LIMIT}, Tag.OrdType),
        ({"price": None}, Tag.Price),
        ({"price": 0}, Tag.Price),
        ({"qty": None}, Tag.OrderQty),
        ({"notional": number("100")}, Tag.OrderQty),
        ({"qty": 0}, Tag.OrderQty),
        ({"qty": -1}, Tag.OrderQty),
    ],
)
def test_an_order_fix_cannot_carry_is_refused_before_sending(changes: dict[str, Any], tag: int) -> None:
    with pytest.raises(CodecError) as caught:
        codec.new_order_single(limit_order(**changes), T0)
    assert (caught.value.tag, caught.value.reject_kind) == (tag, "business")


def test_transact_time_is_utc_with_milliseconds() -> None:
    assert codec.fix_timestamp(0) == "19700101-00:00:00.000"
    assert codec.fix_timestamp(T0) == T0_FIX


def test_cancel_request_names_the_order_by_its_current_cl_ord_id() -> None:
    child = ChildOrder.of(limit_order())
    msg = over_the_wire(codec.cancel_request(child, "cancel-1", T0))
    assert msg.getHeader().getField(35) == "F"
    assert fields_of(msg, 11, 41, 55, 54, 38, 60) == {11: "cancel-1", 41: "child-1", 55: "IBM", 54: "1", 38: "0.3", 60: T0_FIX}
    after_replace = child.replaced("replace-1", number("2"), number("150.10"))
    assert over_the_wire(codec.cancel_request(after_replace, "cancel-2", T0)).getField(41) == "replace-1"
    assert (after_replace.child_id, after_replace.qty, after_replace.price) == ("child-1", number("2"), number("150.10"))


def test_cancel_request_of_a_notional_order_repeats_its_cash_amount() -> None:
    child = ChildOrder.of(limit_order(order_type=OrderType.MARKET, qty=None, notional=number("250.5"), price=None))
    assert fields_of(over_the_wire(codec.cancel_request(child, "cancel-1", T0)), 38, 152) == {38: None, 152: "250.5"}


def test_replace_request_sends_the_new_total_quantity_and_price() -> None:
    child = ChildOrder.of(limit_order(tif=TimeInForce.GTC))
    msg = over_the_wire(codec.replace_request(child, "replace-1", number("1.25"), number("150.10"), T0))
    assert msg.getHeader().getField(35) == "G"
    assert fields_of(msg, 11, 41, 21, 55, 54, 40, 59, 38, 44, 60) == {
        11: "replace-1",
        41: "child-1",
        21: "1",
        55: "IBM",
        54: "1",
        40: "2",
        59: "1",
        38: "1.25",
        44: "150.1",
        60: T0_FIX,
    }


def test_a_notional_child_cannot_be_replaced() -> None:
    child = ChildOrder.of(limit_order(order_type=OrderType.MARKET, qty=None, notional=number("100"), price=None))
    with pytest.raises(CodecError) as caught:
        codec.replace_request(child, "replace-1", number("1"), None, T0)
    assert caught.value.tag == Tag.CashOrderQty


def test_replace_of_a_limit_order_needs_a_price() -> None:
    with pytest.raises(CodecError) as caught:
        codec.replace_request(ChildOrder.of(limit_order()), "replace-1", number("1"), None, T0)
    assert caught.value.tag == Tag.Price


@given(st.integers(min_value=1, max_value=10**18))
def test_any_order_quantity_survives_the_wire(qty: int) -> None:
    msg = over_the_wire(codec.new_order_single(limit_order(qty=qty), T0))
    assert codec.from_fix_decimal(msg.getField(38)) == qty


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
    inbound = codec.decode_execution_report(from_venue("8", ACCEPTED), VENUE, T0)
    assert inbound.report == VenueReport(VENUE, "child-1", VenueEventKind.ACCEPTED, 0, None, None, T0, done=False)
    assert (inbound.leaves_qty, inbound.cum_qty) == (number("0.3"), 0)


def test_a_replace_acknowledgement_carries_both_cl_ord_ids() -> None:
    inbound = codec.decode_execution_report(from_venue("8", changed(ACCEPTED, {150: "5", 11: "replace-1", 41: "child-1"})), VENUE, T0)
    assert inbound.report is not None and inbound.report.kind is VenueEventKind.REPLACED
    assert (inbound.cl_ord_id, inbound.orig_cl_ord_id) == ("replace-1", "child-1")
    assert inbound.for_child("child-1") == msgspec.structs.replace(inbound.report, child_id="child-1")


def test_a_canceled_answer_to_our_request_is_user_canceled() -> None:
    msg = from_venue("8", changed(ACCEPTED, {150: "4", 39: "4", 11: "cancel-1", 41: "child-1", 151: "0"}))
    inbound = codec.decode_execution_report(msg, VENUE, T0)
    assert inbound.report == VenueReport(VENUE, "cancel-1", VenueEventKind.CANCELED, 0, None, Reason.USER_CANCELED.value, T0, done=True)
    assert inbound.orig_cl_ord_id == "child-1"


def test_an_unsolicited_cancel_keeps_the_venues_text() -> None:
    msg = from_venue("8", changed(ACCEPTED, {150: "4", 39: "4", 58: "ioc remainder", 151: "0"}))
    report = codec.decode_execution_report(msg, VENUE, T0).report
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
    report = codec.decode_execution_report(msg, VENUE, T0).report
    assert report is not None and (report.kind, report.reason, report.done) == (VenueEventKind.REJECTED, reason, True)


def test_an_expiry_is_expired() -> None:
    report = codec.decode_execution_report(from_venue("8", changed(ACCEPTED, {150: "C", 39: "C", 151: "0"})), VENUE, T0).report
    assert report is not None and (report.kind, report.reason, report.done) == (VenueEventKind.EXPIRED, None, True)


@pytest.mark.parametrize("exec_type", ["I", "D", "6", "E", "A", "H"])
def test_exec_types_brokerd_does_not_apply_give_no_report(exec_type: str) -> None:
    inbound = codec.decode_execution_report(from_venue("8", changed(ACCEPTED, {150: exec_type})), VENUE, T0)
    assert inbound.report is None and inbound.for_child("child-1") is None
    assert (inbound.exec_type, inbound.cl_ord_id, inbound.leaves_qty) == (exec_type, "child-1", number("0.3"))


def test_a_resend_is_flagged_possible_duplicate() -> None:
    assert execution(poss_dup=True).possible_duplicate
    assert not execution().possible_duplicate


def test_the_drop_copy_of_a_fill_decodes_as_the_same_trade() -> None:
    fill = ExecutionReport(
        account="A1",
        order_id="account-1-17",
        client_order_id="c-1",
        exec_id="account-1-17-2",
        exec_type=ExecType.TRADE,
        status=OrderStatus.PARTIALLY_FILLED,
        spec=OrderSpec("IBM", Side.SELL, OrderType.LIMIT, TimeInForce.DAY, number("1.3"), None, number("150.25"), None),
        cum_qty=number("0.3"),
        leaves_qty=number("1"),
        last_qty=number("0.3"),
        last_price=number("150.25"),
        avg_price=number("150.25"),
        reason=None,
        ts=T0,
    )
    msg = over_the_wire(codec.execution_copy(fill))
    assert fields_of(msg, 1, 11, 37, 17, 150, 39, 55, 54, 32, 31, 14, 6, 151, 38, 60) == {
        1: "A1",
        11: "c-1",
        37: "account-1-17",
        17: "account-1-17-2",
        150: "F",
        39: "1",
        55: "IBM",
        54: "2",
        32: "0.3",
        31: "150.25",
        14: "0.3",
        6: "150.25",
        151: "1",
        38: "1.3",
        60: T0_FIX,
    }
    inbound = codec.decode_execution_report(msg, "clearing", T0)
    assert inbound.report == VenueReport("clearing", "c-1", VenueEventKind.TRADE, number("0.3"), number("150.25"), None, T0, done=False)


def test_the_drop_copy_of_a_notional_fill_carries_cash_order_qty() -> None:
    fill = ExecutionReport(
        "A1", "o-1", "c-1", "o-1-1", ExecType.TRADE, OrderStatus.FILLED,
        OrderSpec("AAPL", Side.BUY, OrderType.MARKET, TimeInForce.DAY, None, number("100"), None, None), number("0.52"), None, number("0.52"), number("190.10"), number("190.10"), None, T0,
    )  # fmt: skip
    assert fields_of(over_the_wire(codec.execution_copy(fill)), 38, 152, 151, 39) == {38: None, 152: "100", 151: "0", 39: "2"}


def test_only_fills_are_copied() -> None:
    accepted = ExecutionReport(
        "A1", "o-1", "c-1", "o-1-0", ExecType.NEW, OrderStatus.NEW,
        OrderSpec("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, number("1"), None, number("150"), None), 0, number("1"), 0, None, None, None, T0,
    )  # fmt: skip
    with pytest.raises(CodecError) as caught:
        codec.execution_copy(accepted)
    assert caught.value.tag == Tag.ExecType


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
    inbound = codec.decode_cancel_reject(from_venue("9", changed(CANCEL_REJECT, changes)), VENUE, T0)
    assert inbound.report == VenueReport(VENUE, "cancel-1", kind, 0, None, reason, T0, done=False)
    assert (inbound.cl_ord_id, inbound.orig_cl_ord_id, inbound.order_status, inbound.venue_order_id) == ("cancel-1", "child-1", "0", "V-1")


def test_a_cancel_reject_for_a_filled_order_is_done() -> None:
    report = codec.decode_cancel_reject(from_venue("9", changed(CANCEL_REJECT, {39: "2"})), VENUE, T0).report
    assert report is not None and report.done


# --- inbound: quotes -----------------------------------------------------------------------------------


def test_a_quote_is_a_venue_quote() -> None:
    quote = codec.decode_quote(from_venue("S", QUOTE), VENUE, T0)
    assert quote == VenueQuote(VENUE, "IBM", number("150.20"), number("300"), number("150.30"), number("200.5"), T0)


def test_a_one_sided_quote_leaves_the_other_side_empty() -> None:
    quote = codec.decode_quote(from_venue("S", changed(QUOTE, {133: None, 135: None})), VENUE, T0)
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
    quote = codec.decode_market_data(from_venue("W", {55: "IBM"}, entries), VENUE, T0)
    assert quote == VenueQuote(VENUE, "IBM", number("150.20"), number("100.5"), number("150.30"), number("200"), T0)


def test_market_data_with_one_side_only() -> None:
    quote = codec.decode_market_data(from_venue("W", {55: "IBM"}, [{269: "1", 270: "150.30", 271: "200"}]), VENUE, T0)
    assert (quote.bid, quote.bid_size, quote.ask, quote.ask_size) == (None, 0, number("150.30"), number("200"))


def test_decode_routes_by_msg_type() -> None:
    assert isinstance(codec.decode(from_venue("8", TRADE), VENUE, T0), Inbound)
    assert isinstance(codec.decode(from_venue("9", CANCEL_REJECT), VENUE, T0), Inbound)
    assert isinstance(codec.decode(from_venue("S", QUOTE), VENUE, T0), VenueQuote)
    assert isinstance(codec.decode(from_venue("W", {55: "IBM"}, [{269: "0", 270: "1", 271: "1"}]), VENUE, T0), VenueQuote)


# --- the venue's refusals -----------------------------------------------------------------------------------

# What the QuickFIX example executor answers a market order with (it takes limit orders only)
EXECUTOR_REJECT: Fields = {45: "5", 371: "40", 372: "D", 373: "5", 58: "Value is incorrect (out of range) for this tag"}
UNSUPPORTED: Fields = {45: "9", 372: "H", 380: "3", 58: "Unsupported Message Type"}


def test_a_session_reject_names_the_refused_message_by_its_number_and_keeps_the_venues_text() -> None:
    refusal = codec.decode(from_venue("3", EXECUTOR_REJECT), VENUE, T0)
    assert refusal == Refusal("3", 5, "D", None, "Value is incorrect (out of range) for this tag")


def test_a_business_reject_names_the_message_type_and_maybe_its_id() -> None:
    assert codec.decode(from_venue("j", UNSUPPORTED), VENUE, T0) == Refusal("j", 9, "H", None, "Unsupported Message Type")
    with_id = codec.decode(from_venue("j", changed(UNSUPPORTED, {45: None, 379: "child-1", 372: "D"}), poss_dup=True), VENUE, T0)
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
    refusal = codec.decode(from_venue(msg_type, fields), VENUE, T0)
    assert isinstance(refusal, Refusal) and refusal.reason == reason


@pytest.mark.parametrize(
    ("msg_type", "fields", "tag"),
    [("3", changed(EXECUTOR_REJECT, {45: None}), Tag.RefSeqNum), ("j", changed(UNSUPPORTED, {372: None}), Tag.RefMsgType)],
)
def test_a_refusal_missing_what_fix_requires_is_a_codec_error(msg_type: str, fields: Fields, tag: int) -> None:
    with pytest.raises(CodecError) as caught:
        codec.decode(from_venue(msg_type, fields), VENUE, T0)
    assert (caught.value.tag, caught.value.reject_kind) == (tag, "session")
    assert codec.is_refusal(msg_type)  # which the adapter logs and never answers


def test_order_reference_names_each_order_message_and_nothing_else() -> None:
    child = ChildOrder.of(limit_order())
    assert codec.order_reference(stamp(codec.new_order_single(limit_order(), T0))) == ("D", "child-1")
    assert codec.order_reference(stamp(codec.cancel_request(child, "child-1.c1", T0))) == ("F", "child-1.c1")
    assert codec.order_reference(stamp(codec.replace_request(child, "child-1.r2", number("1"), number("150"), T0))) == ("G", "child-1.r2")
    assert codec.order_reference(stamp(codec.order_status_request(child, T0))) == ("H", "child-1")
    assert codec.order_reference(from_venue("8", TRADE)) is None
    assert codec.order_reference(codec.business_reject(from_venue("8", TRADE), CodecError("x", None, "business"))) is None


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
        codec.decode(msg, VENUE, T0)
    error = caught.value
    assert (error.tag, error.reject_kind, error.code) == (tag, kind, code), error.reason
    assert error.reason
    reject = over_the_wire(codec.reject(msg, error))
    assert reject.getHeader().getField(35) == ("3" if kind == SESSION else "j")


def test_a_decoder_refuses_a_message_of_another_type() -> None:
    with pytest.raises(CodecError) as caught:
        codec.decode_quote(from_venue("8", TRADE), VENUE, T0)
    assert (caught.value.tag, caught.value.code) == (Tag.MsgType, BusinessRejectReason.UNSUPPORTED_MESSAGE_TYPE)


def test_a_message_without_msg_type_is_refused() -> None:
    with pytest.raises(CodecError) as caught:
        codec.decode(fix.Message(), VENUE, T0)
    assert (caught.value.tag, caught.value.code) == (Tag.MsgType, SessionRejectReason.REQUIRED_TAG_MISSING)


# --- rejects -----------------------------------------------------------------------------------------------


def test_session_reject_names_the_message_tag_and_reason() -> None:
    msg = from_venue("8", changed(TRADE, {32: "-1"}))
    with pytest.raises(CodecError) as caught:
        codec.decode_execution_report(msg, VENUE, T0)
    reject = over_the_wire(codec.session_reject(msg, caught.value))
    assert reject.getHeader().getField(35) == "3"
    assert fields_of(reject, 45, 371, 372, 373) == {45: "7", 371: "32", 372: "8", 373: "5"}
    assert "LastQty(32)" in reject.getField(58)


def test_business_reject_names_the_order_and_reason() -> None:
    msg = from_venue("8", changed(TRADE, {31: None}))
    with pytest.raises(CodecError) as caught:
        codec.decode_execution_report(msg, VENUE, T0)
    reject = over_the_wire(codec.business_reject(msg, caught.value))
    assert reject.getHeader().getField(35) == "j"
    assert fields_of(reject, 45, 372, 379, 380) == {45: "7", 372: "8", 379: "child-1", 380: "5"}
    assert "LastPx(31)" in reject.getField(58)


def test_each_reject_builder_takes_the_other_kind_of_error_as_other() -> None:
    msg = from_venue("S", QUOTE)
    session_error = CodecError("bad", 132, "session", SessionRejectReason.VALUE_IS_INCORRECT)
    business_error = CodecError("odd", None, "business", BusinessRejectReason.UNKNOWN_ID)
    assert over_the_wire(codec.business_reject(msg, session_error)).getField(380) == "0"
    assert fields_of(over_the_wire(codec.session_reject(msg, business_error)), 371, 373) == {371: None, 373: "99"}


# --- drop copy: allocations ----------------------------------------------------------------------------------


def test_allocation_instruction_splits_a_block_and_adds_up() -> None:
    allocations = [("A1", number("100")), ("A2", number("0.5")), ("B1", number("49.5"))]
    msg = over_the_wire(codec.allocation_instruction("block-1", "IBM", Side.BUY, number("150.2512"), allocations, T0))
    assert msg.getHeader().getField(35) == "J"
    assert fields_of(msg, 70, 71, 626, 857, 54, 55, 53, 6, 75, 78) == {
        70: "block-1",
        71: "0",
        626: "1",
        857: "0",
        54: "1",
        55: "IBM",
        53: "150",
        6: "150.2512",
        75: "20251121",
        78: "3",
    }
    read = []
    for number_in_group in range(1, 4):
        group = fix.Group(Tag.NoAllocs, Tag.AllocAccount)
        msg.getGroup(number_in_group, group)
        read.append((group.getField(79), group.getField(80)))
    assert read == [("A1", "100"), ("A2", "0.5"), ("B1", "49.5")]


def test_allocation_trade_date_can_be_the_markets_own() -> None:
    msg = codec.allocation_instruction(
        "b", "IBM", Side.SELL, number("1"), [("A1", number("1"))], T0, trade_date=datetime.date(2025, 11, 20)
    )
    assert fields_of(over_the_wire(msg), 75, 54) == {75: "20251120", 54: "2"}


@pytest.mark.parametrize(
    ("allocations", "avg_price", "tag"),
    [
        ([], "1", Tag.NoAllocs),
        ([("A1", "0")], "1", Tag.AllocQty),
        ([("A1", "-1")], "1", Tag.AllocQty),
        ([("", "1")], "1", Tag.AllocAccount),
        ([("A1", "1")], "0", Tag.AvgPx),
    ],
)
def test_an_allocation_that_does_not_add_up_is_refused(allocations: list[tuple[str, str]], avg_price: str, tag: int) -> None:
    split = [(account, number(qty)) for account, qty in allocations]
    with pytest.raises(CodecError) as caught:
        codec.allocation_instruction("b", "IBM", Side.BUY, number(avg_price), split, T0)
    assert caught.value.tag == tag


# --- purity ----------------------------------------------------------------------------------------------------


def test_the_same_input_gives_the_same_message() -> None:
    first, second = (codec.new_order_single(limit_order(), T0).toString() for _ in range(2))
    assert first == second
    assert codec.decode(from_venue("S", QUOTE), VENUE, T0) == codec.decode(from_venue("S", QUOTE), VENUE, T0)
