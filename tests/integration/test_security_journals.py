"""Journals of shares over a running server: shares moved between accounts on different
shards arrive as lots with their cost and acquisition date (nothing realized), positions and
costs follow on both sides; a batch with one bad leg of shares changes nothing anywhere."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any

import msgspec
import pytest
import pytest_asyncio

from model import fixed, lots
from model.accounts_file import AccountSeed
from model.config import User
from model.routing import shard_of
from server.app import BrokerServer
from server.client.sdk import BrokerClient
from tests.conftest import make_setup

pytestmark = pytest.mark.asyncio(loop_scope="session")

SHARDS = 2
ACQUIRED = date(2023, 5, 2)
NAMES = [f"H{n:02d}" for n in range(40)]
ZERO = [name for name in NAMES if shard_of(name, SHARDS) == 0][:3]
ONE = [name for name in NAMES if shard_of(name, SHARDS) == 1][:3]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server(ray_cluster: None) -> AsyncIterator[BrokerServer]:
    """``holder`` owns three accounts on each shard, each holding 100 IBM bought on 2023-05-02
    for 12,345.67 (one lot) and 1,000.00 of cash."""
    setup = make_setup(f"t-{uuid.uuid4().hex[:8]}", quote_interval_ms=25)
    user = User(key="holder", secret="holder-secret", role="trader", accounts=ZERO + ONE)
    seeds = [
        AccountSeed(name, "holder", 1_000 * fixed.SCALE, False, (("IBM", 100 * fixed.SCALE),), basis=(("IBM", fixed.parse("12345.67"), ACQUIRED.toordinal()),))
        for name in ZERO + ONE
    ]
    setup = msgspec.structs.replace(setup, users=[*setup.users, user], accounts=[*setup.accounts, *seeds])
    assert setup.config.topology.account_shards == SHARDS
    broker = BrokerServer(setup, "127.0.0.1", 0)
    await broker.start()
    yield broker
    await broker.stop()


async def holdings(client: BrokerClient, account: str) -> tuple[Decimal, Decimal, list[dict[str, Any]]]:
    """IBM's position quantity, its open lots' cost (the position's cost: ``admin check``
    holds the shard to it) and its open lots."""
    view = await client.get_account(account, timeout=30)
    assert view["type"] == "account", view
    position = next((p for p in view["positions"] if p["symbol"] == "IBM"), None)
    found = await client.request({"op": "get_lots", "account": account, "symbol": "IBM"}, timeout=30)
    assert found["type"] == "lots", found
    qty = Decimal(0) if position is None else Decimal(position["qty"])
    assert qty == sum((Decimal(lot["qty"]) for lot in found["lots"]), Decimal(0))
    kept = [{field: lot[field] for field in ("lot_id", "qty", "cost", "acquired", "term")} for lot in found["lots"]]  # not the moving marks
    return qty, sum((Decimal(lot["cost"]) for lot in found["lots"]), Decimal(0)), kept


def acquired_ns(day: date) -> int:
    return lots.day_start_ns(day.toordinal(), "America/New_York")


async def test_shares_move_across_shards_as_lots_with_their_cost_and_date(server: BrokerServer) -> None:
    source, target = ZERO[0], ONE[0]
    async with BrokerClient(server.url, "holder", "holder-secret") as client:
        assert (await client.subscribe(["transfers"]))["type"] == "subscribed"
        key = f"s-{uuid.uuid4().hex[:6]}"
        answer = await client.journal([{"from": source, "to": target, "symbol": "IBM", "qty": "40"}], key, timeout=60)
        assert (answer["type"], answer["status"]) == ("journal", "settled"), answer
        assert answer["entries"] == [{"from": source, "to": target, "symbol": "IBM", "qty": "40"}]
        qty, cost, source_lots = await holdings(client, source)
        # 40 of 100 leave with 40 % of the cost (split exactly, as a sale's part of a lot); the rest stays
        assert (qty, cost) == (Decimal("60"), Decimal("7407.402")), source_lots
        qty, cost, target_lots = await holdings(client, target)
        assert (qty, cost) == (Decimal("140"), Decimal("12345.67") + Decimal("4938.268"))
        arrived = [lot for lot in target_lots if lot["lot_id"] != 1]
        assert [(lot["qty"], lot["cost"], lot["acquired"], lot["term"]) for lot in arrived] == [("40", "4938.268", acquired_ns(ACQUIRED), "long")]
        credit = await client.wait_for(lambda m: m.get("type") == "transfer" and m.get("account") == target and m.get("status") == "settled", timeout=15)
        assert (credit["symbol"], credit["qty"], [lot["cost"] for lot in credit["lots"]]) == ("IBM", "40", ["4938.268"])
        assert "amount" not in credit
        gains = await client.request({"op": "get_gains", "account": source, "from": "2020-01-01", "to": "2099-12-31"}, timeout=30)
        assert (gains["type"], gains["gains"]) == ("gains", []), gains  # a transfer is not a sale: nothing realized
        again = await client.journal([{"from": source, "to": target, "symbol": "IBM", "qty": "40"}], key, timeout=60)
        assert (again["journal_id"], again["status"]) == (answer["journal_id"], "settled")
        assert (await holdings(client, target))[0] == Decimal("140")  # booked once


async def test_a_batch_with_one_bad_leg_of_shares_changes_nothing(server: BrokerServer) -> None:
    a, b, c, d = ZERO[1], ZERO[2], ONE[1], ONE[2]
    async with BrokerClient(server.url, "holder", "holder-secret") as client:
        before = {account: await holdings(client, account) for account in (a, b, c, d)}
        cash = {account: (await client.get_account(account))["cash"] for account in (a, b, c, d)}
        for bad, reason in (
            ({"from": d, "to": a, "symbol": "IBM", "qty": "100.5"}, "insufficient_position"),
            ({"from": d, "to": a, "symbol": "IBM", "qty": "1", "lots": [{"lot_id": 77, "qty": "1"}]}, "unknown_lot"),
        ):
            entries = [(a, c, "10.00"), {"from": a, "to": c, "symbol": "IBM", "qty": "10"}, {"from": c, "to": b, "symbol": "IBM", "qty": "5"}, bad]
            answer = await client.journal(entries, f"b-{uuid.uuid4().hex[:6]}", timeout=60)
            assert (answer["type"], answer["status"], answer["reason"]) == ("journal", "rejected", reason), answer
            assert {account: await holdings(client, account) for account in (a, b, c, d)} == before
            assert {account: (await client.get_account(account))["cash"] for account in (a, b, c, d)} == cash
            for account in (a, b, c, d):
                assert (await client.get_transfers(account))["transfers"] == []
        refused = await client.journal([{"from": a, "to": c, "symbol": "NOPE", "qty": "1"}], f"b-{uuid.uuid4().hex[:6]}")
        assert (refused["type"], refused["code"]) == ("error", "unknown_symbol"), refused
        good = await client.journal([{"from": a, "to": c, "symbol": "IBM", "qty": "10", "lots": [{"lot_id": 1, "qty": "10"}]}], f"g-{uuid.uuid4().hex[:6]}", timeout=60)
        assert good["status"] == "settled", good
    async with BrokerClient(server.url, "admin", "admin-secret") as admin:
        checked = await admin.request({"op": "admin", "command": "check", "args": []}, timeout=60)
    assert checked["result"]["ok"], checked
