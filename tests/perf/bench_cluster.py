"""brokerd on a Ray cluster of three nodes beside one node, in the same run (docs/scale.md).

    python tests/perf/bench_cluster.py [--orders-entry 20000] [--open-orders 1000000] [--repeats 3]
        [--skip-entry] [--skip-open] [--open-accounts 100000] [--clients 4] [--rate 2000] [--latency-seconds 5]
        [--lose-node [--lose-orders 4000]]

Two setups, each a Ray cluster of ``tests/integration/ray_nodes.py`` on this machine with
brokerd joined to it as an operator runs it (``run_server.py --address``, a config dir
written from the benchmark's setup):

* **cluster**: three nodes ``c``, ``a``, ``b`` (each 1 CPU and the resource ``brokerd_NAME``),
  placed as ``tests/integration/test_cluster.py`` places them — the supervisor, the gateway
  and the venue on ``c``, ``account-0`` and ``instrument-0`` on ``a``, every other shard and
  InstrumentActor on ``b`` — each node with its own data dir, ``[batching] link_host =
  "node"``;
* **one node**: a cluster of the single node ``c`` (``RayNodes(["c"])``), every actor placed
  on it by one rule (``actors = ["*"]``), the same ``link_host`` and the same way of starting.

Why the baseline is a one-node cluster and not the embedded Ray the other benchmarks start:
the embedded server runs inside the benchmark's process (its driver's CPU and memory go
uncounted) on a Ray started with other settings (object store, CPUs), and without
``[placement]``. With the baseline started the same way, from the same config and on a
node of the same settings, the only difference left is the one measured: three Ray nodes
(three raylets and object stores, the actors' processes under different raylets, batches
between nodes) instead of one.

Measured, medians of ``--repeats``, each repeat running both setups one after the other
and alternating which goes first:

1. **order entry** (``bench_order_entry.py``'s functions, both servers up at once): acked
   orders/s with one order per frame and with ``new_orders`` frames of 100, and the ack
   latency p50/p99 at a fixed offered rate (``--rate``);
2. **the open** (``bench_open.py``'s ``one_server``, a fresh server and cluster for each):
   ``--open-orders`` orders queued from a basket file, then the open cycle: the phases'
   wall times (``booked_s``: open → every allocation booked), the whole cycle's CPU
   seconds over every process of the setup (``cycle_cpu_s``: the raylets, the GCS and the
   driver included; ``shards_cpu_s``: the account shards'), the raw LMDB baseline and the
   peak memory.

It prints each figure of each setup and the ratio cluster ÷ one node. The three "nodes"
share this machine's cores (two on the development machine): the ratio says what the
cluster's extra processes and its cross-node links cost, not what three machines would
give.

``--lose-node`` adds a third phase, on the three-node cluster alone, with ``[placement]
failover`` (a shared dir beside the nodes' data dirs, node ``a``'s actors to ``b``, as
``tests/integration/test_failover.py``) and that test's Ray health checks (``HEALTH_CHECKS``:
a check each second, 5 failures), a fresh cluster each repeat (node ``a`` is gone for good):
``--clients`` traders stream one-order frames (``bench_order_entry``'s ``Loader``); once
``--lose-orders`` are acknowledged node ``a`` is removed (``RayNodes.remove``) and its data
dir deleted; ``admin status`` is polled every 0.2 s until each actor that ran on ``a`` shows
``failed_over``; then ``--lose-orders`` more are acknowledged (``after``), and as many again
(``later``). Figures, medians of ``--repeats``: the removal → that status (``removal → moved
s``), the supervisor's own ``seconds`` (the loss seen → the last actor moved), their
difference (≈ the removal → the loss seen: Ray's node-death detection, which dominates), the
acked orders/s before the removal, after the move and later, and their ratios to before,
the longest time no order was acknowledged, and the orders refused.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import itertools
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Any

import msgspec

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from model import fixed  # noqa: E402
from model.config import PlacementNode, PlacementRule, Setup, load_setup  # noqa: E402
from model.instruments import Instrument  # noqa: E402
from tests.integration.ray_nodes import RayNodes, resource_of  # noqa: E402
from tests.integration.test_cluster import Brokerd  # noqa: E402
from tests.integration.test_failover import HEALTH_CHECKS  # noqa: E402
from tests.perf import bench_open, bench_order_entry  # noqa: E402

CLUSTER = "cluster"
ONE_NODE = "one node"
# (actor patterns, node): the first rule that matches places an actor, as in test_cluster.py
CLUSTER_RULES = ((("supervisor", "gateway", "venue"), "c"), (("account-0", "instrument-0"), "a"), (("account", "instrument-*"), "b"))
ONE_NODE_RULES = ((("*",), "c"),)
LOST_NODE, TAKES_OVER = "a", "b"  # --lose-node: the node removed, and the one its actors move to
MOVED_WITHIN_S = 120  # --lose-node: a run whose lost actors are not moved by then is refused
REPLIES_WITHIN_S = 60  # --lose-node: once the load stops, how long a reply still owed may take
POLL_S = 0.2  # --lose-node: how often admin status is asked whether the lost actors have moved
STOP_PATIENCE_S = 600  # a server's clean stop snapshots its whole book: a million orders take a while
NOTE = ("the {cores} cores of this machine are shared by every node (and by the load generator): "
        "the ratio is what the cluster's extra processes and cross-node links cost, not what three machines would give")


# --- a setup written as a config dir -------------------------------------------------------------


def write_setup(setup: Setup, folder: Path) -> Path:
    """``setup`` as a config dir that ``run_server.py --config`` loads: ``server.toml`` and
    the instrument, user and account files it names. Returns the ``server.toml`` path.

    Guarantees: the dir loads back to ``setup`` exactly (checked here: a field that does not
    survive the trip raises ``ValueError`` naming it), so the server measured runs the
    benchmark's configuration and not an approximation of it."""
    folder.mkdir(parents=True, exist_ok=True)
    files = setup.config.files
    (folder / files.instruments).write_text("".join(toml_text(instrument_table(i), "instruments", array=True) for i in setup.instruments))
    (folder / files.users).write_text("".join(toml_text(msgspec.to_builtins(user), "users", array=True) for user in setup.users))
    (folder / files.accounts).write_text(accounts_csv(setup))
    path = folder / "server.toml"
    path.write_text(toml_text(msgspec.to_builtins(setup.config)))
    loaded = load_setup(path)
    if loaded != setup:
        differ = [field for field in ("instruments", "users", "accounts") if getattr(loaded, field) != getattr(setup, field)]
        differ += [f"config.{field}" for field in setup.config.__struct_fields__ if getattr(loaded.config, field) != getattr(setup.config, field)]
        raise ValueError(f"{folder}: the written config dir does not load back to the benchmark's setup: {', '.join(differ)} differ")
    return path


