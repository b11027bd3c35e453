"""When and how a journaled actor snapshots (docs/recovery.md, "Snapshots").

Due every ``[journal] snapshot_every_events`` applied messages, or ``snapshot_every_s``
seconds with new input, but never before ``snapshot_events_per_record`` applied messages per
record the core holds (``Machine.records``: a shard's orders, an InstrumentActor's routes
and block orders); also on ``admin snapshot`` and at clean shutdown. A snapshot costs in
proportion to the book it writes: spaced by the book's size, the snapshots of a growing
book cost a constant amount per message applied, and booking N orders stays linear in N
(with a fixed spacing it grew as N²: ever larger books, as often). A snapshot covers
the journal up to its last record; after it the journal drops what the *previous*
snapshot covers.

Guarantees:

* The state written is exactly what the covered records produce: taken between records,
  with the seqs applied per sender as *committed* (``durable``), never counting inputs
  accepted but still waiting for their commit — their resend after a crash must apply.
* ``background`` (with fsync): the state is taken on the event loop (``Machine.capture``:
  encoded, but for the records a core keeps encoded already — an account shard's orders at
  rest — which are taken by reference), then written in parts of ``[journal]
  snapshot_part_mb``, synced and truncated on the journal's writer thread, in order with the
  appends around it, so the actor goes on reading its links meanwhile. No second copy of
  the book is made: one part at a time is in memory beside what was taken.
* Not in the background (a clean shutdown's snapshot, an operator's, any without fsync):
  written at once, before anything else runs; the core's long lists of live records (an
  account shard's accounts) are encoded one at a time as the parts are written, not all
  at once beside them.
* A failed snapshot write is fatal (``fail_stop``), like a failed append.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Executor

from actors.runtime.commit import fail_stop
from actors.runtime.machine import Machine
from actors.runtime.snapshot import Captured, parts
from model.config import JournalSection
from snapshots.journal import JournalLike


class Snapshotter:
    """The snapshot schedule and writes of one actor; ``seq`` is the last one it covers."""

    def __init__(self, name: str, journal: JournalLike, conf: JournalSection, writer: Executor, seq: int = 0) -> None:
        self.name = name
        self.journal = journal
        self.every_events = conf.snapshot_every_events
        self.every_ns = conf.snapshot_every_s * 1_000_000_000
        self.per_record = conf.snapshot_events_per_record
        self.part_bytes = conf.snapshot_part_mb * 1024 * 1024
        self.writer = writer
        self.seq = seq
        self.events = 0  # messages applied since the last snapshot
        self.last_ns = time.monotonic_ns()

    def due(self, records: Callable[[], int] = lambda: 0) -> bool:
        """``records``: how many records a snapshot now would hold (asked only when a
        snapshot is otherwise due)."""
        if self.every_events and self.events >= self.every_events:
            pass
        elif not (self.every_ns and self.events and time.monotonic_ns() - self.last_ns >= self.every_ns):
            return False
        return not self.per_record or self.events >= self.per_record * records()

    def take(self, machine: Machine, durable: dict[str, int], background: bool) -> int:
        """Snapshot ``machine`` as of the journal's end, unless that is covered already;
        returns the journal sequence covered. The caller has committed what must be in it."""
        seq = self.journal.last_seq
        self.events = 0
        self.last_ns = time.monotonic_ns()
        if seq == self.seq:  # nothing new (always so for a null journal: its last_seq stays 0)
            return seq
        # in the background the core goes on while the writer writes: everything is taken
        # now; else the write follows at once, and long lists of records are encoded as written
        state = machine.capture(durable, now=background)
        self.seq = seq
        if background:
            self.writer.submit(self._write, seq, state)
        else:
            self._write(seq, state)
        return seq

    def _write(self, seq: int, state: Captured) -> None:
        try:
            self.journal.write_snapshot(seq, parts(state, self.part_bytes))
            del state  # what only the snapshot kept (orders changed since it was taken) goes now
            self.journal.truncate()
        except Exception as failure:
            fail_stop(self.name, failure)
