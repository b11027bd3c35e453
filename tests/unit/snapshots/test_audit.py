"""The audit log on disk (``snapshots/audit.py``): segments by day and their compression,
reopening, the torn tail, anchors, every tamper case named by verify, export, and kill -9
in the middle of appends."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from keystore.masterkey import MasterKey
from keystore.store import SecretStore
from model.audit import FRAME_HEADER, Record, decode_record, encode_record, frame, read_frames, record_hash
from snapshots.audit import (
    SIGNING_KEY_PURPOSE,
    AuditCorrupt,
    AuditWriter,
    Batch,
    export,
    read_mark,
    read_records,
    read_segment,
    segments,
    signer_from_store,
    verify_audit,
    write_public_key,
)
from tests.unit.snapshots.audit_support import DAY_NS, T0, ZONE, event, signer, write

ROOT = Path(__file__).resolve().parents[3]


def the_open_segment(root: Path, writer: str = "account-0") -> Path:
    return next(s.path for s in segments(root / writer) if not s.closed)


def frames_of(path: Path) -> list[bytes]:
    data = path.read_bytes()
    return [data[f.offset : f.end] for f in read_frames(data)]


def crash(log: AuditWriter) -> None:
    """As a kill -9 leaves it: descriptors closed, nothing synced, no mark written."""
    for fd in (log._fd, log._mark_fd, log._lock):
        if fd is not None:
            os.close(fd)
    log._fd, log._mark_fd, log._lock = None, -1, -1


def verify(tmp_path: Path, public=None, **kwargs):  # type: ignore[no-untyped-def]
    return verify_audit(tmp_path / "audit", tmp_path / "anchors", public, **kwargs)


def only_issue(report: dict) -> dict:  # type: ignore[type-arg]
    issues = [issue for chain in report["chains"] for issue in chain["issues"]]
    assert len(issues) == 1, issues
    return issues[0]


# --- appending, segments, reopening -------------------------------------------------------------


def test_records_of_a_later_day_close_the_segment_compressed_and_the_chain_goes_on(tmp_path: Path) -> None:
    root = tmp_path / "audit"
    write(root, count=6).close()
    log = write(root, count=4, start=3, day=1)
    assert log.head.seq == 10
    listed = segments(root / "account-0")
    assert [(s.day, s.first_seq, s.closed) for s in listed] == [("2025-01-02", 1, True), ("2025-01-03", 7, False)]
    assert oct(listed[0].path.stat().st_mode & 0o777) == "0o640"
    log.close()
    report = verify(tmp_path)
    assert report["ok"] and report["records"] == 10 and report["chains"][0]["segments"] == 2
    assert verify(tmp_path, first_day="2025-01-03")["chains"][0] | {"issues": []} == {
        "writer": "account-0", "segments": 1, "first_seq": 7, "last_seq": 10, "records": 4, "anchors": 0, "issues": []}  # fmt: skip


def test_reopening_continues_the_chain_and_a_replay_appends_nothing_twice(tmp_path: Path) -> None:
    root = tmp_path / "audit"
    write(root, count=10).close()  # inputs 1..5, two events each
    log = AuditWriter(root, "account-0", ZONE)
    assert (log.head.seq, log.head.origin, log.head.index) == (10, 5, 1)
    # a replay regenerates inputs 4 and 5, then input 6 is new
    again = [Batch(T0 + o * 10**9, o, [event(o * 10), event(o * 10 + 1)]) for o in (4, 5, 6)]
    assert log.append_many(again) == 2
    log.close()
    assert verify(tmp_path)["ok"] and verify(tmp_path)["records"] == 12


def test_one_process_at_a_time_holds_a_chain(tmp_path: Path) -> None:
    log = write(tmp_path / "audit")
    with pytest.raises(AuditCorrupt, match="another process"):
        AuditWriter(tmp_path / "audit", "account-0", ZONE)
    log.close()
    AuditWriter(tmp_path / "audit", "account-0", ZONE).close()


def test_a_torn_tail_past_the_durable_mark_is_cut_on_open(tmp_path: Path) -> None:
    root = tmp_path / "audit"
    log = write(root, count=4)
    log.append_many([Batch(T0 + 99 * 10**9, 99, [event(1), event(2)])], durable=False)  # never acknowledged
    crash(log)
    path = the_open_segment(root)
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.truncate(size - 7)  # the last record half written
    report = verify(tmp_path)
    assert report["ok"] and only_issue(report)["reason"] == "torn tail" and only_issue(report)["seq"] == 6
    log = AuditWriter(root, "account-0", ZONE)
    assert log.head.seq == 5
    log.close()
    assert verify(tmp_path) == verify(tmp_path) and verify(tmp_path)["warnings"] == 0


def test_damage_before_the_durable_mark_is_refused_and_left_as_it_is(tmp_path: Path) -> None:
    root = tmp_path / "audit"
    write(root, count=6).close()
    path = the_open_segment(root)
    data = bytearray(path.read_bytes())
    data[FRAME_HEADER.size + 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(AuditCorrupt, match="before the last acknowledged record"):
        AuditWriter(root, "account-0", ZONE)
    assert path.read_bytes() == bytes(data)
    assert read_mark(root / "account-0") is not None


# --- anchors -------------------------------------------------------------------------------------


def test_an_anchor_signs_the_head_once_and_verify_checks_it(tmp_path: Path) -> None:
    key = signer()
    log = write(tmp_path / "audit", count=4)
    first = log.anchor(key, tmp_path / "anchors", T0 + 10**12)
    assert first is not None and first.name == "000000000004.anchor"
    assert log.anchor(key, tmp_path / "anchors", T0 + 2 * 10**12) is None  # the same head: not again
    document = json.loads(first.read_text())
    assert (document["writer"], document["seq"], document["count"], document["key_id"]) == ("account-0", 4, 4, key.key_id)
    assert document["hash"] == log.head.hash.hex()
    log.close()
    report = verify(tmp_path, key.public_key)
    assert report["ok"] and report["chains"][0]["anchors"] == 1


def test_the_signing_key_is_sealed_in_a_store_made_once_and_its_public_key_kept(tmp_path: Path) -> None:
    store = SecretStore(tmp_path / "audit-signing-key.json", MasterKey(b"k" * 32), SIGNING_KEY_PURPOSE)
    key = signer_from_store(store)
    assert signer_from_store(store).key_id == key.key_id
    assert oct((tmp_path / "audit-signing-key.json").stat().st_mode & 0o777) == "0o600"
    assert b"PRIVATE" not in (tmp_path / "audit-signing-key.json").read_bytes()
    write_public_key(key, tmp_path / "anchors" / "audit-key.pub")
    write_public_key(key, tmp_path / "anchors" / "audit-key.pub")  # the same key: fine
    with pytest.raises(AuditCorrupt, match="another public key"):
        write_public_key(signer(), tmp_path / "anchors" / "audit-key.pub")


# --- tampering, case by case ---------------------------------------------------------------------


@pytest.fixture
def ten(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Ten records of account-0 anchored at 10, the open segment's frames and the key."""
    key = signer()
    log = write(tmp_path / "audit", count=10)
    log.anchor(key, tmp_path / "anchors", T0 + 10**12)
    log.close()
    path = the_open_segment(tmp_path / "audit")
    return path, frames_of(path), key


