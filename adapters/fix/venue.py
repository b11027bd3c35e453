"""The FIX venue adapter's state: pure, journaled and snapshotted inside ``VenueState`` like
the simulated venue, with the wire at arm's length.

Outbound, the adapter turns venue commands into FIX messages and queues them as strings in
``outgoing``; the VenueSession actor writes them to the quickfix session after the record
that made them is committed (and not at all while replaying: they went out before).
Inbound, every application message the session receives is journaled by the actor as a
``VenueWireIn`` input — the FIX string exactly as received — and decoded here, so replay
decodes the same bytes the same way.

Guarantees: an execution report is applied once (ExecIDs are remembered, so a PossDup
resend changes nothing) — but an order status answer (ExecType I, whose ExecID FIX 4.4 sets
to 0 on every one) each time it comes, as it only says where the order stands; a report
for an unknown order, one that would overfill an order (past its quantity, or a notional
buy past its notional by the value of its fills) or a fill whose CumQty is less than the
fills before it and its own is refused with a BusinessMessageReject, logged among the
anomalies and never applied; a malformed message gets a Reject or BusinessMessageReject and
changes nothing; a Reject or BusinessMessageReject from the venue is never answered with
another one.

The venue's refusals: each message sent about an order (NewOrderSingle, cancel, replace,
status request) is recorded with the MsgSeqNum the session gave it (``VenueWireSent``, an
input like any other), so a Reject (3) that names only RefSeqNum finds its order, after a
restart too. A Reject or BusinessMessageReject of a NewOrderSingle rejects the child with
the venue's text (which releases the parent's reservation); of a cancel or a replace, it
refuses that request as an OrderCancelReject would; of an OrderStatusRequest, it says the
venue does not answer them: the orders stay working, their execution reports (which FIX's
resend delivers after a reconnect) reconcile them.

At each start (``recovered``), what was made before the restart but never reached the
session — a crash between committing the record and the send — is settled here, without
asking the venue: such a child is rejected (``NOT_SENT``), such a cancel or replace refused.

Cancel on disconnect (a per-venue option: the venue cancels our resting orders when the
session drops): when the session closes, every child still open here is reported canceled
at once, so its parent's reservation is released without waiting for the venue. A fill the
venue sends later for such a child is refused with a BusinessMessageReject and logged among
the anomalies, never applied and never dropped silently. Without the option a disconnect
changes no order: the status requests at the next logon reconcile them.

A trade that ends a child short of what it orders (LeavesQty 0, or OrdStatus canceled or
expired, on an IOC's last part say) is reported as the trade and then the end of the rest,
as the sim venue reports an IOC's partial fill, so the parent ends with it; the venue's own
cancel of the rest, if one follows, is taken quietly.
"""

from __future__ import annotations

from typing import Any

import msgspec

from adapters.base import VenueEvent
from adapters.fix import dictionary, outbound
from adapters.fix.children import (
    CANCEL,
    FINAL,
    REPLACE,
    ClosedChild,
    FixChildren,
    PendingReplace,
    SentMessage,
    request_kind,
    would_overfill,
)
from adapters.fix.inbound import Inbound, Refusal, decode
from adapters.fix.outbound import ChildOrder
from adapters.fix.tags import DONE_ORD_STATUSES, ORDER_MESSAGES, ExecTypeCode, MsgType, OrdStatus, Tag, is_refusal
from adapters.fix.values import CodecError
from model import fixed
from model.config import VenueSection
from model.enums import Reason, SessionState, TimeInForce, VenueEventKind
from model.messages import VenueNewOrder, VenueReplace, VenueReport, VenueSessionChanged, VenueWireSent

_ENDED_AT_VENUE: dict[str, VenueEventKind] = {OrdStatus.CANCELED: VenueEventKind.CANCELED, OrdStatus.EXPIRED: VenueEventKind.EXPIRED}
CANCELED_ON_DISCONNECT = "venue disconnected: cancel on disconnect"
NOT_SENT = "not sent to the venue: brokerd stopped before sending it"
ENDED_BY_FILL = "ended by the venue with its last fill, the rest unfilled"
_REQUEST_REFUSED = (VenueEventKind.CANCEL_REJECTED, VenueEventKind.REPLACE_REJECTED)  # what an OrderCancelReject says


