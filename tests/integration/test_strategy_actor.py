"""The strategy actor on a running server (its own process, a real Ray cluster): a file
refused whole, a strategy on paper, then live — its orders through the account shard with
every risk check — with the actor killed (SIGKILL, by Ray's restart of it) right after it
journaled its first live order and before sending it: the restarted actor sends it, once,
and goes on; every order the strategy placed is at the account exactly once, and every
journal replays to the live state."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from server.client.sdk import BrokerClient
from tests.integration.recovery import ServerProcess, admin, wait_restarted, write_conf_dir

pytestmark = pytest.mark.asyncio(loop_scope="session")

ACCOUNT = "T07"
# Buys 5 IBM on every bar it holds nothing, sells after holding one bar: an order every minute or two
EVERY_BAR = """
[strategy]
name = "every-bar"
symbols = ["IBM"]
capital = "100000.00"
[entry]
when = "close > 0"
[sizing]
mode = "quantity"
value = "5"
[exit]
when = "bars_held >= 1"
"""
BAD = EVERY_BAR.replace("close > 0", "rsx(14) < 30")
MINUTES_S = 200  # a minute bar closes at the first quote of the next minute: up to two minutes to the first order


async def strategy(url: str, *args: str) -> dict[str, Any]:
    return await admin(url, "strategy", *args)


async def listed(url: str, name: str) -> dict[str, Any]:
    reply = await strategy(url, "list")
    [found] = [s for s in reply["result"]["strategies"] if s["name"] == name]
    return found


async def until(what: str, check: Any, seconds: float = MINUTES_S) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.5)


async def strategy_orders(url: str) -> list[dict[str, Any]]:
    async with BrokerClient(url, "tester", "tester-secret") as client:
        orders = (await client.get_orders(ACCOUNT))["orders"]
    return [order for order in orders if order["client_order_id"].startswith("strategy:")]


async def test_a_strategy_on_paper_then_live_sends_each_order_once_across_a_kill_9(tmp_path: Path) -> None:
    config = write_conf_dir(
        tmp_path / "conf",
        """[server]
ws_port = 0

[sim]
quote_interval_ms = 100

[strategies]
actor = true
""",
    )
    data = tmp_path / "data"
    imports = data / "imports"
    imports.mkdir(parents=True)
    (imports / "every-bar.toml").write_text(EVERY_BAR)
    (imports / "bad.toml").write_text(BAD)
    server = ServerProcess(config, data, env={"BROKERD_CRASH_AT": "strategy.before_send:1:strategy"})
    with server.running() as url:
        refused = await strategy(url, "create", "bad", "bad.toml")
        assert refused["type"] == "error" and "rsx" in refused["message"], refused
        assert (await strategy(url, "list"))["result"]["strategies"] == []
        created = await strategy(url, "create", "s", "every-bar.toml")
        assert created["result"]["strategy"]["mode"] == "backtest", created
        refused = await strategy(url, "start", "s")
        assert refused["type"] == "error" and "promote it to paper" in refused["message"], refused

        # paper: bars from the server's quotes, orders filled by the simulated venue
        assert (await strategy(url, "promote", "s"))["result"]["strategy"]["mode"] == "paper"
        assert (await strategy(url, "start", "s"))["result"]["strategy"]["running"]

        async def paper_filled() -> bool:
            return (await listed(url, "s"))["fills"] >= 1

        await until("a paper fill", paper_filled)
        assert await strategy_orders(url) == []  # paper sends nothing to the account

        # live: the account named; unknown accounts are refused
        refused = await strategy(url, "promote", "s", "NOPE")
        assert refused["type"] == "error" and "unknown account" in refused["message"], refused
        live = await strategy(url, "promote", "s", ACCOUNT)
        assert live["result"]["strategy"]["mode"] == "live" and live["result"]["strategy"]["orders"] == 0, live

        # the first live order is journaled, then the actor dies before sending it
        await wait_restarted(url, "strategy", seconds=MINUTES_S)
        assert (data / "crashed-strategy.before_send").exists()

        async def two_filled() -> list[dict[str, Any]]:
            orders = await strategy_orders(url)
            return orders if sum(order["status"] == "filled" for order in orders) >= 2 else []

        orders = await until("two live orders filled", two_filled, MINUTES_S * 2)
        await strategy(url, "stop", "s")
        await asyncio.sleep(1)
        orders = await strategy_orders(url)
        view = await listed(url, "s")
        ids = [order["client_order_id"] for order in orders]
        assert sorted(ids) == sorted(f"strategy:s-{n}" for n in range(1, view["orders"] + 1)), (ids, view)  # each once, none missing
        assert [order["side"] for order in sorted(orders, key=lambda o: int(o["client_order_id"].rsplit("-", 1)[1]))][:2] == ["buy", "sell"]
        check = await admin(url, "check")
        assert check["result"]["ok"], check
