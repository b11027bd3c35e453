"""Two tenants on one running server: what each tenant's users see and change, and that the
admin commands, the export and the reconciliation of one tenant hold nothing of the other.
(Every op against every role: tests/unit/server/gateway/test_authorization_matrix.py.)"""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
import pytest_asyncio

from model import fixed
from model.accounts_file import AccountSeed
from model.config import TenantRiskSection, TenantSection, User
from server.app import BrokerServer
from server.client.shell import one_shot, parse_args
from tests.conftest import make_setup
from tests.integration.helpers import cloid, connect, final_report

pytestmark = pytest.mark.asyncio(loop_scope="session")

FIRM = "firm-b"
FIRM_ACCOUNTS = ["F1", "F2"]
FIRM_USERS = {"fb-trader": "trader", "fb-admin": "tenant_admin"}
FIRM_MAX_QTY = "5"  # [tenants.firm-b.risk] max_order_qty: the default tenant has the server's [risk]
HOME_USERS = {"d-compliance": "compliance", "d-admin": "tenant_admin"}  # the default tenant's


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server(ray_cluster: None) -> AsyncIterator[BrokerServer]:
    setup = make_setup(f"t-{uuid.uuid4().hex[:8]}", quote_interval_ms=25)
    accounts = [AccountSeed(account, "fb", 50_000 * fixed.SCALE, group="G", tenant=FIRM) for account in FIRM_ACCOUNTS]
    users = [User(key=key, secret=f"{key}-secret", role=role, accounts=FIRM_ACCOUNTS if role == "trader" else [], tenant=FIRM) for key, role in FIRM_USERS.items()]
    users += [User(key=key, secret=f"{key}-secret", role=role) for key, role in HOME_USERS.items()]
    config = msgspec.structs.replace(setup.config, tenants={FIRM: TenantSection(TenantRiskSection(max_order_qty=FIRM_MAX_QTY))})
    setup = msgspec.structs.replace(setup, config=config, users=[*setup.users, *users], accounts=[*setup.accounts, *accounts])
    broker = BrokerServer(setup, "127.0.0.1", 0)
    await broker.start()
    yield broker
    await broker.stop()


async def admin_json(server: BrokerServer, capsys: pytest.CaptureFixture[str], key: str, *words: str) -> dict:
    """``brokerd admin --json WORDS`` as ``key``; the whole reply (a refusal is an ``error``)."""
    args = parse_args(["--url", server.url, "--key", key, "--secret", f"{key}-secret" if key != "admin" else "admin-secret", "--json", *words])
    await one_shot(args.command, args)
    reply: dict = json.loads(capsys.readouterr().out)
    return reply


def export_root(server: BrokerServer) -> Path:
    return server.setup.config.admin.export_root(server.setup.config.server.data_dir)


def import_root(server: BrokerServer) -> Path:
    return server.setup.config.admin.import_root(server.setup.config.server.data_dir)


def accounts_in(path: str) -> set[str]:
    with open(path, newline="") as file:
        return {row["account"] for row in csv.DictReader(file)}


async def test_another_tenant_s_account_is_answered_like_one_that_does_not_exist(server: BrokerServer) -> None:
    async with connect(server.url, "fb-trader", "fb-trader-secret") as firm, connect(server.url, "d-compliance", "d-compliance-secret") as compliance:
        assert (firm.role, firm.accounts) == ("trader", tuple(FIRM_ACCOUNTS))
        other = await firm.request({"op": "get_account", "account": "A1"})
        nowhere = await firm.request({"op": "get_account", "account": "NOPE"})
        assert (other["code"], other["message"]) == ("forbidden", "account 'A1' is not yours")
        assert nowhere["message"] == other["message"].replace("A1", "NOPE")
        own = await compliance.request({"op": "get_account", "account": "A1"})  # compliance reads its whole tenant
        assert own["type"] == "account"
        other = await compliance.request({"op": "get_account", "account": "F1"})
        nowhere = await compliance.request({"op": "get_account", "account": "NOPE"})
        assert (other["code"], other["message"]) == ("forbidden", "unknown account F1")
        assert (nowhere["code"], nowhere["message"]) == ("forbidden", "unknown account NOPE")  # the shard's answer, word for word
        refused = await compliance.new_order("A1", cloid(), "IBM", "buy", type="market", qty="1")
        assert refused["code"] == "forbidden" and "orders.place" in refused["message"]


