"""The market maker's commands and events: plain frozen values that encode and decode
unchanged (the core's state hash and its resent reports rely on it)."""

from __future__ import annotations

import typing

import msgspec
import pytest

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
    Quote,
    QuoteSent,
    RejectReason,
    ReplaceOrder,
    StatusRequest,
    Subscription,
)
from model import fixed
from model.enums import OrderStatus, OrderType, Side, TimeInForce

D = fixed.parse
QUOTE = Quote("IBM", "Q-1", D("149.99"), D("150.01"), D("300"), D("200.5"))
EXAMPLES: list[object] = [
    NewOrder("S", "c-1", "IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, D("10"), None, D("150.25"),
             problem=Problem(RejectReason.BAD_PRICE, "off the tick")),  # fmt: skip
    CancelOrder("S", "x-1", "c-1", None),
    ReplaceOrder("S", "x-1", "c-1", "MM-1", "IBM", Side.SELL, OrderType.LIMIT, D("12"), None),
    StatusRequest("S", "c-1", None, "s-1", "IBM", Side.BUY),
    MarketDataRequest("S", "md-1", Subscription.SNAPSHOT, ["IBM", "AAPL"]),
    ExecutionReport("S", "MM-1", "MM-1-1", ExecKind.NEW, OrderStatus.NEW, "c-1", None, "IBM", Side.BUY, OrderType.MARKET,
                    TimeInForce.IOC, None, D("100"), None, 0, None, 0, 0, 0, 1, poss_dup=True),  # fmt: skip
    CancelRejected("S", "x-1", "c-1", "NONE", OrderStatus.REJECTED, CancelRequestKind.CANCEL, CancelRejectReason.UNKNOWN_ORDER, "?", 1),
    QuoteSent("S", QUOTE),
    MarketDataSent("S", "md-1", QUOTE),
    MarketDataRejected("S", "md-2", MarketDataRejectReason.UNKNOWN_SYMBOL, "unknown symbol NOPE"),
]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda example: type(example).__name__)
def test_each_command_and_event_round_trips_through_msgpack_unchanged(example: object) -> None:
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(example), type=type(example)) == example


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda example: type(example).__name__)
def test_each_command_and_event_is_frozen(example: object) -> None:
    with pytest.raises(AttributeError):
        example.session = "other"  # type: ignore[attr-defined]


def test_every_command_and_event_is_addressed_to_one_session() -> None:
    for kind in (*typing.get_args(Command), *typing.get_args(Event)):
        assert kind.__struct_fields__[0] == "session", kind


def test_the_unions_hold_the_documented_commands_and_events() -> None:
    assert set(typing.get_args(Command)) == {NewOrder, CancelOrder, ReplaceOrder, StatusRequest, MarketDataRequest}
    assert set(typing.get_args(Event)) == {ExecutionReport, CancelRejected, QuoteSent, MarketDataSent, MarketDataRejected}


def test_a_report_is_no_resend_and_carries_no_text_or_reason_unless_given() -> None:
    plain = ExecutionReport("S", "MM-1", "MM-1-1", ExecKind.NEW, OrderStatus.NEW, "c-1", None, "IBM", Side.BUY, None, None,
                            D("1"), None, None, 0, None, 0, D("1"), 0, 1)  # fmt: skip
    assert (plain.text, plain.reject_reason, plain.status_request_id, plain.poss_dup) == (None, None, None, False)
    order = NewOrder("S", "c-1", "IBM", Side.BUY, OrderType.MARKET, None, D("1"), None, None)
    assert (order.poss_dup, order.problem) == (False, None)
