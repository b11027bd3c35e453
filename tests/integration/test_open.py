"""The open end to end: an advisor's 10,000 accounts queue orders for the open, the operator
opens, blocks fill in parts at the sim venue, and every account ends exactly where an
independent computation (``open_oracle``) says it must."""

from __future__ import annotations

import asyncio
import random
import shutil
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
import pytest_asyncio

from model import fixed
from model.config import AccountSeed, User
from server.app import BrokerServer
from server.client.sdk import BrokerClient
from tests.conftest import make_setup
from tests.integration.helpers import TERMINAL, order_for_the_open
from tests.integration.open_oracle import PlacedOrder, expected_fills

pytestmark = pytest.mark.asyncio(loop_scope="session")

ACCOUNTS = 10_000
SYMBOLS = ["IBM", "AAPL", "MSFT", "SPY"]
HELD = {"IBM": "1000", "AAPL": "1000", "SPY": "1000"}  # every account starts with these (MSFT: buys only)
OPENING_CASH = "100000.00"


def advisor_setup(namespace: str, accounts: int) -> Any:
    setup = make_setup(namespace, quote_interval_ms=25, quote_size=20_000)
    positions = tuple((symbol, fixed.parse(qty)) for symbol, qty in HELD.items())
    seeds = [AccountSeed(f"V{i:05d}", "advisor", fixed.parse(OPENING_CASH), positions=positions, group="ADV") for i in range(accounts)]
    advisor = User(key="advisor", secret="advisor-secret", role="advisor", groups=["ADV"])
    admin = User(key="ops", secret="ops-secret", role="admin")
    return msgspec.structs.replace(setup, users=[*setup.users, advisor, admin], accounts=[*setup.accounts, *seeds])


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def open_server(ray_cluster: None) -> AsyncIterator[BrokerServer]:
    broker = BrokerServer(advisor_setup(f"open-{uuid.uuid4().hex[:8]}", ACCOUNTS), "127.0.0.1", 0)
    await broker.start()
    yield broker
    await broker.stop()


def order_for(index: int, rng: random.Random) -> dict[str, Any]:
    symbol = SYMBOLS[index % len(SYMBOLS)]
    side = "sell" if symbol in HELD and rng.random() < 0.35 else "buy"

    def qty() -> str:
        return f"{rng.randint(0, 12)}.{rng.randint(1, 999_999):06d}"

    return order_for_the_open(rng, f"V{index:05d}", f"open-{index}", symbol, side, (20, 400), qty)


async def place(client: BrokerClient, orders: list[dict[str, Any]]) -> list[PlacedOrder]:
    placed = []
    for start in range(0, len(orders), 1000):
        frame = orders[start : start + 1000]
        for order, reply in zip(frame, await client.new_orders(frame, timeout=60), strict=True):
            assert reply.get("exec_type") == "new", reply
            qty = fixed.parse(order["qty"]) if "qty" in order else None
            notional = fixed.parse(order["notional"]) if "notional" in order else None
            placed.append(PlacedOrder(reply["order_id"], order["account"], order["symbol"], order["side"], qty, notional))
    return placed


async def all_done(client: BrokerClient, count: int, timeout: float = 120) -> dict[str, dict[str, Any]]:
    """The final report of every order, once all ``count`` have one."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        final = {m["order_id"]: m for m in client.history if m.get("type") == "execution" and m.get("status") in TERMINAL}
        if len(final) >= count:
            return final
        assert asyncio.get_running_loop().time() < deadline, f"{len(final)} of {count} orders done"
        await asyncio.sleep(0.2)


def import_dir(server: BrokerServer) -> Path:
    """Where the server's file commands read (``[admin] import_dir``, under its data dir)."""
    config = server.setup.config
    return config.admin.import_root(config.server.data_dir)


def export_dir(server: BrokerServer) -> Path:
    config = server.setup.config
    return config.admin.export_root(config.server.data_dir)


async def admin(client: BrokerClient, command: str, *args: str) -> dict[str, Any]:
    reply = await client.request({"op": "admin", "command": command, "args": list(args)}, timeout=120)
    assert reply.get("type") == "admin", reply
    return reply


