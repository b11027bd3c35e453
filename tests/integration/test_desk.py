"""The market-making desk on a running server (a real ``run_server.py`` process, real Ray,
LMDB and sockets): it quotes IBM from its own account into the internal book; a client's
market order crosses a desk quote at venue INTERNAL and both accounts are booked exactly;
the operator starts, tunes and stops it with admin commands (a bad tune changes nothing).
Then kill -9: after the restart its working quotes and position are as before, it never
goes past max_position, and once stopped by its loss limit it stays stopped across
another kill -9."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from server.client.sdk import BrokerClient
from tests.integration.recovery import ServerProcess, admin, write_conf_dir

pytestmark = pytest.mark.asyncio(loop_scope="session")

STILL = """[server]
ws_port = 0

[sim]
quote_interval_ms = 20000
volatility_bps = 0   # the NBBO holds still (a restarted sim keeps its next tick: at most 20 s away)

[crossing]
enabled = true
max_quote_age_ms = 3600000

[desk]
enabled = true
account = "DESK"
symbols = ["IBM"]

[desk.params]
size = "5"
spread_bps = 2
refresh_tolerance_bps = 2
max_position = "MAXPOS"
max_loss = "1000"
"""
# A second sim venue from the next start, its walk seeded to fall about 5 bps within a second
# and stay there a while: the NBBO's mid falls 3-4 cents (the still venue's quote holds its
# bid). The still venue keeps the terms its snapshot was taken with.
FALLING = STILL.replace("quote_interval_ms = 20000\nvolatility_bps = 0", "quote_interval_ms = 100\nvolatility_bps = 2") + """
[[venues]]
name = "SIM"

[[venues]]
name = "B"
sim_seed = 25
"""


def conf(tmp_path: Path, max_position: str, text: str = STILL) -> Path:
    path = write_conf_dir(tmp_path / "conf", text.replace("MAXPOS", max_position))
    with (path.parent / "accounts.csv").open("a") as accounts:
        accounts.write("DESK,tester,1000000.00,true,,\n")  # the desk's own account: it may sell short
    return path


async def desk(url: str) -> dict[str, Any]:
    reply = await admin(url, "desk", "status", "IBM")
    assert reply.get("type") != "error", reply
    result: dict[str, Any] = reply["result"]["desk"]
    return result


async def quoting(url: str, count: int = 2, seconds: float = 30) -> dict[str, Any]:
    """The desk's status once ``count`` quotes rest in the internal book."""
    deadline = time.monotonic() + seconds
    while True:
        status = await desk(url)
        resting = [q for q in status["quotes"] if q["where"] == "INTERNAL" and not q["canceling"]]
        if len(resting) == count and len(status["quotes"]) == count:
            return status
        assert time.monotonic() < deadline, status
        await asyncio.sleep(0.2)


async def account(url: str, client: BrokerClient, name: str) -> dict[str, Any]:
    """A client's account as its trader reads it; the desk's (no trader's) as the operator does."""
    if name == "DESK":
        reply: dict[str, Any] = (await admin(url, "account", name))["result"]["account"]
        return reply
    return dict(await client.get_account(name, timeout=30))


async def position(url: str, client: BrokerClient, name: str) -> Decimal:
    held = [p for p in (await account(url, client, name))["positions"] if p["symbol"] == "IBM"]
    return Decimal(held[0]["qty"]) if held else Decimal(0)


async def test_a_client_order_crosses_a_desk_quote_internally_and_both_accounts_are_booked_exactly(tmp_path: Path) -> None:
    server = ServerProcess(conf(tmp_path, "20"), tmp_path / "data")
    url = server.start()
    try:
        assert (await desk(url))["stopped"] == "stopped"  # configured, not started: nothing quoted
        started = await admin(url, "desk", "start", "IBM")
        assert started["result"]["ok"], started
        status = await quoting(url)
        ask = Decimal(next(q["price"] for q in status["quotes"] if q["side"] == "sell"))
        async with BrokerClient(url, "tester", "tester-secret") as client:
            await client.subscribe(["quotes:IBM"])
            quote = await client.wait_for(lambda m: m.get("type") == "quote" and m.get("symbol") == "IBM", timeout=30)
            assert Decimal(quote["bid"]) < ask < Decimal(quote["ask"])  # inside the NBBO
            cash_before = Decimal((await account(url, client, "T01"))["cash"])
            desk_cash_before = Decimal((await account(url, client, "DESK"))["cash"])
            await client.new_order(account="T01", client_order_id="take", symbol="IBM", side="buy", type="market", qty="3", timeout=30)
            taken = await client.wait_for(lambda m: m.get("client_order_id") == "take" and m.get("status") == "filled", timeout=30)
            assert (taken["venue"], Decimal(taken["last_price"])) == ("INTERNAL", ask)
            assert await position(url, client, "T01") == 3 and await position(url, client, "DESK") == -3
            assert Decimal((await account(url, client, "T01"))["cash"]) == cash_before - 3 * ask
            assert Decimal((await account(url, client, "DESK"))["cash"]) == desk_cash_before + 3 * ask
        status = await desk(url)
        assert Decimal(status["position"]) == -3 and status["quoting"]
        bad = await admin(url, "desk", "tune", "IBM", "spread_bps=abc", "size=7")
        assert bad["type"] == "error" and "spread_bps" in bad["message"] and "nothing changed" in bad["message"], bad
        worse = await admin(url, "desk", "tune", "IBM", "size=0")
        assert worse["type"] == "error" and "size must be more than 0" in worse["message"], worse
        assert (await desk(url))["params"]["size"] == "5"
        tuned = await admin(url, "desk", "tune", "IBM", "size=7")
        assert tuned["result"]["desk"]["params"]["size"] == "7"
        stopped = await admin(url, "desk", "stop", "IBM")
        assert stopped["result"]["desk"]["stopped"] == "stopped"
        await quoting(url, count=0)  # every quote pulled
        check = await admin(url, "check")
        assert check["result"]["ok"], check
    finally:
        assert server.stop() == 0


