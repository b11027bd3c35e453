"""Splitting on a running server: an order larger than the best venue's displayed size is
swept across three venues — two simulated venues and the FIX market maker over a real FIX
session — each child filling at its venue's price; the rest rests at a venue until the
client's cancel fans out to it, and the account books every child's fills."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
import pytest_asyncio

from model.config import RoutingSection, VenueSection
from server.app import BrokerServer
from tests.conftest import ROOT, make_setup
from tests.integration.helpers import assert_book, cloid, connect, final_report, trades
from tests.integration.test_fix_venue import start_market_maker, stop, venue_open

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture(scope="module")
def maker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    # the sims quote once a minute, the market maker once a second (its first quote comes
    # then): each venue's price holds still while a child goes to it
    process, port = start_market_maker(tmp_path_factory.mktemp("mm"), "--symbols", "IBM", "--seed", "3", "--quote-interval-ms", "1000", "--fill-parts", "1")
    try:
        yield port
    finally:
        stop(process)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def sweep_server(ray_cluster: None, maker: int, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[BrokerServer]:
    conf: Path = tmp_path_factory.mktemp("sweepconf")
    session = (ROOT / "conf" / "fix" / "venue-MM1.cfg").read_text().replace("SocketConnectPort=9880", f"SocketConnectPort={maker}")
    (conf / "venue-MM1.cfg").write_text(session)
    setup = make_setup(f"sw-{uuid.uuid4().hex[:6]}", quote_interval_ms=60_000)
    venues = [VenueSection(name="SIM"), VenueSection(name="SIM2", sim_seed=11),
              VenueSection(name="MM1", kind="fix", session_config=str(conf / "venue-MM1.cfg"))]  # fmt: skip
    config = msgspec.structs.replace(setup.config, venues=venues, routing=RoutingSection(split=True, remainder="rest"))
    broker = BrokerServer(msgspec.structs.replace(setup, config=config), "127.0.0.1", 0)
    await broker.start()
    await venue_open(broker)
    yield broker
    await broker.stop()


async def test_a_sweep_over_a_sim_venue_another_and_a_fix_venue_fills_at_each_venue_s_price(sweep_server: BrokerServer) -> None:
    async with connect(sweep_server.url) as client:
        await client.subscribe(["quotes:IBM"])
        for _ in range(100):  # every venue's first quote is in the consolidated book
            await client.wait_for(lambda m: m.get("type") == "quote" and m.get("symbol") == "IBM", timeout=10)
            status = await sweep_server.supervisor.admin.remote("status", [])
            if all(a.get("session") == "open" for a in status["actors"] if a["name"].startswith("venue-")):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.5)  # the market maker's first quote
        best_ask = Decimal((await client.wait_for(lambda m: m.get("type") == "quote" and m.get("symbol") == "IBM", timeout=10))["ask"])
        limit = best_ask + Decimal("2.00")
        ack = await client.request({"op": "new_order", "account": "T21", "client_order_id": cloid("sw"), "symbol": "IBM", "side": "buy",
                                    "type": "limit", "price": str(limit), "qty": "3000"})
        assert ack["status"] == "new", ack
        order_id = ack["client_order_id"]
        for _ in range(200):  # each child takes its venue's displayed size
            fills = [t for t in trades(client, "T21") if t["client_order_id"] == order_id]
            if {t["venue"] for t in fills} >= {"SIM", "SIM2", "MM1"}:
                break
            await asyncio.sleep(0.05)
        by_venue: dict[str, set[Decimal]] = {}
        for fill in fills:
            by_venue.setdefault(fill["venue"], set()).add(Decimal(fill["last_price"]))
        assert set(by_venue) == {"SIM", "SIM2", "MM1"}, by_venue
        assert all(len(prices) == 1 for prices in by_venue.values()), by_venue  # one price per venue: its quote
        assert all(max(p) < limit for p in by_venue.values())
        filled = sum(Decimal(t["last_qty"]) for t in fills)
        assert 0 < filled < 3000  # the rest rests at a venue (quotes refresh once a minute)
        await client.request({"op": "cancel_order", "account": "T21", "client_order_id": order_id})
        final = await final_report(client, order_id)
        assert final["status"] == "canceled" and Decimal(final["cum_qty"]) == sum(Decimal(t["last_qty"]) for t in trades(client, "T21") if t["client_order_id"] == order_id)
        await assert_book(client, "T21")
