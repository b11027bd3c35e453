"""What a journal check finds, judged from a scan without LMDB (the same findings from real
damaged journals: test_journal.py)."""

from __future__ import annotations

from pathlib import Path

from snapshots.findings import Scan, inspection

PATH = Path("/data/account-0")


def scan(
    first: int | None = 1,
    last: int | None = 10,
    last_good: int | None = 10,
    bad: list[int] | None = None,
    gaps: list[tuple[int, int]] | None = None,
    snapshots: list[tuple[int, bool]] | None = None,
) -> Scan:
    return Scan(first, last, last_good, bad or [], gaps or [], snapshots or [])


def found(given: Scan) -> list[tuple[str, str, str]]:
    return [(issue.severity, issue.where, issue.detail) for issue in inspection("account-0", PATH, given).issues]


def test_a_whole_journal_and_an_empty_one_have_no_findings() -> None:
    assert found(scan(snapshots=[(4, True), (8, True)])) == []
    empty = inspection("account-0", PATH, scan(None, None, None))
    assert (empty.first_seq, empty.last_seq, empty.snapshots, empty.issues) == (None, None, [], [])


def test_bad_records_before_the_last_good_one_are_errors_after_it_a_torn_tail() -> None:
    issues = found(scan(last=12, last_good=10, bad=[11, 4, 12]))
    assert [(severity, where) for severity, where, _ in issues] == [
        ("error", "account-0 journal 4"),
        ("warning", "account-0 journal 11"),
        ("warning", "account-0 journal 12"),
    ]
    assert f"restore {PATH} from a copy" in issues[0][2] and issues[1][2] == "torn tail (recovery cuts it)"


def test_a_gap_is_an_error_unless_only_torn_records_follow_it() -> None:
    assert found(scan(gaps=[(3, 5)])) == [("error", "account-0 journal", "gap between 3 and 5: recovery stops at 3")]
    assert found(scan(last=12, last_good=9, bad=[12], gaps=[(9, 12)])) == [("warning", "account-0 journal 12", "torn tail (recovery cuts it)")]


def test_a_damaged_snapshot_is_a_warning_only_with_an_older_good_one() -> None:
    issues = found(scan(first=5, snapshots=[(4, True), (8, False)]))
    assert issues == [("warning", "account-0 snapshot 8", "checksum mismatch; recovery falls back to snapshot 4")]
    issues = found(scan(first=5, snapshots=[(4, False), (8, True)]))
    assert issues == [("error", "account-0 snapshot 4", "checksum mismatch, and no older good snapshot to fall back to")]
    issues = found(scan(first=3, snapshots=[(2, True), (4, False), (8, True)]))
    assert issues == [("warning", "account-0 snapshot 4", "checksum mismatch; recovery uses snapshot 8")]


def test_a_journal_must_continue_the_newest_good_snapshot() -> None:
    assert found(scan(first=5)) == [("error", "account-0 journal", "starts at 5 with no good snapshot to cover 1..4")]
    (issue,) = found(scan(first=7, snapshots=[(4, True)]))
    assert issue[0] == "error" and "entries 5..6 are missing" in issue[2]
    (issue,) = found(scan(last=6, last_good=6, snapshots=[(8, True)]))
    assert issue[0] == "error" and "would reuse sequences 7..8" in issue[2]


def test_findings_come_records_first_then_snapshots_then_coverage() -> None:
    issues = found(scan(first=7, bad=[8], snapshots=[(3, False), (5, True)]))
    assert [where for _, where, _ in issues] == ["account-0 journal 8", "account-0 snapshot 3", "account-0 journal"]