async def test_after_kill_9_the_desk_keeps_its_quotes_and_position_never_passes_max_position_nor_resumes_after_a_loss_stop(tmp_path: Path) -> None:
    server = ServerProcess(conf(tmp_path, "6"), tmp_path / "data")
    url = server.start()
    try:
        async with BrokerClient(url, "tester", "tester-secret") as client:
            for seller in ("T01", "T02"):  # shares to sell the desk later, bought at the venue before it quotes
                await client.new_order(account=seller, client_order_id=f"own-{seller}", symbol="IBM", side="buy", type="market", qty="10", timeout=30)
                await client.wait_for(lambda m, s=seller: m.get("client_order_id") == f"own-{s}" and m.get("status") == "filled", timeout=30)
        await admin(url, "desk", "start", "IBM")
        await quoting(url)
        async with BrokerClient(url, "tester", "tester-secret") as client:
            await client.new_order(account="T01", client_order_id="hit", symbol="IBM", side="sell", type="market", qty="5", timeout=30)
            await client.wait_for(lambda m: m.get("client_order_id") == "hit" and m.get("status") == "filled", timeout=30)
        before = await quoting(url)
        assert Decimal(before["position"]) == 5
        assert {(q["side"], q["leaves"]) for q in before["quotes"]} == {("buy", "1"), ("sell", "5")}  # 5 + 1 = max_position
        server.kill9()
        url = server.start()
        after = await quoting(url)
        assert (after["position"], after["quoting"]) == (before["position"], True)
        assert [(q["client_order_id"], q["order_id"], q["price"], q["leaves"]) for q in after["quotes"]] == [
            (q["client_order_id"], q["order_id"], q["price"], q["leaves"]) for q in before["quotes"]
        ]
        async with BrokerClient(url, "tester", "tester-secret") as client:
            await client.new_order(account="T02", client_order_id="hit2", symbol="IBM", side="sell", type="market", qty="5", timeout=30)
            await client.wait_for(lambda m: m.get("client_order_id") == "hit2" and m.get("status") == "filled", timeout=30)
            assert await position(url, client, "DESK") == 6  # one crossed with the desk, the rest went to the venue
        status = await desk(url)
        assert Decimal(status["position"]) == 6 and all(q["side"] == "sell" for q in status["quotes"])
        assert (await admin(url, "desk", "tune", "IBM", "max_loss=0.01"))["result"]["ok"]  # 0.18 up at the mid: still quoting
        check = await admin(url, "check")
        assert check["result"]["ok"], check
        assert server.stop() == 0
        conf(tmp_path, "6", FALLING)  # long 6 bought at 149.97: a mid under 149.965 is a loss past 0.01
        url = server.start()
        deadline = time.monotonic() + 60
        while not (status := await desk(url))["stopped_by_loss"]:
            assert Decimal(status["position"]) <= 6 and time.monotonic() < deadline, status
            await asyncio.sleep(0.1)
        await quoting(url, count=0)
        server.kill9()
        url = server.start()
        for _ in range(10):  # venue B's market keeps moving; the desk quotes nothing, whatever it does
            status = await desk(url)
            assert status["stopped_by_loss"] and status["quotes"] == [] and Decimal(status["position"]) <= 6, status
            await asyncio.sleep(0.3)
        async with BrokerClient(url, "tester", "tester-secret") as client:
            assert await position(url, client, "DESK") == Decimal(status["position"])
        check = await admin(url, "check")
        # every journal but the still sim venue's replays to the live state: that venue replays
        # its ticks from its first record under the [sim] of this run, which changed
        assert [p for p in check["result"]["problems"] if not p.startswith("venue-SIM: replay")] == [], check
    finally:
        assert server.stop() == 0
