"""What brokerd sends over FIX 4.4: orders, cancels, replaces and status requests to a venue,
fill copies and allocations to clearing, and its refusals of what it receives.

Pure: each builder returns the message as its string (``adapters/fix/writer.py``), the same
input always giving the same string; no quickfix, no clock (``now`` arrives with each call).
The session adds CompIDs, MsgSeqNum and SendingTime when it sends one. A builder refuses what
FIX cannot carry with ``CodecError`` (business) before anything is made.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import msgspec

from adapters.fix.tags import (
    ALLOC_NO_ORDERS_NOT_SPECIFIED,
    ALLOC_TRANS_TYPE_NEW,
    ALLOC_TYPE_CALCULATED,
    HANDL_INST_AUTOMATED,
    ORD_STATUS,
    ORD_TYPE,
    ORDER_MESSAGES,
    SIDE,
    TIME_IN_FORCE,
    BusinessRejectReason,
    ExecTypeCode,
    MsgType,
    SessionRejectReason,
    Tag,
)
from adapters.fix.values import CodecError, business_error, fix_timestamp, label, to_fix_decimal, utc_date
from adapters.fix.writer import MessageWriter
from model.enums import ExecType, OrderType, Side, TimeInForce
from model.messages import ExecutionReport, VenueNewOrder
from model.orders import OrderSpec


class ChildOrder(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """A child order as the venue holds it: what orders, cancel and replace requests carry.

    ``child_id`` is brokerd's id for it (the first ClOrdID); ``spec`` its terms, the very
    ``OrderSpec`` its ``VenueNewOrder`` carried (an accepted replace makes a new one);
    ``cl_ord_id`` is the ClOrdID the venue knows it by now when an accepted replace has
    changed it (``None``: still ``child_id``). The FIX adapter keeps one per working child.
    """

    child_id: str
    spec: OrderSpec
    cl_ord_id: str | None = None

    @classmethod
    def of(cls, order: VenueNewOrder) -> ChildOrder:
        """The child a ``VenueNewOrder`` asks for. ``qty_cap`` has no FIX field and is not kept."""
        return cls(order.child_id, order.spec)

    @property
    def venue_cl_ord_id(self) -> str:
        """The ClOrdID a cancel or replace request names as OrigClOrdID."""
        return self.cl_ord_id or self.child_id

    def replaced(self, cl_ord_id: str, qty: int, price: int | None) -> ChildOrder:
        """The child after the venue accepted a replace that gave it ``cl_ord_id``."""
        return ChildOrder(self.child_id, msgspec.structs.replace(self.spec, qty=qty, price=price), cl_ord_id)


def _amount(tag: Tag, value: int, *, zero_ok: bool = False) -> str:
    if value < 0 or (value == 0 and not zero_ok):
        raise business_error(f"{label(tag)} must be {'>= 0' if zero_ok else '> 0'}, got {to_fix_decimal(value)}", tag)
    return to_fix_decimal(value)


def _set_amount(msg: MessageWriter, tag: Tag, value: int, *, zero_ok: bool = False) -> None:
    msg.set(tag, _amount(tag, value, zero_ok=zero_ok))


def _set_order_qty(msg: MessageWriter, qty: int | None, notional: int | None) -> None:
    """OrderQty (38) for a quantity, CashOrderQty (152) for a cash amount: exactly one."""
    if (qty is None) == (notional is None):
        raise business_error("exactly one of qty and notional is needed", Tag.OrderQty)
    if qty is not None:
        _set_amount(msg, Tag.OrderQty, qty)
    else:
        assert notional is not None
        _set_amount(msg, Tag.CashOrderQty, notional)


def _set_order_type(msg: MessageWriter, order_type: OrderType, tif: TimeInForce, price: int | None) -> None:
    """OrdType, TimeInForce and, for limit orders, Price. Stop orders never reach a venue:
    brokerd holds them and sends them as market or limit once triggered."""
    if order_type.has_stop:
        raise business_error(f"{order_type.value} orders are triggered by brokerd and sent as market or limit", Tag.OrdType)
    msg.set(Tag.OrdType, ORD_TYPE[order_type])
    msg.set(Tag.TimeInForce, TIME_IN_FORCE[tif])
    if order_type.has_price:
        if price is None:
            raise business_error(f"a {order_type.value} order needs a price", Tag.Price)
        _set_amount(msg, Tag.Price, price)


# --- broker → market maker ---------------------------------------------------------------------


def new_order_single(child: ChildOrder, now: int) -> str:
    """NewOrderSingle (D) for a child order; ClOrdID is ``child_id``. Raises CodecError
    (business) for an order FIX cannot carry."""
    msg = MessageWriter(MsgType.NEW_ORDER_SINGLE)
    spec = child.spec
    msg.set(Tag.ClOrdID, child.child_id)
    msg.set(Tag.HandlInst, HANDL_INST_AUTOMATED)
    msg.set(Tag.Symbol, spec.symbol)
    msg.set(Tag.Side, SIDE[spec.side])
    msg.set(Tag.TransactTime, fix_timestamp(now))
    _set_order_qty(msg, spec.qty, spec.notional)
    _set_order_type(msg, spec.order_type, spec.tif, spec.price)
    return msg.render()


def cancel_request(child: ChildOrder, cancel_id: str, now: int) -> str:
    """OrderCancelRequest (F): ClOrdID ``cancel_id``, OrigClOrdID the child's current ClOrdID."""
    msg = MessageWriter(MsgType.ORDER_CANCEL_REQUEST)
    msg.set(Tag.ClOrdID, cancel_id)
    msg.set(Tag.OrigClOrdID, child.venue_cl_ord_id)
    msg.set(Tag.Symbol, child.spec.symbol)
    msg.set(Tag.Side, SIDE[child.spec.side])
    msg.set(Tag.TransactTime, fix_timestamp(now))
    _set_order_qty(msg, child.spec.qty, child.spec.notional)
    return msg.render()


