"""The shard's records: exact values kept in two 64-bit halves so they encode, what an order
still wants, an account's free cash and shares, and no garbage-collector tracking."""

from __future__ import annotations

import gc

import msgspec
import pytest

from actors.account.records import AccountRecord, OrderRecord, PendingReplace, PositionRecord
from model import fixed
from model.enums import OrderStatus, OrderType, Side, TimeInForce
from model.orders import OrderSpec
from tests.unit.actors.account.support import NOW, REPLY, D

SPEC = OrderSpec("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, D("10"), None, D("150.25"), None)
NOTIONAL = OrderSpec("IBM", Side.BUY, OrderType.MARKET, TimeInForce.DAY, None, D("100.00"), None, None)


def record(spec: OrderSpec = SPEC, status: OrderStatus = OrderStatus.NEW) -> OrderRecord:
    return OrderRecord("account-0-1", "A1", "c1", spec, status, NOW, b"\x01")


def test_the_exact_traded_value_is_kept_whole_beyond_64_bits_and_survives_encoding() -> None:
    order = record()
    value = 10**6 * fixed.SCALE * D("150.123456789")  # 10^6 shares at a nine-place price: about 1.5 × 10^26
    assert value > 2**64
    order.cum_value = value
    assert order.cum_value == value and 0 <= order.value_subnanos < fixed.SCALE
    decoded = msgspec.msgpack.decode(msgspec.msgpack.encode(order), type=OrderRecord)
    assert decoded.cum_value == value and decoded == order


def test_a_position_s_cost_basis_is_kept_the_same_way() -> None:
    position = PositionRecord(qty=D("3"))
    position.cost = 3 * D("150.25") * fixed.SCALE
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(position), type=PositionRecord).cost == 3 * D("150.25") * fixed.SCALE


def test_leaves_are_what_an_open_order_still_wants_none_for_a_notional_and_zero_once_closed() -> None:
    order = record(status=OrderStatus.PARTIALLY_FILLED)
    order.cum_qty = D("4")
    assert order.leaves_qty == D("6")
    assert record(NOTIONAL).leaves_qty is None
    for status in (OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REPLACED, OrderStatus.REJECTED, OrderStatus.EXPIRED):
        assert record(status=status).leaves_qty == 0


def test_buying_power_is_cash_less_reservations_and_free_shares_are_the_position_less_those_held() -> None:
    account = AccountRecord("A1", "trader1", D("1000"), reserved_cash=D("250.50"))
    account.positions["IBM"] = PositionRecord(qty=D("5"))
    account.reserved_qty["IBM"] = D("2")
    assert account.buying_power == D("749.50")
    assert (account.position_qty("IBM"), account.available_qty("IBM")) == (D("5"), D("3"))
    assert (account.position_qty("AAPL"), account.available_qty("AAPL")) == (0, 0)
    account.reserved_qty["AAPL"] = D("1")  # a short sale holds shares it does not have
    assert account.available_qty("AAPL") == -D("1")


@pytest.mark.parametrize(
    "example", [record(), PositionRecord(qty=1), PendingReplace("account-0-2", "c2", SPEC, REPLY, 0, 0)], ids=lambda example: type(example).__name__
)
def test_order_and_position_records_are_never_tracked_by_the_garbage_collector(example: object) -> None:
    assert not gc.is_tracked(example)


def test_an_account_with_its_books_round_trips_through_msgpack() -> None:
    account = AccountRecord("A1", "trader1", D("1000"), allow_short=True, group="desk")
    account.positions["IBM"] = PositionRecord(qty=D("5"), cost_nanos=7, cost_subnanos=9)
    account.orders["c1"] = "account-0-1"
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(account), type=AccountRecord) == account
