from __future__ import annotations

import itertools
from collections.abc import Iterator
import subprocess
import sys
from pathlib import Path
from typing import IO

import lmdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snapshots.findings import Inspection, Issue
from snapshots.journal import Journal, JournalCorrupt, JournalLike, NullJournal
from tests.unit.snapshots.faults import build, corrupt, delete_raw, get_raw, put_raw


def open_journal(path: Path, **options: object) -> Journal:
    return Journal(path, "account-0", **options)  # type: ignore[arg-type]


def test_append_is_dense_from_one_and_reads_back_in_order(tmp_path: Path) -> None:
    journal = open_journal(tmp_path)
    assert journal.append([b"a", b"b"]) == 2
    assert journal.append([b"c"]) == 3
    assert list(journal.read_from(1)) == [(1, b"a"), (2, b"b"), (3, b"c")]
    assert list(journal.read_from(3)) == [(3, b"c")]
    assert list(journal.read_from(4)) == []


def test_an_append_over_written_sequences_is_refused_whole(tmp_path: Path) -> None:
    journal = open_journal(tmp_path, durability="buffered")
    journal.append([b"a", b"b", b"c"])
    for rewound in (2, 0):  # the last record again; every one again
        journal.last_seq = rewound
        with pytest.raises(JournalCorrupt, match=f"sequence {rewound + 1} already written"):
            journal.append([b"x", b"y"])
    journal.last_seq = 3
    assert list(journal.read_from(1)) == [(1, b"a"), (2, b"b"), (3, b"c")]  # nothing of them written
    assert journal.append([b"d"]) == 4


def test_a_journal_that_fills_its_map_grows_it_and_loses_nothing(tmp_path: Path) -> None:
    journal = open_journal(tmp_path, durability="buffered", map_size=1024 * 1024)
    records = [bytes([k % 251]) * 40_000 for k in range(60)]  # 2.4 MB through a 1 MiB map
    for record in records:
        journal.append([record])
    assert [payload for _, payload in journal.read_from(1)] == records


def test_a_reopened_journal_continues_where_it_ended(tmp_path: Path) -> None:
    journal = open_journal(tmp_path)
    journal.append([b"a", b"b"])
    journal.close()
    again = open_journal(tmp_path)
    assert again.last_seq == 2
    assert again.append([b"c"]) == 3


def test_a_torn_tail_is_cut_with_nothing_after_it_lost(tmp_path: Path) -> None:
    build(tmp_path, "account-0", [[b"a", b"b", b"c"]])
    corrupt(tmp_path, b"journal", 3)
    again = open_journal(tmp_path)
    assert again.last_seq == 2
    assert list(again.read_from(1)) == [(1, b"a"), (2, b"b")]
    assert again.verify() == []


def test_a_bad_record_in_the_middle_stops_recovery_naming_actor_and_sequence(tmp_path: Path) -> None:
    build(tmp_path, "account-0", [[b"a", b"b", b"c"]])
    corrupt(tmp_path, b"journal", 2)
    again = open_journal(tmp_path)
    with pytest.raises(JournalCorrupt, match=r"account-0: journal record 2 fails its checksum.*Restore"):
        list(again.read_from(1))
    assert [(issue.severity, issue.where) for issue in again.verify()] == [("error", "account-0 journal 2")]


def test_snapshot_is_loaded_with_its_position_and_a_damaged_one_falls_back(tmp_path: Path) -> None:
    journal = open_journal(tmp_path)
    journal.append([b"a", b"b"])
    journal.write_snapshot(2, b"state@2")
    journal.append([b"c"])
    journal.write_snapshot(3, b"state@3")
    assert journal.latest_snapshot() == (3, b"state@3")
    journal.close()
    corrupt(tmp_path, b"snapshots", 3)
    again = open_journal(tmp_path)
    assert again.latest_snapshot() == (2, b"state@2")
    assert [(i.severity, i.where) for i in again.verify()] == [("warning", "account-0 snapshot 3")]