async def test_ten_thousand_accounts_are_allocated_exactly_what_an_independent_computation_says(open_server: BrokerServer) -> None:
    url = open_server.url
    rng = random.Random(5)
    orders = [order_for(index, rng) for index in range(ACCOUNTS)]
    async with BrokerClient(url, "advisor", "advisor-secret") as advisor, BrokerClient(url, "ops", "ops-secret") as ops:
        placed = await place(advisor, orders)
        # an order's `new` report says its shard journaled it; its route reaches the
        # InstrumentActor just after, so the last few may still be on their way
        queued = 0
        for _ in range(300):
            status = await admin(ops, "status")
            queued = sum(a.get("open", {}).get("queued", 0) for a in status["result"]["actors"])
            if queued == ACCOUNTS:
                break
            await asyncio.sleep(0.1)
        assert queued == ACCOUNTS
        opened = await admin(ops, "open")
        assert opened["result"]["released"] == ACCOUNTS
        final = await all_done(advisor, ACCOUNTS)
        assert {m["status"] for m in final.values()} <= {"filled", "expired"}, {m["status"] for m in final.values()}

        blocks = (await admin(ops, "blocks"))["result"]["blocks"]
        assert {(b["symbol"], b["notional"]) for b in blocks} >= {(s, False) for s in SYMBOLS}
        increments = {symbol: fixed.parse("0.000001") for symbol in SYMBOLS}
        expected = expected_fills(blocks, placed, increments)
        assert len(expected) == ACCOUNTS

        # every order's fills, as its trade reports said
        got: dict[str, int] = {}
        block_ids = {b["block_id"] for b in blocks}
        for message in advisor.history:
            if message.get("type") == "execution" and message.get("exec_type") == "trade":
                got[message["order_id"]] = got.get(message["order_id"], 0) + fixed.parse(message["last_qty"])
                assert message.get("block", "").removesuffix("-X") in block_ids, message  # each allocation names its block (-X: its netted side)
        assert {k: v for k, v in got.items()} == {k: q for k, (q, _) in expected.items() if q}

        # every account's cash and positions
        by_account = {order.account: order for order in placed}
        for start in range(0, ACCOUNTS, 500):
            views = await asyncio.gather(*(advisor.get_account(f"V{i:05d}", timeout=60) for i in range(start, min(start + 500, ACCOUNTS))))
            for view in views:
                order = by_account[view["account"]]
                qty, cash = expected[order.order_id]
                sign = 1 if order.side == "buy" else -1
                assert fixed.parse(view["cash"]) == fixed.parse(OPENING_CASH) - sign * cash, (view, order, expected[order.order_id])
                positions = {p["symbol"]: fixed.parse(p["qty"]) for p in view["positions"]}
                wanted = {s: fixed.parse(q) for s, q in HELD.items()}
                wanted[order.symbol] = wanted.get(order.symbol, 0) + sign * qty
                assert positions == {s: q for s, q in wanted.items() if q}, (view, order)

        # a notional order never cost more than its cash; the blocks' allocations add up
        for order in placed:
            if order.notional is not None and order.side == "buy":
                assert expected[order.order_id][1] <= order.notional
        check = await admin(ops, "check")
        assert check["result"]["ok"], check

        # end of day: export (into the export dir), and reconcile the export against itself
        # and a doctored copy (the back office's files go into the import dir)
        exported = (await admin(ops, "export", "eod"))["result"]
        folder = export_dir(open_server).resolve() / "eod"
        assert exported["files"] == {"positions": str(folder / "positions.csv"), "allocations": str(folder / "allocations.csv")}
        assert exported["allocations"] == sum(1 for q, _ in expected.values() if q)
        lines = (folder / "allocations.csv").read_text().splitlines()
        assert lines[0] == "date,block_id,account,order_id,symbol,side,qty,price,cash" and len(lines) == exported["allocations"] + 1
        total_cash = sum(Decimal(line.split(",")[8]) for line in lines[1:])
        assert total_cash * 10**9 == sum(c for _, c in expected.values())
        shutil.copy(folder / "positions.csv", import_dir(open_server) / "eod-positions.csv")
        clean = await admin(ops, "reconcile", "eod-positions.csv")
        assert clean["ok"] and clean["result"]["breaks_found"] == 0, clean
        doctored = plant_breaks(folder / "positions.csv", import_dir(open_server) / "backoffice.csv")
        found = await admin(ops, "reconcile", "backoffice.csv")
        assert not found["ok"]
        assert {(b["kind"], b["account"], b["symbol"]) for b in found["result"]["breaks"]} == doctored


