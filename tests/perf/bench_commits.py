"""Journal commits (fsynced LMDB transactions) per order and per fill, by actor.

    python tests/perf/bench_commits.py [--idle-seconds 5] [--rate 100] [--seconds 5] [--open-orders 2000]

One server with fsync journals (2 account shards, 2 instrument actors, the simulated venue
quoting every ``[sim] quote_interval_ms``), four phases, each counted from every actor's
journal sequence (one record is one commit) before and after:

1. idle: nothing but quotes — commits per second by actor;
2. IOC buys 5 % below the market at ``--rate`` orders/s (risk, hold, ack, route, canceled at
   the venue, released): commits per order by actor, less the idle rate over the phase;
3. IOC buys above the ask at the same rate: each fills — commits per filled order;
   then day buys 5 % below the market, which rest at the venue: commits per order;
4. ``--open-orders`` market orders for the open (``tif = opg``) queued in frames of 100,
   then ``admin open``: commits per order, queueing and the open's cycle (blocks, fills,
   allocations, booking) counted apart.

After the server stops, every actor's journal is read back and its records are sorted by
what they held, so the table says which inputs cost the commits (``quote only``: records
with nothing but quotes, ticks and marks).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.perf.bench_order_entry import ACCOUNTS, Loader, bench_setup, encode  # noqa: E402

QUOTES = {"MarketUpdate", "VenueQuote", "VenueTick"}


def order_frame(request_id: int, price: str, tif: str = "ioc", order_type: str = "limit") -> bytes:
    order = {"account": ACCOUNTS[request_id % len(ACCOUNTS)], "client_order_id": f"k{request_id}", "symbol": "IBM",
             "side": "buy", "type": order_type, "qty": "1", "tif": tif}
    if order_type == "limit":
        order["price"] = price
    return b'{"id":' + str(request_id).encode() + b"," + encode({"op": "new_order", **order})[1:]


def open_frame(request_id: int, first: int) -> bytes:
    orders = [{"account": ACCOUNTS[(first + k) % len(ACCOUNTS)], "client_order_id": f"o{first + k}", "symbol": "IBM",
               "side": "buy", "type": "market", "qty": "1", "tif": "opg"} for k in range(100)]
    return b'{"id":' + str(request_id).encode() + b"," + encode({"op": "new_orders", "orders": orders})[1:]


async def journal_seqs(server: Any) -> dict[str, int]:
    statuses = await server.supervisor.status_all.remote()
    return {status["name"]: status["journal_seq"] for status in statuses["actors"] if "journal_seq" in status}


async def admin(url: str, command: str, *args: str) -> dict[str, Any]:
    from server.client.sdk import BrokerClient

    async with BrokerClient(url, "admin", "admin-secret") as client:
        reply: dict[str, Any] = await client.request({"op": "admin", "command": command, "args": list(args)}, timeout=600)
    return reply


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {name: after[name] - before.get(name, 0) for name in sorted(after)}


async def paced(url: str, frames: list[bytes], rate: int) -> None:
    async with Loader(url, True) as loader:
        start = asyncio.get_running_loop().time() + 0.05
        await loader.paced(frames, 1 / rate, start)


def classify(data_dir: Path) -> dict[str, Counter[str]]:
    """Per actor: its journal's records by what they held."""
    from actors.runtime.machine import record_decoder
    from model.messages import decode_batch
    from snapshots.journal import Journal

    kinds: dict[str, Counter[str]] = {}
    for folder in sorted(path for path in data_dir.iterdir() if (path / "data.mdb").exists()):
        journal = Journal(folder, folder.name, durability="buffered")
        counter: Counter[str] = Counter()
        for _, payload in journal.read_from(journal.first_seq()):
            names = {type(message).__name__ for raw in record_decoder.decode(payload).batches for message in decode_batch(raw).messages}
            counter["quote only" if names <= QUOTES else "+".join(sorted(names - QUOTES))] += 1
        journal.close()
        kinds[folder.name] = counter
    return kinds