def test_snapshot_past_the_end_of_the_journal_is_refused(tmp_path: Path) -> None:
    journal = open_journal(tmp_path)
    journal.append([b"a"])
    with pytest.raises(ValueError):
        journal.write_snapshot(2, b"state")


def test_truncate_keeps_what_the_previous_snapshot_needs(tmp_path: Path) -> None:
    journal = open_journal(tmp_path)
    journal.append([b"1", b"2", b"3"])
    journal.write_snapshot(2, b"s2")
    assert journal.truncate() == 0  # one snapshot: nothing may go
    journal.append([b"4", b"5"])
    journal.write_snapshot(4, b"s4")
    assert journal.truncate() == 2  # entries 1-2 are covered by the older snapshot
    assert journal.first_seq() == 3
    assert [info.seq for info in journal.snapshot_infos()] == [2, 4]
    assert list(journal.read_from(3)) == [(3, b"3"), (4, b"4"), (5, b"5")]
    assert journal.verify() == []


def test_an_empty_journal_after_truncation_reopens_at_the_snapshot(tmp_path: Path) -> None:
    journal = open_journal(tmp_path)
    journal.append([b"1"])
    journal.write_snapshot(1, b"s1")
    journal.write_snapshot(1, b"s1-again")
    journal.close()
    assert open_journal(tmp_path).last_seq == 1


def test_the_map_grows_when_it_is_full(tmp_path: Path) -> None:
    journal = open_journal(tmp_path, map_size=64 * 1024)
    for _ in range(40):
        journal.append([b"x" * 4000])
    assert journal.last_seq == 40
    assert sum(1 for _ in journal.read_from(1)) == 40


def test_durability_must_be_fsync_or_buffered(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        open_journal(tmp_path, durability="sometimes")


@settings(max_examples=30, deadline=None)
@given(groups=st.lists(st.lists(st.binary(max_size=64), max_size=5), max_size=8))
def test_whatever_is_appended_reads_back_identically(tmp_path_factory: pytest.TempPathFactory, groups: list[list[bytes]]) -> None:
    journal = open_journal(tmp_path_factory.mktemp("j"), durability="buffered")
    for group in groups:
        journal.append(group)
    flat = [payload for group in groups for payload in group]
    assert [payload for _, payload in journal.read_from(1)] == flat
    journal.close()


# --- read-only open and verify ----------------------------------------------------------------


def readonly(path: Path) -> Journal:
    return Journal(path, "account-0", readonly=True)


def disk_state(path: Path) -> tuple[bytes, int]:
    data = path / "data.mdb"
    return data.read_bytes(), data.stat().st_mtime_ns


def verified(path: Path) -> list[Issue]:
    """What a read-only ``verify`` of the journal at ``path`` finds."""
    journal = readonly(path)
    try:
        return journal.verify()
    finally:
        journal.close()


def issues_of(path: Path) -> list[tuple[str, str]]:
    return [(issue.severity, issue.where) for issue in verified(path)]


def inspected(path: Path) -> Inspection:
    """What a read-only ``inspect`` of the journal at ``path`` finds."""
    journal = readonly(path)
    try:
        return journal.inspect()
    finally:
        journal.close()


def test_a_read_only_open_changes_nothing_on_disk_and_leaves_a_torn_tail_in_place(tmp_path: Path) -> None:
    build(tmp_path, "account-0", [[b"a", b"b"], [b"c"]], snapshots=(2,))
    corrupt(tmp_path, b"journal", 3)
    before = disk_state(tmp_path)
    journal = readonly(tmp_path)
    assert journal.last_seq == 2  # where recovery would continue, the torn record skipped
    assert [(issue.severity, issue.where) for issue in journal.verify()] == [("warning", "account-0 journal 3")]
    assert list(itertools.islice(journal.read_from(1), 2)) == [(1, b"a"), (2, b"b")]
    assert journal.latest_snapshot() == (2, b"state@2")
    journal.close()
    assert disk_state(tmp_path) == before
    assert get_raw(tmp_path, b"journal", 3) is not None


def test_a_read_only_open_of_a_missing_journal_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="account-0: no journal"):
        readonly(tmp_path / "account-0")
    assert not (tmp_path / "account-0").exists()


