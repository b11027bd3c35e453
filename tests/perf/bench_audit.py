"""The audit log's append rate and ``audit verify`` rate, beside a plain SHA-256 of the same bytes.

    python tests/perf/bench_audit.py [--records 20000] [--per-input 3] [--inputs-per-sync 50] [--repeats 3] [--dir DIR]

1. append: ``AuditWriter.append_many`` of ``--inputs-per-sync`` inputs of ``--per-input``
   events each, one fsync per call (``durable=True``), as an actor's shell appends the
   events of one journal commit; records/s.
2. verify: ``verify_audit`` over the log just written (every frame's CRC, decode, SHA-256,
   links), records/s; beside it, ``hashlib.sha256`` over the same segment bytes alone, and
   the ratio verify ÷ SHA-256 (the cost of checking beyond hashing).

Medians of ``--repeats`` runs, each in a fresh folder; fsync figures depend on the disk
under ``--dir`` (tmpfs makes fsync free), so the file system is printed with the results.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from model.audit import AuditEvent, AuditKind  # noqa: E402
from snapshots.audit import AuditWriter, Batch, segments, verify_audit  # noqa: E402

T0 = 1_735_826_400 * 10**9


def body(i: int) -> dict[str, object]:
    return {"order_id": f"ord-{i:09d}", "account": "ACC-0001", "symbol": "AAPL", "side": "buy", "qty": 100, "price": "187.25", "venue": "SIM"}


def run_once(folder: Path, records: int, per_input: int, inputs_per_sync: int) -> tuple[float, float, float, int]:
    log = AuditWriter(folder / "audit", "account-0")
    inputs = records // per_input
    started = time.perf_counter()
    origin = 0
    while origin < inputs:
        batches = []
        for _ in range(min(inputs_per_sync, inputs - origin)):
            origin += 1
            batches.append(Batch(T0 + origin * 1000, origin, [AuditEvent(AuditKind.FILL, body(origin * per_input + k)) for k in range(per_input)]))
        log.append_many(batches, durable=True)
    append_s = time.perf_counter() - started
    written = log.head.seq
    log.close()
    started = time.perf_counter()
    report = verify_audit(folder / "audit", folder / "anchors", None)
    verify_s = time.perf_counter() - started
    assert report["ok"] and report["records"] == written, report
    data = b"".join(segment.path.read_bytes() for segment in segments(folder / "audit" / "account-0"))
    started = time.perf_counter()
    hashlib.sha256(data).digest()
    sha_s = time.perf_counter() - started
    return written / append_s, written / verify_s, written / sha_s, len(data)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--per-input", type=int, default=3)
    parser.add_argument("--inputs-per-sync", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()
    appends, verifies, shas = [], [], []
    size = 0
    for _ in range(args.repeats):
        folder = Path(tempfile.mkdtemp(prefix="bench-audit-", dir=args.dir))
        try:
            append, verify, sha, size = run_once(folder, args.records, args.per_input, args.inputs_per_sync)
        finally:
            fs = subprocess.run(["df", "-T", str(folder)], capture_output=True, text=True).stdout.splitlines()[-1].split()[1]
            shutil.rmtree(folder)
        appends.append(append), verifies.append(verify), shas.append(sha)
    print(f"file system {fs}; {args.records} records, {size / args.records:.0f} bytes each on disk; medians of {args.repeats}")
    print(f"append  {statistics.median(appends):>12,.0f} records/s  ({args.per_input} per input, {args.inputs_per_sync} inputs per fsync)")
    print(f"verify  {statistics.median(verifies):>12,.0f} records/s")
    print(f"sha256  {statistics.median(shas):>12,.0f} records/s  (the same bytes, hashed once)")
    print(f"verify / sha256  {statistics.median(v / s for v, s in zip(verifies, shas, strict=True)):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
