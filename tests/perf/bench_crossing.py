"""Marketable orders crossed internally beside the same orders routed to the sim venue.

    python tests/perf/bench_crossing.py [--orders 4000] [--repeats 3] [--shards N] [--quote-size N]

Two servers run in one Ray cluster, alike but for ``[crossing]``: on in one, off in the
other. Each run sends both the same orders — market orders of 1 IBM in frames of 100,
buys and sells alternating between accounts of one account shard per frame (a frame's
orders reach the instrument actor in one batch, so a buy meets a sell of the same turn),
the frames taking the account shards in turn: all of the demo topology's by default,
``--shards 1`` for every account on one shard (that shard's process then bounds the
crossed rate) — and counts
orders/s from the first frame to the last order's ``filled`` report. With crossing every
pair fills INTERNAL (account → instrument → account); without, each order goes to the
sim venue (account → instrument → venue → instrument → account). The runs alternate
between the servers; medians of ``--repeats``.

Beside orders/s, each run reads the CPU time (user + system, from ``/proc``) of this
process and every process under it — the Ray workers of both servers, the driver's
client — before and after: CPU µs per filled order, which other work on a shared machine
moves far less than orders/s (the other server is idle while one runs).

Then the latency of a fill: frames of one market buy and one market sell (two accounts of
one shard) at ``--pairs-per-s``, paced, for ``--latency-seconds``; p50 and p99 from a
frame's send to each order's ``filled`` report, both servers alternated, medians of the
repeats. A crossed order waits for three journal commits in turn (account shard,
InstrumentActor, account shard), a routed one for five (and the venue's).

The sim venue shows a deep market by default (``--quote-size``, 10,000,000 units a side),
so routed orders fill on arrival and the routed rate is what the server can route. At the
demo's 500 units a side and ten quotes a second the sim itself caps routed fills at about
10,000/s and the ratio measures the sim's liquidity, not the server.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgspec

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from model import fixed  # noqa: E402
from model.config import AccountSeed, CrossingSection, User  # noqa: E402
from model.routing import shard_of  # noqa: E402
from server.gateway.auth import signature  # noqa: E402
from tests.conftest import demo_setup  # noqa: E402

encode = msgspec.json.encode
decode = msgspec.json.decode


def accounts(shards: int, count: int, shard: int) -> list[str]:
    """``count`` account ids that all live on account shard ``shard`` (of ``shards``)."""
    found: list[str] = []
    index = 0
    while len(found) < count:
        name = f"X{index:05d}"
        if shard_of(name, shards) == shard:
            found.append(name)
        index += 1
    return found


def bench_setup(namespace: str, crossing: bool, names: list[str], quote_size: int) -> Any:
    setup = demo_setup()
    config = setup.config
    config = msgspec.structs.replace(
        config,
        server=msgspec.structs.replace(config.server, ws_port=0, data_dir=tempfile.mkdtemp(prefix="brokerd-bench-crossing-")),
        topology=msgspec.structs.replace(config.topology, namespace=namespace),
        gateway=msgspec.structs.replace(config.gateway, rate_limit_per_s=10**7, rate_limit_burst=10**7),
        logging=msgspec.structs.replace(config.logging, level="warning"),
        crossing=CrossingSection(enabled=crossing),
        sim=msgspec.structs.replace(config.sim, quote_size=quote_size),
    )
    user = User(key="bench", secret="bench-secret", role="trader", accounts=names)
    seeds = [AccountSeed(name, "bench", 10**8 * fixed.SCALE, positions=(("IBM", 10**6 * fixed.SCALE),)) for name in names]
    return msgspec.structs.replace(setup, config=config, users=[*setup.users, user], accounts=[*setup.accounts, *seeds])


def frames(groups: list[list[str]], count: int, tag: str) -> list[bytes]:
    """``count`` orders in frames of 100: a buy and a sell of different accounts in turn,
    each frame's accounts one of ``groups`` (one account shard's), the groups in turn."""
    out = []
    for frame_index in range(count // 100):
        orders = []
        names = groups[frame_index % len(groups)]
        for k in range(100):
            n = frame_index * 100 + k
            orders.append({"account": names[n % len(names)], "client_order_id": f"{tag}-{n}", "symbol": "IBM",
                           "side": "buy" if n % 2 == 0 else "sell", "type": "market", "qty": "1"})
        out.append(b'{"id":' + str(frame_index + 1).encode() + b"," + encode({"op": "new_orders", "orders": orders})[1:])
    return out


ROLES = ("gateway", "account", "instrument", "venue")


def role_of(pid: int, mine: int) -> str:
    """Which part of the server a process of the tree is, by its title (``ray::AccountActor``,
    ``ray::account-0: ...``); ``client`` for this process, ``other`` for Ray's own."""
    if pid == mine:
        return "client"
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            title = cmdline.read(200).lower()
    except OSError:
        return "other"
    return next((role for role in ROLES if role.encode() in title), "other")


