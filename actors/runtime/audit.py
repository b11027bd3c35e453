"""An actor shell's audit log: its writer, the signer of its anchors, and when it anchors
(docs/audit.md, "For the actors"; the storage is ``snapshots/audit.py``).

Two ways in:

- a journaled actor (``DurableHost``) appends each commit group's audit events after the
  journal commit and before the group's acknowledgements leave (``AuditLog.append``), one
  batch per journal record, with the record's sequence as ``origin``: a replay regenerates
  them and the writer skips those the chain holds;
- a shell that journals nothing (a gateway's logins, the supervisor's admin commands)
  notes each event as it happens (``AuditLog.note``): they are appended together at the end
  of the event-loop turn, with ``origin`` 0, and fsynced at most ``[audit] sync_ms`` later.

Guarantees:
- An anchor is signed only with the key sealed under the master key; without a master key
  the records are written and no anchor is (logged once, at open).
- ``close`` syncs and anchors the head (a clean stop), then releases the chain's lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import structlog

from keystore.masterkey import MasterKeyError, load_master_key
from keystore.store import SecretStore, StoreError
from model.audit import AuditEvent, anchor_due, valid_prefix
from model.config import Config
from snapshots.audit import (
    SIGNING_KEY_PURPOSE,
    AnchorSigner,
    AuditCorrupt,
    AuditWriter,
    Batch,
    chain_segments,
    read_segment,
    signer_from_store,
    write_public_key,
)
from snapshots.crashpoints import NOWHERE, CrashPoints

log = structlog.get_logger("audit")


def open_signer(config: Config, data_dir: str | Path) -> AnchorSigner | None:
    """The anchors' signing key (made and sealed at first use) with its public key written
    beside the anchors; ``None`` when there is no master key to seal it under."""
    section = config.audit
    try:
        store = SecretStore(section.signing_key_path(data_dir), load_master_key(config.secrets), SIGNING_KEY_PURPOSE)
        signer = signer_from_store(store)
    except (MasterKeyError, StoreError) as problem:
        log.warning("audit anchors are not signed: no usable master key", reason=str(problem))
        return None
    write_public_key(signer, section.public_key_path(data_dir))
    return signer


class AuditLog:
    """One actor's chain, open for appending, with its anchors (see the module)."""

    def __init__(self, name: str, config: Config, data_dir: str | Path, crash: CrashPoints = NOWHERE) -> None:
        section = config.audit
        self.name = name
        self.anchor_dir = section.anchor_root(data_dir)
        self.anchor_every_s = section.anchor_every_s
        self.sync_s = section.sync_ms / 1000
        self.writer = AuditWriter(section.root(data_dir), name, section.timezone, section.compression_level, crash=crash)
        try:
            self.signer = open_signer(config, data_dir)
        except BaseException:
            self.writer.close()
            raise
        self.last_anchor_ns: int | None = None  # none this run: the first append anchors
        self.last_time_ns: int | None = None  # the time of the head record, once known
        self.noted: list[Batch] = []
        self._flush: asyncio.Handle | None = None
        self._sync: asyncio.TimerHandle | None = None
        self.anchored_seq = 0  # the head this run last anchored (0: none)
        self._idle: asyncio.TimerHandle | None = None

    @property
    def head_origin(self) -> int:
        return self.writer.head.origin

    # --- journaled actors -------------------------------------------------------------------------

    def append(self, batches: Sequence[Batch], durable: bool) -> int:
        """Append a commit group's batches (one write, one fsync when ``durable``); anchor when
        one is due. Returns how many records were appended."""
        if not batches:
            return 0
        appended = self.writer.append_many(batches, durable)
        if appended:
            self.last_time_ns = batches[-1].time_ns
            if anchor_due(self.last_anchor_ns, self.last_time_ns, self.anchor_every_s):
                self.anchor()
            self._watch_idle()
        return appended

    def _watch_idle(self) -> None:
        """Anchor a head that stops growing: due by record time only when records come, an
        anchor would otherwise wait for the next record or the stop, and the records after
        the last anchor could be cut unseen meanwhile. Checked every ``anchor_every_s`` of
        the event loop's clock, while the chain has records not anchored."""
        if self._idle is not None or self.signer is None or self.anchor_every_s <= 0:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # a rebuild before the loop runs: the first live append starts the watch
        self._idle = loop.call_later(self.anchor_every_s, self._anchor_idle)

    def _anchor_idle(self) -> None:
        self._idle = None
        if self.writer.head.seq > self.anchored_seq:
            try:
                self.anchor()
            except OSError as problem:
                log.error("audit anchor failed", writer=self.name, reason=str(problem))

    def sync(self) -> None:
        self.writer.sync()

    def anchor(self) -> None:
        """Sign the head now (after a sync); nothing without a signer or a record."""
        if self.signer is None or self.writer.head.seq == 0:
            return
        time_ns = self.last_time_ns if self.last_time_ns is not None else self._head_time()
        self.writer.anchor(self.signer, self.anchor_dir, time_ns)
        self.last_anchor_ns = time_ns
        self.anchored_seq = self.writer.head.seq

    def _head_time(self) -> int:
        """The head record's time, read back (a chain this run appended nothing to)."""
        for segment in reversed(chain_segments(self.writer.folder)):
            _, _, last, _ = valid_prefix(read_segment(segment))
            if last is not None:
                return last.time_ns
        return 0

    # --- shells that journal nothing --------------------------------------------------------------

    def note(self, event: AuditEvent, time_ns: int) -> None:
        """One event of a shell that journals nothing, appended at the end of this turn with
        the others noted in it (``origin`` 0), fsynced within ``sync_ms``."""
        self.noted.append(Batch(time_ns, 0, (event,)))
        if self._flush is None:
            self._flush = asyncio.get_running_loop().call_soon(self.flush_noted)

    def flush_noted(self) -> None:
        self._flush = None
        noted, self.noted = self.noted, []
        if not noted:
            return
        try:
            self.append(noted, durable=False)
        except (OSError, AuditCorrupt):
            log.exception("audit append failed", writer=self.name, records=len(noted))
            return
        if self._sync is None:
            self._sync = asyncio.get_running_loop().call_later(self.sync_s, self._synced)

    def _synced(self) -> None:
        self._sync = None
        self.writer.sync()

    # --- the end ----------------------------------------------------------------------------------

    def close(self) -> None:
        """A clean stop: what was noted appended, everything synced, the head anchored, the
        chain's lock released."""
        for handle in (self._flush, self._sync, self._idle):
            if handle is not None:
                handle.cancel()
        self._flush = self._sync = self._idle = None
        if self.noted:
            noted, self.noted = self.noted, []
            self.writer.append_many(noted, durable=False)
            self.last_time_ns = noted[-1].time_ns
        self.writer.sync()
        self.anchor()
        self.writer.close()


def open_audit(name: str, config: Config, data_dir: str | Path, crash: CrashPoints = NOWHERE) -> AuditLog | None:
    """The actor's audit log, or ``None`` when ``[audit] enabled`` is false."""
    if not config.audit.enabled:
        return None
    return AuditLog(name, config, data_dir, crash)
