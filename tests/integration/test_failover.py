"""A lost node (docs/scale.md, "A lost node"): on a Ray cluster of three nodes with
``[placement] failover``, node ``a`` — an account shard and an InstrumentActor — is removed
while traders send orders (and, in the second test, while the open's blocks are working),
and its disk is deleted. The supervisor creates both actors again on node ``b``, where they
rebuild their journals from the copy shipped to the shared dir; every order a client was
told of is there once, nothing else is, every order for the open is allocated exactly once,
and every journal replays to the live state (``admin check``)."""

from __future__ import annotations

import asyncio
import random
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from snapshots.journal import Journal
from snapshots.shipping import ShipStore
from tests.integration.ray_nodes import RayNodes
from tests.integration.recovery import (
    Ledger,
    ServerProcess,
    admin,
    assert_books_match,
    stream_orders,
    wait_restarted,
    with_demo_logins,
    write_conf,
    write_conf_dir,
)
from tests.integration.test_cluster import NODES, Brokerd, placement_toml
from tests.integration.test_open_recovery import assert_allocated_exactly_once, orders_for_the_open, place, wait_all_done, write_open_conf

ORDERS = 600
MOVED_WITHIN_S = 90
LOST = ("account-0", "instrument-0")  # node a's actors


# Ray's verdict that a node is dead comes from its health checks (every 3 s by default, 5
# failures): checked each second here, the loss is seen in ~5 s instead of ~15-20 s
HEALTH_CHECKS = {"RAY_health_check_period_ms": "1000", "RAY_health_check_failure_threshold": "5"}


@pytest.fixture(scope="module")
def nodes() -> Iterator[RayNodes]:
    cluster = RayNodes(NODES)
    cluster.env.update(HEALTH_CHECKS)
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


def failover_toml(data: Path) -> str:
    toml = placement_toml(data).replace(f'data_dir = "{data / "a"}"\n', f'data_dir = "{data / "a"}"\nfailover_to = "b"\n', 1)
    return toml + f"""
[placement]
shared_dir = "{data / "shared"}"
failover = true

[journal]
snapshot_every_events = 150
"""