async def test_a_tenant_s_admin_sees_and_switches_only_its_tenant(server: BrokerServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert (await admin_json(server, capsys, "fb-admin", "account", "F1"))["result"]["ok"] is True
    refused = await admin_json(server, capsys, "fb-admin", "account", "A1")
    assert (refused["code"], refused["message"]) == ("admin_failed", "unknown account A1")
    refused = await admin_json(server, capsys, "fb-admin", "halt", "IBM")
    assert refused["code"] == "forbidden" and "server.control" in refused["message"]
    killed = await admin_json(server, capsys, "fb-admin", "kill", "all")
    assert killed["result"]["killed"] == FIRM_ACCOUNTS
    try:
        async with connect(server.url, "fb-trader", "fb-trader-secret") as firm, connect(server.url) as home:
            stopped = await firm.new_order("F1", cloid(), "IBM", "buy", type="market", qty="1")
            assert stopped["status"] == "rejected"
            home_id = cloid()
            await home.new_order("T30", home_id, "IBM", "buy", type="market", qty="1")  # the default tenant trades on
            assert (await final_report(home, home_id))["status"] == "filled"
    finally:
        unkilled = await admin_json(server, capsys, "fb-admin", "unkill", "all")
    assert unkilled["result"]["killed"] == []
    status = await admin_json(server, capsys, "admin", "status")
    assert status["result"]["killed"] == []


async def test_an_export_and_a_reconciliation_hold_one_tenant_only(server: BrokerServer, capsys: pytest.CaptureFixture[str]) -> None:
    async with connect(server.url, "fb-trader", "fb-trader-secret") as firm:
        order_id = cloid()
        await firm.new_order("F2", order_id, "IBM", "buy", type="market", qty="2")
        assert (await final_report(firm, order_id))["status"] == "filled"
    theirs = export_root(server) / FIRM / "eod"
    result = (await admin_json(server, capsys, "fb-admin", "export", "eod"))["result"]
    assert result["tenant"] == FIRM and result["files"]["positions"] == str((theirs / "positions.csv").resolve())
    assert accounts_in(result["files"]["positions"]) == set(FIRM_ACCOUNTS)
    ours = (await admin_json(server, capsys, "d-compliance", "export", "eod"))["result"]
    assert "F1" not in accounts_in(ours["files"]["positions"]) and "A1" in accounts_in(ours["files"]["positions"])
    everyone = (await admin_json(server, capsys, "admin", "export", "all-eod"))["result"]
    assert {"F1", "A1"} <= accounts_in(everyone["files"]["positions"]) and everyone["tenant"] == "all"
    chosen = (await admin_json(server, capsys, "admin", "export", "eod2", "--tenant", FIRM))["result"]
    assert accounts_in(chosen["files"]["positions"]) == set(FIRM_ACCOUNTS)
    refused = await admin_json(server, capsys, "fb-admin", "export", "--tenant", "default")
    assert refused["code"] == "forbidden"
    # the tenant's back office sends its own positions file, into its own folder of the import dir
    (import_root(server) / FIRM).mkdir(parents=True, exist_ok=True)
    (import_root(server) / FIRM / "bo.csv").write_text("account,symbol,qty\nF1,,\nF2,IBM,2\n")  # F1 holds nothing
    reconciled = (await admin_json(server, capsys, "fb-admin", "reconcile", "bo.csv"))["result"]
    assert (reconciled["ok"], reconciled["accounts"], reconciled["tenant"]) == (True, 2, FIRM)
    missing = await admin_json(server, capsys, "d-compliance", "reconcile", "bo.csv")  # not in the default tenant's folder
    assert missing["code"] == "admin_failed"


async def test_accounts_loaded_by_a_tenant_s_admin_are_its_tenant_s(server: BrokerServer, capsys: pytest.CaptureFixture[str]) -> None:
    folder = import_root(server) / FIRM
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "new.csv").write_text("account,owner,cash\nF3,fb,1000.00\n")
    (folder / "foreign.csv").write_text("account,owner,cash,tenant\nF4,fb,1000.00,default\n")
    refused = await admin_json(server, capsys, "fb-admin", "accounts", "load", "foreign.csv")
    assert refused["code"] == "admin_failed" and "tenant default is not firm-b" in refused["message"]
    assert (await admin_json(server, capsys, "fb-admin", "accounts", "load", "new.csv"))["result"]["loaded"] == 1
    assert (await admin_json(server, capsys, "fb-admin", "account", "F3"))["result"]["ok"] is True
    hidden = await admin_json(server, capsys, "d-admin", "account", "F3")
    assert (hidden["code"], hidden["message"]) == ("admin_failed", "unknown account F3")


async def test_an_order_within_the_server_s_limits_is_refused_by_a_tenant_s_lower_one(server: BrokerServer) -> None:
    async with connect(server.url, "fb-trader", "fb-trader-secret") as firm, connect(server.url) as home:
        refused = await firm.new_order("F1", cloid(), "IBM", "buy", type="market", qty="6")
        assert (refused["status"], refused["reason"]) == ("rejected", "max_order_size")
        within = await firm.new_order("F1", cloid(), "IBM", "buy", type="market", qty=FIRM_MAX_QTY)
        assert within["status"] != "rejected", within
        home_id = cloid()
        same = await home.new_order("T30", home_id, "IBM", "buy", type="market", qty="6")  # the default tenant: the server's limit
        assert same["status"] != "rejected", same
        assert (await final_report(home, home_id))["status"] == "filled"
