"""The strategy actor on a running server (its own process, a real Ray cluster): a file
refused whole, a strategy on paper beside the same strategy live with three investors, on
the same minutes — each live order split into one child order per investor account,
through each account's shard with every risk check, filled by the simulated venue and
booked in each account — with the actor killed (SIGKILL, by Ray's restart of it) right
after it journaled its first live order's children and before sending them: the restarted
actor sends them, once, and goes on; each investor's account holds exactly its share and
its cash moved by exactly what its children booked, the shares summing to the model book's;
every child is at its account exactly once, paper sent nothing, and every journal replays
to the live state."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from server.client.sdk import BrokerClient
from tests.integration.recovery import ServerProcess, admin, wait_restarted, write_conf_dir

pytestmark = pytest.mark.asyncio(loop_scope="session")

ACCOUNT = "T07"  # the live account: the first investor, with the strategy's capital
INVESTORS = {ACCOUNT: "100000.00", "T08": "50000.00", "T09": "150000.00"}  # 2 : 1 : 3
SPLIT = {ACCOUNT: "2", "T08": "1", "T09": "3"}  # the investors' shares of a buy of 6
START_CASH = "1000000.00"  # each test account's
# Buys 6 IBM on every bar it holds nothing, sells after holding one bar: an order every minute or two
EVERY_BAR = """
[strategy]
name = "every-bar"
symbols = ["IBM"]
capital = "100000.00"
[entry]
when = "close > 0"
[sizing]
mode = "quantity"
value = "6"
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
    """Every investor's orders from the strategy, as the trader's API shows them."""
    found = []
    async with BrokerClient(url, "tester", "tester-secret") as client:
        for account in INVESTORS:
            found += [order for order in (await client.get_orders(account))["orders"] if order["client_order_id"].startswith("strategy:")]
    return found


