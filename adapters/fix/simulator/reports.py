"""What the FIX market maker says about an order: its execution reports and cancel rejects,
built from the order as it stands. Pure; the market maker (``core.py``) numbers the reports
(ExecID) and says how much is left to fill."""

from __future__ import annotations

from adapters.fix.simulator.messages import NO_DETAILS, CancelOrder, CancelRejected, ExecutionReport, ReplaceOrder, ReportDetails
from adapters.fix.simulator.orders import NO_ORDER_ID, Order
from adapters.fix.tags import CxlRejReason, CxlRejResponseTo, ExecTypeCode
from model.enums import OrderStatus

_NAMES_ORIGINAL = frozenset({ExecTypeCode.CANCELED, ExecTypeCode.REPLACED})  # reports that carry OrigClOrdID


def execution_report(
    order: Order, kind: ExecTypeCode, now: int, exec_id: str, leaves_qty: int, details: ReportDetails = NO_DETAILS
) -> ExecutionReport:
    """An ExecutionReport (8) of ``kind`` about ``order`` now: its terms, status and fills so
    far, and ``details``; OrigClOrdID only on a cancel or a replace; AvgPx truncated to 10^-9."""
    return ExecutionReport(
        session=order.session,
        order_id=order.order_id,
        exec_id=exec_id,
        kind=kind,
        status=order.status,
        cl_ord_id=order.cl_ord_id,
        orig_cl_ord_id=order.orig_cl_ord_id if kind in _NAMES_ORIGINAL else None,
        terms=order.terms,
        cum_qty=order.cum_qty,
        leaves_qty=leaves_qty,
        avg_price=order.value_raw // order.cum_qty if order.cum_qty else 0,
        transact_time=now,
        details=details,
    )


def cancel_rejected(
    request: CancelOrder | ReplaceOrder,
    order: Order | None,
    response_to: CxlRejResponseTo,
    reason: CxlRejReason,
    text: str,
    now: int,
) -> CancelRejected:
    """An OrderCancelReject (9) of ``request``; OrderID ``NONE`` and status rejected when
    there is no such order."""
    return CancelRejected(
        session=request.session,
        cl_ord_id=request.cl_ord_id,
        orig_cl_ord_id=request.orig_cl_ord_id,
        order_id=NO_ORDER_ID if order is None else order.order_id,
        status=OrderStatus.REJECTED if order is None else order.status,
        response_to=response_to,
        reason=reason,
        text=text,
        transact_time=now,
    )