def reframe(payload_change, raw: bytes) -> bytes:  # type: ignore[no-untyped-def]
    record = decode_record(raw[FRAME_HEADER.size :])
    return frame(encode_record(payload_change(record)))


def test_a_corrupted_byte_is_modified(tmp_path: Path, ten) -> None:  # type: ignore[no-untyped-def]
    path, frames, key = ten
    data = bytearray(path.read_bytes())
    data[sum(map(len, frames[:4])) + FRAME_HEADER.size + 5] ^= 0x20  # inside record 5
    path.write_bytes(bytes(data))
    issue = only_issue(report := verify(tmp_path, key.public_key))
    assert not report["ok"] and (issue["seq"], issue["reason"]) == (5, "modified")


def test_a_record_rewritten_with_its_checksum_redone_is_modified(tmp_path: Path, ten) -> None:  # type: ignore[no-untyped-def]
    path, frames, key = ten
    import msgspec

    frames[4] = reframe(lambda r: msgspec.structs.replace(r, body=b"\x80"), frames[4])
    path.write_bytes(b"".join(frames))
    issue = only_issue(verify(tmp_path, key.public_key))
    assert (issue["seq"], issue["reason"]) == (5, "modified")


def test_a_deleted_record_is_missing(tmp_path: Path, ten) -> None:  # type: ignore[no-untyped-def]
    path, frames, key = ten
    path.write_bytes(b"".join(frames[:6] + frames[7:]))
    issue = only_issue(verify(tmp_path, key.public_key))
    assert (issue["seq"], issue["reason"]) == (7, "missing")