def toml_text(table: dict[str, Any], name: str = "", array: bool = False) -> str:
    """``table`` (built-in values, as ``msgspec.to_builtins`` gives them) as TOML under the
    header ``name`` (``[[name]]`` with ``array``): its values, then its tables, then its arrays
    of tables. ``None`` is left out: the field keeps its default, which is what None is."""
    values, tables, arrays = [], [], []
    for key, value in table.items():
        if value is None:
            continue
        if isinstance(value, dict):
            tables.append((key, value))
        elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            arrays.append((key, value))
        else:
            values.append(f"{toml_key(key)} = {toml_value(value)}\n")
    header = (f"\n[[{name}]]\n" if array else f"\n[{name}]\n") if name else ""
    text = header + "".join(values)
    for key, value in tables:
        text += toml_text(value, f"{name}.{toml_key(key)}" if name else toml_key(key))
    for key, items in arrays:
        text += "".join(toml_text(item, f"{name}.{toml_key(key)}" if name else toml_key(key), array=True) for item in items)
    return text


def toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    raise TypeError(f"no TOML value for {value!r}")


def instrument_table(instrument: Instrument) -> dict[str, Any]:
    """One ``[[instruments]]`` table (``model/instruments.py``'s ``InstrumentSpec``)."""
    table: dict[str, Any] = {
        "symbol": instrument.symbol,
        "asset_class": instrument.asset_class.value,
        "tick_size": fixed.format(instrument.tick_size),
        "reference_price": fixed.format(instrument.reference_price),
        "multiplier": instrument.multiplier,
        "description": instrument.description,
        "sector": instrument.sector,
    }
    if instrument.qty_increment != fixed.SCALE:  # absent: whole units
        table["fractional_increment"] = fixed.format(instrument.qty_increment)
    return table


