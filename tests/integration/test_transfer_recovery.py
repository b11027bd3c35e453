"""kill -9 in the middle of a batch of journals across two shards: the coordinator (the shard
of the first debit account) or the other shard, right after it handled one step of the
two-phase commit (journaled and applied, nothing of it sent, nothing acked). Ray restarts
the shard, it replays its journal and resends what it had not had acked, the gateway resends
what the shard had not acked: the client gets its one answer, every leg is booked exactly
once on every account, a repeat of the request books nothing, and a whole-server restart
afterwards finds the same books."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from model.routing import shard_of
from server.client.sdk import BrokerClient
from tests.conftest import TEST_ACCOUNTS
from tests.integration.recovery import ServerProcess, admin, wait_restarted, write_conf_dir

pytestmark = pytest.mark.asyncio(loop_scope="session")

SHARDS = 2
OPENING = Decimal("1000000.00")
COORDINATOR, OTHER = "account-0", "account-1"
ZERO = [a for a in TEST_ACCOUNTS if shard_of(a, SHARDS) == 0]
ONE = [a for a in TEST_ACCOUNTS if shard_of(a, SHARDS) == 1]


def batch(number: int) -> list[tuple[str, str, str]]:
    """A batch coordinated by account-0 (its first debit account is there) with legs on both
    shards: cash out of and into accounts of each."""
    a, b, c, d = ZERO[number % 4], ZERO[4 + number % 4], ONE[number % 4], ONE[4 + number % 4]
    return [(a, c, f"{number + 1}.01"), (c, b, "3.00"), (d, a, "0.07"), (b, d, f"{number}.50")]


def moves(batches: list[list[tuple[str, str, str]]]) -> dict[str, Decimal]:
    net: dict[str, Decimal] = {}
    for entries in batches:
        for source, target, amount in entries:
            net[source] = net.get(source, Decimal(0)) - Decimal(amount)
            net[target] = net.get(target, Decimal(0)) + Decimal(amount)
    return net


async def books(url: str, accounts: list[str]) -> dict[str, tuple[str, list[tuple[str, str, str]]]]:
    """Each account's cash and its transfers ``(transfer_id, status, amount)``."""
    async with BrokerClient(url, "tester", "tester-secret") as client:
        found = {}
        for account in accounts:
            view = await client.get_account(account, timeout=60)
            listed = await client.get_transfers(account, timeout=60)
            found[account] = (view["cash"], sorted((t["transfer_id"], t["status"], t["amount"]) for t in listed["transfers"]))
    return found


def assert_booked_once(found: dict[str, tuple[str, list[tuple[str, str, str]]]], batches: list[list[tuple[str, str, str]]]) -> None:
    net = moves(batches)
    for account, (cash, transfers) in found.items():
        assert Decimal(cash) == OPENING + net.get(account, Decimal(0)), (account, cash, transfers)
        assert all(status == "settled" for _, status, _ in transfers), (account, transfers)
        ids = [transfer_id for transfer_id, _, _ in transfers]
        assert len(ids) == len(set(ids)), (account, transfers)
    legs = sum(len(transfers) for _, transfers in found.values())
    assert legs == 2 * sum(len(entries) for entries in batches)


@pytest.mark.parametrize(
    "crash",
    [
        f"transfer.before_send:1:{COORDINATOR}",  # the coordinator recorded the batch and prepared its own legs
        f"transfer.before_send:2:{COORDINATOR}",  # ... counted the other shard's vote and decided
        f"transfer.before_send:1:{OTHER}",  # the other shard prepared (held) its legs, its vote unsent
        f"transfer.before_send:2:{OTHER}",  # ... booked the outcome, its booking unsent
    ],
)
async def test_a_shard_killed_mid_journal_loses_and_doubles_nothing(tmp_path: Path, ray_address: str, crash: str) -> None:
    # on loopback, nobody enrolled in MFA: no TOTP code asked for a journal
    config = write_conf_dir(tmp_path / "conf", "[server]\nws_port = 0\n\n[gateway]\nrequire_mfa_for_transfers = false\n")
    data = tmp_path / "data"
    server = ServerProcess(config, data, {"BROKERD_CRASH_AT": crash}, address=ray_address)
    url = server.start()
    accounts = ZERO[:8] + ONE[:8]
    batches = [batch(number) for number in range(6)]
    try:
        async with BrokerClient(url, "tester", "tester-secret") as client:
            first = await client.journal(batches[0], "batch-0", timeout=90)  # the shard dies in the middle of this one
            assert (first["type"], first.get("status")) == ("journal", "settled"), first
            await wait_restarted(url, crash.rsplit(":", 1)[1])
            assert (data / "crashed-transfer.before_send").exists()
            rest = await asyncio.gather(*(client.journal(entries, f"batch-{n}", timeout=90) for n, entries in enumerate(batches) if n))
            assert all(answer["status"] == "settled" for answer in rest), rest
            again = await client.journal(batches[0], "batch-0", timeout=90)
            assert (again["journal_id"], again["status"]) == (first["journal_id"], "settled")
        found = await books(url, accounts)
        assert_booked_once(found, batches)
        check = await admin(url, "check")
        assert check["result"]["ok"], check
    finally:
        assert server.stop() == 0
    url = server.start()
    try:
        assert await books(url, accounts) == found
        assert (await admin(url, "check"))["result"]["ok"]
    finally:
        assert server.stop() == 0


# --- journals of shares: the lots travel between the shards -------------------------------------

HELD = Decimal("100")  # each account's IBM, one lot bought on 2023-05-02 for 15,000.00
HELD_COST = Decimal("15000.00")