async def books(url: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The strategy's view and each investor's account (``admin account``), read while the
    strategy did not change in between (a bar may close meanwhile: then read again)."""
    while True:
        view = await listed(url, "s")
        accounts = {account: (await admin(url, "account", account))["result"]["account"] for account in INVESTORS}
        if await listed(url, "s") == view:
            return view, accounts


def held(account: dict[str, Any]) -> Decimal:
    return sum((Decimal(p["qty"]) for p in account["positions"] if p["symbol"] == "IBM"), Decimal(0))


def check_booked(view: dict[str, Any], accounts: dict[str, dict[str, Any]]) -> None:
    """Each investor's account holds what the strategy booked for it and its cash moved by
    exactly what its children booked; their sums are the model book's."""
    investors = {investor["account"]: investor for investor in view["investors"]}
    assert list(investors) == list(INVESTORS), view
    for account, investor in investors.items():
        assert investor["committed"] == INVESTORS[account]
        assert held(accounts[account]) == Decimal(investor["positions"].get("IBM", "0")), (account, investor, accounts[account])
        assert Decimal(accounts[account]["cash"]) == Decimal(START_CASH) + Decimal(investor["cash_booked"]), (account, investor, accounts[account])
    assert sum(held(a) for a in accounts.values()) == Decimal(view["positions"].get("IBM", "0"))
    committed = sum(Decimal(amount) for amount in INVESTORS.values())
    assert sum(Decimal(a["cash"]) - Decimal(START_CASH) for a in accounts.values()) == Decimal(view["cash"]) - committed


async def test_a_live_strategys_orders_split_to_3_investors_accounts_exactly_once_across_a_kill_9(tmp_path: Path, ray_address: str) -> None:
    config = write_conf_dir(
        tmp_path / "conf",
        """[server]
ws_port = 0

[sim]
quote_interval_ms = 100

[strategies]
actor = true
""",
        cash=START_CASH,
    )
    data = tmp_path / "data"
    imports = data / "imports"
    imports.mkdir(parents=True)
    (imports / "every-bar.toml").write_text(EVERY_BAR)
    (imports / "bad.toml").write_text(BAD)
    server = ServerProcess(config, data, env={"BROKERD_CRASH_AT": "strategy.before_send:1:strategy"}, address=ray_address)
    with server.running() as url:
        refused = await strategy(url, "create", "bad", "bad.toml")
        assert refused["type"] == "error" and "rsx" in refused["message"], refused
        assert (await strategy(url, "list"))["result"]["strategies"] == []
        for name in ("p", "s"):  # the same file twice: one stays on paper while the other trades live
            created = await strategy(url, "create", name, "every-bar.toml")
            assert created["result"]["strategy"]["mode"] == "backtest", created
        refused = await strategy(url, "start", "s")
        assert refused["type"] == "error" and "promote it to paper" in refused["message"], refused
        for name in ("p", "s"):
            assert (await strategy(url, "promote", name))["result"]["strategy"]["mode"] == "paper"

        # live: the account named (the first investor, with the capital); then two more
        refused = await strategy(url, "promote", "s", "NOPE")
        assert refused["type"] == "error" and "unknown account" in refused["message"], refused
        live = await strategy(url, "promote", "s", ACCOUNT)
        assert live["result"]["strategy"]["mode"] == "live" and live["result"]["strategy"]["orders"] == 0, live
        refused = await strategy(url, "subscribe", "s", "T10", "1000000.01")
        assert refused["type"] == "error" and "not enough" in refused["message"], refused
        for account, amount in list(INVESTORS.items())[1:]:
            assert (await strategy(url, "subscribe", "s", account, amount))["type"] != "error"
        # both run on the same minutes: paper's bars from the server's quotes, its orders
        # filled by the simulated venue; live's orders split to the investors' accounts
        for name in ("p", "s"):
            assert (await strategy(url, "start", name))["result"]["strategy"]["running"]

        # the first live order's children are journaled, then the actor dies before sending them
        await wait_restarted(url, "strategy", seconds=MINUTES_S)
        assert (data / "crashed-strategy.before_send").exists()

        async def bought() -> tuple[dict[str, Any], dict[str, dict[str, Any]]] | None:
            view, accounts = await books(url)
            return (view, accounts) if view["positions"].get("IBM") == "6" and not view["working_children"] else None

        view, accounts = await until("the first live order's three children filled", bought, MINUTES_S * 2)
        assert {account: str(held(a)) for account, a in accounts.items()} == SPLIT  # each its exact share
        check_booked(view, accounts)

        async def round_trip() -> dict[str, Any] | None:
            view = await listed(url, "s")
            return view if view["orders"] >= 2 and not view["positions"] and not view["working_children"] else None

        await until("the exit's three children filled", round_trip, MINUTES_S * 2)

        async def paper_filled() -> dict[str, Any] | None:  # on the same minutes: filled by now, or soon
            view = await listed(url, "p")
            return view if view["fills"] >= 1 else None

        paper = await until("a paper fill", paper_filled)
        assert paper["mode"] == "paper" and paper["orders"] >= 1, paper
        for name in ("p", "s"):
            await strategy(url, "stop", name)
        await asyncio.sleep(1)
        view, accounts = await books(url)
        check_booked(view, accounts)
        orders = await strategy_orders(url)
        ids = sorted(order["client_order_id"] for order in orders)
        children = [f"strategy:s-{n}-{k}" for n in range(1, view["orders"] + 1) for k in (1, 2, 3)]
        assert ids == sorted(children) and view["children"] == len(children), (ids, view)  # each once, none missing; paper sent nothing
        first = sorted((o for o in orders if o["client_order_id"].startswith("strategy:s-1-")), key=lambda o: o["client_order_id"])
        assert [(o["account"], o["side"], o["status"], o["qty"]) for o in first] == [(a, "buy", "filled", q) for a, q in SPLIT.items()]
        check = await admin(url, "check")
        assert check["result"]["ok"], check