def show(title: str, counts: dict[str, int], per: float, idle: dict[str, float] | None = None, seconds: float = 0.0) -> None:
    cells = []
    for name, count in counts.items():
        net = count - (idle or {}).get(name, 0.0) * seconds
        cells.append(f"{name} {net / per:.2f}")
    total = sum(counts.values()) - sum((idle or {}).get(name, 0.0) * seconds for name in counts)
    print(f"  {title}: total {total / per:.2f} | " + ", ".join(cells), flush=True)


async def run(args: argparse.Namespace) -> None:
    import ray

    from actors.runtime.options import RAY_INIT_DEFAULTS
    from server.app import BrokerServer

    ray.init(num_cpus=os.cpu_count(), **{**RAY_INIT_DEFAULTS, "log_to_driver": False})
    setup = bench_setup(f"commits-{os.getpid()}")
    data_dir = Path(setup.config.server.data_dir)
    server = BrokerServer(setup, "127.0.0.1", 0)
    url = await server.start()
    try:
        await asyncio.sleep(1.5)  # first quotes, accounts entered
        print(f"commits (journal records) by actor; {args.rate} orders/s; quotes every {setup.config.sim.quote_interval_ms} ms", flush=True)
        before = await journal_seqs(server)
        started = time.perf_counter()
        await asyncio.sleep(args.idle_seconds)
        idle_s = time.perf_counter() - started
        counts = delta(before, await journal_seqs(server))
        idle = {name: count / idle_s for name, count in counts.items()}
        show("idle, per second", counts, idle_s)

        count = int(args.rate * args.seconds)
        phases = (
            ("IOC not filled, per order", "142.50", "ioc", 10**6),
            ("IOC filled, per fill", "160.00", "ioc", 2 * 10**6),
            ("day limit resting at the venue, per order", "142.50", "day", 4 * 10**6),
        )
        for title, price, tif, first in phases:
            frames = [order_frame(first + k, price, tif) for k in range(count)]
            before = await journal_seqs(server)
            started = time.perf_counter()
            await paced(url, frames, args.rate)
            await asyncio.sleep(0.5)  # the last fills booked
            elapsed = time.perf_counter() - started
            counts = delta(before, await journal_seqs(server))
            show(title + " (idle rate subtracted)", counts, count, idle, elapsed)
            show(title + " (raw)", counts, count)

        if args.open_orders:
            frames = [open_frame(k, 3 * 10**6 + k * 100) for k in range(args.open_orders // 100)]
            before = await journal_seqs(server)
            started = time.perf_counter()
            await paced(url, frames, max(1, args.rate // 100))
            while sum(a["open"]["queued"] for a in (await admin(url, "status"))["result"]["actors"] if "open" in a) < args.open_orders:
                await asyncio.sleep(0.1)
            elapsed = time.perf_counter() - started
            counts = delta(before, await journal_seqs(server))
            show("orders for the open, queueing, per order (idle subtracted)", counts, args.open_orders, idle, elapsed)
            before = await journal_seqs(server)
            started = time.perf_counter()
            opened = await admin(url, "open")
            assert opened.get("ok"), opened
            while True:
                actors = (await admin(url, "status"))["result"]["actors"]
                instruments = [a for a in actors if "open" in a]
                shards = [a for a in actors if "allocations_booked" in a]
                fills = sum(a["open"]["fills_allocated"] for a in instruments)
                if sum(a["open"]["allocated"] for a in instruments) >= args.open_orders and sum(a["allocations_booked"] for a in shards) == fills:
                    break
                await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - started
            counts = delta(before, await journal_seqs(server))
            show(f"the open ({fills} fills allocated), per order (idle subtracted)", counts, args.open_orders, idle, elapsed)
    finally:
        await server.stop()
        ray.shutdown()
    print("records by what they held (whole run):")
    for actor, counter in classify(data_dir).items():
        print(f"  {actor}: " + ", ".join(f"{kind} {n}" for kind, n in counter.most_common(8)))
    shutil.rmtree(data_dir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idle-seconds", type=float, default=5)
    parser.add_argument("--rate", type=int, default=100, help="orders/s offered in the IOC phases")
    parser.add_argument("--seconds", type=float, default=5, help="length of each IOC phase")
    parser.add_argument("--open-orders", type=int, default=2000, help="orders for the open (a multiple of 100; 0: skip)")
    args = parser.parse_args()
    import uvloop

    uvloop.run(run(args))


if __name__ == "__main__":
    main()
