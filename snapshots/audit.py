"""The audit log on disk: one chain per writer, in segments by local day, appended and fsynced
in groups, never truncated (but for a torn tail nobody was told of); anchors signed with
Ed25519 in a second place; the offline check (``audit verify``), export, and the reader of a
range of time the compliance reports use (:func:`read_records`).

The format (records, frames, chains, anchors) is pure, in ``model/audit.py``; this module is
the files. Layout, under ``[audit] dir`` (default ``<data-dir>/audit``)::

    <writer>/<YYYY-MM-DD>_<first seq, 12 digits>.log       the open segment (appended to)
    <writer>/<YYYY-MM-DD>_<first seq, 12 digits>.log.zst   a closed segment (zstandard)
    <writer>/durable                                       the durable mark (below)

and under ``[audit] anchor_dir``: ``<writer>/<seq, 12 digits>.anchor`` (JSON) and the public key.

A segment holds the records from its first record's local day (``[audit] timezone``) up to
the first record of a later day, which closes it (compressed, the ``.log`` removed) and opens
the next. A time that goes back never reopens a closed segment.

The durable mark: after each fsync of the open segment, ``durable`` is overwritten in place
with the segment's name, the offset up to which it is on disk and the sequence there. It is
written after the fsync and never fsynced itself, so what it says on disk is at most what the
log holds on disk: a lower bound of the acknowledged point.

Guarantees (:class:`AuditWriter`):
- A record acknowledged (``append_many(..., durable=True)`` or ``sync`` returned) is on disk
  and stays: nothing but the repair below ever shortens a file, and that repair only cuts
  bytes past the durable mark.
- On open, a damaged frame at or after the durable mark of the open segment is a torn tail:
  it and everything after it is cut (logged). A damaged frame before the mark, a closed segment
  that does not decompress, or a ``.log`` beside a ``.log.zst`` of other content is
  :class:`AuditCorrupt`: never repaired; ``audit verify`` names it.
- One writer per chain: the writer holds an exclusive lock on its folder while open, so two
  processes never fork a chain.
- An anchor is written only for records already fsynced, atomically, and never replaced.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import heapq
import json
import os
import re
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import msgspec
import structlog
import zstandard
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from model.audit import (
    ANCHOR_DOMAIN,
    BAD_SIGNATURE,
    FRAME_HEADER,
    MODIFIED,
    Anchor,
    AuditEvent,
    ChainCheck,
    Finding,
    Head,
    Item,
    Record,
    already_written,
    anchor_bytes,
    anchor_of,
    body_of,
    chain,
    decode_anchor,
    decode_record,
    empty_head,
    read_frames,
    record_hash,
    valid_prefix,
)
from model.calendar import parse_iso_day, trading_day
from model.config import AuditSection
from snapshots.crashpoints import NOWHERE, CrashPoints
from snapshots.files import fsync_directory, write_bytes_atomically

log = structlog.get_logger("audit")

WRITER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
SEGMENT = re.compile(r"(\d{4}-\d{2}-\d{2})_(\d{12})\.log(\.zst)?")
OPEN_SUFFIX, CLOSED_SUFFIX = ".log", ".log.zst"
MARK_FILE = "durable"
_MARK = struct.Struct("<40sQQ")  # segment name, offset, sequence; then a CRC-32 of those bytes
_CRC = struct.Struct("<I")
ANCHOR_FORMAT = "brokerd-audit-anchor"
SIGNING_KEY_PURPOSE = "audit-anchor"  # the sealing purpose of the signing key's store (keystore/)
SIGNING_KEY_NAME = "anchor-signing-key"
_ZONE = AuditSection().timezone  # ``[audit] timezone`` by default: the zone segments are named in


class AuditCorrupt(Exception):
    """The log is damaged where it was acknowledged; nothing was changed. The message says where."""


def check_writer(name: str) -> str:
    if not WRITER_NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not an audit writer name (letters, digits, _ . -; at most 64)")
    return name


def local_day(time_ns: int, zone: ZoneInfo) -> str:
    """The local date (``YYYY-MM-DD``) of ``time_ns`` in ``zone``."""
    return date.fromordinal(trading_day(time_ns, zone.key)).isoformat()  # integer ns, remembered per time


class Segment(NamedTuple):
    day: str
    first_seq: int
    path: Path

    @property
    def closed(self) -> bool:
        return self.path.name.endswith(CLOSED_SUFFIX)

    @property
    def name(self) -> str:
        return self.path.name


def segment_name(day: str, first_seq: int) -> str:
    return f"{day}_{first_seq:012d}{OPEN_SUFFIX}"


def segments(folder: Path) -> list[Segment]:
    """Every segment of a writer's folder, in chain order (by first sequence; a ``.log`` and its
    ``.log.zst`` both listed, the ``.log`` first)."""
    found = []
    if folder.is_dir():
        for path in folder.iterdir():
            match = SEGMENT.fullmatch(path.name)
            if match:
                found.append(Segment(match.group(1), int(match.group(2)), path))
    return sorted(found, key=lambda segment: (segment.first_seq, segment.closed))


def chain_segments(folder: Path) -> list[Segment]:
    """The segments that make a writer's chain, in order: a ``.log`` left beside its
    ``.log.zst`` by a close a crash interrupted is not one (the ``.zst`` is the segment;
    the writer removes the ``.log`` when it next opens). What ``verify`` and ``export`` read."""
    listed = segments(folder)
    closed = {segment.first_seq for segment in listed if segment.closed}
    return [segment for segment in listed if segment.closed or segment.first_seq not in closed]


def read_segment(segment: Segment) -> bytes:
    """A segment's frames (decompressed when closed); ``AuditCorrupt`` when it does not decompress."""
    return _decompressed(segment, segment.path.read_bytes())


