"""The snapshot format, version 4: msgpack, typed by msgspec (docs/recovery.md, "Snapshots").

A snapshot is one ``Snapshot``: the format's name and version, the kind of core, the
core's state as the struct its ``snapshot()`` gives and its ``restore`` takes (each core
spells its state out field by field, derived indexes left out), the last seq applied per
sender and the outbox (the seq sent per destination and every batch not yet acked, as sent).

Guarantees:

* What ``encode`` writes, ``load`` restores to the same ``state_hash`` (each core's round
  trip is tested, and so are snapshots of every role written by earlier versions).
* Version 3 is read as well: it is laid out as version 4 but for an InstrumentActor's
  orders for the open, which it holds as routes (version 4: in columns, ``held_open``);
  they go into the columns as it is restored. Version 4 is new because an older reader
  would have ignored the columns and silently lost those orders; it refuses them instead.
* Version 2 — a pickle, what brokerd wrote before — is read by ``actors/runtime/format2.py``
  through an allow-list of brokerd's own classes and migrated to version 3 field by field;
  the next snapshot is written in version 4.
* Anything else — another format, a version this code does not know (a newer one), a
  snapshot of another kind of core, bytes that do not decode — is refused with
  ``JournalCorrupt`` naming the actor and what was found; nothing of it is loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar, Generic, NamedTuple, Protocol, TypeVar

import msgspec

from snapshots.journal import JournalCorrupt

FORMAT = "brokerd-snapshot"
VERSION = 4
READABLE = (3, 4)  # msgpack versions this code reads (and 2, the pickles: ``format2``)
PICKLE_START = b"\x80"  # a pickle's first opcode (PROTO): version 2; a msgpack map never starts so

S = TypeVar("S")


class OutboxState(msgspec.Struct, array_like=True):
    """A ``DurableOutbox`` in a snapshot: the seq sent per destination, and the batches not
    yet acked (``(seq, bytes)``, the bytes as sent, so that a resend repeats them exactly)."""

    seq: dict[str, int]
    unacked: dict[str, list[tuple[int, bytes]]]


class Snapshot(msgspec.Struct, Generic[S]):
    """The envelope (a map: a field added later gets a default and older snapshots still read)."""

    format: str
    version: int
    kind: str  # the core's: ``kind`` of its state struct
    core: S
    applied: dict[str, int]  # sender → last seq applied
    outbox: OutboxState


class _Header(msgspec.Struct):
    """What is read of a snapshot that does not decode, to say what it is."""

    format: str = "?"
    version: int = 0
    kind: str = "?"


class Snapshottable(Protocol):
    """A core that snapshots: ``snapshot_type`` is its state struct (with a ``kind``), which
    ``snapshot()`` returns and the classmethod ``restore`` turns back into a core. A core
    may also offer ``snapshot_to_write(now)``: the same state for ``capture`` alone, its
    lists of encoded records given as ``Encoded`` and (``now=False``) its records that a
    snapshot writes otherwise than they stand as ``Prepared``."""

    snapshot_type: ClassVar[Any]

    def snapshot(self) -> Any: ...

    @classmethod
    def restore(cls, state: Any) -> Any: ...


class Loaded(NamedTuple):
    core: Any
    applied: dict[str, int]
    outbox: tuple[dict[str, int], dict[str, list[tuple[int, bytes]]]]


_encoder = msgspec.msgpack.Encoder()
_decoders: dict[type, msgspec.msgpack.Decoder[Any]] = {}
_header = msgspec.msgpack.Decoder(_Header)


def kind_of(core_type: type[Snapshottable]) -> str:
    kind: str = core_type.snapshot_type.kind
    return kind


class Later(NamedTuple):
    """A long list of live records in a snapshot taken with ``now=False``, encoded as it is
    written (``parts``): what was taken only until the core changes again, so such a
    snapshot is written before anything else runs (``Snapshotter.take``)."""

    records: list[msgspec.Struct]
    prepare: Callable[[Any], msgspec.Struct] | None = None  # each record as written: ``prepare(record)`` (``Prepared``)


class Prepared(NamedTuple):
    """A list of live records that a snapshot writes as ``prepare`` gives each (an account
    shard's accounts with their staged fills filed and pending lots opened in a copy, the
    live records left as they are), where a state struct a core gives to ``capture``
    (``snapshot_to_write``) would hold the prepared records. Only ``capture`` reads it."""

    records: list[msgspec.Struct]
    prepare: Callable[[Any], msgspec.Struct]


LATER_RECORDS = 1024  # a list of structs this long is encoded as written (``capture(now=False)``)


class Encoded(NamedTuple):
    """A list of records already encoded, as ``bytes``, where a state struct that a core
    gives to ``capture`` (``snapshot_to_write``) would hold them as ``msgspec.Raw``: the
    same bytes written, without a wrapper object per record (an account shard's orders:
    280 MB of them at 5,000,000 orders). Only ``capture`` reads it; msgspec cannot."""

    records: Iterable[bytes]  # a list; for a snapshot written at once (``now=False``), any iterable of ``size``
    size: int


Captured = list["bytes | list[msgspec.Raw] | Later | Encoded"]
"""A snapshot taken but not yet written (``capture``): its bytes as far as they are encoded,
each list of already-encoded records (``msgspec.Raw``) as the list itself, and (``now=False``)
each long list of live records as ``Later``."""

_SPECIAL = (Encoded, Prepared)  # what only ``capture`` reads in a state struct


def capture(
    core: Snapshottable, applied: dict[str, int], outbox: tuple[dict[str, int], dict[str, list[tuple[int, bytes]]]], now: bool = True
) -> Captured:
    """The snapshot of ``core`` with the seqs it has applied and its outbox
    (``DurableOutbox.dump``), as of now, to be written later by ``parts``.

    Everything is encoded now, but a list of ``msgspec.Raw`` in the core's state (an
    account shard's orders): it is kept by reference, its records written as they are.
    A core gives such a list only fresh and of immutable records (``bytes``), so what is
    written later is what was taken now, and taking it costs no copy of the book.

    ``now=False``: long lists of live records (an account shard's accounts) are kept by
    reference too and encoded one record at a time as ``parts`` writes them — for a
    snapshot written before the core changes again (a clean shutdown's, an operator's),
    whose whole encoding then never sits in memory beside the records (1.5 GB a shard at
    10,000,000 orders). The bytes are the same."""
    to_write = getattr(core, "snapshot_to_write", None)
    state = core.snapshot() if to_write is None else to_write(now)
    pieces: Captured = []
    _capture(Snapshot(FORMAT, VERSION, state.kind, state, applied, OutboxState(*outbox)), pieces, now)
    return pieces


def parts(captured: Captured, part_bytes: int) -> Iterator[bytes]:
    """The snapshot's bytes in parts of about ``part_bytes`` (a part ends after the record
    that reaches the size), each made when asked for: joined, they are exactly ``encode``'s."""
    buffer = bytearray()
    encode = _encoder.encode
    for piece in captured:
        if isinstance(piece, Later):
            buffer += _array_header(len(piece.records))
            prepare = piece.prepare
            for record in piece.records:
                buffer += encode(record if prepare is None else prepare(record))
                if len(buffer) >= part_bytes:
                    yield bytes(buffer)
                    buffer.clear()
            continue
        if isinstance(piece, Encoded):
            buffer += _array_header(piece.size)
            for encoded in piece.records:
                buffer += encoded
                if len(buffer) >= part_bytes:
                    yield bytes(buffer)
                    buffer.clear()
            continue
        if isinstance(piece, bytes):
            view = memoryview(piece)
            while len(view):
                room = max(part_bytes - len(buffer), 1)
                buffer += view[:room]
                view = view[room:]
                if len(buffer) >= part_bytes:
                    yield bytes(buffer)
                    buffer.clear()
            continue
        buffer += _array_header(len(piece))
        for raw in piece:
            buffer += raw
            if len(buffer) >= part_bytes:
                yield bytes(buffer)
                buffer.clear()
    if buffer:
        yield bytes(buffer)


