from __future__ import annotations

import struct
from pathlib import Path

import lmdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snapshots.journal import Journal, JournalCorrupt

KEY = struct.Struct(">Q")


def open_journal(path: Path, **options: object) -> Journal:
    return Journal(path, "account-0", **options)  # type: ignore[arg-type]


def damage(path: Path, db: bytes, seq: int) -> None:
    """Flip a payload byte of one record, as a bad disk would."""
    env = lmdb.open(str(path), max_dbs=4)
    table = env.open_db(db)
    with env.begin(write=True) as txn:
        record = bytearray(txn.get(KEY.pack(seq), db=table))
        record[-1] ^= 0xFF
        txn.put(KEY.pack(seq), bytes(record), db=table)
    env.close()


def test_append_is_dense_from_one_and_reads_back_in_order(tmp_path: Path) -> None:
    journal = open_journal(tmp_path)
    assert journal.append([b"a", b"b"]) == 2
    assert journal.append([b"c"]) == 3
    assert list(journal.read_from(1)) == [(1, b"a"), (2, b"b"), (3, b"c")]
    assert list(journal.read_from(3)) == [(3, b"c")]
    assert list(journal.read_from(4)) == []


def test_a_reopened_journal_continues_where_it_ended(tmp_path: Path) -> None:
    journal = open_journal(tmp_path)
    journal.append([b"a", b"b"])
    journal.close()
    again = open_journal(tmp_path)
    assert again.last_seq == 2
    assert again.append([b"c"]) == 3


def test_a_torn_tail_is_cut_with_nothing_after_it_lost(tmp_path: Path) -> None:
    journal = open_journal(tmp_path)
    journal.append([b"a", b"b", b"c"])
    journal.close()
    damage(tmp_path, b"journal", 3)
    again = open_journal(tmp_path)
    assert again.last_seq == 2
    assert list(again.read_from(1)) == [(1, b"a"), (2, b"b")]
    assert again.verify() == []


def test_a_bad_record_in_the_middle_stops_recovery_naming_actor_and_sequence(tmp_path: Path) -> None:
    journal = open_journal(tmp_path)
    journal.append([b"a", b"b", b"c"])
    journal.close()
    damage(tmp_path, b"journal", 2)
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
    damage(tmp_path, b"snapshots", 3)
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