def _decompressed(segment: Segment, stored: bytes) -> bytes:
    """A segment's frames from its bytes as stored."""
    if not segment.closed:
        return stored
    try:
        return zstandard.ZstdDecompressor().decompress(stored)
    except zstandard.ZstdError as error:
        raise AuditCorrupt(f"{segment.path}: does not decompress ({error})") from None


def compress(segment: Segment, level: int) -> Segment:
    """Close a segment: its ``.log.zst`` written atomically, then the ``.log`` removed."""
    data = segment.path.read_bytes()
    target = segment.path.with_name(segment.path.name + ".zst")
    write_bytes_atomically(target, zstandard.ZstdCompressor(level=level, write_content_size=True).compress(data), mode=0o640)
    segment.path.unlink()
    fsync_directory(segment.path.parent)
    return Segment(segment.day, segment.first_seq, target)


# --- the durable mark ----------------------------------------------------------------------------


class Mark(NamedTuple):
    segment: str
    offset: int
    seq: int


def encode_mark(mark: Mark) -> bytes:
    body = _MARK.pack(mark.segment.encode("ascii"), mark.offset, mark.seq)
    return body + _CRC.pack(zlib.crc32(body))


def decode_mark(data: bytes) -> Mark | None:
    """The mark, or ``None`` for none or a damaged one."""
    if len(data) != _MARK.size + _CRC.size:
        return None
    body = data[: _MARK.size]
    if _CRC.unpack_from(data, _MARK.size)[0] != zlib.crc32(body):
        return None
    name, offset, seq = _MARK.unpack(body)
    return Mark(name.rstrip(b"\0").decode("ascii", "replace"), offset, seq)


def read_mark(folder: Path) -> Mark | None:
    try:
        return decode_mark((folder / MARK_FILE).read_bytes())
    except FileNotFoundError:
        return None


def torn_from(data: bytes, valid_end: int, segment_name_: str, mark: Mark | None) -> bool:
    """Whether the bytes of the open segment from ``valid_end`` on are a torn tail: past what
    the durable mark says was acknowledged in this segment (a mark of an older segment: nothing
    of this one was). Without a mark, only when no whole frame follows (a cut-short write)."""
    if valid_end >= len(data):
        return False
    if mark is None:
        return all(frame.payload is None for frame in read_frames(data, valid_end))
    if mark.segment != segment_name_:
        return mark.segment < segment_name_
    return valid_end >= mark.offset


# --- the writer ----------------------------------------------------------------------------------


class Batch(NamedTuple):
    """One input's audit events: its time, its journal sequence (0: none) and the events."""

    time_ns: int
    origin: int
    events: Sequence[AuditEvent]


