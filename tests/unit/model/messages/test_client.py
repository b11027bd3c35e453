from __future__ import annotations

import msgspec

from model.enums import ExecType, OrderStatus, OrderType, Side, TimeInForce
from model.messages import client
from model.messages.client import (
    AccountReply,
    CancelAll,
    CancelAllDone,
    CancelOrder,
    ExecutionReport,
    NewOrder,
    OrdersReply,
    QueryAccount,
    QueryOrders,
    ReplaceOrder,
    ReportToAsker,
    RequestRejected,
)
from model.orders import OrderSpec
from tests.unit.model.messages.support import tags_of

TAGS = {
    NewOrder: 1,
    CancelOrder: 2,
    ReplaceOrder: 3,
    CancelAll: 4,
    QueryOrders: 5,
    QueryAccount: 6,
    ExecutionReport: 20,
    OrdersReply: 21,
    AccountReply: 22,
    RequestRejected: 23,
    CancelAllDone: 24,
    ReportToAsker: 25,
}


def test_every_message_between_gateway_and_shards_keeps_its_tag() -> None:
    assert tags_of(client) == TAGS


def test_an_order_and_its_report_carry_the_same_terms_as_one_nested_array() -> None:
    spec = OrderSpec("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, qty=1, price=150)
    order = NewOrder("A1", "c1", spec)
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(order)) == [1, "A1", "c1", ["IBM", "buy", "limit", "day", 1, None, 150, None], None]
    report = ExecutionReport("A1", "o1", "c1", "o1-1", ExecType.NEW, OrderStatus.NEW, spec, 0, 1, 0, None, None, None, 0)
    assert msgspec.msgpack.Decoder(ExecutionReport).decode(msgspec.msgpack.encode(report)).spec == order.spec
