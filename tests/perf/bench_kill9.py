"""kill -9 under load, many times: what clients were told against what the server holds.

    python tests/perf/bench_kill9.py [--kills 30] [--clients 4]

Each round starts ``run_server.py`` on the same data dir (fsync journals, a snapshot every
500 messages), lets ``--clients`` connections stream orders for a random 0.3–3 s, and
SIGKILLs the whole process tree. At the end: one more start, and the books compared with
the clients' ledger (``tests/integration/recovery.py``: 0 lost, 0 duplicated, nothing
invented, ``admin check`` ok). Reports the counts, the time from start to ready after a
kill (median), and the orders acknowledged per second of uptime beside the same load on
a server that is never killed (the baseline, same run).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.integration.recovery import Ledger, ServerProcess, assert_books_match, stream_orders, write_conf  # noqa: E402


async def run(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="brokerd-bench-kill9-"))
    config = write_conf(work / "conf", snapshot_every_events=500)
    rng = random.Random(args.seed)
    try:
        # baseline: the same load, never killed
        steady = ServerProcess(config, work / "steady")
        url = steady.start()
        base = Ledger()
        started = time.perf_counter()
        await stream_orders(url, base, "steady", count=10**9, clients=args.clients, seconds=10)
        base_rate = len(base.acked) / (time.perf_counter() - started)
        steady.kill9()

        server = ServerProcess(config, work / "data")
        ledger = Ledger()
        ready_times: list[float] = []
        uptime = 0.0
        for round_ in range(args.kills):
            began = time.perf_counter()
            url = server.start()
            ready_times.append(time.perf_counter() - began)
            window = rng.uniform(0.3, 3.0)
            load = asyncio.ensure_future(stream_orders(url, ledger, f"k{round_}", count=10**9, clients=args.clients, seconds=None, seed=round_))
            await asyncio.sleep(window)
            server.kill9()
            uptime += window
            await load
            print(f"  kill {round_ + 1}: {len(ledger.acked):,} acked, {len(ledger.unacked()):,} unanswered so far", flush=True)
        url = server.start()
        found = await assert_books_match(url, ledger)
        unanswered = ledger.unacked()
        present = sum(1 for key in unanswered if key in found)
        server.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"{args.kills} SIGKILLs of the whole server under load from {args.clients} clients")
    print(f"  acknowledged {len(ledger.acked):,}: lost 0, duplicated 0, invented 0 (asserted); unanswered {len(unanswered):,} "
          f"(present whole {present}, absent {len(unanswered) - present})")
    print(f"  start to ready after a kill: median {statistics.median(ready_times):.1f} s (max {max(ready_times):.1f} s)")
    print(f"  acked orders per second of uptime: {len(ledger.acked) / uptime:,.0f}; never killed (baseline): {base_rate:,.0f}; "
          f"ratio {len(ledger.acked) / uptime / base_rate:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kills", type=int, default=30)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