def accounts_csv(setup: Setup) -> str:
    """The accounts file (``model/accounts_file.py``): positions as ``SYMBOL:QTY``, with
    ``:COST[:YYYY-MM-DD]`` where the seed has a basis."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("account", "owner", "cash", "allow_short", "positions", "group", "tenant"))
    for seed in setup.accounts:
        basis = {symbol: (cost, day) for symbol, cost, day in seed.basis}
        positions = []
        for symbol, qty in seed.positions:
            text = f"{symbol}:{fixed.format(qty)}"
            if symbol in basis:
                cost, day = basis[symbol]
                text += f":{fixed.format(cost)}" + (f":{date.fromordinal(day).isoformat()}" if day else "")
            positions.append(text)
        writer.writerow((seed.account, seed.owner, fixed.format(seed.cash), str(seed.allow_short).lower(), ";".join(positions), seed.group, seed.tenant))
    return out.getvalue()


# --- the two setups --------------------------------------------------------------------------


class Deployment:
    """One setup: a Ray cluster of ``ray_nodes.py`` (``start``/``stop``) and the servers
    started on it (``serve``: ``bench_open.Serve``). ``env``: more Ray settings for every
    node (``HEALTH_CHECKS``); ``failover``: the servers ship their journals and move a lost
    node's actors (``[placement] failover``, ``LOST_NODE`` to ``TAKES_OVER``)."""

    def __init__(self, label: str, names: list[str], rules: Sequence[tuple[tuple[str, ...], str]], env: dict[str, str] | None = None,
                 failover: bool = False) -> None:
        self.label = label
        self.names = names
        self.rules = rules
        self.env = env or {}
        self.failover = failover
        self.nodes: RayNodes | None = None

    def start(self) -> None:
        self.nodes = RayNodes(self.names)
        self.nodes.env.update(self.env)
        self.nodes.start()

    def stop(self) -> None:
        if self.nodes is not None:
            self.nodes.stop()
            self.nodes = None

    def placed(self, setup: Setup) -> Setup:
        """``setup`` with ``[placement]`` for this cluster: each node's data dir under the
        server's (``node-NAME``: one folder to measure and remove), link_host ``node``."""
        config = setup.config
        data = Path(config.server.data_dir)
        nodes = {name: PlacementNode(resource=resource_of(name), data_dir=str(data / f"node-{name}")) for name in self.names}
        rules = [PlacementRule(actors=list(actors), node=node) for actors, node in self.rules]
        placement = msgspec.structs.replace(config.placement, nodes=nodes, rules=rules)
        if self.failover:  # as test_failover.py: the shared dir beside the nodes' dirs, node a's actors to b
            nodes[LOST_NODE] = msgspec.structs.replace(nodes[LOST_NODE], failover_to=TAKES_OVER)
            placement = msgspec.structs.replace(placement, nodes=nodes, shared_dir=str(data / "shared"), failover=True)
        config = msgspec.structs.replace(config, placement=placement, batching=msgspec.structs.replace(config.batching, link_host="node"))
        return msgspec.structs.replace(setup, config=config)

    @asynccontextmanager
    async def serve(self, setup: Setup) -> AsyncIterator[str]:
        """``run_server.py --address`` on this cluster with ``setup`` placed; yields its URL,
        stops it (SIGTERM: a clean stop) at the end."""
        assert self.nodes is not None, "start the cluster first"
        placed = self.placed(setup)
        folder = Path(tempfile.mkdtemp(prefix="brokerd-bench-conf-"))
        config = await asyncio.to_thread(write_setup, placed, folder / "conf")
        server = Brokerd(self.nodes, config, Path(placed.config.server.data_dir))
        try:
            url = await asyncio.to_thread(server.ready)
            await self.check_placement(url, placed)
            yield url
            server.process.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(server.process.wait, STOP_PATIENCE_S)
            if code != 0:
                raise RuntimeError(f"{self.label}: brokerd exited {code} on stop:\n{server.log.read_text()[-3000:]}")
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"{self.label}: brokerd did not stop within {STOP_PATIENCE_S} s") from None
        finally:
            server.kill()
            shutil.rmtree(folder, ignore_errors=True)

    async def check_placement(self, url: str, setup: Setup) -> None:
        """Every actor runs on the node its rule names, by Ray's node id as ``admin status``
        asks it inside each actor: a run of the wrong layout is refused, not measured."""
        from server.client.sdk import BrokerClient

        assert self.nodes is not None
        operator = next(user for user in setup.users if user.role in ("platform_operator", "admin"))
        async with BrokerClient(url, operator.key, operator.secret) as client:
            reply = await client.request({"op": "admin", "command": "status", "args": []}, timeout=60)
        assert reply.get("ok"), reply
        where: dict[str, list[str]] = {}
        wrong = []
        for actor in reply["result"]["actors"]:
            node = actor.get("placed_on", "")
            if node not in self.nodes.node_ids or actor["node"]["id"] != self.nodes.node_ids[node]:
                wrong.append(f"{actor['name']} (rule: {node or 'none'}, runs on {actor['node']['id']})")
            where.setdefault(node, []).append(actor["name"])
        if wrong:
            raise RuntimeError(f"{self.label}: actors not on the node their rule names: {', '.join(wrong)}")
        print(f"  {self.label}: " + "; ".join(f"{node}: {', '.join(sorted(names))}" for node, names in sorted(where.items())), flush=True)


