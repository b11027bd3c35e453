"""What the FIX market maker says about an order (``adapters/fix/simulator/reports.py``)."""

from __future__ import annotations

from adapters.fix.simulator.messages import CancelOrder, ReplaceOrder, ReportDetails, Terms
from adapters.fix.simulator.orders import NO_ORDER_ID, Order
from adapters.fix.simulator.reports import cancel_rejected, execution_report
from adapters.fix.tags import CxlRejReason, CxlRejResponseTo, ExecTypeCode
from model import fixed
from model.enums import OrderStatus, OrderType, Side, TimeInForce

P = fixed.parse
T0 = 1_700_000_000 * 1_000_000_000


def filled_twice() -> Order:
    terms = Terms("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, P("3"), None, P("150.10"))
    order = Order("T-O1", "S", "c2", "c1", terms, None, OrderStatus.PARTIALLY_FILLED, 1)
    order.cum_qty = P("2")
    order.value_raw = fixed.raw_value(P("1"), P("150")) + fixed.raw_value(P("1"), P("150.03"))
    return order


def test_an_execution_report_carries_the_order_as_it_stands() -> None:
    fill = ReportDetails(last_qty=P("1"), last_price=P("150.03"))
    report = execution_report(filled_twice(), ExecTypeCode.TRADE, T0, "T-E9", P("1"), fill)
    assert (report.session, report.order_id, report.exec_id, report.status) == ("S", "T-O1", "T-E9", OrderStatus.PARTIALLY_FILLED)
    assert (report.cl_ord_id, report.orig_cl_ord_id) == ("c2", None)  # OrigClOrdID only on a cancel or a replace
    assert (report.cum_qty, report.leaves_qty, report.details.last_qty, report.details.last_price) == (P("2"), P("1"), P("1"), P("150.03"))
    assert report.avg_price == P("150.015") and report.transact_time == T0


def test_a_cancel_or_replace_report_names_the_previous_cl_ord_id() -> None:
    for kind in (ExecTypeCode.CANCELED, ExecTypeCode.REPLACED):
        assert execution_report(filled_twice(), kind, T0, "T-E9", 0).orig_cl_ord_id == "c1"


def test_the_average_price_is_truncated_and_zero_before_a_fill() -> None:
    order = filled_twice()
    order.cum_qty, order.value_raw = P("3"), fixed.raw_value(P("1"), P("1")) + fixed.raw_value(P("2"), P("2"))
    assert execution_report(order, ExecTypeCode.TRADE, T0, "E", 0).avg_price == P("1.666666666")
    order.cum_qty, order.value_raw = 0, 0
    assert execution_report(order, ExecTypeCode.NEW, T0, "E", P("3")).avg_price == 0


def test_a_cancel_reject_of_an_unknown_order_has_no_order_id() -> None:
    unknown = cancel_rejected(CancelOrder("S", "x", "zz", None), None, CxlRejResponseTo.CANCEL, CxlRejReason.UNKNOWN_ORDER, "unknown order", T0)
    assert (unknown.order_id, unknown.status, unknown.orig_cl_ord_id) == (NO_ORDER_ID, OrderStatus.REJECTED, "zz")
    request = ReplaceOrder("S", "c3", "c2", None, Terms("IBM", Side.BUY, qty=P("4")))
    known = cancel_rejected(request, filled_twice(), CxlRejResponseTo.REPLACE, CxlRejReason.OTHER, "no", T0)
    assert (known.order_id, known.status, known.response_to) == ("T-O1", OrderStatus.PARTIALLY_FILLED, CxlRejResponseTo.REPLACE)
