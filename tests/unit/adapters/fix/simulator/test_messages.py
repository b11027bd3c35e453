"""The market maker's commands and events: plain frozen values that encode and decode
unchanged (the core's state hash and its resent reports rely on it)."""

from __future__ import annotations

import typing

import msgspec
import pytest

from adapters.fix import tags
from adapters.fix.simulator import messages
from model import fixed
from model.enums import OrderStatus, OrderType, Side, TimeInForce

D = fixed.parse
QUOTE = messages.Quote("IBM", "Q-1", D("149.99"), D("150.01"), D("300"), D("200.5"))
EXAMPLES: list[object] = [
    messages.NewOrder("S", "c-1", messages.Terms("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, D("10"), None, D("150.25")),
                      problem=messages.Problem(messages.BAD_PRICE, "off the tick")),  # fmt: skip
    messages.CancelOrder("S", "x-1", "c-1", None),
    messages.ReplaceOrder("S", "x-1", "c-1", "MM-1", messages.Terms("IBM", Side.SELL, OrderType.LIMIT, qty=D("12"))),
    messages.StatusRequest("S", "c-1", None, "s-1", "IBM", Side.BUY),
    messages.MarketDataRequest("S", "md-1", tags.SubscriptionRequestType.SNAPSHOT, ["IBM", "AAPL"]),
    messages.ExecutionReport("S", "MM-1", "MM-1-1", tags.ExecTypeCode.NEW, OrderStatus.NEW, "c-1", None,
                             messages.Terms("IBM", Side.BUY, OrderType.MARKET, TimeInForce.IOC, cash=D("100")), 0, 0, 0, 1,
                             poss_dup=True),  # fmt: skip
    messages.CancelRejected("S", "x-1", "c-1", "NONE", OrderStatus.REJECTED, tags.CxlRejResponseTo.CANCEL, tags.CxlRejReason.UNKNOWN_ORDER,
                            "?", 1),  # fmt: skip
    messages.QuoteSent("S", QUOTE),
    messages.MarketDataSent("S", "md-1", QUOTE),
    messages.MarketDataRejected("S", "md-2", tags.MDReqRejReason.UNKNOWN_SYMBOL, "unknown symbol NOPE"),
]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda example: type(example).__name__)
def test_each_command_and_event_round_trips_through_msgpack_unchanged(example: object) -> None:
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(example), type=type(example)) == example


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda example: type(example).__name__)
def test_each_command_and_event_is_frozen(example: object) -> None:
    with pytest.raises(AttributeError):
        example.session = "other"  # type: ignore[attr-defined]


def test_every_command_and_event_is_addressed_to_one_session() -> None:
    for kind in (*typing.get_args(messages.Command), *typing.get_args(messages.Event)):
        assert kind.__struct_fields__[0] == "session", kind


def test_the_unions_hold_the_documented_commands_and_events() -> None:
    commands = {messages.NewOrder, messages.CancelOrder, messages.ReplaceOrder, messages.StatusRequest, messages.MarketDataRequest}
    events = {messages.ExecutionReport, messages.CancelRejected, messages.QuoteSent, messages.MarketDataSent, messages.MarketDataRejected}
    assert (set(typing.get_args(messages.Command)), set(typing.get_args(messages.Event))) == (commands, events)


def test_a_report_is_no_resend_and_carries_no_text_or_reason_unless_given() -> None:
    plain = messages.ExecutionReport("S", "MM-1", "MM-1-1", tags.ExecTypeCode.NEW, OrderStatus.NEW, "c-1", None,
                                     messages.Terms("IBM", Side.BUY, qty=D("1")), 0, D("1"), 0, 1)  # fmt: skip
    details = plain.details
    assert (details.text, details.reject_reason, details.status_request_id, plain.poss_dup) == (None, None, None, False)
    order = messages.NewOrder("S", "c-1", messages.Terms("IBM", Side.BUY, OrderType.MARKET, None, D("1")))
    assert (order.poss_dup, order.problem) == (False, None)
