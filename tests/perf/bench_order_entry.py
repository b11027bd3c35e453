"""Order entry over loopback WebSocket, beside a raw websockets echo server in the same run.

    python tests/perf/bench_order_entry.py [--orders 20000] [--clients 4] [--repeats 3]

Measures, each ``--repeats`` times (medians reported):

1. acked orders/s with one order per frame (``new_order``), ``--clients`` connections,
   each keeping ``--window`` orders in flight;
2. acked orders/s with ``new_orders`` frames of 100;
3. ack latency p50/p99 at a fixed offered rate (``--rate``, default 2,000 orders/s);
4. fairness: another user's ``get_account`` latency (one request every ``--poll-ms``)
   while one connection floods ``--flood-orders`` orders (``new_orders`` frames of
   ``--flood-frame``, all sent as fast as the server reads them), beside the same user's
   latency without the flood in the same run (``--flood-orders 0`` skips it);

and the same client code against a bare websockets echo server (uvloop, separate process):
round trips/s for frames of the same size, and echo latency at the same offered rate.
The ratios brokerd ÷ echo are the figures that hold on a noisy machine.

``--batch`` also measures 1 and 2 with clients whose login asks for ``batch`` (the
server's messages as JSON arrays, docs/protocol.md "Batched frames"), in each repeat beside
the plain clients, and prints the ratio batching ÷ plain.

``--in-flight N`` sets ``[gateway] max_in_flight_per_connection`` on both servers (a huge N
measures without the fairness window).

``--api-key`` logs the order-entry clients in with an API key of scopes ``read,trade``
(made before the start, sealed under a master key in the data dir) instead of the users-file
login: every request is then checked against the key's scopes (``permissions.effective``).

``--portfolio-checks on|off`` sets ``[portfolio] checks`` of the server measured; ``on`` also
gives every account all four portfolio limits (wide enough that every order passes them, so
the check does its whole work: the projected portfolio, gross, concentration, drawdown and
the VaR). ``--portfolio-checks compare`` measures only the order-entry throughputs (1 and 2)
of two servers of the same journal mode in the same cluster, checks on and off, alternating
in each repeat, and prints the ratio on ÷ off. ``--bars compare`` does the same with
``[bars] enabled`` on and off (docs/risk.md#bars-kept-under-the-data-dir).

``--durability`` (default fsync) is the journal mode of the server measured; unless it is
``none``, a second server without journals runs in the same cluster and its throughput is
measured in the same repeats: the ratio journaled ÷ none is the cost of durability.

``--audit-off``: the second server has the same journal mode and ``[audit] enabled = false``
instead: the ratio on ÷ off is the cost of the audit log (docs/audit.md).

``--crossing-off``: the measured server has ``[crossing] enabled = true`` and the second the
same without: the ratio on ÷ off is the cost of the crossing check on orders that do not
cross (docs/liquidity.md).

``--failover``: the measured server ships its journals (``[placement] shared_dir``, a folder
of its temp data dir, and ``failover = true``: each group commit also appended and fsynced
to ``<shared_dir>/ship/<actor>/`` before the ack, ``snapshots/shipping.py``), the second the
same journal mode without ``[placement]``: the ratio on ÷ off is the cost of journal shipping
on one disk (docs/scale.md, "A lost node"). No ``[placement.nodes]``: nothing moves.

Orders are IOC buy limits 5 % below the market: every order is risk-checked, reserved,
acknowledged, routed to the simulated venue, canceled there and released — the whole
path, without building up a book.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import multiprocessing
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import msgspec

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from model import fixed  # noqa: E402
from model.config import AccountSeed, User  # noqa: E402
from server.gateway.auth import signature  # noqa: E402
from tests.conftest import demo_setup  # noqa: E402
from tests.perf.load import add_load_options  # noqa: E402

encode = msgspec.json.encode
decode = msgspec.json.decode
ACCOUNTS = [f"P{index:04d}" for index in range(200)]
WATCHED = "W0001"  # the other user's account in the fairness run


def bench_setup(namespace: str, shards: int | None = None, instrument_actors: int | None = None, durability: str = "fsync", in_flight: int | None = None, api_key: bool = False, portfolio: bool | None = None, audit: bool = True, crossing: bool = False, bars: bool = True, failover: bool = False):  # type: ignore[no-untyped-def]
    setup = demo_setup()
    config = setup.config
    if portfolio is not None:
        from model.config import PortfolioLimitsSection

        wide = PortfolioLimitsSection(max_var="100000000", max_concentration_pct="100", max_gross_exposure="1000000000", max_drawdown_pct="100")
        config = msgspec.structs.replace(config, portfolio=msgspec.structs.replace(config.portfolio, checks=portfolio, limits=wide if portfolio else config.portfolio.limits))
    gateway = msgspec.structs.replace(config.gateway, rate_limit_per_s=10**7, rate_limit_burst=10**7)
    if in_flight:
        gateway = msgspec.structs.replace(gateway, max_in_flight_per_connection=in_flight)
    topology = config.topology
    data_dir = tempfile.mkdtemp(prefix=f"brokerd-bench-{durability}-")
    config = msgspec.structs.replace(
        config,
        server=msgspec.structs.replace(config.server, ws_port=0, data_dir=data_dir),
        journal=msgspec.structs.replace(config.journal, durability=durability),
        topology=msgspec.structs.replace(
            topology,
            namespace=namespace,
            account_shards=shards or topology.account_shards,
            instrument_actors=instrument_actors or topology.instrument_actors,
        ),
        gateway=gateway,
        logging=msgspec.structs.replace(config.logging, level="warning"),
        audit=msgspec.structs.replace(config.audit, enabled=audit),
        crossing=msgspec.structs.replace(config.crossing, enabled=crossing),
        bars=msgspec.structs.replace(config.bars, enabled=bars),
    )
    if failover:  # journals shipped to a "shared" folder of the same disk (one machine: nothing moves)
        config = msgspec.structs.replace(config, placement=msgspec.structs.replace(config.placement, shared_dir=str(Path(data_dir) / "shared"), failover=True))
    user = User(key="bench", secret="bench-secret", role="trader", accounts=ACCOUNTS)
    watcher = User(key="watcher", secret="watcher-secret", role="trader", accounts=[WATCHED])
    accounts = [AccountSeed(account, "bench", 10**9 * fixed.SCALE) for account in [*ACCOUNTS, WATCHED]]
    if api_key:
        config = with_api_key(config, user)
    return msgspec.structs.replace(setup, config=config, users=[*setup.users, user, watcher], accounts=[*setup.accounts, *accounts])


SECRETS: dict[str, str] = {}  # login key → secret: the users file's, and the API key's with --api-key
BENCH_KEY = "bench"  # what the order-entry clients log in as (the API key's id with --api-key)
KEY_SECRETS: Any = None  # the [secrets] section both servers share with --api-key


def with_api_key(config: Any, user: User) -> Any:
    """A master key in the data dir and an API key of ``user`` (scopes read, trade) sealed there."""
    from keystore.apikeys import open_keys
    from keystore.masterkey import write_new_key
    from model.config import SecretsSection

    global BENCH_KEY, KEY_SECRETS
    if KEY_SECRETS is None:  # the first server's data dir holds the key; the baseline server reads the same one
        data_dir = Path(config.server.data_dir)
        write_new_key(data_dir / "master.key")
        KEY_SECRETS = SecretsSection(master_key_file=str(data_dir / "master.key"), vault_file=str(data_dir / "vault.json"), api_keys_file=str(data_dir / "api-keys.json"))
        config = msgspec.structs.replace(config, secrets=KEY_SECRETS)
        key = open_keys(config).create(user, ("read", "trade"), (), int(time.time() * 1000) + 86_400_000, "bench")
        BENCH_KEY, SECRETS[key.key_id] = key.key_id, key.secret
    return msgspec.structs.replace(config, secrets=KEY_SECRETS)


# --- the echo baseline -------------------------------------------------------------------------


def _echo_server(port_queue: Any) -> None:
    import uvloop
    from websockets.asyncio.server import serve

    async def echo(socket: Any) -> None:
        async for frame in socket:
            await socket.send(frame, text=True)

    async def main() -> None:
        async with serve(echo, "127.0.0.1", 0, compression=None, max_size=2**24) as server:
            port_queue.put(server.sockets[0].getsockname()[1])
            await asyncio.Future()

    uvloop.run(main())


# --- load generation -----------------------------------------------------------------------------


def order_fields(account: str, client_order_id: str) -> dict[str, str]:
    return {"account": account, "client_order_id": client_order_id, "symbol": "IBM", "side": "buy",
            "type": "limit", "qty": "1", "price": "142.50", "tif": "ioc"}


class Loader:
    """One connection: sends pre-encoded frames keeping ``window`` replies outstanding and
    counts the replies that carry an id (acks; an ``error`` is counted and reported)."""

    def __init__(self, url: str, login: bool, key: str | None = None, batch: bool = False) -> None:
        self.url = url
        self.login = login
        self.key = key or BENCH_KEY
        self.batch = batch  # the login asks for JSON arrays of messages (``pump`` counts the replies in them)
        self.errors = 0
        self.first_error = ""

    async def __aenter__(self) -> Loader:
        from websockets.asyncio.client import connect

        # The loader stops reading once it has its acks; a short close timeout keeps the
        # close handshake from waiting behind the unread execution reports that follow.
        self.socket = await connect(self.url, compression=None, max_size=2**24, close_timeout=0.5)
        if self.login:
            ts = int(time.time() * 1000)
            nonce = os.urandom(8).hex()
            login = {"op": "login", "id": 0, "key": self.key, "ts": ts, "nonce": nonce, "sig": signature(SECRETS.get(self.key, f"{self.key}-secret"), ts, nonce)}
            if self.batch:
                login["batch"] = True
            await self.socket.send(encode(login))
            reply = decode(await self.socket.recv())
            reply = reply[0] if self.batch else reply
            assert reply.get("ok"), reply
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.socket.close()

    async def pump(self, frames: list[bytes], replies_per_frame: int, window: int) -> None:
        expected = len(frames) * replies_per_frame
        credit = asyncio.Semaphore(max(1, window // replies_per_frame))

        async def send() -> None:
            for frame in frames:
                await credit.acquire()
                await self.socket.send(frame, text=True)

        sender = asyncio.create_task(send())
        received = 0
        while received < expected:
            message = await self.socket.recv(decode=False)
            if self.batch:  # an array: a reply is an element that starts with its id
                answered = message.count(b'{"id":')
                self.errors += len(_ERROR_REPLY.findall(message))
                frames_done = (received + answered) // replies_per_frame - received // replies_per_frame
                received += answered
                for _ in range(frames_done):
                    credit.release()
                continue
            if self.login:
                if b'"id":' not in message[:12]:
                    continue
                if b'"type":"error"' in message:
                    self.errors += 1
            received += 1
            if received % replies_per_frame == 0:
                credit.release()
        await sender

    async def stream(self, frames: Iterable[bytes], window: int, stop: asyncio.Event, acked: list[float], patience_s: float) -> None:
        """Send ``frames`` keeping ``window`` replies outstanding until ``stop`` is set, then
        read the replies to what was sent. Appends the time (``perf_counter``) of each reply
        to ``acked``; an ``error`` reply is counted in ``errors`` instead (the first kept in
        ``first_error``). For a load that runs through an event (``bench_cluster.py
        --lose-node``), where a fixed count would end before or after it.

        Guarantees: returns only once every frame sent is answered; raises if, after
        ``stop``, no reply comes for ``patience_s`` while some are still missing."""
        credit = asyncio.Semaphore(window)
        sent = received = 0

        async def send() -> None:
            nonlocal sent
            for frame in frames:
                await credit.acquire()
                if stop.is_set():
                    return
                await self.socket.send(frame, text=True)
                sent += 1

        sender = asyncio.create_task(send())
        quiet_since = None
        while not sender.done() or received < sent:
            try:  # recv is safe to cancel: a timeout loses no message
                message = await asyncio.wait_for(self.socket.recv(decode=False), 0.2)
            except TimeoutError:
                if stop.is_set():
                    credit.release()  # a sender waiting for the replies still owed sees the stop
                    quiet_since = quiet_since or time.perf_counter()
                    if time.perf_counter() - quiet_since > patience_s:
                        sender.cancel()
                        raise RuntimeError(f"{sent - received} replies missing {patience_s:g} s after the load stopped") from None
                continue
            quiet_since = None
            if b'"id":' not in message[:12]:  # an execution report, not a reply
                continue
            received += 1
            credit.release()
            if b'"type":"error"' in message:
                self.errors += 1
                self.first_error = self.first_error or message.decode(errors="replace")[:300]
            else:
                acked.append(time.perf_counter())
        await sender

    async def paced(self, frames: list[bytes], interval: float, start: float) -> list[float]:
        """Send frame i at start + i × interval; the latency of each acked frame, seconds."""
        sent_at: dict[bytes, float] = {}
        latencies: list[float] = []

        async def send() -> None:
            for index, frame in enumerate(frames):
                delay = start + index * interval - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                sent_at[_id_key(frame)] = time.perf_counter()
                await self.socket.send(frame, text=True)

        sender = asyncio.create_task(send())
        while len(latencies) < len(frames):
            message = await self.socket.recv(decode=False)
            if self.login and b'"id":' not in message[:12]:
                continue
            latencies.append(time.perf_counter() - sent_at[_id_key(message)])
        await sender
        return latencies


_ERROR_REPLY = re.compile(rb'\{"id":[^,]*,"type":"error"')  # an error reply within a batching login's array


def _id_key(message: bytes) -> bytes:
    """Request frames, brokerd's replies and echoes all start ``{"id":N,``."""
    return message[: message.index(b",")]


