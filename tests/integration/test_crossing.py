"""Internal crossing on a running server: a client's resting limit order crossed by another
client's market order at the NBBO's mid, both accounts booked exactly as venue fills are,
the executions (venue INTERNAL) on the clearing drop copy."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import ROUND_FLOOR, Decimal

import msgspec
import pytest
import pytest_asyncio

from model.config import CrossingSection, DropCopySection
from server.app import BrokerServer
from tests.conftest import ROOT, make_setup
from tests.integration.fixtools import free_port
from tests.integration.helpers import cloid, connect, final_report, trades
from tests.integration.test_drop_copy import PASSWORD, Clearing, clearing_client

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture(scope="module")
def fix_port() -> int:
    return free_port()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def xserver(ray_cluster: None, fix_port: int) -> AsyncIterator[BrokerServer]:
    # the sim quotes once a minute: the NBBO holds still while the test reads and crosses it
    setup = make_setup(f"x-{uuid.uuid4().hex[:6]}", quote_interval_ms=60_000)
    config = msgspec.structs.replace(
        setup.config,
        server=msgspec.structs.replace(setup.config.server, fix_port=fix_port),
        drop_copy=DropCopySection(enabled=True, session_config=str(ROOT / "conf" / "fix" / "dropcopy.cfg")),
        crossing=CrossingSection(enabled=True, rest_limit_orders=True, max_quote_age_ms=3_600_000),
    )
    broker = BrokerServer(msgspec.structs.replace(setup, config=config), "127.0.0.1", 0)
    await broker.start()
    yield broker
    await broker.stop()


@pytest.fixture(scope="module")
def clearing(xserver: BrokerServer, fix_port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clearing]:
    app, initiator = clearing_client(tmp_path_factory.mktemp("clearing"), fix_port, PASSWORD)
    try:
        assert app.logged_on.wait(15), "clearing did not log on"
        yield app
    finally:
        initiator.stop()


async def test_a_market_order_crosses_a_resting_limit_at_the_mid_and_both_accounts_book_it_exactly(xserver: BrokerServer, clearing: Clearing) -> None:
    async with connect(xserver.url) as client:
        await client.subscribe(["quotes:IBM"])
        quote = await client.wait_for(lambda m: m.get("type") == "quote" and m.get("symbol") == "IBM", timeout=10)
        bid, ask = Decimal(quote["bid"]), Decimal(quote["ask"])
        mid = ((bid + ask) / 2).quantize(Decimal("0.01"), rounding=ROUND_FLOOR)
        assert bid < mid < ask or bid <= mid  # the sim's spread is 10 bps: several ticks
        # the seller first buys its shares at the venue
        seed = cloid("x")
        await client.request({"op": "new_order", "account": "T12", "client_order_id": seed, "symbol": "IBM", "side": "buy", "type": "market", "qty": "5"})
        assert (await final_report(client, seed))["status"] == "filled"
        before = {account: await client.get_account(account) for account in ("T11", "T12")}
        # a sell limit above the bid rests in the internal book; a market buy crosses it at the mid
        sell, buy = cloid("xs"), cloid("xb")
        price = max(mid, bid + Decimal("0.01"))
        ack = await client.request({"op": "new_order", "account": "T12", "client_order_id": sell, "symbol": "IBM", "side": "sell",
                                    "type": "limit", "price": str(price), "qty": "3"})
        assert ack["status"] == "new"
        await client.request({"op": "new_order", "account": "T11", "client_order_id": buy, "symbol": "IBM", "side": "buy", "type": "market", "qty": "3"})
        bought, sold = await final_report(client, buy), await final_report(client, sell)
        assert bought["status"] == sold["status"] == "filled"
        fills = [t for t in trades(client, "T11") + trades(client, "T12") if t["client_order_id"] in (buy, sell)]
        assert [(t["venue"], Decimal(t["last_price"]), Decimal(t["last_qty"])) for t in fills] == [("INTERNAL", price, Decimal(3))] * 2
        assert bid <= price <= ask
        after = {account: await client.get_account(account) for account in ("T11", "T12")}
    value = Decimal(3) * price
    assert Decimal(after["T11"]["cash"]) == Decimal(before["T11"]["cash"]) - value
    assert Decimal(after["T12"]["cash"]) == Decimal(before["T12"]["cash"]) + value
    position = {account: {p["symbol"]: Decimal(p["qty"]) for p in view["positions"]} for account, view in (("T11", after["T11"]), ("T12", after["T12"]))}
    was = {p["symbol"]: Decimal(p["qty"]) for p in before["T11"]["positions"]}.get("IBM", Decimal(0))
    assert position["T11"]["IBM"] == was + 3 and position["T12"]["IBM"] == Decimal(2)
    for _ in range(100):  # both executions reach the clearing firm, as venue fills do
        copied = {r.get(17): r for r in clearing.reports if r.get(150) == "F"}
        if all(f["exec_id"] in copied for f in fills):
            break
        await asyncio.sleep(0.05)
    for fill in fills:
        copy = copied[fill["exec_id"]]
        assert copy[1] == fill["account"] and Decimal(copy[31]) == price and Decimal(copy[32]) == 3


async def test_the_instrument_actor_reports_its_crossings(xserver: BrokerServer) -> None:
    status = await xserver.supervisor.admin.remote("status", [])
    crossing = [actor["crossing"] for actor in status["actors"] if actor["name"].startswith("instrument-")]
    assert all(c["enabled"] for c in crossing) and sum(c["counts"].get("crossed", 0) for c in crossing) >= 2
