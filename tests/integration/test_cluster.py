"""brokerd on a Ray cluster of three nodes (``ray.cluster_utils.Cluster`` on this machine,
each node with its own custom resource and data dir), joined with ``--address`` as an
operator would: every actor runs on the node ``[placement]`` names and journals on that
node's disk, ``admin status`` says where each runs, and a trader's orders travel across
the nodes and fill (docs/scale.md)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from model.routing import shard_of
from server.client.sdk import BrokerClient
from tests.conftest import ROOT
from tests.integration.helpers import cloid, connect, final_report
from tests.integration.ray_nodes import RayNodes, resource_of
from tests.integration.recovery import write_conf_dir

READY_TIMEOUT_S = 120
NODES = ["c", "a", "b"]  # c is the head node: the supervisor, the gateway and the venue; a and b the books
SHARDS = 2
SYMBOLS = ["IBM", "AAPL", "MSFT", "SPY", "XYZ"]
MANY_ACCOUNTS = 5_000  # about 230 KB of account seeds


@pytest.fixture(scope="module")
def nodes() -> Iterator[RayNodes]:
    cluster = RayNodes(NODES)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


def placement_toml(data: Path, extra_rule: str = "") -> str:
    node_sections = "".join(f'[placement.nodes.{name}]\nresource = "{resource_of(name)}"\ndata_dir = "{data / name}"\n\n' for name in NODES)
    return f"""[server]
ws_port = 0

[topology]
account_shards = {SHARDS}
instrument_actors = 2

[batching]
link_host = "node"

[sim]
quote_interval_ms = 50

{node_sections}[[placement.rules]]
actors = ["supervisor", "gateway", "venue"]
node = "c"

[[placement.rules]]
actors = ["account-0", "instrument-0"]
node = "a"

