"""The venue's trading session closing: day orders expire, gtc orders stay, new orders are refused."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from server.app import BrokerServer
from tests.conftest import make_setup
from tests.integration.helpers import cloid, connect, final_report

pytestmark = pytest.mark.asyncio(loop_scope="session")
SESSION_S = 4


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def closing_server(ray_cluster: None) -> AsyncIterator[BrokerServer]:
    setup = make_setup(f"t-{uuid.uuid4().hex[:8]}", quote_interval_ms=25, session_length_s=SESSION_S)
    broker = BrokerServer(setup, "127.0.0.1", 0)
    await broker.start()
    yield broker
    await broker.stop()


async def test_at_the_close_day_orders_expire_and_gtc_orders_stay(closing_server: BrokerServer) -> None:
    async with connect(closing_server.url) as client:
        day, gtc = cloid(), cloid()
        await client.new_order("T30", day, "IBM", "buy", type="limit", qty="1", price="140.00", tif="day")
        await client.new_order("T30", gtc, "IBM", "buy", type="limit", qty="1", price="140.00", tif="gtc")
        expired = await final_report(client, day, timeout=SESSION_S + 10)
        assert (expired["status"], expired["reason"]) == ("expired", "end_of_day")
        await asyncio.sleep(0.2)
        open_orders = await client.get_orders("T30", open_only=True)
        assert [o["client_order_id"] for o in open_orders["orders"]] == [gtc]
        view = await client.get_account("T30")
        assert view["buying_power"] == "999860.00"  # only the gtc order still holds cash
        late = cloid()
        refused = await client.new_order("T30", late, "IBM", "buy", type="market", qty="1")
        if refused["status"] == "new":  # accepted by risk, refused by the closed venue
            refused = await final_report(client, late)
        assert (refused["status"], refused["reason"]) == ("rejected", "market_closed")
