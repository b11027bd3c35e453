"""One actor's write-ahead journal and snapshots in its own LMDB environment.

Layout of ``<data-dir>/<actor-name>/`` (one LMDB environment, single writer):

* ``journal``: key = sequence (8-byte big-endian), value = record;
* ``snapshots``: key = the journal sequence the snapshot covers, value = record: the
  snapshot itself, or (a snapshot written in parts) a manifest ``PARTS`` + part count + size;
* ``snapshot_parts``: key = sequence + part number (8 + 4 bytes, big-endian), value = record;
* record = CRC-32 of the payload (4 bytes, big-endian) + payload.

Guarantees:

* ``append`` writes a whole group of inputs in one transaction (group commit); with
  ``durability="fsync"`` the commit is on disk when it returns.
* Sequences are dense from 1; ``read_from`` yields them in order and checks every record.
* A snapshot exists whole or not at all; it names the journal position it covers. Given
  as one ``bytes`` it is written in one transaction; given as parts (an iterable), each
  part is committed in a transaction of its own and the manifest last, in one more: a
  crash before the manifest's commit leaves parts no snapshot names, never read and dropped
  by the next ``truncate``. So a snapshot of any size holds one part in memory at a time. ``truncate`` drops entries that the
  *previous* good snapshot already covers, so a damaged newest snapshot can fall back one.
* Corruption is never loaded silently: a bad last record (torn tail) is cut with a warning;
  a bad record before the end raises ``JournalCorrupt`` naming the actor, the sequence and
  what to do; a snapshot that fails its checksum is skipped for the previous one.
* ``Journal(..., readonly=True)`` changes nothing on disk (no reader check, no cut, no
  directory created; only LMDB's reader table in ``lock.mdb`` is used), so it can check a
  journal while its actor is writing; writing through it raises ``lmdb.ReadonlyError``.

``JournalLike`` is what an actor's host uses; ``NullJournal`` is the one behind
``durability = "none"``, so the host never asks whether it has a journal.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, overload

import lmdb
import msgspec
import structlog

from snapshots.crashpoints import NOWHERE, CrashPoints
from snapshots.findings import Inspection, Issue, Scan, inspection

log = structlog.get_logger("journal")

_KEY = struct.Struct(">Q")
_PART_KEY = struct.Struct(">QI")  # snapshot sequence, part number
_CRC = struct.Struct(">I")
_MANIFEST = struct.Struct(">IQ")  # part count, total size
PARTS = b"\x00brokerd-snapshot-parts\x00"  # a snapshot's payload never starts with a 0 byte (msgpack map, pickle)
GROWTH_FACTOR = 2


class JournalCorrupt(RuntimeError):
    """A record that fails its checksum before the end of the journal."""


class SnapshotInfo(msgspec.Struct, frozen=True):
    seq: int
    size: int


def checked_record(payload: bytes) -> bytes:
    return _CRC.pack(zlib.crc32(payload)) + payload


@overload
def checked_payload(record: bytes) -> bytes | None: ...
@overload
def checked_payload(record: memoryview) -> memoryview | None: ...


def checked_payload(record: bytes | memoryview) -> bytes | memoryview | None:
    """The payload if the checksum holds, else ``None`` (a view of a view: nothing copied)."""
    if len(record) < 4:
        return None
    (crc,) = _CRC.unpack_from(record)
    payload = record[4:]
    return payload if zlib.crc32(payload) == crc else None


def _stored_size(record: bytes) -> int:
    """A stored snapshot's size: its record's, or for one in parts the parts' total."""
    if record[4 : 4 + len(PARTS)] == PARTS and len(record) == 4 + len(PARTS) + _MANIFEST.size:
        return int(_MANIFEST.unpack_from(record, 4 + len(PARTS))[1])
    return len(record)


def _drop_parts(txn: lmdb.Transaction, table: lmdb._Database, dropped: Callable[[int], bool]) -> None:
    """Delete the snapshot parts whose snapshot sequence ``dropped`` picks."""
    cursor = txn.cursor(db=table)
    found = cursor.first()
    while found:
        (seq, _) = _PART_KEY.unpack(bytes(cursor.key()))
        if dropped(seq):
            cursor.delete()  # and on to the next, if any
            found = len(cursor.key()) > 0
        else:
            found = cursor.next()


