"""The deterministic part of a journaled actor: its core, the last seq applied per sender and
its outbox, rebuilt from a journal by one loop.

A journal record is one event-loop turn (``Record``): the turn's ``now`` and every batch
applied in it, byte for byte as received. Feeding a ``Machine`` the same records gives the
same state and the same outgoing batches — that is what recovery (newest snapshot + the
records after it) and the live replay check (oldest snapshot or empty + everything) rely on.
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

import msgspec
import structlog

from actors.runtime.inbox import Inbox
from actors.runtime.outbox import DurableOutbox
from actors.runtime.outputs import Dispatcher, Outputs
from actors.runtime.router import Router
from actors.runtime.snapshot import Captured, capture, load, parts
from model.audit import AuditEvent
from model.messages import Batch, Message, encode_batch
from snapshots.audit import Batch as AuditBatch
from snapshots.journal import JournalCorrupt, JournalLike

log = structlog.get_logger("runtime")

LOCAL = ""  # the sender of an actor's own inputs
# A rebuild hands its regenerated audit events to the shell every this many journal records:
# one write per group, not one per record, and no more than this many records' events held
REPLAY_AUDIT_RECORDS = 1024


class Core(Protocol):
    """A pure core: applies messages, says its hash, and snapshots (``actors/runtime/snapshot.py``)."""

    out: Outputs
    snapshot_type: ClassVar[Any]  # its state struct, which ``snapshot`` returns and ``restore`` takes

    def apply(self, message: Message, now: int) -> None: ...

    def state_hash(self) -> str: ...

    def check_invariants(self) -> None: ...

    def snapshot(self) -> Any: ...

    @classmethod
    def restore(cls, state: Any) -> Any: ...


class Record(msgspec.Struct, array_like=True, frozen=True):
    """One journal entry: the batches one event-loop turn applied, as received."""

    now: int
    batches: list[msgspec.Raw]


record_decoder = msgspec.msgpack.Decoder(Record)


class ReplayRecord(msgspec.Struct, array_like=True, frozen=True):
    """The same journal entry as ``Record``, read for replay: its batches decoded in the one
    call that reads the record (replay needs the messages, not the bytes as received)."""

    now: int
    batches: list[Batch]


replay_decoder = msgspec.msgpack.Decoder(ReplayRecord)


def encode_record(now: int, batches: list[tuple[Batch, bytes]]) -> bytes:
    """The journal entry of one turn: each batch's bytes as received, not re-encoded."""
    return msgspec.msgpack.encode(Record(now, [msgspec.Raw(data) for _, data in batches]))


def local_batch(messages: list[Message]) -> tuple[Batch, bytes]:
    """The actor's own inputs as a batch from ``LOCAL`` (no seq: they never repeat)."""
    batch = Batch(LOCAL, 0, 0, messages)
    return batch, encode_batch(batch)


class Rebuilt(msgspec.Struct, frozen=True):
    """What ``Machine.rebuild`` did: the snapshot loaded (``None``: from empty), the first
    sequence replayed after it, the records and messages replayed."""

    snapshot: int | None
    start: int
    records: int
    messages: int


