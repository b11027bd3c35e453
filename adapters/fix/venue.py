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
malformed message gets a Reject or BusinessMessageReject and changes nothing; a Reject or
BusinessMessageReject from the venue is never answered with another one.

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
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec
import quickfix as fix

from adapters.base import VenueEvent
from adapters.fix import codec
from adapters.fix.codec import ChildOrder, CodecError, Inbound, MsgType, Refusal
from model import fixed
from model.enums import Reason, SessionState, VenueEventKind
from model.instruments import Instrument
from model.messages import VenueNewOrder, VenueReplace, VenueReport, VenueSessionChanged, VenueWireSent

_FINAL = frozenset({VenueEventKind.CANCELED, VenueEventKind.EXPIRED, VenueEventKind.REJECTED})
_DONE_ORD_STATUSES = frozenset({"2", "4", "8", "C"})  # OrdStatus (39): filled, canceled, rejected, expired
CANCELED_ON_DISCONNECT = "venue disconnected: cancel on disconnect"
NOT_SENT = "not sent to the venue: brokerd stopped before sending it"
_CANCEL, _REPLACE = "c", "r"  # the kind letter in a cancel's or a replace's ClOrdID (``_next_id``)


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


class _Sent(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """A message about a child handed to the session: its MsgSeqNum, MsgType and ClOrdID."""

    seq: int
    msg_type: str
    cl_ord_id: str


def _seq_num(message: Any) -> int:
    field = fix.MsgSeqNum()
    header = message.getHeader()
    if not header.isSetField(field.getTag()):
        return 0
    header.getField(field)
    return int(field.getValue())


def _msg_type(message: Any) -> str:
    header = message.getHeader()
    return str(header.getField(codec.Tag.MsgType)) if header.isSetField(codec.Tag.MsgType) else ""


def _request_kind(request_id: str) -> str:
    """``_CANCEL`` or ``_REPLACE``: the letter after the child id in a request's ClOrdID."""
    return request_id.rpartition(".")[2][:1]


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
        self.sent: dict[str, list[_Sent]] = {}  # child_id → what the session sent about it
        self.by_seq: dict[int, str] = {}  # MsgSeqNum → child_id (a session reset reuses numbers: the newest wins)
        self.last_out_seq = 0  # MsgSeqNum of the last message recorded in ``sent``
        self.status_refused = False  # since the last logon, the venue has refused an OrderStatusRequest
        self.outgoing: list[str] = []
        self.anomalies: list[str] = []

    def __setstate__(self, state: dict[str, Any]) -> None:
        """A snapshot written before sent messages were recorded: nothing recorded yet."""
        defaults = {"sent": {child_id: [] for child_id in state["children"]}, "by_seq": {}, "last_out_seq": 0, "status_refused": False}
        self.__dict__.update({**defaults, **state})

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
        self.sent[order.child_id] = []
        self.outgoing.append(message.toString())
        return []

    def cancel(self, child_id: str, now: int) -> list[VenueEvent]:
        child = self.children.get(child_id)
        if child is None:
            return [self._report(child_id, VenueEventKind.CANCEL_REJECTED, now, Reason.TOO_LATE_TO_CANCEL.value)]
        cancel_id = self._next_id(child_id, _CANCEL)
        self.outgoing.append(codec.cancel_request(child, cancel_id, now).toString())
        return []

    def replace(self, request: VenueReplace, now: int) -> list[VenueEvent]:
        child = self.children.get(request.child_id)
        if child is None or request.child_id in self.replacing:
            reason = Reason.TOO_LATE_TO_CANCEL if child is None else Reason.PENDING_REQUEST
            return [self._report(request.child_id, VenueEventKind.REPLACE_REJECTED, now, reason.value)]
        replace_id = self._next_id(request.child_id, _REPLACE)
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
            self.status_refused = False
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
            if not codec.is_refusal(_msg_type(message)):  # a refusal is never refused: that could go on forever
                self.outgoing.append(codec.reject(message, error).toString())
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

    # --- what the session sent, and the venue's refusals of it ------------------------------------

    def record_sent(self, seq: int, msg_type: str, cl_ord_id: str) -> None:
        """The session sent ``msg_type`` about ``cl_ord_id`` as MsgSeqNum ``seq``. Only the
        last status request of a child is kept (one per logon would pile up)."""
        self.last_out_seq = seq
        child_id = self.by_cl_ord_id.get(cl_ord_id)
        if child_id is None or child_id not in self.children:
            return  # done here already: nothing left for a refusal to change
        records = self.sent[child_id]
        if msg_type == MsgType.ORDER_STATUS_REQUEST:
            for old in [r for r in records if r.msg_type == msg_type]:
                records.remove(old)
                if self.by_seq.get(old.seq) == child_id:
                    del self.by_seq[old.seq]
        record = _Sent(seq, msg_type, cl_ord_id)
        if record not in records:
            records.append(record)
        self.by_seq[seq] = child_id

    def never_sent(self, found: list[VenueWireSent]) -> list[str]:
        """The ClOrdIDs of the orders, cancels and pending replaces made here that the
        session never sent: not recorded, not ``found`` in its store, and not waiting in
        ``outgoing`` (made since this start, still to go). Asked once at start, before the
        session connects; the answer goes into ``VenueRecovered``, so replay settles the same."""
        known = {(r.msg_type, r.cl_ord_id) for records in self.sent.values() for r in records}
        known |= {(r.msg_type, r.cl_ord_id) for r in found}
        for raw in self.outgoing:
            reference = codec.order_reference(codec.outgoing(raw))
            if reference is not None:
                known.add(reference)
        expected = []
        for child_id in self.children:
            expected.append((MsgType.NEW_ORDER_SINGLE.value, child_id))
            for request_id in self.request_ids[child_id]:
                if _request_kind(request_id) == _CANCEL:
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
        request only noted. Anything else it refers to is logged; nothing is sent back."""
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
            return [self._report(child_id, VenueEventKind.CANCEL_REJECTED, now, refusal.reason)]
        if refused.msg_type == MsgType.ORDER_CANCEL_REPLACE_REQUEST:
            pending = self.replacing.get(child_id)
            if pending is None or pending.replace_id != refused.cl_ord_id:
                return []  # a replace answered before: the refusal of a resend of it
            del self.replacing[child_id]
            return [self._report(child_id, VenueEventKind.REPLACE_REJECTED, now, refusal.reason)]
        if not self.status_refused:  # one line per logon, not one per order
            self.status_refused = True
            self._anomaly(
                f"{refusal.describe()}: the venue does not answer status requests; "
                "its orders stay working, reconciled by their execution reports"
            )
        return []

    def _refused_message(self, refusal: Refusal) -> tuple[str, _Sent] | None:
        """The open child and the message of ours a refusal is about: by RefSeqNum among the
        messages recorded (when RefMsgType, if given, agrees), else by BusinessRejectRefID."""
        if refusal.ref_seq_num is not None:
            child_id = self.by_seq.get(refusal.ref_seq_num)
            if child_id is not None and child_id in self.children:
                for record in self.sent[child_id]:
                    if record.seq == refusal.ref_seq_num and refusal.ref_msg_type in (None, record.msg_type):
                        return child_id, record
        if refusal.ref_id and refusal.ref_msg_type in codec.ORDER_MESSAGES:
            child_id = self.by_cl_ord_id.get(refusal.ref_id)
            if child_id is not None and child_id in self.children:
                return child_id, _Sent(refusal.ref_seq_num or 0, refusal.ref_msg_type, refusal.ref_id)
        return None

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
        for record in self.sent.pop(child_id, []):
            if self.by_seq.get(record.seq) == child_id:
                del self.by_seq[record.seq]

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
            self.sent,
            sorted(self.by_seq.items()),
            self.last_out_seq,
            self.status_refused,
        )
        return hashlib.sha256(msgspec.msgpack.encode(state)).hexdigest()
