"""The supervisor SIGKILLed under load: Ray restarts it, it re-attaches to the running
actors (detached: they outlive it) and the server carries on — no server restart."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

from tests.integration.recovery import Ledger, ServerProcess, admin, assert_books_match, stream_orders, wait_restarted, write_conf

ORDERS = 600
BACK_WITHIN_S = 30


def pids(status: dict[str, Any]) -> dict[str, int]:
    return {actor["name"]: actor["pid"] for actor in status["result"]["actors"]}


async def back(url: str, old_pid: int) -> dict[str, Any]:
    """Until ``admin status`` answers from a supervisor other than the one killed."""
    deadline = time.monotonic() + BACK_WITHIN_S
    while True:
        reply = await admin(url, "status")
        if reply.get("type") == "admin" and pids(reply)["supervisor"] != old_pid:
            return reply
        assert time.monotonic() < deadline, f"the supervisor did not come back: {reply}"
        await asyncio.sleep(0.2)


async def test_supervisor_killed_under_load_comes_back_without_a_server_restart(tmp_path: Path) -> None:
    server = ServerProcess(write_conf(tmp_path / "conf"), tmp_path / "data")
    with server.running() as url:
        before = pids(await admin(url, "status"))
        ledger = Ledger()
        trading = asyncio.create_task(stream_orders(url, ledger, "sup", ORDERS, clients=4, timeout=60))
        while len(ledger.acked) < 50:  # under load
            await asyncio.sleep(0.05)
        os.kill(before["supervisor"], signal.SIGKILL)
        # during the outage an admin command is answered — refused with the reason, or run
        # once the supervisor is back — never left hanging
        during = await asyncio.wait_for(admin(url, "status"), 20)
        if during.get("type") == "error":
            assert during["code"] == "admin_failed" and "supervisor" in during["message"], during
        await trading
        status = await back(url, before["supervisor"])
        after = pids(status)

        assert server.process is not None and server.process.poll() is None, "the server exited"
        assert "supervisor died" not in server.log.read_text()
        # every other actor outlived the supervisor: the same processes, not restarted
        assert {name: pid for name, pid in after.items() if name != "supervisor"} == {
            name: pid for name, pid in before.items() if name != "supervisor"
        }
        assert len(ledger.sent) == ORDERS and not ledger.unacked(), f"orders not answered: {sorted(ledger.unacked())[:10]}"
        await assert_books_match(url, ledger)  # every acknowledged order once, `admin check` ok

        # the restarted supervisor watches again: an account shard killed now is re-wired,
        # and trading goes on through it
        os.kill(after["account-1"], signal.SIGKILL)
        await wait_restarted(url, "account-1")
        more = Ledger()
        await stream_orders(url, more, "again", 80, clients=2, timeout=60)
        assert len(more.sent) == 80 and not more.unacked()
        await assert_books_match(url, Ledger({**ledger.sent, **more.sent}, {**ledger.acked, **more.acked}))