def test_a_read_only_open_of_an_lmdb_environment_without_journal_tables_is_refused(tmp_path: Path) -> None:
    lmdb.open(str(tmp_path)).close()
    with pytest.raises(JournalCorrupt, match="not a brokerd journal"):
        readonly(tmp_path)


def test_writing_through_a_read_only_journal_is_refused(tmp_path: Path) -> None:
    build(tmp_path, "account-0", [[b"a"]])
    journal = readonly(tmp_path)
    with pytest.raises(lmdb.ReadonlyError):
        journal.append([b"b"])
    journal.close()


_WRITER = """
import sys
from snapshots.journal import Journal
journal = Journal(sys.argv[1], "account-0", map_size=64 * 1024)
journal.append([b"a", b"b"])
print("ready", flush=True)
sys.stdin.readline()
for _ in range(300):
    journal.append([b"x" * 4000])  # grows the map well past the reader's
print("grown", flush=True)
sys.stdin.readline()
journal.close()
"""


def wait_for_line(stream: IO[str], line: str) -> None:
    """Read ``stream`` up to ``line``, past the writer's log lines."""
    for got in stream:
        if got == line:
            return
    raise AssertionError(f"the writer ended before printing {line!r}")


def test_verify_works_beside_a_running_writer_that_grows_the_map(tmp_path: Path, root: Path) -> None:
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path)], cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert writer.stdin is not None and writer.stdout is not None
    try:
        wait_for_line(writer.stdout, "ready\n")
        journal = readonly(tmp_path)
        assert journal.inspect().last_seq == 2
        writer.stdin.write("\n")
        writer.stdin.flush()
        wait_for_line(writer.stdout, "grown\n")
        found = journal.inspect()
        assert (found.first_seq, found.last_seq, found.issues) == (1, 302, [])
        journal.close()
    finally:
        writer.stdin.write("\n")
        writer.stdin.close()
        assert writer.wait(timeout=30) == 0


def test_verify_reports_a_gap_as_an_error(tmp_path: Path) -> None:
    build(tmp_path, "account-0", [[b"a", b"b", b"c", b"d"]])
    delete_raw(tmp_path, b"journal", 2)
    (issue,) = verified(tmp_path)
    assert (issue.severity, issue.where) == ("error", "account-0 journal")
    assert "gap between 1 and 3" in issue.detail


def test_verify_reports_a_mid_journal_checksum_failure_as_an_error_naming_actor_and_sequence(tmp_path: Path) -> None:
    build(tmp_path, "account-0", [[b"a", b"b", b"c"]])
    put_raw(tmp_path, b"journal", 2, b"\x00\x00\x00\x00garbage")
    (issue,) = verified(tmp_path)
    assert (issue.severity, issue.where) == ("error", "account-0 journal 2")
    assert "checksum mismatch at sequence 2" in issue.detail


def test_verify_calls_every_bad_record_after_the_last_good_one_a_torn_tail(tmp_path: Path) -> None:
    build(tmp_path, "account-0", [[b"a", b"b", b"c", b"d"]])
    corrupt(tmp_path, b"journal", 3)
    put_raw(tmp_path, b"journal", 4, b"\x01")  # shorter than a checksum
    assert issues_of(tmp_path) == [("warning", "account-0 journal 3"), ("warning", "account-0 journal 4")]
    again = open_journal(tmp_path)  # recovery cuts exactly those
    assert again.last_seq == 2
    assert again.verify() == []