def replace_request(child: ChildOrder, replace_id: str, qty: int, price: int | None, now: int) -> str:
    """OrderCancelReplaceRequest (G) to total quantity ``qty`` and ``price``: ClOrdID
    ``replace_id``, OrigClOrdID the child's current ClOrdID. Only quantity orders can be
    replaced (as in the sim venue); a notional child raises CodecError."""
    spec = child.spec
    if spec.notional is not None:
        raise business_error("a notional order cannot be replaced", Tag.CashOrderQty)
    msg = MessageWriter(MsgType.ORDER_CANCEL_REPLACE_REQUEST)
    msg.set(Tag.ClOrdID, replace_id)
    msg.set(Tag.OrigClOrdID, child.venue_cl_ord_id)
    msg.set(Tag.HandlInst, HANDL_INST_AUTOMATED)
    msg.set(Tag.Symbol, spec.symbol)
    msg.set(Tag.Side, SIDE[spec.side])
    msg.set(Tag.TransactTime, fix_timestamp(now))
    _set_order_qty(msg, qty, None)
    _set_order_type(msg, spec.order_type, spec.tif, price)
    return msg.render()


def order_status_request(child: ChildOrder, now: int) -> str:
    """OrderStatusRequest (H) for a child by its current ClOrdID (reconciliation after a
    restart). The venue answers with an ExecutionReport, ExecType I."""
    msg = MessageWriter(MsgType.ORDER_STATUS_REQUEST)
    msg.set(Tag.ClOrdID, child.venue_cl_ord_id)
    msg.set(Tag.Symbol, child.spec.symbol)
    msg.set(Tag.Side, SIDE[child.spec.side])
    return msg.render()


def order_reference(msg: Any) -> tuple[str, str] | None:
    """``(MsgType, ClOrdID)`` of a message brokerd sends about one order (NewOrderSingle,
    OrderCancelRequest, OrderCancelReplaceRequest, OrderStatusRequest), parsed back as a
    ``quickfix.Message``; ``None`` for any other message. What the session records with the
    MsgSeqNum each one got, so that a Reject naming only that number finds the order."""
    header = msg.getHeader()
    if not header.isSetField(Tag.MsgType) or not msg.isSetField(Tag.ClOrdID):
        return None
    msg_type = str(header.getField(Tag.MsgType))
    return (msg_type, str(msg.getField(Tag.ClOrdID))) if msg_type in ORDER_MESSAGES else None


# --- broker → clearing ----------------------------------------------------------------------------


def execution_copy(report: ExecutionReport) -> str:
    """ExecutionReport (8, ExecType F) copying one client fill to clearing. TransactTime is the
    fill's ``ts``. A notional order with no share quantity left to report sends LeavesQty 0.
    Raises CodecError (business) for a report that is not a fill."""
    if report.exec_type is not ExecType.TRADE or report.last_qty <= 0 or report.last_price is None:
        raise business_error(f"only fills are copied, not {report.exec_type.value} {report.exec_id}", Tag.ExecType)
    msg = MessageWriter(MsgType.EXECUTION_REPORT)
    msg.set(Tag.Account, report.account)
    msg.set(Tag.ClOrdID, report.client_order_id)
    msg.set(Tag.OrderID, report.order_id)
    msg.set(Tag.ExecID, report.exec_id)
    msg.set(Tag.ExecType, ExecTypeCode.TRADE)
    msg.set(Tag.OrdStatus, ORD_STATUS[report.status])
    spec = report.spec
    msg.set(Tag.Symbol, spec.symbol)
    msg.set(Tag.Side, SIDE[spec.side])
    msg.set(Tag.OrdType, ORD_TYPE[spec.order_type])
    _set_order_qty(msg, spec.qty, spec.notional)
    _set_amount(msg, Tag.LastQty, report.last_qty)
    _set_amount(msg, Tag.LastPx, report.last_price)
    _set_amount(msg, Tag.CumQty, report.cum_qty)
    _set_amount(msg, Tag.AvgPx, report.avg_price if report.avg_price is not None else report.last_price)
    _set_amount(msg, Tag.LeavesQty, report.leaves_qty or 0, zero_ok=True)
    msg.set(Tag.TransactTime, fix_timestamp(report.ts))
    return msg.render()


