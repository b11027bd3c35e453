"""The audit log's records, frames, chains and anchors: the format alone, pure (no I/O, no
clock). ``snapshots/audit.py`` keeps them on disk; docs/audit.md describes them.

A record is one audit event of one *writer* (an actor: ``account-0``, ``gateway-0``,
``supervisor``), numbered densely from 1 within its writer's *chain*, and carrying the SHA-256
of the record before it (the first record links to :func:`genesis` of its writer). On disk a
record is a *frame*: ``length (u32) | CRC-32 of the payload (u32) | payload``, the payload the
record encoded as a msgpack array (:func:`encode_record`). A record's hash is the SHA-256 of
its payload bytes exactly as stored, so checking a chain never re-encodes anything.

An *anchor* is a chain's head (writer, sequence, hash, count, time) signed with Ed25519; it
is what makes deleting the newest records, or rewriting the whole tail with a fresh chain,
detectable (:func:`check_chain`).

Guarantees:
- :func:`encode_record` of the same fields gives the same bytes (msgpack of a fixed array,
  no map ordering, no float): a replay that regenerates a record regenerates its hash.
- :class:`ChainCheck` reports the *first* bad record of a chain, with its sequence and one
  reason of :data:`REASONS`, and nothing after it (what follows a break is not trusted).
- Nothing here reads a clock: every time is the caller's (an actor's input time).
"""

from __future__ import annotations

import enum
import hashlib
import struct
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

GENESIS_PREFIX = b"brokerd audit genesis\x00"
ANCHOR_DOMAIN = b"brokerd audit anchor v1\x00"  # signed bytes start with it: an anchor's signature signs nothing else
HASH_BYTES = 32
FRAME_HEADER = struct.Struct("<II")  # payload length, CRC-32 of the payload
MAX_PAYLOAD_BYTES = 16 * 1024 * 1024  # a length above it is damage, not a record (a body is an event, not a file)


class AuditKind(enum.StrEnum):
    """What an audit record is about: the order events of FINRA CAT (new, route, modify,
    cancel, execute, allocate), the books' movements, and who did what."""

    ORDER_RECEIVED = "order_received"
    ORDER_ACCEPTED = "order_accepted"
    ORDER_REJECTED = "order_rejected"
    ROUTED = "routed"
    REPLACED = "replaced"
    CANCELED = "canceled"
    FILL = "fill"
    ALLOCATION = "allocation"
    TRANSFER = "transfer"  # a cash movement: deposit, withdrawal, journal leg
    SECURITIES_TRANSFER = "securities_transfer"  # shares between accounts, with their lots
    ADMIN_COMMAND = "admin_command"
    LOGIN = "login"


class AuditEvent(msgspec.Struct, frozen=True, array_like=True):
    """What a core emits (an output of kind ``AUDIT``, actors/runtime/outputs.py): the kind and
    the body (any msgspec-encodable value: a struct, a dict of strings and ints). The shell
    gives it its writer, sequence, time, origin and link when it appends it."""

    kind: AuditKind
    body: Any


class Record(msgspec.Struct, frozen=True, array_like=True):
    """One stored record. ``time_ns``: the time of the actor's input that produced it.
    ``origin``: the journal sequence of that input (0: the writer journals nothing), so a
    replay that regenerates records is recognised (:func:`already_written`); ``index``: the
    record's place among those of the same input. ``body``: msgpack bytes, decoded by
    :func:`body_of`."""

    writer: str
    seq: int
    time_ns: int
    kind: str
    origin: int
    index: int
    body: bytes
    prev: bytes


class Head(msgspec.Struct, frozen=True):
    """Where a chain stands: its last record's sequence, hash and origin (``seq`` 0 and the
    genesis hash for an empty chain)."""

    writer: str
    seq: int
    hash: bytes
    origin: int = 0
    index: int = 0


class Anchor(msgspec.Struct, frozen=True, array_like=True):
    """A chain's head as signed: ``count`` is the number of records the chain holds (its
    sequence, since sequences are dense from 1); ``time_ns`` the head record's time."""

    writer: str
    seq: int
    hash: bytes
    count: int
    time_ns: int


_encoder = msgspec.msgpack.Encoder()
_KIND_TEXT: dict[str, str] = {kind: str(kind) for kind in AuditKind}  # a record's ``kind``: the member's value, a plain str
_record_decoder = msgspec.msgpack.Decoder(Record)
_anchor_decoder = msgspec.msgpack.Decoder(Anchor)


