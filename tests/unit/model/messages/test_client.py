from __future__ import annotations

import msgspec

from model.enums import ExecType, OrderStatus, OrderType, Side, TimeInForce
from model.messages import client
from model.orders import OrderSpec
from tests.unit.model.messages.support import union_lists_the_module_in_tag_order


def test_the_union_a_batch_takes_lists_every_message_between_gateway_and_shards_in_tag_order() -> None:
    assert union_lists_the_module_in_tag_order(client.ClientMessage, client)


def test_an_order_and_its_report_carry_the_same_terms_as_one_nested_array() -> None:
    spec = OrderSpec("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, qty=1, price=150)
    order = client.NewOrder("A1", "c1", spec)
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(order)) == [1, "A1", "c1", ["IBM", "buy", "limit", "day", 1, None, 150, None], None]
    report = client.ExecutionReport("A1", "o1", "c1", "o1-1", ExecType.NEW, OrderStatus.NEW, spec, 0, 1, 0, None, None, None, 0)
    assert msgspec.msgpack.Decoder(client.ExecutionReport).decode(msgspec.msgpack.encode(report)).spec == order.spec
