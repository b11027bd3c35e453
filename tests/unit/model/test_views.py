"""JSON views (``model/views.py``): the gateway's frames and the operator's views, byte for byte."""

from __future__ import annotations

import msgspec

from model import fixed
from model.enums import ExecType, OrderStatus, OrderType, Side, TimeInForce
from model.messages import AccountReply, ExecutionReport, OrdersReply, Position, Reply
from model.orders import OrderSpec
from model.views import account_view, execution_body, orders_view
from server.gateway import protocol


def D(text: str) -> int:
    return fixed.parse(text)


REPORT = ExecutionReport(
    "A1", "account-0-1", "c-1", "account-0-1-2", ExecType.TRADE, OrderStatus.FILLED,
    OrderSpec("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, D("0.3"), None, D("150.25"), None),
    D("0.3"), D("0"), D("0.3"), D("150.25"), D("150.25"), None, 17, venue="SIM",
)
ACCOUNT = AccountReply(Reply("gateway-0", 1, b'"q"'), "A1", D("99954.925"), D("99954.92"), [Position("IBM", D("0.3"), D("150.25"))])


def test_an_execution_report_is_the_documented_frame() -> None:
    assert execution_body(REPORT) == (
        b'{"type":"execution","account":"A1","order_id":"account-0-1","client_order_id":"c-1","exec_id":"account-0-1-2",'
        b'"exec_type":"trade","status":"filled","symbol":"IBM","side":"buy","order_type":"limit","tif":"day","qty":"0.3",'
        b'"notional":null,"price":"150.25","stop_price":null,"cum_qty":"0.3","leaves_qty":"0","last_qty":"0.3",'
        b'"last_price":"150.25","avg_price":"150.25","reason":null,"venue":"SIM","ts":17}'
    )
    assert protocol.execution_body is execution_body  # the gateway's hot path calls it directly


def test_the_account_reply_frame_is_the_view_with_type_and_id() -> None:
    """The bytes the gateway sent before the views moved to model/ (cash shown exactly)."""
    assert protocol.account_reply(ACCOUNT) == (
        b'{"id":"q","type":"account","account":"A1","cash":"99954.925","buying_power":"99954.92",'
        b'"positions":[{"symbol":"IBM","qty":"0.3","avg_cost":"150.25","mark":null,"unrealized":null}],"realized_today":"0.00","realized_ytd":"0.00"}'
    )
    view = account_view(ACCOUNT)
    assert msgspec.json.decode(protocol.account_reply(ACCOUNT)) == {"id": "q", "type": "account", **view}
    assert list(view) == ["account", "cash", "buying_power", "positions", "realized_today", "realized_ytd"]


def test_the_orders_view_is_each_report_as_a_trader_gets_it() -> None:
    reply = OrdersReply(Reply("gateway-0", 1, b"3"), "A1", [REPORT, REPORT])
    frame = msgspec.json.decode(protocol.orders_reply(reply))
    assert orders_view(reply) == frame["orders"] == [msgspec.json.decode(execution_body(REPORT))] * 2
    assert orders_view(OrdersReply(Reply("gateway-0", 1), "A1", [])) == []