def deployments() -> list[Deployment]:
    return [Deployment(ONE_NODE, ["c"], ONE_NODE_RULES), Deployment(CLUSTER, ["c", "a", "b"], CLUSTER_RULES)]


def in_turn(setups: list[Deployment], repeat: int) -> list[Deployment]:
    """Both setups, the first of them alternating from one repeat to the next."""
    return setups if repeat % 2 == 0 else setups[::-1]


# --- the phases --------------------------------------------------------------------------------


async def entry_phase(args: argparse.Namespace, setups: list[Deployment]) -> dict[str, dict[str, list[float]]]:
    """Order entry on both setups, both servers up: per repeat and setup, the acked orders/s
    of one-order frames and of frames of 100, then the ack latency at ``--rate``."""
    entry = bench_order_entry.options().parse_args(
        ["--orders", str(args.orders_entry), "--clients", str(args.clients), "--rate", str(args.rate), "--latency-seconds", str(args.latency_seconds)]
    )
    results: dict[str, dict[str, list[float]]] = {setup.label: {} for setup in setups}
    urls: dict[str, str] = {}
    data_dirs = []
    async with AsyncExitStack() as stack:
        for setup in setups:
            await asyncio.to_thread(setup.start)
            stack.callback(setup.stop)
            server_setup = bench_order_entry.bench_setup("bench-cluster-entry")
            data_dirs.append(server_setup.config.server.data_dir)
            urls[setup.label] = await stack.enter_async_context(setup.serve(server_setup))
        await asyncio.sleep(1)  # first quotes
        for url in urls.values():
            await bench_order_entry.throughput(url, True, entry.clients, 2000, 1, entry.window, "warm")
        for repeat in range(args.repeats):
            for setup in in_turn(setups, repeat):
                url, tag, figures = urls[setup.label], f"r{repeat}", results[setup.label]
                one = await bench_order_entry.throughput(url, True, entry.clients, entry.orders, 1, entry.window, tag + "a")
                hundred = await bench_order_entry.throughput(url, True, entry.clients, entry.orders * 2, 100, entry.window * 4, tag + "b")
                p50, p99 = await bench_order_entry.latency(url, True, entry.rate, entry.latency_seconds, tag + "l")
                for name, value in (("one-order acked/s", one), ("frames of 100 acked/s", hundred), ("ack p50 ms", p50), ("ack p99 ms", p99)):
                    figures.setdefault(name, []).append(value)
                print(f"  entry repeat {repeat + 1} {setup.label}: " + ", ".join(f"{k}={v[-1]:,.2f}" for k, v in figures.items()), flush=True)
    for folder in data_dirs:
        shutil.rmtree(folder, ignore_errors=True)
    return results