def test_two_records_swapped_are_reordered(tmp_path: Path, ten) -> None:  # type: ignore[no-untyped-def]
    path, frames, key = ten
    frames[3], frames[4] = frames[4], frames[3]
    path.write_bytes(b"".join(frames))
    issue = only_issue(verify(tmp_path, key.public_key))
    assert (issue["seq"], issue["reason"]) == (4, "reordered")


def test_a_record_inserted_is_inserted(tmp_path: Path, ten) -> None:  # type: ignore[no-untyped-def]
    path, frames, key = ten
    # a forged record 6 linking to the real 5, put before the real 6
    real5 = frames[4][FRAME_HEADER.size :]
    forged = Record("account-0", 6, T0, "fill", 0, 0, b"\xa0", record_hash(real5))
    path.write_bytes(b"".join([*frames[:5], frame(encode_record(forged)), *frames[5:]]))
    issue = only_issue(verify(tmp_path, key.public_key))
    assert (issue["seq"], issue["reason"]) == (6, "inserted")
    # a copy of an older record put in the middle
    path.write_bytes(b"".join([*frames[:5], frames[1], *frames[5:]]))
    issue = only_issue(verify(tmp_path, key.public_key))
    assert (issue["seq"], issue["reason"]) == (6, "inserted")


def test_the_tail_cut_after_an_anchor_is_truncated(tmp_path: Path, ten) -> None:  # type: ignore[no-untyped-def]
    path, frames, key = ten
    path.write_bytes(b"".join(frames[:7]))
    issue = only_issue(verify(tmp_path, key.public_key))
    assert (issue["seq"], issue["reason"]) == (8, "truncated after an anchor")
    path.write_bytes(b"".join(frames[:7]))
    # without the anchor the same cut cannot be seen: what the docs say
    for anchor in (tmp_path / "anchors" / "account-0").iterdir():
        anchor.unlink()
    assert verify(tmp_path, key.public_key)["ok"]


def test_a_whole_chain_removed_after_an_anchor_is_truncated(tmp_path: Path, ten) -> None:  # type: ignore[no-untyped-def]
    path, _, key = ten
    for child in path.parent.iterdir():
        child.unlink()
    path.parent.rmdir()
    issue = only_issue(verify(tmp_path, key.public_key))
    assert (issue["writer"], issue["seq"], issue["reason"]) == ("account-0", 1, "truncated after an anchor")


def test_an_anchor_signed_with_another_key_is_a_bad_signature(tmp_path: Path, ten) -> None:  # type: ignore[no-untyped-def]
    path, frames, key = ten
    other = signer()
    log = AuditWriter(tmp_path / "audit", "account-0", ZONE)
    log.append(T0 + 50 * 10**9, [event(1)], origin=50)
    log.anchor(other, tmp_path / "anchors", T0 + 10**12)
    log.close()
    issue = only_issue(verify(tmp_path, key.public_key))
    assert (issue["seq"], issue["reason"]) == (11, "bad signature")


def test_a_rewritten_tail_with_a_fresh_chain_disagrees_with_the_anchor(tmp_path: Path, ten) -> None:  # type: ignore[no-untyped-def]
    path, frames, key = ten
    # records 6..10 replaced by a chain recomputed from 5: every link holds, the anchor does not
    import msgspec

    rebuilt, prev = list(frames[:5]), record_hash(frames[4][FRAME_HEADER.size :])
    for raw in frames[5:]:
        new = reframe(lambda r: msgspec.structs.replace(r, body=b"\xa1x", prev=prev), raw)  # noqa: B023
        prev = record_hash(new[FRAME_HEADER.size :])
        rebuilt.append(new)
    path.write_bytes(b"".join(rebuilt))
    issue = only_issue(verify(tmp_path, key.public_key))
    assert (issue["seq"], issue["reason"]) == (10, "modified")


# --- export --------------------------------------------------------------------------------------


def test_export_writes_records_and_segment_hashes_as_json_lines(tmp_path: Path) -> None:
    import hashlib

    root = tmp_path / "audit"
    write(root, count=4).close()
    write(root, count=2, start=2, day=1).close()
    write(root, writer="gateway-0", count=2).close()
    counts = export(root, "2025-01-02", "2025-01-02", tmp_path / "out")
    assert counts == {"segments": 2, "records": 6}
    lines = [json.loads(line) for line in (tmp_path / "out" / "audit.jsonl").read_text().splitlines()]
    assert [(r["writer"], r["seq"]) for r in lines] == [("account-0", s) for s in (1, 2, 3, 4)] + [("gateway-0", 1), ("gateway-0", 2)]
    assert lines[0]["body"] == {"order_id": "o10", "account": "A1", "qty": 10} and lines[1]["prev"] == lines[0]["hash"]
    listed = [json.loads(line) for line in (tmp_path / "out" / "segments.jsonl").read_text().splitlines()]
    closed = next(s.path for s in segments(root / "account-0") if s.closed)
    assert listed[0]["sha256"] == hashlib.sha256(closed.read_bytes()).hexdigest() and listed[0]["last_seq"] == 4
    with pytest.raises(FileExistsError):
        export(root, "2025-01-02", "2025-01-03", tmp_path / "out")


