"""The deterministic state of a journaled actor, rebuilt from a real journal by one loop:
from empty or a snapshot, the same records giving the same hash and the same batches."""

from __future__ import annotations

import pickle
from pathlib import Path

import msgspec
import pytest

from actors.runtime.machine import LOCAL, Machine, encode_record, local_batch, oldest_snapshot, replay_hash
from actors.runtime.outputs import DROP_COPY, STRATEGY, Outputs
from actors.runtime.router import Router
from actors.supervisor.core import SupervisorState
from model.config import Config, DropCopySection, StrategiesSection, TopologySection
from model.messages import Batch, SetKill, SetTradingStatus, encode_batch
from snapshots.journal import Journal, JournalCorrupt, NullJournal
from tests.unit.snapshots.faults import corrupt

CONFIG = Config(topology=TopologySection(account_shards=2, instrument_actors=2))
SENDER = "gateway-0~1"


def machine() -> Machine:
    return Machine("supervisor", SupervisorState(["IBM", "MSFT"]), Router(CONFIG), 100)


def record(seq: int, now: int, *symbols: str) -> bytes:
    batch = Batch(SENDER, seq, 0, [SetTradingStatus(symbol, True) for symbol in symbols])
    return encode_record(now, [(batch, encode_batch(batch)), local_batch([SetKill("A1", True)])])


def journal_of(path: Path, records: int) -> Journal:
    journal = Journal(path / "supervisor", "supervisor", durability="buffered")
    for seq in range(1, records + 1):
        journal.append([record(seq, 1000 + seq, "IBM" if seq % 2 else "MSFT")])
    return journal


def test_a_rebuild_from_empty_replays_every_record_into_the_live_state(tmp_path: Path) -> None:
    journal = journal_of(tmp_path, 6)
    live = machine()
    for _, payload in journal.read_from(1):
        live.replay(payload)
    again = machine()
    rebuilt = again.rebuild(journal, None)
    assert (rebuilt.snapshot, rebuilt.start, rebuilt.records, rebuilt.messages) == (None, 1, 6, 12)
    assert again.state_hash() == live.state_hash() and again.inbox.applied == {SENDER: 6}
    assert [list(queue) for queue in again.outbox.unacked.values()] == [list(queue) for queue in live.outbox.unacked.values()]


def test_a_rebuild_from_a_snapshot_replays_only_what_follows_it(tmp_path: Path) -> None:
    journal = journal_of(tmp_path, 4)
    live = machine()
    live.rebuild(journal, None)
    journal.write_snapshot(4, live.dump())
    journal.append([record(5, 2000, "IBM", "MSFT")])
    live.replay(list(journal.read_from(5))[0][1])
    again = machine()
    rebuilt = again.rebuild(journal, journal.latest_snapshot())
    assert (rebuilt.snapshot, rebuilt.start, rebuilt.records, rebuilt.messages) == (4, 5, 1, 3)
    assert again.state_hash() == live.state_hash()


def test_a_journal_that_does_not_continue_the_snapshot_is_refused(tmp_path: Path) -> None:
    journal = journal_of(tmp_path, 6)
    state = machine()
    state.rebuild(journal, None)
    for seq in (2, 4, 6):
        journal.write_snapshot(seq, state.dump())
    old = (2, journal.snapshot_at(2) or b"")
    journal.truncate()  # drops records 1..4 and snapshot 2: the journal now starts at 5
    with pytest.raises(JournalCorrupt, match=r"supervisor: the journal starts at 5 but the snapshot covers only up to 2; restore .*/supervisor from a copy"):
        machine().rebuild(journal, old)
    with pytest.raises(JournalCorrupt, match=r"starts at 5 but there is no snapshot to start from"):
        machine().rebuild(journal, None)


def test_a_batch_out_of_sequence_in_the_journal_is_refused(tmp_path: Path) -> None:
    journal = Journal(tmp_path, "supervisor", durability="buffered")
    journal.append([record(1, 1, "IBM"), record(3, 2, "IBM")])
    with pytest.raises(JournalCorrupt, match=f"supervisor: journal holds batch 3 from {SENDER} after 1"):
        machine().rebuild(journal, None)


