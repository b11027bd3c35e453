"""The shipped copy of a journal (``snapshots/shipping.py``): what survives the loss of the
local disk, the epochs that fence an old writer, and how the two copies settle on open."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from snapshots.journal import Journal
from snapshots.shipping import Fenced, ShippedCorrupt, ShippedJournal, ShipStore


def _open(tmp_path: Path, node: str = "a") -> ShippedJournal:
    return ShippedJournal.open(tmp_path / node / "acct", "acct", tmp_path / "shared", durability="buffered")


def _records(journal: Journal | ShippedJournal, start: int = 1) -> list[tuple[int, bytes]]:
    return list(journal.read_from(start))


def test_every_appended_record_is_in_the_shipped_copy(tmp_path: Path) -> None:
    journal = _open(tmp_path)
    journal.append([b"one", b"two"])
    journal.append([b"three"])
    restored = ShipStore(tmp_path / "shared" / "acct", "acct").restored()
    assert restored.snapshot is None
    assert restored.records == [(1, b"one"), (2, b"two"), (3, b"three")]
    journal.close()


def test_a_new_node_rebuilds_the_journal_from_the_shipped_copy(tmp_path: Path) -> None:
    journal = _open(tmp_path)
    journal.append([b"r1", b"r2"])
    journal.write_snapshot(2, iter([b"snap-", b"at-2"]))  # in parts, as the snapshotter writes
    journal.append([b"r3"])
    journal.close()
    shutil.rmtree(tmp_path / "a")  # the node and its disk are gone

    moved = _open(tmp_path, node="b")
    assert moved.restored_from_ship
    assert moved.last_seq == 3
    assert moved.latest_snapshot() == (2, b"snap-at-2")
    assert _records(moved, 3) == [(3, b"r3")]
    moved.append([b"r4"])
    assert ShipStore(tmp_path / "shared" / "acct", "acct").restored().records == [(3, b"r3"), (4, b"r4")]
    moved.close()


def test_a_restart_on_the_same_node_keeps_the_local_journal(tmp_path: Path) -> None:
    journal = _open(tmp_path)
    journal.append([b"r1"])
    journal.close()
    again = _open(tmp_path)
    assert not again.restored_from_ship
    assert _records(again) == [(1, b"r1")]
    again.close()


def test_records_committed_locally_but_not_shipped_are_shipped_on_open(tmp_path: Path) -> None:
    journal = _open(tmp_path)
    journal.append([b"r1"])
    Journal.append(journal, [b"r2"])  # the crash came between the local commit and the ship
    journal.close()
    again = _open(tmp_path)
    assert ShipStore(tmp_path / "shared" / "acct", "acct").restored().records == [(1, b"r1"), (2, b"r2")]
    again.close()


def test_a_node_that_comes_back_after_another_took_over_rebuilds_from_the_copy(tmp_path: Path) -> None:
    first = _open(tmp_path)
    first.append([b"r1"])
    first.close()
    taken = _open(tmp_path, node="b")  # node a was lost, b took over and went on
    taken.append([b"r2-from-b"])
    taken.close()
    back = _open(tmp_path)  # node a's stale disk: not trusted
    assert back.restored_from_ship
    assert _records(back) == [(1, b"r1"), (2, b"r2-from-b")]
    back.close()


def test_an_old_writer_is_fenced_and_what_it_wrote_after_is_never_read(tmp_path: Path) -> None:
    old = _open(tmp_path)
    old.append([b"r1"])
    new = _open(tmp_path, node="b")  # claims the next epoch while the old writer still runs
    with pytest.raises(Fenced):
        old.append([b"r2-unacknowledged"])  # written, then refused: never acknowledged
    new.append([b"r2"])
    assert ShipStore(tmp_path / "shared" / "acct", "acct").restored().records == [(1, b"r1"), (2, b"r2")]
    old.close()
    new.close()


def test_an_old_writers_stray_record_past_the_takeover_is_superseded(tmp_path: Path) -> None:
    old = _open(tmp_path)
    old.append([b"r1"])
    store = ShipStore(tmp_path / "shared" / "acct", "acct")
    new = _open(tmp_path, node="b")
    new.append([b"r2", b"r3"])
    with pytest.raises(Fenced):
        old.append([b"stray-2"])  # lands in old's segment, at seq 2
    assert store.restored().records == [(1, b"r1"), (2, b"r2"), (3, b"r3")]
    old.close()
    new.close()


def test_truncate_drops_whole_files_and_the_copy_still_restores(tmp_path: Path) -> None:
    journal = _open(tmp_path)
    for seq in range(1, 7):
        journal.append([f"r{seq}".encode()])
        if seq % 2 == 0:
            journal.write_snapshot(seq, f"state@{seq}".encode())
            journal.truncate()
    folder = tmp_path / "shared" / "acct"
    assert sorted(p.name.split("-")[0] for p in folder.glob("snap-*")) == ["snap", "snap"]  # the newest two
    restored = ShipStore(folder, "acct").restored()
    assert restored.snapshot == (6, b"state@6") and restored.records == []
    journal.append([b"r7"])
    journal.close()
    shutil.rmtree(tmp_path / "a")
    moved = _open(tmp_path, node="b")
    assert moved.latest_snapshot() == (6, b"state@6") and _records(moved, 7) == [(7, b"r7")]
    moved.close()


def test_a_torn_tail_is_skipped_and_a_damaged_record_before_the_end_is_refused(tmp_path: Path) -> None:
    journal = _open(tmp_path)
    journal.append([b"r1"])
    journal.append([b"r2"])
    journal.close()
    segment = next((tmp_path / "shared" / "acct").glob("seg-*.log"))
    data = segment.read_bytes()
    segment.write_bytes(data + data[:7])  # a frame cut by the crash
    store = ShipStore(tmp_path / "shared" / "acct", "acct")
    assert [seq for seq, _ in store.restored().records] == [1, 2]
    segment.write_bytes(data + bytes(64))  # zeros where a write never landed
    assert [seq for seq, _ in store.restored().records] == [1, 2]
    damaged = bytearray(data)
    damaged[18] ^= 0xFF  # inside record 1's payload checksum
    segment.write_bytes(bytes(damaged))
    with pytest.raises(ShippedCorrupt, match="record 1"):
        store.restored()
    damaged = bytearray(data)
    damaged[11] ^= 0x40  # record 1's length now runs past the end: not a torn tail, its header says so
    segment.write_bytes(bytes(damaged))
    with pytest.raises(ShippedCorrupt, match="header"):
        store.restored()


def test_a_damaged_shipped_snapshot_falls_back_to_the_one_before(tmp_path: Path) -> None:
    journal = _open(tmp_path)
    journal.append([b"r1"])
    journal.write_snapshot(1, b"state@1")
    journal.append([b"r2"])
    journal.write_snapshot(2, b"state@2")
    journal.close()
    newest = sorted((tmp_path / "shared" / "acct").glob("snap-*"))[-1]
    newest.write_bytes(newest.read_bytes()[:-3])
    restored = ShipStore(tmp_path / "shared" / "acct", "acct").restored()
    assert restored.snapshot == (1, b"state@1") and restored.records == [(2, b"r2")]


def test_turning_shipping_on_for_a_journal_that_was_truncated_ships_its_snapshot(tmp_path: Path) -> None:
    local = Journal(tmp_path / "a" / "acct", "acct", durability="buffered")
    for seq in range(1, 5):
        local.append([f"r{seq}".encode()])
        local.write_snapshot(seq, f"state@{seq}".encode())
        local.truncate()
    local.close()
    journal = _open(tmp_path)
    restored = ShipStore(tmp_path / "shared" / "acct", "acct").restored()
    assert restored.snapshot == (4, b"state@4") and restored.records == []
    journal.close()


def test_a_new_writer_claims_before_it_reads_so_an_old_writer_cannot_slip_a_record_in(tmp_path: Path) -> None:
    old = _open(tmp_path)
    old.append([b"r1"])
    new = _open(tmp_path, node="b")  # claimed, then read: r1
    with pytest.raises(Fenced):  # the old writer's next append is refused before any ack
        old.append([b"r2-late"])
    assert _records(new) == [(1, b"r1")]
    new.append([b"r2"])
    assert ShipStore(tmp_path / "shared" / "acct", "acct").restored().records == [(1, b"r1"), (2, b"r2")]
    old.close()
    new.close()


def test_a_fenced_writer_s_record_is_never_read_back_even_if_the_new_writer_wrote_nothing(tmp_path: Path) -> None:
    old = _open(tmp_path)
    old.append([b"r1"])
    new = _open(tmp_path, node="b")
    with pytest.raises(Fenced):
        old.append([b"r2-never-acknowledged"])
    new.close()  # dies before writing anything
    assert ShipStore(tmp_path / "shared" / "acct", "acct").restored().records == [(1, b"r1")]
    old.close()


def test_a_local_journal_behind_its_shipped_copy_is_rebuilt_from_it(tmp_path: Path) -> None:
    journal = _open(tmp_path)
    journal.append([b"r1"])
    journal.append([b"r2"])
    journal.close()
    local = Journal(tmp_path / "a" / "acct", "acct", durability="buffered")
    local._cut(2)  # a power cut took the unsynced local tail; the shipped copy has r2
    local.close()
    again = _open(tmp_path)
    assert again.restored_from_ship and _records(again) == [(1, b"r1"), (2, b"r2")]
    again.append([b"r3"])
    assert [seq for seq, _ in ShipStore(tmp_path / "shared" / "acct", "acct").restored().records] == [1, 2, 3]
    again.close()


def test_the_shipped_copy_keeps_its_own_older_snapshot_when_it_lacks_the_local_one(tmp_path: Path) -> None:
    journal = _open(tmp_path)
    journal.append([b"r1"])
    journal.write_snapshot(1, b"state@1")
    journal.append([b"r2"])
    Journal.write_snapshot(journal, 2, b"state@2")  # the crash came before the shipped snapshot
    journal.append([b"r3"])
    journal.write_snapshot(3, b"state@3")
    journal.truncate()  # the local journal drops what state@2 covers
    folder = tmp_path / "shared" / "acct"
    assert sorted(int(p.stem.split("-")[2]) for p in folder.glob("snap-*.snap")) == [1, 3]
    newest = sorted(folder.glob("snap-*.snap"))[-1]
    newest.write_bytes(newest.read_bytes()[:-3])  # and the newest shipped snapshot is damaged
    restored = ShipStore(folder, "acct").restored()
    assert restored.snapshot == (1, b"state@1") and [seq for seq, _ in restored.records] == [2, 3]
    journal.close()
