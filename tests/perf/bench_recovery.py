"""Recovery: restart-to-ready time and replay rate for a data dir with N journaled orders.

    python tests/perf/bench_recovery.py [--orders 1000000] [--repeats 3]

1. Starts ``run_server.py`` (fsync journals, no snapshots by count or time) and sends
   ``--orders`` IOC limit orders in ``new_orders`` frames of 100 (the order-entry
   benchmark's orders: each is risk-checked, acknowledged, routed, canceled at the venue).
2. ``kill -9`` of the whole process tree — no shutdown snapshot — then ``--repeats``
   restarts, each killed again once ready: the journals are replayed in full. Reports the
   wall time from starting ``run_server.py`` to its ready line, and each actor's replay
   (messages, seconds) from ``status``.
3. ``admin snapshot``, kill -9, restarts: the time to ready from snapshots; and, as the
   floor, the time to ready on an empty data dir.
4. Baseline in the same run: reading every record of every journal raw from LMDB and
   decoding its batches with msgspec (no apply): messages/s. The ratio replay ÷ raw decode
   is the figure that holds on a noisy machine.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.integration.recovery import ServerProcess, admin, write_conf_dir  # noqa: E402
from tests.perf.bench_order_entry import ACCOUNTS, throughput  # noqa: E402


def write_bench_conf(directory: Path) -> Path:
    return write_conf_dir(
        directory,
        """[server]
ws_port = 0

[gateway]
rate_limit_per_s = 10000000
rate_limit_burst = 10000000

[journal]
durability = "fsync"
snapshot_every_events = 0
snapshot_every_s = 0

[logging]
level = "warning"
""",
        user="bench",
        accounts=ACCOUNTS,
        cash="1000000000.00",
    )


def raw_decode_rate(data_dir: Path) -> tuple[int, float]:
    """Every journal record of every actor read raw from LMDB and its batches decoded."""
    import lmdb

    from actors.runtime.machine import record_decoder
    from model.messages import decode_batch

    messages = 0
    started = time.perf_counter()
    for path in sorted(p for p in data_dir.iterdir() if (p / "data.mdb").exists()):
        env = lmdb.open(str(path), readonly=True, lock=False, max_dbs=4)
        journal = env.open_db(b"journal", create=False)
        with env.begin(buffers=True) as txn:
            for _, value in txn.cursor(db=journal):
                record = record_decoder.decode(bytes(value[4:]))
                for raw in record.batches:
                    messages += len(decode_batch(raw).messages)
        env.close()
    return messages, time.perf_counter() - started


def timed_start(server: ServerProcess) -> tuple[str, float]:
    started = time.perf_counter()
    url = server.start()
    return url, time.perf_counter() - started


async def replay_figures(url: str) -> dict[str, Any]:
    status = (await admin(url, "status"))["result"]
    recovered = {a["name"]: a.get("recovered") or {} for a in status["actors"] if a.get("recovered")}
    messages = sum(int(r.get("messages", 0)) for r in recovered.values())
    slowest = max((float(r.get("seconds", 0)) for r in recovered.values()), default=0.0)
    return {"messages": messages, "slowest_s": slowest, "per_actor": recovered}


async def run(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="brokerd-bench-recovery-"))
    config = write_bench_conf(work / "conf")
    data = work / "data"
    server = ServerProcess(config, data)
    empty = ServerProcess(config, work / "empty")
    try:
        empty_starts = []
        for _ in range(args.repeats):  # the floor: Ray and the actors starting on an empty data dir
            _, seconds = timed_start(empty)
            empty_starts.append(seconds)
            empty.kill9()
            shutil.rmtree(work / "empty", ignore_errors=True)
        url = server.start()
        started = time.perf_counter()
        done = 0
        while done < args.orders:
            chunk = min(200_000, args.orders - done)
            await throughput(url, True, 4, chunk, 100, 2000, f"load{done}")
            done += chunk
            print(f"  loaded {done:,} orders ({done / (time.perf_counter() - started):,.0f}/s)", flush=True)
        await asyncio.sleep(2)
        server.kill9()

        raw_rates = []
        full: list[tuple[float, dict[str, Any]]] = []
        for repeat in range(args.repeats):
            url, seconds = timed_start(server)
            figures = await replay_figures(url)
            full.append((seconds, figures))
            server.kill9()
            messages, raw_seconds = raw_decode_rate(data)
            raw_rates.append(messages / raw_seconds)
            print(f"  full replay {repeat + 1}: ready in {seconds:.1f} s; replayed {figures['messages']:,} messages, "
                  f"slowest actor {figures['slowest_s']:.1f} s; raw decode {messages / raw_seconds:,.0f} msg/s", flush=True)
            for name, recovered in sorted(figures["per_actor"].items()):
                print(f"      {name:<14} {recovered}", flush=True)

        url = server.start()
        await admin(url, "snapshot")
        server.kill9()
        from_snapshot = []
        for repeat in range(args.repeats):
            url, seconds = timed_start(server)
            figures = await replay_figures(url)
            from_snapshot.append(seconds)
            server.kill9()
            print(f"  from snapshot {repeat + 1}: ready in {seconds:.1f} s", flush=True)
            for name, recovered in sorted(figures["per_actor"].items()):
                print(f"      {name:<14} {recovered}", flush=True)
    finally:
        if server.process is not None and server.process.poll() is None:
            server.kill9()
        size = sum(f.stat().st_size for f in data.rglob("*") if f.is_file()) if data.exists() else 0
        shutil.rmtree(work, ignore_errors=True)

    ready = statistics.median(seconds for seconds, _ in full)
    messages = statistics.median(f["messages"] for _, f in full)
    slowest = statistics.median(f["slowest_s"] for _, f in full)
    replay_rate = messages / slowest if slowest else 0.0
    raw = statistics.median(raw_rates)
    print()
    print(f"recovery of {args.orders:,} journaled orders ({messages:,.0f} journaled messages, data dir {size / 2**20:,.0f} MiB), medians of {args.repeats}")
    print(f"  full replay    : ready in {ready:.1f} s; replay {replay_rate:,.0f} messages/s (all actors in parallel, slowest {slowest:.1f} s)")
    print(f"  raw decode     : {raw:,.0f} messages/s (LMDB read + msgspec decode, one process)   ratio replay/raw {replay_rate / raw:.3f}")
    print(f"  from snapshots : ready in {statistics.median(from_snapshot):.1f} s")
    print(f"  empty data dir : ready in {statistics.median(empty_starts):.1f} s (Ray and the actors starting: the floor)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