def tree_cpu() -> dict[str, float]:
    """CPU seconds (user + system) used so far by this process and every live process under
    it, by role (``role_of``)."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = int(fields[11]) + int(fields[12])
    mine = os.getpid()
    total: dict[str, float] = {}
    for pid, used in times.items():
        walk = pid
        while walk > 1 and walk != mine:
            walk = parents.get(walk, 0)
        if walk == mine:
            role = role_of(pid, mine)
            total[role] = total.get(role, 0.0) + used / tick
    return total


async def filled_per_second(url: str, work: list[bytes], orders: int, cpu: list[dict[str, float]] | None = None) -> float:
    """Send every frame (at most 10 unanswered) and count ``filled`` reports until ``orders``."""
    from websockets.asyncio.client import connect

    socket = await connect(url, compression=None, max_size=2**24, close_timeout=0.5)
    ts, nonce = int(time.time() * 1000), os.urandom(8).hex()
    await socket.send(encode({"op": "login", "id": 0, "key": "bench", "ts": ts, "nonce": nonce, "sig": signature("bench-secret", ts, nonce)}))
    assert decode(await socket.recv()).get("ok")
    credit = asyncio.Semaphore(10)

    async def send() -> None:
        for frame in work:
            await credit.acquire()
            await socket.send(frame, text=True)

    started, cpu_started = time.perf_counter(), tree_cpu()
    sender = asyncio.create_task(send())
    filled = acks = 0
    venues: dict[bytes, int] = {}
    while filled < orders:
        message = await socket.recv(decode=False)
        if message.startswith(b'{"id":'):
            acks += 1
            if acks % 100 == 0:
                credit.release()
            if b'"type":"error"' in message:
                raise RuntimeError(message[:300])
        if b'"status":"filled"' in message:
            filled += 1
            at = message.find(b'"venue":"')
            venue = message[at + 9 : message.find(b'"', at + 9)] if at >= 0 else b"?"
            venues[venue] = venues.get(venue, 0) + 1
        elif b'"status":"rejected"' in message or b'"status":"canceled"' in message:
            raise RuntimeError(message[:300])
    elapsed = time.perf_counter() - started
    cpu_ended = tree_cpu()
    per_role = {role: (cpu_ended.get(role, 0.0) - cpu_started.get(role, 0.0)) / orders for role in cpu_ended}
    used = sum(per_role.values()) * orders
    if cpu is not None:
        cpu.append(per_role)
    await sender
    await socket.close()
    print(f"    {orders:,} filled in {elapsed:.2f} s ({used / orders * 1e6:.0f} CPU µs/order) at {dict((k.decode(), v) for k, v in venues.items())}", flush=True)
    return orders / elapsed


async def fill_latency(url: str, groups: list[list[str]], pairs_per_s: int, seconds: float, tag: str) -> tuple[float, float]:
    """Frames of two orders — a market buy and a market sell of 1 IBM, two accounts of one
    shard — sent at ``pairs_per_s``, paced, for ``seconds``: the p50 and p99 in ms from a
    frame's send to each order's ``filled`` report."""
    from websockets.asyncio.client import connect

    socket = await connect(url, compression=None, max_size=2**24, close_timeout=0.5)
    ts, nonce = int(time.time() * 1000), os.urandom(8).hex()
    await socket.send(encode({"op": "login", "id": 0, "key": "bench", "ts": ts, "nonce": nonce, "sig": signature("bench-secret", ts, nonce)}))
    assert decode(await socket.recv()).get("ok")
    count = int(pairs_per_s * seconds)
    sent: dict[bytes, float] = {}
    latencies: list[float] = []

    async def send() -> None:
        start, interval = time.perf_counter(), 1 / pairs_per_s
        for n in range(count):
            names = groups[n % len(groups)]
            orders = [{"account": names[(2 * n + k) % len(names)], "client_order_id": f"{tag}-{n}-{k}", "symbol": "IBM",
                       "side": ("buy", "sell")[k], "type": "market", "qty": "1"} for k in (0, 1)]
            delay = start + n * interval - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            now = time.perf_counter()
            sent[f"{tag}-{n}-0".encode()] = sent[f"{tag}-{n}-1".encode()] = now
            await socket.send(encode({"op": "new_orders", "id": n + 1, "orders": orders}), text=True)

    sender = asyncio.create_task(send())
    while len(latencies) < 2 * count:
        message = await socket.recv(decode=False)
        if b'"status":"filled"' in message:
            at = message.find(b'"client_order_id":"') + 19
            latencies.append(time.perf_counter() - sent[message[at : message.find(b'"', at)]])
        elif b'"status":"rejected"' in message or b'"type":"error"' in message:
            raise RuntimeError(message[:300])
    await sender
    await socket.close()
    latencies.sort()
    return latencies[len(latencies) // 2] * 1e3, latencies[int(len(latencies) * 0.99)] * 1e3


async def run(args: argparse.Namespace) -> None:
    import ray

    from actors.runtime.options import RAY_INIT_DEFAULTS
    from server.app import BrokerServer

    ray.init(num_cpus=os.cpu_count(), **{**RAY_INIT_DEFAULTS, "log_to_driver": False})
    shards = demo_setup().config.topology.account_shards
    if not 1 <= args.shards <= shards:
        raise SystemExit(f"--shards must be 1 to {shards} (the demo topology's account shards)")
    groups = [accounts(shards, 100 // args.shards, shard) for shard in range(args.shards)]
    names = [name for group in groups for name in group]
    servers = {
        "crossed": BrokerServer(bench_setup(f"bench-x-{os.getpid()}", True, names, args.quote_size), "127.0.0.1", 0),
        "routed": BrokerServer(bench_setup(f"bench-r-{os.getpid()}", False, names, args.quote_size), "127.0.0.1", 0),
    }
    urls = {name: await server.start() for name, server in servers.items()}
    await asyncio.sleep(1)  # first quotes
    results: dict[str, list[float]] = {name: [] for name in servers}
    cpu: dict[str, list[dict[str, float]]] = {name: [] for name in servers}
    latency: dict[str, list[tuple[float, float]]] = {name: [] for name in servers}
    try:
        for name, url in urls.items():  # warm both
            await filled_per_second(url, frames(groups, 400, f"warm{name}"), 400)
        for repeat in range(args.repeats):
            for name, url in urls.items():
                results[name].append(await filled_per_second(url, frames(groups, args.orders, f"r{repeat}{name}"), args.orders, cpu[name]))
            print(f"  repeat {repeat + 1}: " + ", ".join(f"{k} {v[-1]:,.0f}/s" for k, v in results.items()), flush=True)
        for repeat in range(args.repeats if args.latency_seconds > 0 else 0):
            for name, url in urls.items():
                latency[name].append(await fill_latency(url, groups, args.pairs_per_s, args.latency_seconds, f"l{repeat}{name}"))
            print(f"  latency {repeat + 1}: " + ", ".join(f"{k} p50 {v[-1][0]:.2f} p99 {v[-1][1]:.2f} ms" for k, v in latency.items()), flush=True)
    finally:
        for server in servers.values():
            await server.stop()
            shutil.rmtree(server.setup.config.server.data_dir, ignore_errors=True)
        ray.shutdown()
    crossed, routed = statistics.median(results["crossed"]), statistics.median(results["routed"])
    print()
    print(f"marketable orders, market 1 IBM, frames of 100, {args.orders:,} per run, accounts on {args.shards} account shard(s),"
          f" sim size {args.quote_size:,} a side, medians of {args.repeats}:")
    print(f"  crossed internally {crossed:>9,.0f} filled/s   routed to the sim venue {routed:>9,.0f} filled/s   ratio {crossed / routed:.2f}")
    crossed_cpu, routed_cpu = (statistics.median(sum(run.values()) for run in cpu[name]) * 1e6 for name in ("crossed", "routed"))
    print(f"  CPU per order: crossed {crossed_cpu:,.0f} µs   routed {routed_cpu:,.0f} µs   routed ÷ crossed {routed_cpu / crossed_cpu:.2f}"
          f"   (load average {os.getloadavg()[0]:.1f})")
    for name in ("crossed", "routed"):
        roles = sorted({role for run in cpu[name] for role in run})
        print(f"    {name}: " + ", ".join(f"{role} {statistics.median(run.get(role, 0.0) for run in cpu[name]) * 1e6:,.1f}" for role in roles) + " µs")
    if latency["crossed"]:
        (c50, c99), (r50, r99) = ([statistics.median(p[i] for p in latency[name]) for i in (0, 1)] for name in ("crossed", "routed"))
        print(f"  order to fill at {2 * args.pairs_per_s:,} orders/s (a buy and a sell a frame), medians of {args.repeats}: crossed p50 {c50:.2f} ms p99 {c99:.2f} ms"
              f"   routed p50 {r50:.2f} ms p99 {r99:.2f} ms   routed ÷ crossed p50 {r50 / c50:.2f} p99 {r99 / c99:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=4000)
    parser.add_argument("--repeats", type=int, default=3)
    # By default a market deep enough that a routed order never waits for the sim's next
    # quote: the routed rate is the server's. The demo's displayed size (500 a side, ten
    # quotes a second) caps routing at 10,000 fills/s, whatever the server could do.
    parser.add_argument("--quote-size", type=int, default=10**7, help="the sim's displayed size per side, whole units (the demo's: 500)")
    parser.add_argument("--pairs-per-s", type=int, default=500, help="the latency phase's offered rate: frames of a buy and a sell per second")
    parser.add_argument("--latency-seconds", type=float, default=5.0, help="each latency run's length (0: no latency phase)")
    parser.add_argument("--shards", type=int, default=demo_setup().config.topology.account_shards,
                        help="account shards the accounts spread over (default: all of the demo topology's)")
    args = parser.parse_args()
    import uvloop

    uvloop.run(run(args))


if __name__ == "__main__":
    main()