def _seq_num(message: Any) -> int:
    header = message.getHeader()
    return int(header.getField(Tag.MsgSeqNum)) if header.isSetField(Tag.MsgSeqNum) else 0


def _msg_type(message: Any) -> str:
    header = message.getHeader()
    return str(header.getField(Tag.MsgType)) if header.isSetField(Tag.MsgType) else ""


def _exec_id(inbound: Inbound) -> str | None:
    """The ExecID a report is applied once by: ``None`` for an order status answer
    (ExecType I), whose ExecID FIX 4.4 sets to 0 on every one. A status answer only says
    where the order stands, so it is safe to apply each time it comes."""
    return None if inbound.exec_type == ExecTypeCode.ORDER_STATUS else inbound.exec_id


def _answered_request(inbound: Inbound) -> str | None:
    """The ClOrdID of our cancel or replace request an OrderCancelReject (9) refuses, or
    ``None`` for any other report."""
    report = inbound.report
    return inbound.cl_ord_id if report is not None and report.kind in _REQUEST_REFUSED else None


class FixVenue(FixChildren):
    """Child orders at one FIX venue, and what to say to it; implements
    ``adapters.base.VenueAdapter``. What it knows of its children is ``FixChildren``'s."""

    # --- the VenueAdapter interface --------------------------------------------------------

    def start(self, now: int) -> list[VenueEvent]:
        return []  # the session's logon opens it

    def submit(self, order: VenueNewOrder, now: int) -> list[VenueEvent]:
        if self._session is not SessionState.OPEN:
            return [self._report(order.child_id, VenueEventKind.REJECTED, now, Reason.MARKET_CLOSED.value)]
        child = ChildOrder.of(order)
        try:
            message = outbound.new_order_single(child, now)
        except CodecError as error:
            return [self._report(order.child_id, VenueEventKind.REJECTED, now, f"{Reason.UNSUPPORTED.value}: {error.reason}")]
        self.children[order.child_id] = child
        self.filled[order.child_id] = 0
        self.by_cl_ord_id[order.child_id] = order.child_id
        self.request_ids[order.child_id] = []
        self.exec_ids[order.child_id] = []
        self.sent[order.child_id] = []
        self.outgoing.append(message)
        return []

    def cancel(self, child_id: str, now: int) -> list[VenueEvent]:
        child = self.children.get(child_id)
        if child is None:
            return [self._report(child_id, VenueEventKind.CANCEL_REJECTED, now, Reason.TOO_LATE_TO_CANCEL.value)]
        cancel_id = self._next_id(child_id, CANCEL)
        self.outgoing.append(outbound.cancel_request(child, cancel_id, now))
        return []

    def replace(self, request: VenueReplace, now: int) -> list[VenueEvent]:
        child = self.children.get(request.child_id)
        if child is None or request.child_id in self.replacing:
            reason = Reason.TOO_LATE_TO_CANCEL if child is None else Reason.PENDING_REQUEST
            return [self._report(request.child_id, VenueEventKind.REPLACE_REJECTED, now, reason.value)]
        replace_id = self._next_id(request.child_id, REPLACE)
        try:
            message = outbound.replace_request(child, replace_id, request.qty, request.price, now)
        except CodecError as error:
            return [self._report(request.child_id, VenueEventKind.REPLACE_REJECTED, now, error.reason)]
        self.replacing[request.child_id] = PendingReplace(replace_id, request.qty, request.price)
        self.outgoing.append(message)
        return []

    def advance(self, now: int) -> list[VenueEvent]:
        return []

    def next_wakeup(self) -> int | None:
        return None

    def set_session(self, state: SessionState, now: int) -> list[VenueEvent]:
        """Logon opens the venue, logout closes it (routing then avoids it). Each logon asks
        the venue for the status of every child still working here (OrderStatusRequest):
        one it does not know — sent just before a crash, never received — is rejected. With
        cancel on disconnect, closing reports every child here canceled."""
        if state is self._session:
            return []
        self._session = state
        events: list[VenueEvent] = [VenueSessionChanged(self.name, state, now)]
        if state is SessionState.OPEN:
            self.status_refused = False
            for child in self.children.values():
                self.outgoing.append(outbound.order_status_request(child, now))
        elif state is SessionState.CLOSED and self.cancel_on_disconnect:
            for child_id in list(self.children):
                self._close(child_id, CANCELED_ON_DISCONNECT)
                events.append(VenueReport(self.name, child_id, VenueEventKind.CANCELED, 0, None, CANCELED_ON_DISCONNECT, now, done=True))
        return events

    @property
    def session(self) -> SessionState:
        return self._session

    def open_orders(self) -> list[str]:
        return list(self.children)

    def cancel_all(self, symbols: list[str], now: int) -> list[VenueEvent]:
        """One OrderCancelRequest per working child in ``symbols``, in the order they were
        sent: market makers seldom take FIX's OrderMassCancelRequest (q), so none is sent."""
        wanted = set(symbols)
        events: list[VenueEvent] = []
        for child_id in [child.child_id for child in self.children.values() if child.spec.symbol in wanted]:
            events.extend(self.cancel(child_id, now))
        return events

    def configure(self, venue: VenueSection) -> None:
        """``cancel_on_disconnect`` is configuration, not state (not in the hash): the
        venue's setting now counts, whatever a snapshot brought."""
        self.cancel_on_disconnect = venue.cancel_on_disconnect

    # --- from the wire ---------------------------------------------------------------------------

    def receive(self, raw: str, now: int) -> list[VenueEvent]:
        """One application message as the session received it."""
        try:
            message = dictionary.read(raw)
        except Exception as error:  # quickfix could not even parse it: nothing to reference
            self._anomaly(f"unparsable message: {error}")
            return []
        try:
            decoded = decode(message, self.name, now)
        except CodecError as error:
            self._anomaly(f"refused {raw[:80]!r}: {error.reason}")
            if not is_refusal(_msg_type(message)):  # a refusal is never refused: that could go on forever
                self.outgoing.append(outbound.reject(message, error))
            return []
        if not (isinstance(decoded, Refusal) and decoded.msg_type == MsgType.REJECT):
            # a Reject (3) is a session message, taken even ahead of a gap in the numbers:
            # counting it would skip what the venue resends to fill that gap
            self.last_in_seq = max(self.last_in_seq, _seq_num(message))
        if isinstance(decoded, Refusal):
            return self._refused(decoded, now)
        if not isinstance(decoded, Inbound):
            return [decoded] if decoded.symbol in self.symbols else []
        return self._inbound(message, decoded, now)

    def _inbound(self, message: Any, inbound: Inbound, now: int) -> list[VenueEvent]:
        child_id = self.by_cl_ord_id.get(inbound.cl_ord_id) or self.by_cl_ord_id.get(inbound.orig_cl_ord_id or "")
        closed = self.closed.get(inbound.cl_ord_id) or self.closed.get(inbound.orig_cl_ord_id or "")
        if child_id is None and closed is not None:
            return self._after_close(message, inbound, closed)
        if child_id is None or child_id not in self.children:
            if inbound.possible_duplicate:
                return []  # a resend about an order that is done here: applied before
            self._refuse(message, f"execution report for unknown order {inbound.cl_ord_id}")
            return []
        seen = self.exec_ids[child_id]
        exec_id = _exec_id(inbound)
        if exec_id is not None and exec_id in seen:
            return []  # a resend (PossDup) of what is applied
        answered = _answered_request(inbound)
        if answered is not None and answered not in self.request_ids[child_id] and inbound.possible_duplicate:
            return []  # a resend of an OrderCancelReject applied before (its request forgotten then): it has no ExecID
        report = inbound.for_child(child_id)
        if report is None and inbound.exec_type == ExecTypeCode.ORDER_STATUS:
            report = self._status_answer(child_id, inbound, now)
        if report is None:
            if exec_id is not None:
                seen.append(exec_id)
            return []
        child = self.children[child_id]
        if report.kind is VenueEventKind.TRADE:
            refused = self._fill_refused(child, report, inbound.cum_qty)
            if refused is not None:
                self._refuse(message, refused)
                return []
        if exec_id is not None:
            seen.append(exec_id)
        if report.kind is VenueEventKind.TRADE:
            self.filled[child_id] += report.last_qty
            if child.spec.notional is not None:
                self.values[child_id] = self._value_with(child, report)
        elif report.kind is VenueEventKind.REPLACED:
            pending = self.replacing.pop(child_id, None)
            if pending is not None:
                self.children[child_id] = child.replaced(inbound.cl_ord_id, pending.qty, pending.price)
        elif report.kind is VenueEventKind.REPLACE_REJECTED:
            self.replacing.pop(child_id, None)
        if answered is not None:
            self._answered(child_id, answered)  # applied once: a PossDup resend of it is dropped
        if report.kind not in FINAL and not report.done:
            return [report]
        events: list[VenueEvent] = [report]
        short = report.kind is VenueEventKind.TRADE and self._ends_short(child, inbound.order_status)
        if short:  # the trade, then the end of the rest: as the sim venue reports an IOC's partial fill
            events = [msgspec.structs.replace(report, done=False), self._rest_ended(child, inbound.order_status, now)]
        received = self.filled[child_id]
        if (inbound.cum_qty or 0) > received:
            self._anomaly(f"venue ended {child_id} with CumQty {inbound.cum_qty}, {received} received here: a later fill is refused")
            self._close(child_id, "ended by the venue with fills missing")
        elif short and inbound.order_status not in DONE_ORD_STATUSES:
            self._close(child_id, ENDED_BY_FILL)  # the venue's own cancel of the rest may follow: taken quietly
        else:
            self._forget(child_id)
        return events

    def _ends_short(self, child: ChildOrder, order_status: str) -> bool:
        """Whether a trade that ends ``child`` (its fill applied) leaves part of it unfilled:
        a quantity child below its quantity; a notional one the venue calls canceled or
        expired (its last fill otherwise fills it). Pure."""
        if child.spec.qty is not None:
            return self.filled[child.child_id] < child.spec.qty
        return order_status in _ENDED_AT_VENUE

    def _rest_ended(self, child: ChildOrder, order_status: str, now: int) -> VenueReport:
        """The end of what a trade that ended ``child`` left unfilled: expired when the venue
        says so (OrdStatus C), else canceled; an IOC's or FOK's rest is ``ioc_remainder``.

        Guarantees: ``done``, so the parent order ends with it (the account shard holds a
        quantity order open until it is filled in full or ended)."""
        kind = _ENDED_AT_VENUE.get(order_status, VenueEventKind.CANCELED)
        reason = Reason.IOC_REMAINDER.value if child.spec.tif in (TimeInForce.IOC, TimeInForce.FOK) else ENDED_BY_FILL
        return VenueReport(self.name, child.child_id, kind, 0, None, reason, now, done=True)

    def _fill_refused(self, child: ChildOrder, report: VenueReport, cum_qty: int | None) -> str | None:
        """Why a fill cannot be applied to ``child`` (a BusinessMessageReject's text), or
        ``None``. Pure.

        Guarantees: a fill that would take the child past what it orders is refused, by the
        account shard's rule (``would_overfill``): past its quantity, or for a notional buy
        past its notional by the value of its fills (qty × price × multiplier). So is one
        whose CumQty is less than the fills before it and its LastQty: the venue's count
        going back, or not adding up, is not ours to guess about."""
        child_id, qty, filled = child.child_id, report.last_qty, self.filled[child.child_id]
        if child.spec.notional is None:
            if would_overfill(child.spec, filled + qty, 0):
                return f"fill of {fixed.format(qty)} would overfill {child_id}"
        elif would_overfill(child.spec, filled + qty, self._value_with(child, report)):
            price = fixed.format(report.last_price or 0)
            return f"fill of {fixed.format(qty)} at {price} would overfill {child_id}: worth more than its notional"
        if cum_qty is not None and cum_qty < filled + qty:
            return f"fill of {fixed.format(qty)} for {child_id} with CumQty {fixed.format(cum_qty)}: {fixed.format(filled)} filled before"
        return None

    def _value_with(self, child: ChildOrder, report: VenueReport) -> int:
        """A notional child's value filled (10^-18) with the fill ``report`` added."""
        assert report.last_price is not None  # a trade has its LastPx (``decode_execution_report``)
        multiplier = self.multipliers.get(child.spec.symbol, 1)  # 1: a snapshot from before multipliers were kept
        return self.values.get(child.child_id, 0) + fixed.raw_value(report.last_qty, report.last_price, multiplier)

    def _status_answer(self, child_id: str, inbound: Inbound, now: int) -> VenueReport | None:
        """An OrderStatusRequest's answer (ExecType I) for a child open here: canceled,
        expired or rejected at the venue ends it (rejected: never received — sent just
        before a crash); filled only while fills are missing is logged, as the fills come
        by resend before the answer (a filled child with every fill is already done)."""
        status = inbound.order_status
        if status == OrdStatus.REJECTED:
            return VenueReport(self.name, child_id, VenueEventKind.REJECTED, 0, None, "unknown at the venue", now, done=True)
        if status == OrdStatus.FILLED:
            self._anomaly(f"venue reports {child_id} filled (CumQty {inbound.cum_qty}), {self.filled[child_id]} received here")
            return None
        kind = _ENDED_AT_VENUE.get(status)
        if kind is None:
            return None  # still working
        return VenueReport(self.name, child_id, kind, 0, None, f"{kind.value} at the venue (order status)", now, done=True)

    def _after_close(self, message: Any, inbound: Inbound, closed: ClosedChild) -> list[VenueEvent]:
        """A report for a child closed here first: a fill not applied before is refused and
        logged (never applied: the parent is done); the venue's own final report ends the
        watch; anything else changes nothing."""
        exec_id = _exec_id(inbound)
        if exec_id is not None and exec_id in closed.exec_ids:
            return []  # a resend of what was applied before the close
        if inbound.report is not None and inbound.report.kind is VenueEventKind.TRADE:
            self._refuse(message, f"fill for {closed.child_id} after it was closed here ({closed.why}): not applied")
            return []
        if exec_id is not None:
            closed.exec_ids.append(exec_id)
        if inbound.order_status in DONE_ORD_STATUSES:
            if (inbound.cum_qty or 0) > closed.filled:
                self._anomaly(f"venue ended {closed.child_id} with CumQty {inbound.cum_qty} after it was closed here with {closed.filled}")
            for cl_ord_id in [key for key, value in self.closed.items() if value is closed]:
                del self.closed[cl_ord_id]
        return []

    # --- what the session sent, and the venue's refusals of it ------------------------------------

    def never_sent(self, found: list[VenueWireSent]) -> list[str]:
        """The ClOrdIDs of the orders, cancels and pending replaces made here that the
        session never sent: not recorded, not ``found`` in its store, and not waiting in
        ``outgoing`` (made since this start, still to go). Asked once at start, before the
        session connects; the answer goes into ``VenueRecovered``, so replay settles the same."""
        known = {(r.msg_type, r.cl_ord_id) for records in self.sent.values() for r in records}
        known |= {(r.msg_type, r.cl_ord_id) for r in found}
        for raw in self.outgoing:
            reference = outbound.order_reference(dictionary.outgoing(raw))
            if reference is not None:
                known.add(reference)
        expected = []
        for child_id in self.children:
            expected.append((MsgType.NEW_ORDER_SINGLE.value, child_id))
            for request_id in self.request_ids[child_id]:
                if request_kind(request_id) == CANCEL:
                    expected.append((MsgType.ORDER_CANCEL_REQUEST.value, request_id))
            pending = self.replacing.get(child_id)
            if pending is not None:
                expected.append((MsgType.ORDER_CANCEL_REPLACE_REQUEST.value, pending.replace_id))
        return [cl_ord_id for msg_type, cl_ord_id in expected if (msg_type, cl_ord_id) not in known]

    def recovered(self, found: list[VenueWireSent], unsent: list[str], now: int) -> list[VenueEvent]:
        """Record what the session's store holds unrecorded, then settle what never left: a
        child rejected (``NOT_SENT``, which releases its parent's reservation), a cancel or
        replace refused. The venue never heard of them, so nothing is asked of it."""
        for record in found:
            self.record_sent(record.seq, record.msg_type, record.cl_ord_id)
        events: list[VenueEvent] = []
        for cl_ord_id in unsent:
            child_id = self.by_cl_ord_id.get(cl_ord_id)
            if child_id is None or child_id not in self.children or any(r.cl_ord_id == cl_ord_id for r in self.sent[child_id]):
                continue
            if cl_ord_id == child_id:
                self._forget(child_id)
                events.append(self._report(child_id, VenueEventKind.REJECTED, now, NOT_SENT))
                continue
            self.request_ids[child_id].remove(cl_ord_id)
            del self.by_cl_ord_id[cl_ord_id]
            pending = self.replacing.get(child_id)
            if pending is not None and pending.replace_id == cl_ord_id:
                del self.replacing[child_id]
                events.append(self._report(child_id, VenueEventKind.REPLACE_REJECTED, now, NOT_SENT))
            else:
                events.append(self._report(child_id, VenueEventKind.CANCEL_REJECTED, now, NOT_SENT))
        return events

    def _refused(self, refusal: Refusal, now: int) -> list[VenueEvent]:
        """The venue's Reject or BusinessMessageReject of a message about a child: a new
        order is rejected with the venue's text (unless the venue has already reported on
        it: then what it refused was a resend), a cancel or a replace is refused, a status
        request only noted. Anything else it refers to is logged; nothing is sent back.

        Guarantees: a refusal is applied once: what it refused is forgotten here as it is
        applied (a new order with its child; a cancel or replace request with its records),
        so a PossDup resend of it is dropped."""
        target = self._refused_message(refusal)
        if target is None:
            if not refusal.possible_duplicate:  # a resend about a child done here: applied before
                self._anomaly(f"{refusal.describe()}: no open order here is its subject; nothing changed")
            return []
        child_id, refused = target
        if refused.msg_type == MsgType.NEW_ORDER_SINGLE:
            if self.exec_ids[child_id]:
                self._anomaly(f"{refusal.describe()}: {child_id} was already acknowledged by the venue; nothing changed")
                return []
            self._forget(child_id)
            return [self._report(child_id, VenueEventKind.REJECTED, now, refusal.reason)]
        if refused.msg_type == MsgType.ORDER_CANCEL_REQUEST:
            self._answered(child_id, refused.cl_ord_id)  # a resend of this refusal (PossDup) then finds nothing
            return [self._report(child_id, VenueEventKind.CANCEL_REJECTED, now, refusal.reason)]
        if refused.msg_type == MsgType.ORDER_CANCEL_REPLACE_REQUEST:
            pending = self.replacing.get(child_id)
            if pending is None or pending.replace_id != refused.cl_ord_id:
                return []  # a replace answered before: the refusal of a resend of it
            del self.replacing[child_id]
            self._answered(child_id, refused.cl_ord_id)
            return [self._report(child_id, VenueEventKind.REPLACE_REJECTED, now, refusal.reason)]
        if not self.status_refused:  # one line per logon, not one per order
            self.status_refused = True
            self._anomaly(
                f"{refusal.describe()}: the venue does not answer status requests; "
                "its orders stay working, reconciled by their execution reports"
            )
        return []

    def _refused_message(self, refusal: Refusal) -> tuple[str, SentMessage] | None:
        """The open child and the message of ours a refusal is about: by RefSeqNum among the
        messages recorded (when RefMsgType, if given, agrees), else by BusinessRejectRefID."""
        if refusal.ref_seq_num is not None:
            child_id = self.by_seq.get(refusal.ref_seq_num)
            if child_id is not None and child_id in self.children:
                for record in self.sent[child_id]:
                    if record.seq == refusal.ref_seq_num and refusal.ref_msg_type in (None, record.msg_type):
                        return child_id, record
        if refusal.ref_id and refusal.ref_msg_type in ORDER_MESSAGES:
            child_id = self.by_cl_ord_id.get(refusal.ref_id)
            if child_id is not None and child_id in self.children:
                return child_id, SentMessage(refusal.ref_seq_num or 0, refusal.ref_msg_type, refusal.ref_id)
        return None

    def _refuse(self, message: Any, why: str) -> None:
        self._anomaly(why)
        error = CodecError(why, None, "business")
        self.outgoing.append(outbound.business_reject(message, error))