def test_verify_warns_about_a_damaged_snapshot_with_an_older_good_one(tmp_path: Path) -> None:
    build(tmp_path, "account-0", [[b"a", b"b"], [b"c", b"d"]], snapshots=(2, 4))
    corrupt(tmp_path, b"snapshots", 4)
    assert issues_of(tmp_path) == [("warning", "account-0 snapshot 4")]


def test_a_damaged_snapshot_between_good_ones_names_the_snapshot_recovery_uses(tmp_path: Path) -> None:
    build(tmp_path, "account-0", [[b"a", b"b"], [b"c", b"d"], [b"e", b"f"]], snapshots=(2, 4, 6))
    corrupt(tmp_path, b"snapshots", 4)
    (issue,) = verified(tmp_path)
    assert (issue.severity, issue.where, issue.detail) == ("warning", "account-0 snapshot 4", "checksum mismatch; recovery uses snapshot 6")


def test_verify_reports_a_damaged_snapshot_without_an_older_good_one_as_an_error(tmp_path: Path) -> None:
    build(tmp_path, "account-0", [[b"a", b"b"], [b"c", b"d"]], snapshots=(2, 4))
    corrupt(tmp_path, b"snapshots", 2)
    assert issues_of(tmp_path) == [("error", "account-0 snapshot 2")]


def test_verify_reports_a_journal_that_starts_after_the_newest_good_snapshot_as_an_error(tmp_path: Path) -> None:
    build(tmp_path, "account-0", [[b"a", b"b"], [b"c", b"d", b"e"]], snapshots=(2,))
    delete_raw(tmp_path, b"journal", 1, 2, 3)
    (issue,) = verified(tmp_path)
    assert (issue.severity, issue.where) == ("error", "account-0 journal")
    assert "starts at 4, after the newest good snapshot 2 + 1" in issue.detail


def test_verify_reports_a_journal_that_starts_after_one_without_a_good_snapshot_as_an_error(tmp_path: Path) -> None:
    build(tmp_path, "account-0", [[b"a", b"b", b"c"]], snapshots=(2,))
    corrupt(tmp_path, b"snapshots", 2)
    delete_raw(tmp_path, b"journal", 1)
    assert issues_of(tmp_path) == [("error", "account-0 snapshot 2"), ("error", "account-0 journal")]


def test_verify_reports_a_snapshot_past_the_last_good_record_as_an_error(tmp_path: Path) -> None:
    build(tmp_path, "account-0", [[b"a", b"b", b"c"]], snapshots=(3,))
    corrupt(tmp_path, b"journal", 3)  # cutting this torn tail would reuse sequence 3
    issues = verified(tmp_path)
    assert [(issue.severity, issue.where) for issue in issues] == [("warning", "account-0 journal 3"), ("error", "account-0 journal")]
    assert "reuse sequences 3..3" in issues[1].detail


def test_inspect_reports_the_stored_range_and_every_snapshot(tmp_path: Path) -> None:
    build(tmp_path, "account-0", [[b"a", b"b"], [b"c", b"d"]], snapshots=(2, 4))
    corrupt(tmp_path, b"snapshots", 4)
    found = inspected(tmp_path)
    assert (found.first_seq, found.last_seq, found.snapshots) == (1, 4, [2, 4])


def test_inspect_of_an_empty_journal_has_no_range(tmp_path: Path) -> None:
    Journal(tmp_path, "account-0").close()
    found = inspected(tmp_path)
    assert (found.first_seq, found.last_seq, found.snapshots, found.issues) == (None, None, [], [])


# --- the null journal (durability = "none") ------------------------------------------------------


def test_the_null_journal_keeps_nothing_and_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    journal: JournalLike = NullJournal("account-0")
    assert journal.append([b"a", b"b"]) == 0 and journal.last_seq == 0  # a snapshot never covers anything new
    journal.write_snapshot(0, b"state")
    assert journal.truncate() == 0
    assert list(journal.read_from(1)) == [] and journal.first_seq() == 1
    assert journal.snapshot_infos() == [] and journal.snapshot_at(0) is None and journal.latest_snapshot() is None
    assert not journal.replayable
    journal.sync()
    journal.close()
    assert list(tmp_path.iterdir()) == []