class Journal:
    """The journal and snapshot store of one actor. Not thread-safe: one writer, the actor.

    ``readonly=True`` opens an existing journal for checking (``verify``, ``inspect``,
    reading) beside a running writer, in another process; its ``last_seq`` is where recovery
    would continue (a torn tail skipped, not cut)."""

    replayable = True  # it keeps every record since its oldest snapshot

    def __init__(
        self,
        path: str | Path,
        name: str,
        durability: str = "fsync",
        map_size: int = 64 * 1024 * 1024,
        crash: CrashPoints = NOWHERE,
        readonly: bool = False,
    ) -> None:
        if durability not in ("fsync", "buffered"):
            raise ValueError(f"durability must be fsync or buffered, not {durability!r}")
        self.path = Path(path)
        self.name = name
        self.crash = crash
        self.readonly = readonly
        if readonly:
            self.env = self._open_readonly()
            self.journal, self.snapshots = self._open_tables_readonly()
            self.last_seq = self._last_good_seq()
            return
        self.path.mkdir(parents=True, exist_ok=True)
        self.env = lmdb.open(
            str(self.path),
            map_size=map_size,
            max_dbs=4,
            sync=durability == "fsync",
            metasync=durability == "fsync",
            lock=True,
        )
        self.env.reader_check()  # free reader slots left by a process that was killed
        self.journal = self.env.open_db(b"journal")
        self.snapshots = self.env.open_db(b"snapshots")
        self.parts: lmdb._Database | None = self.env.open_db(b"snapshot_parts")
        self.last_seq = self._find_last_seq()

    def _open_readonly(self) -> lmdb.Environment:
        if not (self.path / "data.mdb").is_file():
            raise FileNotFoundError(f"{self.name}: no journal at {self.path} (no data.mdb)")
        # lock=True: our read transaction takes a slot in the reader table, so a running
        # writer never reuses the pages we read; lock=False would race it. map_size=0: the
        # size the writer last set.
        return lmdb.open(str(self.path), readonly=True, lock=True, create=False, max_dbs=4, map_size=0)

    def _open_tables_readonly(self) -> tuple[lmdb._Database, lmdb._Database]:
        try:
            tables = self.env.open_db(b"journal", create=False), self.env.open_db(b"snapshots", create=False)
        except lmdb.NotFoundError:
            self.env.close()
            raise JournalCorrupt(f"{self.name}: {self.path} has no journal or snapshots table; not a brokerd journal") from None
        try:
            self.parts = self.env.open_db(b"snapshot_parts", create=False)
        except lmdb.NotFoundError:  # written before snapshots had parts
            self.parts = None
        return tables

    # --- writing ---------------------------------------------------------------------------

    def append(self, payloads: list[bytes]) -> int:
        """Append a group of inputs in one transaction; returns the sequence of the last."""
        if not payloads:
            return self.last_seq
        first = self.last_seq + 1

        def write(txn: lmdb.Transaction) -> None:
            for offset, payload in enumerate(payloads):
                if not txn.put(_KEY.pack(first + offset), checked_record(payload), db=self.journal, overwrite=False):
                    raise JournalCorrupt(f"{self.name}: sequence {first + offset} already written")
            self.crash.hit("journal.before_commit")

        self._write(write)
        self.last_seq = first + len(payloads) - 1
        return self.last_seq

    def write_snapshot(self, seq: int, state: bytes | Iterable[bytes]) -> None:
        """Store the state that results from applying the journal up to ``seq``: one
        ``bytes``, or its parts in order (a generator: each made when it is written)."""
        if seq > self.last_seq:
            raise ValueError(f"{self.name}: snapshot at {seq} is past the journal end {self.last_seq}")
        if isinstance(state, bytes):
            payload = state
        else:
            count, size = self._write_parts(seq, state)
            payload = PARTS + _MANIFEST.pack(count, size)

        def write(txn: lmdb.Transaction) -> None:
            txn.put(_KEY.pack(seq), checked_record(payload), db=self.snapshots)
            self.crash.hit("snapshot.write")

        self._write(write)

    def seed(self, snapshot: tuple[int, bytes] | None, records: Iterable[tuple[int, bytes]]) -> None:
        """Fill an empty journal with a copy kept elsewhere (the shipped copy of
        ``snapshots/shipping.py``): the snapshot at its sequence, then the records after it,
        which must follow on densely. Committed in one transaction."""
        if self.last_seq or self.snapshot_infos():
            raise ValueError(f"{self.name}: seed needs an empty journal (it ends at {self.last_seq})")
        expected = 1 if snapshot is None else snapshot[0] + 1

        def write(txn: lmdb.Transaction) -> None:
            nonlocal expected
            if snapshot is not None:
                txn.put(_KEY.pack(snapshot[0]), checked_record(snapshot[1]), db=self.snapshots)
            for seq, payload in records:
                if seq != expected:
                    raise JournalCorrupt(f"{self.name}: seed records jump from {expected - 1} to {seq}")
                txn.put(_KEY.pack(seq), checked_record(payload), db=self.journal)
                expected += 1

        self._write(write)
        self.last_seq = expected - 1

    def _write_parts(self, seq: int, parts: Iterable[bytes]) -> tuple[int, int]:
        """Each part committed on its own (parts left at ``seq`` by a write that never
        finished are dropped with the first); returns the count and the total size."""
        assert self.parts is not None
        table, count, size = self.parts, 0, 0
        for part in parts:
            key, record = _PART_KEY.pack(seq, count), checked_record(part)

            def write(txn: lmdb.Transaction, key: bytes = key, record: bytes = record, first: bool = count == 0) -> None:
                if first:
                    _drop_parts(txn, table, lambda stored: stored == seq)
                txn.put(key, record, db=table)

            self._write(write)
            del record
            count, size = count + 1, size + len(part)
            self.crash.hit("snapshot.part")
        return count, size

    def truncate(self) -> int:
        """Drop journal entries and snapshots that the second-newest good snapshot covers;
        returns how many entries were dropped."""
        snapshots = [info.seq for info in self.snapshot_infos() if self._snapshot_ok(info.seq)]
        if len(snapshots) < 2:
            return 0
        keep_from = snapshots[-2]
        dropped = 0

        def drop(txn: lmdb.Transaction) -> None:
            nonlocal dropped
            cursor = txn.cursor(db=self.journal)
            while cursor.first() and _KEY.unpack(cursor.key())[0] <= keep_from:
                cursor.delete()
                dropped += 1
            cursor = txn.cursor(db=self.snapshots)
            while cursor.first() and _KEY.unpack(cursor.key())[0] < keep_from:
                cursor.delete()
            if self.parts is not None:  # the dropped snapshots' parts, and parts no snapshot names
                kept = {_KEY.unpack(key)[0] for key in txn.cursor(db=self.snapshots).iternext(values=False)}
                _drop_parts(txn, self.parts, lambda stored: stored not in kept)
            self.crash.hit("journal.truncate")

        self._write(drop)
        return dropped

    def _write(self, work: Callable[[lmdb.Transaction], object]) -> None:
        """Run ``work(txn)`` in a write transaction, growing the map when it is full."""
        while True:
            try:
                with self.env.begin(write=True) as txn:
                    work(txn)
                return
            except lmdb.MapFullError:
                size = self.env.info()["map_size"] * GROWTH_FACTOR
                log.warning("journal map grown", actor=self.name, map_size=size)
                self.env.set_mapsize(size)

    # --- reading ---------------------------------------------------------------------------

    def read_from(self, seq: int) -> Iterator[tuple[int, bytes]]:
        """Every record with sequence ≥ ``seq``, checked; see ``JournalCorrupt``."""
        expected = seq
        with self.env.begin(buffers=False) as txn:
            cursor = txn.cursor(db=self.journal)
            if not cursor.set_range(_KEY.pack(seq)):
                return
            for key, record in cursor:
                (current,) = _KEY.unpack(key)
                if current != expected:
                    raise JournalCorrupt(f"{self.name}: journal jumps from {expected - 1} to {current}; restore the data dir from a copy")
                payload = checked_payload(record)
                if payload is None:
                    raise JournalCorrupt(
                        f"{self.name}: journal record {current} fails its checksum; "
                        f"recovery stops rather than load bad state. Restore {self.path} from a copy, "
                        "or run 'run_server.py admin journal verify' for the full list"
                    )
                yield current, payload
                expected += 1

    def snapshot_infos(self) -> list[SnapshotInfo]:
        with self.env.begin() as txn:
            return [SnapshotInfo(_KEY.unpack(key)[0], _stored_size(value)) for key, value in txn.cursor(db=self.snapshots)]

    def snapshot_at(self, seq: int) -> bytes | None:
        """The snapshot covering ``seq`` if it exists and its checksums hold."""
        with self.env.begin(buffers=True) as txn:
            record = txn.get(_KEY.pack(seq), db=self.snapshots)
            return None if record is None else self._whole(txn, seq, record)

    def latest_snapshot(self) -> tuple[int, bytes] | None:
        """The newest snapshot whose checksums hold (skipping damaged ones, with a warning)."""
        with self.env.begin(buffers=True) as txn:
            cursor = txn.cursor(db=self.snapshots)
            if not cursor.last():
                return None
            while True:
                (seq,) = _KEY.unpack(cursor.key())
                payload = self._whole(txn, seq, cursor.value())
                if payload is not None:
                    return seq, payload
                log.warning("snapshot fails its checksum; using the one before", actor=self.name, seq=seq)
                if not cursor.prev():
                    return None

    def _snapshot_ok(self, seq: int) -> bool:
        with self.env.begin(buffers=True) as txn:
            record = txn.get(_KEY.pack(seq), db=self.snapshots)
            return record is not None and self._checked(txn, seq, record) is not None

    def _whole(self, txn: lmdb.Transaction, seq: int, record: bytes | memoryview) -> bytes | None:
        """The snapshot's payload (its parts joined: one copy, read from the map), or ``None``
        if a checksum fails or a part is missing."""
        parts = self._checked(txn, seq, record)
        return None if parts is None else b"".join(parts)

    def _checked(self, txn: lmdb.Transaction, seq: int, record: bytes | memoryview) -> list[memoryview] | None:
        """The snapshot's payload as views into the map (one, or its parts), every checksum
        checked; ``None`` if one fails or a part is missing."""
        payload = checked_payload(memoryview(record))
        if payload is None:
            return None
        if bytes(payload[: len(PARTS)]) != PARTS:
            return [payload]
        count, size = _MANIFEST.unpack_from(payload, len(PARTS))
        parts: list[memoryview] = []
        for number in range(count):
            stored = None if self.parts is None else txn.get(_PART_KEY.pack(seq, number), db=self.parts)
            part = None if stored is None else checked_payload(memoryview(stored))
            if part is None:
                return None
            parts.append(part)
        return parts if sum(len(part) for part in parts) == size else None

    def first_seq(self) -> int:
        with self.env.begin() as txn:
            cursor = txn.cursor(db=self.journal)
            return _KEY.unpack(cursor.key())[0] if cursor.first() else self.last_seq + 1

    def _find_last_seq(self) -> int:
        """The last good sequence; a last record that fails its checksum is a torn tail: cut."""
        while True:
            with self.env.begin() as txn:
                cursor = txn.cursor(db=self.journal)
                if not cursor.last():
                    return self._newest_snapshot_seq(txn)
                (seq,) = _KEY.unpack(cursor.key())
                if checked_payload(cursor.value()) is not None:
                    return seq
            log.warning("torn journal tail cut", actor=self.name, seq=seq)
            self._cut(seq)

    def _last_good_seq(self) -> int:
        """``_find_last_seq`` without the cut: the last record whose checksum holds."""
        with self._reading() as txn:
            cursor = txn.cursor(db=self.journal)
            found = cursor.last()
            while found:
                if checked_payload(cursor.value()) is not None:
                    return int(_KEY.unpack(cursor.key())[0])
                found = cursor.prev()
            return self._newest_snapshot_seq(txn)

    @contextmanager
    def _reading(self) -> Iterator[lmdb.Transaction[bytes]]:
        """A read transaction. A read-only journal follows the writer's map growth: LMDB
        refuses a reader whose map is smaller than the data (``MapResizedError``)."""
        try:
            txn = self.env.begin(buffers=False)
        except lmdb.MapResizedError:
            self.env.set_mapsize(0)
            txn = self.env.begin(buffers=False)
        with txn:
            yield txn

    def _cut(self, seq: int) -> None:
        key = _KEY.pack(seq)
        self._write(lambda txn: txn.delete(key, db=self.journal))

    def _newest_snapshot_seq(self, txn: lmdb.Transaction) -> int:
        cursor = txn.cursor(db=self.snapshots)
        return _KEY.unpack(cursor.key())[0] if cursor.last() else 0

    # --- checking ------------------------------------------------------------------------------

    def verify(self) -> list[Issue]:
        """Check every record and snapshot without changing anything; see ``inspect``."""
        return self.inspect().issues

    def inspect(self) -> Inspection:
        """Check every record and snapshot in one read transaction, changing nothing; what
        counts as an error or a warning: ``snapshots/findings.py``."""
        with self._reading() as txn:
            scan = self._scan(txn)
        return inspection(self.name, self.path, scan)

    def _scan(self, txn: lmdb.Transaction[bytes]) -> Scan:
        first: int | None = None
        previous: int | None = None
        last_good: int | None = None
        bad: list[int] = []
        gaps: list[tuple[int, int]] = []
        for key, record in txn.cursor(db=self.journal):
            (seq,) = _KEY.unpack(key)
            if previous is None:
                first = seq
            elif seq != previous + 1:
                gaps.append((previous, seq))
            if checked_payload(record) is None:
                bad.append(seq)
            else:
                last_good = seq
            previous = seq
        snapshots = []
        for key, value in txn.cursor(db=self.snapshots):
            (seq,) = _KEY.unpack(key)
            snapshots.append((seq, self._checked(txn, seq, value) is not None))
        return Scan(first, previous, last_good, bad, gaps, snapshots)

    def sync(self) -> None:
        self.env.sync(True)

    def close(self) -> None:
        self.env.close()


