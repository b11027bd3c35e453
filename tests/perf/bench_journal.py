"""Journal appends beside raw LMDB puts of the same records, in the same run.

    python tests/perf/bench_journal.py [--groups 1,10,100] [--size 200] [--repeats 5]
                                       [--commits 2000] [--buffered-commits 20000]
                                       [--max-records 200000] [--modes fsync,buffered] [--dir DIR]

For each durability (``fsync``: every commit on disk when it returns; ``buffered``: left to
the OS) and each group size (records per transaction), measures records/s of

1. ``Journal.append(group)`` — one transaction per group, a CRC-32 per record, sequence keys;
2. raw LMDB: an environment with the same sync flags, one ``put`` per record of the same
   payloads under the same keys, one transaction per group, no checksum.

Each measurement starts from an empty environment in a fresh directory and writes the same
records (``--commits`` transactions, at most ``--max-records`` records); journal and raw
alternate which goes first. Medians of ``--repeats``
runs; the ratio journal ÷ raw (the median of each run's pair, measured back to back) is
the figure that holds on a noisy machine (1.0: the journal
costs nothing beyond LMDB). fsync figures depend on the disk under ``--dir``: tmpfs makes
fsync free, so the file system is printed with the results.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import lmdb

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from snapshots.journal import Journal  # noqa: E402

KEY = struct.Struct(">Q")
MODES = ("fsync", "buffered")


def make_groups(commits: int, group: int, size: int, seed: int) -> list[list[bytes]]:
    rng = random.Random(seed)
    return [[rng.randbytes(size) for _ in range(group)] for _ in range(commits)]


def map_size_for(groups: list[list[bytes]]) -> int:
    """Room for every record with LMDB's overhead, so neither side pays for growing the map."""
    stored = sum(len(payload) + 64 for group in groups for payload in group)
    return max(64 * 1024 * 1024, 4 * stored)


def time_journal(path: Path, mode: str, groups: list[list[bytes]]) -> float:
    journal = Journal(path, "bench", durability=mode, map_size=map_size_for(groups))
    start = time.perf_counter()
    for group in groups:
        journal.append(group)
    elapsed = time.perf_counter() - start
    journal.close()
    return elapsed


def time_raw(path: Path, mode: str, groups: list[list[bytes]]) -> float:
    path.mkdir(parents=True)
    env = lmdb.open(str(path), map_size=map_size_for(groups), max_dbs=4, sync=mode == "fsync", metasync=mode == "fsync", lock=True)
    table = env.open_db(b"journal")
    seq = 0
    start = time.perf_counter()
    for group in groups:
        with env.begin(write=True) as txn:
            for payload in group:
                seq += 1
                txn.put(KEY.pack(seq), payload, db=table)
    elapsed = time.perf_counter() - start
    env.close()
    return elapsed


def measure(root: Path, mode: str, group: int, args: argparse.Namespace) -> dict[str, list[float]]:
    commits = min(args.commits if mode == "fsync" else args.buffered_commits, max(1, args.max_records // group))
    groups = make_groups(commits, group, args.size, seed=group)
    records = commits * group
    rates: dict[str, list[float]] = {"journal": [], "raw": []}
    runners: dict[str, Callable[[Path, str, list[list[bytes]]], float]] = {"journal": time_journal, "raw": time_raw}
    for repeat in range(args.repeats):
        order = ("journal", "raw") if repeat % 2 == 0 else ("raw", "journal")
        for name in order:
            path = root / f"{mode}-{group}-{repeat}-{name}"
            rates[name].append(records / runners[name](path, mode, groups))
            shutil.rmtree(path)
    return rates


def file_system(path: Path) -> str:
    """The mount (type and device) that holds ``path``, from /proc/mounts where there is one."""
    try:
        mounts = [line.split() for line in Path("/proc/mounts").read_text().splitlines()]
    except OSError:
        return "unknown"
    resolved = str(path.resolve())
    best = max((m for m in mounts if resolved == m[1] or resolved.startswith(m[1].rstrip("/") + "/")), key=lambda m: len(m[1]), default=None)
    return f"{best[2]} on {best[0]} ({best[1]})" if best else "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--groups", default="1,10,100", help="records per transaction, comma-separated")
    parser.add_argument("--size", type=int, default=200, help="payload bytes per record")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--commits", type=int, default=2000, help="transactions per fsync measurement")
    parser.add_argument("--buffered-commits", type=int, default=20_000, help="transactions per buffered measurement")
    parser.add_argument("--max-records", type=int, default=200_000, help="records per measurement at most")
    parser.add_argument("--dir", help="where the environments go (default: a temporary directory)")
    parser.add_argument("--modes", default=",".join(MODES), help="fsync, buffered or both")
    args = parser.parse_args()
    groups = [int(value) for value in args.groups.split(",")]
    modes = [mode for mode in args.modes.split(",") if mode]
    root = Path(tempfile.mkdtemp(prefix="bench-journal-", dir=args.dir))
    results: list[tuple[str, int, float, float, float]] = []
    try:
        for mode in modes:
            for group in groups:
                rates = measure(root, mode, group, args)
                journal, raw = statistics.median(rates["journal"]), statistics.median(rates["raw"])
                ratio = statistics.median(j / r for j, r in zip(rates["journal"], rates["raw"], strict=True))
                results.append((mode, group, journal, raw, ratio))
                runs = "  ".join(f"{j:,.0f}/{r:,.0f}" for j, r in zip(rates["journal"], rates["raw"], strict=True))
                print(f"  {mode:<8} group {group:>3}: journal/raw records/s per run {runs}", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    print()
    print(f"journal appends, {args.size}-byte records, medians of {args.repeats} runs, lmdb {'.'.join(map(str, lmdb.version()))}, "
          f"{file_system(root.parent)}")
    print(f"  {'mode':<8} {'group':>5} {'journal rec/s':>14} {'raw rec/s':>12} {'ratio':>6} {'journal commits/s':>18}")
    for mode, group, journal, raw, ratio in results:
        print(f"  {mode:<8} {group:>5} {journal:>14,.0f} {raw:>12,.0f} {ratio:>6.2f} {journal / group:>18,.0f}")


if __name__ == "__main__":
    main()
