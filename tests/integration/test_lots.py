"""Tax lots and P&L over a running server (docs/books.md): buys fill at the simulated market
maker and open lots at the cash they booked, sales close them by FIFO, by the lots an order
names (in ``new_order`` and ``new_orders``), by an order's own method and by the account's
set with ``admin lot-method`` (hifo, average); ``get_lots``, ``get_gains``
(paged, with the totals of the range) and ``get_account`` (realized today and this year, each
position's mark and unrealized P&L) agree with the execution reports the client was sent.
Bad lots are rejected with their reason and change nothing; another user's or another
tenant's account is answered like one that does not exist."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import msgspec
import pytest
import pytest_asyncio

from model import fixed
from model.accounts_file import AccountSeed
from model.config import User
from model.lots import split
from server.app import BrokerServer
from server.client.cli import build_parser, run_command
from server.client.sdk import BrokerClient
from tests.conftest import make_setup
from tests.integration.helpers import cloid, connect, final_report, trades

pytestmark = pytest.mark.asyncio(loop_scope="session")

FIRM = "firm-l"
FIRM_ACCOUNT = "L1"
EVER = ("2000-01-01", "2099-12-31")  # every date a test's sales fall on
MOVE = Decimal("0.03")  # how far the ask must have moved from the first buy's price before the second buy
Message = dict[str, Any]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server(ray_cluster: None) -> AsyncIterator[BrokerServer]:
    setup = make_setup(f"t-{uuid.uuid4().hex[:8]}", quote_interval_ms=25)
    accounts = [AccountSeed(FIRM_ACCOUNT, "firm-owner", 50_000 * fixed.SCALE, tenant=FIRM)]
    users = [
        User(key="firm-compliance", secret="firm-compliance-secret", role="compliance", tenant=FIRM),
        User(key="home-compliance", secret="home-compliance-secret", role="compliance"),
    ]
    setup = msgspec.structs.replace(setup, users=[*setup.users, *users], accounts=[*setup.accounts, *accounts])
    broker = BrokerServer(setup, "127.0.0.1", 0)
    await broker.start()
    yield broker
    await broker.stop()


def nano(text: str) -> int:
    return fixed.parse(text)


async def admin(url: str, *words: str) -> Message:
    async with BrokerClient(url, "admin", "admin-secret") as client:
        reply: Message = await client.request({"op": "admin", "command": words[0], "args": list(words[1:])}, timeout=60)
    return reply


async def filled(client: BrokerClient, account: str, side: str, qty: str, **terms: Any) -> tuple[Message, int]:
    """A market order filled; its last report and the cash it booked (nano units): its
    trades' value rounded up to the cent for a buy, down for a sell."""
    client_order_id = cloid("lot")
    ack = await client.new_order(account, client_order_id, "IBM", side, "market", qty=qty, **terms)
    assert ack["status"] == "new", ack
    done = await final_report(client, client_order_id)
    assert done["status"] == "filled", done
    return done, booked_cash(client, done)


def booked_cash(client: BrokerClient, done: Message) -> int:
    """The cash an order booked, from the trade reports the client was sent (nano units)."""
    value = sum((Decimal(t["last_qty"]) * Decimal(t["last_price"]) for t in trades(client, done["account"]) if t["order_id"] == done["order_id"]), Decimal(0))
    cents = value.quantize(Decimal("0.01"), rounding="ROUND_CEILING" if done["side"] == "buy" else "ROUND_FLOOR")
    return nano(str(cents))


async def open_lots(client: BrokerClient, account: str) -> list[Message]:
    reply = await client.get_lots(account, "IBM")
    assert reply["type"] == "lots", reply
    return list(reply["lots"])


async def gains(client: BrokerClient, account: str) -> Message:
    reply = await client.get_gains(account, *EVER)
    assert reply["type"] == "gains" and reply["next_cursor"] is None, reply
    return reply


async def buy_at_a_new_price(client: BrokerClient, account: str, qty: str, away_from: Decimal) -> tuple[Message, int]:
    """A buy once the ask has moved ``MOVE`` from ``away_from`` (so it fills at another price)."""
    since = len(client.history)
    await client.wait_for(
        lambda m: m.get("type") == "quote" and m.get("symbol") == "IBM" and abs(Decimal(m["ask"]) - away_from) >= MOVE, timeout=60, since=since
    )
    return await filled(client, account, "buy", qty)


