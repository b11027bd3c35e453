"""What brokerd sends over FIX (``adapters/fix/outbound.py``): every builder through quickfix's own
wire form, as the counterparty gets it."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import pytest
import quickfix as fix
from hypothesis import given
from hypothesis import strategies as st

from adapters.fix.dictionary import outgoing
from adapters.fix.inbound import decode, decode_execution_report
from adapters.fix.outbound import (
    ChildOrder,
    allocation_instruction,
    business_reject,
    cancel_request,
    execution_copy,
    new_order_single,
    order_reference,
    order_status_request,
    replace_request,
    session_reject,
)
from adapters.fix.tags import BusinessRejectReason, SessionRejectReason, Tag
from adapters.fix.values import CodecError, from_fix_decimal
from model.enums import ExecType, OrderStatus, OrderType, Side, TimeInForce, VenueEventKind
from model.messages import ExecutionReport, VenueReport
from model.orders import OrderSpec
from tests.unit.adapters.fix.wire import (
    QUOTE,
    T0,
    T0_FIX,
    TRADE,
    VENUE,
    Fields,
    changed,
    fields_of,
    from_venue,
    limit_order,
    number,
    over_the_wire,
    stamp,
)

# --- outbound: orders -------------------------------------------------------------------------------


def test_new_order_single_carries_a_fractional_limit_order() -> None:
    msg = over_the_wire(new_order_single(ChildOrder.of(limit_order(tif=TimeInForce.IOC)), T0))
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
    msg = over_the_wire(new_order_single(ChildOrder.of(order), T0))
    assert fields_of(msg, 40, 38, 152, 44) == {40: "1", 38: None, 152: "100", 44: None}


@pytest.mark.parametrize(
    ("tif", "code"),
    [(TimeInForce.DAY, "0"), (TimeInForce.GTC, "1"), (TimeInForce.OPG, "2"), (TimeInForce.IOC, "3"), (TimeInForce.FOK, "4")],
)
def test_time_in_force_codes(tif: TimeInForce, code: str) -> None:
    assert over_the_wire(new_order_single(ChildOrder.of(limit_order(tif=tif)), T0)).getField(59) == code


def test_a_sell_market_order_sends_no_price() -> None:
    msg = over_the_wire(new_order_single(ChildOrder.of(limit_order(side=Side.SELL, order_type=OrderType.MARKET, price=None)), T0))
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
        new_order_single(ChildOrder.of(limit_order(**changes)), T0)
    assert (caught.value.tag, caught.value.reject_kind) == (tag, "business")


def test_cancel_request_names_the_order_by_its_current_cl_ord_id() -> None:
    child = ChildOrder.of(limit_order())
    msg = over_the_wire(cancel_request(child, "cancel-1", T0))
    assert msg.getHeader().getField(35) == "F"
    assert fields_of(msg, 11, 41, 55, 54, 38, 60) == {11: "cancel-1", 41: "child-1", 55: "IBM", 54: "1", 38: "0.3", 60: T0_FIX}
    after_replace = child.replaced("replace-1", number("2"), number("150.10"))
    assert over_the_wire(cancel_request(after_replace, "cancel-2", T0)).getField(41) == "replace-1"
    assert (after_replace.child_id, after_replace.spec.qty, after_replace.spec.price) == ("child-1", number("2"), number("150.10"))


def test_cancel_request_of_a_notional_order_repeats_its_cash_amount() -> None:
    child = ChildOrder.of(limit_order(order_type=OrderType.MARKET, qty=None, notional=number("250.5"), price=None))
    assert fields_of(over_the_wire(cancel_request(child, "cancel-1", T0)), 38, 152) == {38: None, 152: "250.5"}


def test_replace_request_sends_the_new_total_quantity_and_price() -> None:
    child = ChildOrder.of(limit_order(tif=TimeInForce.GTC))
    msg = over_the_wire(replace_request(child, "replace-1", number("1.25"), number("150.10"), T0))
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
        replace_request(child, "replace-1", number("1"), None, T0)
    assert caught.value.tag == Tag.CashOrderQty


def test_replace_of_a_limit_order_needs_a_price() -> None:
    with pytest.raises(CodecError) as caught:
        replace_request(ChildOrder.of(limit_order()), "replace-1", number("1"), None, T0)
    assert caught.value.tag == Tag.Price


@given(st.integers(min_value=1, max_value=10**18))
def test_any_order_quantity_survives_the_wire(qty: int) -> None:
    msg = over_the_wire(new_order_single(ChildOrder.of(limit_order(qty=qty)), T0))
    assert from_fix_decimal(msg.getField(38)) == qty


def test_the_drop_copy_of_a_fill_decodes_as_the_same_trade() -> None:
    fill = ExecutionReport(spec=OrderSpec(symbol="IBM", side=Side.SELL, order_type=OrderType.LIMIT, tif=TimeInForce.DAY, qty=number("1.3"), notional=None, price=number("150.25"), stop_price=None), account="A1", order_id="account-1-17", client_order_id="c-1", exec_id="account-1-17-2", exec_type=ExecType.TRADE, status=OrderStatus.PARTIALLY_FILLED, cum_qty=number("0.3"), leaves_qty=number("1"), last_qty=number("0.3"), last_price=number("150.25"), avg_price=number("150.25"), reason=None, ts=T0)
    msg = over_the_wire(execution_copy(fill))
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
    inbound = decode_execution_report(msg, "clearing", T0)
    assert inbound.report == VenueReport("clearing", "c-1", VenueEventKind.TRADE, number("0.3"), number("150.25"), None, T0, done=False)


def test_the_drop_copy_of_a_notional_fill_carries_cash_order_qty() -> None:
    fill = ExecutionReport("A1", "o-1", "c-1", "o-1-1", ExecType.TRADE, OrderStatus.FILLED, OrderSpec("AAPL", Side.BUY, OrderType.MARKET, TimeInForce.DAY, None, number("100"), None, None), number("0.52"), None, number("0.52"), number("190.10"), number("190.10"), None, T0)  # fmt: skip
    assert fields_of(over_the_wire(execution_copy(fill)), 38, 152, 151, 39) == {38: None, 152: "100", 151: "0", 39: "2"}


def test_only_fills_are_copied() -> None:
    accepted = ExecutionReport("A1", "o-1", "c-1", "o-1-0", ExecType.NEW, OrderStatus.NEW, OrderSpec("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, number("1"), None, number("150"), None), 0, number("1"), 0, None, None, None, T0)  # fmt: skip
    with pytest.raises(CodecError) as caught:
        execution_copy(accepted)
    assert caught.value.tag == Tag.ExecType


def test_order_reference_names_each_order_message_and_nothing_else() -> None:
    child = ChildOrder.of(limit_order())
    assert order_reference(stamp(new_order_single(ChildOrder.of(limit_order()), T0))) == ("D", "child-1")
    assert order_reference(stamp(cancel_request(child, "child-1.c1", T0))) == ("F", "child-1.c1")
    assert order_reference(stamp(replace_request(child, "child-1.r2", number("1"), number("150"), T0))) == ("G", "child-1.r2")
    assert order_reference(stamp(order_status_request(child, T0))) == ("H", "child-1")
    assert order_reference(from_venue("8", TRADE)) is None
    assert order_reference(outgoing(business_reject(from_venue("8", TRADE), CodecError("x", None, "business")))) is None


# --- rejects -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "build", "msg_type", "fields", "names"),
    [
        # a session Reject names the message, the tag and the reason
        ({32: "-1"}, session_reject, "3", {45: "7", 371: "32", 372: "8", 373: "5"}, "LastQty(32)"),
        # a BusinessMessageReject names the message, the order and the reason
        ({31: None}, business_reject, "j", {45: "7", 372: "8", 379: "child-1", 380: "5"}, "LastPx(31)"),
    ],
)
def test_a_reject_names_what_it_refuses_and_why(
    change: Fields, build: Callable[[Any, CodecError], str], msg_type: str, fields: Fields, names: str
) -> None:
    msg = from_venue("8", changed(TRADE, change))
    with pytest.raises(CodecError) as caught:
        decode_execution_report(msg, VENUE, T0)
    reject = over_the_wire(build(msg, caught.value))
    assert reject.getHeader().getField(35) == msg_type
    assert fields_of(reject, *fields) == fields
    assert names in reject.getField(58)


def test_each_reject_builder_takes_the_other_kind_of_error_as_other() -> None:
    msg = from_venue("S", QUOTE)
    session_error = CodecError("bad", 132, "session", SessionRejectReason.VALUE_IS_INCORRECT)
    business_error = CodecError("odd", None, "business", BusinessRejectReason.UNKNOWN_ID)
    assert over_the_wire(business_reject(msg, session_error)).getField(380) == "0"
    assert fields_of(over_the_wire(session_reject(msg, business_error)), 371, 373) == {371: None, 373: "99"}


# --- drop copy: allocations ----------------------------------------------------------------------------------


def test_allocation_instruction_splits_a_block_and_adds_up() -> None:
    allocations = [("A1", number("100")), ("A2", number("0.5")), ("B1", number("49.5"))]
    msg = over_the_wire(allocation_instruction("block-1", "IBM", Side.BUY, number("150.2512"), allocations, T0))
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
    msg = allocation_instruction(
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
        allocation_instruction("b", "IBM", Side.BUY, number(avg_price), split, T0)
    assert caught.value.tag == tag


# --- purity ----------------------------------------------------------------------------------------------------


def test_the_same_input_gives_the_same_message() -> None:
    first, second = (new_order_single(ChildOrder.of(limit_order()), T0) for _ in range(2))
    assert first == second
    assert decode(from_venue("S", QUOTE), VENUE, T0) == decode(from_venue("S", QUOTE), VENUE, T0)
