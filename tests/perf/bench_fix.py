"""Orders from WebSocket routed over FIX to the market-maker simulator, beside two bare
quickfix applications exchanging NewOrderSingle → ExecutionReport in the same run.

    python tests/perf/bench_fix.py [--orders 4000] [--rate 200] [--seconds 5] [--repeats 3] [--batch]

brokerd: ``run`` of a server (embedded Ray, fsync journals) whose only venue is MM1 over
FIX; the simulator (``python -m adapters.fix.simulator``) fills every order at once in one
part. Measured: filled orders/s with ``--clients`` connections keeping orders in flight
(new_order → the ``trade`` report), and p50/p99 of new_order → trade at ``--rate``.

``--batch`` also measures, in each repeat, connections whose login asks for ``batch`` (their
reports come as JSON arrays, many a frame: docs/protocol.md, "Batched frames") beside the
plain ones, and prints the ratio batching ÷ plain.

Baseline: a bare quickfix initiator (this process) and a bare quickfix acceptor (another
process) that answers each NewOrderSingle with one filled ExecutionReport: round trips/s
with the same number in flight, and p50/p99 at the same rate. The ratio is the figure.

Each repeat's baseline uses CompIDs of its own. quickfix keeps a process-wide registry of
sessions by SessionID, and a stopped initiator's session stays registered while the
initiator object lives (they are kept: quickfix holds raw pointers into them); a second
initiator with the same SessionID is not registered, so ``Session.sendToTarget`` sent its
orders into the first repeat's dead session and the second repeat waited forever. Every
wait is bounded now, so a lost answer fails the run instead of hanging it.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import quickfix as fix  # noqa: E402

from tests.integration.fixtools import SessionApp, free_port, session_config  # noqa: E402
from tests.perf.load import add_load_options  # noqa: E402

KEEP: list[object] = []  # quickfix keeps raw pointers to factories and settings
ANSWER_TIMEOUT_S = 60  # a round trip that takes longer is lost: fail, never hang


def _settings(directory: Path, role: str, port: int, sender: str, target: str) -> Any:
    where = [f"SocketAcceptPort={port}"] if role == "acceptor" else ["SocketConnectHost=127.0.0.1", f"SocketConnectPort={port}"]
    config = session_config(directory, "s.cfg", sender, target, f"ConnectionType={role}", "ReconnectInterval=1", "StartTime=00:00:00", "EndTime=00:00:00", *where)
    return fix.SessionSettings(str(config))


class _Filler(SessionApp):
    """The bare acceptor: every NewOrderSingle is filled at once in one ExecutionReport."""

    def fromApp(self, message: Any, sessionID: Any) -> None:
        report = fix.Message()
        report.getHeader().setField(fix.MsgType(fix.MsgType_ExecutionReport))
        cl_ord_id = message.getField(11)
        for tag, value in (
            (37, cl_ord_id),
            (17, cl_ord_id),
            (11, cl_ord_id),
            (150, "F"),
            (39, "2"),
            (55, message.getField(55)),
            (54, message.getField(54)),
            (32, message.getField(38)),
            (31, "150.00"),
            (151, "0"),
            (14, message.getField(38)),
            (6, "150.00"),
        ):
            report.setField(tag, value)
        fix.Session.sendToTarget(report, sessionID)


def _run_filler(port: int, directory: str, ready: Any, sender: str, filler: str) -> None:
    settings = _settings(Path(directory), "acceptor", port, filler, sender)
    app = _Filler()
    store, logs = fix.FileStoreFactory(settings), fix.ScreenLogFactory(False, False, False)
    acceptor = fix.SocketAcceptor(app, store, settings, logs)
    acceptor.start()
    ready.set()
    threading.Event().wait()


class _Sender(SessionApp):
    def __init__(self) -> None:
        super().__init__()
        self.sent: dict[str, float] = {}
        self.latencies: list[float] = []
        self.done = threading.Semaphore(0)
        self.session: Any = None

    def onLogon(self, sessionID: Any) -> None:
        self.session = sessionID
        self.logged_on.set()

    def fromApp(self, message: Any, sessionID: Any) -> None:
        self.latencies.append(time.perf_counter() - self.sent.pop(message.getField(11)))
        self.done.release()

    def answered(self) -> None:
        if not self.done.acquire(timeout=ANSWER_TIMEOUT_S):
            raise TimeoutError(f"no ExecutionReport within {ANSWER_TIMEOUT_S} s ({len(self.sent)} orders unanswered)")

    def send(self, cl_ord_id: str) -> None:
        order = fix.Message()
        order.getHeader().setField(fix.MsgType(fix.MsgType_NewOrderSingle))
        for tag, value in ((11, cl_ord_id), (21, "1"), (55, "IBM"), (54, "1"), (38, "1"), (40, "1"), (60, "20261121-00:00:00.000")):
            order.setField(tag, value)
        self.sent[cl_ord_id] = time.perf_counter()
        fix.Session.sendToTarget(order, self.session)


def bare_quickfix(work: Path, orders: int, window: int, rate: int, seconds: float) -> tuple[float, float, float]:
    port = free_port()
    tag = uuid.uuid4().hex[:6].upper()
    sender, filler_id = f"SENDER{tag}", f"FILLER{tag}"  # a SessionID no earlier repeat registered
    spawn = multiprocessing.get_context("spawn")
    ready = spawn.Event()
    filler = spawn.Process(target=_run_filler, args=(port, str(work / "filler"), ready, sender, filler_id), daemon=True)
    filler.start()
    initiator = None
    try:
        if not ready.wait(20):
            raise TimeoutError("the bare acceptor did not start")
        settings = _settings(work / "sender", "initiator", port, sender, filler_id)
        app = _Sender()
        store, logs = fix.FileStoreFactory(settings), fix.ScreenLogFactory(False, False, False)
        initiator = fix.SocketInitiator(app, store, settings, logs)
        KEEP.extend((settings, app, store, logs, initiator))
        initiator.start()
        if not app.logged_on.wait(20):
            raise TimeoutError("the bare initiator did not log on")
        started = time.perf_counter()
        for index in range(orders):
            if index >= window:
                app.answered()
            app.send(f"{tag}-t{index}")
        for _ in range(min(window, orders)):
            app.answered()
        throughput = orders / (time.perf_counter() - started)
        app.latencies.clear()
        count = int(rate * seconds)
        begin = time.perf_counter()
        for index in range(count):
            delay = begin + index / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            app.send(f"{tag}-l{index}")
        for _ in range(count):
            app.answered()
        ordered = sorted(app.latencies)
    finally:
        if initiator is not None:
            initiator.stop()
        filler.terminate()
        filler.join(10)
    return throughput, ordered[len(ordered) // 2] * 1000, ordered[int(len(ordered) * 0.99)] * 1000


class _Trader:
    """One WebSocket connection sending market orders and timing each to its trade report
    (raw websockets and a dict of waiting orders: the load generator must not be the
    bottleneck on two cores)."""

    async def open(self, url: str, batch: bool = False) -> _Trader:
        import os

        import msgspec
        from websockets.asyncio.client import connect

        from server.gateway.auth import signature

        self.decode = msgspec.json.decode
        self.encode = msgspec.json.encode
        self.socket = await connect(url, compression=None, max_size=2**24)
        ts, nonce = int(time.time() * 1000), os.urandom(8).hex()
        login = {"op": "login", "id": 0, "key": "tester", "ts": ts, "nonce": nonce, "sig": signature("tester-secret", ts, nonce)}
        if batch:
            login["batch"] = True
        await self.socket.send(self.encode(login))
        answer = self.decode(await self.socket.recv())
        answer = answer[0] if batch else answer  # a batching login's answer is its first array
        assert answer.get("ok") and answer.get("batch", False) is batch, answer
        self.waiting: dict[str, tuple[float, asyncio.Future[float]]] = {}
        self.reader = asyncio.ensure_future(self._read())
        return self

    async def _read(self) -> None:
        async for frame in self.socket:
            if '"exec_type":"trade"' not in frame:
                continue
            decoded = self.decode(frame)
            for message in decoded if isinstance(decoded, list) else (decoded,):  # a batching login's frame is an array
                if message.get("exec_type") != "trade":
                    continue
                entry = self.waiting.pop(message.get("client_order_id"), None)
                if entry is not None:
                    entry[1].set_result(time.perf_counter() - entry[0])

    async def order(self, account: str, cloid: str) -> float:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting[cloid] = (time.perf_counter(), future)
        await self.socket.send(
            self.encode(
                {
                    "op": "new_order",
                    "account": account,
                    "client_order_id": cloid,
                    "symbol": "IBM",
                    "side": "buy",
                    "type": "market",
                    "qty": "1",
                }
            )
        )
        return await asyncio.wait_for(future, 60)

    async def close(self) -> None:
        self.reader.cancel()
        await self.socket.close()


async def brokerd_over_fix(
    url: str, orders: int, clients: int, window: int, rate: int, seconds: float, tag: str, batch: bool = False
) -> tuple[float, float, float]:
    traders = [await _Trader().open(url, batch) for _ in range(clients)]
    accounts = [f"T{index:02d}" for index in range(1, 41)]
    counter = iter(range(10**9))

    async def one(trader: _Trader) -> float:
        index = next(counter)
        return await trader.order(accounts[index % 40], f"{tag}-{index}")

    per_client = orders // clients
    started = time.perf_counter()

    async def pump(trader: _Trader) -> None:
        credit = asyncio.Semaphore(window)

        async def task() -> None:
            async with credit:
                await one(trader)

        await asyncio.gather(*(task() for _ in range(per_client)))

    await asyncio.gather(*(pump(t) for t in traders))
    throughput = per_client * clients / (time.perf_counter() - started)
    count = int(rate * seconds)
    begin = time.perf_counter()
    tasks = []
    for index in range(count):
        delay = begin + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(traders[index % clients])))
    latencies = sorted(await asyncio.gather(*tasks))
    for trader in traders:
        await trader.close()
    return throughput, latencies[len(latencies) // 2] * 1000, latencies[int(len(latencies) * 0.99)] * 1000


async def run(args: argparse.Namespace) -> None:
    """``measure`` in a work folder of its own, removed afterwards whatever happens."""
    work = Path(tempfile.mkdtemp(prefix="brokerd-bench-fix-"))
    try:
        await measure(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


async def measure(args: argparse.Namespace, work: Path) -> None:
    import msgspec
    import ray

    from actors.runtime.options import RAY_INIT_DEFAULTS
    from model.config import VenueSection
    from server.app import BrokerServer
    from tests.conftest import make_setup
    from tests.integration.test_fix_venue import start_market_maker, stop

    maker, port = start_market_maker(work / "mm", "--fill-parts", "1", "--latency-ms", "0")
    ray.init(**{**RAY_INIT_DEFAULTS, "log_to_driver": False})
    session = (ROOT / "conf" / "fix" / "venue-MM1.cfg").read_text().replace("SocketConnectPort=9880", f"SocketConnectPort={port}")
    (work / "venue-MM1.cfg").write_text(session)
    setup = make_setup(f"bench-fix-{uuid.uuid4().hex[:6]}", data_dir=work / "data", quote_interval_ms=100)
    venue = VenueSection(name="MM1", kind="fix", session_config=str(work / "venue-MM1.cfg"))
    config = msgspec.structs.replace(setup.config, venues=[venue], logging=msgspec.structs.replace(setup.config.logging, level="warning"))
    server = BrokerServer(msgspec.structs.replace(setup, config=config), "127.0.0.1", 0)
    url = await server.start()
    results: dict[str, list[float]] = {}
    try:
        for _ in range(100):
            status = await server.supervisor.admin.remote("status", [])
            if next(a for a in status["actors"] if a["name"] == "venue-MM1").get("session") == "open":
                break
            await asyncio.sleep(0.1)
        await brokerd_over_fix(url, 200, args.clients, args.window, args.rate, 1, "warm")
        for repeat in range(args.repeats):
            b = await brokerd_over_fix(url, args.orders, args.clients, args.window, args.rate, args.seconds, f"r{repeat}")
            if args.batch:
                batching = await brokerd_over_fix(url, args.orders, args.clients, args.window, args.rate, args.seconds, f"r{repeat}b", batch=True)
                for name, value in zip(("batching orders/s", "batching p50 ms", "batching p99 ms"), batching, strict=True):
                    results.setdefault(name, []).append(value)
            q = await asyncio.get_running_loop().run_in_executor(
                None, bare_quickfix, work / f"bare{repeat}", args.orders, args.clients * args.window, args.rate, args.seconds
            )
            for name, value in zip(("brokerd orders/s", "brokerd p50 ms", "brokerd p99 ms"), b, strict=True):
                results.setdefault(name, []).append(value)
            for name, value in zip(("quickfix orders/s", "quickfix p50 ms", "quickfix p99 ms"), q, strict=True):
                results.setdefault(name, []).append(value)
            print(f"  repeat {repeat + 1}: " + ", ".join(f"{k}={v[-1]:,.2f}" for k, v in results.items()), flush=True)
    finally:
        await server.stop()
        ray.shutdown()
        stop(maker)
    m = {name: statistics.median(values) for name, values in results.items()}
    print()
    print(
        f"orders over FIX, filled at once, medians of {args.repeats} (in flight: {args.clients} × {args.window}; latency at {args.rate}/s)"
    )
    print(
        f"  filled orders/s : brokerd (WebSocket → journal → FIX → simulator → FIX → journal → WebSocket) {m['brokerd orders/s']:,.0f}"
        f"   bare quickfix NewOrderSingle → ExecutionReport {m['quickfix orders/s']:,.0f}   ratio {m['brokerd orders/s'] / m['quickfix orders/s']:.3f}"
    )
    print(
        f"  new_order → trade: brokerd p50 {m['brokerd p50 ms']:.2f} ms p99 {m['brokerd p99 ms']:.2f} ms"
        f"   bare quickfix p50 {m['quickfix p50 ms']:.2f} ms p99 {m['quickfix p99 ms']:.2f} ms"
        f"   ratio p50 {m['brokerd p50 ms'] / m['quickfix p50 ms']:.1f}× p99 {m['brokerd p99 ms'] / m['quickfix p99 ms']:.1f}×"
    )
    if args.batch:
        print(
            f"  batching logins: filled orders/s {m['batching orders/s']:,.0f} (÷ plain {m['batching orders/s'] / m['brokerd orders/s']:.2f},"
            f" ÷ bare quickfix {m['batching orders/s'] / m['quickfix orders/s']:.3f}); p50 {m['batching p50 ms']:.2f} ms p99 {m['batching p99 ms']:.2f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_load_options(parser, orders=4000, window=50, rate=200)
    parser.add_argument("--batch", action="store_true", help="also measure connections whose login asks for batch, beside the plain ones in each repeat")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
