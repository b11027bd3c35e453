"""Statements over a running server: an account buys, sells and has a deposit settled; its
``get_statement`` over the WebSocket is the JSON file ``admin statement`` writes, its balances
add up, its CSV has every section, and ``admin report gains YEAR`` has the sale's row. Another
user's account, another tenant's account, a period that is not one and a statement of too
many entries are refused, nothing written."""

from __future__ import annotations

import csv
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
import pytest_asyncio

from model import fixed
from model.accounts_file import AccountSeed
from model.config import User
from model.statements import iso_day
from server.app import BrokerServer
from server.client.sdk import BrokerClient
from server.client.shell import one_shot, parse_args
from tests.conftest import make_setup
from tests.integration.helpers import cloid, final_report

pytestmark = pytest.mark.asyncio(loop_scope="session")

FIRM = "firm-b"
MAX_ROWS = 5  # [books] statement_max_rows of this server: the account's statement holds 4 entries, then 6
ACCOUNT = "T05"
FRAME_BYTES = 16 * 1024 * 1024


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server(ray_cluster: None) -> AsyncIterator[BrokerServer]:
    setup = make_setup(f"t-{uuid.uuid4().hex[:8]}", quote_interval_ms=25)
    books = msgspec.structs.replace(setup.config.books, statement_max_rows=MAX_ROWS)
    users = [User(key="fb-admin", secret="fb-admin-secret", role="tenant_admin", tenant=FIRM)]
    accounts = [AccountSeed("F1", "fb", 50_000 * fixed.SCALE, tenant=FIRM)]
    setup = msgspec.structs.replace(
        setup, config=msgspec.structs.replace(setup.config, books=books), users=[*setup.users, *users], accounts=[*setup.accounts, *accounts]
    )
    broker = BrokerServer(setup, "127.0.0.1", 0)
    await broker.start()
    yield broker
    await broker.stop()


def client_of(server: BrokerServer) -> BrokerClient:
    return BrokerClient(server.url, "tester", "tester-secret", max_size=FRAME_BYTES)


async def admin_json(server: BrokerServer, capsys: pytest.CaptureFixture[str], key: str, *words: str) -> dict[str, Any]:
    """``brokerd admin --json WORDS`` as ``key``: the whole reply (a refusal is an ``error``)."""
    args = parse_args(["--url", server.url, "--key", key, "--secret", f"{key}-secret", "--json", *words])
    await one_shot(args.command, args)
    reply: dict[str, Any] = json.loads(capsys.readouterr().out)
    return reply


def export_root(server: BrokerServer) -> Path:
    return server.setup.config.admin.export_root(server.setup.config.server.data_dir)


async def trade(client: BrokerClient, side: str, qty: str) -> None:
    client_order_id = cloid("st")
    answer = await client.new_order(ACCOUNT, client_order_id, "IBM", side, "market", qty=qty)
    assert answer["type"] == "execution", answer
    assert (await final_report(client, client_order_id))["status"] == "filled"


async def deposit(server: BrokerServer, capsys: pytest.CaptureFixture[str], client: BrokerClient, amount: str) -> None:
    made = await client.deposit(ACCOUNT, amount, f"dep-{uuid.uuid4().hex[:8]}")
    assert made["status"] == "pending", made
    settled = await admin_json(server, capsys, "admin", "transfer", "settle", made["transfer_id"])
    assert settled["result"]["transfer"]["status"] == "settled", settled


def period(server: BrokerServer) -> tuple[str, str]:
    """Yesterday to tomorrow, local: the entries of the test are in it whenever it runs."""
    today = date.fromisoformat(iso_day(time.time_ns(), server.setup.config.open.timezone))
    return (today - timedelta(days=1)).isoformat(), (today + timedelta(days=1)).isoformat()


