"""What a journal check finds, judged from what one read transaction saw. Pure: no LMDB.

``Journal.inspect`` (``snapshots/journal.py``) scans the stored records and snapshots into a
``Scan``; ``inspection`` turns it into findings. Errors are what makes recovery stop or load
wrong state: a gap, a bad record before the last good one, a journal that starts after the
newest good snapshot + 1, a good snapshot past the journal's last good record, a bad
snapshot with no older good one. Warnings are what recovery repairs: the torn tail (the bad
records after the last good one, which it cuts) and a bad snapshot with an older good one
to fall back to.
"""

from __future__ import annotations

from pathlib import Path

import msgspec


class Issue(msgspec.Struct, frozen=True):
    """One finding of ``verify``: ``severity`` is ``error`` (recovery would stop) or
    ``warning`` (recovery repairs it: a torn tail, a damaged snapshot with an older one)."""

    severity: str
    where: str
    detail: str


class Inspection(msgspec.Struct, frozen=True):
    """What ``inspect`` found, all read in one transaction: one consistent view even while
    the actor writes. ``first_seq``/``last_seq`` are the journal's first and last records as
    stored (``None`` when it holds none); ``snapshots`` every stored snapshot, good or not."""

    first_seq: int | None
    last_seq: int | None
    snapshots: list[int]
    issues: list[Issue]


class Scan(msgspec.Struct, frozen=True):
    """One pass over a journal: its first and last sequence, the last good one, the bad ones,
    the gaps ``(before, after)``, and every stored snapshot with whether its checksum holds."""

    first: int | None
    last: int | None
    last_good: int | None
    bad: list[int]
    gaps: list[tuple[int, int]]
    snapshots: list[tuple[int, bool]]


def inspection(name: str, path: Path, scan: Scan) -> Inspection:
    """The findings, records first (by sequence), then snapshots, then coverage."""
    found: list[tuple[int, Issue]] = []
    last_good = scan.last_good
    for before, after in scan.gaps:
        if last_good is not None and after <= last_good:
            found.append((after, Issue("error", f"{name} journal", f"gap between {before} and {after}: recovery stops at {before}")))
    for seq in scan.bad:
        if last_good is not None and seq < last_good:
            detail = f"checksum mismatch at sequence {seq}: recovery stops here; restore {path} from a copy"
            found.append((seq, Issue("error", f"{name} journal {seq}", detail)))
        else:
            found.append((seq, Issue("warning", f"{name} journal {seq}", "torn tail (recovery cuts it)")))
    issues = [issue for _, issue in sorted(found, key=lambda pair: pair[0])]
    good = [seq for seq, ok in scan.snapshots if ok]
    issues += _snapshot_issues(name, scan.snapshots, good)
    issues += _coverage_issues(name, scan.first, last_good, max(good, default=None))
    return Inspection(scan.first, scan.last, [seq for seq, _ in scan.snapshots], issues)


def _snapshot_issues(name: str, stored: list[tuple[int, bool]], good: list[int]) -> list[Issue]:
    issues = []
    for seq, ok in stored:
        if ok:
            continue
        older = [g for g in good if g < seq]
        if older:
            used = max(good)
            detail = f"checksum mismatch; recovery falls back to snapshot {used}" if used < seq else f"checksum mismatch; recovery uses snapshot {used}"
            issues.append(Issue("warning", f"{name} snapshot {seq}", detail))
        else:
            issues.append(Issue("error", f"{name} snapshot {seq}", "checksum mismatch, and no older good snapshot to fall back to"))
    return issues


def _coverage_issues(name: str, first: int | None, last_good: int | None, newest_good: int | None) -> list[Issue]:
    """Whether the journal continues the newest good snapshot (recovery starts there).
    A journal of torn records only is cut whole, so it has nothing to continue."""
    if first is None or last_good is None:
        return []
    where = f"{name} journal"
    if newest_good is None and first != 1:
        return [Issue("error", where, f"starts at {first} with no good snapshot to cover 1..{first - 1}")]
    if newest_good is not None and first > newest_good + 1:
        return [Issue("error", where, f"starts at {first}, after the newest good snapshot {newest_good} + 1: entries {newest_good + 1}..{first - 1} are missing")]
    if newest_good is not None and last_good < newest_good:
        detail = f"last good record {last_good} is before the newest good snapshot {newest_good}: new entries would reuse sequences {last_good + 1}..{newest_good}"
        return [Issue("error", where, detail)]
    return []