def encode(core: Snapshottable, applied: dict[str, int], outbox: tuple[dict[str, int], dict[str, list[tuple[int, bytes]]]]) -> bytes:
    """The snapshot of ``core`` in one piece (the bytes ``parts`` gives, joined)."""
    return b"".join(parts(capture(core, applied, outbox), _WHOLE))


_WHOLE = 1 << 62  # a part size nothing reaches: one part


def _capture(value: msgspec.Struct, pieces: Captured, now: bool = True) -> None:
    """``value`` (a struct encoded as a map, msgspec's layout: every field, in order) onto
    ``pieces``, its lists of ``msgspec.Raw`` kept as they are, the rest encoded now (but,
    with ``now=False``, its long lists of structs: ``Later``)."""
    cls = type(value)
    fields = cls.__struct_fields__
    encode = _encoder.encode
    pending = bytearray(_map_header(len(fields)))
    for field, name in zip(fields, cls.__struct_encode_fields__, strict=True):
        pending += encode(name)
        item = getattr(value, field)
        if isinstance(item, Encoded) or (isinstance(item, list) and item and isinstance(item[0], msgspec.Raw)):
            pieces.append(bytes(pending))
            pending.clear()
            pieces.append(item)
        elif isinstance(item, Prepared):
            if now:
                pending += encode([item.prepare(record) for record in item.records])
            else:
                pieces.append(bytes(pending))
                pending.clear()
                pieces.append(Later(item.records, item.prepare))
        elif not now and isinstance(item, list) and len(item) >= LATER_RECORDS and isinstance(item[0], msgspec.Struct):
            pieces.append(bytes(pending))
            pending.clear()
            pieces.append(Later(item))
        elif isinstance(item, msgspec.Struct) and not item.__struct_config__.array_like and _holds_raw_list(item):
            pieces.append(bytes(pending))
            pending.clear()
            _capture(item, pieces, now)
        else:
            pending += encode(item)
    pieces.append(bytes(pending))