async def open_phase(args: argparse.Namespace, setups: list[Deployment]) -> dict[str, dict[str, list[float]]]:
    """The open on both setups: per repeat and setup, a fresh cluster and server (so the
    CPU and memory counted are that setup's processes alone), ``--open-orders`` orders
    queued from a basket file, the open cycle, the raw LMDB baseline (``bench_open.one_server``)."""
    opening = bench_open.options().parse_args(["--orders", str(args.open_orders), "--accounts", str(args.open_accounts)])
    results: dict[str, dict[str, list[float]]] = {setup.label: {} for setup in setups}
    for repeat in range(args.repeats):
        for setup in in_turn(setups, repeat):
            print(f"  open repeat {repeat + 1} {setup.label}:", flush=True)
            await asyncio.to_thread(setup.start)
            try:
                result = await bench_open.one_server(opening, True, setup.serve)
            finally:
                await asyncio.to_thread(setup.stop)
            for name, value in result.items():
                results[setup.label].setdefault(name, []).append(value)
            print(f"  open repeat {repeat + 1} {setup.label}: " + "  ".join(f"{k}={v:,.2f}" for k, v in result.items()), flush=True)
    return results


async def lose_node_phase(args: argparse.Namespace) -> dict[str, list[float]]:
    """A lost node, per repeat on a fresh three-node cluster with ``[placement] failover``
    (node ``a`` gone for good, so each repeat needs a new one): ``lose_node``'s figures."""
    entry = bench_order_entry.options().parse_args(["--clients", str(args.clients)])
    results: dict[str, list[float]] = {}
    for repeat in range(args.repeats):
        deployment = Deployment(CLUSTER, ["c", "a", "b"], CLUSTER_RULES, env=HEALTH_CHECKS, failover=True)
        server_setup = bench_order_entry.bench_setup("bench-cluster-lose")
        await asyncio.to_thread(deployment.start)
        try:
            async with deployment.serve(server_setup) as url:
                figures = await lose_node(url, deployment, server_setup, args.lose_orders, entry.clients, entry.window, f"r{repeat}")
        finally:
            await asyncio.to_thread(deployment.stop)
            shutil.rmtree(server_setup.config.server.data_dir, ignore_errors=True)
        for name, value in figures.items():
            results.setdefault(name, []).append(value)
        print(f"  lose-node repeat {repeat + 1}: " + ", ".join(f"{k}={v:,.2f}" for k, v in figures.items()), flush=True)
    return results