def genesis(writer: str) -> bytes:
    """The hash the first record of ``writer``'s chain links to: names the writer, so a chain
    copied under another writer's name does not verify."""
    return hashlib.sha256(GENESIS_PREFIX + writer.encode()).digest()


def empty_head(writer: str) -> Head:
    return Head(writer, 0, genesis(writer))


def encode_body(body: Any) -> bytes:
    return _encoder.encode(body)


def body_of(record: Record) -> Any:
    """The body as plain values (dicts, lists, strings, ints)."""
    return msgspec.msgpack.decode(record.body)


def encode_record(record: Record) -> bytes:
    return _encoder.encode(record)


def decode_record(payload: bytes) -> Record:
    """``msgspec.DecodeError`` or ``msgspec.ValidationError`` for what is not a record."""
    return _record_decoder.decode(payload)


def record_hash(payload: bytes) -> bytes:
    return hashlib.sha256(payload).digest()


def frame(payload: bytes) -> bytes:
    return FRAME_HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def chain(head: Head, events: Iterable[AuditEvent], time_ns: int, origin: int = 0, first_index: int = 0) -> tuple[bytes, Head, int]:
    """The frames of ``events`` continuing ``head`` (one input's events: same time and origin,
    indexes from ``first_index``), the new head and how many records. Pure: the caller writes
    the bytes."""
    out = bytearray()
    seq, prev = head.seq, head.hash
    last_index = head.index
    count = 0
    writer = head.writer
    # ``encode_record``, ``frame`` and ``record_hash`` inline (the same bytes): every order
    # writes two records or more, and a frame is built into ``out`` without a copy of its own
    encode, header, crc, sha256, kinds = _encoder.encode, FRAME_HEADER.pack, zlib.crc32, hashlib.sha256, _KIND_TEXT
    for index, event in enumerate(events, first_index):
        seq += 1
        kind = event.kind
        payload = encode(Record(writer, seq, time_ns, kinds.get(kind) or str(kind), origin, index, encode(event.body), prev))
        out += header(len(payload), crc(payload))
        out += payload
        prev = sha256(payload).digest()
        last_index = index
        count += 1
    if count == 0:
        return b"", head, 0
    return bytes(out), Head(head.writer, seq, prev, origin, last_index), count


def already_written(head: Head, origin: int, index: int) -> bool:
    """Whether the record of input ``origin``'s ``index``-th event is in the chain already: a
    replay after a crash regenerates the records of inputs the log may hold. Only for writers
    that journal (origin > 0): their origins only grow along the chain."""
    return origin > 0 and (origin, index) <= (head.origin, head.index)


# --- frames --------------------------------------------------------------------------------------


class Frame(msgspec.Struct, frozen=True):
    """One frame as read: where it starts, its payload (``None`` when its CRC does not match),
    and where the next frame starts."""

    offset: int
    payload: bytes | None
    end: int


def read_frames(data: bytes | memoryview, start: int = 0) -> Iterator[Frame]:
    """Every frame of ``data`` from ``start``, in order. Stops at the first frame that is not
    whole (a header or payload cut short, or a length over :data:`MAX_PAYLOAD_BYTES`) or whose
    length is 0, yielding it with payload ``None`` and ``end`` the end of ``data``; a whole
    frame whose CRC fails is yielded with payload ``None`` and reading goes on after it.

    Guarantees: a frame of length 0 is never a record (no record encodes empty). It is what a
    zero-filled block reads as (a power cut can leave the file's new size with blocks never
    written, past the last fsync), and its CRC matches (``crc32(b"") == 0``): so it is damage
    where reading stops, the start of a torn tail when past the durable mark."""
    view = memoryview(data)
    size = len(view)
    offset = start
    header = FRAME_HEADER.size
    while offset < size:
        if size - offset < header:
            yield Frame(offset, None, size)
            return
        length, crc = FRAME_HEADER.unpack_from(view, offset)
        end = offset + header + length
        if length == 0 or length > MAX_PAYLOAD_BYTES or end > size:
            yield Frame(offset, None, size)
            return
        payload = bytes(view[offset + header : end])
        yield Frame(offset, payload if zlib.crc32(payload) == crc else None, end)
        offset = end