def allocation_instruction(
    alloc_id: str,
    symbol: str,
    side: Side,
    avg_price: int,
    allocations: list[tuple[str, int]],
    now: int,
    *,
    trade_date: date | None = None,
) -> str:
    """AllocationInstruction (J, new, calculated) splitting a block across accounts: Quantity
    (53) is the sum of the allocations, so the message always adds up. TradeDate is ``now``'s
    UTC date unless ``trade_date`` gives the market's own. Raises CodecError (business) for an
    empty split, a blank account or a quantity that is not positive."""
    if not allocations:
        raise business_error("an allocation needs at least one account", Tag.NoAllocs)
    msg = MessageWriter(MsgType.ALLOCATION_INSTRUCTION)
    msg.set(Tag.AllocID, alloc_id)
    msg.set(Tag.AllocTransType, ALLOC_TRANS_TYPE_NEW)
    msg.set(Tag.AllocType, ALLOC_TYPE_CALCULATED)
    msg.set(Tag.AllocNoOrdersType, ALLOC_NO_ORDERS_NOT_SPECIFIED)
    msg.set(Tag.Side, SIDE[side])
    msg.set(Tag.Symbol, symbol)
    _set_amount(msg, Tag.AvgPx, avg_price)
    msg.set(Tag.TradeDate, f"{trade_date:%Y%m%d}" if trade_date is not None else utc_date(now))
    total = 0
    for account, qty in allocations:
        if not account:
            raise business_error("an allocation account is blank", Tag.AllocAccount)
        msg.add_group(Tag.NoAllocs, Tag.AllocAccount, {Tag.AllocAccount: account, Tag.AllocQty: _amount(Tag.AllocQty, qty)})
        total += qty
    _set_amount(msg, Tag.Quantity, total)
    return msg.render()


# --- refusals of what was received --------------------------------------------------------------------


def _referring_to(msg_type: MsgType, ref_msg: Any) -> MessageWriter:
    """A refusal naming ``ref_msg`` (a received ``quickfix.Message``) by its MsgSeqNum and MsgType."""
    msg = MessageWriter(msg_type)
    header = ref_msg.getHeader()
    msg.set(Tag.RefSeqNum, str(header.getField(Tag.MsgSeqNum)) if header.isSetField(Tag.MsgSeqNum) else "0")
    if header.isSetField(Tag.MsgType):
        msg.set(Tag.RefMsgType, str(header.getField(Tag.MsgType)))
    return msg


def session_reject(ref_msg: Any, error: CodecError) -> str:
    """Reject (3) of ``ref_msg``: RefSeqNum, RefMsgType, RefTagID = ``error.tag``,
    SessionRejectReason = ``error.code`` (Other for a business error), Text = the reason."""
    msg = _referring_to(MsgType.REJECT, ref_msg)
    if error.tag is not None:
        msg.set(Tag.RefTagID, str(error.tag))
    code = error.code if error.reject_kind == "session" else SessionRejectReason.OTHER
    msg.set(Tag.SessionRejectReason, str(int(code)))
    msg.set(Tag.Text, error.reason)
    return msg.render()


_REFERENCE_ID_TAGS = (Tag.ClOrdID, Tag.QuoteID, Tag.AllocID, Tag.ExecID)


def business_reject(ref_msg: Any, error: CodecError) -> str:
    """BusinessMessageReject (j) of ``ref_msg``: RefSeqNum, RefMsgType, BusinessRejectRefID =
    its ClOrdID (or QuoteID, AllocID, ExecID), BusinessRejectReason = ``error.code`` (Other
    for a session error), Text = the reason."""
    msg = _referring_to(MsgType.BUSINESS_MESSAGE_REJECT, ref_msg)
    for tag in _REFERENCE_ID_TAGS:
        if ref_msg.isSetField(tag):
            msg.set(Tag.BusinessRejectRefID, str(ref_msg.getField(tag)))
            break
    code = error.code if error.reject_kind == "business" else BusinessRejectReason.OTHER
    msg.set(Tag.BusinessRejectReason, str(int(code)))
    msg.set(Tag.Text, error.reason)
    return msg.render()


def reject(ref_msg: Any, error: CodecError) -> str:
    """The reject ``error`` asks for: ``session_reject`` or ``business_reject``."""
    return session_reject(ref_msg, error) if error.reject_kind == "session" else business_reject(ref_msg, error)