def test_the_lmdb_journal_and_the_null_journal_answer_the_same_questions(tmp_path: Path) -> None:
    members = [name for name in JournalLike.__dict__ if not name.startswith("_")] + list(JournalLike.__annotations__)
    journal = open_journal(tmp_path)
    for name in members:
        assert hasattr(journal, name) and hasattr(NullJournal("x"), name), name
    assert journal.replayable


# --- snapshots in parts ---------------------------------------------------------------------------


def test_a_snapshot_in_parts_reads_back_whole_and_counts_its_size(tmp_path: Path) -> None:
    journal = open_journal(tmp_path, durability="buffered")
    journal.append([b"a", b"b", b"c"])
    journal.write_snapshot(2, iter([b"one-", b"two-", b"three"]))
    assert journal.snapshot_at(2) == journal.latest_snapshot()[1] == b"one-two-three"  # type: ignore[index]
    assert [(info.seq, info.size) for info in journal.snapshot_infos()] == [(2, 13)]
    assert journal.verify() == []
    journal.close()
    readonly = Journal(tmp_path, "account-0", readonly=True)
    assert readonly.snapshot_at(2) == b"one-two-three"


def _parts_stored(journal: Journal) -> list[tuple[int, int]]:
    with journal.env.begin() as txn:
        return [(int.from_bytes(key[:8], "big"), int.from_bytes(key[8:], "big")) for key, _ in txn.cursor(db=journal.parts)]


def test_a_snapshot_cut_off_before_its_manifest_is_not_one_and_its_parts_go_at_the_next_truncate(tmp_path: Path) -> None:
    journal = open_journal(tmp_path, durability="buffered")
    journal.append([b"a", b"b", b"c", b"d"])
    journal.write_snapshot(1, iter([b"s1-a", b"s1-b"]))

    def dies_half_way() -> Iterator[bytes]:
        yield b"s3-a"
        raise RuntimeError("killed while writing")

    with pytest.raises(RuntimeError):
        journal.write_snapshot(3, dies_half_way())
    assert journal.latest_snapshot() == (1, b"s1-as1-b")  # the previous snapshot is the one in use
    assert (3, 0) in _parts_stored(journal)
    journal.write_snapshot(4, iter([b"s4"]))
    journal.truncate()
    assert sorted(_parts_stored(journal)) == [(1, 0), (1, 1), (4, 0)]  # the orphan is gone, the previous kept
    journal.write_snapshot(4, iter([b"again"]))  # written twice at one seq: the stale parts go
    journal.append([b"e"])
    journal.write_snapshot(5, iter([b"s5"]))
    journal.truncate()
    assert sorted(_parts_stored(journal)) == [(4, 0), (5, 0)] and journal.snapshot_at(4) == b"again"


def test_a_damaged_or_missing_part_fails_the_snapshot_and_the_one_before_is_used(tmp_path: Path) -> None:
    journal = open_journal(tmp_path, durability="buffered")
    journal.append([b"a", b"b"])
    journal.write_snapshot(1, iter([b"old"]))
    journal.write_snapshot(2, iter([b"new-", b"parts"]))
    journal.close()
    env = lmdb.open(str(tmp_path), max_dbs=4, create=False)
    with env.begin(write=True) as txn:
        txn.put((2).to_bytes(8, "big") + (1).to_bytes(4, "big"), b"\x00\x00\x00\x00parts", db=env.open_db(b"snapshot_parts", txn=txn))
    env.close()
    again = open_journal(tmp_path)
    assert again.latest_snapshot() == (1, b"old") and again.snapshot_at(2) is None
    assert [issue.severity for issue in again.verify()] == ["warning"]  # a damaged snapshot with an older one
