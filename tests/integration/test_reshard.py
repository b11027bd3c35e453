"""Adding an account shard (2 → 3) to a stopped server's data dir with ``admin reshard``,
the procedure SIGKILLed at both of its crash points and run again.

Before: accounts of every shard hold positions, limit orders rest at the simulated venue
and market orders wait for the open at the InstrumentActors. After the reshard and a
restart with ``account_shards = 3``: every account's cash, positions and orders are what
the clients were told before; the orders held for the open fill at ``admin open`` and
their fills reach the accounts' new shards; resting orders are canceled or replaced into
fills there; a deposit left pending on a moved account is settled there and its
idempotency key still answers; new orders of a moved account are numbered by its new shard; ``admin check``
is ok; no order is lost or doubled; and a second restart finds the same books."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from actors.reshard.layout import layout_lock
from model import fixed
from model.routing import shard_of
from server.app import BrokerServer
from server.client.sdk import BrokerClient
from tests.conftest import ROOT, TEST_ACCOUNTS, make_setup
from tests.integration.helpers import final_report, trades
from tests.integration.recovery import ServerProcess, admin, with_line_in, write_conf

pytestmark = pytest.mark.asyncio(loop_scope="session")

OLD, NEW = 2, 3
# two accounts of each (old shard, new shard) pair that occurs among the test accounts: some
# stay on their shard, some move to another old one, some to the new one
ACCOUNTS = sorted({pair: [a for a in TEST_ACCOUNTS if (shard_of(a, OLD), shard_of(a, NEW)) == pair][:2]
                   for pair in {(shard_of(a, OLD), shard_of(a, NEW)) for a in TEST_ACCOUNTS}}.items())
MOVED = [a for (old, new), accounts in ACCOUNTS if old != new for a in accounts]
EVERY = [a for _, accounts in ACCOUNTS for a in accounts]


def reshard(conf: Path, data: Path, shards: int, crash: str | None = None) -> subprocess.CompletedProcess[str]:
    """``admin reshard``, run at once after a clean stop (the stopped server's processes may
    still be ending: the data dir is free all the same)."""
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    if crash:
        env["BROKERD_CRASH_AT"] = crash
    command = [sys.executable, str(ROOT / "run_server.py"), "admin", "--json", "reshard", "--shards", str(shards), "--config", str(conf), "--data-dir", str(data)]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


def set_shards(conf: Path, shards: int) -> None:
    conf.write_text(with_line_in(conf.read_text(), "topology", f"account_shards = {shards}\n"))  # where the server's namespace is


async def books(client: BrokerClient) -> dict[str, Any]:
    """Each account's cash, buying power, positions (not their marks) and every order (as a
    report of its state, without ``ts``: a query's reports carry the time of the query)."""
    found: dict[str, Any] = {}
    for account in EVERY:
        view = await client.get_account(account, timeout=30)
        positions = {p["symbol"]: (p["qty"], p["avg_cost"]) for p in view["positions"]}
        orders = sorted(({k: v for k, v in o.items() if k != "ts"} for o in (await client.get_orders(account, timeout=30))["orders"]), key=lambda o: o["order_id"])
        found[account] = {"cash": view["cash"], "buying_power": view["buying_power"], "positions": positions, "orders": orders}
    return found


def assert_same(found: dict[str, Any], expected: dict[str, Any]) -> None:
    """Equal books, or the first difference named (the account, the order and its field)."""
    for account, book in expected.items():
        mine = found[account]
        for key in ("cash", "buying_power", "positions"):
            assert mine[key] == book[key], (account, key, mine[key], book[key])
        assert [o["order_id"] for o in mine["orders"]] == [o["order_id"] for o in book["orders"]], account
        for got, wanted in zip(mine["orders"], book["orders"], strict=True):
            assert got == wanted, (account, {k: (got.get(k), wanted.get(k)) for k in set(got) | set(wanted) if got.get(k) != wanted.get(k)})


async def place(client: BrokerClient, account: str, tag: str, **order: Any) -> dict[str, Any]:
    reply = await client.request({"op": "new_order", "account": account, "client_order_id": f"{tag}-{account}", **order}, timeout=30)
    assert reply.get("type") == "execution" and reply["status"] in ("new", "filled", "partially_filled"), reply
    return reply


