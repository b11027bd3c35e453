"""A trader against the whole server: real Ray actors, a real WebSocket, the sim venue."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from server.app import BrokerServer
from tests.integration.helpers import assert_book, cloid, connect, final_report

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_limit_order_rests_then_cancel_releases_its_buying_power(server: BrokerServer) -> None:
    async with connect(server.url) as client:
        before = await client.get_account("T01")
        order_id = cloid()
        ack = await client.new_order("T01", order_id, "IBM", "buy", type="limit", qty="10", price="140.00")
        assert (ack["exec_type"], ack["status"], ack["leaves_qty"]) == ("new", "new", "10")
        resting = await client.get_account("T01")
        assert Decimal(resting["buying_power"]) == Decimal(before["buying_power"]) - Decimal("1400.00")
        canceled = await client.cancel_order("T01", order_id)
        assert (canceled["exec_type"], canceled["status"], canceled["client_order_id"]) == ("canceled", "canceled", order_id)
        after = await client.get_account("T01")
        assert after["buying_power"] == before["buying_power"] == after["cash"]
        await assert_book(client, "T01")


async def test_market_order_larger_than_the_quote_fills_in_parts(server: BrokerServer) -> None:
    async with connect(server.url) as client:
        order_id = cloid()
        ack = await client.new_order("T02", order_id, "XYZ", "buy", type="market", qty="2000")
        assert ack["status"] == "new"
        done = await final_report(client, order_id)
        assert (done["status"], done["cum_qty"], done["leaves_qty"]) == ("filled", "2000", "0")
        parts = [m for m in client.history if m.get("client_order_id") == order_id and m.get("exec_type") == "trade"]
        assert len(parts) >= 2
        assert [p["status"] for p in parts[:-1]] == ["partially_filled"] * (len(parts) - 1)
        assert sum(Decimal(p["last_qty"]) for p in parts) == Decimal(2000)
        await assert_book(client, "T02")


async def test_fractional_buy_and_sell_book_cash_to_the_cent(server: BrokerServer) -> None:
    async with connect(server.url) as client:
        buy = cloid()
        await client.new_order("T03", buy, "IBM", "buy", type="market", qty="1.3")
        assert (await final_report(client, buy))["status"] == "filled"
        sell = cloid()
        await client.new_order("T03", sell, "IBM", "sell", type="market", qty="0.3")
        assert (await final_report(client, sell))["status"] == "filled"
        view = await assert_book(client, "T03")
        assert view["positions"][0]["qty"] == "1"


async def test_notional_buy_never_costs_more_than_asked(server: BrokerServer) -> None:
    async with connect(server.url) as client:
        order_id = cloid()
        ack = await client.new_order("T04", order_id, "AAPL", "buy", type="market", notional="100.00")
        assert (ack["status"], ack["notional"], ack["qty"]) == ("new", "100.00", None)
        done = await final_report(client, order_id)
        assert done["status"] == "filled"
        view = await assert_book(client, "T04")
        spent = Decimal("1000000.00") - Decimal(view["cash"])
        assert Decimal("99.00") < spent <= Decimal("100.00")
        assert Decimal(view["positions"][0]["qty"]) * Decimal(done["avg_price"]) <= Decimal("100.00")


async def test_replace_changes_price_and_qty_then_cancel(server: BrokerServer) -> None:
    async with connect(server.url) as client:
        first, second = cloid(), cloid()
        await client.new_order("T05", first, "MSFT", "buy", type="limit", qty="2", price="380.00")
        replaced = await client.replace_order("T05", first, second, qty="3", price="381.00")
        assert (replaced["exec_type"], replaced["client_order_id"], replaced["qty"], replaced["price"]) == ("replaced", second, "3", "381")
        orders = await client.get_orders("T05")
        statuses = {o["client_order_id"]: o["status"] for o in orders["orders"]}
        assert statuses == {first: "replaced", second: "new"}
        view = await client.get_account("T05")
        assert Decimal(view["cash"]) - Decimal(view["buying_power"]) == Decimal("1143.00")
        assert (await client.cancel_order("T05", second))["status"] == "canceled"
        assert (await client.cancel_order("T05", first))["code"] == "order_not_open"


async def test_cancel_all_cancels_only_the_named_symbol(server: BrokerServer) -> None:
    async with connect(server.url) as client:
        ibm = [cloid() for _ in range(3)]
        for order_id in ibm:
            await client.new_order("T06", order_id, "IBM", "buy", type="limit", qty="1", price="140.00")
        keep = cloid()
        await client.new_order("T06", keep, "SPY", "buy", type="limit", qty="1", price="520.00")
        reply = await client.cancel_all("T06", symbol="IBM")
        assert (reply["type"], reply["requested"]) == ("cancel_all", 3)
        for order_id in ibm:
            assert (await final_report(client, order_id))["status"] == "canceled"
        open_orders = await client.get_orders("T06", open_only=True)
        assert [o["client_order_id"] for o in open_orders["orders"]] == [keep]


async def test_stop_orders_wait_for_their_trigger(server: BrokerServer) -> None:
    async with connect(server.url) as client:
        await client.subscribe(["quotes:SPY"])
        quote = await client.wait_for(lambda m: m.get("type") == "quote" and m.get("symbol") == "SPY", timeout=10)
        ask = Decimal(quote["ask"])
        triggered, waiting = cloid(), cloid()
        await client.new_order("T07", triggered, "SPY", "buy", type="stop", qty="2", stop_price=str(ask - Decimal("1.00")))
        await client.new_order("T07", waiting, "SPY", "buy", type="stop_limit", qty="2", stop_price=str(ask + Decimal("20.00")), price=str(ask + Decimal("21.00")))
        assert (await final_report(client, triggered))["status"] == "filled"
        await asyncio.sleep(0.3)
        orders = await client.get_orders("T07", open_only=True)
        assert [o["client_order_id"] for o in orders["orders"]] == [waiting]
        assert (await client.cancel_order("T07", waiting))["status"] == "canceled"
        await assert_book(client, "T07")


async def test_immediate_or_cancel_remainder_is_canceled(server: BrokerServer) -> None:
    async with connect(server.url) as client:
        order_id = cloid()
        await client.new_order("T08", order_id, "XYZ", "buy", type="market", qty="5000", tif="ioc")
        done = await final_report(client, order_id)
        assert done["status"] == "canceled" and done["reason"] == "ioc_remainder"
        assert Decimal("0") < Decimal(done["cum_qty"]) < Decimal("5000")
        await assert_book(client, "T08")


async def test_risk_rejections_are_execution_reports_with_reasons(server: BrokerServer) -> None:
    async with connect(server.url) as client:
        too_big = await client.new_order("T09", cloid(), "MSFT", "buy", type="limit", qty="3000", price="410.00")
        assert (too_big["exec_type"], too_big["reason"]) == ("rejected", "insufficient_buying_power")
        no_shares = await client.new_order("T09", cloid(), "MSFT", "sell", type="market", qty="1")
        assert no_shares["reason"] == "insufficient_position"
        off_band = await client.new_order("T09", cloid(), "MSFT", "buy", type="limit", qty="1", price="300.00")
        assert off_band["reason"] == "price_out_of_band"
        huge = await client.new_order("T09", cloid(), "XYZ", "buy", type="limit", qty="1000001", price="25.00")
        assert huge["reason"] == "max_order_size"
        view = await client.get_account("T09")
        assert view["cash"] == view["buying_power"] == "1000000.00"


async def test_resending_a_client_order_id_returns_the_original_order(server: BrokerServer) -> None:
    async with connect(server.url) as client:
        order_id = cloid()
        first = await client.new_order("T10", order_id, "IBM", "buy", type="limit", qty="1", price="140.00")
        again = await client.new_order("T10", order_id, "IBM", "buy", type="limit", qty="1", price="140.00")
        assert again["order_id"] == first["order_id"] and again["exec_type"] == "new"
        different = await client.new_order("T10", order_id, "IBM", "buy", type="limit", qty="2", price="140.00")
        assert (different["status"], different["reason"]) == ("rejected", "duplicate_client_order_id")
        orders = await client.get_orders("T10")
        assert len(orders["orders"]) == 1 and orders["orders"][0]["qty"] == "1"


async def test_batched_new_orders_get_one_reply_each(server: BrokerServer) -> None:
    async with connect(server.url) as client:
        ids = [cloid() for _ in range(50)]
        orders = [
            {"account": "T11", "client_order_id": i, "symbol": "IBM", "side": "buy", "type": "limit", "qty": "0.5", "price": "140.00"}
            for i in ids
        ]
        orders[7]["symbol"] = "NOPE"
        replies = await client.new_orders(orders)
        assert len(replies) == 50
        assert [r["client_order_id"] for r in replies] == ids
        assert replies[7]["type"] == "error" and replies[7]["code"] == "unknown_symbol"
        assert all(r["status"] == "new" for i, r in enumerate(replies) if i != 7)
        assert (await client.cancel_all("T11"))["requested"] == 49


async def test_option_trades_whole_contracts_and_pays_the_multiplier(server: BrokerServer) -> None:
    async with connect(server.url) as client:
        half = await client.new_order("T12", cloid(), "AAPL261218C00200000", "buy", type="market", qty="0.5")
        assert half["type"] == "error" and "whole units" in half["message"]
        order_id = cloid()
        await client.new_order("T12", order_id, "AAPL261218C00200000", "buy", type="market", qty="2")
        done = await final_report(client, order_id)
        view = await client.get_account("T12")
        assert Decimal(view["cash"]) == Decimal("1000000.00") - Decimal(done["avg_price"]) * 2 * 100


async def test_two_clients_trade_at_once_and_each_sees_only_its_own(server: BrokerServer) -> None:
    async with connect(server.url) as first, connect(server.url, "trader2", "trader2-secret") as second:
        async def place(client, account: str, prefix: str) -> list[str]:  # type: ignore[no-untyped-def]
            ids = [cloid(prefix) for _ in range(20)]
            await asyncio.gather(*(client.new_order(account, i, "IBM", "buy", type="market", qty="0.1") for i in ids))
            return ids

        ids_one, ids_two = await asyncio.gather(place(first, "T13", "one"), place(second, "B1", "two"))
        for order_id in ids_one:
            assert (await final_report(first, order_id))["status"] == "filled"
        for order_id in ids_two:
            assert (await final_report(second, order_id))["status"] == "filled"
        assert not [m for m in first.history if m.get("account") == "B1"]
        assert not [m for m in second.history if m.get("account") == "T13"]
        await assert_book(first, "T13")
        await assert_book(second, "B1", opening_cash="50000.00")


async def test_an_idle_venue_journals_a_tick_per_wakeup_not_per_event_loop_turn(server: BrokerServer) -> None:
    # The sim quotes every 25 ms here, so its clock wakes about 40 times a second. A clock
    # that looked again before its tick was applied journaled tens of thousands a second.
    async def venue_inputs() -> int:
        async with connect(server.url, "admin", "admin-secret") as admin:
            reply = await admin.request({"op": "admin", "command": "status", "args": []})
        return next(actor["applied"] for actor in reply["result"]["actors"] if actor["name"] == "venue-SIM")

    before = await venue_inputs()
    await asyncio.sleep(2)
    grown = await venue_inputs() - before
    assert grown < 2 * 2 * 40 + 20, f"venue-SIM applied {grown} inputs in 2 s idle"