class JournalLike(Protocol):
    """What a journaled actor's host needs of its journal (``Journal`` or ``NullJournal``).
    ``replayable``: whether what it holds rebuilds the state (``replay_hash``)."""

    name: str
    path: Path
    last_seq: int
    replayable: bool

    def append(self, payloads: list[bytes]) -> int: ...
    def write_snapshot(self, seq: int, state: bytes | Iterable[bytes]) -> None: ...
    def truncate(self) -> int: ...
    def read_from(self, seq: int) -> Iterator[tuple[int, bytes]]: ...
    def first_seq(self) -> int: ...
    def snapshot_infos(self) -> list[SnapshotInfo]: ...
    def snapshot_at(self, seq: int) -> bytes | None: ...
    def latest_snapshot(self) -> tuple[int, bytes] | None: ...
    def sync(self) -> None: ...
    def close(self) -> None: ...


class NullJournal:
    """``durability = "none"``: the state lives in memory only. Appends are dropped, nothing
    is read back, no snapshot is kept.

    Guarantees: ``last_seq`` stays 0, so a snapshot never covers anything new and the host
    never serialises its state for it; writes nothing anywhere, costs no system call."""

    replayable = False

    def __init__(self, name: str) -> None:
        self.name = name
        self.path = Path()
        self.last_seq = 0

    def append(self, payloads: list[bytes]) -> int:
        return 0

    def write_snapshot(self, seq: int, state: bytes | Iterable[bytes]) -> None:
        pass

    def truncate(self) -> int:
        return 0

    def read_from(self, seq: int) -> Iterator[tuple[int, bytes]]:
        return iter(())

    def first_seq(self) -> int:
        return 1

    def snapshot_infos(self) -> list[SnapshotInfo]:
        return []

    def snapshot_at(self, seq: int) -> bytes | None:
        return None

    def latest_snapshot(self) -> tuple[int, bytes] | None:
        return None

    def sync(self) -> None:
        pass

    def close(self) -> None:
        pass
