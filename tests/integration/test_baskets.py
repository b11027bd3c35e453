"""Basket files of orders through the real server: ``admin orders load FILE`` (CSV and
Parquet, from the import dir) and the ``load_orders`` upload, all or nothing, idempotent,
each order entered and reported as a ``new_order``, and only for the user's own accounts."""

from __future__ import annotations

import asyncio
import json
import uuid
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from server.app import BrokerServer
from server.client.sdk import BrokerClient
from tests.integration.helpers import connect
from tests.integration.test_admin import admin, admin_json, import_dir

pytestmark = pytest.mark.asyncio(loop_scope="session")

HEADER = "account,client_order_id,symbol,side,qty,notional,type,limit_price,tif"


def basket(prefix: str, accounts: list[str], per_account: int = 3) -> str:
    """Orders for the open in ``accounts``: quantities and notionals, buys of IBM and AAPL."""
    rows = [HEADER]
    for account in accounts:
        for index in range(per_account):
            if index % 3 == 2:
                rows.append(f"{account},{prefix}-{index},AAPL,buy,,250.00,market,,opg")
            else:
                rows.append(f"{account},{prefix}-{index},IBM,buy,0.{index + 1}5,,market,,")
    return "\n".join(rows) + "\n"


async def load(server: BrokerServer, capsys: pytest.CaptureFixture[str], file: str) -> tuple[int, dict[str, Any]]:
    status = await admin(server, "--json", "orders", "load", file)
    reply: dict[str, Any] = json.loads(capsys.readouterr().out)
    return status, reply.get("result", reply)


async def orders_of(client: BrokerClient, account: str, prefix: str) -> list[dict[str, Any]]:
    reply = await client.get_orders(account, timeout=30)
    return [order for order in reply["orders"] if order["client_order_id"].startswith(f"{prefix}-")]


