"""Recovery, proven by killing processes (issue 3's tests).

Each test runs ``run_server.py`` as a process of its own on its own data dir (joined to the
session's Ray cluster when one actor is killed; with a Ray cluster of its own, the whole
process tree, when the whole server is), streams orders over WebSocket, kills something with
SIGKILL, and compares the books after the
restart with what the clients were told: 0 lost, 0 duplicated, nothing invented, cash and
positions equal to what the orders booked, every journal replaying to the live state.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from server.client.sdk import BrokerClient
from tests.conftest import ROOT
from tests.integration.recovery import Ledger, ServerProcess, admin, assert_books_match, stream_orders, wait_restarted, write_conf

pytestmark = pytest.mark.asyncio(loop_scope="session")

# (point, k, actor): every named crash point in an account shard, and the commit/send points
# in an instrument actor and the venue session.
CRASHES = [
    ("journal.before_commit", 40, "account-0"),
    ("journal.after_commit", 40, "account-0"),
    ("apply.before_send", 40, "account-0"),
    ("snapshot.part", 2, "account-0"),
    ("snapshot.write", 2, "account-0"),
    ("journal.truncate", 2, "account-0"),
    ("journal.after_commit", 60, "instrument-0"),
    ("apply.before_send", 60, "instrument-0"),
    ("journal.before_commit", 60, "venue-SIM"),
    ("apply.before_send", 60, "venue-SIM"),
]


@pytest.mark.parametrize(("point", "k", "actor"), CRASHES, ids=[f"{p}:{k}:{a}" for p, k, a in CRASHES])
async def test_crash_at_a_named_point_loses_and_repeats_nothing(tmp_path: Path, ray_address: str, point: str, k: int, actor: str) -> None:
    """The actor SIGKILLs itself at the k-th pass of the point while orders stream in; Ray
    restarts it, it rebuilds itself from snapshot + journal and is re-wired while the other
    actors carry on; every client gets its answer; then a whole-server restart."""
    config = write_conf(tmp_path / "conf", snapshot_every_events=60)
    data = tmp_path / "data"
    server = ServerProcess(config, data, {"BROKERD_CRASH_AT": f"{point}:{k}:{actor}"}, address=ray_address)
    ledger = Ledger()
    with server.running() as url:
        await stream_orders(url, ledger, "crash", count=400, clients=4)
        assert (data / f"crashed-{point}").exists(), f"{actor} never reached {point} {k} times"
        assert len(ledger.acked) == len(ledger.sent) == 400, "a client went without its answer"
        await wait_restarted(url, actor)
        await assert_books_match(url, ledger)
    with server.running() as url:
        await assert_books_match(url, ledger)


async def test_whole_server_killed_at_random_moments_under_load(tmp_path: Path) -> None:
    """Ten SIGKILLs of the whole process tree while four clients stream orders; each time
    the server restarts on the same data dir and the clients carry on. At the end: every
    acknowledged order exactly once, unacknowledged ones whole or absent."""
    config = write_conf(tmp_path / "conf", snapshot_every_events=500)
    data = tmp_path / "data"
    server = ServerProcess(config, data)
    ledger = Ledger()
    rng = random.Random(2026)
    kills = 10
    for round_ in range(kills):
        url = server.start()
        load = asyncio.ensure_future(stream_orders(url, ledger, f"k{round_}", count=10_000, clients=4, seed=round_))
        await asyncio.sleep(rng.uniform(0.3, 2.0))
        server.kill9()
        await load
    with server.running() as url:
        found = await assert_books_match(url, ledger)
        unacked = ledger.unacked()
        assert all(len(found.get(key, [])) <= 1 for key in unacked)
        assert len(ledger.acked) > kills * 10, "the load never got going"
        # a client retrying an acknowledged order after the restart gets the original back
        key, reply = next(iter(ledger.acked.items()))
        async with BrokerClient(url, "tester", "tester-secret") as client:
            again = await client.request({"op": "new_order", **ledger.sent[key]}, timeout=30)
        assert again["order_id"] == reply["order_id"]
        verify = subprocess.run(
            [sys.executable, str(ROOT / "run_server.py"), "admin", "--json", "journal", "verify", "--data-dir", str(data)],
            capture_output=True, text=True, cwd=ROOT,
        )
        assert verify.returncode == 0, verify.stdout + verify.stderr


async def test_one_account_shard_killed_under_load_comes_back_and_others_carry_on(tmp_path: Path, ray_address: str) -> None:
    config = write_conf(tmp_path / "conf", snapshot_every_events=300)
    data = tmp_path / "data"
    server = ServerProcess(config, data, address=ray_address)
    ledger = Ledger()
    with server.running() as url:
        status = await admin(url, "status")
        shard = next(a for a in status["result"]["actors"] if a["name"] == "account-1")
        load = asyncio.ensure_future(stream_orders(url, ledger, "shard", count=600, clients=4))
        await asyncio.sleep(1.0)
        os.kill(shard["pid"], 9)
        await load
        assert len(ledger.acked) == len(ledger.sent) == 600
        restarts = await wait_restarted(url, "account-1")
        assert restarts["account-1"] == 1 and restarts["account-0"] == 0
        await assert_books_match(url, ledger)


async def test_replay_gives_the_same_hash_in_any_process_and_hash_seed(tmp_path: Path, ray_address: str) -> None:
    config = write_conf(tmp_path / "conf")
    data = tmp_path / "data"
    server = ServerProcess(config, data, address=ray_address)
    ledger = Ledger()
    with server.running() as url:
        await stream_orders(url, ledger, "det", count=200, clients=4)
        await asyncio.sleep(0.5)
    for actor in ("account-0", "account-1", "instrument-0", "instrument-1", "venue-SIM", "supervisor"):
        hashes = set()
        for seed in ("0", "1", "12345"):
            result = subprocess.run(
                [sys.executable, "-m", "actors.runtime.replay", str(data), actor, "--config", str(config)],
                capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": seed},
            )
            assert result.returncode == 0, result.stderr
            hashes.add(json.loads(result.stdout)["hash"])
        assert len(hashes) == 1, (actor, hashes)