def endless_frames(tag: str, first_id: int) -> Iterator[bytes]:
    """One-order frames as ``frames`` makes them, without end (made as they are sent)."""
    for request_id in itertools.count(first_id):
        yield frames(1, 1, tag, request_id)[0]


def frames(count: int, per_frame: int, tag: str, first_id: int) -> list[bytes]:
    out = []
    for index in range(count):
        request_id = first_id + index
        ids = [f"{tag}-{request_id}-{k}" for k in range(per_frame)]
        orders = [order_fields(ACCOUNTS[(request_id * per_frame + k) % len(ACCOUNTS)], i) for k, i in enumerate(ids)]
        if per_frame == 1:
            body = encode({"op": "new_order", **orders[0]})
        else:
            body = encode({"op": "new_orders", "orders": orders})
        frame = b'{"id":' + str(request_id).encode() + b"," + body[1:]
        out.append(frame)
    return out


async def throughput(url: str, login: bool, clients: int, total_orders: int, per_frame: int, window: int, tag: str, batch: bool = False) -> float:
    per_client = total_orders // clients // per_frame
    loaders = [Loader(url, login, batch=batch) for _ in range(clients)]
    for loader in loaders:
        await loader.__aenter__()
    work = [frames(per_client, per_frame, f"{tag}{c}", 1 + c * 10**7) for c in range(clients)]
    replies = per_frame if login else 1
    started = time.perf_counter()
    await asyncio.gather(*(loader.pump(w, replies, window) for loader, w in zip(loaders, work, strict=True)))
    elapsed = time.perf_counter() - started
    errors = sum(loader.errors for loader in loaders)
    await asyncio.gather(*(loader.__aexit__() for loader in loaders))
    if errors:
        raise RuntimeError(f"{errors} orders were refused")
    return per_client * clients * per_frame / elapsed