class AuditWriter:
    """One writer's chain, open for appending (see the module's guarantees). Not thread-safe:
    one actor's shell appends from its one loop."""

    def __init__(
        self, root: str | Path, writer: str, zone: ZoneInfo | str = _ZONE, compression_level: int = 10, crash: CrashPoints = NOWHERE
    ) -> None:
        self.writer = check_writer(writer)
        self.crash = crash  # ``audit.mid_append``: killed with half a group's frames written (recovery tests)
        self.folder = Path(root) / writer
        self.zone = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
        self.level = compression_level
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = os.open(self.folder / ".lock", os.O_RDWR | os.O_CREAT, 0o640)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock)
            raise AuditCorrupt(f"{self.folder}: another process has this audit chain open") from None
        self._fd: int | None = None
        self._segment: Segment | None = None
        self._size = 0
        self._dirty = False
        self._mark_fd = os.open(self.folder / MARK_FILE, os.O_RDWR | os.O_CREAT, 0o640)
        try:
            self.head = self._open()
        except BaseException:
            self.close()
            raise
        self.durable_seq = self.head.seq

    # opening ----------------------------------------------------------------------------------

    def _open(self) -> Head:
        found = segments(self.folder)
        found = self._settle_closed(found)
        if not found:
            return empty_head(self.writer)
        newest = found[-1]
        if newest.closed:
            return self._head_of(found)
        data = newest.path.read_bytes()
        end, count, _, _ = valid_prefix(data)
        if end < len(data):
            mark = read_mark(self.folder)
            if not torn_from(data, end, newest.name, mark):
                raise AuditCorrupt(f"{newest.path}: damaged at byte {end}, before the last acknowledged record; run audit verify (nothing was changed)")
            log.warning("torn audit tail cut", writer=self.writer, segment=newest.name, at=end, bytes=len(data) - end)
            with open(newest.path, "r+b") as handle:
                handle.truncate(end)
                os.fsync(handle.fileno())
        if count == 0:  # an open segment with nothing acknowledged in it: made again by the next record
            newest.path.unlink()
            fsync_directory(self.folder)
            found.pop()
            return self._head_of(found)
        self._segment, self._size = newest, end
        self._fd = os.open(newest.path, os.O_WRONLY | os.O_APPEND)
        return self._head_of(found)

    def _settle_closed(self, found: list[Segment]) -> list[Segment]:
        """Finish a close a crash interrupted: a ``.log`` whose ``.log.zst`` holds the same bytes
        is removed; a ``.log`` older than the newest segment is compressed."""
        settled: list[Segment] = []
        for index, segment in enumerate(found):
            twin = next((other for other in found if other.first_seq == segment.first_seq and other.closed), None)
            if not segment.closed and twin is not None:
                if read_segment(twin) != segment.path.read_bytes():
                    raise AuditCorrupt(f"{segment.path} and {twin.path} hold different records; run audit verify (nothing was changed)")
                segment.path.unlink()
                continue
            if not segment.closed and index < len(found) - 1:
                segment = compress(segment, self.level)
            settled.append(segment)
        return settled

    def _head_of(self, found: list[Segment]) -> Head:
        for segment in reversed(found):
            _, count, last, payload = valid_prefix(read_segment(segment))
            if last is not None and payload is not None:
                return Head(self.writer, last.seq, record_hash(payload), last.origin, last.index)
        return empty_head(self.writer)

    # appending --------------------------------------------------------------------------------

    def append(self, time_ns: int, events: Sequence[AuditEvent], origin: int = 0, durable: bool = True) -> int:
        return self.append_many([Batch(time_ns, origin, events)], durable)

    def append_many(self, batches: Iterable[Batch], durable: bool = True) -> int:
        """Append each input's events in order, skipping those a replay regenerated that the
        chain holds already (``model.audit.already_written``); one write per segment, and one
        fsync when ``durable`` (else the records are durable at the next ``sync``). Returns how
        many records were appended."""
        pending = bytearray()
        appended = 0
        head = self.head
        for batch in batches:
            origin = batch.origin
            if origin == 0 or origin > head.origin:  # (every live record: none of it can be written yet)
                events = batch.events
            else:
                events = [event for index, event in enumerate(batch.events) if not already_written(head, origin, index)]
            if not events:
                continue
            skipped = len(batch.events) - len(events)
            day = local_day(batch.time_ns, self.zone)
            if self._segment is None or day > self._segment.day:
                self._write(pending)
                pending = bytearray()
                self._rotate(day, head.seq + 1)
            data, head, count = chain(head, events, batch.time_ns, batch.origin, first_index=skipped)
            pending += data
            appended += count
        self._write(pending)
        self.head = head
        if durable:
            self.sync()
        return appended

    def _write(self, data: bytes | bytearray) -> None:
        if not data:
            return
        assert self._fd is not None
        view = memoryview(data)
        if self.crash.point == "audit.mid_append" and len(view) > 1:
            half = len(view) // 2  # a torn tail: part of the group's frames on disk, nothing synced
            os.write(self._fd, view[:half])
            self._size += half
            view = view[half:]
            self.crash.hit("audit.mid_append")
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
            self._size += written
        self._dirty = True

    def _rotate(self, day: str, first_seq: int) -> None:
        """Close the open segment (fsynced, compressed) and open a new one for ``day``."""
        if self._segment is not None and self._fd is not None:
            self.sync()
            os.close(self._fd)
            self._fd = None
            compress(self._segment, self.level)
        path = self.folder / segment_name(day, first_seq)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o640)
        fsync_directory(self.folder)
        self._segment = Segment(day, first_seq, path)
        self._size = 0

    def sync(self) -> None:
        """Everything appended is on disk when this returns; then the durable mark says so."""
        if not self._dirty or self._fd is None or self._segment is None:
            return
        os.fsync(self._fd)
        self._dirty = False
        self.durable_seq = self.head.seq
        os.pwrite(self._mark_fd, encode_mark(Mark(self._segment.name, self._size, self.head.seq)), 0)

    def close(self) -> None:
        """Sync and close; the open segment stays open on disk (the next record of its day goes
        on in it)."""
        if self._fd is not None:
            self.sync()
            os.close(self._fd)
            self._fd = None
        for fd in (self._mark_fd, self._lock):
            try:
                os.close(fd)
            except OSError:
                pass
        self._mark_fd = self._lock = -1

    def anchor(self, signer: AnchorSigner, anchor_dir: str | Path, time_ns: int) -> Path | None:
        """Sign this chain's head and write the anchor (after a sync: an anchor never names a
        record that is not on disk). ``None`` when the chain is empty or its head is anchored
        already."""
        self.sync()
        if self.head.seq == 0:
            return None
        return write_anchor(signer, anchor_of(self.head, time_ns), anchor_dir)


