"""Records and batches written before the re-layout, rebuilt in today's layout field by
field: an order's terms become its ``OrderSpec`` and its request in flight a ``Pending``;
a route's replace in flight its own state; a batch's messages nest their terms."""

from __future__ import annotations

import msgspec
import pytest

from actors.runtime.format2_layouts import (
    OrderRecordBefore,
    PendingReplaceBefore,
    batch_before_relayout,
    order_before_relayout,
    route_before_relayout,
)
from model import fixed
from model.enums import ExecType, OrderStatus, OrderType, Side, TimeInForce
from model.lifecycle import Pending
from model.messages import Batch, NewOrder, Reply, RouteOrder, VenueNewOrder, decode_batch, encode_batch
from model.orders import OrderSpec
from model.routes import RouteState

D = fixed.parse
REPLY = Reply("gateway-0", 1, b"7")


def old_order(status: OrderStatus, cancel_requested: bool, replace: bool) -> OrderRecordBefore:
    pending = PendingReplaceBefore("account-0-2", "c1b", D("12"), D("150.10"), None, REPLY, D("20"), 0) if replace else None
    return OrderRecordBefore(
        "account-0-1", "A1", "c1", "IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, D("10"), None, D("150"), None,
        status, 5, b"fp", None, D("4"), 0, 0, 0, D("900"), 0, ExecType.TRADE, 2, None, 6,
        REPLY if cancel_requested else None, cancel_requested, pending, None, None, "SIM",
    )


@pytest.mark.parametrize(
    ("status", "cancel_requested", "replace", "pending"),
    [
        (OrderStatus.NEW, False, False, Pending.NONE),
        (OrderStatus.PARTIALLY_FILLED, True, False, Pending.CANCEL),
        (OrderStatus.NEW, False, True, Pending.REPLACE),
        (OrderStatus.NEW, True, True, Pending.REPLACE_AND_CANCEL),
        (OrderStatus.CANCELED, True, False, Pending.NONE),  # the old flag stayed set after the end
    ],
)
def test_an_order_written_before_the_relayout_gets_its_spec_and_its_request_in_flight(
    status: OrderStatus, cancel_requested: bool, replace: bool, pending: Pending
) -> None:
    order = order_before_relayout(old_order(status, cancel_requested, replace))
    assert (order.spec.symbol, order.spec.qty, order.spec.price, order.cum_qty, order.venue) == ("IBM", D("10"), D("150"), D("4"), "SIM")
    assert order.pending is pending
    assert (order.cancel_reply is not None) == pending.has_cancel
    if replace:
        assert order.pending_replace is not None
        assert (order.pending_replace.spec.qty, order.pending_replace.spec.price, order.pending_replace.spec.symbol) == (D("12"), D("150.10"), "IBM")
        assert order.pending_replace.held_cash == D("20")


def test_a_routed_route_with_a_replace_in_flight_is_replacing_now() -> None:
    flat = ("o1", "A1", "IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, D("10"), None, D("150"), None, None, "routed", "c-1", "SIM", 0)
    assert route_before_relayout(*flat).state is RouteState.ROUTED
    replacing = route_before_relayout(*flat, "o2", D("12"), D("150.10"))
    assert replacing.state is RouteState.REPLACING and replacing.spec == OrderSpec("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, D("10"), None, D("150"))


def test_a_batch_sent_before_the_relayout_becomes_the_batch_sent_today() -> None:
    spec = OrderSpec("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, D("10"), None, D("150"), None)
    terms = ["IBM", "buy", "limit", "day", D("10"), None, D("150"), None]
    old = msgspec.msgpack.encode(["account-0", 3, 9, [[1, "A1", "c1", *terms, ["gateway-0", 1, b"7"]], [30, "o1", "A1", *terms, None], [40, "k1", *terms[:7], None]]])
    today = Batch("account-0", 3, 9, [NewOrder("A1", "c1", spec, REPLY), RouteOrder("o1", "A1", spec), VenueNewOrder("k1", spec)])
    assert batch_before_relayout(old) == encode_batch(today)
    with pytest.raises(msgspec.ValidationError):
        batch_before_relayout(encode_batch(today))  # today's layout is no pre-re-layout batch
    assert decode_batch(batch_before_relayout(old)) == today