async def moved(url: str, names: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """``admin status`` once every actor of ``names`` has failed over, by name."""
    deadline = time.monotonic() + MOVED_WITHIN_S
    while True:
        reply = await admin(url, "status")
        if reply.get("type") == "admin":
            actors = {actor["name"]: actor for actor in reply["result"]["actors"]}
            if all(actors[name].get("failed_over") for name in names):
                return actors
        assert time.monotonic() < deadline, f"the lost node's actors were not moved: {reply}"
        await asyncio.sleep(0.5)


async def test_a_lost_node_s_actors_come_back_on_another_node_with_every_acknowledged_order(nodes: RayNodes, tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = write_conf_dir(tmp_path / "conf", failover_toml(data))
    server = Brokerd(nodes, config, data / "main")
    try:
        url = await asyncio.to_thread(server.ready)
        ledger = Ledger()
        trading = asyncio.create_task(stream_orders(url, ledger, "lost", ORDERS, clients=4, timeout=MOVED_WITHIN_S))
        while len(ledger.acked) < 150:  # under load, past a snapshot
            await asyncio.sleep(0.05)
        removed = time.monotonic()
        await asyncio.to_thread(nodes.remove, "a")
        shutil.rmtree(data / "a")  # the node's disk went with it: only the shipped copy is left
        actors = await moved(url, LOST)
        back_s = time.monotonic() - removed
        await trading
        for name in LOST:
            actor = actors[name]
            assert actor["failed_over"]["from"] == "a" and actor["failed_over"]["to"] == "b", actor
            assert (actor["placed_on"], actor["node"]["id"]) == ("b", nodes.node_ids["b"]), actor
            assert actor["data_dir"] == str(data / "b")
            assert (data / "b" / name / "data.mdb").is_file()
        assert len(ledger.sent) == ORDERS and not ledger.unacked(), f"orders not answered: {sorted(ledger.unacked())[:10]}"
        await assert_books_match(url, ledger)  # every acknowledged order once, `admin check` ok

        # trading goes on through the moved actors
        more = Ledger()
        await stream_orders(url, more, "after", 80, clients=2, timeout=60)
        assert len(more.sent) == 80 and not more.unacked()
        await assert_books_match(url, Ledger({**ledger.sent, **more.sent}, {**ledger.acked, **more.acked}))
        seconds = max(actors[name]["failed_over"]["seconds"] for name in LOST)
        print(f"node a lost: moved {seconds} s after the loss was seen; back within {back_s:.1f} s of the removal")
        assert await asyncio.to_thread(server.stop) == 0
    finally:
        server.kill()


async def test_an_open_whose_blocks_are_working_when_a_node_is_lost_allocates_every_order_once(nodes: RayNodes, tmp_path: Path) -> None:
    if "a" not in nodes.node_ids:  # the first test lost it: a new, empty node a
        await asyncio.to_thread(nodes.add, "a")
    data = tmp_path / "data"
    config = write_open_conf(tmp_path / "conf")
    # small displayed sizes: the blocks fill over many quotes, so the open is still working
    # when the node goes
    toml = failover_toml(data).replace("[sim]\nquote_interval_ms = 50\n", "[sim]\nquote_interval_ms = 25\nquote_size = 8\n")
    config.write_text(with_demo_logins(toml))
    server = Brokerd(nodes, config, data / "main")
    try:
        url = await asyncio.to_thread(server.ready)
        placed = await place(url, orders_for_the_open(random.Random(5)))
        opened = await admin(url, "open")
        assert opened.get("ok"), opened
        status = await admin(url, "status")
        working = sum(actor.get("open", {}).get("blocks_working", 0) for actor in status["result"]["actors"])
        assert working, f"the open finished before the node could be lost: {status}"
        await asyncio.to_thread(nodes.remove, "a")
        shutil.rmtree(data / "a")
        await moved(url, LOST)
        await wait_all_done(url, placed)
        await assert_allocated_exactly_once(url, placed)  # and `admin check` ok
        assert await asyncio.to_thread(server.stop) == 0
    finally:
        server.kill()


async def test_killed_between_the_local_commit_and_the_ship_the_copy_catches_up(tmp_path: Path, ray_address: str) -> None:
    """One machine, journals shipped: an account shard SIGKILLed after a group is in its
    local journal but before it is in the shipped copy (nothing of it acknowledged). Ray
    restarts it on the same node: its local journal is trusted (nobody took over) and the
    group the copy lacks is shipped before anything new; both copies then hold the same
    records, and every acknowledged order is there once."""
    config = write_conf(tmp_path / "conf", snapshot_every_events=150)
    shared = tmp_path / "shared"
    config.write_text(config.read_text() + f'\n[placement]\nshared_dir = "{shared}"\nfailover = true\n')
    data = tmp_path / "data"
    server = ServerProcess(config, data, {"BROKERD_CRASH_AT": "ship.before_append:60:account-1"}, address=ray_address)
    with server.running() as url:
        ledger = Ledger()
        await stream_orders(url, ledger, "ship", 300, clients=4, timeout=60)
        await wait_restarted(url, "account-1")
        assert (data / "crashed-ship.before_append").exists()
        assert len(ledger.sent) == 300 and not ledger.unacked()
        await assert_books_match(url, ledger)
    for actor in ("account-0", "account-1", "instrument-0", "instrument-1", "venue-SIM"):
        local = Journal(data / actor, actor, readonly=True)
        try:
            shipped = ShipStore(shared / "ship" / actor, actor).restored()
            start = shipped.records[0][0] if shipped.records else local.last_seq + 1
            assert shipped.last_seq == local.last_seq, actor
            assert shipped.records == list(local.read_from(start)), actor
            assert actor == "venue-SIM" or (shared / "audit" / actor).is_dir(), actor  # the venue keeps no audit chain
        finally:
            local.close()