# --- anchors -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnchorSigner:
    """The Ed25519 key that signs anchors. ``key_id``: the first 16 hex digits of the SHA-256
    of its raw public key, written in each anchor so a key change is seen."""

    private_key: Ed25519PrivateKey

    def __repr__(self) -> str:
        return f"AnchorSigner(key_id={self.key_id!r})"

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def key_id(self) -> str:
        return key_id(self.public_key)

    def sign(self, anchor: Anchor) -> bytes:
        return self.private_key.sign(anchor_bytes(anchor))


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def signer_from_store(store: Any) -> AnchorSigner:
    """The signing key held sealed in ``store`` (a ``keystore.store.SecretStore`` of purpose
    :data:`SIGNING_KEY_PURPOSE`), made and sealed there at first use (under the store's lock:
    two processes make one key)."""

    def keep_or_make(value: bytes | None) -> bytes | None:
        if value is not None:
            return None
        return Ed25519PrivateKey.generate().private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())

    store.update(SIGNING_KEY_NAME, keep_or_make)
    return AnchorSigner(Ed25519PrivateKey.from_private_bytes(store.get(SIGNING_KEY_NAME)))


def public_key_pem(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def write_public_key(signer: AnchorSigner, path: str | Path) -> None:
    """The public key as PEM at ``path``, unless the same key is there (another key there is
    refused: verifying with the wrong key would call every anchor forged)."""
    path = Path(path)
    pem = public_key_pem(signer.public_key)
    if path.exists():
        if path.read_bytes() != pem:
            raise AuditCorrupt(f"{path} holds another public key than the audit signing key's ({signer.key_id}); move it aside to replace it")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomically(path, pem, mode=0o644)


def read_public_key(path: str | Path) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(Path(path).read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} is not an Ed25519 public key")
    return key


def anchor_path(anchor_dir: str | Path, writer: str, seq: int) -> Path:
    return Path(anchor_dir) / writer / f"{seq:012d}.anchor"


def write_anchor(signer: AnchorSigner, anchor: Anchor, anchor_dir: str | Path) -> Path | None:
    """Write ``anchor`` signed; ``None`` when that sequence of that writer is anchored already
    (an anchor is never replaced)."""
    path = anchor_path(anchor_dir, check_writer(anchor.writer), anchor.seq)
    if path.exists():
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    signed = anchor_bytes(anchor)
    document = {
        "format": ANCHOR_FORMAT,
        "writer": anchor.writer,
        "seq": anchor.seq,
        "hash": anchor.hash.hex(),
        "count": anchor.count,
        "time_ns": anchor.time_ns,
        "key_id": signer.key_id,
        "signed": base64.b64encode(signed).decode("ascii"),
        "signature": base64.b64encode(signer.sign(anchor)).decode("ascii"),
    }
    write_bytes_atomically(path, (json.dumps(document, sort_keys=True) + "\n").encode(), mode=0o644)
    return path


def read_anchors(anchor_dir: str | Path, writer: str, public: Ed25519PublicKey | None) -> tuple[list[Anchor], list[Finding]]:
    """A writer's anchors whose signature ``public`` verifies (all, without a key), and a
    ``bad signature`` finding for each other one."""
    good: list[Anchor] = []
    bad: list[Finding] = []
    folder = Path(anchor_dir) / writer
    if not folder.is_dir():
        return good, bad
    for path in sorted(folder.glob("*.anchor")):
        try:
            document = json.loads(path.read_text())
            signed = base64.b64decode(document["signed"], validate=True)
            signature = base64.b64decode(document["signature"], validate=True)
            if not signed.startswith(ANCHOR_DOMAIN):
                raise ValueError("not an anchor")
            anchor = decode_anchor(signed[len(ANCHOR_DOMAIN) :])
        except (OSError, ValueError, KeyError, TypeError, msgspec.DecodeError, msgspec.ValidationError) as error:
            bad.append(Finding("error", writer, 0, BAD_SIGNATURE, f"{path}: not a readable anchor ({error})"))
            continue
        if anchor.writer != writer or anchor.count != anchor.seq:
            bad.append(Finding("error", writer, anchor.seq, BAD_SIGNATURE, f"{path}: an anchor of {anchor.writer!r} at {anchor.seq} (count {anchor.count}) filed under {writer!r}"))
            continue
        if public is not None:
            try:
                public.verify(signature, signed)
            except InvalidSignature:
                bad.append(Finding("error", writer, anchor.seq, BAD_SIGNATURE, f"{path}: the signature does not verify with the public key (key id {document.get('key_id')!r} claimed)"))
                continue
        good.append(anchor)
    return good, bad


# --- reading and checking ------------------------------------------------------------------------


def writers(root: Path, anchor_root: Path | None = None) -> list[str]:
    """Every writer with a chain folder or anchors, by name."""
    names = {child.name for child in root.iterdir() if child.is_dir()} if root.is_dir() else set()
    if anchor_root is not None and anchor_root.is_dir():
        names |= {child.name for child in anchor_root.iterdir() if child.is_dir()}
    return sorted(name for name in names if WRITER_NAME.fullmatch(name))


def chain_items(folder: Path, chosen: list[Segment], mark: Mark | None) -> Iterator[tuple[Segment, Item]]:
    """Every frame of ``chosen`` segments as checker items, a damaged frame of the open segment
    past the durable mark flagged as torn. An open segment a running writer closed since it was
    listed is read from its ``.log.zst`` (:func:`_stored`)."""
    for listed in chosen:
        segment, data = _stored(listed)
        end, _, _, _ = valid_prefix(data)
        torn = not segment.closed and torn_from(data, end, segment.name, mark)
        for found in read_frames(data):
            where = f"{segment.name}:{found.offset}"
            yield segment, Item(found.payload, where, torn=torn and found.offset >= end, cut=found.payload is None and found.end == len(data) and not _whole(data, found.offset))


def _whole(data: bytes, offset: int) -> bool:
    """Whether the frame at ``offset`` lies whole inside ``data`` (its CRC may still fail)."""
    if len(data) - offset < FRAME_HEADER.size:
        return False
    length, _ = FRAME_HEADER.unpack_from(data, offset)
    return offset + FRAME_HEADER.size + length <= len(data)


def misnamed(segment: Segment, first: Record, zone: ZoneInfo) -> str | None:
    """What is wrong with a segment's name given its first record, or ``None``: the writer
    names a segment by its first record's sequence and local day (``_rotate``), and the
    readers of a range of days pick segments by that name alone, so a renamed segment would
    hide its records from them."""
    day = local_day(first.time_ns, zone)
    if first.seq == segment.first_seq and day == segment.day:
        return None
    return f"{segment.name}: named for record {segment.first_seq} of {segment.day}, but its first record is {first.seq} of {day} (the file was renamed)"


def renamed_before(before: Segment, data: bytes, zone: ZoneInfo) -> tuple[int, str] | None:
    """For the segment before a range (``data``: its frames), only its first record read:
    the record's sequence and what is wrong with the name (:func:`misnamed`) — a segment of
    the range renamed out of it — or ``None``, also when it has no record or a damaged first
    frame (what reading the segment itself finds)."""
    for found in read_frames(data):
        if found.payload is None:
            return None
        try:
            first = decode_record(found.payload)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None
        why = misnamed(before, first, zone)
        return None if why is None else (first.seq, why)
    return None


def verify_chain(
    root: Path, writer: str, anchors: list[Anchor], first_day: str | None = None, last_day: str | None = None, zone: ZoneInfo | str = _ZONE
) -> dict[str, Any]:
    """One writer's chain checked over the segments of days ``first_day``..``last_day``
    (inclusive; ``None``: unbounded). A range that does not start at the chain's first segment
    links to the last record of the segment before it (read, its records not checked).

    Guarantees: a range that reaches the chain's newest segment checks the anchors past it,
    even when no segment is left in the range (the chain then ends at the last record before
    it): deleting every segment from a day on is ``truncated after an anchor``, not a range
    with nothing to check. Each segment checked, and the one before the range, must be named
    by its first record's sequence and local day (of ``zone``, the log's ``[audit]
    timezone``): a renamed segment is ``modified``."""
    zone = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
    folder = root / writer
    every = chain_segments(folder)
    chosen = [s for s in every if (first_day is None or s.day >= first_day) and (last_day is None or s.day <= last_day)]
    whole_tail = last_day is None or not every or every[-1].day <= last_day
    start: Head | None = empty_head(writer)
    issues: list[Finding] = []
    wrong: tuple[int, str] | None = None
    # the segment the range starts at: its first chosen, else the first after it, else none (the end)
    following = every.index(chosen[0]) if chosen else next((i for i, s in enumerate(every) if last_day is not None and s.day > last_day), len(every))
    if following > 0:
        before = every[following - 1]
        try:
            data = _stored(before)[1]
            _, _, last, payload = valid_prefix(data)
            start = Head(writer, last.seq, record_hash(payload)) if last is not None and payload is not None else None
            wrong = renamed_before(before, data, zone)
        except AuditCorrupt:
            start = None
    check = ChainCheck(writer, start, anchors)
    if wrong is not None:
        check.findings.append(Finding("error", writer, wrong[0], MODIFIED, wrong[1]))
        check.broken = True
    try:
        current: Segment | None = None
        for segment, item in chain_items(folder, [] if check.broken else chosen, read_mark(folder)):
            opens, current = segment is not current, segment
            accepted = check.records
            check.feed(item)
            if opens and check.records > accepted and item.payload is not None:
                why = misnamed(segment, decode_record(item.payload), zone)
                if why is not None:
                    check.findings.append(Finding("error", writer, check.head.seq if check.head else 0, MODIFIED, why))
                    check.broken = True
                    break
    except AuditCorrupt as error:
        check.findings.append(Finding("error", writer, (check.head.seq + 1) if check.head else 0, MODIFIED, str(error)))
        check.broken = True
    issues += check.finish(whole_tail=whole_tail and (bool(chosen) or start is not None))
    return {
        "writer": writer,
        "segments": len(chosen),
        "first_seq": check.first_seq,
        "last_seq": None if check.head is None or check.first_seq is None else check.head.seq,
        "records": check.records,
        "anchors": len(anchors),
        "issues": [msgspec.structs.asdict(finding) for finding in issues],
    }


def verify_audit(
    root: str | Path,
    anchor_root: str | Path,
    public_key: Ed25519PublicKey | None,
    first_day: str | None = None,
    last_day: str | None = None,
    zone: ZoneInfo | str = _ZONE,
) -> dict[str, Any]:
    """Every chain under ``root`` (and every writer with anchors under ``anchor_root``) checked:
    a JSON-able report; ``ok`` when no finding is an error (a torn tail is a warning: the
    writer cuts it, it was never acknowledged). ``zone``: the log's ``[audit] timezone``, the
    one its segments are named in. Changes nothing."""
    root, anchor_root = Path(root), Path(anchor_root)
    chains = []
    for writer in writers(root, anchor_root):
        anchors, bad = read_anchors(anchor_root, writer, public_key)
        report = verify_chain(root, writer, anchors, first_day, last_day, zone)
        report["issues"] = [msgspec.structs.asdict(finding) for finding in bad] + report["issues"]
        chains.append(report)
    severities = [issue["severity"] for chain_ in chains for issue in chain_["issues"]]
    errors = severities.count("error")
    return {
        "audit_dir": str(root),
        "anchor_dir": str(anchor_root),
        "ok": errors == 0,
        "errors": errors,
        "warnings": severities.count("warning"),
        "records": sum(chain_["records"] for chain_ in chains),
        "chains": chains,
    }


# --- reading a range of time ----------------------------------------------------------------------


def segments_for_days(every: list[Segment], first_day: str, last_day: str) -> list[Segment]:
    """The segments of a chain (:func:`chain_segments`) that can hold records of the local days
    ``first_day``..``last_day``: those named by a day of the range, and the first after it. A
    segment holds records of its day and, when an input's time went back, of earlier days
    (never later: the first record of a later day opens the next segment), so a record of the
    range whose time stepped back across midnight is in the segment after it."""
    chosen = [segment for segment in every if first_day <= segment.day <= last_day]
    after = next((segment for segment in every if segment.day > last_day), None)
    return chosen if after is None else [*chosen, after]


def _stored(segment: Segment) -> tuple[Segment, bytes]:
    """A segment's frames; an open segment closed (compressed, removed) by a running writer
    since it was listed is read from its ``.log.zst``."""
    try:
        return segment, read_segment(segment)
    except FileNotFoundError:
        if segment.closed:
            raise
        closed = Segment(segment.day, segment.first_seq, segment.path.with_name(segment.name + ".zst"))
        return closed, read_segment(closed)


def chain_records(folder: Path, chosen: list[Segment], start_ns: int, end_ns: int, zone: ZoneInfo, kinds: frozenset[str] | None = None) -> Iterator[Record]:
    """The records of ``chosen`` segments of one chain with ``start_ns <= time_ns < end_ns``
    (and a kind of ``kinds``, when given), in chain order. A damaged frame is
    :class:`AuditCorrupt`, but for a torn tail of the open segment (past the durable mark:
    never acknowledged, or being written right now), where reading stops; so is a segment not
    named by its first record (:func:`misnamed`). The hash chain is not checked: ``audit
    verify`` does that."""
    mark = read_mark(folder)
    for listed in chosen:
        segment, data = _stored(listed)
        for found in read_frames(data):
            if found.payload is None:
                if not segment.closed and torn_from(data, found.offset, segment.name, mark):
                    break
                raise AuditCorrupt(f"{segment.path}: a damaged record at byte {found.offset}; run audit verify")
            try:
                record = decode_record(found.payload)
            except (msgspec.DecodeError, msgspec.ValidationError):
                raise AuditCorrupt(f"{segment.path}: the frame at byte {found.offset} is not a record; run audit verify") from None
            if found.offset == 0 and (wrong := misnamed(segment, record, zone)) is not None:
                raise AuditCorrupt(f"{folder}/{wrong}; run audit verify")
            if start_ns <= record.time_ns < end_ns and (kinds is None or record.kind in kinds):
                yield record


def read_records(root: str | Path, start_ns: int, end_ns: int, zone: ZoneInfo | str, kinds: frozenset[str] | None = None, key: Callable[[Record], Any] | None = None) -> Iterator[Record]:
    """Every record of every chain under ``root`` with ``start_ns <= time_ns < end_ns`` (and
    of ``kinds``, when given), the chains merged by ``key`` (default: the time), a writer's own
    records in their chain order. Reads only the segments of the local days (of ``zone``, the
    log's ``[audit] timezone``) the range touches, and the one after each chain's range
    (:func:`segments_for_days`): a one-day report reads one day, not years. Lazy: one segment
    of each chain in memory at a time. Each segment read must be named by its first record
    (:func:`misnamed`), and so must the one before them (only its first record read), so a
    segment of the range renamed out of it is refused (:class:`AuditCorrupt`), not skipped.

    Guarantees: changes nothing, takes no lock (a running writer goes on appending; what it
    has not yet written whole is a torn tail, not read)."""
    root = Path(root)
    zone = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
    if end_ns <= start_ns:
        return iter(())
    first_day, last_day = local_day(start_ns, zone), local_day(end_ns - 1, zone)
    streams = []
    for writer in writers(root):
        folder = root / writer
        every = chain_segments(folder)
        chosen = segments_for_days(every, first_day, last_day)
        following = every.index(chosen[0]) if chosen else len(every)
        if following > 0:
            before, data = _stored(every[following - 1])
            if (wrong := renamed_before(before, data, zone)) is not None:
                raise AuditCorrupt(f"{folder}/{wrong[1]}; run audit verify")
        if chosen:
            streams.append(chain_records(folder, chosen, start_ns, end_ns, zone, kinds))
    return heapq.merge(*streams, key=key or _time_of)


def _time_of(record: Record) -> int:
    return record.time_ns


# --- export --------------------------------------------------------------------------------------


def export(root: str | Path, first_day: str, last_day: str, folder: str | Path, progress: Callable[[int, int], object] | None = None) -> dict[str, int]:
    """The records of days ``first_day``..``last_day`` of every chain as JSON lines in
    ``folder/audit.jsonl`` (one record a line: its fields, its body decoded, its hash and its
    segment) and ``folder/segments.jsonl`` (one segment a line: writer, file, sequences, and
    the SHA-256 of the file as stored). ``folder`` is created and must not hold either file.
    Returns the counts. ``progress``: told the segments written of how many, after each."""
    root, folder = Path(root), Path(folder)
    parse_iso_day(first_day), parse_iso_day(last_day)
    folder.mkdir(parents=True, exist_ok=True)
    records_path, segments_path = folder / "audit.jsonl", folder / "segments.jsonl"
    for path in (records_path, segments_path):
        if path.exists():
            raise FileExistsError(f"{path} exists; export into another folder")
    encoder = msgspec.json.Encoder()
    counts = {"segments": 0, "records": 0}
    with _exclusive(records_path) as records_out, _exclusive(segments_path) as segments_out:
        chosen = [(writer, segment) for writer in writers(root) for segment in chain_segments(root / writer) if first_day <= segment.day <= last_day]
        for writer, segment in chosen:
            if progress is not None:
                progress(counts["segments"], len(chosen))
            stored = segment.path.read_bytes()
            data = _decompressed(segment, stored)
            first = last = 0
            for found in read_frames(data):
                if found.payload is None:
                    continue
                record = decode_record(found.payload)
                first, last = first or record.seq, record.seq
                records_out.write(encoder.encode(_record_json(record, found.payload, segment.name)) + b"\n")
                counts["records"] += 1
            line = {"writer": writer, "segment": segment.name, "first_seq": first, "last_seq": last, "sha256": hashlib.sha256(stored).hexdigest(), "bytes": len(stored)}
            segments_out.write(encoder.encode(line) + b"\n")
            counts["segments"] += 1
    return counts


def _record_json(record: Record, payload: bytes, segment: str) -> dict[str, Any]:
    return {
        "writer": record.writer,
        "seq": record.seq,
        "time_ns": record.time_ns,
        "kind": record.kind,
        "origin": record.origin,
        "index": record.index,
        "body": body_of(record),
        "prev": record.prev.hex(),
        "hash": record_hash(payload).hex(),
        "segment": segment,
    }


class _exclusive:
    """A new file written through, fsynced at the end (created exclusively: never overwrites)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> Any:
        self.handle = open(self.path, "xb")
        return self.handle

    def __exit__(self, *exc: object) -> None:
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