async def queued_for_the_open(url: str) -> int:
    status = await admin(url, "status")
    return sum(a.get("open", {}).get("queued", 0) for a in status["result"]["actors"])


async def test_adding_a_shard_moves_every_account_with_its_orders_in_flight(tmp_path: Path, ray_address: str) -> None:
    conf = write_conf(tmp_path / "conf", quote_interval_ms=25)
    data = tmp_path / "data"
    server = ServerProcess(conf, data, address=ray_address)
    assert len(ACCOUNTS) >= 4 and MOVED, ACCOUNTS

    with server.running() as url:
        async with BrokerClient(url, "tester", "tester-secret") as client:
            for account in EVERY:
                bought = await place(client, account, "pos", symbol="IBM", side="buy", type="market", qty="10")
                done = await final_report(client, bought["client_order_id"], timeout=30)
                assert done["status"] == "filled", done
                await place(client, account, "rest-buy", symbol="IBM", side="buy", type="limit", qty="5", price="137.00", tif="gtc")
                await place(client, account, "rest-sell", symbol="IBM", side="sell", type="limit", qty="2", price="163.00", tif="gtc")
                await place(client, account, "open", symbol="AAPL", side="buy", type="market", qty="3", tif="opg")
            deposit = await client.deposit(MOVED[0], "250.25", "dep-moved")  # pending until a cashier settles it
            assert deposit["status"] == "pending", deposit
            for _ in range(100):
                if await queued_for_the_open(url) == len(EVERY):
                    break
                await asyncio.sleep(0.1)
            assert await queued_for_the_open(url) == len(EVERY)
            before = await books(client)
        check = await admin(url, "check")
        assert check["result"]["ok"], check

    # killed after the build is committed, then after the first actor is switched; each rerun goes on
    killed = reshard(conf, data, NEW, crash="reshard.built:1")
    assert killed.returncode == -9, (killed.returncode, killed.stdout, killed.stderr)
    refused = subprocess.run([sys.executable, str(ROOT / "run_server.py"), "--config", str(conf), "--data-dir", str(data), "--ws-port", "0"],
                             capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert refused.returncode == 2 and "has not finished" in refused.stderr, refused.stderr
    killed = reshard(conf, data, NEW, crash="reshard.switch:1")
    assert killed.returncode == -9, (killed.returncode, killed.stdout, killed.stderr)
    done = reshard(conf, data, NEW)
    assert done.returncode == 0, (done.stdout, done.stderr)
    result = json.loads(done.stdout)
    assert result["done"] and (result["from"], result["to"]) == (OLD, NEW), result
    assert sorted(result["actors"]) == ["account-0", "account-1", "account-2", "instrument-0", "instrument-1"]
    again = reshard(conf, data, NEW)
    assert again.returncode == 0 and not json.loads(again.stdout)["done"], again.stdout
    refused = subprocess.run([sys.executable, str(ROOT / "run_server.py"), "--config", str(conf), "--data-dir", str(data), "--ws-port", "0"],
                             capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert refused.returncode == 2 and "holds 3 account shards" in refused.stderr, refused.stderr
    journals = subprocess.run([sys.executable, str(ROOT / "run_server.py"), "admin", "journal", "verify", "--data-dir", str(data)],
                              capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert journals.returncode == 0, journals.stdout + journals.stderr

    set_shards(conf, NEW)
    with server.running() as url:
        async with BrokerClient(url, "tester", "tester-secret") as client:
            assert_same(await books(client), before)
            check = await admin(url, "check")
            assert check["result"]["ok"], check
            status = await admin(url, "status")
            assert {a["name"] for a in status["result"]["actors"]} >= {"account-0", "account-1", "account-2"}

            # the orders held for the open fill at the open; their fills reach the new owners
            assert await queued_for_the_open(url) == len(EVERY)
            opened = await admin(url, "open")
            assert opened["result"]["released"] == len(EVERY), opened
            for account in EVERY:
                filled = await final_report(client, f"open-{account}", timeout=60)
                assert filled["status"] == "filled" and filled["cum_qty"] == "3", filled

            # resting orders: canceled on some accounts, replaced into a fill on the others
            for index, account in enumerate(EVERY):
                if index % 2:
                    reply = await client.cancel_order(account, f"rest-sell-{account}", timeout=30)
                    assert reply.get("type") == "execution", reply
                    assert (await final_report(client, f"rest-sell-{account}", timeout=30))["status"] == "canceled"
                else:
                    reply = await client.replace_order(account, f"rest-buy-{account}", f"fill-{account}", price="164.00", timeout=30)
                    assert reply.get("type") == "execution", reply
                    assert (await final_report(client, f"fill-{account}", timeout=60))["status"] == "filled"

            # a moved account's new order is numbered by its new shard
            for account in MOVED:
                reply = await place(client, account, "after", symbol="MSFT", side="buy", type="limit", qty="1", price="370.00")
                assert reply["order_id"].startswith(f"account-{shard_of(account, NEW)}-"), reply

            # a deposit left pending on a moved account is settled where the account is now
            settled = await admin(url, "transfer", "settle", deposit["transfer_id"])
            assert settled["result"]["transfer"]["status"] == "settled", settled
            again = await client.deposit(MOVED[0], "250.25", "dep-moved")  # its key moved with it: the original answer
            assert again["transfer_id"] == deposit["transfer_id"], again

            after = await books(client)
            for account in EVERY:
                expected_cash = fixed.parse(before[account]["cash"]) + (fixed.parse("250.25") if account == MOVED[0] else 0)
                expected_ibm = fixed.parse(before[account]["positions"]["IBM"][0])
                bought_aapl = 0
                values: dict[str, Decimal] = {}
                for trade in trades(client, account):
                    if trade["client_order_id"] not in (f"open-{account}", f"fill-{account}"):
                        continue
                    qty = fixed.parse(trade["last_qty"])
                    values[trade["order_id"]] = values.get(trade["order_id"], Decimal(0)) + Decimal(trade["last_qty"]) * Decimal(trade["last_price"])
                    if trade["symbol"] == "IBM":
                        expected_ibm += qty
                    else:
                        bought_aapl += qty
                expected_cash -= sum(fixed.parse(str(value.quantize(Decimal("0.01"), rounding="ROUND_CEILING"))) for value in values.values())
                assert fixed.parse(after[account]["cash"]) == expected_cash, (account, before[account], after[account])
                assert fixed.parse(after[account]["positions"]["IBM"][0]) == expected_ibm, (account, after[account])
                assert fixed.parse(after[account]["positions"]["AAPL"][0]) == bought_aapl == fixed.parse("3"), (account, after[account])
                ids = [o["order_id"] for o in after[account]["orders"]]
                assert len(ids) == len(set(ids)), ids
                cloids = [o["client_order_id"] for o in after[account]["orders"]]
                assert len(cloids) == len(set(cloids)), cloids
                assert {o["order_id"] for o in before[account]["orders"]} <= set(ids)
        check = await admin(url, "check")
        assert check["result"]["ok"], check

    with server.running() as url:
        async with BrokerClient(url, "tester", "tester-secret") as client:
            assert_same(await books(client), after)
        check = await admin(url, "check")
        assert check["result"]["ok"], check


async def test_a_stopped_server_frees_its_data_dir_before_its_processes_end(ray_cluster: None) -> None:
    """``admin reshard`` may run once a stop has returned: the supervisor lets go of the data
    dir's layout lock as soon as every journal is closed, not when Ray ends its process (on a
    shared cluster, a moment after its name is free)."""
    broker = BrokerServer(make_setup(f"t-{uuid.uuid4().hex[:8]}"), "127.0.0.1", 0)
    await broker.start()
    data = Path(broker.setup.config.server.data_dir)
    try:
        with pytest.raises(BlockingIOError), layout_lock(data):
            pass  # held while the server runs
        await broker.supervisor.stop.remote()  # the clean stop's first part: every journal closed, every process alive
        with layout_lock(data):
            pass
    finally:
        await broker.stop()
