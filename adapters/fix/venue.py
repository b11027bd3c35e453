"""The FIX venue adapter's state: pure, journaled and snapshotted inside ``VenueState`` like
the simulated venue, with the wire at arm's length.

Outbound, the adapter turns venue commands into FIX messages and queues them as strings in
``outgoing``; the VenueSession actor writes them to the quickfix session after the record
that made them is committed (and not at all while replaying: they went out before).
Inbound, every application message the session receives is journaled by the actor as a
``VenueWireIn`` input — the FIX string exactly as received — and decoded here, so replay
decodes the same bytes the same way.

Guarantees: an execution report is applied once (ExecIDs are remembered, so a PossDup
resend changes nothing); a report for an unknown order or one that would overfill an order
is refused with a BusinessMessageReject, logged among the anomalies and never applied; a
malformed message gets a Reject or BusinessMessageReject and changes nothing.

Cancel on disconnect (a per-venue option: the venue cancels our resting orders when the
session drops): when the session closes, every child still open here is reported canceled
at once, so its parent's reservation is released without waiting for the venue. A fill the
venue sends later for such a child is refused with a BusinessMessageReject and logged among
the anomalies, never applied and never dropped silently. Without the option a disconnect
changes no order: the status requests at the next logon reconcile them.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec
import quickfix as fix

from adapters.base import VenueEvent
from adapters.fix import codec
from adapters.fix.codec import ChildOrder, CodecError, Inbound
from model import fixed
from model.enums import Reason, SessionState, VenueEventKind
from model.instruments import Instrument
from model.messages import VenueNewOrder, VenueReplace, VenueReport, VenueSessionChanged

_FINAL = frozenset({VenueEventKind.CANCELED, VenueEventKind.EXPIRED, VenueEventKind.REJECTED})
_DONE_ORD_STATUSES = frozenset({"2", "4", "8", "C"})  # OrdStatus (39): filled, canceled, rejected, expired
CANCELED_ON_DISCONNECT = "venue disconnected: cancel on disconnect"


class _Pending(msgspec.Struct, array_like=True, gc=False):
    """A replace sent and not yet answered."""

    replace_id: str
    qty: int
    price: int | None


class _Closed(msgspec.Struct, array_like=True, gc=False):
    """A child closed here before the venue said it was done (canceled on disconnect, or
    canceled by a status answer that misses fills): what had been applied to it, so that a
    resend of an applied fill is told apart from a fill that came too late."""

    child_id: str
    why: str
    filled: int
    exec_ids: list[str]


def _seq_num(message: Any) -> int:
    field = fix.MsgSeqNum()
    header = message.getHeader()
    if not header.isSetField(field.getTag()):
        return 0
    header.getField(field)
    return int(field.getValue())


class FixVenue:
    """Child orders at one FIX venue, and what to say to it."""

    def __init__(self, name: str, instruments: list[Instrument], cancel_on_disconnect: bool = False) -> None:
        self.name = name
        self.cancel_on_disconnect = cancel_on_disconnect  # config, not state: not in the hash
        self.symbols = sorted(instrument.symbol for instrument in instruments)
        self.children: dict[str, ChildOrder] = {}
        self.filled: dict[str, int] = {}  # child_id → quantity filled so far
        self.by_cl_ord_id: dict[str, str] = {}  # every ClOrdID used for a working child → child_id
        self.request_ids: dict[str, list[str]] = {}  # child_id → its cancel/replace ClOrdIDs
        self.replacing: dict[str, _Pending] = {}
        self.exec_ids: dict[str, list[str]] = {}  # child_id → ExecIDs applied (a resend is dropped)
        self.closed: dict[str, _Closed] = {}  # every ClOrdID of a child closed before the venue said so
        self.requests = 0
        self._session = SessionState.CLOSED
        self.last_in_seq = 0  # MsgSeqNum of the last application message journaled
        self.outgoing: list[str] = []
        self.anomalies: list[str] = []

    # --- the VenueAdapter interface --------------------------------------------------------

    def start(self, now: int) -> list[VenueEvent]:
        return []  # the session's logon opens it

    def submit(self, order: VenueNewOrder, now: int) -> list[VenueEvent]:
        if self._session is not SessionState.OPEN:
            return [self._report(order.child_id, VenueEventKind.REJECTED, now, Reason.MARKET_CLOSED.value)]
        try:
            message = codec.new_order_single(order, now)
        except CodecError as error:
            return [self._report(order.child_id, VenueEventKind.REJECTED, now, f"{Reason.UNSUPPORTED.value}: {error.reason}")]
        self.children[order.child_id] = ChildOrder.of(order)
        self.filled[order.child_id] = 0
        self.by_cl_ord_id[order.child_id] = order.child_id
        self.request_ids[order.child_id] = []
        self.exec_ids[order.child_id] = []
        self.outgoing.append(message.toString())
        return []

    def cancel(self, child_id: str, now: int) -> list[VenueEvent]:
        child = self.children.get(child_id)
        if child is None:
            return [self._report(child_id, VenueEventKind.CANCEL_REJECTED, now, Reason.TOO_LATE_TO_CANCEL.value)]
        cancel_id = self._next_id(child_id, "c")
        self.outgoing.append(codec.cancel_request(child, cancel_id, now).toString())
        return []

    def replace(self, request: VenueReplace, now: int) -> list[VenueEvent]:
        child = self.children.get(request.child_id)
        if child is None or request.child_id in self.replacing:
            reason = Reason.TOO_LATE_TO_CANCEL if child is None else Reason.PENDING_REQUEST
            return [self._report(request.child_id, VenueEventKind.REPLACE_REJECTED, now, reason.value)]
        replace_id = self._next_id(request.child_id, "r")
        try:
            message = codec.replace_request(child, replace_id, request.qty, request.price, now)
        except CodecError as error:
            return [self._report(request.child_id, VenueEventKind.REPLACE_REJECTED, now, error.reason)]
        self.replacing[request.child_id] = _Pending(replace_id, request.qty, request.price)
        self.outgoing.append(message.toString())
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
            for child in self.children.values():
                self.outgoing.append(codec.order_status_request(child, now).toString())
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

    # --- from the wire ---------------------------------------------------------------------------

    def receive(self, raw: str, now: int) -> list[VenueEvent]:
        """One application message as the session received it."""
        try:
            message = fix.Message(raw, codec.dictionary(), False)
        except Exception as error:  # quickfix could not even parse it: nothing to reference
            self._anomaly(f"unparsable message: {error}")
            return []
        try:
            decoded = codec.decode(message, self.name, now)
        except CodecError as error:
            self._anomaly(f"refused {raw[:80]!r}: {error.reason}")
            self.outgoing.append(codec.reject(message, error).toString())
            return []
        self.last_in_seq = max(self.last_in_seq, _seq_num(message))
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
        if inbound.exec_id is not None and inbound.exec_id in seen:
            return []  # a resend (PossDup) of what is applied
        report = inbound.for_child(child_id)
        if report is None and inbound.exec_type == "I":
            report = self._status_answer(child_id, inbound, now)
        if report is None:
            if inbound.exec_id is not None:
                seen.append(inbound.exec_id)
            return []
        child = self.children[child_id]
        if report.kind is VenueEventKind.TRADE and child.qty is not None and self.filled[child_id] + report.last_qty > child.qty:
            self._refuse(message, f"fill of {fixed.format(report.last_qty)} would overfill {child_id}")
            return []
        if inbound.exec_id is not None:
            seen.append(inbound.exec_id)
        if report.kind is VenueEventKind.TRADE:
            self.filled[child_id] += report.last_qty
        elif report.kind is VenueEventKind.REPLACED:
            pending = self.replacing.pop(child_id, None)
            if pending is not None:
                self.children[child_id] = child.replaced(inbound.cl_ord_id, pending.qty, pending.price)
        elif report.kind is VenueEventKind.REPLACE_REJECTED:
            self.replacing.pop(child_id, None)
        if report.kind in _FINAL or report.done:
            received = self.filled[child_id]
            if (inbound.cum_qty or 0) > received:
                self._anomaly(f"venue ended {child_id} with CumQty {inbound.cum_qty}, {received} received here: a later fill is refused")
                self._close(child_id, "ended by the venue with fills missing")
            else:
                self._forget(child_id)
        return [report]

    def _status_answer(self, child_id: str, inbound: Inbound, now: int) -> VenueReport | None:
        """An OrderStatusRequest's answer (ExecType I) for a child open here: canceled,
        expired or rejected at the venue ends it (rejected: never received — sent just
        before a crash); filled only while fills are missing is logged, as the fills come
        by resend before the answer (a filled child with every fill is already done)."""
        status = inbound.order_status
        if status == "8":
            return VenueReport(self.name, child_id, VenueEventKind.REJECTED, 0, None, "unknown at the venue", now, done=True)
        if status == "2":
            self._anomaly(f"venue reports {child_id} filled (CumQty {inbound.cum_qty}), {self.filled[child_id]} received here")
            return None
        kind = {"4": VenueEventKind.CANCELED, "C": VenueEventKind.EXPIRED}.get(status)
        if kind is None:
            return None  # still working
        return VenueReport(self.name, child_id, kind, 0, None, f"{kind.value} at the venue (order status)", now, done=True)

    def _after_close(self, message: Any, inbound: Inbound, closed: _Closed) -> list[VenueEvent]:
        """A report for a child closed here first: a fill not applied before is refused and
        logged (never applied: the parent is done); the venue's own final report ends the
        watch; anything else changes nothing."""
        if inbound.exec_id is not None and inbound.exec_id in closed.exec_ids:
            return []  # a resend of what was applied before the close
        if inbound.report is not None and inbound.report.kind is VenueEventKind.TRADE:
            self._refuse(message, f"fill for {closed.child_id} after it was closed here ({closed.why}): not applied")
            return []
        if inbound.exec_id is not None:
            closed.exec_ids.append(inbound.exec_id)
        if inbound.order_status in _DONE_ORD_STATUSES:
            if (inbound.cum_qty or 0) > closed.filled:
                self._anomaly(f"venue ended {closed.child_id} with CumQty {inbound.cum_qty} after it was closed here with {closed.filled}")
            for cl_ord_id in [key for key, value in self.closed.items() if value is closed]:
                del self.closed[cl_ord_id]
        return []

    def _refuse(self, message: Any, why: str) -> None:
        self._anomaly(why)
        error = CodecError(why, None, "business")
        self.outgoing.append(codec.business_reject(message, error).toString())

    # --- bookkeeping ----------------------------------------------------------------------------

    def take_outgoing(self) -> list[str]:
        outgoing, self.outgoing = self.outgoing, []
        return outgoing

    def _next_id(self, child_id: str, kind: str) -> str:
        self.requests += 1
        request_id = f"{child_id}.{kind}{self.requests}"
        self.by_cl_ord_id[request_id] = child_id
        self.request_ids[child_id].append(request_id)
        return request_id

    def _close(self, child_id: str, why: str) -> None:
        """End a child here while the venue may still report on it (see ``_after_close``)."""
        closed = _Closed(child_id, why, self.filled[child_id], self.exec_ids[child_id])
        for cl_ord_id in [child_id, *self.request_ids[child_id]]:
            self.closed[cl_ord_id] = closed
        self._forget(child_id)

    def _forget(self, child_id: str) -> None:
        for request_id in self.request_ids.pop(child_id, []):
            self.by_cl_ord_id.pop(request_id, None)
        self.by_cl_ord_id.pop(child_id, None)
        self.exec_ids.pop(child_id, None)
        self.children.pop(child_id, None)
        self.filled.pop(child_id, None)
        self.replacing.pop(child_id, None)

    def _anomaly(self, text: str) -> None:
        self.anomalies.append(text)
        del self.anomalies[:-100]

    def _report(self, child_id: str, kind: VenueEventKind, now: int, reason: str | None) -> VenueReport:
        return VenueReport(self.name, child_id, kind, 0, None, reason, now, done=kind in _FINAL)

    def state_hash(self) -> str:
        state = (
            self.name,
            list(self.children.values()),
            self.filled,
            self.by_cl_ord_id,
            list(self.replacing.items()),
            self.exec_ids,
            self.request_ids,
            self.requests,
            self._session.value,
            self.last_in_seq,
            sorted(self.closed.items()),
        )
        return hashlib.sha256(msgspec.msgpack.encode(state)).hexdigest()