def _holds_raw_list(value: msgspec.Struct) -> bool:
    return any(isinstance(item, _SPECIAL) or (isinstance(item, list) and item and isinstance(item[0], msgspec.Raw)) for item in msgspec.structs.astuple(value))


def _map_header(count: int) -> bytes:
    if count < 16:
        return bytes((0x80 | count,))
    return b"\xde" + count.to_bytes(2, "big") if count < 1 << 16 else b"\xdf" + count.to_bytes(4, "big")


def _array_header(count: int) -> bytes:
    if count < 16:
        return bytes((0x90 | count,))
    return b"\xdc" + count.to_bytes(2, "big") if count < 1 << 16 else b"\xdd" + count.to_bytes(4, "big")


def load(name: str, core_type: type[Snapshottable], payload: bytes) -> Loaded:
    """The core ``payload`` holds, restored, with its seqs and outbox. Raises ``JournalCorrupt``."""
    if payload[:1] == PICKLE_START:
        from actors.runtime import format2

        snapshot = format2.read(name, payload)
    else:
        snapshot = _decode(name, core_type, payload)
    expected = kind_of(core_type)
    if snapshot.kind != expected or not isinstance(snapshot.core, core_type.snapshot_type):
        raise JournalCorrupt(_wrong_kind(name, snapshot.kind, expected))
    outbox = snapshot.outbox
    try:
        core = core_type.restore(snapshot.core)
    except msgspec.DecodeError as error:  # a record the core decodes as it restores (an account shard's orders)
        raise JournalCorrupt(f"{name}: the snapshot ({snapshot.kind}) holds a record that does not decode: {error}") from None
    return Loaded(core, dict(snapshot.applied), (dict(outbox.seq), dict(outbox.unacked)))


def _decode(name: str, core_type: type[Snapshottable], payload: bytes) -> Snapshot[Any]:
    decoder = _decoders.get(core_type)
    if decoder is None:
        decoder = _decoders[core_type] = msgspec.msgpack.Decoder(Snapshot[core_type.snapshot_type])  # type: ignore[name-defined]
    snapshot: Snapshot[Any] | None
    try:
        snapshot = decoder.decode(payload)
    except msgspec.DecodeError as error:  # ValidationError included
        header = _read_header(payload)
        if header is not None and header.format == FORMAT and header.version in READABLE:
            if header.kind != kind_of(core_type):
                raise JournalCorrupt(_wrong_kind(name, header.kind, kind_of(core_type))) from None
            raise JournalCorrupt(f"{name}: the snapshot ({FORMAT}/{header.version}, {header.kind}) does not decode: {error}") from None
        snapshot = None
    if snapshot is None or snapshot.format != FORMAT or snapshot.version not in READABLE:
        header = _read_header(payload)
        found = "bytes that are no brokerd snapshot" if header is None else f"format {header.format}/{header.version}"
        raise JournalCorrupt(
            f"{name}: the snapshot is in {found}, which this version does not read ({FORMAT}/2 to /{VERSION}); "
            "was it written by a newer brokerd?"
        )
    return snapshot


def _wrong_kind(name: str, found: str, expected: str) -> str:
    return f"{name}: the snapshot holds a core of kind {found!r}, this actor's is {expected!r}"


def _read_header(payload: bytes) -> _Header | None:
    try:
        return _header.decode(payload)
    except msgspec.DecodeError:
        return None