async def latency(url: str, login: bool, rate: int, seconds: float, tag: str) -> tuple[float, float]:
    count = int(rate * seconds)
    async with Loader(url, login) as loader:
        work = frames(count, 1, tag, 1)
        start = asyncio.get_running_loop().time() + 0.05
        latencies = await loader.paced(work, 1 / rate, start)
    latencies.sort()
    return latencies[len(latencies) // 2] * 1000, latencies[int(len(latencies) * 0.99)] * 1000


async def poll_account(url: str, interval: float, stop: asyncio.Event) -> list[float]:
    """The other user: one ``get_account`` every ``interval`` s until ``stop``, each sent on
    time whether or not the last was answered (so a stall counts once per request it
    delays); the latency of each, seconds."""
    sent_at: dict[bytes, float] = {}
    latencies: list[float] = []
    async with Loader(url, True, "watcher") as loader:

        async def send() -> None:
            next_at = time.perf_counter()
            request_id = 0
            while not stop.is_set():
                request_id += 1
                key = b'{"id":' + str(request_id).encode()
                sent_at[key] = time.perf_counter()
                await loader.socket.send(key + b',"op":"get_account","account":"' + WATCHED.encode() + b'"}', text=True)
                next_at += interval
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))

        sender = asyncio.create_task(send())
        while not sender.done() or len(latencies) < len(sent_at):
            try:  # recv is safe to cancel: a timeout loses no message
                message = await asyncio.wait_for(loader.socket.recv(decode=False), interval * 10)
            except TimeoutError:
                continue
            latencies.append(time.perf_counter() - sent_at[_id_key(message)])
        await sender
    return latencies


