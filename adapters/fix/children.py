"""What the FIX venue adapter (``venue.py``) knows of its children: each one's order, fills
(a notional child's value too), ExecIDs applied, request ClOrdIDs, pending replace and the
messages the session sent about it; the children closed here before the venue said so; and
the bookkeeping that keeps all of it consistent, with the hash replay is checked by.
``FixVenue`` adds what it does with the wire.

Pure, like all of the adapter: journaled and snapshotted inside ``VenueState``.
"""

from __future__ import annotations

import hashlib
from typing import Self

import msgspec

from adapters.fix.outbound import ChildOrder
from adapters.fix.tags import MsgType
from model import fixed
from model.enums import SessionState, Side, VenueEventKind
from model.instruments import Instrument
from model.messages import VenueReport
from model.orders import OrderSpec

FINAL = frozenset({VenueEventKind.CANCELED, VenueEventKind.EXPIRED, VenueEventKind.REJECTED})
CANCEL, REPLACE = "c", "r"  # the kind letter in a cancel's or a replace's ClOrdID (``FixChildren._next_id``)
_MAX_ANOMALIES = 100  # the anomalies kept for status, latest last


class PendingReplace(msgspec.Struct, array_like=True, gc=False):
    """A replace sent and not yet answered."""

    replace_id: str
    qty: int
    price: int | None


class ClosedChild(msgspec.Struct, array_like=True, gc=False):
    """A child closed here before the venue said it was done (canceled on disconnect, or
    canceled by a status answer that misses fills): what had been applied to it, so that a
    resend of an applied fill is told apart from a fill that came too late."""

    child_id: str
    why: str
    filled: int
    exec_ids: list[str]