async def lose_node(url: str, deployment: Deployment, setup: Setup, orders: int, clients: int, window: int, tag: str) -> dict[str, float]:
    """Traders stream one-order frames (``bench_order_entry``'s ``Loader``, ``clients``
    connections of ``window`` in flight); once ``orders`` are acknowledged node ``a`` is
    removed (its data dir deleted: its disk went with it), ``admin status`` is polled until
    every actor that ran on it shows ``failed_over``, then twice ``orders`` more are
    acknowledged and the load stops. Figures: the seconds from the removal to that status;
    the supervisor's own ``seconds`` (the loss seen → the last actor moved, the largest); the
    acked orders/s before the removal, of the first ``orders`` after the move (``after``)
    and of the next ``orders`` (``later``: past what follows the move at once), and their
    ratios to before; the longest time no order was acknowledged; the orders refused. The
    removal → the loss seen is the difference of the first two (to within ``POLL_S`` and an
    ``admin status``'s time)."""
    assert deployment.nodes is not None
    operator = next(user for user in setup.users if user.role in ("platform_operator", "admin"))
    status = await admin_status(url, operator.key, operator.secret, 60)
    assert status is not None, "admin status did not answer"
    lost = [actor["name"] for actor in status["actors"] if actor.get("placed_on") == LOST_NODE]
    await bench_order_entry.throughput(url, True, clients, 2000, 1, window, tag + "warm")
    acked: list[float] = []
    stop = asyncio.Event()
    loaders = [bench_order_entry.Loader(url, True) for _ in range(clients)]
    async with AsyncExitStack() as stack:
        for loader in loaders:
            await stack.enter_async_context(loader)
        streams = [asyncio.create_task(loader.stream(bench_order_entry.endless_frames(f"{tag}lose{c}", 1 + c * 10**7), window, stop, acked, REPLIES_WITHIN_S))
                   for c, loader in enumerate(loaders)]
        try:
            started = time.perf_counter()
            await acknowledged(acked, orders, streams)
            removed = time.perf_counter()
            await asyncio.to_thread(deployment.nodes.remove, LOST_NODE)
            remove_s = time.perf_counter() - removed
            shutil.rmtree(Path(setup.config.server.data_dir) / f"node-{LOST_NODE}", ignore_errors=True)
            actors = await failed_over(url, operator.key, operator.secret, lost)
            moved = time.perf_counter()
            await acknowledged(acked, len(acked) + orders, streams)
            settled = time.perf_counter()
            await acknowledged(acked, len(acked) + orders, streams)
            ended = time.perf_counter()
        finally:
            stop.set()
            await asyncio.gather(*streams)
    refused = sum(loader.errors for loader in loaders)
    if refused:
        print(f"    {refused} orders refused, the first: {next(loader.first_error for loader in loaders if loader.first_error)}", flush=True)
    for name in lost:
        move = actors[name]["failed_over"]
        if (move["from"], move["to"]) != (LOST_NODE, TAKES_OVER):
            raise RuntimeError(f"{name} moved from {move['from']} to {move['to']}, not from {LOST_NODE} to {TAKES_OVER}")
    before = sum(1 for t in acked if t < removed) / (removed - started)
    after = sum(1 for t in acked if moved <= t < settled) / (settled - moved)
    later = sum(1 for t in acked if settled <= t < ended) / (ended - settled)
    times = sorted([started, *acked])
    supervisor_s = float(max(actors[name]["failed_over"]["seconds"] for name in lost))  # the SDK gives numbers as Decimal
    return {
        "removal → moved s": moved - removed,
        "supervisor seconds": supervisor_s,
        "removal → seen s (≈)": moved - removed - supervisor_s,
        "remove call s": remove_s,
        "longest ack gap s": max(b - a for a, b in itertools.pairwise(times)),
        "before acked/s": before,
        "after acked/s": after,
        "later acked/s": later,
        "after ÷ before": after / before,
        "later ÷ before": later / before,
        "refused": refused,
    }


async def acknowledged(acked: list[float], count: int, streams: list[asyncio.Task[None]]) -> None:
    """Until ``count`` orders are acknowledged; a stream that ended early (its connection
    lost) raises here rather than waiting for ever."""
    while len(acked) < count:
        for stream in streams:
            if stream.done():
                stream.result()
                raise RuntimeError("an order stream ended before its load was stopped")
        await asyncio.sleep(0.02)


async def admin_status(url: str, key: str, secret: str, timeout: float) -> dict[str, Any] | None:
    """``admin status``'s result, None if it did not answer within ``timeout`` or answered
    otherwise (while a node is lost, the actors on it may not answer)."""
    from server.client.sdk import BrokerClient

    try:
        async with asyncio.timeout(timeout), BrokerClient(url, key, secret) as client:
            reply = await client.request({"op": "admin", "command": "status", "args": []})
    except TimeoutError:
        return None
    return reply["result"] if reply.get("ok") else None


async def failed_over(url: str, key: str, secret: str, names: list[str]) -> dict[str, dict[str, Any]]:
    """``admin status``'s actors, by name, once every one of ``names`` shows ``failed_over``
    (polled every ``POLL_S``; each poll waits ``POLL_S`` × 10 at most)."""
    deadline = time.monotonic() + MOVED_WITHIN_S
    while time.monotonic() < deadline:
        status = await admin_status(url, key, secret, POLL_S * 10)
        if status is not None:
            actors = {actor["name"]: actor for actor in status["actors"]}
            if all(actors[name].get("failed_over") for name in names):
                return actors
        await asyncio.sleep(POLL_S)
    raise RuntimeError(f"the lost node's actors ({', '.join(names)}) were not moved within {MOVED_WITHIN_S} s")


# --- the run -----------------------------------------------------------------------------------

ENTRY_FIGURES = ("one-order acked/s", "frames of 100 acked/s", "ack p50 ms", "ack p99 ms")
SHOWN = {"ratio": "booked_s ÷ raw_lmdb_s"}  # bench_open's name for the cycle against its same-run baseline
OPEN_FIGURES = ("queue_per_s", "queued_s", "open_s", "allocated_s", "booked_s", "cycle_cpu_s", "shards_cpu_s", "raw_lmdb_s", "ratio", "peak_anon_gb", "peak_file_gb", "data_gb")