async def fairness(url: str, args: argparse.Namespace, tag: str) -> tuple[list[float], list[float], float]:
    """The other user's latencies alone, then while one connection floods; and the flood's seconds."""
    stop = asyncio.Event()
    alone = asyncio.create_task(poll_account(url, args.poll_ms / 1000, stop))
    await asyncio.sleep(args.alone_seconds)
    stop.set()
    baseline = await alone
    work = frames(args.flood_orders // args.flood_frame, args.flood_frame, tag, 1)
    stop = asyncio.Event()
    async with Loader(url, True) as flooder:
        watcher = asyncio.create_task(poll_account(url, args.poll_ms / 1000, stop))
        await asyncio.sleep(0.2)  # the watcher is connected and polling
        started = time.perf_counter()
        await flooder.pump(work, args.flood_frame, args.flood_orders)  # every frame at once, as fast as it is read
        seconds = time.perf_counter() - started
        stop.set()
        during = await watcher
    if flooder.errors:
        raise RuntimeError(f"{flooder.errors} flood orders were refused")
    return baseline, during, seconds


def percentiles(latencies: list[float]) -> tuple[float, float, float]:
    """p50, p99 and max, in ms."""
    ordered = sorted(latencies)
    return ordered[len(ordered) // 2] * 1000, ordered[int(len(ordered) * 0.99)] * 1000, ordered[-1] * 1000


# --- the run -------------------------------------------------------------------------------------


def shipped_files(config: Any) -> dict[str, int]:
    """Bytes shipped per actor under ``<shared_dir>/ship`` (empty without ``[placement] failover``)."""
    from actors.runtime.placement import ship_root

    root = ship_root(config)
    if root is None or not root.is_dir():
        return {}
    return {actor.name: sum(f.stat().st_size for f in actor.iterdir() if f.is_file()) for actor in root.iterdir() if actor.is_dir()}


def baseline_of(args: argparse.Namespace, checks: bool | None) -> tuple[str, str, Any]:
    """The second server of the run and the one thing it leaves out: its name in the
    results, what the ratio measures, its setup (None: no second server)."""
    common = (args.shards, args.instrument_actors, args.durability, args.in_flight, args.api_key, checks)
    pid = os.getpid()
    if args.audit_off:  # the same server without the audit log, for the audit ratio
        return "audit-off", f"audit on vs off (journal {args.durability})", bench_setup(f"bench-noaudit-{pid}", *common, audit=False)
    if args.crossing_off:  # the same server without crossing, for the crossing check's cost
        return "crossing-off", "crossing on vs off", bench_setup(f"bench-nocross-{pid}", *common)
    if args.failover:  # the same server without journal shipping, for the shipping's cost
        return "failover-off", f"journal shipping on vs off (journal {args.durability})", bench_setup(f"bench-noship-{pid}", *common)
    what = f"journal {args.durability} vs none"
    if args.durability == "none":
        return "no-journal", what, None
    # the same server without a journal, for the durability ratio
    return "no-journal", what, bench_setup(f"bench-none-{pid}", args.shards, args.instrument_actors, "none", args.in_flight, args.api_key, checks)


def median(values: list[float]) -> float:
    return statistics.median(values)


async def compare_checks(args: argparse.Namespace, what: str = "portfolio checks") -> None:
    """``--portfolio-checks compare`` (``--bars compare``): throughput with the portfolio
    checks on (every account limited) and off (the bars kept and not), two servers in one
    cluster, alternating; medians and the ratio."""
    import ray

    from actors.runtime.options import RAY_INIT_DEFAULTS
    from server.app import BrokerServer

    ray.init(num_cpus=os.cpu_count(), **{**RAY_INIT_DEFAULTS, "log_to_driver": False})
    servers = {}
    for label, on in (("on", True), ("off", False)):
        checks = on if what == "portfolio checks" else None
        setup = bench_setup(f"bench-{label}-{os.getpid()}", args.shards, args.instrument_actors, args.durability, args.in_flight, args.api_key, checks, bars=on or what != "bars")
        server = BrokerServer(setup, "127.0.0.1", 0)
        servers[label] = (server, await server.start(), setup)
    await asyncio.sleep(1)  # first quotes
    results: dict[str, list[float]] = {}
    try:
        for label, (_, url, _) in servers.items():
            await throughput(url, True, args.clients, 2000, 1, args.window, f"warm{label}")
        for repeat in range(args.repeats):
            for label, (_, url, _) in (servers.items() if repeat % 2 == 0 else reversed(servers.items())):
                tag = f"r{repeat}{label}"
                results.setdefault(f"{label} one-order", []).append(await throughput(url, True, args.clients, args.orders, 1, args.window, tag + "a"))
                results.setdefault(f"{label} frames of 100", []).append(await throughput(url, True, args.clients, args.orders * 2, 100, args.window * 4, tag + "b"))
            print(f"  repeat {repeat + 1}: " + ", ".join(f"{k}={v[-1]:,.0f}" for k, v in results.items()), flush=True)
    finally:
        for server, _, setup in servers.values():
            await server.stop()
            shutil.rmtree(setup.config.server.data_dir, ignore_errors=True)
        ray.shutdown()
    m = {name: median(values) for name, values in results.items()}
    detail = " (every account with all four limits)" if what == "portfolio checks" else " (the sim's quotes; IOC orders never trade)"
    print(f"\n{what} on{detail} vs off, journal {args.durability}, {args.clients} clients, {args.orders:,} orders per run, medians of {args.repeats}")
    for name in ("one-order", "frames of 100"):
        print(f"  {name:14}: on {m['on ' + name]:>9,.0f} acked/s   off {m['off ' + name]:>9,.0f} acked/s   ratio {m['on ' + name] / m['off ' + name]:.3f}")


async def run(args: argparse.Namespace) -> None:
    if args.portfolio_checks == "compare":
        await compare_checks(args)
        return
    if args.bars == "compare":
        await compare_checks(args, "bars")
        return
    import ray

    from actors.runtime.options import RAY_INIT_DEFAULTS
    from server.app import BrokerServer

    queue: Any = multiprocessing.get_context("spawn").Queue()
    echo = multiprocessing.get_context("spawn").Process(target=_echo_server, args=(queue,), daemon=True)
    echo.start()
    echo_url = f"ws://127.0.0.1:{queue.get(timeout=30)}"

    ray.init(num_cpus=os.cpu_count(), **{**RAY_INIT_DEFAULTS, "log_to_driver": False})
    checks = None if args.portfolio_checks is None else args.portfolio_checks == "on"
    setup = bench_setup(f"bench-{os.getpid()}", args.shards, args.instrument_actors, args.durability, args.in_flight, args.api_key, checks, crossing=args.crossing_off, failover=args.failover)
    server = BrokerServer(setup, "127.0.0.1", 0)
    url = await server.start()
    baseline: BrokerServer | None = None
    base, what, base_setup = baseline_of(args, checks)
    if base_setup is not None:
        baseline = BrokerServer(base_setup, "127.0.0.1", 0)
        base_url = await baseline.start()
    await asyncio.sleep(1)  # first quotes
    results: dict[str, list[float]] = {}

    def record(name: str, value: float) -> None:
        results.setdefault(name, []).append(value)

    try:
        await throughput(url, True, args.clients, 2000, 1, args.window, "warm")
        if baseline is not None:
            await throughput(base_url, True, args.clients, 2000, 1, args.window, "warm")
        for repeat in range(args.repeats):
            tag = f"r{repeat}"
            record("brokerd one-order frames/s", await throughput(url, True, args.clients, args.orders, 1, args.window, tag + "a"))
            record("echo one-order frames/s", await throughput(echo_url, False, args.clients, args.orders, 1, args.window, tag))
            record("brokerd orders/s in frames of 100", await throughput(url, True, args.clients, args.orders * 2, 100, args.window * 4, tag + "b"))
            record("echo frames of 100 orders, orders/s", await throughput(echo_url, False, args.clients, args.orders * 2, 100, args.window * 4, tag))
            if args.batch:
                record("batching one-order frames/s", await throughput(url, True, args.clients, args.orders, 1, args.window, tag + "ba", batch=True))
                record("batching orders/s in frames of 100", await throughput(url, True, args.clients, args.orders * 2, 100, args.window * 4, tag + "bb", batch=True))
            if baseline is not None:
                record(f"{base} one-order frames/s", await throughput(base_url, True, args.clients, args.orders, 1, args.window, tag + "na"))
                record(f"{base} orders/s in frames of 100", await throughput(base_url, True, args.clients, args.orders * 2, 100, args.window * 4, tag + "nb"))
            p50, p99 = await latency(url, True, args.rate, args.latency_seconds, tag + "l")
            record("brokerd ack p50 ms", p50)
            record("brokerd ack p99 ms", p99)
            e50, e99 = await latency(echo_url, False, args.rate, args.latency_seconds, tag)
            record("echo p50 ms", e50)
            record("echo p99 ms", e99)
            if args.flood_orders:
                alone, during, seconds = await fairness(url, args, tag + "f")
                for name, values in (("alone", alone), ("flood", during)):
                    for label, value in zip(("p50", "p99", "max"), percentiles(values), strict=True):
                        record(f"get_account {name} {label} ms", value)
                record("flood orders/s", args.flood_orders / seconds)
            print(f"  repeat {repeat + 1}: " + ", ".join(f"{k}={v[-1]:,.1f}" for k, v in results.items()), flush=True)
    finally:
        await server.stop()
        shipped = shipped_files(setup.config)
        if baseline is not None:
            await baseline.stop()
            shutil.rmtree(baseline.setup.config.server.data_dir, ignore_errors=True)
        ray.shutdown()
        echo.terminate()
        shutil.rmtree(setup.config.server.data_dir, ignore_errors=True)

    if args.failover:  # a run whose journals were not shipped measured nothing of the shipping
        if not shipped:
            raise RuntimeError("--failover: nothing was shipped to the shared dir")
        print(f"  shipped: {sum(shipped.values()) / 2**20:,.1f} MB under <shared_dir>/ship, {len(shipped)} actors ({', '.join(sorted(shipped))})")
    m = {name: median(values) for name, values in results.items()}
    print()
    topology = setup.config.topology
    print(f"order entry, {args.clients} clients{' logged in by API key (scopes read, trade)' if args.api_key else ''}, {args.orders:,} orders per run, {topology.account_shards} account shards, "
          f"{topology.instrument_actors} instrument actors, {setup.config.gateway.max_in_flight_per_connection} requests in flight per connection, "
          f"medians of {args.repeats} runs (2-core figures in docs/design.md)")
    print(f"  one-order frames : brokerd {m['brokerd one-order frames/s']:>10,.0f} acked/s   echo {m['echo one-order frames/s']:>10,.0f} frames/s   ratio {m['brokerd one-order frames/s'] / m['echo one-order frames/s']:.3f}")
    print(f"  frames of 100    : brokerd {m['brokerd orders/s in frames of 100']:>10,.0f} acked/s   echo {m['echo frames of 100 orders, orders/s']:>10,.0f} orders/s   ratio {m['brokerd orders/s in frames of 100'] / m['echo frames of 100 orders, orders/s']:.3f}")
    if args.batch:
        for name in ("one-order frames/s", "orders/s in frames of 100"):
            print(f"  batching logins, {name}: {m['batching ' + name]:>10,.0f} vs {m['brokerd ' + name]:>10,.0f}   ratio {m['batching ' + name] / m['brokerd ' + name]:.2f}")
    if f"{base} one-order frames/s" in m:
        for name in ("one-order frames/s", "orders/s in frames of 100"):
            print(f"  {what}, {name}: {m['brokerd ' + name]:>10,.0f} vs {m[base + ' ' + name]:>10,.0f}   ratio {m['brokerd ' + name] / m[base + ' ' + name]:.2f}")
    print(f"  ack latency at {args.rate:,}/s offered: brokerd p50 {m['brokerd ack p50 ms']:.2f} ms p99 {m['brokerd ack p99 ms']:.2f} ms   echo p50 {m['echo p50 ms']:.2f} ms p99 {m['echo p99 ms']:.2f} ms")
    if args.flood_orders:
        alone = [m[f"get_account alone {label} ms"] for label in ("p50", "p99", "max")]
        flood = [m[f"get_account flood {label} ms"] for label in ("p50", "p99", "max")]
        print(f"  fairness: another user's get_account every {args.poll_ms} ms, alone p50 {alone[0]:.2f} p99 {alone[1]:.2f} max {alone[2]:.2f} ms; "
              f"while one connection sends {args.flood_orders:,} orders in frames of {args.flood_frame} ({m['flood orders/s']:,.0f} acked/s): "
              f"p50 {flood[0]:.2f} p99 {flood[1]:.2f} max {flood[2]:.2f} ms; ratio p99 {flood[1] / alone[1]:.1f}, max {flood[2] / alone[2]:.1f}")


def options() -> argparse.ArgumentParser:
    """The command line (``tests/perf/bench_cluster.py`` takes its defaults from it)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_load_options(parser, orders=20_000, window=500, rate=2_000, seconds_option="--latency-seconds")
    parser.add_argument("--flood-orders", type=int, default=20_000, help="orders one connection floods in the fairness run (0: skip it)")
    parser.add_argument("--flood-frame", type=int, default=1000, help="orders per new_orders frame of the flood")
    parser.add_argument("--poll-ms", type=float, default=5, help="the other user's get_account interval")
    parser.add_argument("--alone-seconds", type=float, default=2, help="how long the other user is measured without the flood")
    parser.add_argument("--batch", action="store_true",
                        help="also measure 1 and 2 with clients whose login asks for batch (JSON arrays of messages), beside the plain ones in each repeat")
    parser.add_argument("--in-flight", type=int, help="[gateway] max_in_flight_per_connection (default: conf/server.toml)")
    parser.add_argument("--shards", type=int, help="account shards (default: conf/server.toml)")
    parser.add_argument("--instrument-actors", type=int, help="instrument actors (default: conf/server.toml)")
    parser.add_argument("--api-key", action="store_true", help="order-entry clients log in with an API key of scopes read,trade")
    parser.add_argument("--portfolio-checks", choices=("on", "off", "compare"),
                        help="[portfolio] checks of the server (on: every account limited); compare: on vs off, throughput only")
    parser.add_argument("--bars", choices=("compare",), help="compare: [bars] enabled on vs off, throughput only (as --portfolio-checks compare)")
    parser.add_argument("--durability", choices=("fsync", "buffered", "none"), default="fsync",
                        help="the journal mode measured; unless none, a second server without a journal runs beside it as the baseline")
    baseline = parser.add_mutually_exclusive_group()  # what the second server leaves out: one thing at a time
    baseline.add_argument("--audit-off", action="store_true", help="the baseline server has the same journal and no audit log ([audit] enabled = false)")
    baseline.add_argument("--crossing-off", action="store_true", help="the measured server crosses ([crossing] enabled = true), the baseline does not")
    baseline.add_argument("--failover", action="store_true",
                          help="the measured server ships its journals ([placement] shared_dir in its temp dir, failover = true), the baseline does not")
    return parser


def main() -> None:
    args = options().parse_args()
    import uvloop

    uvloop.run(run(args))


if __name__ == "__main__":
    main()
