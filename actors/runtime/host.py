"""The thin Ray shell every actor shares.

``LinkedHost``: listens for batches on a link, sends through links once wired, and can be
re-wired when a peer restarts somewhere new. ``DurableHost`` adds the journal, journal
before acting (docs/recovery.md): every input is appended to the actor's LMDB journal and
committed before it is applied, and outputs leave only after that — so a trader's ``new``
report is never sent before the AccountShard's commit that holds the order.

One event-loop turn is one journal record (group commit): every batch that arrived in the
turn, plus the actor's own inputs (clock ticks, operator commands), with the turn's
``now``. Replaying the records through the same code rebuilds the core, the last seq
applied per sender and the outbox — the same batches with the same seqs — so a restarted
actor resends exactly what it may have sent before and receivers drop what they have.
No ``ray.get`` on this path.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import hashlib
import os
import pickle
import signal
import time
from pathlib import Path
from typing import Any, Protocol

import msgspec
import structlog

from actors.runtime.frames import LinkSecret
from actors.runtime.inbox import Inbox
from actors.runtime.link import Links, LinkServer, link_host
from actors.runtime.logs import configure
from actors.runtime.outbox import DurableOutbox
from actors.runtime.outputs import Outputs
from actors.runtime.router import Router
from model.config import Config
from model.messages import Batch, Message, decode_batch, encode_batch
from snapshots.crashpoints import NOWHERE, CrashPoints, from_environment
from snapshots.journal import Journal, JournalCorrupt

log = structlog.get_logger("runtime")

LOCAL = ""  # the sender of an actor's own inputs
SNAPSHOT_FORMAT = "brokerd-snapshot/2"


class Acker(Protocol):
    def ack(self, seq: int) -> None: ...


class Core(Protocol):
    out: Outputs

    def apply(self, message: Message, now: int) -> None: ...

    def state_hash(self) -> str: ...

    def check_invariants(self) -> None: ...


class Record(msgspec.Struct, array_like=True, frozen=True):
    """One journal entry: the batches one event-loop turn applied, as received."""

    now: int
    batches: list[msgspec.Raw]


_record_decoder = msgspec.msgpack.Decoder(Record)


class Machine:
    """The deterministic part of a journaled actor: its core, the last seq applied per
    sender, and its outbox. Feeding it the same records gives the same state and batches."""

    def __init__(self, name: str, core: Core, router: Router, max_messages: int) -> None:
        self.name = name
        self.core = core
        self.inbox = Inbox()
        self.outbox = DurableOutbox(name, router, max_messages)
        self.errors = 0
        self.messages_applied = 0

    def replay(self, payload: bytes) -> int:
        """Apply one journal record; returns the number of messages."""
        record = _record_decoder.decode(payload)
        batches = []
        applied = self.inbox.applied
        for raw in record.batches:
            batch = decode_batch(raw)
            if batch.sender != LOCAL:
                last = applied.get(batch.sender, 0)
                if batch.seq != last + 1:
                    raise JournalCorrupt(f"{self.name}: journal holds batch {batch.seq} from {batch.sender} after {last}")
                applied[batch.sender] = batch.seq
            batches.append(batch)
        return self.apply_batches(batches, record.now)

    def replay_journal(self, journal: Journal) -> tuple[int, int]:
        """Rebuild from everything ``journal`` still holds: from empty while it starts at 1,
        else from its oldest snapshot. Returns (first sequence replayed, records)."""
        start = 1
        if journal.first_seq() > 1:
            oldest = min(info.seq for info in journal.snapshot_infos())
            snapshot = journal.snapshot_at(oldest)
            if snapshot is None:
                raise JournalCorrupt(f"{self.name}: oldest snapshot {oldest} fails its checksum")
            self.load(snapshot)
            start = oldest + 1
        records = 0
        for _, payload in journal.read_from(start):
            self.replay(payload)
            records += 1
        return start, records

    def apply_batches(self, batches: list[Batch], now: int) -> int:
        count = 0
        core = self.core
        for batch in batches:
            for message in batch.messages:
                try:
                    core.apply(message, now)
                except Exception:
                    self.errors += 1
                    log.exception("message failed", actor=self.name, message=type(message).__name__)
                count += 1
        self.messages_applied += count
        self.outbox.record(core.out.drain(), now)
        return count

    def state_hash(self) -> str:
        """The core's hash together with what replay must also rebuild: the seq applied per
        sender and the seq sent per destination."""
        extra = msgspec.msgpack.encode((sorted(self.inbox.applied.items()), sorted(self.outbox.seq.items())))
        return hashlib.sha256(self.core.state_hash().encode() + extra).hexdigest()

    def dump(self, applied: dict[str, int] | None = None) -> bytes:
        """The snapshot. ``applied``: the seqs the core has applied, when the inbox has
        already accepted batches not yet journaled (a live actor's ``durable``)."""
        gc.disable()
        try:
            applied = dict(self.inbox.applied if applied is None else applied)
            return pickle.dumps((SNAPSHOT_FORMAT, self.core, applied, self.outbox.dump()), protocol=5)
        finally:
            gc.enable()

    def load(self, payload: bytes) -> None:
        loaded = pickle.loads(payload)
        if not isinstance(loaded, tuple) or loaded[0] != SNAPSHOT_FORMAT:
            raise JournalCorrupt(f"{self.name}: snapshot is not in format {SNAPSHOT_FORMAT}; it was written by another version")
        _, self.core, self.inbox.applied, outbox = loaded
        self.outbox.load(outbox)


class LinkedHost:
    """What every actor on the data plane shares. Subclasses say what ``receive`` does and
    what an ack or a reopened link means for their outbox."""

    def __init__(self, name: str, config: Config, gateways: int = 1) -> None:
        self.name = name
        self.sender = name  # the name on its batches; a soft-state actor adds its incarnation
        self.config = config
        configure(config.logging.level)
        self.router = Router(config, gateways)
        self.handles: dict[str, Any] = {}
        self.links: Links | None = None
        self.link_server: LinkServer | None = None
        self.address: tuple[str, int] | None = None
        # The cluster's link secret: given by the supervisor with ``open_link`` (again after
        # a restart, so it survives one), held in memory only, never logged.
        self.link_secret: LinkSecret | None = None
        self.incarnation = time.time_ns()

    async def open_link(self, secret: LinkSecret) -> tuple[str, int]:
        """Listen for batches from other actors, accepting only senders that prove
        ``secret`` under a name of the topology; returns the address to give them."""
        if self.link_server is not None:
            self.link_server.close()
        self.link_secret = secret
        timeout_s = self.config.batching.link_handshake_timeout_ms / 1000
        self.link_server = LinkServer(self.name, self.receive, secret, self.router.is_sender, timeout_s)
        self.address = await self.link_server.start(link_host(self.config))
        return self.address

    async def link_address(self) -> tuple[str, int] | None:
        """Where this actor listens for batches (operators, tests)."""
        return self.address

    async def wire(self, handles: dict[str, Any], addresses: dict[str, tuple[str, int]]) -> None:
        """Receive the topology (Ray handles for control, link addresses for batches); only
        then may the actor send. Destinations with unacked batches are connected at once."""
        if self.link_secret is None:
            raise RuntimeError(f"{self.name}: wired before its link was opened with the cluster's secret")
        self.handles = handles
        if self.links is not None:
            self.links.close()
        timeout_s = self.config.batching.link_handshake_timeout_ms / 1000
        self.links = Links(self.sender, addresses, self.link_secret, timeout_s, self.on_ack, self.on_connect)
        self.wired()
        for name in self.unacked_destinations():
            self.links.connect(name)

    async def update_address(self, name: str, address: tuple[str, int]) -> None:
        """``name`` was restarted and listens somewhere new."""
        if self.links is not None:
            self.links.update(name, address)

    async def ping(self) -> dict[str, Any]:
        return {"incarnation": self.incarnation, "wired": self.links is not None}

    def wired(self) -> None:
        """Called once the links exist."""

    outbox: Any  # an Outbox or a DurableOutbox: both keep every batch until acked

    def unacked_destinations(self) -> list[str]:
        return [name for name, queue in self.outbox.unacked.items() if queue]

    def on_ack(self, name: str, seq: int) -> None:
        """``name`` has applied our batches up to ``seq``."""
        self.outbox.on_ack(name, seq)

    def on_connect(self, name: str) -> None:
        """The link to ``name`` (re)opened: write what it has not acked, in order."""
        assert self.links is not None
        for _, data in self.outbox.unacked.get(name, ()):
            self.links.send(name, data)

    def receive(self, data: bytes, channel: Acker) -> None:
        raise NotImplementedError

    async def on_batch(self, data: bytes) -> None:
        """A batch sent as a Ray call (tests, tools)."""
        self.receive(data, _NoChannel())

    async def flush(self) -> None:
        """Write everything pending now (shutdown, operator commands)."""


def _idle() -> None:
    """Run on a writer thread: returns once everything queued before it is done."""


class _NoChannel:
    def ack(self, seq: int) -> None:
        pass


class DurableHost(LinkedHost):
    """Hosts one pure core behind its journal. Subclasses (the ``actor.py`` files) say how
    to build an empty core (``make_core``) and then call ``recover`` with the data dir."""

    def __init__(self, name: str, config: Config, gateways: int = 1) -> None:
        super().__init__(name, config, gateways)
        self.machine = Machine(name, self.make_core(), self.router, config.batching.max_messages)
        self.journal: Journal | None = None
        self.crash: CrashPoints = NOWHERE
        self.pending: list[tuple[Batch, bytes]] = []
        self.channels: dict[str, Acker] = {}  # where each sender listens for acks
        self.durable: dict[str, int] = {}  # last seq per sender on disk (≤ the inbox's applied)
        self.commit_handle: asyncio.Handle | None = None
        self.in_flight: asyncio.Future[int] | None = None
        self.local_submitted = 0  # the actor's own inputs (submit_local) ...
        self.local_applied = 0  # ... and how many of them are committed and applied
        self.local_progress = asyncio.Event()
        self.writer = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"journal-{name}")
        self.events_since_snapshot = 0
        self.last_snapshot_ns = time.monotonic_ns()
        self.snapshot_seq = 0
        self.recovery: dict[str, Any] = {}

    def make_core(self) -> Core:
        raise NotImplementedError

    @property
    def core(self) -> Any:
        return self.machine.core

    @property
    def inbox(self) -> Inbox:
        return self.machine.inbox

    @property
    def outbox(self) -> DurableOutbox:
        return self.machine.outbox

    # --- start: snapshot + replay -------------------------------------------------------------

    def recover(self, data_dir: str) -> None:
        """Load the newest good snapshot and replay the journal after it. Raises
        ``JournalCorrupt`` (naming actor, sequence and what to do) rather than load bad state."""
        journal_conf = self.config.journal
        self.crash = from_environment(self.name, data_dir)
        self.allocations_seen = 0
        self.nav_markers_seen = 0
        if journal_conf.durability == "none":
            return  # in memory only: nothing to recover, nothing written
        self.journal = Journal(
            Path(data_dir) / self.name,
            self.name,
            durability=journal_conf.durability,
            map_size=journal_conf.map_size_mb * 1024 * 1024,
            crash=self.crash,
        )
        started = time.monotonic_ns()
        gc.disable()  # millions of short-lived objects, none in cycles: the collector only costs
        try:
            self._rebuild()
        finally:
            gc.enable()
        seconds = (time.monotonic_ns() - started) / 1e9
        self.allocations_seen = getattr(self.core, "allocations", 0)  # block fills allocated or booked (crash point)
        self.nav_markers_seen = getattr(self.core, "nav_markers", 0)  # NAV markers passed on or received (crash point)
        self.recovery["seconds"] = round(seconds, 3)
        if self.recovery["records"] or self.recovery["snapshot"] is not None:
            log.info("recovered", actor=self.name, **self.recovery)

    def _rebuild(self) -> None:
        assert self.journal is not None
        start = 1
        snapshot = self.journal.latest_snapshot()
        if snapshot is not None:
            start = snapshot[0] + 1
            self.machine.load(snapshot[1])
            self.snapshot_seq = snapshot[0]
        first = self.journal.first_seq()
        if first > start:
            raise JournalCorrupt(
                f"{self.name}: the journal starts at {first} but the newest good snapshot covers only up to {start - 1}; "
                f"restore {self.journal.path} from a copy"
            )
        records = messages = 0
        for _, payload in self.journal.read_from(start):
            messages += self.machine.replay(payload)
            records += 1
        self.outbox.fresh.clear()  # written when the links open (every unacked batch)
        self.durable = dict(self.inbox.applied)
        self.recovery = {
            "snapshot": snapshot[0] if snapshot else None,
            "records": records,
            "messages": messages,
            "last_seq": self.journal.last_seq,
        }

    # --- live: receive, commit, apply, send ---------------------------------------------------

    def receive(self, data: bytes, channel: Acker) -> None:
        """A batch from another actor: queued for the next journal record, in order per
        sender, each once. A repeat is acked again (up to what is on disk) so the sender
        stops resending it."""
        batch = decode_batch(data)
        ready = self.inbox.accept(batch, time.time_ns())
        self.channels[batch.sender] = channel
        if not ready:
            durable = self.durable.get(batch.sender, 0)
            if batch.seq <= durable:
                channel.ack(durable)
            return
        for accepted in ready:
            self.pending.append((accepted, data if accepted is batch else encode_batch(accepted)))
        self._schedule_commit()

    def submit_local(self, messages: list[Message]) -> None:
        """The actor's own inputs (clock ticks, operator commands): journaled like any."""
        batch = Batch(LOCAL, 0, 0, messages)
        self.pending.append((batch, encode_batch(batch)))
        self.local_submitted += 1
        self._schedule_commit()

    async def local_inputs_applied(self) -> None:
        """Until every input this actor gave itself so far is committed and applied. Lighter
        than ``settle``: it waits for no one else's inputs and for no background snapshot."""
        target = self.local_submitted
        while self.local_applied < target:
            self.local_progress.clear()
            await self.local_progress.wait()

    def _schedule_commit(self) -> None:
        if self.commit_handle is None and self.in_flight is None:
            self.commit_handle = asyncio.get_running_loop().call_soon(self._begin_commit)

    def _begin_commit(self) -> None:
        """Group commit, pipelined: everything that arrived since the last record becomes one
        record. With fsync the commit runs on the journal's writer thread, so this actor goes
        on reading (and grouping) its inputs while the disk works; the record is applied and
        its outputs sent when the commit returns, records strictly in order."""
        self.commit_handle = None
        if self.in_flight is not None or not self.pending:
            return
        if self.journal is None or self.config.journal.durability != "fsync":
            self.commit()  # nothing to wait for: inline
            return
        pending, self.pending = self.pending, []
        now = time.time_ns()
        record = msgspec.msgpack.encode(Record(now, [msgspec.Raw(data) for _, data in pending]))
        loop = asyncio.get_running_loop()
        self.in_flight = loop.run_in_executor(self.writer, self.journal.append, [record])
        self.in_flight.add_done_callback(lambda done: self._committed(done, pending, now))

    def _committed(self, done: asyncio.Future[int], pending: list[tuple[Batch, bytes]], now: int) -> None:
        self.in_flight = None
        if done.cancelled() or done.exception() is not None:
            self._fail_stop(done.exception())
        self._finish(pending, now)
        if self.pending:
            self._schedule_commit()

    def commit(self) -> None:
        """Append what is pending in one transaction, here and now, then apply it and send.
        Only when no pipelined commit is in flight (see ``settle``)."""
        if self.in_flight is not None:
            raise RuntimeError(f"{self.name}: commit while a commit is in flight; await settle()")
        if self.commit_handle is not None:
            self.commit_handle.cancel()
            self.commit_handle = None
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        now = time.time_ns()
        if self.journal is not None:
            record = msgspec.msgpack.encode(Record(now, [msgspec.Raw(data) for _, data in pending]))
            try:
                self.journal.append([record])
            except Exception as failure:
                self._fail_stop(failure)
        self._finish(pending, now)

    async def settle(self) -> None:
        """Until everything received so far is committed, applied and sent, and the writer
        thread is idle (a background snapshot written): then the journal is ours alone."""
        loop = asyncio.get_running_loop()
        while True:
            if self.in_flight is not None:
                await asyncio.wait([self.in_flight])
                await asyncio.sleep(0)  # the done callback runs
                continue
            await loop.run_in_executor(self.writer, _idle)
            if self.in_flight is not None:
                continue
            if not self.pending:
                return
            self.commit()

    def _fail_stop(self, failure: BaseException | None) -> None:
        # These inputs are neither on disk nor applied, but the in-memory inbox counts them.
        # Die, and let the restart rebuild from the journal; the senders still hold the
        # batches (unacked) and resend them.
        log.critical("journal append failed; the actor stops and recovers", actor=self.name, error=repr(failure))
        os.kill(os.getpid(), signal.SIGKILL)

    def _finish(self, pending: list[tuple[Batch, bytes]], now: int) -> None:
        """A record is on disk: apply it, send its outputs, ack its batches."""
        self.crash.hit("journal.after_commit")
        applied = self.machine.apply_batches([batch for batch, _ in pending], now)
        self.crash.hit("apply.before_send")
        if self.crash.point == "allocation.before_send":  # a recovery test: only then is it counted
            allocations = getattr(self.core, "allocations", 0)
            if allocations > self.allocations_seen:
                self.crash.hit("allocation.before_send")
            self.allocations_seen = allocations
        if self.crash.point == "nav.before_send":
            markers = getattr(self.core, "nav_markers", 0)
            if markers > self.nav_markers_seen:
                self.crash.hit("nav.before_send")
            self.nav_markers_seen = markers
        self._send_fresh()
        self.on_applied()
        acked: dict[str, int] = {}
        local = 0
        for batch, _ in pending:
            if batch.sender != LOCAL:
                acked[batch.sender] = batch.seq
            else:
                local += 1
        if local:
            self.local_applied += local
            self.local_progress.set()
        durable = self.durable
        channels = self.channels
        for sender, seq in acked.items():
            durable[sender] = seq
            channel = channels.get(sender)
            if channel is not None:
                channel.ack(seq)
        self.events_since_snapshot += applied
        if self._snapshot_due():
            self.snapshot(background=self.config.journal.durability == "fsync")

    def on_applied(self) -> None:
        """A record was committed and applied (live, never during replay): a subclass sends
        what its core queued for the outside world (a FIX venue's messages)."""

    def _send_fresh(self) -> None:
        fresh = self.outbox.take_fresh()
        links = self.links
        if links is None:
            return  # not wired yet: everything is unacked and goes when the links open
        for name, data in fresh:
            links.send(name, data)

    async def flush(self) -> None:
        await self.settle()

    async def wait_acked(self, timeout: float = 10.0) -> bool:
        """Until every batch sent so far is applied by its receiver (operator commands)."""
        deadline = time.monotonic() + timeout
        while not self.outbox.all_acked():
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.002)
        return True

    # --- snapshots ------------------------------------------------------------------------------

    def _snapshot_due(self) -> bool:
        conf = self.config.journal
        if conf.snapshot_every_events and self.events_since_snapshot >= conf.snapshot_every_events:
            return True
        if conf.snapshot_every_s and self.events_since_snapshot:
            return time.monotonic_ns() - self.last_snapshot_ns >= conf.snapshot_every_s * 1_000_000_000
        return False

    def snapshot(self, background: bool = False) -> int:
        """Write the whole state as of the journal's end, then drop what the previous
        snapshot covers. Returns the journal sequence the snapshot covers.

        ``background`` (the schedule, with fsync): the state is serialised here, and written
        and synced on the journal's writer thread, in order with the appends around it,
        so the actor goes on reading its links meanwhile. It covers what is applied: the
        inputs still pending are not in the state, nor in the journal yet."""
        if not background:
            self.commit()
        if self.journal is None:
            return 0
        seq = self.journal.last_seq
        self.events_since_snapshot = 0
        self.last_snapshot_ns = time.monotonic_ns()
        if seq == self.snapshot_seq and seq:
            return seq
        state = self.machine.dump(self.durable)  # not the inbox's: it counts batches still pending
        self.snapshot_seq = seq
        if background:
            self.writer.submit(self._write_snapshot, seq, state)
        else:
            self._write_snapshot(seq, state)
        return seq

    def _write_snapshot(self, seq: int, state: bytes) -> None:
        assert self.journal is not None
        try:
            self.journal.write_snapshot(seq, state)
            self.journal.truncate()
        except Exception as failure:
            self._fail_stop(failure)

    async def take_snapshot(self) -> int:
        await self.settle()
        return self.snapshot()

    # --- checks and status ---------------------------------------------------------------------

    async def state_hash(self) -> str:
        await self.settle()
        return self.machine.state_hash()

    async def replay_hash(self) -> dict[str, Any]:
        """Replay this actor's journal into a fresh machine — from empty when the journal
        still starts at 1, else from its oldest snapshot — and return its hash beside the
        live one. Equal hashes: replay is deterministic and the live state is what the
        journal says."""
        await self.settle()
        if self.journal is None:
            return {"live": self.machine.state_hash(), "replayed": self.machine.state_hash(), "from": None}
        replica = Machine(self.name, self.make_core(), self.router, self.config.batching.max_messages)
        start, _ = replica.replay_journal(self.journal)
        return {"live": self.machine.state_hash(), "replayed": replica.state_hash(), "from": start}

    async def check_invariants(self) -> None:
        self.core.check_invariants()

    async def status(self) -> dict[str, Any]:
        journal = self.journal
        return {
            "name": self.name,
            "applied": self.machine.messages_applied,
            "errors": self.machine.errors,
            "held_batches": self.inbox.waiting(),
            "batches_sent": self.outbox.batches_sent,
            "unacked_batches": self.outbox.unacked_batches(),
            "journal_seq": journal.last_seq if journal else 0,
            "snapshot_seq": self.snapshot_seq,
            "incarnation": self.incarnation,
            "pid": os.getpid(),
            "recovered": self.recovery,
            "anomalies": len(getattr(self.core, "anomalies", [])),
            **self.inbox.delay_percentiles(),
        }

    async def close(self) -> None:
        """Clean shutdown: commit, snapshot, close the journal."""
        await self.settle()
        if self.journal is not None:
            self.snapshot()
            self.journal.sync()