def plant_breaks(source: Path, target: Path) -> set[tuple[str, str, str | None]]:
    """A back-office copy of the export with three planted breaks: an account missing, a
    symbol missing, a quantity off by one increment."""
    header, *rows = source.read_text().splitlines()
    kept = [row for row in rows if not row.startswith("V00007,")]
    index = next(i for i, row in enumerate(kept) if row.startswith("V00011,IBM,"))
    del kept[index]
    index = next(i for i, row in enumerate(kept) if row.startswith("V00012,AAPL,"))
    account, symbol, qty, cost = kept[index].split(",")
    kept[index] = ",".join([account, symbol, fixed.format(fixed.parse(qty) + fixed.parse("0.000001")), cost])
    target.write_text("\n".join([header, *kept]) + "\n")
    return {("missing_account", "V00007", None), ("missing_symbol", "V00011", "IBM"), ("qty_mismatch", "V00012", "AAPL")}


async def test_accounts_load_at_run_time_whole_or_not_at_all_and_an_advisor_trades_them(open_server: BrokerServer) -> None:
    url = open_server.url
    bad = import_dir(open_server) / "accounts-bad.csv"
    bad.write_text("account,owner,cash,positions,group\nN1,adv,100.00,,ADV\nN2,adv,-5.00,,ADV\nN3,adv,100.00,IBM:x,ADV\nN4,adv,10.00,,ADV\n")
    (import_dir(open_server) / "new").mkdir()
    good = import_dir(open_server) / "new" / "accounts.csv"
    good.write_text("account,owner,cash,positions,group\nN1,adv,5000.00,VFIAX:10,ADV\nN2,adv,5000.00,,ADV\n")
    async with BrokerClient(url, "ops", "ops-secret") as ops:
        refused = await ops.request({"op": "admin", "command": "accounts", "args": ["load", "accounts-bad.csv"]})
        assert refused["type"] == "error" and "row 3" in refused["message"] and "row 4" in refused["message"], refused
        assert "row 2" not in refused["message"] and "row 5" not in refused["message"]
        assert (await ops.get_account("N1"))["type"] == "error"  # nothing of the bad file was loaded
        loaded = await admin(ops, "accounts", "load", "new/accounts.csv")
        assert loaded["result"]["loaded"] == 2 and loaded["result"]["file"] == str(good.resolve())
        again = await ops.request({"op": "admin", "command": "accounts", "args": ["load", str(good)]})  # absolute, inside: fine
        assert again["type"] == "error" and "exist already" in again["message"]
    async with BrokerClient(url, "advisor", "advisor-secret") as advisor:
        assert "N1" in advisor.accounts  # its group's new accounts, at the next login
        view = await advisor.get_account("N1")
        assert view["cash"] == "5000.00" and {p["symbol"]: p["qty"] for p in view["positions"]} == {"VFIAX": "10"}


