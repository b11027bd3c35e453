"""A journaled actor's shell alone: CPU per message and per journal record.

    python tests/perf/bench_shell.py [--batches 3000] [--messages 1,20] [--window 1,8]
                                     [--modes none,buffered,fsync] [--repeats 5] [--core echo]
                                     [--json FILE]

One real ``DurableHost`` (``actors/runtime/host.py``) in this process, with its real link
server, links, group commit, journal-writer thread and LMDB journal under a fresh temporary
directory, and a trivial core (``echo``: each message applied sends one message back, so the
core costs next to nothing) or the real account core (``account``: each message a new limit
order, answered with a ``new`` report and a route to an instrument). A second process drives
it over loopback, as another actor would: a sender that writes ``--batches`` batches of
``--messages`` messages each, at most ``--window`` unacked at a time, and a sink standing
for the destinations, which acks every batch the host sends.

What is measured is this process only (``getrusage``, user and system: the event loop
and the writer thread), from the first batch of the measured run to the last ack and the last
output received, after a warm-up of the same shape; the driver's work is in the other
process. For each combination it prints the median over ``--repeats`` (modes alternated
within each repeat) of the host's CPU µs per message and per journal record, records per
second, and messages and batches per record; then, per mode, the difference from
``none`` (the null journal behind the same shell: the journal's own cost). With
``--window 1`` every record holds one batch: the per-record cost shows; with larger batches
the per-message cost does.

fsync figures depend on the disk under the temporary directory (printed with the results).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import multiprocessing.connection
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

import msgspec

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from actors.runtime.frames import LinkSecret  # noqa: E402
from actors.runtime.host import DurableHost  # noqa: E402
from actors.runtime.link import Channel, Links, LinkServer  # noqa: E402
from actors.runtime.machine import Core  # noqa: E402
from actors.runtime.outputs import GATEWAY, Dispatcher, Outputs  # noqa: E402
from model.config import Config, JournalSection, ServerSection  # noqa: E402
from model.messages import Batch, Message, SetTradingStatus, decode_batch, encode_batch  # noqa: E402

SENDER = "gateway-0~1"
SINK_NAMES = ("gateway-0", "instrument-0", "instrument-1")
HOST = "account-0"
SECRET = b"b" * 32


class EchoCore(Dispatcher):
    """Applies a message by sending it back to ``gateway-0``: the least a core can do."""

    snapshot_type: ClassVar[Any] = None

    def __init__(self) -> None:
        self.name = "echo"
        self.out = Outputs()
        self.applied = 0

    def on_status(self, message: SetTradingStatus, now: int) -> None:
        self.applied += 1
        self.out.to(GATEWAY, "gateway-0", message)

    _handlers: ClassVar[dict[type, Any]] = {SetTradingStatus: on_status}

    def state_hash(self) -> str:
        return str(self.applied)

    def check_invariants(self) -> None:
        pass

    def snapshot(self) -> Any:
        raise NotImplementedError

    @classmethod
    def restore(cls, state: Any) -> Any:
        raise NotImplementedError


def base_config(mode: str, data_dir: str) -> Config:
    from tests.conftest import demo_setup

    config = demo_setup().config
    journal = JournalSection(durability=mode, snapshot_every_events=0, snapshot_every_s=0)
    return msgspec.structs.replace(config, journal=journal, server=ServerSection(data_dir=data_dir))


class BenchHost(DurableHost):
    core_kind = "echo"

    def make_core(self) -> Core:
        if self.core_kind == "echo":
            return EchoCore()
        from actors.account.core import AccountState
        from actors.account.risk import RiskLimits
        from tests.conftest import demo_setup

        return AccountState(self.name, demo_setup().instruments, RiskLimits.from_config(self.config.risk))  # type: ignore[return-value]


def messages_for(core: str, first: int, count: int) -> list[Message]:
    if core == "echo":
        return [SetTradingStatus(f"S{first + k}", False) for k in range(count)]
    from model import fixed
    from model.enums import OrderType, Side, TimeInForce
    from model.messages import NewOrder, Reply
    from model.orders import OrderSpec

    spec = OrderSpec("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, fixed.parse("1"), None, fixed.parse("140"), None)
    return [NewOrder("A1", f"c{first + k}", spec, Reply("gateway-0", 1, b"")) for k in range(count)]


# --- the driver: another process -------------------------------------------------------------


def drive(conn: multiprocessing.connection.Connection, host_address: tuple[str, int], core: str, batches: int, messages: int, window: int) -> None:
    import uvloop

    uvloop.run(_drive(conn, host_address, core, batches, messages, window))


async def _drive(conn: multiprocessing.connection.Connection, host_address: tuple[str, int], core: str, batches: int, messages: int, window: int) -> None:
    loop = asyncio.get_running_loop()
    secret = LinkSecret(SECRET)
    received = 0
    progress = asyncio.Event()

    def on_batch(body: bytes, channel: Channel) -> None:
        nonlocal received
        batch = decode_batch(body)
        received += len(batch.messages)
        channel.ack(batch.seq)
        progress.set()

    sinks = [LinkServer(name, on_batch, secret, lambda name: True, 5.0) for name in SINK_NAMES]
    addresses = {name: await sink.start("127.0.0.1") for name, sink in zip(SINK_NAMES, sinks, strict=True)}
    outputs_per_message = 2 if core == "account" else 1  # a `new` report and a route
    warmup = max(window * 4, batches // 10)
    seq = 0
    if core == "account":
        from model import fixed
        from model.messages import OpenAccount

        seq = 1
        opening = [encode_batch(Batch(SENDER, 1, time.time_ns(), [OpenAccount("A1", "trader1", fixed.parse("1000000000"))]))]
    else:
        opening = []
    data = opening + [
        encode_batch(Batch(SENDER, seq + 1 + k, 0, messages_for(core, k * messages, messages))) for k in range(warmup + batches)
    ]
    acked = 0
    sent = 0
    links: Links

    def on_ack(name: str, seq: int) -> None:
        nonlocal acked
        acked = max(acked, seq)
        pump()
        progress.set()

    limit = 0

    def pump() -> None:
        nonlocal sent
        while sent < limit and sent - acked < window:
            links.send(HOST, data[sent])
            sent += 1

    def on_connect(name: str) -> None:
        for pending in data[acked:sent]:
            links.send(name, pending)

    links = Links(SENDER, {HOST: host_address}, secret, 5.0, on_ack, on_connect)
    conn.send(addresses)
    links.connect(HOST)
    while not links.connected(HOST):
        await asyncio.sleep(0.01)

    async def run_until(count: int, expected_outputs: int) -> None:
        nonlocal limit
        limit = count
        pump()
        while acked < count or received < expected_outputs:
            progress.clear()
            await progress.wait()

    await run_until(len(opening) + warmup, warmup * messages * outputs_per_message)
    conn.send("warm")
    ready = asyncio.Event()
    loop.add_reader(conn.fileno(), ready.set)
    await ready.wait()
    loop.remove_reader(conn.fileno())
    conn.recv()
    await run_until(len(data), (warmup + batches) * messages * outputs_per_message)
    conn.send("done")
    links.close()
    for sink in sinks:
        sink.close()


# --- the host: this process ------------------------------------------------------------------


class Counting(BenchHost):
    records_applied = 0

    def _finish(self, pending: Any, now: int) -> None:
        self.records_applied += 1
        super()._finish(pending, now)


def measure(mode: str, core: str, batches: int, messages: int, window: int, root: Path) -> dict[str, float]:
    import uvloop

    return uvloop.run(_measure(mode, core, batches, messages, window, root))


async def _measure(mode: str, core: str, batches: int, messages: int, window: int, root: Path) -> dict[str, float]:
    data_dir = tempfile.mkdtemp(dir=root)
    Counting.core_kind = core
    host = Counting(HOST, base_config(mode, data_dir))
    host.recover(data_dir)
    address = await host.open_link(LinkSecret(SECRET))
    ours, theirs = multiprocessing.get_context("fork").Pipe()
    driver = multiprocessing.get_context("fork").Process(target=drive, args=(theirs, address, core, batches, messages, window))
    driver.start()
    loop = asyncio.get_running_loop()

    async def receive() -> Any:
        ready = asyncio.Event()
        loop.add_reader(ours.fileno(), ready.set)
        try:
            while not ours.poll():
                ready.clear()
                await ready.wait()
        finally:
            loop.remove_reader(ours.fileno())
        return ours.recv()

    addresses = await receive()
    await host.wire({}, addresses)
    assert await receive() == "warm"
    records = host.records_applied
    times, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    ours.send("go")
    assert await receive() == "done"
    after, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - wall
    user, system = after.ru_utime - times.ru_utime, after.ru_stime - times.ru_stime
    cpu = user + system
    records = host.records_applied - records
    driver.join()
    await host.settle()
    if host.links is not None:
        host.links.close()
    if host.link_server is not None:
        host.link_server.close()
    host.journal.close()
    shutil.rmtree(data_dir, ignore_errors=True)
    count = batches * messages
    return {
        "us_per_message": cpu / count * 1e6,
        "us_per_record": cpu / records * 1e6,
        "user_us_per_record": user / records * 1e6,
        "system_us_per_record": system / records * 1e6,
        "records_per_s": records / wall,
        "messages_per_record": count / records,
        "batches_per_record": batches / records,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=3000)
    parser.add_argument("--messages", default="1,20", help="messages per batch (comma-separated)")
    parser.add_argument("--window", default="1,8", help="unacked batches the sender allows (comma-separated)")
    parser.add_argument("--modes", default="none,buffered,fsync")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--core", choices=("echo", "account"), default="echo")
    parser.add_argument("--dir", default=None, help="where the journals go (default: the system's temporary directory)")
    parser.add_argument("--json", default=None, help="also write the raw runs here")
    args = parser.parse_args()
    root = Path(args.dir or tempfile.gettempdir()) / f"bench-shell-{os.getpid()}"
    root.mkdir(parents=True)
    modes = args.modes.split(",")
    shapes = [(int(m), int(w)) for m in args.messages.split(",") for w in args.window.split(",")]
    fs = subprocess.run(["df", "-T", str(root)], capture_output=True, text=True).stdout.splitlines()[-1].split()[1]
    print(f"shell CPU of one DurableHost ({args.core} core), {args.batches} batches per run, median of {args.repeats}; journals on {fs}")
    runs: dict[str, list[dict[str, float]]] = {}
    try:
        for repeat in range(args.repeats):
            for messages, window in shapes:
                order = modes if repeat % 2 == 0 else modes[::-1]
                for mode in order:
                    result = measure(mode, args.core, args.batches, messages, window, root)
                    runs.setdefault(f"{mode} m={messages} w={window}", []).append(result)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    medians = {key: {field: statistics.median(run[field] for run in values) for field in values[0]} for key, values in runs.items()}
    for messages, window in shapes:
        print(f"batches of {messages} message(s), window {window}:")
        base = medians.get(f"none m={messages} w={window}")
        for mode in modes:
            m = medians[f"{mode} m={messages} w={window}"]
            extra = ""
            if base is not None and mode != "none":
                extra = f"  (journal: +{m['us_per_message'] - base['us_per_message']:.1f} µs/msg, +{m['us_per_record'] - base['us_per_record']:.1f} µs/record)"
            print(
                f"  {mode:9s} {m['us_per_message']:7.1f} µs/msg {m['us_per_record']:7.1f} µs/record "
                f"(user {m['user_us_per_record']:6.1f}, system {m['system_us_per_record']:6.1f}) {m['records_per_s']:8.0f} records/s  {m['messages_per_record']:6.1f} msg/record {m['batches_per_record']:5.2f} batches/record{extra}"
            )
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": runs, "medians": medians}, indent=1))


if __name__ == "__main__":
    main()
