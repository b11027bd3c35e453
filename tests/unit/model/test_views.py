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


def test_every_optional_field_of_a_report_given_and_not_given() -> None:
    notional = ExecutionReport(
        "A2", "account-1-7", 'n"1', "account-1-7-1", ExecType.NEW, OrderStatus.NEW,
        OrderSpec("VTI", Side.BUY, OrderType.MARKET, TimeInForce.IOC, None, D("100.5"), None, None), 0, None, 0, None, None, None, 5,
    )
    assert execution_body(notional) == (
        b'{"type":"execution","account":"A2","order_id":"account-1-7","client_order_id":"n\\"1","exec_id":"account-1-7-1",'
        b'"exec_type":"new","status":"new","symbol":"VTI","side":"buy","order_type":"market","tif":"ioc","qty":null,'
        b'"notional":"100.50","price":null,"stop_price":null,"cum_qty":"0","leaves_qty":null,"last_qty":"0","last_price":null,'
        b'"avg_price":null,"reason":null,"venue":null,"ts":5}'
    )
    stop = ExecutionReport(
        "A1", "account-0-9", "s-1", "account-0-9-3", ExecType.CANCELED, OrderStatus.CANCELED,
        OrderSpec("IBM", Side.SELL, OrderType.STOP_LIMIT, TimeInForce.GTC, D("2"), None, D("149.5"), D("150")),
        D("1"), D("0"), D("1"), D("150"), D("150"), "user", 9, venue="SIM", block="blk-1",
    )
    assert execution_body(stop) == (
        b'{"type":"execution","account":"A1","order_id":"account-0-9","client_order_id":"s-1","exec_id":"account-0-9-3",'
        b'"exec_type":"canceled","status":"canceled","symbol":"IBM","side":"sell","order_type":"stop_limit","tif":"gtc","qty":"2",'
        b'"notional":null,"price":"149.5","stop_price":"150","cum_qty":"1","leaves_qty":"0","last_qty":"1","last_price":"150",'
        b'"avg_price":"150","reason":"user","venue":"SIM","ts":9,"block":"blk-1"}'
    )


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