def table(results: dict[str, dict[str, list[float]]], figures: Sequence[str]) -> str:
    """Each figure's median per setup and the ratio cluster ÷ one node."""
    lines = [f"  {'':<22} {ONE_NODE:>12} {CLUSTER:>12}   cluster ÷ one node"]
    for name in figures:
        one, three = (statistics.median(results[label][name]) for label in (ONE_NODE, CLUSTER))
        ratio = f"{three / one:.3f}" if one else "-"
        lines.append(f"  {SHOWN.get(name, name):<22} {one:>12,.2f} {three:>12,.2f}   {ratio}")
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> None:
    setups = deployments()
    note = NOTE.format(cores=os.cpu_count())
    print(f"brokerd on three Ray nodes (c, a, b) beside one node (c), medians of {args.repeats}, alternating; note: {note}", flush=True)
    entry = {} if args.skip_entry else await entry_phase(args, setups)
    opening = {} if args.skip_open else await open_phase(args, setups)
    losing = await lose_node_phase(args) if args.lose_node else {}
    print()
    if entry:
        print(f"order entry: {args.clients} clients, {args.orders_entry:,} orders per run (frames of 100: twice as many), "
              f"latency at {args.rate:,} orders/s offered for {args.latency_seconds:g} s, medians of {args.repeats}")
        print(table(entry, ENTRY_FIGURES))
    if opening:
        print(f"the open: {args.open_orders:,} orders from a basket file, {args.open_accounts:,} accounts, 2 shards, 2 instrument actors, "
              f"medians of {args.repeats} (cycle_cpu_s: every process of the setup)")
        print(table(opening, OPEN_FIGURES))
    if losing:
        print(f"a lost node: three nodes with [placement] failover, node {LOST_NODE} removed while {args.clients} clients stream one-order frames "
              f"({args.lose_orders:,} acked before the removal, as many after the move, as many later), a fresh cluster each time, medians of {args.repeats}")
        for name, values in losing.items():
            print(f"  {name:<22} {statistics.median(values):>10,.2f}   runs {', '.join(f'{v:,.2f}' for v in values)}")
        seen, move = statistics.median(losing["removal → seen s (≈)"]), statistics.median(losing["supervisor seconds"])
        verdict = "Ray's node-death detection dominates" if seen > move else "the move itself took longer than Ray's node-death detection here"
        print(f"  {verdict}: {seen:.1f} s from the removal until the supervisor saw the loss (Ray's health checks: "
              f"{', '.join(f'{k}={v}' for k, v in HEALTH_CHECKS.items())}, as test_failover.py; Ray's defaults take 3-4 times longer), "
              f"then {move:.1f} s to move the actors ('supervisor seconds': the loss seen → the last actor wired)")
    print(f"note: {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    entry = bench_order_entry.options().parse_args([])
    parser.add_argument("--orders-entry", type=int, default=entry.orders, help="orders per order-entry run (frames of 100: twice as many)")
    parser.add_argument("--open-orders", type=int, default=bench_open.options().parse_args([]).orders, help="orders queued for the open")
    parser.add_argument("--open-accounts", type=int, default=bench_open.options().parse_args([]).accounts, help="the advisor's accounts in the open")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--clients", type=int, default=entry.clients, help="order-entry connections")
    parser.add_argument("--rate", type=int, default=entry.rate, help="offered orders/s of the latency run")
    parser.add_argument("--latency-seconds", type=float, default=entry.latency_seconds)
    parser.add_argument("--skip-entry", action="store_true", help="measure the open only")
    parser.add_argument("--skip-open", action="store_true", help="measure order entry only")
    parser.add_argument("--lose-node", action="store_true", help="a third phase: node a lost under load, with [placement] failover (a fresh cluster each repeat)")
    parser.add_argument("--lose-orders", type=int, default=4000, help="--lose-node: orders acknowledged before the removal, and twice again after the move")
    args = parser.parse_args()
    # the cluster's processes and the servers import this checkout's code, whatever is installed
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    import uvloop

    uvloop.run(run(args))


if __name__ == "__main__":
    main()