def shares_batch(number: int) -> list[dict[str, str]]:
    """Coordinated by account-0, shares out of and into accounts of each shard (one cash leg
    beside): the coordinator's own credit waits for lots from the other shard, and the other
    shard's credit for lots from the coordinator."""
    a, b, c, d = ZERO[number % 4], ZERO[4 + number % 4], ONE[number % 4], ONE[4 + number % 4]
    return [
        {"from": a, "to": c, "symbol": "IBM", "qty": f"{number + 10}"},
        {"from": c, "to": b, "symbol": "IBM", "qty": "3.5"},
        {"from": d, "to": a, "amount": "0.07"},
        {"from": d, "to": a, "symbol": "IBM", "qty": "1"},
    ]


def with_positions(config: Path, accounts: list[str]) -> None:
    """Give ``accounts`` (rows of the accounts file) HELD IBM at HELD_COST, acquired 2023-05-02."""
    path = config.parent / "accounts.csv"
    lines = path.read_text().splitlines()
    path.write_text(
        "\n".join(f"{line},false,IBM:{HELD}:{HELD_COST}:2023-05-02," if line.split(",")[0] in accounts else line for line in lines) + "\n"
    )


async def shares_books(url: str, accounts: list[str]) -> dict[str, tuple[str, list[tuple[str, str, str]], list[tuple[str, str, int]]]]:
    """Each account's IBM position, its transfers ``(transfer_id, status, qty or amount)`` and
    its open IBM lots ``(qty, cost, acquired)``."""
    async with BrokerClient(url, "tester", "tester-secret") as client:
        found = {}
        for account in accounts:
            view = await client.get_account(account, timeout=60)
            qty = next((p["qty"] for p in view["positions"] if p["symbol"] == "IBM"), "0")
            listed = await client.get_transfers(account, timeout=60)
            legs = sorted((t["transfer_id"], t["status"], t.get("qty") or t["amount"]) for t in listed["transfers"])
            lots = await client.request({"op": "get_lots", "account": account, "symbol": "IBM"}, timeout=60)
            found[account] = (qty, legs, sorted((lot["qty"], lot["cost"], lot["acquired"]) for lot in lots["lots"]))
    return found


def assert_shares_booked_once(found: dict[str, tuple[str, list[tuple[str, str, str]], list[tuple[str, str, int]]]], batches: list[list[dict[str, str]]]) -> None:
    net: dict[str, Decimal] = {}
    for entries in batches:
        for entry in entries:
            if "qty" in entry:
                net[entry["from"]] = net.get(entry["from"], Decimal(0)) - Decimal(entry["qty"])
                net[entry["to"]] = net.get(entry["to"], Decimal(0)) + Decimal(entry["qty"])
    for account, (qty, legs, lots) in found.items():
        assert Decimal(qty) == HELD + net.get(account, Decimal(0)), (account, qty, legs)
        assert sum(Decimal(lot_qty) for lot_qty, _, _ in lots) == Decimal(qty), (account, lots)
        assert len({lot[2] for lot in lots}) == 1, lots  # every lot, moved or not, keeps the one acquisition date
        assert all(status == "settled" for _, status, _ in legs), (account, legs)
        assert len({transfer_id for transfer_id, _, _ in legs}) == len(legs)
    # nothing realized, nothing lost or doubled: the cost of every lot is the cost of all shares held at the start
    assert sum(Decimal(cost) for _, _, lots in found.values() for _, cost, _ in lots) == HELD_COST * len(found)
    assert sum(len(legs) for _, legs, _ in found.values()) == 2 * sum(len(entries) for entries in batches)


@pytest.mark.parametrize(
    "crash",
    [
        f"transfer.before_send:2:{COORDINATOR}",  # decided: its debits took their lots, the lots and outcome unsent
        f"transfer.before_send:3:{COORDINATOR}",  # ... then its first message back (the lots or the other's booking)
        f"transfer.before_send:1:{OTHER}",  # the other shard prepared (held) its shares, its vote unsent
        # ... booked the outcome and the lots that came with it in one record: its own lots and its booking unsent
        f"transfer.before_send:2:{OTHER}",
    ],
)
async def test_a_shard_killed_mid_journal_of_shares_loses_and_doubles_no_lot(tmp_path: Path, ray_address: str, crash: str) -> None:
    config = write_conf_dir(tmp_path / "conf", "[server]\nws_port = 0\n\n[gateway]\nrequire_mfa_for_transfers = false\n")
    accounts = ZERO[:8] + ONE[:8]
    with_positions(config, accounts)
    data = tmp_path / "data"
    server = ServerProcess(config, data, {"BROKERD_CRASH_AT": crash}, address=ray_address)
    url = server.start()
    batches = [shares_batch(number) for number in range(4)]
    try:
        async with BrokerClient(url, "tester", "tester-secret") as client:
            first = await client.journal(batches[0], "shares-0", timeout=90)  # the shard dies in the middle of this one
            assert (first["type"], first.get("status")) == ("journal", "settled"), first
            await wait_restarted(url, crash.rsplit(":", 1)[1])
            assert (data / "crashed-transfer.before_send").exists()
            rest = await asyncio.gather(*(client.journal(entries, f"shares-{n}", timeout=90) for n, entries in enumerate(batches) if n))
            assert all(answer["status"] == "settled" for answer in rest), rest
            again = await client.journal(batches[0], "shares-0", timeout=90)
            assert (again["journal_id"], again["status"]) == (first["journal_id"], "settled")
        found = await shares_books(url, accounts)
        assert_shares_booked_once(found, batches)
        check = await admin(url, "check")
        assert check["result"]["ok"], check
    finally:
        assert server.stop() == 0
    url = server.start()
    try:
        assert await shares_books(url, accounts) == found
        assert (await admin(url, "check"))["result"]["ok"]
    finally:
        assert server.stop() == 0