async def test_a_basket_file_loads_every_order_as_new_orders_would_and_again_changes_nothing(
    server: BrokerServer, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = f"b{uuid.uuid4().hex[:6]}"
    accounts = ["T01", "T02", "T03", "T04"]
    (import_dir(server) / f"{prefix}.csv").write_text(basket(prefix, accounts))
    async with connect(server.url) as client:  # the accounts' user: it is sent their executions
        status, result = await load(server, capsys, f"{prefix}.csv")
        assert status == 0, result
        assert (result["rows"], result["accepted"], result["rejected"], result["already_loaded"]) == (12, 12, 0, 0), result
        for account in accounts:
            placed = await orders_of(client, account, prefix)
            assert sorted(order["client_order_id"] for order in placed) == [f"{prefix}-{i}" for i in range(3)]
            assert {order["status"] for order in placed} == {"new"} and {order["tif"] for order in placed} == {"opg"}
            assert {order["notional"] for order in placed if order["symbol"] == "AAPL"} == {"250.00"}
        new_reports = await client.wait_for(
            lambda m: m.get("type") == "execution" and m.get("client_order_id") == f"{prefix}-2" and m.get("account") == "T04", timeout=15
        )
        assert new_reports["exec_type"] == "new" and "id" not in new_reports  # to the account's user, answering no request
        # the same file again: every order is there already; nothing new, nothing changed
        status, again = await load(server, capsys, f"{prefix}.csv")
        assert status == 0 and (again["accepted"], again["already_loaded"], again["rejected"]) == (0, 12, 0), again
        for account in accounts:
            assert len(await orders_of(client, account, prefix)) == 3


async def reports_made_and_received(server: BrokerServer, capsys: pytest.CaptureFixture[str]) -> tuple[int, int]:
    """``new`` reports the account shards made, and execution reports the gateway received."""
    actors = (await admin_json(server, capsys, "status"))["actors"]
    made = sum(actor.get("reports", {}).get("new", 0) for actor in actors if actor["name"].startswith("account-"))
    received = sum(actor["executions_received"] for actor in actors if actor["name"].startswith("gateway-"))
    return made, received


async def test_a_basket_for_accounts_nobody_follows_is_reported_to_nobody_and_counted_and_a_login_gets_what_follows(
    server: BrokerServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # exact counts: this module's server holds only orders for the open at this point (no
    # order of an earlier test can fill or end meanwhile and make a report of its own)
    prefix = f"u{uuid.uuid4().hex[:6]}"
    (import_dir(server) / f"{prefix}.csv").write_text(basket(prefix, ["T31"]))
    made, received = await reports_made_and_received(server, capsys)
    status, result = await load(server, capsys, f"{prefix}.csv")  # the operator's shell follows no account: nobody does
    assert status == 0 and result["accepted"] == 3, result
    # the answer comes after the chunk's reports on the same link: had they been sent, they would be here
    assert await reports_made_and_received(server, capsys) == (made + 3, received)
    async with connect(server.url) as client:  # T31's user logs in: its shard is told, before any later order
        (import_dir(server) / f"{prefix}-again.csv").write_text(basket(f"{prefix}x", ["T31"]))
        status, result = await load(server, capsys, f"{prefix}-again.csv")
        assert status == 0 and result["accepted"] == 3, result
        report = await client.wait_for(lambda m: m.get("type") == "execution" and m.get("client_order_id") == f"{prefix}x-2", timeout=15)
        assert report["exec_type"] == "new" and report["account"] == "T31"
        assert await reports_made_and_received(server, capsys) == (made + 6, received + 3)
        assert len(await orders_of(client, "T31", prefix)) == 3  # what came before the login: get_orders has it


async def test_a_basket_with_bad_rows_loads_nothing_and_names_every_bad_row(server: BrokerServer, capsys: pytest.CaptureFixture[str]) -> None:
    prefix = f"x{uuid.uuid4().hex[:6]}"
    rows = basket(prefix, ["T05"]).splitlines()
    rows += [f"T05,{prefix}-7,NOPE,buy,1,,,,", f"T05,{prefix}-8,IBM,buy,1.5e2,,,,", f"T05,{prefix}-0,IBM,buy,1,,,,", f"ZZZ,{prefix}-9,IBM,buy,1,,,,"]
    (import_dir(server) / f"{prefix}.csv").write_text("\n".join(rows) + "\n")
    status, result = await load(server, capsys, f"{prefix}.csv")
    assert status == 1 and result["ok"] is False and result["bad_rows"] == 4, result
    assert [(p["row"], p["code"]) for p in result["problems"]] == [
        (5, "unknown_symbol"),
        (6, "invalid_request"),
        (7, "invalid_request"),
        (8, "forbidden"),
    ], result
    assert "on row 2 already" in result["problems"][2]["problem"]
    async with connect(server.url) as client:
        assert await orders_of(client, "T05", prefix) == []  # the good rows were not loaded either


async def test_several_files_load_at_once_each_checked_whole_and_loaded_or_not_at_all(server: BrokerServer) -> None:
    """Three ``orders load`` commands at once, from three admin sessions: each file is
    checked whole before any of its orders loads, as alone — the two good files load every
    order, the file with one bad row loads none, whichever order they run in."""
    run = uuid.uuid4().hex[:6]
    files = {f"c{run}-{n}": accounts for n, accounts in enumerate((["T06", "T07"], ["T08", "T09"], ["T10"]))}
    for prefix, accounts in files.items():
        text = basket(prefix, accounts)
        if accounts == ["T10"]:
            text += f"T10,{prefix}-9,NOPE,buy,1,,market,,opg\n"  # one bad row: the whole file refused
        (import_dir(server) / f"{prefix}.csv").write_text(text)

    async def load_alone(prefix: str) -> dict[str, Any]:
        async with BrokerClient(server.url, "admin", "admin-secret") as client:
            reply: dict[str, Any] = await client.request({"op": "admin", "command": "orders", "args": ["load", f"{prefix}.csv"]}, timeout=60)
        return reply.get("result", reply)

    results = await asyncio.gather(*(load_alone(prefix) for prefix in files))
    good, other, bad = results
    assert (good["ok"], good["accepted"], other["ok"], other["accepted"]) == (True, 6, True, 6), results
    assert bad["ok"] is False and bad["bad_rows"] == 1 and bad["problems"][0]["code"] == "unknown_symbol", bad
    async with connect(server.url) as client:
        for prefix, accounts in files.items():
            for account in accounts:
                placed = await orders_of(client, account, prefix)
                assert len(placed) == (0 if account == "T10" else 3), (account, placed)


async def test_a_parquet_basket_with_decimal_columns_loads_exactly(server: BrokerServer, capsys: pytest.CaptureFixture[str]) -> None:
    prefix = f"p{uuid.uuid4().hex[:6]}"
    table = pa.table(
        {
            "account": ["T06", "T06"],
            "client_order_id": [f"{prefix}-0", f"{prefix}-1"],
            "symbol": ["IBM", "IBM"],
            "side": ["buy", "buy"],
            "qty": pa.array([Decimal("0.333333"), None], pa.decimal128(18, 6)),
            "notional": pa.array([None, "99.99"], pa.string()),
            "note": ["ignored", "too"],
        }
    )
    pq.write_table(table, import_dir(server) / f"{prefix}.parquet")
    status, result = await load(server, capsys, f"{prefix}.parquet")
    assert status == 0 and result["accepted"] == 2, result
    async with connect(server.url) as client:
        placed = {order["client_order_id"]: order for order in await orders_of(client, "T06", prefix)}
    assert placed[f"{prefix}-0"]["qty"] == "0.333333" and placed[f"{prefix}-1"]["notional"] == "99.99"
    # a float column is refused whole: its values are not the decimals they look like
    pq.write_table(table.set_column(4, "qty", pa.array([0.1, None], pa.float64())), import_dir(server) / f"{prefix}-f.parquet")
    status, refused = await load(server, capsys, f"{prefix}-f.parquet")
    assert status == 1 and "binary floats" in refused["message"], refused


async def test_risk_refusals_and_reused_ids_are_rejected_orders_not_file_errors(server: BrokerServer, capsys: pytest.CaptureFixture[str]) -> None:
    prefix = f"r{uuid.uuid4().hex[:6]}"
    (import_dir(server) / f"{prefix}-a.csv").write_text(f"{HEADER}\nT07,{prefix}-0,IBM,buy,1,,,,\n")
    assert (await load(server, capsys, f"{prefix}-a.csv"))[1]["accepted"] == 1
    rows = [
        HEADER,
        f"T07,{prefix}-0,IBM,buy,2,,,,",  # the id again, other terms
        f"T07,{prefix}-1,IBM,buy,100000,,,,",  # 15,000,000 and more: over the order notional cap
        f"T07,{prefix}-2,IBM,buy,1,,,,day",
    ]
    (import_dir(server) / f"{prefix}-b.csv").write_text("\n".join(rows) + "\n")
    status, result = await load(server, capsys, f"{prefix}-b.csv")
    assert status == 0, result
    assert (result["rows"], result["accepted"], result["rejected"]) == (3, 1, 2), result
    assert result["rejected_by_reason"] == {"duplicate_client_order_id": 1, "max_order_notional": 1}, result


async def test_an_upload_loads_the_users_own_accounts_only_and_all_or_nothing(server: BrokerServer) -> None:
    prefix = f"u{uuid.uuid4().hex[:6]}"
    async with connect(server.url) as client:
        loaded = await client.load_orders(basket(prefix, ["T08", "T09"]), timeout=30)
        assert loaded["type"] == "orders_loaded" and (loaded["rows"], loaded["accepted"]) == (6, 6), loaded
        assert len(await orders_of(client, "T09", prefix)) == 3
        again = await client.load_orders(basket(prefix, ["T08", "T09"]), timeout=30)
        assert (again["accepted"], again["already_loaded"]) == (0, 6), again
        # one row for an account of another user (trader1's A1): the whole upload is refused
        other = f"o{uuid.uuid4().hex[:6]}"
        refused = await client.load_orders(basket(other, ["T10", "A1"], per_account=1), timeout=30)
        assert refused["type"] == "error" and refused["code"] == "invalid_request", refused
        assert refused["problems"] == [{"row": 3, "code": "forbidden", "problem": "account 'A1' is not yours"}], refused
        assert await orders_of(client, "T10", other) == []
