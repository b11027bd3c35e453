"""Recovery: restart-to-ready time and replay rate for a data dir with N journaled orders.

    python tests/perf/bench_recovery.py [--orders 1000000] [--repeats 3] [--data DIR] [--compare-with CHECKOUT]

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

Per actor kind (account shards, instrument actors, the venue) it also reports the replay's
messages/s beside the raw read + decode of the same journals: by wall time (every actor
replays at once, so on two cores they share the CPU) and by the replaying thread's CPU
time (``recovered.cpu_seconds``), the figure that does not depend on what else runs.

``--data DIR`` keeps the loaded data dir there and reuses it when it already holds journals
(then nothing is loaded). ``--compare-with CHECKOUT`` runs the full replays of another
checkout of brokerd (e.g. the version before a change) in alternation with this one on the
same data dir and reports both: a before/after from one run.
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


def raw_decode_per_actor(data_dir: Path) -> dict[str, tuple[int, float, float]]:
    """Each actor's journal read raw from LMDB and its batches decoded: (messages, wall
    seconds, CPU seconds)."""
    import lmdb

    from actors.runtime.machine import record_decoder
    from model.messages import decode_batch

    figures = {}
    for path in sorted(p for p in data_dir.iterdir() if (p / "data.mdb").exists()):
        messages = 0
        started, cpu_started = time.perf_counter(), time.process_time()
        env = lmdb.open(str(path), readonly=True, lock=False, max_dbs=4)
        journal = env.open_db(b"journal", create=False)
        with env.begin(buffers=True) as txn:
            for _, value in txn.cursor(db=journal):
                record = record_decoder.decode(bytes(value[4:]))
                for raw in record.batches:
                    messages += len(decode_batch(raw).messages)
        env.close()
        figures[path.name] = (messages, time.perf_counter() - started, time.process_time() - cpu_started)
    return figures


def kind_of(actor: str) -> str:
    return actor.rsplit("-", 1)[0] if actor.rsplit("-", 1)[-1].isdigit() else actor.split("-", 1)[0]


def per_kind(per_actor: dict[str, dict[str, Any]], raw: dict[str, tuple[int, float, float]]) -> dict[str, dict[str, float]]:
    """Per actor kind: replay messages/s by wall and by CPU time, the raw rate of the same
    journals (by wall and by CPU time), and the ratios, wall to wall and CPU to CPU. Actors
    with nothing replayed are left out."""
    kinds: dict[str, dict[str, float]] = {}
    for name, recovered in per_actor.items():
        messages = int(recovered.get("messages", 0))
        if not messages or name not in raw:
            continue
        kind = kinds.setdefault(kind_of(name), {"messages": 0, "seconds": 0.0, "cpu_seconds": 0.0, "raw_seconds": 0.0, "raw_cpu_seconds": 0.0})
        kind["messages"] += messages
        kind["seconds"] += float(recovered.get("seconds", 0))
        kind["cpu_seconds"] += float(recovered.get("cpu_seconds", recovered.get("seconds", 0)))
        kind["raw_seconds"] += raw[name][1]
        kind["raw_cpu_seconds"] += raw[name][2]
    for kind in kinds.values():
        raw_rate = kind["messages"] / kind["raw_seconds"]
        raw_cpu_rate = kind["messages"] / kind["raw_cpu_seconds"] if kind["raw_cpu_seconds"] else raw_rate
        kind["rate"] = kind["messages"] / kind["seconds"] if kind["seconds"] else 0.0
        kind["cpu_rate"] = kind["messages"] / kind["cpu_seconds"] if kind["cpu_seconds"] else 0.0
        kind["raw_rate"] = raw_rate
        kind["raw_cpu_rate"] = raw_cpu_rate
        kind["ratio"] = kind["rate"] / raw_rate
        kind["cpu_ratio"] = kind["cpu_rate"] / raw_cpu_rate
    return kinds


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


def has_journals(data: Path) -> bool:
    return data.exists() and any((p / "data.mdb").exists() for p in data.iterdir())


async def load(server: ServerProcess, orders: int) -> None:
    url = server.start()
    started = time.perf_counter()
    done = 0
    while done < orders:
        chunk = min(200_000, orders - done)
        await throughput(url, True, 4, chunk, 100, 2000, f"load{done}")
        done += chunk
        print(f"  loaded {done:,} orders ({done / (time.perf_counter() - started):,.0f}/s)", flush=True)
    await asyncio.sleep(2)
    server.kill9()


async def full_replay(server: ServerProcess, label: str, repeat: int) -> tuple[float, dict[str, Any], dict[str, tuple[int, float, float]]]:
    """One restart that replays every journal in full, killed once ready; then the raw
    read + decode of the same journals."""
    url, seconds = timed_start(server)
    figures = await replay_figures(url)
    server.kill9()
    raw = raw_decode_per_actor(server.data_dir)
    messages = sum(m for m, _, _ in raw.values())
    raw_seconds = sum(s for _, s, _ in raw.values())
    print(f"  {label}full replay {repeat + 1}: ready in {seconds:.1f} s; replayed {figures['messages']:,} messages, "
          f"slowest actor {figures['slowest_s']:.1f} s; raw decode {messages / raw_seconds:,.0f} msg/s", flush=True)
    for name, recovered in sorted(figures["per_actor"].items()):
        print(f"      {name:<14} {recovered}", flush=True)
    return seconds, figures, raw


def summary(label: str, runs: list[tuple[float, dict[str, Any], dict[str, tuple[int, float, float]]]]) -> None:
    ready = statistics.median(seconds for seconds, _, _ in runs)
    messages = statistics.median(f["messages"] for _, f, _ in runs)
    slowest = statistics.median(f["slowest_s"] for _, f, _ in runs)
    replay_rate = messages / slowest if slowest else 0.0
    raw = statistics.median(sum(m for m, _, _ in r.values()) / sum(s for _, s, _ in r.values()) for _, _, r in runs)
    print(f"  {label}full replay    : ready in {ready:.1f} s; replay {replay_rate:,.0f} messages/s (all actors in parallel, slowest {slowest:.1f} s)")
    print(f"  {label}raw decode     : {raw:,.0f} messages/s (LMDB read + msgspec decode, one process)   ratio replay/raw {replay_rate / raw:.3f}")
    kinds = [per_kind(f["per_actor"], r) for _, f, r in runs]
    for kind in sorted({k for ks in kinds for k in ks}):
        rows = [ks[kind] for ks in kinds if kind in ks]
        def med(field: str, rows: list[dict[str, float]] = rows) -> float:
            return statistics.median(row[field] for row in rows)
        print(f"  {label}  {kind:<11}: {med('messages'):>10,.0f} messages; replay {med('rate'):>10,.0f}/s wall (ratio {med('ratio'):.3f}), "
              f"{med('cpu_rate'):>10,.0f}/s CPU (ratio {med('cpu_ratio'):.3f}); raw {med('raw_rate'):>10,.0f}/s wall, {med('raw_cpu_rate'):>10,.0f}/s CPU")


async def run(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="brokerd-bench-recovery-"))
    config = write_bench_conf(work / "conf")
    data = Path(args.data).resolve() if args.data else work / "data"
    env = {"PYTHONPATH": str(ROOT)}
    server = ServerProcess(config, data, env)
    other = None
    if args.compare_with:
        other_root = Path(args.compare_with).resolve()
        other = ServerProcess(config, data, {"PYTHONPATH": str(other_root)}, root=other_root)
    empty = ServerProcess(config, work / "empty", env)
    size = 0
    try:
        empty_starts = []
        for _ in range(args.repeats):  # the floor: Ray and the actors starting on an empty data dir
            _, seconds = timed_start(empty)
            empty_starts.append(seconds)
            empty.kill9()
            shutil.rmtree(work / "empty", ignore_errors=True)
        if has_journals(data):
            print(f"  reusing the journals in {data}", flush=True)
        else:
            await load(server, args.orders)
        size = sum(f.stat().st_size for f in data.rglob("*") if f.is_file())

        full = []
        before = []
        for repeat in range(args.repeats):
            if other is not None:
                before.append(await full_replay(other, "compared: ", repeat))
            full.append(await full_replay(server, "", repeat))

        from_snapshot = []
        if not args.data:  # a snapshot would end the reuse of the data dir's full journals
            url = server.start()
            await admin(url, "snapshot")
            server.kill9()
            for repeat in range(args.repeats):
                url, seconds = timed_start(server)
                figures = await replay_figures(url)
                from_snapshot.append(seconds)
                server.kill9()
                print(f"  from snapshot {repeat + 1}: ready in {seconds:.1f} s", flush=True)
                for name, recovered in sorted(figures["per_actor"].items()):
                    print(f"      {name:<14} {recovered}", flush=True)
    finally:
        for process in (server, other, empty):
            if process is not None and process.process is not None and process.process.poll() is None:
                process.kill9()
        shutil.rmtree(work, ignore_errors=True)

    messages = statistics.median(f["messages"] for _, f, _ in full)
    print()
    print(f"recovery of the journals of {args.orders:,} orders ({messages:,.0f} journaled messages, data dir {size / 2**20:,.0f} MiB), medians of {args.repeats}")
    summary("", full)
    if before:
        print(f"  compared with {args.compare_with}, same data dir, alternating:")
        summary("compared: ", before)
    if from_snapshot:
        print(f"  from snapshots : ready in {statistics.median(from_snapshot):.1f} s")
    print(f"  empty data dir : ready in {statistics.median(empty_starts):.1f} s (Ray and the actors starting: the floor)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", help="keep the loaded data dir here; reuse it (load nothing) when it holds journals")
    parser.add_argument("--compare-with", help="another checkout of brokerd whose full replays alternate with this one's")
    args = parser.parse_args()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
