"""The trade's vocabulary: wire strings, and what an order type or status implies."""

from __future__ import annotations

from enum import StrEnum

import msgspec
import pytest

from model.enums import AssetClass, ExecType, OrderStatus, OrderType, Reason, SessionState, Side, TimeInForce, VenueEventKind


@pytest.mark.parametrize(
    ("order_type", "has_price", "has_stop"),
    [
        (OrderType.MARKET, False, False),
        (OrderType.LIMIT, True, False),
        (OrderType.STOP, False, True),
        (OrderType.STOP_LIMIT, True, True),
    ],
)
def test_an_order_type_says_which_price_fields_it_takes(order_type: OrderType, has_price: bool, has_stop: bool) -> None:
    assert (order_type.has_price, order_type.has_stop) == (has_price, has_stop)


def test_only_pending_new_new_and_partially_filled_are_open() -> None:
    assert {status for status in OrderStatus if status.is_open} == {OrderStatus.PENDING_NEW, OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED}


@pytest.mark.parametrize(
    ("kind", "wire"),
    [
        (Side, ["buy", "sell"]),
        (OrderType, ["market", "limit", "stop", "stop_limit"]),
        (TimeInForce, ["day", "gtc", "ioc", "fok", "opg"]),
        (OrderStatus, ["pending_new", "new", "partially_filled", "filled", "canceled", "replaced", "rejected", "expired"]),
        (ExecType, ["pending_new", "new", "trade", "canceled", "replaced", "rejected", "expired"]),
        (AssetClass, ["equity", "etf", "option", "mutual_fund"]),
        (SessionState, ["pre_open", "open", "closed"]),
    ],
)
def test_the_values_are_the_documented_wire_strings(kind: type[StrEnum], wire: list[str]) -> None:
    assert [member.value for member in kind] == wire


def test_reasons_are_the_wire_strings_of_the_reason_field() -> None:
    assert Reason.UNSUPPORTED.value == "unsupported_order"
    assert Reason.OPEN_PASSED.value == "open_passed"
    assert all(reason.value == reason.name.lower() for reason in Reason if reason is not Reason.UNSUPPORTED)


def test_venue_event_kinds_cover_every_answer_to_a_request() -> None:
    assert {VenueEventKind.CANCEL_REJECTED, VenueEventKind.REPLACE_REJECTED} < set(VenueEventKind)


def test_a_member_encodes_as_its_string_and_decodes_back() -> None:
    encoded = msgspec.json.encode([Side.SELL, OrderType.STOP_LIMIT, Reason.HALTED])
    assert encoded == b'["sell","stop_limit","halted"]'
    assert msgspec.json.decode(encoded, type=tuple[Side, OrderType, Reason]) == (Side.SELL, OrderType.STOP_LIMIT, Reason.HALTED)
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'"hold"', type=Side)