def assert_closed(before: list[Message], closings: list[Message], takes: list[tuple[int, int]], proceeds: int, order_id: str) -> None:
    """The closings a sale wrote: the lots ``takes`` says ((lot_id, qty), in order), each at
    its share of the lot's cost as it was before the sale and of the sale's cash."""
    lots = {lot["lot_id"]: lot for lot in before}
    assert [(c["lot_id"], nano(c["qty"])) for c in closings] == takes, (closings, takes)
    shares = split(proceeds, [qty for _, qty in takes])
    for closing, (lot_id, qty), share in zip(closings, takes, shares, strict=True):
        lot_qty, lot_cost = nano(lots[lot_id]["qty"]), nano(lots[lot_id]["cost"])
        cost = lot_cost if qty == lot_qty else lot_cost * qty // lot_qty
        disallowed = nano(closing["wash_disallowed"])
        assert (closing["order_id"], closing["symbol"], closing["term"]) == (order_id, "IBM", "short"), closing
        assert (nano(closing["proceeds"]), nano(closing["cost"]), closing["acquired"]) == (share, cost, lots[lot_id]["acquired"]), (closing, lots[lot_id])
        assert nano(closing["gain"]) == share - cost + disallowed, closing
        # a loss with another lot bought in the 30 days before it is a wash sale: never more than the loss is disallowed
        assert 0 <= disallowed <= max(0, cost - share) and closing["wash_sale"] == (disallowed > 0), closing


async def assert_books(client: BrokerClient, account: str, bought: int, sold: int) -> tuple[list[Message], Message]:
    """The account's lots, gains and view agree with each other and with the cash of its
    fills (``bought``, ``sold``): the lots sum to the position, their cost to its cost; cost
    is conserved (open + closed = the cash of the buys + the losses carried into lots by wash
    sales); realized + unrealized = market value − net cash invested; realized today and
    this year are the closings' gains."""
    lots = await open_lots(client, account)
    closed = await gains(client, account)
    view = await client.get_account(account)
    [position] = [p for p in view["positions"] if p["symbol"] == "IBM"]
    qty, cost = sum(nano(lot["qty"]) for lot in lots), sum(nano(lot["cost"]) for lot in lots)
    assert nano(position["qty"]) == qty and qty > 0, (position, lots)
    assert nano(position["avg_cost"]) == cost * fixed.SCALE // qty, (position, cost)
    assert nano(position["unrealized"]) == qty * nano(position["mark"]) // fixed.SCALE - cost, position
    [mark] = {lot["mark"] for lot in lots}
    for lot in lots:
        assert nano(lot["unrealized"]) == nano(lot["qty"]) * nano(mark) // fixed.SCALE - nano(lot["cost"]), lot
    rows = closed["gains"]
    disallowed = sum(nano(row["wash_disallowed"]) for row in rows)
    assert cost + sum(nano(row["cost"]) for row in rows) == bought + disallowed
    assert sum(nano(row["proceeds"]) for row in rows) == sold
    realized = sum(nano(row["gain"]) for row in rows)
    assert realized + sum(nano(lot["unrealized"]) for lot in lots) == qty * nano(mark) // fixed.SCALE - (bought - sold)
    totals = closed["totals"]
    assert (totals["closings"], nano(totals["gain"]), nano(totals["short_term_gain"]), nano(totals["long_term_gain"])) == (len(rows), realized, realized, 0)
    assert (nano(totals["proceeds"]), nano(totals["wash_disallowed"])) == (sold, disallowed), totals
    assert nano(view["realized_today"]) == nano(view["realized_ytd"]) == realized, view
    return lots, closed