async def test_the_statement_over_the_websocket_is_the_admin_statement_file_and_adds_up(
    server: BrokerServer, capsys: pytest.CaptureFixture[str]
) -> None:
    first, last = period(server)
    async with client_of(server) as client:
        await trade(client, "buy", "2")
        await trade(client, "sell", "1")
        await deposit(server, capsys, client, "100.00")
        answer = await client.get_statement(ACCOUNT, first, last)
        account = await client.get_account(ACCOUNT)
    assert answer["type"] == "statement", answer
    written = await admin_json(server, capsys, "admin", "statement", ACCOUNT, first, last)
    result = written["result"]
    folder = export_root(server).resolve() / "default" / "statements"
    assert result["files"] == {"json": str(folder / f"{ACCOUNT}_{first}_{last}.json"), "csv": str(folder / f"{ACCOUNT}_{first}_{last}.csv")}
    on_file = json.loads(Path(result["files"]["json"]).read_text())
    assert {key: value for key, value in answer.items() if key not in ("id", "type")} == on_file

    # the balances: the account's opening cash, and the account as get_account sees it now
    assert on_file["opening"] == {"cash": "1000000.00", "positions": []}
    assert on_file["closing"] == {"cash": account["cash"], "positions": [{"symbol": "IBM", "qty": "1"}]}
    moved = sum(Decimal(t["amount"]) for t in on_file["trades"]) + sum(Decimal(c["amount"]) for c in on_file["cash_movements"])
    assert Decimal(on_file["opening"]["cash"]) + moved == Decimal(on_file["closing"]["cash"])
    assert [(t["side"], t["qty"]) for t in on_file["trades"]] == [("buy", "2"), ("sell", "1")]
    assert [(c["kind"], c["amount"]) for c in on_file["cash_movements"]] == [("deposit", "100.00")]
    [realized] = on_file["realized"]
    assert (realized["qty"], realized["term"], realized["proceeds"]) == ("1", "short", on_file["totals"]["sold"])
    assert (result["opening"], result["closing"], result["totals"]) == (on_file["opening"], on_file["closing"], on_file["totals"])
    assert result["entries"] == {"trades": 2, "cash_movements": 1, "security_moves": 0, "realized": 1}

    with open(result["files"]["csv"], newline="") as file:
        sections = [row["section"] for row in csv.DictReader(file)]
    for section in ("opening_cash", "trade", "cash", "realized", "closing_cash", "closing_position", "total"):
        assert section in sections, (section, sections)

    year = int(iso_day(time.time_ns(), server.setup.config.open.timezone)[:4])  # the sale's, today's
    report = (await admin_json(server, capsys, "admin", "report", "gains", str(year)))["result"]
    assert report["file"] == str(export_root(server).resolve() / f"gains-{year}.csv") and report["tenant"] == "all"
    with open(report["file"], newline="") as file:
        rows = [row for row in csv.DictReader(file) if row["account"] == ACCOUNT]
    assert [(row["symbol"], row["qty"], row["description"], row["proceeds"], row["term"]) for row in rows] == [
        ("IBM", "1", "1 IBM", realized["proceeds"], "short")
    ]


async def test_a_statement_of_another_user_s_or_tenant_s_account_or_of_no_period_is_refused(
    server: BrokerServer, capsys: pytest.CaptureFixture[str]
) -> None:
    first, last = period(server)
    async with client_of(server) as client:
        other = await client.get_statement("A1", first, last)  # trader1's
        assert (other["type"], other["code"]) == ("error", "forbidden")
        backwards = await client.get_statement(ACCOUNT, last, first)
        assert (backwards["code"], backwards["message"]) == ("invalid_request", f"from {last} is after to {first}")
        not_a_day = await client.get_statement(ACCOUNT, "2026-02-30", last)
        assert not_a_day["code"] == "invalid_request" and "YYYY-MM-DD" in not_a_day["message"]
        assert (await client.get_account(ACCOUNT))["type"] == "account"  # the connection carries on
    foreign = await admin_json(server, capsys, "fb-admin", "statement", ACCOUNT, first, last)
    assert (foreign["type"], foreign["code"], foreign["message"]) == ("error", "admin_failed", f"unknown account {ACCOUNT}")
    assert not (export_root(server) / FIRM / "statements").exists()
    # the tenant's gains report holds its own accounts only, in its own folder
    year = iso_day(time.time_ns(), server.setup.config.open.timezone)[:4]
    theirs = (await admin_json(server, capsys, "fb-admin", "report", "gains", year))["result"]
    assert theirs["file"] == str(export_root(server).resolve() / FIRM / f"gains-{year}.csv") and theirs["tenant"] == FIRM
    with open(theirs["file"], newline="") as file:
        assert [row["account"] for row in csv.DictReader(file)] == []


async def test_a_statement_of_too_many_entries_is_refused_over_the_websocket_and_by_admin(
    server: BrokerServer, capsys: pytest.CaptureFixture[str]
) -> None:
    account = "T06"
    first, last = period(server)
    async with client_of(server) as client:
        for _ in range(MAX_ROWS + 1):
            made = await client.deposit(account, "1.00", f"dep-{uuid.uuid4().hex[:8]}")
            settled = await admin_json(server, capsys, "admin", "transfer", "settle", made["transfer_id"])
            assert settled["result"]["transfer"]["status"] == "settled", settled
        refused = await client.get_statement(account, first, last)
        assert refused["code"] == "statement_too_large" and f"holds {MAX_ROWS + 1} entries" in refused["message"], refused
    written = await admin_json(server, capsys, "admin", "statement", account, first, last)
    assert written["code"] == "admin_failed" and "statement_too_large" in written["message"] and "nothing written" in written["message"]
    assert not list((export_root(server) / "default" / "statements").glob(f"{account}_*"))
