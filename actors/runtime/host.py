"""The thin Ray shell every actor shares.

``LinkedHost``: listens for batches on a link, sends through links once wired, and can be
re-wired when a peer restarts somewhere new. ``DurableHost`` adds the journal, journal
before acting (docs/recovery.md): every input is appended to the actor's LMDB journal and
committed before it is applied, and outputs leave only after that — so a trader's ``new``
report is never sent before the AccountShard's commit that holds the order.

The parts, one idea each: ``machine.py`` (the deterministic state and its rebuild from a
journal), ``commit.py`` (the pipelined group commit), ``snapshotter.py`` (when and how to
snapshot), ``crashhooks.py`` (the crash points of a turn, for recovery tests). A host
without durability has a ``NullJournal`` behind the same interface. No ``ray.get`` on this
path.
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, Protocol

import structlog

from actors.runtime import heap
from actors.runtime.audit import AuditLog, open_audit
from actors.runtime.commit import GroupCommit, Pending, fail_stop
from actors.runtime.crashhooks import TurnCrashPoints
from actors.runtime.frames import LinkSecret
from actors.runtime.histogram import Histogram
from actors.runtime.inbox import SOFT, Inbox
from actors.runtime.link import Links, LinkServer, link_host
from actors.runtime.logs import configure
from actors.runtime.machine import LOCAL, Core, Machine, local_batch, replay_hash
from actors.runtime.memprobe import start as start_memprobe
from actors.runtime.outbox import DurableOutbox
from actors.runtime.placement import ship_root, this_node
from actors.runtime.router import Router
from actors.runtime.snapshotter import Snapshotter
from model.config import Config, JournalSection
from model.messages import Batch, Message, decode_batch, encode_batch
from snapshots.audit import AuditCorrupt
from snapshots.crashpoints import NOWHERE, CrashPoints
from snapshots.journal import Journal, JournalLike, NullJournal
from snapshots.shipping import ShippedJournal

log = structlog.get_logger("runtime")

# glibc's free pages go back to the kernel after every this many bytes of batches received,
# made and (those carrying an allocation's fills) acked (``heap.trim``, about 10 ms per few hundred MB of heap): a large, passing piece of work — the
# open's allocations, a basket's chunks — leaves its buffers' pages free inside glibc's heap,
# among the long-lived blocks of the records it booked, where nothing else returns them.
# Measured at 1,000,000 orders: 50 MB of a shard's 700 (and 45 of an InstrumentActor's 200).
# Only records this large count (batches received and made): bulk work — the open, a
# basket — not the steady flow of orders, whose records are small and whose latency a trim's
# pause on the event loop would reach.
TRIM_EVERY_BYTES = 16 << 20
BIG_RECORD_BYTES = 256 << 10
# ... and once the bulk work has gone quiet this long: what its last records and the acks
# after them freed (at 2,000,000 orders about 100 MB in each account shard and
# InstrumentActor) would otherwise stay with the process until the next bulk work.
IDLE_TRIM_SECONDS = 1.0


class Acker(Protocol):
    def ack(self, seq: int) -> None: ...


class LinkedHost:
    """What every actor on the data plane shares. Subclasses say what ``receive`` does and
    what an ack or a reopened link means for their outbox."""

    def __init__(self, name: str, config: Config) -> None:
        self.name = name
        self.sender = name  # the name on its batches; a soft-state actor adds its incarnation
        self.config = config
        configure(config.logging.level)
        self.router = Router(config)
        self.handles: dict[str, Any] = {}
        self.links: Links | None = None
        self.link_server: LinkServer | None = None
        self.address: tuple[str, int] | None = None
        # The cluster's link secret: given by the supervisor with ``open_link`` (again after
        # a restart, so it survives one), held in memory only, never logged.
        self.link_secret: LinkSecret | None = None
        self.incarnation = time.time_ns()
        self._node: dict[str, str] | None = None  # where this process runs (``node``), asked once
        start_memprobe(name)  # only with BROKERD_MEMPROBE set (benchmarks, investigations)

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
        """Receive the topology (the Ray handles of the actors its role calls, ``Role.calls``,
        for control; every link address, for batches); only then may the actor send.
        Destinations with unacked batches are connected at once."""
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

    async def update_address(self, name: str, address: tuple[str, int], handle: Any = None) -> None:
        """``name`` was restarted and listens somewhere new; ``handle``: it was created
        again (a lost node's actor, on another node), this is its new Ray handle."""
        if handle is not None:
            self.handles[name] = handle
        if self.links is not None:
            self.links.update(name, address)

    async def ping(self) -> dict[str, Any]:
        return {"incarnation": self.incarnation, "wired": self.links is not None}

    async def node(self) -> dict[str, str]:
        """The node this actor runs on (``id``, ``ip``, ``hostname``), asked of Ray here,
        inside the actor, so it is where the process is, not where it was meant to be."""
        if self._node is None:
            self._node = this_node()
        return self._node

    async def where(self) -> dict[str, Any]:
        """The status fields saying where this actor runs and keeps its data (docs/admin.md)."""
        return {"node": await self.node(), "data_dir": self.config.server.data_dir}

    async def histograms(self) -> dict[str, Any]:
        """The latency histograms this actor keeps for ``/metrics`` (docs/web.md#metrics):
        ``hop`` (a batch's sender to here) and, for a journaled actor, ``commit`` (a
        journal record encoded to committed). Cumulative since this process started."""
        return {}

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


class _NoChannel:
    def ack(self, seq: int) -> None:
        pass


class ReplayProgress:
    """A starting actor's replay, logged as it goes: at most every ``every_s`` seconds, the
    records replayed of how many, the rate and the time left (``[journal] replay_progress_s``)."""

    def __init__(self, name: str, every_s: int, emit: Callable[..., object] | None = None) -> None:
        self.name = name
        self.every_ns = every_s * 1_000_000_000
        self.started = self.last = time.monotonic_ns()
        self.emit = emit if emit is not None else log.info  # (event, **fields)

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic_ns()
        if not self.every_ns or now - self.last < self.every_ns:
            return
        self.last = now
        rate = done / max(now - self.started, 1) * 1e9
        left = max(total - done, 0) / rate if rate else 0.0
        self.emit("replaying", actor=self.name, records=done, of=total, percent=round(100 * done / total, 1) if total else 100.0,
                  records_per_s=round(rate), seconds_left=round(left, 1))  # fmt: skip


class DurableHost(LinkedHost):
    """Hosts one pure core behind its journal. Subclasses (the ``actor.py`` files) say how
    to build an empty core (``make_core``) and then call ``recover`` with the data dir.

    The audit log (docs/audit.md, "For the actors"): the ``AUDIT`` outputs of each journal
    record are appended to the actor's chain after the record's commit and before anything
    of it is sent or acked, one write per commit group (fsynced with it when the journal
    is); a rebuild appends what its replay regenerates (the writer skips what the chain
    holds); a snapshot, after which the journal no longer holds its inputs, syncs the chain
    first; a clean stop anchors it. Only a host whose core writes audit events (``audited``)
    opens a chain."""

    audited: ClassVar[bool] = False  # whether the core emits ``AUDIT`` outputs (an account shard, an instrument actor)

    def __init__(self, name: str, config: Config) -> None:
        super().__init__(name, config)
        self.machine = Machine(name, self.make_core(), self.router, config.batching.max_messages, audit=self.audited and config.audit.enabled)
        self.audit_log: AuditLog | None = None  # opened by ``recover``
        self.channels: dict[str, Acker] = {}  # where each sender listens for acks
        self.durable: dict[str, int] = {}  # last seq per sender on disk (≤ the inbox's applied)
        self.local_submitted = 0  # the actor's own inputs (submit_local) ...
        self.local_applied = 0  # ... and how many of them are committed and applied
        self.local_progress = asyncio.Event()
        self.crash: CrashPoints = NOWHERE
        self.crash_hooks: TurnCrashPoints | None = None  # only when a recovery test armed a point
        self.recovery: dict[str, Any] = {}
        self.untrimmed = 0  # bytes of big records' batches, applied and made, since glibc last gave its free pages back
        self._trim_later: asyncio.TimerHandle | None = None  # the trim after the bulk work goes quiet
        self._attach(NullJournal(name))  # until ``recover`` opens the real one

    def make_core(self) -> Core:
        raise NotImplementedError

    def _attach(self, journal: JournalLike, snapshot_seq: int = 0) -> None:
        self.journal = journal
        self.background = self.config.journal.durability == "fsync"  # commits and snapshots on the writer thread
        self.commits = GroupCommit(self.name, journal, self.background, self._finish, self.config.journal.lazy_commit_ms / 1000)
        self.commits.prefix = self._soft_head
        # measured for /metrics from here on (a replay's hops are not traffic)
        self.commits.histogram = Histogram(self.config.web.latency_buckets_us)
        if self.machine.inbox.histogram is None:
            self.machine.inbox.histogram = Histogram(self.config.web.latency_buckets_us)
        self.snapshotter = Snapshotter(self.name, journal, self.config.journal, self.commits.writer, snapshot_seq)

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
        self.crash = CrashPoints(self.config.server.crash_at, self.name, data_dir)
        journal = open_journal(self.name, Path(data_dir), self.config.journal, self.crash, ship_root(self.config))
        audit = self.audit_log = open_audit(self.name, self.config, data_dir, self.crash) if self.audited else None
        if audit is not None and journal.replayable and audit.head_origin > journal.last_seq:
            audit.close()
            raise AuditCorrupt(
                f"{self.name}: the audit chain holds records of journal record {audit.head_origin} but the journal ends at "
                f"{journal.last_seq}: this data dir is not the one the audit log under {audit.writer.folder} was written from"
            )
        started = time.monotonic_ns()
        cpu_started = time.thread_time_ns()
        collecting = gc.isenabled()
        gc.disable()  # millions of short-lived objects, none in cycles: the collector only costs
        try:
            progress = ReplayProgress(self.name, self.config.journal.replay_progress_s)
            rebuilt = self.machine.rebuild(journal, journal.latest_snapshot(), None if audit is None else self._append_replayed, progress)
        finally:
            if collecting:
                gc.enable()
        if audit is not None:
            audit.sync()
        self._attach(journal, rebuilt.snapshot or 0)
        self.outbox.fresh.clear()  # written when the links open (every unacked batch)
        self.durable = dict(self.inbox.applied)
        self.crash_hooks = TurnCrashPoints.armed(self.crash, self.core)
        self.recovery = {
            "snapshot": rebuilt.snapshot,
            "records": rebuilt.records,
            "messages": rebuilt.messages,
            "last_seq": journal.last_seq,
            "seconds": round((time.monotonic_ns() - started) / 1e9, 3),
            # this thread's CPU time: what the rebuild cost whatever else shared the cores
            "cpu_seconds": round((time.thread_time_ns() - cpu_started) / 1e9, 3),
        }
        if rebuilt.records or rebuilt.snapshot is not None:
            log.info("recovered", actor=self.name, **self.recovery)

    def _append_replayed(self, batches: list[Any]) -> None:
        assert self.audit_log is not None
        self.audit_log.append(batches, durable=False)  # synced once the rebuild is done

    # --- live: receive, commit, apply, send ---------------------------------------------------

    def receive(self, data: bytes, channel: Acker) -> None:
        """A batch from another actor: queued for the next journal record, in order per
        sender, each once. A repeat is acked again (up to what is on disk) so the sender
        stops resending it."""
        batch = decode_batch(data)
        if batch.seq == SOFT:
            self.receive_soft(batch)
            return
        ready = self.inbox.accept(batch, time.time_ns())
        self.channels[batch.sender] = channel
        if not ready:
            durable = self.durable.get(batch.sender, 0)
            if batch.seq <= durable:
                channel.ack(durable)
            return
        commits = self.commits
        for accepted in ready:
            commits.pending.append((accepted, data if accepted is batch else encode_batch(accepted)))
        if all(self.may_wait(accepted) for accepted in ready):
            commits.schedule_lazily()
        else:
            commits.schedule()

    def may_wait(self, batch: Batch) -> bool:
        """Whether a sequenced batch may ride in the next record instead of asking for one
        (``GroupCommit.schedule_lazily``): only one whose messages change nothing and send
        nothing, so nobody waits for it. It is still journaled before it is applied and
        acked only after, so a crash loses nothing: its sender, never acked, sends it again.
        Here: none."""
        return False

    def receive_soft(self, batch: Batch) -> None:
        """A soft batch (``seq`` 0: unsequenced, never acked or resent): what a subclass keeps
        of it is soft state until ``soft_inputs`` hands it to a record. Here: nothing."""

    def soft_inputs(self) -> list[Message]:
        """The soft state to journal at the head of the record being made, taken (a subclass
        keeps what arrived since the last record; ``actors/account/marks.py``). Here: none."""
        return []

    def _soft_head(self) -> tuple[Batch, bytes] | None:
        messages = self.soft_inputs()
        if not messages:
            return None
        self.local_submitted += 1  # a local batch like any: ``local_inputs_applied`` counts it
        return local_batch(messages)

    def submit_local(self, messages: list[Message], lazy: bool = False) -> None:
        """The actor's own inputs (clock ticks, operator commands): journaled like any.
        ``lazy``: they ask for no commit of their own but ride in the next record (at most
        ``[journal] lazy_commit_ms`` later) — only for inputs whose loss in a crash the actor
        recovers otherwise (``actors/runtime/commit.py``)."""
        self.commits.pending.append(local_batch(messages))
        self.local_submitted += 1
        if lazy:
            self.commits.schedule_lazily()
        else:
            self.commits.schedule()

    async def local_inputs_applied(self) -> None:
        """Until every input this actor gave itself so far is committed and applied. Lighter
        than ``settle``: it waits for no one else's inputs and for no background snapshot."""
        target = self.local_submitted
        while self.local_applied < target:
            self.local_progress.clear()
            await self.local_progress.wait()

    def commit(self) -> None:
        """Commit, apply and send what is pending, here and now (no commit in flight)."""
        self.commits.commit()

    async def settle(self) -> None:
        """Until everything received so far is committed, applied and sent, and the writer
        thread is idle (a background snapshot written): then the journal is ours alone."""
        await self.commits.settle()

    def _finish(self, pending: Pending, now: int) -> None:
        """A record is on disk: apply it, send its outputs, ack its batches.

        The garbage collector waits until all of that is done, not only the apply
        (``Machine.apply_batches``): the record's audit events and outputs live until they
        are written and sent, and a collection among them — the first allocation after the
        apply starts one, its count grown by the whole turn — walked tens of thousands of
        objects about to be freed (some 16 ms a record at the open's booking, and each walk
        promotes them towards the full collections of the whole book). None of them are in
        cycles: freed by their counts as this returns, they never reach the collector."""
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._finish_record(pending, now)
        finally:
            if collecting:
                gc.enable()

    def _finish_record(self, pending: Pending, now: int) -> None:
        hooks = self.crash_hooks
        if hooks is not None:
            hooks.after_commit()
        batches = [batch for batch, _ in pending]
        machine = self.machine
        applied = machine.apply_batches(batches, now, origin=self.journal.last_seq)
        if hooks is not None:
            hooks.before_send(self.core, batches)
        if machine.audit_batches:
            self._append_audit(machine.take_audit(), hooks)
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
        snapshots = self.snapshotter
        snapshots.events += applied
        if snapshots.due(self.machine.records):
            self.snapshot(background=self.background)
        outbox = self.machine.outbox
        work = sum(len(data) for _, data in pending) + outbox.bytes_made
        outbox.bytes_made = 0
        if work >= BIG_RECORD_BYTES:
            self._bulk_done(work)

    def on_ack(self, name: str, seq: int) -> None:
        """As any host; acked batches that carried rows (an allocation's fills) count as bulk
        work done: their bytes are free now (an InstrumentActor's allocations wait in its
        outbox until the shards take them). Batches of the steady flow of orders never count."""
        outbox = self.outbox
        outbox.on_ack(name, seq)
        if outbox.bulk_acked:
            freed, outbox.bulk_acked = outbox.bulk_acked, 0
            self._bulk_done(freed)

    def _bulk_done(self, work: int) -> None:
        """``work`` bytes of bulk records or batches passed: trim every ``TRIM_EVERY_BYTES``
        of them, and once they stop for ``IDLE_TRIM_SECONDS``."""
        self.untrimmed += work
        if self.untrimmed >= TRIM_EVERY_BYTES:
            self._trim()
        if self.untrimmed and self._trim_later is None:
            try:
                self._trim_later = asyncio.get_running_loop().call_later(IDLE_TRIM_SECONDS, self._trim_when_quiet, self.untrimmed)
            except RuntimeError:
                pass  # no event loop (a test driving the host by hand): the next bulk record trims

    def _trim(self) -> None:
        self.untrimmed = 0
        heap.trim()

    def _trim_when_quiet(self, seen: int) -> None:
        """``IDLE_TRIM_SECONDS`` after bulk work left untrimmed bytes: trim if no more came
        meanwhile (it has gone quiet), else look again after as long."""
        self._trim_later = None
        if not self.untrimmed:
            return
        if self.untrimmed == seen:
            self._trim()
        else:
            self._trim_later = asyncio.get_running_loop().call_later(IDLE_TRIM_SECONDS, self._trim_when_quiet, self.untrimmed)

    def _append_audit(self, batches: list[Any], hooks: TurnCrashPoints | None) -> None:
        """The record's audit events into the chain, before anything of it leaves. Written,
        not fsynced: the journal record they come from is fsynced already, and until a
        snapshot lets it go (``snapshot`` syncs the chain first) a restart's replay
        regenerates whatever of them a crash lost, with the same bytes — a second fsync per
        commit, on the event loop, would buy nothing. A failed append is fatal like a failed
        commit: the restart regenerates the events from the journal."""
        audit = self.audit_log
        if audit is None:
            return  # not recovered yet (nothing to write to): a core set up before ``recover``
        if hooks is not None:
            hooks.before_audit()
        try:
            audit.append(batches, durable=False)
        except Exception as failure:
            fail_stop(self.name, failure)

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

    def snapshot(self, background: bool = False) -> int:
        """Write the whole state as of the journal's end, then drop what the previous
        snapshot covers. Returns the journal sequence the snapshot covers.

        ``background`` (the schedule, with fsync): written on the writer thread; it covers
        what is applied — the inputs still pending are not in the state, nor in the journal
        yet (``snapshotter.py``)."""
        if not background:
            self.commit()
        if self.audit_log is not None:
            self.audit_log.sync()  # the journal's records of what is audited may go once it is written
        # ``durable``, not the inbox's seqs: the inbox counts batches still pending
        return self.snapshotter.take(self.machine, self.durable, background)

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
        fresh = Machine(self.name, self.make_core(), self.router, self.config.batching.max_messages)
        return replay_hash(self.machine, fresh, self.journal)

    async def check_invariants(self) -> None:
        self.core.check_invariants()

    async def status(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "applied": self.machine.messages_applied,
            "errors": self.machine.errors,
            "held_batches": self.inbox.waiting(),
            "batches_sent": self.outbox.batches_sent,
            "unacked_batches": self.outbox.unacked_batches(),
            "journal_seq": self.journal.last_seq,
            "snapshot_seq": self.snapshotter.seq,
            "incarnation": self.incarnation,
            "pid": os.getpid(),
            "recovered": self.recovery,
            "anomalies": len(getattr(self.core, "anomalies", [])),
            **self.inbox.delay_percentiles(),
            **await self.where(),
        }

    async def histograms(self) -> dict[str, Any]:
        views = {"commit": self.commits.histogram.view() if self.commits.histogram else None}
        views["hop"] = self.inbox.histogram.view() if self.inbox.histogram else None
        return {kind: view for kind, view in views.items() if view is not None}

    async def close(self) -> None:
        """Clean shutdown: commit, snapshot, close the journal; sync and anchor the audit chain."""
        await self.settle()
        self.snapshot()
        self.journal.sync()
        if self.audit_log is not None:
            self.audit_log.close()
            self.audit_log = None


class FixSessionHost(DurableHost):
    """A durable host whose core's messages go out over one quickfix session (a FIX venue,
    the drop copy): ``fix`` is that session (``adapters/fix/session.py``) once the actor has
    started it, and it stops before the host closes."""

    fix: Any = None

    async def close(self) -> None:
        if self.fix is not None:
            self.fix.stop()
            self.fix = None
        await super().close()


def open_journal(name: str, data_dir: Path, conf: JournalSection, crash: CrashPoints, ship_root: Path | None = None) -> JournalLike:
    """The actor's journal under ``data_dir``, or a ``NullJournal`` for ``durability = "none"``
    (in memory only: nothing to recover, nothing written); with ``ship_root`` (``[placement]
    failover``) a ``ShippedJournal`` that copies every write there."""
    if conf.durability == "none":
        return NullJournal(name)
    map_size = conf.map_size_mb * 1024 * 1024
    if ship_root is not None:
        return ShippedJournal.open(data_dir / name, name, ship_root, durability=conf.durability, map_size=map_size, crash=crash)
    return Journal(data_dir / name, name, durability=conf.durability, map_size=map_size, crash=crash)