async def test_lots_open_at_the_cash_booked_and_close_by_fifo_named_lots_and_hifo(server: BrokerServer) -> None:
    account = "T01"
    async with connect(server.url) as client:
        assert (await client.subscribe(["quotes:IBM"]))["type"] == "subscribed"
        first, first_cash = await filled(client, account, "buy", "10")
        second, second_cash = await buy_at_a_new_price(client, account, "10", Decimal(first["avg_price"]))
        assert first["avg_price"] != second["avg_price"], (first, second)
        bought, sold = first_cash + second_cash, 0
        lots = await open_lots(client, account)
        assert [(lot["lot_id"], lot["qty"], nano(lot["cost"]), lot["wash_adjustment"]) for lot in lots] == [
            (1, "10", first_cash, "0.00"),
            (2, "10", second_cash, "0.00"),
        ], lots
        assert lots[0]["acquired"] <= lots[1]["acquired"]
        assert (await client.get_gains(account, *EVER))["gains"] == []
        await assert_books(client, account, bought, sold)

        # FIFO (the default): the first lot opened
        done, cash = await filled(client, account, "sell", "4")
        sold += cash
        closings = (await gains(client, account))["gains"]
        assert_closed(lots, closings, [(1, nano("4"))], cash, done["order_id"])
        lots, _ = await assert_books(client, account, bought, sold)

        # a lot named on the order: lot 2, though lot 1 is older
        done, cash = await filled(client, account, "sell", "3", lots=[(2, "3")])
        sold += cash
        closings = (await gains(client, account))["gains"]
        assert_closed(lots, closings[1:], [(2, nano("3"))], cash, done["order_id"])
        lots, closed = await assert_books(client, account, bought, sold)

        # the account's method set by the operator: the highest cost per share first (ties: first opened)
        answer = await admin(server.url, "lot-method", account, "hifo")
        assert answer["result"] == {"ok": True, "account": account, "lot_method": "hifo"}, answer
        assert (await client.get_lots(account))["lot_method"] == "hifo"
        per_share = [nano(lot["cost"]) * fixed.SCALE // nano(lot["qty"]) for lot in lots]
        highest = lots[per_share.index(max(per_share))]
        qty = min(nano(highest["qty"]), nano("2"))
        done, cash = await filled(client, account, "sell", fixed.format(qty))
        sold += cash
        closings = (await gains(client, account))["gains"]
        assert_closed(lots, closings[len(closed["gains"]) :], [(highest["lot_id"], qty)], cash, done["order_id"])
        await assert_books(client, account, bought, sold)

        # paged: one closing a page, each page with the totals of the whole range
        whole = await gains(client, account)
        pages, cursor = [], None
        while True:
            page = await client.get_gains_page(account, *EVER, cursor=cursor, limit=1)
            assert page["type"] == "gains" and len(page["gains"]) == 1 and page["totals"] == whole["totals"], page
            pages += page["gains"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert pages == whole["gains"] and len(pages) == whole["totals"]["closings"] >= 3
        empty = await client.get_gains(account, "2001-01-01", "2001-12-31")
        assert (empty["gains"], empty["totals"]["closings"], empty["totals"]["gain"]) == ([], 0, "0.00"), empty
        for bad in ({"from": "2026-02-30", "to": "2026-03-01"}, {"from": "2026-03-02", "to": "2026-03-01"}, {"from": "x", "to": "y"}):
            refused = await client.request({"op": "get_gains", "account": account, **bad})
            assert (refused["type"], refused["code"]) == ("error", "invalid_request"), (bad, refused)
        refused = await client.get_gains_page(account, *EVER, cursor=10_000)
        assert (refused["type"], refused["code"]) == ("error", "invalid_request"), refused
    check = await admin(server.url, "check")
    assert check["result"]["ok"], check


async def snapshot_of(client: BrokerClient, account: str) -> tuple[Message, Message, Message]:
    lots = await client.get_lots(account)
    closed = await client.get_gains(account, *EVER)
    view = await client.get_account(account)
    for reply in (lots, closed, view):
        reply.pop("id")
    for lot in lots["lots"]:
        lot.pop("mark"), lot.pop("unrealized")  # the market moves: the books do not
    for position in view["positions"]:
        position.pop("mark"), position.pop("unrealized")
    return lots, closed, view


async def test_bad_lots_are_rejected_with_their_reason_and_change_nothing(server: BrokerServer) -> None:
    account, other = "T03", "T04"
    async with connect(server.url) as client:
        await filled(client, account, "buy", "10")
        await filled(client, account, "buy", "10")
        replies = await client.new_orders([{"account": other, "client_order_id": cloid("o"), "symbol": "IBM", "side": "buy", "type": "market", "qty": "1"} for _ in range(6)])
        for reply in replies:
            assert reply.get("status") == "new", reply
            assert (await final_report(client, reply["client_order_id"]))["status"] == "filled"
        mine = {lot["lot_id"] for lot in await open_lots(client, account)}
        theirs = [lot["lot_id"] for lot in await open_lots(client, other) if lot["lot_id"] not in mine]
        assert mine == {1, 2} and theirs, (mine, theirs)
        before = await snapshot_of(client, account)
        cases = [
            ([(99, "1")], "1", "unknown_lot"),  # no such lot
            ([(theirs[-1], "1")], "1", "unknown_lot"),  # another account's
            ([(1, "12")], "12", "lot_qty_exceeded"),  # more than the lot holds
            ([(2, "1"), (1, "11")], "12", "lot_qty_exceeded"),  # ... one of several
        ]
        for picks, qty, reason in cases:
            client_order_id = cloid("bad")
            report = await client.new_order(account, client_order_id, "IBM", "sell", "market", qty=qty, lots=picks)
            assert (report["type"], report["status"], report["reason"]) == ("execution", "rejected", reason), (picks, report)
            assert await snapshot_of(client, account) == before, picks
        # refused by the gateway before any shard sees them
        for picks, terms in (
            ([(1, "1"), (1, "1")], {}),  # a lot named twice
            ([(1, "0")], {}),  # nothing of it
            ([(1, "0.0000001")], {}),  # finer than the instrument's step
            ([(1, "1")], {"side": "buy"}),  # a buy closes no long lot
        ):
            order = {"account": account, "client_order_id": cloid("bad"), "symbol": "IBM", "side": "sell", "type": "market", "qty": "1", **terms}
            answers = await client.new_orders([{**order, "lots": picks}])
            assert (answers[0]["type"], answers[0]["code"]) == ("error", "invalid_request"), (picks, answers)
        answer = await client.new_order(account, cloid("bad"), "IBM", "sell", "market", qty="1", lot_method="newest")
        assert (answer["type"], answer["code"]) == ("error", "invalid_request"), answer
        assert await snapshot_of(client, account) == before
        refused = await admin(server.url, "lot-method", account, "specific")
        assert refused["type"] == "error" and "unknown lot method" in refused["message"], refused
        assert (await client.get_lots(account))["lot_method"] == "fifo"


async def test_another_user_s_or_tenant_s_account_is_answered_like_an_unknown_one(server: BrokerServer) -> None:
    queries = (
        lambda client, account: client.get_lots(account),
        lambda client, account: client.get_lots(account, "IBM"),
        lambda client, account: client.get_gains(account, *EVER),
    )
    async with connect(server.url, "trader1", "trader1-secret") as trader:  # A1, A2: T01 is the tester's
        for query in queries:
            other, nowhere = await query(trader, "T01"), await query(trader, "NOPE")
            assert (other["type"], other["code"], other["message"]) == ("error", "forbidden", "account 'T01' is not yours"), other
            assert (nowhere["code"], nowhere["message"]) == ("forbidden", "account 'NOPE' is not yours"), nowhere
            other = await query(trader, FIRM_ACCOUNT)
            assert (other["code"], other["message"]) == ("forbidden", f"account '{FIRM_ACCOUNT}' is not yours"), other
            assert (await query(trader, "A1"))["type"] in ("lots", "gains")
    for key, own, foreign in (("firm-compliance", FIRM_ACCOUNT, "T01"), ("home-compliance", "T01", FIRM_ACCOUNT)):
        async with connect(server.url, key, f"{key}-secret") as reader:  # reads every account of its tenant
            for query in queries:
                other, nowhere = await query(reader, foreign), await query(reader, "NOPE")
                assert (other["type"], other["code"], other["message"]) == ("error", "forbidden", f"unknown account {foreign}"), other
                assert (nowhere["code"], nowhere["message"]) == ("forbidden", "unknown account NOPE"), nowhere
                assert (await query(reader, own))["type"] in ("lots", "gains")
    async with BrokerClient(server.url, "admin", "admin-secret") as operator:  # every tenant: an unknown account is the shard's to say
        for query in queries:
            nowhere = await query(operator, "NOPE")
            assert (nowhere["code"], nowhere["message"]) == ("forbidden", "unknown account NOPE"), nowhere
            assert (await query(operator, FIRM_ACCOUNT))["type"] in ("lots", "gains")


async def cli(url: str, *argv: str) -> tuple[int, list[Message]]:
    """``python -m server.client ARGV`` as the tester: its exit status and its output lines."""
    out, err = io.StringIO(), io.StringIO()
    args = build_parser({}).parse_args(["--url", url, "--key", "tester", "--secret", "tester-secret", "--timeout", "30", *argv])
    status = await run_command(args, out, err)
    assert err.getvalue() == "", err.getvalue()
    return status, [json.loads(line) for line in out.getvalue().splitlines()]


async def test_the_command_line_sells_a_named_lot_and_lists_lots_and_gains(server: BrokerServer) -> None:
    account = "T05"
    async with connect(server.url) as client:
        await filled(client, account, "buy", "5")
        await filled(client, account, "buy", "5")
        status, reports = await cli(server.url, "order", account, "IBM", "sell", "--qty", "2", "--lot", "2:2", "--watch", "15")
        assert status == 0 and reports[-1]["status"] == "filled", reports
        status, [lots] = await cli(server.url, "lots", account, "--symbol", "IBM")
        held = {lot["lot_id"]: nano(lot["qty"]) for lot in lots["lots"]}  # lot 1 may be split: a wash sale's replacement shares
        assert status == 0 and (held[2], sum(held.values())) == (nano("3"), nano("8")), lots
        status, [listed] = await cli(server.url, "gains", account, "--from", EVER[0], "--to", EVER[1], "--page-size", "1")
        assert status == 0 and [(row["lot_id"], row["qty"], row["order_id"]) for row in listed["gains"]] == [(2, "2", reports[-1]["order_id"])]
        listed.pop("id")
        whole = await gains(client, account)
        whole.pop("id")
        assert listed == whole
        status, [refused] = await cli(server.url, "order", account, "IBM", "sell", "--qty", "1", "--lot", "9:1")
        assert (status, refused["status"], refused["reason"]) == (1, "rejected", "unknown_lot"), refused


async def test_an_order_s_own_method_and_the_average_method(server: BrokerServer) -> None:
    account = "T06"
    async with connect(server.url) as client:
        bought = 0
        for _ in range(3):
            bought += (await filled(client, account, "buy", "4"))[1]
        lots = await open_lots(client, account)
        assert [lot["lot_id"] for lot in lots] == [1, 2, 3]
        # the order's own method, lifo, over the account's fifo: the lot opened last
        done, sold = await filled(client, account, "sell", "1", lot_method="lifo")
        assert_closed(lots, (await gains(client, account))["gains"], [(3, nano("1"))], sold, done["order_id"])
        lots, closed = await assert_books(client, account, bought, sold)
        # average: every open lot re-averaged over the position's cost, then the first closed
        assert (await admin(server.url, "lot-method", account, "average"))["result"]["lot_method"] == "average"
        total = sum(nano(lot["cost"]) for lot in lots)
        averaged = [{**lot, "cost": fixed.format(cost)} for lot, cost in zip(lots, split(total, [nano(lot["qty"]) for lot in lots]), strict=True)]
        # an entry of new_orders carries its lots too: lot 2, then what they lack by the account's method
        client_order_id = cloid("avg")
        [ack] = await client.new_orders([{"account": account, "client_order_id": client_order_id, "symbol": "IBM", "side": "sell", "type": "market", "qty": "2"}])
        assert ack["status"] == "new", ack
        report = await final_report(client, client_order_id)
        cash = booked_cash(client, report)
        sold += cash
        assert_closed(averaged, (await gains(client, account))["gains"][len(closed["gains"]) :], [(lots[0]["lot_id"], nano("2"))], cash, report["order_id"])
        lots, closed = await assert_books(client, account, bought, sold)
        client_order_id = cloid("named")
        [ack] = await client.new_orders(
            [{"account": account, "client_order_id": client_order_id, "symbol": "IBM", "side": "sell", "type": "market", "qty": "1", "lots": [(2, "1")]}]
        )
        assert ack["status"] == "new", ack
        report = await final_report(client, client_order_id)
        cash = booked_cash(client, report)
        sold += cash
        # the method is specific: no re-averaging, lot 2 as it was
        assert_closed(lots, (await gains(client, account))["gains"][len(closed["gains"]) :], [(2, nano("1"))], cash, report["order_id"])
        await assert_books(client, account, bought, sold)


async def test_a_resend_with_other_lots_is_other_content(server: BrokerServer) -> None:
    account = "T07"
    async with connect(server.url) as client:
        bought, _ = await filled(client, account, "buy", "10")
        client_order_id = cloid("resend")
        above = (Decimal(bought["avg_price"]) * Decimal("1.05")).quantize(Decimal("0.01"))
        terms: dict[str, Any] = {"qty": "2", "price": str(above)}  # rests: above the market, within the price band
        first = await client.new_order(account, client_order_id, "IBM", "sell", "limit", lots=[(1, "2")], **terms)
        assert first["status"] == "new", first
        same = await client.new_order(account, client_order_id, "IBM", "sell", "limit", lots=[(1, "2")], **terms)
        assert (same["status"], same["order_id"]) == ("new", first["order_id"]), same
        others: list[dict[str, Any]] = [{"lots": [(1, "1")]}, {"lot_method": "lifo"}, {}]
        for other in others:
            answer = await client.new_order(account, client_order_id, "IBM", "sell", "limit", **other, **terms)
            assert (answer["status"], answer["reason"]) == ("rejected", "duplicate_client_order_id"), (other, answer)
        assert (await client.cancel_order(account, client_order_id))["status"] == "canceled"