async def queued_for_nav(ops: BrokerClient, count: int, timeout: float = 30) -> None:
    """Wait until the InstrumentActors hold ``count`` mutual fund orders for the next NAV.

    ``new`` means the account shard has journaled the order; the shard's route to the
    InstrumentActor is a separate hop, which that actor journals (an fsync) before it holds
    the order, so a ``status`` right after ``new`` may not count it yet."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        status = await admin(ops, "status")
        queued = sum(a.get("open", {}).get("queued_for_nav", 0) for a in status["result"]["actors"])
        assert queued <= count, f"{queued} orders queued for a NAV, expected {count}"
        if queued == count:
            return
        assert asyncio.get_running_loop().time() < deadline, f"{queued} of {count} orders queued for a NAV"
        await asyncio.sleep(0.05)


async def test_mutual_fund_orders_wait_for_the_nav_and_a_bad_nav_file_strikes_nothing(open_server: BrokerServer) -> None:
    url = open_server.url
    async with BrokerClient(url, "advisor", "advisor-secret") as advisor, BrokerClient(url, "ops", "ops-secret") as ops:
        buy = await advisor.new_order("V00001", "fund-buy", "VFIAX", "buy", notional="1000.00")
        sell = await advisor.new_order("V00002", "fund-qty", "VFIAX", "buy", qty="2.5")
        assert buy["exec_type"] == sell["exec_type"] == "new"
        await queued_for_nav(ops, 2)
        bad = import_dir(open_server) / "navs-bad.csv"
        bad.write_text("symbol,nav\nVFIAX,401.234\nIBM,150.00\n")
        refused = await ops.request({"op": "admin", "command": "nav", "args": ["navs-bad.csv"]})
        assert refused["type"] == "error" and "row 2" in refused["message"] and "row 3" in refused["message"], refused
        assert (await advisor.get_orders("V00001", open_only=True))["orders"], "a refused NAV file filled something"
        (import_dir(open_server) / "navs.csv").write_text("symbol,nav\nVFIAX,401.23\n")
        struck = await admin(ops, "nav", "navs.csv")
        assert struck["result"]["navs"] == {"VFIAX": "401.23"}
        filled_buy = await advisor.wait_for(lambda m: m.get("client_order_id") == "fund-buy" and m.get("status") == "filled", timeout=15)
        filled_sell = await advisor.wait_for(lambda m: m.get("client_order_id") == "fund-qty" and m.get("status") == "filled", timeout=15)
    assert (filled_buy["last_qty"], filled_buy["last_price"]) == ("2.492", "401.23")  # 2.492 × 401.23 = 999.86916 ≤ 1000.00
    assert (filled_sell["last_qty"], filled_sell["last_price"]) == ("2.5", "401.23")


async def test_every_fund_order_acknowledged_before_admin_nav_fills_at_that_nav(open_server: BrokerServer) -> None:
    """The cut-off is the moment the strike's marker passes the order's account shard: an
    order answered ``new`` before ``admin nav`` was sent fills at that NAV, one sent after
    ``admin nav`` answered waits for the next, while another connection streams fund orders
    throughout (over both account shards)."""
    url = open_server.url
    loop = asyncio.get_running_loop()
    navs = [f"{400 + k}.{k + 1:02d}" for k in range(16)]  # distinct: a fill's price names its strike
    strikes: list[tuple[float, float]] = []  # (nav sent, nav answered), in strike order
    pinned: dict[str, int] = {}  # order id → the strike it must fill at
    streamed: list[tuple[str, float, float]] = []  # (order id, sent, answered new)
    stop = asyncio.Event()

    async def stream(client: BrokerClient) -> None:
        index = 0
        while not stop.is_set():
            sent = loop.time()
            reply = await client.new_order(f"V{9000 + index % 500:05d}", f"nav-stream-{index}", "VFIAX", "buy", qty="0.001")
            assert reply["exec_type"] == "new", reply
            streamed.append((reply["order_id"], sent, loop.time()))
            index += 1

    async with (
        BrokerClient(url, "advisor", "advisor-secret") as advisor,
        BrokerClient(url, "advisor", "advisor-secret") as streamer,
        BrokerClient(url, "ops", "ops-secret") as ops,
    ):
        streaming = loop.create_task(stream(streamer))
        for k, nav in enumerate(navs[:-1]):
            reply = await advisor.new_order(f"V{9600 + k:05d}", f"nav-{k}", "VFIAX", "buy", qty="0.001")
            assert reply["exec_type"] == "new", reply
            sent = loop.time()
            struck = await admin(ops, "nav", "VFIAX", nav)
            strikes.append((sent, loop.time()))
            assert struck["result"]["struck"] is True and struck["result"]["orders"]["VFIAX"] >= 1, struck
            pinned[reply["order_id"]] = k
        stop.set()
        await streaming
        sent = loop.time()
        await admin(ops, "nav", "VFIAX", navs[-1])  # the stream's last orders
        strikes.append((sent, loop.time()))
        wanted = set(pinned) | {order_id for order_id, _, _ in streamed}
        deadline = loop.time() + 60
        while True:
            price = {
                m["order_id"]: fixed.parse(m["last_price"])
                for m in advisor.history
                if m.get("type") == "execution" and m.get("exec_type") == "trade" and m["order_id"] in wanted
            }
            if len(price) == len(wanted):
                break
            assert loop.time() < deadline, f"{len(price)} of {len(wanted)} fund orders filled"
            await asyncio.sleep(0.1)
        await queued_for_nav(ops, 0)  # none left waiting
        check = await admin(ops, "check")
        assert check["result"]["ok"], check
    strike_of = {fixed.parse(nav): k for k, nav in enumerate(navs)}
    assert {order_id: strike_of[price[order_id]] for order_id in pinned} == pinned
    assert len(streamed) > len(navs), "the stream was too slow to race the strikes"
    for order_id, sent, answered in streamed:
        earliest = sum(1 for _, done in strikes if done < sent)  # strikes applied before it was sent
        latest = next(k for k, (nav_sent, _) in enumerate(strikes) if nav_sent > answered)  # the first sent after its new
        assert earliest <= strike_of[price[order_id]] <= latest, (order_id, sent, answered, strikes)
