"""The compliance reports' rate over the audit log, beside the raw read and decode of the same records.

    python tests/perf/bench_reports.py [--records 1000000] [--repeats 3] [--dir DIR]

Writes ``--records`` records of one trading day with the real writer (``AuditWriter``): two
account shards' orders and fills and an instrument shard's routes (per order: new, route, two
fills, as in ``model/reports.py``'s CAT linkages), and the gateway's logins. Then, in each of
``--repeats`` rounds, one after the other on the same files:

1. raw: ``read_records`` of the day (every record, chains merged by time) and
   ``decode_body`` of each: the floor any report pays;
2. trades: ``admin report trades`` as the shell runs it (``read_records`` of the fill and
   allocation kinds, ``model.reports.trades``, CSV written atomically);
3. cat: ``admin report cat`` the same way (every order event, linked).

Each figure is records of the day per second (all records, whatever the report reads), the
median of the rounds; the ratios report ÷ raw are of the same round.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from model import fixed  # noqa: E402
from model.audit import AuditEvent, AuditKind  # noqa: E402
from model.audit_bodies import Fill, Login, OrderAccepted, Routed, decode_body  # noqa: E402
from model.reports import REPORTS, day_range, order_key  # noqa: E402
from server.client.local import write_report  # noqa: E402
from snapshots.audit import AuditWriter, Batch, read_records  # noqa: E402

ZONE = "America/New_York"
DAY = "2025-01-02"
T0 = 1_735_828_200 * 10**9  # 09:30 that day in New York
PER_ORDER = 4  # new, route, fill, fill
INPUTS_PER_APPEND = 500


def write_day(root: Path, records: int) -> int:
    """``records`` records (rounded to whole orders) of one day; returns how many were written."""
    orders = records // PER_ORDER
    shards = [AuditWriter(root, f"account-{n}", ZONE) for n in range(2)]
    router = AuditWriter(root, "instrument-0", ZONE)
    gateway = AuditWriter(root, "gateway-0", ZONE)
    price, bid, ask = fixed.parse("187.25"), fixed.parse("187.24"), fixed.parse("187.26")
    gateway.append(T0 - 1, [AuditEvent(AuditKind.LOGIN, Login(f"user-{conn}", f"key-{conn}", "10.0.0.1", "gateway-0", conn, "ok")) for conn in range(100)])
    pending: dict[AuditWriter, list[Batch]] = {writer: [] for writer in (*shards, router)}
    origins = {writer: 0 for writer in pending}

    def add(writer: AuditWriter, time_ns: int, event: AuditEvent) -> None:
        origins[writer] += 1
        pending[writer].append(Batch(time_ns, origins[writer], [event]))
        if len(pending[writer]) >= INPUTS_PER_APPEND:
            writer.append_many(pending[writer], durable=False)
            pending[writer] = []

    for n in range(orders):
        shard = shards[n % 2]
        order_id, at = f"{shard.writer}-{n}", T0 + n * 20_000  # an order every 20 µs: the day's 1M records in 5 s of trading
        qty = fixed.parse("100.5")
        add(shard, at, AuditEvent(AuditKind.ORDER_ACCEPTED, OrderAccepted("ACC-0001", order_id, f"c{n}", "AAPL", "buy", "limit", "day", qty, None, price, None, bid, ask, "gateway-0", n % 100)))
        add(router, at + 1000, AuditEvent(AuditKind.ROUTED, Routed("ACC-0001", order_id, "SIM", f"instrument-0-{n}", "AAPL", "buy", qty, price)))
        for k, part in enumerate((fixed.parse("50"), fixed.parse("50.5"))):
            add(shard, at + 5000 + k, AuditEvent(AuditKind.FILL, Fill("ACC-0001", order_id, f"SIM-{n}-{k}", "SIM", "AAPL", "buy", part, price, -fixed.buy_cost(part, price))))
    written = 100
    for writer, batches in pending.items():
        writer.append_many(batches, durable=True)
    for writer in (*shards, router, gateway):
        written_by = writer.head.seq
        writer.close()
        written += written_by if writer is not gateway else 0
    return written


def raw(root: Path, start: int, end: int) -> int:
    count = 0
    for record in read_records(root, start, end, ZONE, key=order_key):
        decode_body(record.kind, record.body)
        count += 1
    return count


def report(name: str) -> Callable[[Path, int, int, Path], int]:
    spec = REPORTS[name]

    def run(root: Path, start: int, end: int, out: Path) -> int:
        target = out / f"{name}.csv"
        target.unlink(missing_ok=True)
        return write_report(target, spec, spec.build(read_records(root, start, end, ZONE, spec.kinds, key=order_key), ZONE), "csv")

    return run


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dir", default=None)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-reports-", dir=args.dir))
    try:
        started = time.perf_counter()
        total = write_day(folder / "audit", args.records)
        print(f"{total:,} records of {DAY} written in {time.perf_counter() - started:.1f} s; medians of {args.repeats} rounds")
        start, end = day_range(DAY, DAY, ZONE)
        rates: dict[str, list[float]] = {"raw": [], "trades": [], "cat": []}
        rows: dict[str, int] = {}
        trades, cat = report("trades"), report("cat")
        for _ in range(args.repeats):
            for name, run in (("raw", lambda: raw(folder / "audit", start, end)), ("trades", lambda: trades(folder / "audit", start, end, folder)), ("cat", lambda: cat(folder / "audit", start, end, folder))):
                began = time.perf_counter()
                rows[name] = run()
                rates[name].append(total / (time.perf_counter() - began))
        assert rows["raw"] == total, rows
        print(f"raw read+decode  {statistics.median(rates['raw']):>10,.0f} records/s  ({rows['raw']:,} records)")
        for name in ("trades", "cat"):
            ratio = statistics.median(r / w for r, w in zip(rates[name], rates["raw"], strict=True))
            print(f"report {name:<9} {statistics.median(rates[name]):>10,.0f} records/s  ({rows[name]:,} rows; {ratio:.2f} of raw)")
    finally:
        shutil.rmtree(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
