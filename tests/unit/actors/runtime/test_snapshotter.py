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


def test_a_snapshot_waits_for_as_many_messages_as_the_book_has_records(writer: concurrent.futures.Executor) -> None:
    conf = JournalSection(snapshot_every_events=10, snapshot_every_s=0, snapshot_events_per_record=2)
    snapshots = Snapshotter("account-0", NullJournal("account-0"), conf, writer)
    snapshots.events = 10
    assert snapshots.due(lambda: 4)  # 10 >= 2 × 4
    assert not snapshots.due(lambda: 6)  # a book of 6 records: not before 12 messages
    snapshots.events = 12
    assert snapshots.due(lambda: 6)
    asked: list[int] = []
    snapshots.events = 9
    assert not snapshots.due(lambda: asked.append(1) or 0)
    assert not asked  # the book is not counted when no snapshot is due anyway
    by_time = Snapshotter("account-0", NullJournal("account-0"), JournalSection(snapshot_every_events=0, snapshot_every_s=1, snapshot_events_per_record=1), writer)
    by_time.last_ns = time.monotonic_ns() - 2_000_000_000
    by_time.events = 5
    assert not by_time.due(lambda: 6) and by_time.due(lambda: 5)
    off = Snapshotter("account-0", NullJournal("account-0"), JournalSection(snapshot_every_events=10, snapshot_events_per_record=0), writer)
    off.events = 10
    assert off.due(lambda: 10**9)


def test_the_snapshots_of_a_growing_book_cost_a_constant_amount_per_message(writer: concurrent.futures.Executor) -> None:
    """A book that grows by one record per message, as a shard's while orders are entered:
    the records written by all snapshots stay within twice the messages (with a fixed
    spacing they grow as the square of the messages)."""

    def written(per_record: int, messages: int) -> int:
        conf = JournalSection(snapshot_every_events=1_000, snapshot_every_s=0, snapshot_events_per_record=per_record)
        snapshots = Snapshotter("account-0", NullJournal("account-0"), conf, writer)
        total = 0
        for book in range(1, messages + 1):
            snapshots.events += 1
            if snapshots.due(lambda: book):
                total += book
                snapshots.events = 0
        return total

    assert written(1, 200_000) <= 2 * 200_000
    assert written(0, 200_000) > 10 * 200_000  # the fixed spacing: 200 snapshots of ever larger books


def test_the_records_a_snapshot_holds_are_the_shard_s_orders_and_the_instrument_s_routes() -> None:
    from actors.instrument.core import InstrumentState
    from model.config import VenueSection
    from model.enums import OrderType, Side, TimeInForce
    from model.messages import RouteOrder
    from model.orders import OrderSpec
    from tests.unit.actors.account.support import IBM, NOW, make_state, order

    shard = make_state()
    for cloid in ("c1", "c2", "c3"):
        shard.apply(order(cloid, qty="1", price=None, order_type=OrderType.MARKET, tif=TimeInForce.OPG), NOW)
    assert Machine("account-0", shard, Router(CONFIG), 100).records() == 3
    instrument = InstrumentState("instrument-0", [IBM], [VenueSection(name="SIM")])
    for index in range(2):
        instrument.apply(RouteOrder(f"account-0-{index}", "A1", OrderSpec("IBM", Side.BUY, OrderType.MARKET, TimeInForce.OPG, 10**9)), NOW)
    assert Machine("instrument-0", instrument, Router(CONFIG), 100).records() == 2
    assert machine().records() == 0  # a core that does not count its records