def test_a_failing_message_is_counted_and_the_rest_applied() -> None:
    state = machine()
    applied = state.apply_batches([Batch(LOCAL, 0, 0, [SetTradingStatus("NOPE", True), SetTradingStatus("IBM", True)])], 5)
    assert applied == 2 and state.errors == 1 and state.core.halted == {"IBM": True}


def test_the_replay_check_starts_from_empty_then_from_the_oldest_snapshot(tmp_path: Path) -> None:
    journal = journal_of(tmp_path, 6)
    live = machine()
    live.rebuild(journal, None)
    assert oldest_snapshot(journal) is None
    assert replay_hash(live, machine(), journal) == {"live": live.state_hash(), "replayed": live.state_hash(), "from": 1}
    for seq in (2, 4, 6):
        journal.write_snapshot(seq, live.dump())  # only the positions matter here
    journal.truncate()
    assert oldest_snapshot(journal) == (4, journal.snapshot_at(4))
    journal.close()
    corrupt(tmp_path / "supervisor", b"snapshots", 4)
    damaged = Journal(tmp_path / "supervisor", "supervisor", durability="buffered")
    with pytest.raises(JournalCorrupt, match="supervisor: oldest snapshot 4 fails its checksum"):
        oldest_snapshot(damaged)


def test_with_a_null_journal_the_live_state_is_all_there_is() -> None:
    live = machine()
    live.apply_batches([Batch(LOCAL, 0, 0, [SetTradingStatus("IBM", True)])], 1)
    assert live.rebuild(NullJournal("supervisor"), None).records == 0
    assert replay_hash(live, machine(), NullJournal("supervisor")) == {"live": live.state_hash(), "replayed": live.state_hash(), "from": None}


def test_a_snapshot_of_another_format_is_refused() -> None:
    with pytest.raises(JournalCorrupt, match="supervisor: the snapshot is in format brokerd-snapshot/1, which this version does not read"):
        machine().load(pickle.dumps(("brokerd-snapshot/1", None, {}, None)))


def test_a_rebuild_tells_its_progress_every_so_many_records_and_the_host_logs_it(tmp_path: Path) -> None:
    from actors.runtime.host import ReplayProgress
    from actors.runtime.machine import REPLAY_AUDIT_RECORDS

    journal = journal_of(tmp_path, 2 * REPLAY_AUDIT_RECORDS + 5)
    told: list[tuple[int, int]] = []
    machine().rebuild(journal, None, progress=lambda done, total: told.append((done, total)))
    total = 2 * REPLAY_AUDIT_RECORDS + 5
    assert told == [(REPLAY_AUDIT_RECORDS, total), (2 * REPLAY_AUDIT_RECORDS, total)]
    logs: list[dict[str, object]] = []

    def emit(event: str, **fields: object) -> None:
        logs.append({"event": event, **fields})

    quiet, every = ReplayProgress("supervisor", 0, emit), ReplayProgress("supervisor", 1, emit)
    every.last -= 2_000_000_000  # the last line two seconds ago: one is due
    for done, of in told:
        quiet(done, of)
        every(done, of)
    assert [(e["event"], e["actor"], e["records"], e["of"]) for e in logs] == [("replaying", "supervisor", REPLAY_AUDIT_RECORDS, total)]
    assert logs[0]["records_per_s"] and logs[0]["seconds_left"] is not None


def test_the_core_knows_which_kinds_reach_no_actor_here_and_keeps_knowing_after_a_restore() -> None:
    """``Outputs.nowhere``: the kinds whose ``ALL`` the router sends to nobody in this
    deployment (a core may skip a message only they would carry), set again on a core
    restored from a snapshot."""
    bare = machine()
    assert bare.core.out.nowhere == {DROP_COPY, STRATEGY}
    restored = pickle.loads(pickle.dumps(bare.core))
    restored.out = Outputs()  # as a core restored from a snapshot has
    bare.core = restored
    assert bare.core.out.nowhere == {DROP_COPY, STRATEGY}
    bare.load(bare.dump())
    assert bare.core.out.nowhere == {DROP_COPY, STRATEGY}
    both = msgspec.structs.replace(CONFIG, drop_copy=DropCopySection(enabled=True), strategies=StrategiesSection(actor=True))
    assert Machine("supervisor", SupervisorState(["IBM"]), Router(both), 100).core.out.nowhere == frozenset()
    assert Outputs().nowhere == frozenset()  # a core outside a shell: everything is wanted
