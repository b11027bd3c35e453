"""kill -9 of an account shard right after it booked a sale's fill — cash, position and the
tax lots it closed — before any report of it left (crash point ``fill.before_send``). Ray
restarts the shard, it rebuilds its books from snapshot and journal, and the sale is booked
once: the client gets its fill, the lots and closings agree with the cash the client was
told, a sale naming a lot after the restart closes it, ``admin check`` is ok, and a
whole-server restart finds the same books."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from model import fixed
from model.routing import shard_of
from server.client.sdk import BrokerClient
from tests.conftest import TEST_ACCOUNTS
from tests.integration.helpers import cloid, final_report, trades
from tests.integration.recovery import ServerProcess, admin, wait_restarted, write_conf
from tests.integration.test_lots import assert_books, assert_closed, booked_cash, buy_at_a_new_price, filled, gains, open_lots, snapshot_of

pytestmark = pytest.mark.asyncio(loop_scope="session")

SHARDS = 2  # the demo topology's account shards
SHARD = 1
ACCOUNT = next(account for account in TEST_ACCOUNTS if shard_of(account, SHARDS) == SHARD)
ACTOR = f"account-{SHARD}"


async def test_a_shard_killed_after_booking_a_sale_s_fill_books_it_once(tmp_path: Path, ray_address: str) -> None:
    # snapshots every few records: the restart reads the books from a snapshot, then the journal
    config = write_conf(tmp_path / "conf", snapshot_every_events=5)
    data = tmp_path / "data"
    server = ServerProcess(config, data, address=ray_address)
    with server.running() as url:
        async with BrokerClient(url, "tester", "tester-secret") as client:
            assert (await client.subscribe(["quotes:IBM"]))["type"] == "subscribed"
            first, first_cash = await filled(client, ACCOUNT, "buy", "10")
            _, second_cash = await buy_at_a_new_price(client, ACCOUNT, "10", Decimal(first["avg_price"]))
            bought = first_cash + second_cash
            lots = await open_lots(client, ACCOUNT)
            assert [lot["lot_id"] for lot in lots] == [1, 2]

    server.env["BROKERD_CRASH_AT"] = f"fill.before_send:1:{ACTOR}"  # the next fill the shard books: the sale's
    with server.running() as url:
        async with BrokerClient(url, "tester", "tester-secret") as client:
            client_order_id = cloid("crash")
            ack = await client.new_order(ACCOUNT, client_order_id, "IBM", "sell", "market", qty="4")
            assert ack["status"] == "new", ack
            await wait_restarted(url, ACTOR)
            assert (data / "crashed-fill.before_send").exists()
            done = await final_report(client, client_order_id, timeout=90)
            assert (done["status"], done["cum_qty"]) == ("filled", "4"), done
            fills = [t for t in trades(client, ACCOUNT) if t["order_id"] == done["order_id"]]
            assert sum(Decimal(t["last_qty"]) for t in fills) == 4, fills
            sold = booked_cash(client, done)
            [mine] = [o for o in (await client.get_orders(ACCOUNT))["orders"] if o["client_order_id"] == client_order_id]
            assert (mine["status"], mine["cum_qty"]) == ("filled", "4"), mine
            assert_closed(lots, (await gains(client, ACCOUNT))["gains"], [(1, fixed.parse("4"))], sold, done["order_id"])
            lots, closed = await assert_books(client, ACCOUNT, bought, sold)

            # the restarted shard's books go on: a sale naming lot 2
            done, cash = await filled(client, ACCOUNT, "sell", "3", lots=[(2, "3")])
            sold += cash
            assert_closed(lots, (await gains(client, ACCOUNT))["gains"][len(closed["gains"]) :], [(2, fixed.parse("3"))], cash, done["order_id"])
            await assert_books(client, ACCOUNT, bought, sold)
            before = await snapshot_of(client, ACCOUNT)
        check = await admin(url, "check")
        assert check["result"]["ok"], check

    with server.running() as url:
        async with BrokerClient(url, "tester", "tester-secret") as client:
            assert await snapshot_of(client, ACCOUNT) == before
            await assert_books(client, ACCOUNT, bought, sold)
        check = await admin(url, "check")
        assert check["result"]["ok"], check