def test_export_after_a_close_a_crash_interrupted_lists_each_record_once(tmp_path: Path) -> None:
    """A crash between writing a closed segment's ``.log.zst`` and removing its ``.log`` leaves
    both: the ``.zst`` is the segment (as for verify), the ``.log`` is not exported again."""
    root = tmp_path / "audit"
    write(root, count=4).close()
    write(root, count=2, start=2, day=1).close()
    closed = next(s for s in segments(root / "account-0") if s.closed)
    leftover = closed.path.with_name(closed.path.name[: -len(".zst")])
    leftover.write_bytes(read_segment(closed))  # the .log the crash left beside its .zst
    counts = export(root, "2025-01-02", "2025-01-02", tmp_path / "out")
    assert counts == {"segments": 1, "records": 4}
    lines = [json.loads(line) for line in (tmp_path / "out" / "audit.jsonl").read_text().splitlines()]
    assert [r["seq"] for r in lines] == [1, 2, 3, 4]


# --- kill -9 in the middle of appends ------------------------------------------------------------

CHILD = """
import random, sys
from snapshots.audit import AuditWriter, Batch
from model.audit import AuditEvent, AuditKind
log = AuditWriter(sys.argv[1], "account-0", "America/New_York")
origin = log.head.origin
rng = random.Random(int(sys.argv[2]))
while True:
    batches = []
    for _ in range(rng.randint(1, 20)):
        origin += 1
        batches.append(Batch(1735826400 * 10**9 + origin, origin, [AuditEvent(AuditKind.FILL, {"n": origin, "pad": "x" * rng.randint(0, 3000)})] * rng.randint(1, 3)))
    log.append_many(batches, durable=True)
    print(log.head.seq, flush=True)
"""


def test_kill_9_in_the_middle_of_appends_loses_nothing_acknowledged_and_verifies(tmp_path: Path) -> None:
    root = tmp_path / "audit"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rng = random.Random(15)
    acknowledged = 0
    for round_ in range(5):
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(root), str(round_)], stdout=subprocess.PIPE, env=env, cwd=ROOT)
        assert child.stdout is not None
        first = child.stdout.readline()  # appending has begun
        assert first, "the child wrote nothing"
        time.sleep(rng.uniform(0.05, 0.4))
        os.kill(child.pid, signal.SIGKILL)
        out = first + child.stdout.read()
        child.wait()
        reported = [int(line) for line in out.split()]
        acknowledged = max(acknowledged, reported[-1])
        log = AuditWriter(root, "account-0", ZONE)  # repairs a torn tail
        assert log.head.seq >= acknowledged
        log.close()
        report = verify_audit(root, tmp_path / "anchors", None)
        assert report["ok"] and report["warnings"] == 0 and report["records"] >= acknowledged, report


def test_a_file_cut_inside_an_acknowledged_record_is_found_without_an_anchor(tmp_path: Path) -> None:
    write(tmp_path / "audit", count=6).close()
    path = the_open_segment(tmp_path / "audit")
    path.write_bytes(path.read_bytes()[:-30])  # before the durable mark: not a torn tail
    issue = only_issue(verify(tmp_path))
    assert (issue["severity"], issue["seq"], issue["reason"]) == ("error", 6, "modified") and "cut after it was written" in issue["detail"]


def test_verify_reads_a_segment_the_running_writer_closed_after_it_was_listed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import snapshots.audit as audit

    log = write(tmp_path / "audit", writer="gateway-0", count=4)
    read_mark_then = audit.read_mark

    def rotating(folder: Path) -> object:  # the server rotates at midnight between listing and reading
        log.append(T0 + DAY_NS, [event(99)], origin=99)
        return read_mark_then(folder)

    monkeypatch.setattr(audit, "read_mark", rotating)
    report = verify(tmp_path)
    log.close()
    assert report["ok"] and report["records"] == 4, report


