"""Client cash movements over a running server: a deposit asked on the WebSocket and settled
by a cashier's admin command, seen on the ``transfers`` stream and in the account's cash; a
withdrawal's hold that an order cannot spend; journals between accounts on different shards,
a batch with one bad leg changing nothing anywhere; and a journal across owners, refused to
a trader and booked for a cashier."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import msgspec
import pytest
import pytest_asyncio

from model.accounts_file import AccountSeed
from model import fixed
from model.config import User
from model.routing import shard_of
from server.app import BrokerServer
from server.client.sdk import BrokerClient
from tests.conftest import TEST_ACCOUNTS, make_setup
from tests.integration.helpers import cloid, connect

pytestmark = pytest.mark.asyncio(loop_scope="session")

SHARDS = 2  # the demo topology's account shards
OTHERS = "X1"  # an account of another owner that the user "mixed" also names


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server(ray_cluster: None) -> AsyncIterator[BrokerServer]:
    setup = make_setup(f"t-{uuid.uuid4().hex[:8]}", quote_interval_ms=25)
    users = [
        User(key="cashier1", secret="cashier1-secret", role="cashier"),
        User(key="mixed", secret="mixed-secret", role="trader", accounts=[TEST_ACCOUNTS[-1], OTHERS]),
    ]
    accounts = [AccountSeed(OTHERS, "somebody-else", 1_000 * fixed.SCALE)]
    setup = msgspec.structs.replace(setup, users=[*setup.users, *users], accounts=[*setup.accounts, *accounts])
    assert setup.config.topology.account_shards == SHARDS
    broker = BrokerServer(setup, "127.0.0.1", 0)
    await broker.start()
    yield broker
    await broker.stop()


def on_shard(shard: int, skip: int = 0) -> str:
    return [account for account in TEST_ACCOUNTS[:-1] if shard_of(account, SHARDS) == shard][skip]


async def cash_of(client: BrokerClient, account: str) -> tuple[Decimal, Decimal]:
    view = await client.get_account(account)
    assert view["type"] == "account", view
    return Decimal(view["cash"]), Decimal(view["buying_power"])


async def admin(key: str, url: str, *words: str) -> dict[str, Any]:
    async with BrokerClient(url, key, f"{key}-secret") as client:
        reply: dict[str, Any] = await client.request({"op": "admin", "command": words[0], "args": list(words[1:])}, timeout=30)
    return reply


async def test_a_deposit_settled_by_the_cashier_reaches_the_stream_and_the_cash(server: BrokerServer) -> None:
    account = on_shard(0)
    async with connect(server.url) as client:
        assert (await client.subscribe(["transfers"]))["type"] == "subscribed"
        before, _ = await cash_of(client, account)
        key = f"dep-{uuid.uuid4().hex[:6]}"
        made = await client.deposit(account, "250.25", key)
        assert (made["type"], made["status"], made["kind"], made["amount"], made["asker"]) == ("transfer", "pending", "deposit", "250.25", "tester"), made
        assert (await cash_of(client, account))[0] == before  # nothing credited while pending
        settled = await admin("cashier1", server.url, "transfer", "settle", made["transfer_id"], "wire-received")
        assert settled["type"] == "admin" and settled["result"]["transfer"]["status"] == "settled", settled
        event = await client.wait_for(
            lambda m: m.get("type") == "transfer" and m.get("transfer_id") == made["transfer_id"] and m.get("status") == "settled", timeout=15
        )
        assert (event["reason"], event["decided_by"]) == ("wire-received", "operator")
        assert (await cash_of(client, account))[0] == before + Decimal("250.25")
        again = await client.deposit(account, "250.25", key)  # the same request again: the original answer, nothing booked
        assert (again["transfer_id"], again["status"]) == (made["transfer_id"], "pending")
        assert (await cash_of(client, account))[0] == before + Decimal("250.25")
        other = await client.deposit(account, "250.26", key)
        assert (other["type"], other["code"]) == ("error", "duplicate_idempotency_key"), other
        twice = await admin("cashier1", server.url, "transfer", "settle", made["transfer_id"])
        assert twice["type"] == "error" and "not_pending" in twice["message"], twice
        listed = await client.get_transfers(account, "settled")
        assert [t["transfer_id"] for t in listed["transfers"]] == [made["transfer_id"]]
        queue = await admin("cashier1", server.url, "transfers", "--status", "settled")
        assert made["transfer_id"] in [t["transfer_id"] for t in queue["result"]["transfers"]]
    refused = await admin("tester", server.url, "transfer", "settle", made["transfer_id"])
    assert refused["code"] == "forbidden" and "cash.settle" in refused["message"], refused


async def test_a_withdrawal_holds_cash_that_an_order_cannot_spend(server: BrokerServer) -> None:
    account = on_shard(1)
    async with connect(server.url) as client:
        cash, power = await cash_of(client, account)
        held = await client.withdrawal(account, str(power - Decimal("1000.00")), f"wd-{uuid.uuid4().hex[:6]}")
        assert (held["type"], held["status"]) == ("transfer", "pending"), held
        assert await cash_of(client, account) == (cash, Decimal("1000.00"))
        report = await client.new_order(account, cloid("w"), "IBM", "buy", "limit", qty="10", price="150.00")
        assert (report["status"], report["reason"]) == ("rejected", "insufficient_buying_power"), report
        too_much = await client.withdrawal(account, "1000.01", f"wd-{uuid.uuid4().hex[:6]}")
        assert (too_much["type"], too_much["code"]) == ("error", "insufficient_funds"), too_much
        for bad in ("-1.00", "0", "1.001", "1e3", "100000000.01"):
            answer = await client.withdrawal(account, bad, f"bad-{uuid.uuid4().hex[:6]}")
            assert (answer["type"], answer["code"]) == ("error", "invalid_amount"), (bad, answer)
        canceled = await admin("cashier1", server.url, "transfer", "cancel", held["transfer_id"])
        assert canceled["result"]["transfer"]["status"] == "canceled", canceled
        assert await cash_of(client, account) == (cash, power)


async def test_a_batch_of_journals_across_shards_is_all_or_nothing(server: BrokerServer) -> None:
    first, second = on_shard(0, 1), on_shard(0, 2)
    third, fourth = on_shard(1, 1), on_shard(1, 2)
    accounts = (first, second, third, fourth)
    async with connect(server.url) as client:
        before = {account: await cash_of(client, account) for account in accounts}
        # one bad leg (above the buying power) on the other shard: nothing is booked anywhere
        bad = await client.journal([(first, third, "10.00"), (third, second, "10.00"), (fourth, first, "5000000.00")], f"j-{uuid.uuid4().hex[:6]}")
        assert (bad["type"], bad["status"], bad["reason"]) == ("journal", "rejected", "insufficient_funds"), bad
        assert {account: await cash_of(client, account) for account in accounts} == before
        for account in accounts:
            assert (await client.get_transfers(account))["transfers"] == []
        good = await client.journal([(first, third, "10.00"), (third, second, "2.50"), (fourth, first, "0.01")], f"j-{uuid.uuid4().hex[:6]}")
        assert (good["status"], len(good["entries"])) == ("settled", 3), good
        moved = {first: Decimal("-9.99"), second: Decimal("2.50"), third: Decimal("7.50"), fourth: Decimal("-0.01")}
        for account in accounts:
            cash, _ = await cash_of(client, account)
            assert cash == before[account][0] + moved[account], account
        nobody = await client.journal([(first, "NOBODY", "1.00")], "j-x")
        assert (nobody["type"], nobody["code"]) == ("error", "forbidden"), nobody  # out of the trader's reach


async def test_a_journal_across_owners_needs_the_cashier(server: BrokerServer) -> None:
    own = TEST_ACCOUNTS[-1]
    async with BrokerClient(server.url, "mixed", "mixed-secret") as client:
        refused = await client.journal([(own, OTHERS, "1.00")], f"x-{uuid.uuid4().hex[:6]}")
        assert (refused["status"], refused["reason"]) == ("rejected", "across_owners"), refused
        assert (await cash_of(client, OTHERS))[0] == Decimal("1000.00")
    async with BrokerClient(server.url, "cashier1", "cashier1-secret") as cashier:
        booked = await cashier.journal([(own, OTHERS, "1.00")], f"x-{uuid.uuid4().hex[:6]}")
        assert booked["status"] == "settled", booked
        assert (await cash_of(cashier, OTHERS))[0] == Decimal("1001.00")
        assert (await cashier.request({"op": "admin", "command": "check", "args": []}))["type"] == "error"  # not the cashier's
    checked = await admin_check(server.url)
    assert checked["result"]["ok"], checked


async def admin_check(url: str) -> dict[str, Any]:
    async with BrokerClient(url, "admin", "admin-secret") as client:
        reply: dict[str, Any] = await client.request({"op": "admin", "command": "check", "args": []}, timeout=60)
    return reply