def valid_prefix(data: bytes | memoryview) -> tuple[int, int, Record | None, bytes | None]:
    """``(end, count, last, last_payload)``: where the frames that are whole and decode as
    records end, how many there are, and the last of them (``None`` without any)."""
    end = count = 0
    last: Record | None = None
    last_payload: bytes | None = None
    for found in read_frames(data):
        if found.payload is None:
            break
        try:
            last = decode_record(found.payload)
        except (msgspec.DecodeError, msgspec.ValidationError):
            break
        last_payload, end = found.payload, found.end
        count += 1
    return end, count, last, last_payload


# --- anchors -------------------------------------------------------------------------------------


def anchor_of(head: Head, time_ns: int) -> Anchor:
    return Anchor(head.writer, head.seq, head.hash, head.seq, time_ns)


def anchor_bytes(anchor: Anchor) -> bytes:
    """What an anchor's signature signs."""
    return ANCHOR_DOMAIN + _encoder.encode(anchor)


def decode_anchor(data: bytes) -> Anchor:
    return _anchor_decoder.decode(data)


def anchor_due(last_anchor_ns: int | None, now_ns: int, interval_s: int) -> bool:
    """Whether a chain should be anchored now: never anchored, or ``interval_s`` since the last
    (0: only when asked, at a clean stop)."""
    if last_anchor_ns is None:
        return True
    return interval_s > 0 and now_ns - last_anchor_ns >= interval_s * 1_000_000_000


# --- checking a chain ------------------------------------------------------------------------------

MODIFIED, MISSING, REORDERED, INSERTED, TRUNCATED, BAD_SIGNATURE, TORN = (
    "modified",
    "missing",
    "reordered",
    "inserted",
    "truncated after an anchor",
    "bad signature",
    "torn tail",
)
REASONS = (MODIFIED, MISSING, REORDERED, INSERTED, TRUNCATED, BAD_SIGNATURE, TORN)
LOOKAHEAD = 4096  # records read past a gap to tell records out of order from records gone


class Finding(msgspec.Struct, frozen=True):
    """One finding: ``severity`` ``error`` (the chain is broken there) or ``warning`` (a torn
    tail the writer cuts when it opens: never acknowledged); ``seq`` the first bad record's
    sequence (0 when it has none: an anchor file that does not verify)."""

    severity: str
    writer: str
    seq: int
    reason: str
    detail: str


class Item(msgspec.Struct, frozen=True):
    """One frame of a chain as a checker sees it: its payload (``None`` for a frame whose CRC
    fails or that is cut short), where it is (``segment:offset``), whether it is the last
    frame of the open segment past the writer's durable mark (a torn tail) and whether the
    data ends inside it (a cut)."""

    payload: bytes | None
    where: str
    torn: bool = False
    cut: bool = False  # the data ends inside this frame