class Machine:
    """A journaled actor's deterministic state. No clock, no I/O but the journal it reads.

    ``audit``: whether the core emits audit events (``AUDIT`` sends, docs/audit.md); each
    record's are kept as one ``snapshots.audit.Batch`` (its ``now`` and journal sequence) in
    ``audit_batches`` until the shell takes them (``take_audit``). They are no part of the
    state: a machine without ``audit`` (a replay check) reaches the same hash."""

    def __init__(self, name: str, core: Core, router: Router, max_messages: int, audit: bool = False) -> None:
        self.name = name
        self.audit = audit
        self.audit_batches: list[AuditBatch] = []
        self.nowhere = router.nowhere()
        self.core = core
        self.inbox = Inbox()
        self.outbox = DurableOutbox(name, router, max_messages)
        self.errors = 0
        self.messages_applied = 0

    def rebuild(
        self,
        journal: JournalLike,
        snapshot: tuple[int, bytes] | None,
        audit: Callable[[list[AuditBatch]], object] | None = None,
        progress: Callable[[int, int], object] | None = None,
    ) -> Rebuilt:
        """Load ``snapshot`` (``(seq, payload)``; ``None``: start from empty) and replay every
        record after it. Raises ``JournalCorrupt`` when the journal does not continue it.
        ``audit``: given the audit events the replay regenerates, in order, every
        ``REPLAY_AUDIT_RECORDS`` records and at the end (the shell appends them; its writer
        skips what the chain holds); without it they are dropped. ``progress``: told the
        records replayed and how many there are to replay, at the same times."""
        start = 1
        if snapshot is not None:
            self.load(snapshot[1])
            start = snapshot[0] + 1
        first = journal.first_seq()
        if first > start:
            covered = f"the snapshot covers only up to {start - 1}" if snapshot is not None else "there is no snapshot to start from"
            raise JournalCorrupt(f"{self.name}: the journal starts at {first} but {covered}; restore {journal.path} from a copy")
        records = messages = 0
        total = max(0, journal.last_seq - start + 1)
        for seq, payload in journal.read_from(start):
            messages += self.replay(payload, seq)
            records += 1
            if records % REPLAY_AUDIT_RECORDS == 0:
                self._hand_audit(audit)
                if progress is not None:
                    progress(records, total)
        self._hand_audit(audit)
        return Rebuilt(None if snapshot is None else snapshot[0], start, records, messages)

    def _hand_audit(self, audit: Callable[[list[AuditBatch]], object] | None) -> None:
        batches = self.take_audit()
        if audit is not None and batches:
            audit(batches)

    def take_audit(self) -> list[AuditBatch]:
        """The audit events of the records applied since the last call, one batch a record."""
        batches, self.audit_batches = self.audit_batches, []
        return batches

    def replay(self, payload: bytes, origin: int = 0) -> int:
        """Apply one journal record (``origin``: its sequence); returns the number of messages.

        Guarantees: the same state, inbox and outbox (seqs and unacked batches, byte for
        byte) as the live ``apply_batches`` of the same turn; only the outbox's ``fresh``
        list is not filled — a replayed batch is written when its link opens, with every
        other unacked one, never as fresh."""
        record = replay_decoder.decode(payload)
        batches = record.batches
        applied = self.inbox.applied
        for batch in batches:
            sender = batch.sender
            if sender != LOCAL:
                last = applied.get(sender, 0)
                if batch.seq != last + 1:
                    raise JournalCorrupt(f"{self.name}: journal holds batch {batch.seq} from {sender} after {last}")
                applied[sender] = batch.seq
        return self.apply_batches(batches, record.now, fresh=False, origin=origin)

    def apply_batches(self, batches: list[Batch], now: int, fresh: bool = True, origin: int = 0) -> int:
        """Apply every message (a failing one is counted and logged; the rest go on) and
        record the outputs as batches; returns the number of messages. ``fresh``: the
        batches made are also queued to be written now (live), not only kept until acked.
        ``origin``: the journal sequence of the record applied, which its audit events carry.

        A core with a handler table (``Dispatcher``) has each message's handler called here,
        without its ``apply`` in between: one Python call less per message, the same
        handler, the same ``TypeError`` for a message it does not take.

        The garbage collector waits until the turn is applied: a turn makes many short-lived
        objects and no cycles (a basket's chunk: several per order for thousands of orders),
        and each collection during it would walk every tracked object of the book again —
        about a fifth of a shard's time on a basket chunk. It runs after, as usual."""
        count = 0
        core = self.core
        handlers = self.handlers
        collecting = gc.isenabled()
        gc.disable()
        try:
            for batch in batches:
                messages = batch.messages
                count += len(messages)
                if handlers is None:
                    for message in messages:
                        try:
                            core.apply(message, now)
                        except Exception:
                            self._failed(message)
                    continue
                for message in messages:
                    try:
                        handler = handlers.get(type(message))
                        if handler is None:
                            core.apply(message, now)  # raises the core's own TypeError
                        else:
                            handler(core, message, now)
                    except Exception:
                        self._failed(message)
            self.messages_applied += count
            if self.end_turn is not None:
                try:
                    self.end_turn(now)
                except Exception:
                    self.errors += 1
                    log.exception("end of turn failed", actor=self.name)
            out = core.out
            if out.events:
                self._take_audit_events(out.take_events(), now, origin)
            self.outbox.record(out.drain(), now, fresh)
        finally:
            if collecting:
                gc.enable()
        return count

    def _take_audit_events(self, events: list[AuditEvent], now: int, origin: int) -> None:
        """The ``AUDIT`` sends of this record (``Outputs.events``) become its audit batch;
        without ``audit`` (a core that emits them regardless) they are dropped, as before."""
        if self.audit:
            self.audit_batches.append(AuditBatch(now, origin, events))

    def _failed(self, message: Message) -> None:
        self.errors += 1
        log.exception("message failed", actor=self.name, message=type(message).__name__)

    @property
    def core(self) -> Any:
        return self._core

    @core.setter
    def core(self, core: Any) -> None:
        self._core = core
        core.out.audit = self.audit  # a restored core has a new ``Outputs``
        core.out.nowhere = self.nowhere
        # what a core does once a record's inputs are applied (an InstrumentActor routes the
        # marketable orders that did not cross within the turn): live and in replay alike
        self.end_turn: Any = getattr(core, "end_turn", None)
        # the handler table when ``apply`` is the table's lookup and nothing more
        self.handlers: dict[type, Any] | None = getattr(core, "_handlers", None) if type(core).apply is Dispatcher.apply else None

    def state_hash(self) -> str:
        """The core's hash together with what replay must also rebuild: the seq applied per
        sender and the seq sent per destination."""
        extra = msgspec.msgpack.encode((sorted(self.inbox.applied.items()), sorted(self.outbox.seq.items())))
        return hashlib.sha256(self.core.state_hash().encode() + extra).hexdigest()

    def records(self) -> int:
        """How many records (orders, routes) a snapshot of the core would hold: what its
        cost grows with (``Snapshotter``). A core without a ``records`` method: 0."""
        count = getattr(self.core, "records", None)
        return 0 if count is None else int(count())

    def dump(self, applied: dict[str, int] | None = None) -> bytes:
        """The snapshot (format 3, ``actors/runtime/snapshot.py``) in one piece. ``applied``:
        the seqs the core has applied, when the inbox has already accepted batches not yet
        journaled (a live actor's ``durable``)."""
        return b"".join(parts(self.capture(applied), 1 << 62))

    def capture(self, applied: dict[str, int] | None = None, now: bool = True) -> Captured:
        """The snapshot as of now, to be written later in parts (``snapshot.parts``), while
        the core goes on: what a background snapshot takes on the event loop. ``now=False``:
        for a snapshot written before the core changes again (``snapshot.capture``)."""
        collecting = gc.isenabled()
        gc.disable()
        try:
            applied = dict(self.inbox.applied if applied is None else applied)
            return capture(self.core, applied, self.outbox.dump(), now)
        finally:
            if collecting:
                gc.enable()

    def load(self, payload: bytes) -> None:
        """Replace the state with the snapshot's (format 3, or 2 migrated). Raises
        ``JournalCorrupt`` for anything else, changing nothing."""
        loaded = load(self.name, type(self.core), payload)
        self.core, self.inbox.applied = loaded.core, loaded.applied
        self.outbox.load(loaded.outbox)


def oldest_snapshot(journal: JournalLike) -> tuple[int, bytes] | None:
    """Where a replay of everything the journal still holds starts: from empty while the
    journal starts at 1, else its oldest snapshot (which must be whole)."""
    infos = journal.snapshot_infos()
    if journal.first_seq() == 1 or not infos:
        return None
    oldest = min(info.seq for info in infos)
    payload = journal.snapshot_at(oldest)
    if payload is None:
        raise JournalCorrupt(f"{journal.name}: oldest snapshot {oldest} fails its checksum")
    return oldest, payload


def replay_hash(live: Machine, fresh: Machine, journal: JournalLike) -> dict[str, Any]:
    """Replay everything ``journal`` holds into ``fresh`` and return its hash beside the
    live one; ``from`` is the first sequence replayed. Equal hashes: replay is deterministic
    and the live state is what the journal says. A journal that keeps nothing
    (``durability = "none"``) has nothing to replay: the live state is all there is."""
    live_hash = live.state_hash()
    if not journal.replayable:
        return {"live": live_hash, "replayed": live_hash, "from": None}
    rebuilt = fresh.rebuild(journal, oldest_snapshot(journal))
    return {"live": live_hash, "replayed": fresh.state_hash(), "from": rebuilt.start}
