"""The headline: a market-open cycle at scale, beside raw LMDB appends of as many records.

    python tests/perf/bench_open.py [--orders 1000000] [--symbols 500] [--accounts 100000] [--repeats 1] [--basket | --basket-only]
        [--upload N] [--batch] [--files N | --max-rows N] [--settle S] [--probe DIR [--trace N] [--trim]]
        [--audit-off] [--alerts-off] [--failover] [--idle S]

An advisor's ``--accounts`` accounts queue ``--orders`` market orders for the open
(fractional quantities and notional amounts, buys and sells, spread over ``--symbols``
symbols and every account shard) over WebSocket, in ``new_orders`` frames of 1,000 from
``--clients`` connections (``--upload N``: as ``load_orders`` baskets of N rows of CSV text,
the way an advisor's app uploads a basket; each connection follows every account, so each
order's ``new`` report goes to every one of them — with uploads, ``--clients 1`` measures the
server rather than the benchmark's own clients, which share one process and the machine;
``--batch``: the clients log in with ``batch``, and the reports reach them as JSON arrays,
many a frame). With
``--basket`` each repeat also queues the same orders from a basket file (CSV in the
server's import dir, ``admin orders load``) on a second, fresh server, and prints both
queueing rates side by side (``--basket-only``: the basket server alone); its open cycle is measured the same way. Queueing is timed
until every order is acknowledged (the WebSocket replies; the command's answer), and
``queued`` until the InstrumentActors hold every order for the open. Then
the operator's ``open``; the InstrumentActors net each symbol and send one block per side
to the sim venue, which fills them in parts at several prices; the fills are allocated to
every order; the account shards journal and book positions and cash. Phases, from the
moment ``open`` is sent:

* ``open``: until the command returns (the open journaled at every InstrumentActor);
* ``allocated``: until every block has filled and been allocated (at the InstrumentActors);
* ``booked``: until the account shards have journaled and booked every allocation.

Beside the phases, the CPU seconds (user + system) every process of the run spent in the
cycle (``cycle_cpu_s``; ``shards_cpu_s``: the account shards'), read from ``/proc``: what
the cycle costs, a figure that a busy machine bends far less than the wall clock; and the
same for queueing (``queue_cpu_us``: every process's CPU from the first order sent until
every order is held, per order; ``bench_cpu_us``: this process's own — its clients and the
memory sampler — on the same cores).

``--idle S``: before queueing, the started server (from 5 s after its start) is left S seconds with nothing to do but
the sim venue's quotes (``--symbols`` symbols every 50 ms: 10,000 quotes a second at 500),
and the CPU seconds each process spends, per 10 s, is printed (``idle_cpu_s``: all of them)
— the time every order path shares the cores with.

Baseline in the same run: the time to append as many allocation records (a msgpack tuple
of order id, account, qty, price, cash each) raw into an LMDB file, 1,000 per fsynced
transaction. The ratio cycle ÷ raw is the figure that holds on a noisy machine.

``--failover``: the server ships its journals (``[placement] shared_dir`` = ``shared`` in the
run's temp data dir, ``failover = true``; no ``[placement.nodes]``, so nothing moves): every
group commit is also appended and fsynced under ``<shared_dir>/ship/<actor>/`` before its ack
(``snapshots/shipping.py``), the audit chains and the basket's import dir are under the shared
dir. ``shipped_gb`` is the shipped copy's size (also counted in ``data_gb``). The cost of
shipping is this run's figures against a run without the flag (there is no same-run
baseline server here: the raw LMDB ratio is the figure to compare).

The basket files: as many as ``[basket] max_rows`` needs (a day of 10,000,000 orders is ten
files of the default 1,000,000), or ``--files N`` (``max_rows`` raised to fit), loaded one
after the other.

Memory (``Memory``), sampled each 0.5 s: the peak resident set of this run's Ray processes,
split into anonymous memory (``peak_anon_gb``: what the machine must provide) and
file-backed pages (``peak_file_gb``: LMDB's mapped journals, which the kernel can reclaim),
each process's own peaks, and the machine's used memory (``MemTotal − MemAvailable``) at
the start and at its peak. Beside them a table of every process's anonymous memory at each
phase's end (started, loaded — after each file —, queued, settled, booked, after; ``--settle
S`` waits S seconds before the marks after queueing and after booking), its peak's growth
over the start per order of the run, and what it held in the sample of the whole's peak
(``at all-peak``, with the mark that sample came after). ``--probe DIR``: at each mark every actor also writes
what holds its memory into DIR (``actors/runtime/memprobe.py``: allocator figures, objects by
type; ``--trace N``: tracemalloc's top lines, slow; ``--trim``: what ``malloc_trim`` returns).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import lmdb
import msgspec

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from actors.runtime.placement import shared_paths, ship_root  # noqa: E402
from model import fixed  # noqa: E402
from model.config import AccountSeed, Setup, User  # noqa: E402
from model.enums import AssetClass  # noqa: E402
from model.instruments import Instrument  # noqa: E402
from tests.conftest import demo_setup  # noqa: E402
from tests.integration.helpers import order_for_the_open  # noqa: E402

INCREMENT = fixed.parse("0.000001")


def max_rows(args: argparse.Namespace, configured: int) -> int:
    """A basket's ``max_rows`` for the run: the config's (or ``--max-rows``), raised only when
    ``--files`` asks for fewer files than that allows."""
    rows = args.max_rows or configured
    return max(rows, -(-args.orders // args.files)) if args.files else rows


def file_count(args: argparse.Namespace, rows: int) -> int:
    """How many basket files hold the run's orders: ``--files``, or as many of ``rows``
    (``max_rows``) as it takes."""
    return args.files or max(1, -(-args.orders // rows))


def instruments(count: int) -> list[Instrument]:
    rng = random.Random(11)
    return [
        Instrument(
            f"S{index:03d}",
            AssetClass.ETF if index % 10 == 0 else AssetClass.EQUITY,
            fixed.CENT,
            INCREMENT,
            rng.randint(10, 500) * fixed.SCALE,
        )
        for index in range(count)
    ]


def bench_setup(args: argparse.Namespace, data_dir: str):  # type: ignore[no-untyped-def]
    setup = demo_setup()
    config = setup.config
    config = msgspec.structs.replace(
        config,
        server=msgspec.structs.replace(config.server, ws_port=0, data_dir=data_dir),
        topology=msgspec.structs.replace(
            config.topology, namespace=f"bench-open-{os.getpid()}", account_shards=args.shards, instrument_actors=args.instrument_actors
        ),
        gateway=msgspec.structs.replace(config.gateway, rate_limit_per_s=10**8, rate_limit_burst=10**8),
        # blocks of thousands of shares fill within a few quotes, in parts at several prices
        sim=msgspec.structs.replace(config.sim, quote_interval_ms=50, quote_size=args.quote_size),
        journal=msgspec.structs.replace(config.journal, snapshot_every_events=args.snapshot_every, snapshot_every_s=0, map_size_mb=512),
        logging=msgspec.structs.replace(config.logging, level="warning"),
        basket=msgspec.structs.replace(config.basket, max_rows=max_rows(args, config.basket.max_rows), chunk_rows=args.chunk_rows or config.basket.chunk_rows),
    )
    if args.audit_off:  # the audit log's cost apart: the same cycle without its records
        config = msgspec.structs.replace(config, audit=msgspec.structs.replace(config.audit, enabled=False))
    if args.failover:  # journals shipped to a "shared" folder of the same disk
        config = msgspec.structs.replace(config, placement=msgspec.structs.replace(config.placement, shared_dir=str(Path(data_dir) / "shared"), failover=True))
    if args.alerts_off:  # the risk alerts' cost apart: no correlation or volatility alert to review
        config = msgspec.structs.replace(config, portfolio=msgspec.structs.replace(config.portfolio, correlation_alert="", volatility_jump_pct=""))
    symbols = instruments(args.symbols)
    # short sales allowed: an account sells what it does not hold yet (no positions to seed)
    seeds = [
        AccountSeed(f"V{index:07d}", "advisor", 10_000_000 * fixed.SCALE, allow_short=True, group="ADV") for index in range(args.accounts)
    ]
    advisor = User(key="advisor", secret="advisor-secret", role="advisor", groups=["ADV"])
    ops = User(key="ops", secret="ops-secret", role="admin")
    return msgspec.structs.replace(setup, config=config, instruments=symbols, users=[advisor, ops], accounts=seeds)


def frame_of_orders(args: argparse.Namespace, symbols: list[Instrument], start: int) -> list[dict[str, Any]]:
    """Orders ``start`` .. ``start + 999``, the same every run (made one frame at a time, so
    the client does not hold 10,000,000 orders). 60 % buys, 40 % sells; 70 % quantities
    (0.000001 .. 20), 30 % notionals (5.00 .. 2,000.00); symbols and accounts spread evenly."""
    rng = random.Random(start)

    def qty() -> str:
        return fixed.format(rng.randint(1, 20_000_000) * INCREMENT)

    orders = []
    for index in range(start, min(start + 1000, args.orders)):
        symbol = symbols[rng.randrange(len(symbols))].symbol
        side = "sell" if rng.random() < 0.4 else "buy"
        orders.append(order_for_the_open(rng, f"V{index % args.accounts:07d}", f"o{index}", symbol, side, (5, 2000), qty))
    return orders


BASKET_COLUMNS = ("account", "client_order_id", "symbol", "side", "type", "tif", "qty", "notional")


def basket_lines(args: argparse.Namespace, symbols: list[Instrument], starts: Iterable[int]) -> Iterator[str]:
    """The CSV rows (no header) of the frames of orders starting at ``starts``."""
    for start in starts:
        for order in frame_of_orders(args, symbols, start):
            yield ",".join(order.get(column, "") for column in BASKET_COLUMNS) + "\n"


async def queue(url: str, args: argparse.Namespace, symbols: list[Instrument]) -> float:
    """Queue the orders over WebSocket from ``--clients`` connections: in ``new_orders``
    frames of 1,000, or with ``--upload N`` as ``load_orders`` baskets of N rows (CSV text,
    as an advisor's trading app uploads a basket); each client sends its next frame once the
    last is answered. The upload's CSV is made before the clock starts."""
    from server.client.sdk import BrokerClient

    starts = list(range(0, args.orders, 1000))
    uploads: list[str] = []
    if args.upload:
        per = args.upload // 1000  # whole thousands (``upload_rows``)
        header = ",".join(BASKET_COLUMNS) + "\n"
        uploads = [header + "".join(basket_lines(args, symbols, starts[at : at + per])) for at in range(0, len(starts), per)]
    started = time.perf_counter()

    def advisor() -> BrokerClient:  # one connection of the advisor: every client is one
        return BrokerClient(url, "advisor", "advisor-secret", keep=False, batch=args.batch, max_size=None)

    async def sender(mine: list[int]) -> None:
        async with advisor() as client:
            for start in mine:
                replies = await client.new_orders(frame_of_orders(args, symbols, start), timeout=300)
                bad = [reply for reply in replies if reply.get("exec_type") != "new"]
                assert not bad, bad[:3]

    async def uploader(mine: list[str]) -> None:
        async with advisor() as client:
            for text in mine:
                reply = await client.load_orders(text, timeout=600)
                assert reply.get("type") == "orders_loaded" and reply["accepted"] == reply["rows"] == text.count("\n") - 1, reply

    if uploads:
        await asyncio.gather(*(uploader(uploads[index :: args.clients]) for index in range(args.clients)))
    else:
        await asyncio.gather(*(sender(starts[index :: args.clients]) for index in range(args.clients)))
    return time.perf_counter() - started


def write_baskets(args: argparse.Namespace, symbols: list[Instrument], folder: Path, files: int) -> list[str]:
    """The same orders as the WebSocket run, as ``files`` basket CSV files of (nearly) equal
    size, in order; returns their names."""
    frames = list(range(0, args.orders, 1000))
    per_file = -(-len(frames) // files)
    names = []
    for number in range(files):
        name = "basket.csv" if files == 1 else f"basket-{number + 1:03d}.csv"
        with (folder / name).open("w", encoding="utf-8") as out:
            out.write(",".join(BASKET_COLUMNS) + "\n")
            out.writelines(basket_lines(args, symbols, frames[number * per_file : (number + 1) * per_file]))
        names.append(name)
    return names


async def queue_basket(url: str, args: argparse.Namespace, names: list[str], memory: Memory) -> tuple[float, dict[str, Any]]:
    """Load the basket files, ``--files-at-once`` of them at a time (one after the other by
    default); the summed check and load times."""
    started = time.perf_counter()
    totals = {"accepted": 0, "check_ms": 0, "load_ms": 0}
    room = asyncio.Semaphore(args.files_at_once)

    async def load(name: str) -> None:
        async with room:
            reply = await admin(url, "orders", "load", name)
        assert reply.get("ok"), reply
        for key in totals:
            totals[key] += reply["result"][key]
        if len(names) > 1:
            memory.mark(f"loaded {name}")

    await asyncio.gather(*(load(name) for name in names))
    elapsed = time.perf_counter() - started
    assert totals["accepted"] == args.orders, totals
    return elapsed, totals


async def all_queued(url: str, orders: int, started: float) -> float:
    """Seconds from ``started`` until the InstrumentActors hold every order for the open."""
    while True:
        actors = (await admin(url, "status"))["result"]["actors"]
        if sum(a["open"]["queued"] for a in actors if "open" in a) >= orders:
            return time.perf_counter() - started
        await asyncio.sleep(0.1)


async def admin(url: str, command: str, *args: str) -> dict[str, Any]:
    from server.client.sdk import BrokerClient

    async with BrokerClient(url, "ops", "ops-secret", max_size=None) as client:
        reply: dict[str, Any] = await client.request({"op": "admin", "command": command, "args": list(args)}, timeout=600)
    return reply


async def open_cycle(url: str, orders: int) -> dict[str, float]:
    started = time.perf_counter()
    opened = await admin(url, "open")
    assert opened.get("ok"), opened
    phases: dict[str, float] = {}
    if opened["result"]["opened"]:
        assert opened["result"]["released"] == orders, opened
        phases["open"] = time.perf_counter() - started
    while True:
        actors = (await admin(url, "status"))["result"]["actors"]
        instruments = [a for a in actors if "open" in a]
        if "open" not in phases and sum(a["open"]["queued"] for a in instruments) == 0:
            phases["open"] = time.perf_counter() - started
        shards = [a for a in actors if "allocations_booked" in a]
        allocated = sum(a["open"]["allocated"] for a in instruments)
        working = sum(a["open"]["blocks_working"] for a in instruments)
        fills = sum(a["open"]["fills_allocated"] for a in instruments)
        if "allocated" not in phases and allocated == orders and working == 0:
            phases["allocated"] = time.perf_counter() - started
        if "allocated" in phases and sum(a["allocations_booked"] for a in shards) == fills:
            phases["booked"] = time.perf_counter() - started
            return phases
        await asyncio.sleep(0.05)


def raw_lmdb(count: int, folder: Path) -> float:
    """``count`` allocation-sized records appended to LMDB, 1,000 per fsynced commit."""
    env = lmdb.open(str(folder), map_size=8 << 30, sync=True, metasync=True)
    encoder = msgspec.msgpack.Encoder()
    started = time.perf_counter()
    key = 0
    while key < count:
        with env.begin(write=True) as txn:
            for _ in range(min(1000, count - key)):
                key += 1
                record = encoder.encode((f"account-0-{key}", f"V{key:07d}", 1_234_567_000, 150_123_456_789, 185_210_000_000))
                txn.put(key.to_bytes(8, "big"), record, append=True)
    elapsed = time.perf_counter() - started
    env.close()
    return elapsed


class Memory:
    """Peak memory of this benchmark's Ray session — every process descended from this one
    (the GCS, the raylet, every actor and worker; other sessions' Ray processes on the
    machine are not counted; the benchmark's own process is not either) — sampled in the
    background from ``/proc``.

    Each process's resident set is split as the kernel counts it: ``RssAnon`` (the heap:
    what the machine must really provide) and ``RssFile`` + ``RssShmem`` (mapped files —
    LMDB's journal pages — and shared memory: pages the kernel can drop or write back and
    read again). The peaks of the sums are of one sample each (the processes at the same
    moment). Beside them, the machine's used memory (``MemTotal − MemAvailable``, every
    process of every user) at the start and at its peak."""

    def __init__(self, probe: Path | None = None, trim: bool = False) -> None:
        self.peak = self.peak_anon = self.peak_file = 0
        self.by_process: dict[str, tuple[int, int]] = {}  # process name → its peak (anon, file)
        self.at_peak: dict[str, tuple[int, int]] = {}  # each process's (anon, file) in the sample of the whole's anonymous peak
        self.peak_after = "start"  # the last mark before that sample
        self.machine_start = self.machine_peak = used_memory()
        self.task: asyncio.Task[None] | None = None
        self.marks: list[tuple[str, dict[str, tuple[int, int]]]] = []  # (phase, each process's (anon, file) then)
        self.probe = probe  # BROKERD_MEMPROBE's directory: each mark asks the actors for a dump
        self.trim = trim

    def mark(self, phase: str) -> None:
        """Each process's resident memory as ``phase`` ends (and, with a probe, a dump from
        every actor: ``actors/runtime/memprobe.py``)."""
        self.marks.append((phase, self.now()))
        if self.probe is not None:
            number = len(self.marks)
            (self.probe / "request").write_text(f"{number} {phase.replace(' ', '_')}{' trim' if self.trim else ''}\n")
            dumps, deadline = -1, time.monotonic() + 120
            while time.monotonic() < deadline:  # until no new dump for a second (a dump may take a while)
                time.sleep(1)
                found = len(list(self.probe.glob(f"*-{number}.txt")))
                if found == dumps and found:
                    break
                dumps = found

    def table(self, orders: int) -> str:
        """Anonymous memory of each process at each mark and at its peak, in MB, and the
        peak's growth over the first mark per order."""
        names = sorted(self.by_process, key=lambda name: -self.by_process[name][0])
        phases = [phase for phase, _ in self.marks]
        width = max((len(name) for name in names), default=10)
        lines = [f"  {'anon MB':<{width}} " + " ".join(f"{phase[:12]:>12}" for phase in phases) + f" {'peak':>8} {'B/order':>8} {'at all-peak':>11}"]
        for name in names:
            row = [sizes.get(name, (0, 0))[0] / 2**20 for _, sizes in self.marks]
            start = self.marks[0][1].get(name, (0, 0))[0] if self.marks else 0
            peak = self.by_process[name][0]
            then = self.at_peak.get(name, (0, 0))[0] / 2**20
            lines.append(f"  {name:<{width}} " + " ".join(f"{value:>12.0f}" for value in row) + f" {peak / 2**20:>8.0f} {(peak - start) / orders:>8.0f} {then:>11.0f}")
        totals = [sum(a for a, _ in sizes.values()) / 2**20 for _, sizes in self.marks]
        lines.append(f"  {'all':<{width}} " + " ".join(f"{value:>12.0f}" for value in totals) + f" {self.peak_anon / 2**20:>8.0f} {'':>8} {self.peak_anon / 2**20:>11.0f}")
        lines.append(f"  (the whole's peak, 'at all-peak': one sample, taken after the mark '{self.peak_after}')")
        return "\n".join(lines)

    @staticmethod
    def ours() -> set[str]:
        """The pids descended from this process."""
        children: dict[str, list[str]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                parent = stat[stat.rindex(")") + 2 :].split()[1]
                children.setdefault(parent, []).append(entry.name)
        found: set[str] = set()
        todo = list(children.get(str(os.getpid()), []))
        while todo:
            pid = todo.pop()
            found.add(pid)
            todo.extend(children.get(pid, []))
        return found

    @classmethod
    def now(cls) -> dict[str, tuple[int, int]]:
        """Each of our processes: name → (anonymous, file-backed and shared) resident bytes."""
        found: dict[str, tuple[int, int]] = {}
        for pid in cls.ours():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                fields = {}
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    key, _, value = line.partition(":")
                    if key in ("RssAnon", "RssFile", "RssShmem"):
                        fields[key] = int(value.split()[0]) * 1024
            except OSError:
                continue
            if "RssAnon" not in fields:
                continue
            name = cmdline.split(b"\0")[0].decode(errors="replace").split("/")[-1].split(".")[0][:40].removeprefix("ray::") + f"[{pid}]"
            found[name] = (fields["RssAnon"], fields.get("RssFile", 0) + fields.get("RssShmem", 0))
        return found

    async def sample(self) -> None:
        while True:
            sizes = self.now()
            anon = sum(a for a, _ in sizes.values())
            mapped = sum(f for _, f in sizes.values())
            if anon > self.peak_anon:
                self.at_peak, self.peak_after = sizes, self.marks[-1][0] if self.marks else "start"
            self.peak, self.peak_anon, self.peak_file = max(self.peak, anon + mapped), max(self.peak_anon, anon), max(self.peak_file, mapped)
            self.machine_peak = max(self.machine_peak, used_memory())
            for name, (a, f) in sizes.items():
                old_a, old_f = self.by_process.get(name, (0, 0))
                self.by_process[name] = (max(old_a, a), max(old_f, f))
            await asyncio.sleep(0.5)

    def largest(self, count: int = 6) -> str:
        top = sorted(self.by_process.items(), key=lambda item: -sum(item[1]))[:count]
        return ", ".join(f"{name} anon {a / 2**30:.2f} + file {f / 2**30:.2f} GB" for name, (a, f) in top)


def cpu_seconds() -> dict[str, float]:
    """CPU time (user + system) each of our processes has used so far, by process (name and
    pid, as ``Memory.now``): the cycle's CPU by process is the difference of two of these,
    a figure that holds on a busy machine where the wall clock does not."""
    tick = os.sysconf("SC_CLK_TCK")
    found: dict[str, float] = {}
    for pid in Memory.ours():
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        name = cmdline.split(b"\0")[0].decode(errors="replace").split("/")[-1].split(".")[0][:40].removeprefix("ray::") + f"[{pid}]"
        found[name] = (int(fields[11]) + int(fields[12])) / tick  # utime, stime (fields 14 and 15 of stat)
    return found


def cpu_spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds each process used between two ``cpu_seconds``, by process name (pids summed)."""
    spent: dict[str, float] = {}
    for name, seconds in after.items():
        base = name.rsplit("[", 1)[0]
        spent[base] = spent.get(base, 0.0) + seconds - before.get(name, 0.0)
    return spent


def by_process(spent: dict[str, float], at_least: float = 0.05) -> str:
    """CPU seconds by process (``cpu_spent``), the largest first, those under ``at_least`` left out."""
    return ", ".join(f"{name} {value:.2f}" for name, value in sorted(spent.items(), key=lambda item: -item[1]) if value >= at_least)


def used_memory() -> int:
    """The machine's memory in use: ``MemTotal − MemAvailable`` (``/proc/meminfo``)."""
    info = {}
    for line in Path("/proc/meminfo").read_text().splitlines():
        key, _, value = line.partition(":")
        info[key] = int(value.split()[0]) * 1024
    return info["MemTotal"] - info["MemAvailable"]


# How a measurement starts a server: given the setup, an async context that yields the
# server's URL once it takes orders and stops the server at its end.
Serve = Callable[[Setup], AbstractAsyncContextManager[str]]


@asynccontextmanager
async def in_process(setup: Setup) -> AsyncIterator[str]:
    """The server in this process's Ray session (``ray.init`` by ``run``): how this benchmark
    runs it. ``tests/perf/bench_cluster.py`` passes its own, a server on a Ray cluster."""
    from server.app import BrokerServer

    server = BrokerServer(setup, "127.0.0.1", 0)
    url = await server.start()
    try:
        yield url
    finally:
        await server.stop()


IDLE_AFTER_START_S = 5.0  # ``--idle`` measures from this long after the start (the shards' first marks, the demo history)


async def one_server(args: argparse.Namespace, basket: bool, serve: Serve = in_process) -> dict[str, float]:
    """One fresh server: queue the orders (over WebSocket, or from a basket file), open,
    allocate and book; the same-run raw LMDB baseline after it. ``serve`` starts the server
    (``in_process``: in this process's Ray session)."""
    data_dir = tempfile.mkdtemp(prefix="brokerd-bench-open-")
    setup = bench_setup(args, data_dir)
    names: list[str] = []
    if basket:
        imports = shared_paths(setup.config).admin.import_root(data_dir)  # under the shared dir when there is one
        imports.mkdir(parents=True, exist_ok=True)
        names = write_baskets(args, setup.instruments, imports, file_count(args, setup.config.basket.max_rows))
    server = serve(setup)  # entered and left by hand: the memory is sampled until the server has stopped
    url = await server.__aenter__()
    memory = Memory(Path(args.probe) if args.probe else None, args.trim)
    memory.task = asyncio.get_running_loop().create_task(memory.sample())
    memory.mark("started")
    extra: dict[str, float] = {}
    idle_cpu: dict[str, float] = {}
    try:
        if args.idle:  # the server with nothing to do but the venue's quotes, once its start has settled
            await asyncio.sleep(IDLE_AFTER_START_S)
            idle_before = cpu_seconds()
            await asyncio.sleep(args.idle)
            idle_cpu = {name: seconds * 10 / args.idle for name, seconds in cpu_spent(idle_before, cpu_seconds()).items()}
            extra["idle_cpu_s"] = sum(idle_cpu.values())
        queue_cpu_before, own_before = cpu_seconds(), time.process_time()
        started = time.perf_counter()
        if basket:
            queued, summary = await queue_basket(url, args, names, memory)
            extra.update({"files": len(names), "check_s": summary["check_ms"] / 1000, "load_s": summary["load_ms"] / 1000})
        else:
            queued = await queue(url, args, setup.instruments)
        memory.mark("loaded")
        held = await all_queued(url, args.orders, started)
        queue_cpu = cpu_spent(queue_cpu_before, cpu_seconds())
        own_cpu = time.process_time() - own_before  # the clients (and the memory sampler): not the server's
        memory.mark("queued")
        await asyncio.sleep(args.settle)
        memory.mark("settled")
        cpu_before = cpu_seconds()
        phases = await open_cycle(url, args.orders)
        cycle_cpu = cpu_spent(cpu_before, cpu_seconds())
        memory.mark("booked")
        await asyncio.sleep(args.settle)
        memory.mark("after")
        blocks = (await admin(url, "blocks"))["result"]["blocks"]
    finally:
        try:
            await server.__aexit__(None, None, None)  # its clean-shutdown snapshots (the whole book) count too
        finally:
            memory.task.cancel()
    raw_dir = Path(tempfile.mkdtemp(prefix="brokerd-bench-raw-"))
    raw = raw_lmdb(args.orders, raw_dir)
    shutil.rmtree(raw_dir, ignore_errors=True)
    journal_bytes = sum(f.stat().st_size for f in Path(data_dir).rglob("*") if f.is_file() and f.parent.name != "imports")
    ship = ship_root(setup.config)
    shipped_bytes = sum(f.stat().st_size for f in ship.rglob("*") if f.is_file()) if ship is not None else 0
    if ship is not None and not shipped_bytes:  # a run that shipped nothing measured nothing of the shipping
        raise RuntimeError(f"--failover: nothing was shipped to {ship}")
    shutil.rmtree(data_dir, ignore_errors=True)
    print(f"  largest processes (peak resident: anonymous + file-backed): {memory.largest()}", flush=True)
    print(memory.table(args.orders), flush=True)
    if idle_cpu:
        print(f"  CPU seconds per 10 s idle under the venue's quotes (before queueing), by process: {by_process(idle_cpu, 0.01)}", flush=True)
    print(f"  CPU seconds queueing (until every order is held), by process: {by_process(queue_cpu)}", flush=True)
    print(f"  CPU seconds in the cycle (open → booked), by process: {by_process(cycle_cpu)}", flush=True)
    return {
        "queue_s": queued,
        "queue_per_s": args.orders / queued,
        **extra,
        "queued_s": held,
        "queue_cpu_us": sum(queue_cpu.values()) / args.orders * 1e6,
        "bench_cpu_us": own_cpu / args.orders * 1e6,
        **{f"{k}_s": v for k, v in phases.items()},
        "raw_lmdb_s": raw,
        "ratio": phases["booked"] / raw,
        "cycle_cpu_s": sum(cycle_cpu.values()),
        "shards_cpu_s": sum(seconds for name, seconds in cycle_cpu.items() if "Account" in name),
        "blocks": len(blocks),
        "peak_rss_gb": memory.peak / 2**30,
        "peak_anon_gb": memory.peak_anon / 2**30,
        "peak_file_gb": memory.peak_file / 2**30,
        "machine_used_start_gb": memory.machine_start / 2**30,
        "machine_used_peak_gb": memory.machine_peak / 2**30,
        "data_gb": journal_bytes / 2**30,
        **({"shipped_gb": shipped_bytes / 2**30} if ship is not None else {}),
    }


async def run(args: argparse.Namespace) -> None:
    import ray

    from actors.runtime.options import RAY_INIT_DEFAULTS

    if args.probe:  # before Ray starts: its processes inherit the environment
        os.environ["BROKERD_MEMPROBE"] = str(Path(args.probe).resolve())
        os.environ["BROKERD_MEMPROBE_TRACE"] = str(args.trace)
    ray.init(num_cpus=os.cpu_count(), **{**RAY_INIT_DEFAULTS, "log_to_driver": False})
    paths = ["basket"] if args.basket_only else ["websocket", "basket"] if args.basket else ["websocket"]
    results: dict[str, list[dict[str, float]]] = {path: [] for path in paths}
    try:
        for repeat in range(args.repeats):
            for path in paths:
                result = await one_server(args, path == "basket")
                results[path].append(result)
                print(f"repeat {repeat + 1} {path}: " + "  ".join(f"{k}={v:,.2f}" for k, v in result.items()), flush=True)
    finally:
        ray.shutdown()
    print()
    print(
        f"market-open cycle: {args.orders:,} orders, {args.symbols} symbols, {args.accounts:,} accounts, {args.shards} shards, {args.instrument_actors} instrument actors"
        + (", journals shipped ([placement] failover)" if args.failover else "")
    )
    for path in paths:
        how = (f"over WebSocket, load_orders uploads of {args.upload:,} rows" if args.upload else "over WebSocket, new_orders frames of 1,000") if path == "websocket" else "from a basket file"
        print(f" queued {how}:")
        for key in results[path][0]:
            values = [r[key] for r in results[path]]
            print(f"  {key:<14} median {statistics.median(values):>12,.2f}   runs {', '.join(f'{v:,.2f}' for v in values)}")
    if args.basket and not args.basket_only:
        websocket = statistics.median(r["queue_per_s"] for r in results["websocket"])
        basket = statistics.median(r["queue_per_s"] for r in results["basket"])
        print(f" queueing, medians: basket file {basket:,.0f} orders/s, WebSocket {websocket:,.0f} orders/s (same run), ratio {basket / websocket:.2f}")


def duration(text: str) -> float:
    """A duration in seconds, not negative."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must not be negative, not {text}")
    return value


def at_least_one(text: str) -> int:
    """A count of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def upload_rows(text: str) -> int:
    """``--upload``'s N: whole thousands of rows (the orders are made a thousand at a time)."""
    try:
        rows = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of rows: {text!r}") from None
    if rows <= 0 or rows % 1000:
        raise argparse.ArgumentTypeError(f"rows per upload must be a positive multiple of 1,000, not {text}")
    return rows


def options() -> argparse.ArgumentParser:
    """The command line (``tests/perf/bench_cluster.py`` takes its defaults from it)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--instrument-actors", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--quote-size", type=int, default=20_000)
    parser.add_argument("--snapshot-every", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--basket", action="store_true", help="also queue the same orders from a basket file, on a second server")
    parser.add_argument("--basket-only", action="store_true", help="queue from a basket file only (no WebSocket server): the quickest way to a big book")
    parser.add_argument("--upload", type=upload_rows, default=0, metavar="N",
                        help="queue over WebSocket as load_orders uploads of N rows (CSV text; whole thousands), not new_orders frames of 1,000")
    parser.add_argument("--batch", action="store_true",
                        help="the WebSocket clients log in with batch: the server's messages reach them as JSON arrays, many reports a frame")
    parser.add_argument("--chunk-rows", type=int, default=None, help="[basket] chunk_rows (default: the config's)")
    parser.add_argument("--max-rows", type=int, default=None, help="[basket] max_rows (default: the config's); the orders go in as many files as it takes")
    parser.add_argument("--files", type=int, default=None, help="[basket] split the orders into this many files (max_rows raised to fit)")
    parser.add_argument("--files-at-once", type=at_least_one, default=1, help="[basket] this many `orders load` commands at once (each from its own admin session)")
    parser.add_argument("--idle", type=duration, default=0.0, help="seconds to measure the started server idle under the venue's quotes, before queueing (idle_cpu_s: CPU seconds per 10 s, every process)")
    parser.add_argument("--settle", type=float, default=0.0, help="seconds to wait after queueing and after booking before the next memory mark")
    parser.add_argument("--probe", default=None, help="a directory: every actor dumps its memory there at each mark (BROKERD_MEMPROBE)")
    parser.add_argument("--trace", type=int, default=0, help="with --probe: tracemalloc with this many frames in every actor (slow)")
    parser.add_argument("--audit-off", action="store_true", help="[audit] enabled = false: the cycle without the audit log's records")
    parser.add_argument("--alerts-off", action="store_true", help="[portfolio] correlation_alert and volatility_jump_pct off: the cycle without the alerts' reviews")
    parser.add_argument("--failover", action="store_true",
                        help="[placement] shared_dir (in the temp data dir) and failover = true: every journal shipped as it is written")
    parser.add_argument("--trim", action="store_true", help="with --probe: each dump also measures malloc_trim(0)")
    return parser


def main() -> None:
    asyncio.run(run(options().parse_args()))


if __name__ == "__main__":
    main()