class ChainCheck:
    """Checks one writer's chain, fed frame by frame in stored order (``feed``), then anchors
    (``finish``). Pure. ``start``: the head the first record must continue (its writer's
    genesis for a whole chain; ``None`` to take the first record's link on trust, when only a
    range of days is checked).

    Guarantees: at most one error per chain, the first; a frame after it is only looked at to
    tell a reordering or a duplicate from a gap; ``records`` counts the frames that checked."""

    def __init__(self, writer: str, start: Head | None, anchors: Iterable[Anchor] = ()) -> None:
        self.writer = writer
        self.head: Head | None = start
        self.first_seq: int | None = None
        self.records = 0
        self.findings: list[Finding] = []
        self.broken = False
        self._stopped = False
        self._cut: str | None = None  # where a cut short frame ended the chain before its durable mark
        self._pending: Finding | None = None  # a gap waiting for the lookahead to name it
        self._pending_seq = 0  # the sequence whose later appearance renames the pending finding
        self._pending_window = 0  # how many frames to look at for it
        self._ahead = 0
        self._anchors = {anchor.seq: anchor for anchor in anchors if anchor.writer == writer}
        self._anchors_reached: set[int] = set()

    def _fail(self, seq: int, reason: str, detail: str) -> None:
        self.findings.append(Finding("error", self.writer, seq, reason, detail))
        self.broken = True

    def feed(self, item: Item) -> None:
        if self.broken or self._stopped:
            return
        if self._pending is not None:
            self._look_ahead(item)
            return
        expected = 1 if self.head is None else self.head.seq + 1
        if item.payload is None:
            if item.torn:
                self.findings.append(Finding("warning", self.writer, expected, TORN, f"{item.where}: a damaged frame after the last acknowledged record (the writer cuts it when it opens)"))
                self._stopped = True  # nothing after a torn tail counts; anchors are still checked
                return
            if item.cut:  # the file ends inside a frame: the chain stops here (finish names it)
                self._cut = f"{item.where}: the segment ends inside record {expected}, which was acknowledged (cut after it was written)"
                self._stopped = True
                return
            return self._fail(expected, MODIFIED, f"{item.where}: the frame's checksum does not match or its length is damaged (record {expected} or after)")
        try:
            record = decode_record(item.payload)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return self._fail(expected, MODIFIED, f"{item.where}: the frame's checksum matches but it is not a record")
        digest = record_hash(item.payload)
        if record.writer != self.writer:
            return self._fail(record.seq, INSERTED, f"{item.where}: a record of writer {record.writer!r} in {self.writer!r}'s chain")
        if self.head is None:  # a range: the first record's link is taken on trust
            self._accept(record, digest)
            return
        if record.seq == expected:
            if record.prev != self.head.hash:
                # the record before does not hash to what this one links to: it was changed (its
                # CRC recomputed), or this record is a forgery put before the real one (which then
                # follows with the same sequence: the next frame tells)
                detail = f"{item.where}: record {record.seq} links to a hash that record {self.head.seq} does not have"
                self._pending = Finding("error", self.writer, self.head.seq, MODIFIED, detail)
                self._pending_seq, self._pending_window = record.seq, 1
                return
            self._accept(record, digest)
            return
        if record.seq <= self.head.seq:
            if record.seq == self.head.seq:
                return self._fail(record.seq, INSERTED, f"{item.where}: two records carry sequence {record.seq}")
            return self._fail(expected, INSERTED, f"{item.where}: a record of sequence {record.seq} where {expected} belongs")
        # a gap: the records expected..record.seq-1 are elsewhere later (reordered) or gone (missing)
        self._pending = Finding("error", self.writer, expected, MISSING, f"{item.where}: records {expected}..{record.seq - 1} are missing (record {record.seq} follows {self.head.seq})")
        self._pending_seq, self._pending_window = expected, LOOKAHEAD

    def _look_ahead(self, item: Item) -> None:
        """Name a pending finding from the frames after it: a gap whose first record turns up
        later is a reordering; a bad link followed by a record of the same sequence is a record
        inserted before it."""
        pending = self._pending
        assert pending is not None
        self._ahead += 1
        seq = 0
        if item.payload is not None:
            try:
                seq = decode_record(item.payload).seq
            except (msgspec.DecodeError, msgspec.ValidationError):
                seq = 0
        if seq and seq == self._pending_seq:
            self._pending = None
            if pending.reason == MISSING:
                self._fail(seq, REORDERED, f"{item.where}: record {seq} is stored after records that follow it")
            else:
                self._fail(seq, INSERTED, f"{item.where}: two records carry sequence {seq}; the first does not link to record {seq - 1}")
            return
        if self._ahead >= self._pending_window:
            self._close_pending()

    def _close_pending(self) -> None:
        if self._pending is not None:
            self.findings.append(self._pending)
            self.broken = True
            self._pending = None

    def _accept(self, record: Record, digest: bytes) -> None:
        if self.first_seq is None:
            self.first_seq = record.seq
        anchor = self._anchors.get(record.seq)
        if anchor is not None:
            self._anchors_reached.add(record.seq)
            if anchor.hash != digest:
                self._fail(record.seq, MODIFIED, f"record {record.seq} does not hash to what the anchor of sequence {record.seq} signed: it or a record before it was rewritten")
                return
        self.head = Head(self.writer, record.seq, digest, record.origin, record.index)
        self.records += 1

    def finish(self, whole_tail: bool = True) -> list[Finding]:
        """The findings, after the last frame. ``whole_tail``: the check reached the chain's
        newest segment, so an anchor past its end means records were removed."""
        self._close_pending()
        if self.broken or not whole_tail:
            return self.findings
        last = 0 if self.head is None else self.head.seq
        beyond = sorted(seq for seq in self._anchors if seq > last)
        if beyond:
            self._fail(last + 1, TRUNCATED, f"the chain ends at {last} but an anchor signed its head at {beyond[-1]}: records {last + 1}..{beyond[-1]} are gone")
        elif self._cut is not None:
            self._fail(last + 1, MODIFIED, self._cut)
        return self.findings
