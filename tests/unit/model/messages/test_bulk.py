from __future__ import annotations

from typing import Any

import msgspec
import pytest

from model.enums import OrderType, Side, TimeInForce
from model.messages import Batch, bulk, decode_batch, encode_batch
from model.messages.base import Reply
from model.messages.bulk import LoadOrders, OrderColumns, OrdersLoaded
from tests.unit.model.messages.support import tags_of, union_lists_the_module_in_tag_order


def columns(count: int = 2) -> OrderColumns:
    """``count`` orders, the first a limit buy by quantity, the rest notional market sells."""

    def first_then(first: object, rest: object) -> list[Any]:
        return [first, *[rest] * (count - 1)][:count]

    return OrderColumns(
        [f"A{index}" for index in range(count)],
        [f"c{index}" for index in range(count)],
        ["IBM"] * count,
        first_then(Side.BUY, Side.SELL),
        first_then(OrderType.LIMIT, OrderType.MARKET),
        first_then(TimeInForce.DAY, TimeInForce.OPG),
        first_then(1_000, None),
        first_then(None, 2_500_000_000),
        first_then(150_000_000_000, None),
    )


def test_the_union_a_batch_takes_lists_both_bulk_messages_in_tag_order() -> None:
    assert union_lists_the_module_in_tag_order(bulk.BulkMessage, bulk)
    assert tags_of(bulk) == {LoadOrders: 7, OrdersLoaded: 26}


def test_order_columns_give_each_row_as_one_tuple_in_column_order_and_count_the_rows() -> None:
    orders = columns(3)
    assert len(orders) == 3 and len(columns(0)) == 0
    assert list(orders.rows()) == [
        ("A0", "c0", "IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, 1_000, None, 150_000_000_000),
        ("A1", "c1", "IBM", Side.SELL, OrderType.MARKET, TimeInForce.OPG, None, 2_500_000_000, None),
        ("A2", "c2", "IBM", Side.SELL, OrderType.MARKET, TimeInForce.OPG, None, 2_500_000_000, None),
    ]
    assert list(columns(0).rows()) == []


def test_order_columns_of_uneven_lengths_fail_loudly_instead_of_dropping_rows() -> None:
    uneven = msgspec.structs.replace(columns(2), price=[None])
    with pytest.raises(ValueError, match="zip"):
        list(uneven.rows())


def test_a_chunk_and_its_answer_survive_a_batch_exactly_with_their_tags_first_on_the_wire() -> None:
    reply = Reply("gateway-0", 4, b"17")
    chunk = LoadOrders(3, 1, columns(2), reply)
    answer = OrdersLoaded(reply, 3, 1, 2, 1, 0, {"duplicate_client_order_id": 1})
    batch = Batch("gateway-0", 9, 123, [chunk, answer])
    decoded = decode_batch(encode_batch(batch))
    assert decoded == batch
    assert [type(message) for message in decoded.messages] == [LoadOrders, OrdersLoaded]
    assert isinstance(decoded.messages[0], LoadOrders) and decoded.messages[0].orders.sides == [Side.BUY, Side.SELL]
    wire = msgspec.msgpack.decode(encode_batch(batch))[3]
    assert wire[0][:3] == [7, 3, 1] and wire[0][4] == ["gateway-0", 4, b"17"]
    assert wire[0][3][3:6] == [["buy", "sell"], ["limit", "market"], ["day", "opg"]]
    assert wire[1] == [26, ["gateway-0", 4, b"17"], 3, 1, 2, 1, 0, {"duplicate_client_order_id": 1}]
