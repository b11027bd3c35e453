"""When and how a journaled actor snapshots, over a real LMDB journal."""

from __future__ import annotations

import concurrent.futures
import threading
import time
from pathlib import Path

import pytest

from actors.runtime.machine import LOCAL, Machine
from actors.runtime.router import Router
from actors.runtime.snapshotter import Snapshotter
from actors.supervisor.core import SupervisorState
from model.config import Config, JournalSection
from model.messages import Batch, SetTradingStatus
from snapshots.journal import Journal, NullJournal

CONFIG = Config()


@pytest.fixture
def writer() -> concurrent.futures.ThreadPoolExecutor:
    return concurrent.futures.ThreadPoolExecutor(max_workers=1)


def machine() -> Machine:
    state = Machine("supervisor", SupervisorState(["IBM"]), Router(CONFIG), 100)
    state.apply_batches([Batch(LOCAL, 0, 0, [SetTradingStatus("IBM", True)])], 1)
    return state


def test_a_snapshot_is_due_after_so_many_messages_or_so_long_with_new_input(writer: concurrent.futures.Executor) -> None:
    by_count = Snapshotter("supervisor", NullJournal("supervisor"), JournalSection(snapshot_every_events=10, snapshot_every_s=0), writer)
    by_count.events = 9
    assert not by_count.due()
    by_count.events = 10
    assert by_count.due()
    by_time = Snapshotter("supervisor", NullJournal("supervisor"), JournalSection(snapshot_every_events=0, snapshot_every_s=1), writer)
    by_time.last_ns = time.monotonic_ns() - 2_000_000_000
    assert not by_time.due()  # no new input since: nothing to cover
    by_time.events = 1
    assert by_time.due()


def test_a_snapshot_covers_the_journal_end_with_the_committed_seqs_and_is_taken_once(tmp_path: Path, writer: concurrent.futures.Executor) -> None:
    journal = Journal(tmp_path, "supervisor", durability="buffered")
    journal.append([b"r1", b"r2"])
    snapshots = Snapshotter("supervisor", journal, JournalSection(), writer)
    state = machine()
    state.inbox.applied["gateway-0~1"] = 7  # accepted, but only 5 are committed
    snapshots.events = 3
    assert snapshots.take(state, {"gateway-0~1": 5}, background=False) == 2
    assert snapshots.seq == 2 and snapshots.events == 0
    restored = Machine("supervisor", SupervisorState(["IBM"]), Router(CONFIG), 100)
    restored.load(journal.snapshot_at(2) or b"")
    assert restored.inbox.applied == {"gateway-0~1": 5} and restored.core.halted == {"IBM": True}
    assert snapshots.take(state, {}, background=False) == 2  # nothing new: not written again
    assert [info.seq for info in journal.snapshot_infos()] == [2]


def test_snapshots_truncate_what_the_previous_one_covers(tmp_path: Path, writer: concurrent.futures.Executor) -> None:
    journal = Journal(tmp_path, "supervisor", durability="buffered")
    snapshots = Snapshotter("supervisor", journal, JournalSection(), writer)
    for end in (2, 4, 6):
        journal.append([b"a", b"b"])
        assert snapshots.take(machine(), {}, background=False) == end
    assert [info.seq for info in journal.snapshot_infos()] == [4, 6] and journal.first_seq() == 5


def test_in_the_background_the_snapshot_is_written_on_the_writer_thread(tmp_path: Path, writer: concurrent.futures.Executor) -> None:
    journal = Journal(tmp_path, "supervisor", durability="fsync")
    journal.append([b"a"])
    snapshots = Snapshotter("supervisor", journal, JournalSection(), writer)
    seen: list[threading.Thread] = []
    write = journal.write_snapshot

    def watched(seq: int, state: bytes) -> None:
        seen.append(threading.current_thread())
        write(seq, state)

    journal.write_snapshot = watched  # type: ignore[method-assign]
    assert snapshots.take(machine(), {}, background=True) == 1
    writer.submit(lambda: None).result()
    assert journal.latest_snapshot() is not None and len(seen) == 1 and seen[0] is not threading.main_thread()


def test_a_null_journal_never_makes_the_state_serialised(writer: concurrent.futures.Executor) -> None:
    state = machine()
    state.core.unpicklable = lambda: None  # type: ignore[attr-defined]  # dumping it would raise
    snapshots = Snapshotter("supervisor", NullJournal("supervisor"), JournalSection(snapshot_every_events=1), writer)
    snapshots.events = 5
    assert snapshots.due()
    assert snapshots.take(state, {}, background=False) == 0 and snapshots.take(state, {}, background=True) == 0
    assert not snapshots.due()