[[placement.rules]]
actors = ["account", "instrument-*"]
node = "b"
{extra_rule}"""


EXPECTED = {"supervisor": "c", "gateway-0": "c", "venue-SIM": "c", "account-0": "a", "instrument-0": "a", "account-1": "b", "instrument-1": "b"}


class Brokerd:
    """``run_server.py --address`` joining the cluster, in its own session."""

    def __init__(self, nodes: RayNodes, config: Path, data_dir: Path) -> None:
        self.log = config.parent / "brokerd.log"
        self.ready_line = ""
        command = [sys.executable, str(ROOT / "run_server.py"), "--address", nodes.address, "--config", str(config), "--data-dir", str(data_dir), "--ws-port", "0"]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True, env=nodes.env, cwd=ROOT, start_new_session=True)

    def ready(self) -> str:
        assert self.process.stdout is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if line.startswith("brokerd ready "):
                self.ready_line = line.strip()
                return line.split()[2]
            if not line and self.process.poll() is not None:
                break
        self.kill()
        raise AssertionError(f"brokerd did not become ready:\n{self.log.read_text()[-4000:]}")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(60)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


async def admin_reply(url: str, command: str, *args: str) -> dict[str, Any]:
    async with BrokerClient(url, "admin", "admin-secret") as admin:
        reply: dict[str, Any] = await admin.request({"op": "admin", "command": command, "args": list(args)}, timeout=30)
    return reply


async def admin_status(url: str) -> dict[str, Any]:
    reply = await admin_reply(url, "status")
    assert reply.get("ok"), reply
    result: dict[str, Any] = reply["result"]
    return result


async def supervisor_back(url: str, killed_pid: int, timeout_s: float = 90) -> dict[str, Any]:
    """``admin status`` once a supervisor other than ``killed_pid`` answers it."""
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(OSError, TimeoutError):
            reply = await admin_reply(url, "status")
            if reply.get("ok") and next(a["pid"] for a in reply["result"]["actors"] if a["name"] == "supervisor") != killed_pid:
                result: dict[str, Any] = reply["result"]
                return result
        assert time.monotonic() < deadline, "the supervisor did not come back after its kill"
        await asyncio.sleep(0.5)


def account_on(shard: int, accounts: list[str]) -> str:
    return next(account for account in accounts if shard_of(account, SHARDS) == shard)


def symbol_on(actor: int) -> str:
    return next(symbol for symbol in SYMBOLS if symbol != "XYZ" and shard_of(symbol, 2) == actor)


async def test_actors_run_where_placement_says_and_orders_fill_across_nodes(nodes: RayNodes, tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = write_conf_dir(tmp_path / "conf", placement_toml(data))
    server = Brokerd(nodes, config, data / "main")
    try:
        url = await asyncio.to_thread(server.ready)
        status = await admin_status(url)
        where = {actor["name"]: actor for actor in status["actors"]}
        assert set(where) == set(EXPECTED)
        for name, node in EXPECTED.items():
            actor = where[name]
            assert (actor["placed_on"], actor["node"]["id"]) == (node, nodes.node_ids[node]), f"{name} runs on the wrong node: {actor['node']}"
            assert actor["data_dir"] == str(data / node)
            assert actor["node"]["ip"] == "127.0.0.1" and actor["node"]["hostname"]

        # an account of the shard on node a buys a symbol of the InstrumentActor on node b (the
        # venue on c), and one of the shard on b a symbol of a's: every hop crosses nodes
        accounts = [f"T{index:02d}" for index in range(1, 41)]
        trades = [(account_on(0, accounts), symbol_on(1)), (account_on(1, accounts), symbol_on(0))]
        async with connect(url) as trader:
            for account, symbol in trades:
                order_id = cloid("cluster")
                await trader.new_order(account, order_id, symbol, "buy", type="market", qty="2")
                report = await final_report(trader, order_id, timeout=30)
                assert (report["status"], report["cum_qty"]) == ("filled", "2"), report
                positions = {p["symbol"]: p["qty"] for p in (await trader.get_account(account))["positions"]}
                assert positions[symbol] == "2"
        assert await asyncio.to_thread(server.stop) == 0
    finally:
        server.kill()

    # each journal is on its own node's disk, none under the driver's data dir
    for name, node in EXPECTED.items():
        if name != "gateway-0":  # soft state: no journal
            assert (data / node / name / "data.mdb").is_file(), f"{name}'s journal is not on node {node}'s disk"
        assert not (data / "main" / name).exists()


async def test_a_placement_naming_a_node_the_cluster_lacks_is_refused_at_start(nodes: RayNodes, tmp_path: Path) -> None:
    data = tmp_path / "data"
    missing = f'\n[placement.nodes.d]\nresource = "{resource_of("d")}"\n\n[[placement.rules]]\nactors = ["drop-copy", "account-1"]\nnode = "d"\n'
    toml = placement_toml(data).replace('[[placement.rules]]\nactors = ["supervisor"', missing + '\n[[placement.rules]]\nactors = ["supervisor"', 1)
    server = Brokerd(nodes, write_conf_dir(tmp_path / "conf", toml), data / "main")
    try:
        code = await asyncio.to_thread(server.process.wait, 60)
    finally:
        server.kill()
    log = server.log.read_text()
    assert code == 2, log[-3000:]
    assert "[placement] node 'd': no live node of the Ray cluster has the resource 'brokerd_d'" in log
    assert not any((data / node).exists() for node in NODES), "nothing may start before the check"


async def test_a_driver_that_dies_leaves_the_server_running_and_the_next_one_attaches(nodes: RayNodes, tmp_path: Path) -> None:
    """On a cluster the supervisor is detached: ``kill -9`` of the driver leaves the server
    trading, and the supervisor killed then is restarted by Ray without the driver (its
    creation arguments stay small: with thousands of accounts they are not in the dead
    driver's object store); the same command started again attaches to it (same URL, no
    actor restarted), a driver with another configuration is refused, and SIGTERM to the
    attached driver stops the whole server."""
    data = tmp_path / "data"
    config = write_conf_dir(tmp_path / "conf", placement_toml(data))
    with (config.parent / "accounts.csv").open("a") as csv:  # the accounts file alone is far over Ray's 100 KB inline limit
        csv.writelines(f"M{n:05d},trader1,1000.00,false,,\n" for n in range(MANY_ACCOUNTS))
    first = Brokerd(nodes, config, data / "main")
    second = other = None
    try:
        url = await asyncio.to_thread(first.ready)
        first.process.kill()  # SIGKILL: no clean stop
        first.process.wait()
        accounts = [f"T{index:02d}" for index in range(1, 41)]
        async with connect(url) as trader:  # the server trades on without a driver
            order_id = cloid("driverless")
            await trader.new_order(account_on(0, accounts), order_id, symbol_on(1), "buy", type="market", qty="1")
            assert (await final_report(trader, order_id, timeout=30))["status"] == "filled"

        supervisor = next(actor for actor in (await admin_status(url))["actors"] if actor["name"] == "supervisor")
        os.kill(supervisor["pid"], signal.SIGKILL)
        status = await supervisor_back(url, supervisor["pid"])
        assert status["ws_port"] == int(url.rsplit(":", 1)[1])
        loaded = await admin_reply(url, "account", f"M{MANY_ACCOUNTS - 1:05d}")  # an account of the file, known to the restarted supervisor
        assert loaded["result"]["account"]["cash"] == "1000.00", loaded
        before = {actor["name"]: actor["pid"] for actor in status["actors"]}

        changed = write_conf_dir(tmp_path / "other", placement_toml(data).replace("instrument_actors = 2", "instrument_actors = 2\n\n[risk]\nmax_order_qty = \"7\""))
        other = Brokerd(nodes, changed, data / "main")
        assert await asyncio.to_thread(other.process.wait, 120) == 2
        assert "with another configuration" in other.log.read_text()

        second = Brokerd(nodes, config, data / "main")
        assert await asyncio.to_thread(second.ready) == url
        assert second.ready_line.endswith(" attached"), second.ready_line
        after = {actor["name"]: actor["pid"] for actor in (await admin_status(url))["actors"]}
        assert after == before, "attaching restarted actors"
        assert await asyncio.to_thread(second.stop) == 0
        with pytest.raises(OSError):  # nothing listens any more
            await admin_status(url)
    finally:
        for server in (first, other, second):
            if server is not None:
                server.kill()