def test_zero_filled_blocks_past_the_durable_mark_are_a_torn_tail(tmp_path: Path) -> None:
    root = tmp_path / "audit"
    log = write(root, count=10)
    log.append_many([Batch(T0 + 99 * 10**9, 99, [event(1), event(2)])], durable=False)  # never acknowledged
    crash(log)
    path = the_open_segment(root)
    mark = read_mark(root / "account-0")
    assert mark is not None
    data = path.read_bytes()
    path.write_bytes(data[: mark.offset] + bytes(len(data) - mark.offset))  # a power cut: size kept, blocks zero
    report = verify(tmp_path)
    assert report["ok"] and (only_issue(report)["severity"], only_issue(report)["reason"], only_issue(report)["seq"]) == ("warning", "torn tail", 11)
    assert len(list(read_records(root, T0 - 10**12, T0 + 10**12, ZONE))) == 10
    log = AuditWriter(root, "account-0", ZONE)
    assert log.head.seq == 10 and path.stat().st_size == mark.offset
    log.close()
    assert verify(tmp_path)["ok"] and verify(tmp_path)["warnings"] == 0


def test_zero_filled_blocks_without_a_durable_mark_are_cut_and_the_chain_opens(tmp_path: Path) -> None:
    root = tmp_path / "audit"
    log = AuditWriter(root, "account-0", ZONE)
    log.append_many([Batch(T0, 1, [event(1), event(2)])], durable=False)  # nothing synced: no mark yet
    crash(log)
    path = the_open_segment(root)
    path.write_bytes(bytes(path.stat().st_size))
    log = AuditWriter(root, "account-0", ZONE)
    assert log.head.seq == 0 and not path.exists()
    log.close()


def three_days(tmp_path: Path, anchor_each_day: bool = True):  # type: ignore[no-untyped-def]
    """Four records of account-0 on each of 2025-01-02, -03 and -04 (segments of first
    sequence 1, 5, 9), anchored at the end of each day (or of the last); the key."""
    key = signer()
    log = AuditWriter(tmp_path / "audit", "account-0", ZONE)
    for day in range(3):
        log.append_many([Batch(T0 + day * DAY_NS + i * 10**9, day * 10 + i + 1, [event(day * 10 + i)]) for i in range(4)])
        if anchor_each_day or day == 2:
            log.anchor(key, tmp_path / "anchors", T0 + day * DAY_NS)
    log.close()
    return key


def test_every_segment_from_the_first_day_on_deleted_is_truncated_after_an_anchor(tmp_path: Path) -> None:
    key = three_days(tmp_path)
    for path in (tmp_path / "audit" / "account-0").glob("2025-01-0[34]_*"):
        path.unlink()
    issue = only_issue(report := verify(tmp_path, key.public_key, first_day="2025-01-03"))
    assert not report["ok"] and (issue["seq"], issue["reason"]) == (5, "truncated after an anchor")
    for path in (tmp_path / "audit" / "account-0").glob("2025-01-02_*"):
        path.unlink()
    issue = only_issue(verify(tmp_path, key.public_key, first_day="2025-01-03"))
    assert (issue["seq"], issue["reason"]) == (1, "truncated after an anchor")


def test_a_segment_renamed_to_another_day_is_modified_and_the_reports_refuse_it(tmp_path: Path) -> None:
    key = three_days(tmp_path, anchor_each_day=False)
    folder = tmp_path / "audit" / "account-0"
    day_3 = T0 + DAY_NS - 9 * 3600 * 10**9  # 2025-01-03 00:00 in New York

    def read_day_3() -> int:
        return len(list(read_records(tmp_path / "audit", day_3, day_3 + DAY_NS, ZONE)))

    assert read_day_3() == 4
    (folder / "2025-01-03_000000000005.log.zst").rename(folder / "2025-01-01_000000000005.log.zst")  # the name alone changed
    issue = only_issue(report := verify(tmp_path, key.public_key))
    assert not report["ok"] and (issue["seq"], issue["reason"]) == (5, "modified") and "renamed" in issue["detail"]
    issue = only_issue(report := verify(tmp_path, key.public_key, first_day="2025-01-03", last_day="2025-01-03"))
    assert not report["ok"] and (issue["seq"], issue["reason"]) == (5, "modified")
    with pytest.raises(AuditCorrupt, match="renamed"):
        read_day_3()
    (folder / "2025-01-01_000000000005.log.zst").rename(folder / "2025-01-03_000000000007.log.zst")  # the day kept, the sequence not
    issue = only_issue(verify(tmp_path, key.public_key))
    assert (issue["seq"], issue["reason"]) == (5, "modified") and "first record is 5 of 2025-01-03" in issue["detail"]
    with pytest.raises(AuditCorrupt, match="renamed"):
        read_day_3()
