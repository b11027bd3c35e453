"""An actor's journal and snapshots shipped to shared storage as they are written, so that
the actor can be rebuilt on another node when its own node (and disk) is lost
(``[placement] failover``, docs/scale.md "A lost node").

LMDB must not live on a network file system (it maps its file into memory and locks it
in ways NFS does not keep), so the local journal stays on the node's own disk and a copy
of every record goes to plain append-only files in ``<shared_dir>/ship/<actor>/``:

    claim-<epoch>                       one per writer that ever opened the copy (empty)
    seg-<epoch>-<first seq>.log         records: seq, length and their CRC-32, then CRC-32 + payload
    snap-<epoch>-<seq>.snap             a snapshot: its parts as frames, then a trailer

(numbers zero-padded to fixed width, so names sort by value).

**Epochs fence an old writer.** A writer opening the copy first claims the next epoch
(``claim-<n>``, created exclusively), then reads what is there, then writes only under its
own epoch. After each append is on disk, and before it is acknowledged, the writer checks
that no ``claim-<n+1>`` exists; if one does, another node has taken over and the append
fails (the actor stops, nothing of it acknowledged). Reading honours the epochs: the
records and snapshots of epoch *e* count only below the first sequence a later epoch
wrote, so whatever a fenced writer appended after it was taken over is never read back.

Guarantees:

* ``append`` returns only once the records are in the file and fsynced, and the writer was
  not fenced: an acknowledged record is in the shared copy.
* ``put_snapshot`` writes the whole snapshot to a temporary name, fsyncs it and renames
  it: a snapshot file exists whole or not at all.
* ``restored`` gives the newest snapshot whose checksums hold and every record after
  it, dense and checked; a torn tail (a frame cut short by the crash, or zeros where a
  write never landed: never acknowledged) is skipped; any other damage raises
  ``ShippedCorrupt``. It reads the whole copy into memory (a journal since the
  second-newest snapshot, and one snapshot).
* Nothing here reads or writes the local journal: ``ShippedJournal`` does.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

import structlog

from snapshots.crashpoints import NOWHERE, CrashPoints
from snapshots.files import fsync_directory, write_bytes_atomically
from snapshots.journal import Journal, JournalCorrupt, checked_payload, checked_record

log = structlog.get_logger("shipping")

_FRAME = struct.Struct(">QII")  # seq, length of the checked record that follows, CRC-32 of those 12 bytes
_HEAD = struct.Struct(">QI")
_PART = struct.Struct(">I")  # a snapshot part's checked record's length
_TRAILER = b"\x00brokerd-snapshot-end\x00"
_TRAILER_COUNTS = struct.Struct(">IQ")  # after the trailer's marker: the parts' count and total size
_NAME = re.compile(r"^(claim|seg|snap)-(\d{8})(?:-(\d{16}))?(\.log|\.snap)?$")
LOCAL_EPOCH_FILE = "shipped-epoch"  # in the local journal's folder: the epoch it was last written under


class ShippedCorrupt(JournalCorrupt):
    """The shipped copy holds a damaged record before its end, or a gap."""


class Fenced(RuntimeError):
    """Another writer has claimed the shipped copy: this one must stop, acknowledging nothing."""


class _Segment(NamedTuple):
    epoch: int
    first: int
    path: Path


class _Snap(NamedTuple):
    epoch: int
    seq: int
    path: Path


class Listing(NamedTuple):
    """What the folder holds, by kind, each sorted."""

    claims: list[int]
    segments: list[_Segment]
    snapshots: list[_Snap]


class Restored(NamedTuple):
    """The state the shipped copy rebuilds: a snapshot (or none) and the records after it."""

    snapshot: tuple[int, bytes] | None
    records: list[tuple[int, bytes]]

    @property
    def last_seq(self) -> int:
        if self.records:
            return self.records[-1][0]
        return 0 if self.snapshot is None else self.snapshot[0]


class ShipStore:
    """One actor's shipped copy in a directory (shared storage). One writer at a time,
    fenced by epochs; any number of readers."""

    def __init__(self, folder: str | Path, name: str) -> None:
        self.folder = Path(folder)
        self.name = name
        self.epoch = 0  # ours once ``claim`` returns
        self._segment: int | None = None  # the open segment's file descriptor
        self._roll = True  # the next append opens a new segment (after a claim or a snapshot)

    # --- reading ------------------------------------------------------------------------------

    def listing(self) -> Listing:
        claims, segments, snapshots = [], [], []
        if self.folder.is_dir():
            for entry in self.folder.iterdir():
                found = _NAME.match(entry.name)
                if found is None:
                    continue
                kind, epoch, seq = found.group(1), int(found.group(2)), found.group(3)
                if kind == "claim" and seq is None:
                    claims.append(epoch)
                elif kind == "seg" and seq is not None and found.group(4) == ".log":
                    segments.append(_Segment(epoch, int(seq), entry))
                elif kind == "snap" and seq is not None and found.group(4) == ".snap":
                    snapshots.append(_Snap(epoch, int(seq), entry))
        return Listing(sorted(claims), sorted(segments), sorted(snapshots, key=lambda s: (s.seq, s.epoch)))

    def current_epoch(self) -> int:
        claims = self.listing().claims
        return claims[-1] if claims else 0

    def restored(self) -> Restored:
        """The newest good snapshot and every record after it, honouring the epochs."""
        listing = self.listing()
        bounds = _bounds(listing.segments)
        good = [s for s in listing.snapshots if s.seq < bounds.get(s.epoch, _NO_BOUND)]
        snapshot: tuple[int, bytes] | None = None
        for snap in reversed(good):
            payload = _read_snapshot(snap.path)
            if payload is not None:
                snapshot = (snap.seq, payload)
                break
            log.warning("shipped snapshot fails its checksum; using the one before", actor=self.name, seq=snap.seq)
        after = 0 if snapshot is None else snapshot[0]
        records: list[tuple[int, bytes]] = []
        expected = after + 1
        for segment in listing.segments:
            bound = bounds.get(segment.epoch, _NO_BOUND)
            for seq, payload in _read_segment(segment.path, self.name):
                if seq >= bound or seq < expected:
                    continue  # superseded by a later epoch, or covered by the snapshot
                if seq != expected:
                    raise ShippedCorrupt(f"{self.name}: the shipped journal jumps from {expected - 1} to {seq} ({segment.path.name})")
                records.append((seq, payload))
                expected += 1
        return Restored(snapshot, records)

    # --- writing ------------------------------------------------------------------------------

    def claim(self) -> int:
        """Take the next epoch: from now on an older writer's appends fail."""
        self.folder.mkdir(parents=True, exist_ok=True)
        while True:
            epoch = self.current_epoch() + 1
            try:
                fd = os.open(self.folder / f"claim-{epoch:08d}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            except FileExistsError:
                continue  # another writer took it first: the next one
            os.close(fd)
            fsync_directory(self.folder)
            self.epoch, self._roll = epoch, True
            return epoch

    def append(self, records: Iterable[tuple[int, bytes]]) -> None:
        """Append records (seq, payload) under our epoch, fsync, then check the fence."""
        data = bytearray()
        first = None
        for seq, payload in records:
            if first is None:
                first = seq
            checked = checked_record(payload)
            data += _frame_head(seq, len(checked))
            data += checked
        if first is None:
            return
        if self._roll:
            self._open_segment(first)
        assert self._segment is not None
        _write_all(self._segment, data)
        os.fsync(self._segment)
        self.check_fence()

    def begin(self, first: int) -> None:
        """Open our epoch's first segment at ``first`` (empty, on disk): from here on an
        older epoch's records at or after ``first`` are superseded, even if we write
        nothing more before the next takeover."""
        self._open_segment(first)

    def check_fence(self) -> None:
        if os.path.exists(self.folder / f"claim-{self.epoch + 1:08d}"):
            raise Fenced(f"{self.name}: another node took over the shipped journal (epoch {self.epoch + 1} after ours, {self.epoch})")

    def _open_segment(self, first: int) -> None:
        self._close_segment()
        path = self.folder / f"seg-{self.epoch:08d}-{first:016d}.log"
        self._segment = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
        fsync_directory(self.folder)
        self._roll = False

    def _close_segment(self) -> None:
        if self._segment is not None:
            os.close(self._segment)
            self._segment = None

    def put_snapshot(self, seq: int, parts: Iterable[bytes]) -> None:
        """The snapshot at ``seq``, whole or not at all (``snapshot_file``)."""
        file = self.snapshot_file(seq)
        for part in parts:
            file.write(part)
        file.commit()

    def snapshot_file(self, seq: int) -> SnapshotFile:
        """A snapshot written part by part (one part in memory at a time); the next append
        opens a new segment, so ``truncate`` can drop whole files."""
        self._roll = True
        return SnapshotFile(self, self.folder / f"snap-{self.epoch:08d}-{seq:016d}.snap")

    def truncate(self, keep_from: int) -> None:
        """Drop the snapshots before ``keep_from`` and the segments whose every record is at or
        before it (the local journal's rule: what the second-newest snapshot covers), but
        never past this copy's own second-newest snapshot (a snapshot the local journal has
        and this copy lacks — a crash between the two writes — leaves the copy its older one
        to fall back on)."""
        listing = self.listing()
        bounds = _bounds(listing.segments)
        own = [snap.seq for snap in listing.snapshots if snap.seq < bounds.get(snap.epoch, _NO_BOUND)]
        if len(own) < 2:
            return
        keep_from = min(keep_from, own[-2])
        for snap in listing.snapshots:
            if snap.seq < keep_from:
                snap.path.unlink(missing_ok=True)
        segments = listing.segments
        for segment, following in zip(segments, segments[1:], strict=False):
            if following.first - 1 <= keep_from:  # its valid records end before the next one's first
                segment.path.unlink(missing_ok=True)

    def close(self) -> None:
        self._close_segment()


class SnapshotFile:
    """One snapshot being shipped: parts appended to a temporary file; ``commit`` fsyncs it,
    renames it to its name and checks the fence."""

    def __init__(self, store: ShipStore, final: Path) -> None:
        self.store, self.final = store, final
        self.temporary = final.with_suffix(".tmp")
        self.out = open(self.temporary, "wb")  # closed by commit
        self.count = self.size = 0

    def write(self, part: bytes) -> None:
        checked = checked_record(part)
        self.out.write(_PART.pack(len(checked)))
        self.out.write(checked)
        self.count, self.size = self.count + 1, self.size + len(part)

    def commit(self) -> None:
        self.out.write(_PART.pack(0) + checked_record(_TRAILER + _TRAILER_COUNTS.pack(self.count, self.size)))
        self.out.flush()
        os.fsync(self.out.fileno())
        self.out.close()
        os.replace(self.temporary, self.final)
        fsync_directory(self.final.parent)
        self.store.check_fence()


_NO_BOUND = 1 << 64


def _bounds(segments: list[_Segment]) -> dict[int, int]:
    """For each epoch, the first sequence a later epoch wrote (its records from there on
    are superseded); the newest epoch has no bound."""
    starts: dict[int, int] = {}
    for segment in segments:
        starts[segment.epoch] = min(segment.first, starts.get(segment.epoch, _NO_BOUND))
    bounds: dict[int, int] = {}
    later = _NO_BOUND
    for epoch in sorted(starts, reverse=True):
        bounds[epoch] = later
        later = min(later, starts[epoch])
    return bounds


def _frame_head(seq: int, length: int) -> bytes:
    return _FRAME.pack(seq, length, zlib.crc32(_HEAD.pack(seq, length)))


def _read_segment(path: Path, name: str) -> Iterator[tuple[int, bytes]]:
    """A segment's records. A torn tail — a frame cut short, or zeros a crash left where a
    write never landed (neither acknowledged) — is skipped; anything else damaged raises.

    Guarantees: a frame whose header checksum holds and whose record runs past the end is
    the tail being written; a header that fails its checksum, or a record that fails its
    own within the file, is corruption, never taken for a tail."""
    data = path.read_bytes()
    offset = 0
    while offset < len(data):
        if offset + _FRAME.size > len(data) or not any(data[offset:]):
            log.warning("torn shipped tail skipped", actor=name, segment=path.name, offset=offset)
            return
        seq, length, crc = _FRAME.unpack_from(data, offset)
        if zlib.crc32(data[offset : offset + _HEAD.size]) != crc:
            raise ShippedCorrupt(f"{name}: a shipped frame header at offset {offset} of {path} fails its checksum; restore stops rather than load bad state")
        end = offset + _FRAME.size + length
        if end > len(data):
            log.warning("torn shipped tail skipped", actor=name, segment=path.name, seq=seq)
            return
        payload = checked_payload(data[offset + _FRAME.size : end])
        if payload is None:
            raise ShippedCorrupt(f"{name}: shipped record {seq} in {path} fails its checksum; restore stops rather than load bad state")
        yield seq, payload
        offset = end


def _write_all(fd: int, data: bytes | bytearray) -> None:
    """Every byte, or an error: a short write is never taken for a whole one."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(f"write of {len(view)} bytes wrote {written}")
        view = view[written:]


def _read_snapshot(path: Path) -> bytes | None:
    """A snapshot file's payload (its parts joined), or None if anything fails its check."""
    data = path.read_bytes()
    offset, parts = 0, list[bytes]()
    while offset + _PART.size <= len(data):
        (length,) = _PART.unpack_from(data, offset)
        offset += _PART.size
        if length == 0:  # the trailer
            trailer = checked_payload(data[offset:])
            if trailer is None or not trailer.startswith(_TRAILER):
                return None
            count, size = _TRAILER_COUNTS.unpack_from(trailer, len(_TRAILER))
            joined = b"".join(parts)
            return joined if count == len(parts) and size == len(joined) else None
        part = checked_payload(data[offset : offset + length])
        if part is None:
            return None
        parts.append(part)
        offset += length
    return None


class ShippedJournal(Journal):
    """A ``Journal`` whose every write is also shipped (``ShipStore``): what the host uses
    when ``[placement] failover`` is on. Reads are the local journal's.

    Opening it claims a new epoch first (no older writer acknowledges anything after), then
    settles the two copies: the local one is trusted only if it was last written under the
    epoch before ours (nobody took over since) and holds at least what the shipped copy
    holds; otherwise (a new node, an empty disk, a node that comes back after another took
    its actors, a local tail lost to a power cut) the local journal is rebuilt from the
    shipped copy. Then our first segment is begun, and any local records the copy lacks (a
    crash between the local commit and the ship) are shipped.

    Guarantees: ``append`` returns after both copies hold the records (the local commit
    first, then the shipped fsync and the fence check), so an acknowledged record survives
    the loss of the node; ``write_snapshot`` writes each part to both."""

    def __init__(self, path: Path, name: str, store: ShipStore, durability: str, map_size: int, crash: CrashPoints) -> None:
        super().__init__(path, name, durability=durability, map_size=map_size, crash=crash)
        self.store = store
        self.restored_from_ship = False

    @classmethod
    def open(cls, path: Path, name: str, ship_root: Path, durability: str = "fsync", map_size: int = 64 * 1024 * 1024, crash: CrashPoints = NOWHERE) -> ShippedJournal:
        store = ShipStore(ship_root / name, name)
        journal = cls(path, name, store, durability, map_size, crash)
        store.claim()  # first: from here on no older writer acknowledges anything more
        before = store.epoch - 1  # the newest epoch before ours (0: nothing was ever shipped)
        restored = store.restored()
        if before and (_local_epoch(path) != before or restored.last_seq > journal.last_seq):
            # another node wrote since, or this disk lost what the copy holds
            Journal.close(journal)
            shutil.rmtree(path, ignore_errors=True)
            journal = cls(path, name, store, durability, map_size, crash)
            journal.seed(restored.snapshot, restored.records)
            journal.restored_from_ship = True
            log.warning("local journal rebuilt from the shipped copy", actor=name, last_seq=journal.last_seq, snapshot=restored.snapshot and restored.snapshot[0])
        shipped_to = restored.last_seq if before else 0
        _write_local_epoch(path, store.epoch)
        store.begin(shipped_to + 1)
        journal._ship_missing(shipped_to)
        return journal

    def _ship_missing(self, shipped_to: int) -> None:
        """Ship what the local journal holds beyond ``shipped_to``: its records if they
        reach back far enough, else its newest snapshot and the records after it."""
        if self.last_seq <= shipped_to:
            return
        if shipped_to + 1 < self.first_seq():
            newest = self.latest_snapshot()
            if newest is not None:
                self.store.put_snapshot(newest[0], [newest[1]])
                shipped_to = newest[0]
        self.store.append(self.read_from(shipped_to + 1))

    def append(self, payloads: list[bytes]) -> int:
        first = self.last_seq + 1
        last = super().append(payloads)
        self.crash.hit("ship.before_append")
        self.store.append(zip(range(first, last + 1), payloads, strict=True))
        return last

    def write_snapshot(self, seq: int, state: bytes | Iterable[bytes]) -> None:
        shipped = self.store.snapshot_file(seq)
        if isinstance(state, bytes):
            shipped.write(state)
            super().write_snapshot(seq, state)
        else:
            super().write_snapshot(seq, _tee(state, shipped))
        shipped.commit()

    def truncate(self) -> int:
        dropped = super().truncate()
        if dropped:
            self.store.truncate(self.snapshot_infos()[0].seq)  # where the local journal now begins
        return dropped

    def close(self) -> None:
        self.store.close()
        super().close()


def _tee(parts: Iterable[bytes], shipped: SnapshotFile) -> Iterator[bytes]:
    """Each part written to the shipped file as the local journal takes it."""
    for part in parts:
        shipped.write(part)
        yield part


def _local_epoch(path: Path) -> int:
    try:
        return int((path / LOCAL_EPOCH_FILE).read_text().strip() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def _write_local_epoch(path: Path, epoch: int) -> None:
    """Written (and fsynced) before anything is shipped under ``epoch``."""
    write_bytes_atomically(path / LOCAL_EPOCH_FILE, f"{epoch}\n".encode())