class SentMessage(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """A message about a child handed to the session: its MsgSeqNum, MsgType and ClOrdID."""

    seq: int
    msg_type: str
    cl_ord_id: str


class ClosedEntry(msgspec.Struct, array_like=True, gc=False):
    """A closed child in a snapshot with every ClOrdID it is watched under (one object, many keys)."""

    cl_ord_ids: list[str]
    child: ClosedChild


class FixSnapshot(msgspec.Struct, tag="fix"):
    """A FIX venue's adapter in a snapshot. ``by_cl_ord_id`` (every ClOrdID of a working
    child) is rebuilt from ``children`` and ``request_ids``. A map: a field added later has
    a default, so a snapshot written before it still reads (``multipliers`` and ``values``:
    written before notional fills were valued, ``FixChildren.restore``)."""

    name: str
    cancel_on_disconnect: bool
    symbols: list[str]
    children: list[ChildOrder]  # in the order they were sent
    filled: dict[str, int]
    request_ids: dict[str, list[str]]
    replacing: dict[str, PendingReplace]
    exec_ids: dict[str, list[str]]
    closed: list[ClosedEntry]
    requests: int
    session: SessionState
    last_in_seq: int
    sent: dict[str, list[SentMessage]]
    by_seq: dict[int, str]
    last_out_seq: int
    status_refused: bool
    outgoing: list[str]
    anomalies: list[str]
    multipliers: dict[str, int] = {}  # symbol → the instrument's multiplier
    values: dict[str, tuple[int, int]] = {}  # notional child → the value filled (``fixed.split_raw``: msgpack ints are 64-bit)


def would_overfill(spec: OrderSpec, filled: int, value: int) -> bool:
    """Whether a child with ``filled`` filled, worth exactly ``value`` (10^-18: Σ qty × price
    × multiplier), is past what it orders.

    Guarantees: the account shard's rule (``_would_overfill`` in ``actors/account/booking.py``):
    a quantity child past its quantity; a notional buy once its value, rounded up to the cent
    as the buyer pays, passes the notional. A notional sell is not capped by value (a better
    price brings more cash than it asked for; the shard caps its quantity)."""
    if spec.qty is not None:
        return filled > spec.qty
    assert spec.notional is not None
    return spec.side is Side.BUY and fixed.ceil_cent(value) > spec.notional


def request_kind(request_id: str) -> str:
    """``CANCEL`` or ``REPLACE``: the letter after the child id in a request's ClOrdID."""
    return request_id.rpartition(".")[2][:1]


class FixChildren:
    """The state of one FIX venue's adapter: see the module text."""

    def __init__(self, name: str, instruments: list[Instrument], cancel_on_disconnect: bool = False) -> None:
        self.name = name
        self.cancel_on_disconnect = cancel_on_disconnect  # config, not state: not in the hash
        self.symbols = sorted(instrument.symbol for instrument in instruments)
        self.multipliers: dict[str, int] = {i.symbol: i.multiplier for i in instruments}  # reference data, not in the hash
        self.children: dict[str, ChildOrder] = {}
        self.filled: dict[str, int] = {}  # child_id → quantity filled so far
        self.values: dict[str, int] = {}  # notional child_id → exact value filled so far (10^-18), once it has a fill
        self.by_cl_ord_id: dict[str, str] = {}  # every ClOrdID used for a working child → child_id
        self.request_ids: dict[str, list[str]] = {}  # child_id → its cancel/replace ClOrdIDs
        self.replacing: dict[str, PendingReplace] = {}
        self.exec_ids: dict[str, list[str]] = {}  # child_id → ExecIDs applied (a resend is dropped)
        self.closed: dict[str, ClosedChild] = {}  # every ClOrdID of a child closed before the venue said so
        self.requests = 0
        self._session = SessionState.CLOSED
        self.last_in_seq = 0  # MsgSeqNum of the last application message journaled
        self.sent: dict[str, list[SentMessage]] = {}  # child_id → what the session sent about it
        self.by_seq: dict[int, str] = {}  # MsgSeqNum → child_id (a session reset reuses numbers: the newest wins)
        self.last_out_seq = 0  # MsgSeqNum of the last message recorded in ``sent``
        self.status_refused = False  # since the last logon, the venue has refused an OrderStatusRequest
        self.outgoing: list[str] = []
        self.anomalies: list[str] = []

    # --- snapshots -------------------------------------------------------------------------------

    def snapshot(self) -> FixSnapshot:
        closed: dict[int, ClosedEntry] = {}  # by the object: a closed child is kept under each of its ClOrdIDs
        for cl_ord_id, child in self.closed.items():
            entry = closed.get(id(child))
            if entry is None:
                entry = closed[id(child)] = ClosedEntry([], child)
            entry.cl_ord_ids.append(cl_ord_id)
        return FixSnapshot(
            self.name, self.cancel_on_disconnect, self.symbols, list(self.children.values()), self.filled, self.request_ids,
            self.replacing, self.exec_ids, list(closed.values()), self.requests, self._session, self.last_in_seq, self.sent,
            self.by_seq, self.last_out_seq, self.status_refused, self.outgoing, self.anomalies,
            multipliers=self.multipliers, values=self._split_values(),
        )

    @classmethod
    def restore(cls, state: FixSnapshot) -> Self:
        """The adapter ``state`` describes. One written before notional fills were valued has
        no multipliers (each is taken as 1, which values a fill at most at what it is worth,
        so no fill is refused that should not be) and no values (a notional child working
        then is valued from its next fill on)."""
        adapter = cls(state.name, [], state.cancel_on_disconnect)
        adapter.symbols = state.symbols
        adapter.multipliers = state.multipliers
        adapter.values = {child_id: fixed.join_raw(*value) for child_id, value in state.values.items()}
        adapter.children = {child.child_id: child for child in state.children}
        for child_id in adapter.children:
            adapter.by_cl_ord_id[child_id] = child_id
        for child_id, request_ids in state.request_ids.items():
            for request_id in request_ids:
                adapter.by_cl_ord_id[request_id] = child_id
        adapter.closed = {cl_ord_id: entry.child for entry in state.closed for cl_ord_id in entry.cl_ord_ids}
        adapter.filled, adapter.request_ids, adapter.replacing, adapter.exec_ids = state.filled, state.request_ids, state.replacing, state.exec_ids
        adapter.requests, adapter._session, adapter.last_in_seq, adapter.sent = state.requests, state.session, state.last_in_seq, state.sent
        adapter.by_seq, adapter.last_out_seq, adapter.status_refused = state.by_seq, state.last_out_seq, state.status_refused
        adapter.outgoing, adapter.anomalies = state.outgoing, state.anomalies
        return adapter

    # --- what the session sent -------------------------------------------------------------------

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
        record = SentMessage(seq, msg_type, cl_ord_id)
        if record not in records:
            records.append(record)
        self.by_seq[seq] = child_id

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

    def _answered(self, child_id: str, request_id: str) -> None:
        """A cancel or replace request of ``child_id`` refused by the venue: nothing of it is
        kept (its ClOrdID, the messages sent under it), so a resend of the refusal finds no
        message of ours to refuse again and ``never_sent`` does not look for it."""
        if request_id == child_id or request_id not in self.request_ids[child_id]:
            return  # a refusal naming the order itself: its own records stay
        self.request_ids[child_id].remove(request_id)
        del self.by_cl_ord_id[request_id]
        records = self.sent[child_id]
        for record in [r for r in records if r.cl_ord_id == request_id]:
            records.remove(record)
            if self.by_seq.get(record.seq) == child_id:
                del self.by_seq[record.seq]

    def _close(self, child_id: str, why: str) -> None:
        """End a child here while the venue may still report on it (see ``_after_close``)."""
        closed = ClosedChild(child_id, why, self.filled[child_id], self.exec_ids[child_id])
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
        self.values.pop(child_id, None)
        self.replacing.pop(child_id, None)
        for record in self.sent.pop(child_id, []):
            if self.by_seq.get(record.seq) == child_id:
                del self.by_seq[record.seq]

    def _anomaly(self, text: str) -> None:
        self.anomalies.append(text)
        del self.anomalies[:-_MAX_ANOMALIES]

    def _report(self, child_id: str, kind: VenueEventKind, now: int, reason: str | None) -> VenueReport:
        return VenueReport(self.name, child_id, kind, 0, None, reason, now, done=kind in FINAL)

    def _split_values(self) -> dict[str, tuple[int, int]]:
        return {child_id: fixed.split_raw(value) for child_id, value in self.values.items()}

    def state_hash(self) -> str:
        state = (
            self.name,
            list(self.children.values()),
            self.filled,
            self._split_values(),
            sorted(self.by_cl_ord_id.items()),  # an index of the children and their requests: its order means nothing
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

    def check_invariants(self) -> None:
        """Raise ``AssertionError`` if the bookkeeping disagrees with itself (used by tests):
        every working child has its fills, ExecIDs, request ids and sent messages, no fill
        beyond its quantity, and every ClOrdID, pending replace and sequence number known here
        names a working child; values are kept for notional children only, none beyond its
        notional (for a buy: ``would_overfill``)."""
        children = set(self.children)
        for name, table in (("filled", self.filled), ("exec_ids", self.exec_ids), ("request_ids", self.request_ids), ("sent", self.sent)):
            if set(table) != children:
                raise AssertionError(f"{self.name}: {name} and the working children disagree")
        for child_id, child in self.children.items():
            if child.spec.qty is not None and self.filled[child_id] > child.spec.qty:
                raise AssertionError(f"{self.name}: {child_id} filled beyond its qty")
        for child_id, value in self.values.items():
            notional = self.children.get(child_id)
            if notional is None or notional.spec.notional is None:
                raise AssertionError(f"{self.name}: a value is kept for {child_id}, no working notional child")
            if would_overfill(notional.spec, 0, value):
                raise AssertionError(f"{self.name}: {child_id} filled beyond its notional")
        if not set(self.by_cl_ord_id.values()) <= children or not set(self.replacing) <= children:
            raise AssertionError(f"{self.name}: a ClOrdID or a pending replace names no working child")
        if not set(self.by_seq.values()) <= children:
            raise AssertionError(f"{self.name}: a sequence number names no working child")
