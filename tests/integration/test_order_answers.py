"""What the server answers about orders, end to end: ``get_orders`` in pages (thousands of
orders, orders arriving between pages, the client and its command line paging for you), the
first reply of an order the market does not take (rejected at once, never ``new`` first),
a resend's answer, a mutual fund's quote, and a batching login's arrays."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import msgspec
import pytest
import pytest_asyncio
from websockets.asyncio.client import connect as ws_connect

from model.config import QueriesSection
from server.app import BrokerServer
from server.client.cli import build_parser, run_command
from server.client.frames import login_message
from server.client.sdk import BrokerClient
from tests.conftest import make_setup
from tests.integration.helpers import cloid, connect, final_report

pytestmark = pytest.mark.asyncio(loop_scope="session")

PAGE = 100  # this module's [queries] orders_page_size
MAX_PAGE = 250  # ... and max_orders_page
PLACED = 3_000  # orders in one account: one reply for all would be ~1.4 MB, over a client's 1 MiB frame limit


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server(ray_cluster: None) -> AsyncIterator[BrokerServer]:
    setup = make_setup(f"answers-{uuid.uuid4().hex[:8]}", quote_interval_ms=25)
    queries = QueriesSection(orders_page_size=PAGE, max_orders_page=MAX_PAGE)
    setup = msgspec.structs.replace(setup, config=msgspec.structs.replace(setup.config, queries=queries))
    broker = BrokerServer(setup, "127.0.0.1", 0)
    await broker.start()
    yield broker
    await broker.stop()


def opg(account: str, client_order_id: str, symbol: str = "IBM", qty: str = "0.01") -> dict[str, Any]:
    """An order for the open: it waits at its InstrumentActor, costing nothing per quote."""
    return {
        "account": account,
        "client_order_id": client_order_id,
        "symbol": symbol,
        "side": "buy",
        "type": "market",
        "qty": qty,
        "tif": "opg",
    }


async def place(client: BrokerClient, orders: list[dict[str, Any]]) -> None:
    for start in range(0, len(orders), 1000):
        frame = orders[start : start + 1000]
        replies = await client.new_orders(frame, timeout=60)
        assert [reply.get("exec_type") for reply in replies] == ["new"] * len(frame), replies[:3]


async def admin(client: BrokerClient, command: str, *args: str) -> dict[str, Any]:
    reply = await client.request({"op": "admin", "command": command, "args": list(args)}, timeout=60)
    assert reply.get("type") == "admin", reply
    return reply["result"]  # type: ignore[no-any-return]


async def settled(watcher: BrokerClient, sender: BrokerClient, account: str) -> None:
    """Every report the shard sent before now has reached ``watcher``: a fresh order's own
    report travels behind them (one shard, one ordered link to the gateway)."""
    marker = cloid("mark")
    await sender.new_order(account, marker, "IBM", "buy", type="limit", qty="0.01", price="140.00")
    await watcher.wait_for(lambda m: m.get("client_order_id") == marker, timeout=15)


# --- get_orders in pages ------------------------------------------------------------------------------


async def test_thousands_of_orders_page_through_once_each_while_more_arrive(server: BrokerServer) -> None:
    async with connect(server.url) as client:
        placed = [f"p-{index}" for index in range(PLACED)]
        await place(client, [opg("T01", coid) for coid in placed])
        listed: list[str] = []
        cursor = None
        pages = 0
        while True:
            page = await client.get_orders_page("T01", cursor=cursor, timeout=30)
            assert page["type"] == "orders" and len(page["orders"]) <= PAGE, {k: v for k, v in page.items() if k != "orders"}
            listed += [order["client_order_id"] for order in page["orders"]]
            pages += 1
            if pages % 5 == 0:  # orders arriving between pages come after every earlier one
                more = [f"p-{len(placed) + index}" for index in range(7)]
                await place(client, [opg("T01", coid) for coid in more])
                placed += more
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert listed == placed  # each once, in the order they were placed
        assert pages >= PLACED // PAGE
        everything = await client.get_orders("T01", timeout=30)  # the client pages for you
        assert [o["client_order_id"] for o in everything["orders"]] == placed and everything["next_cursor"] is None
        larger = await client.get_orders("T01", limit=MAX_PAGE, timeout=30)
        assert [o["order_id"] for o in larger["orders"]] == [o["order_id"] for o in everything["orders"]]
        assert all(o["status"] == "new" and o["tif"] == "opg" for o in everything["orders"])


async def test_the_command_line_lists_every_page_as_one_reply(server: BrokerServer) -> None:
    async with connect(server.url) as client:
        await place(client, [opg("T02", f"cli-{index}") for index in range(2 * PAGE + 3)])
    args = build_parser({}).parse_args(
        ["--url", server.url, "--key", "tester", "--secret", "tester-secret", "orders", "T02", "--page-size", "40"]
    )
    out, err = io.StringIO(), io.StringIO()
    assert await run_command(args, out, err) == 0, err.getvalue()
    [line] = out.getvalue().splitlines()
    reply = json.loads(line)
    assert [o["client_order_id"] for o in reply["orders"]] == [f"cli-{index}" for index in range(2 * PAGE + 3)]


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"limit": MAX_PAGE + 1}, f"limit must be 1 to {MAX_PAGE}"),
        ({"limit": 0}, "limit must be 1"),
        ({"limit": "5"}, "limit"),
        ({"cursor": 5}, "cursor"),
        ({"cursor": "account-0-999999999"}, "cursor"),
        ({"cursor": "not a cursor"}, "cursor"),
    ],
)
async def test_a_bad_page_request_is_an_invalid_request_and_the_connection_goes_on(
    server: BrokerServer, fields: dict[str, Any], words: str
) -> None:
    async with connect(server.url) as client:
        reply = await client.request({"op": "get_orders", "account": "T03", **fields})
        assert (reply["type"], reply["code"]) == ("error", "invalid_request") and words in reply["message"], reply
        assert (await client.get_orders("T03"))["type"] == "orders"


async def test_a_cursor_of_another_account_is_refused(server: BrokerServer) -> None:
    async with connect(server.url) as client:
        await place(client, [opg("T04", f"x-{index}") for index in range(3)])
        page = await client.get_orders_page("T04", limit=2)
        assert page["next_cursor"] is not None
        other = await client.get_orders_page("T05", cursor=page["next_cursor"])
        assert (other["type"], other["code"]) == ("error", "invalid_request"), other


# --- the first reply is the only rejection ---------------------------------------------------------------


async def test_a_limit_order_on_a_fund_is_rejected_in_its_first_and_only_report(server: BrokerServer) -> None:
    async with connect(server.url) as client, connect(server.url) as watcher:
        coid = cloid("fund")
        first = await client.new_order("T06", coid, "VFIAX", "buy", type="limit", qty="1", price="450.00")
        assert (first["exec_type"], first["status"], first["reason"]) == ("rejected", "rejected", "unsupported_order"), first
        await settled(watcher, client, "T06")
        for connection in (client, watcher):  # the asker and every other connection of the user: one report, never a `new`
            seen = [m for m in connection.history if m.get("client_order_id") == coid]
            assert [(m["exec_type"], m["reason"]) for m in seen] == [("rejected", "unsupported_order")], seen
        [listed] = [o for o in (await client.get_orders("T06"))["orders"] if o["client_order_id"] == coid]
        assert (listed["status"], listed["exec_id"]) == ("rejected", first["exec_id"])


async def test_an_order_for_the_open_after_the_open_is_rejected_at_once(server: BrokerServer) -> None:
    async with connect(server.url) as client, connect(server.url, "admin", "admin-secret") as ops:
        early = await client.new_order("T07", cloid("early"), "XYZ", "buy", qty="1", tif="opg")
        assert early["exec_type"] == "new"
        opened = await admin(ops, "open", "XYZ")
        assert opened["opened"] is True
        coid = cloid("late")
        late = await client.new_order("T07", coid, "XYZ", "buy", qty="1", tif="opg")
        assert (late["exec_type"], late["status"], late["reason"]) == ("rejected", "rejected", "open_passed"), late
        other = await client.new_order("T07", cloid("ibm"), "IBM", "buy", qty="1", tif="opg")
        assert other["exec_type"] == "new"  # IBM has not opened
        await settled(client, client, "T07")
        assert [m["exec_type"] for m in client.history if m.get("client_order_id") == coid] == ["rejected"]
        check = await admin(ops, "check")  # every journal replays to the live state, late orders included
        assert check["ok"] is True, check["problems"]


# --- a resend gets the original acknowledgement, and only the asker gets it ----------------------------


async def test_a_resend_after_the_fill_gets_the_original_new_report_and_no_one_else_is_told(server: BrokerServer) -> None:
    async with connect(server.url) as client, connect(server.url) as watcher:
        coid = cloid("resend")
        first = await client.new_order("T08", coid, "IBM", "buy", qty="0.5")
        assert first["exec_type"] == "new"
        done = await final_report(client, coid)
        assert done["status"] == "filled"
        await settled(watcher, client, "T08")
        watched = len([m for m in watcher.history if m.get("client_order_id") == coid])
        again = await client.new_order("T08", coid, "IBM", "buy", qty="0.5")
        assert {k: v for k, v in again.items() if k != "id"} == {k: v for k, v in first.items() if k != "id"}
        assert (again["status"], again["cum_qty"], again["leaves_qty"]) == ("new", "0", "0.5")
        different = await client.new_order("T08", coid, "IBM", "buy", qty="0.6")
        assert (different["status"], different["reason"], different["order_id"]) == ("rejected", "duplicate_client_order_id", "")
        await settled(watcher, client, "T08")
        assert len([m for m in watcher.history if m.get("client_order_id") == coid]) == watched
        [listed] = [o for o in (await client.get_orders("T08"))["orders"] if o["client_order_id"] == coid]
        assert (listed["status"], listed["cum_qty"]) == ("filled", "0.5")  # the current state is the listing's


# --- a mutual fund's quote is its NAV ------------------------------------------------------------------


async def test_a_fund_shows_no_bid_or_ask_and_its_quote_is_the_nav_struck(server: BrokerServer) -> None:
    async with connect(server.url) as client, connect(server.url, "admin", "admin-secret") as ops:
        await client.subscribe(["quotes:VFIAX", "quotes:IBM"])
        for _ in range(10):  # quotes of IBM keep coming; a venue quote of the fund would have come with them
            mark = len(client.history)
            await client.wait_for(lambda m: m.get("type") == "quote" and m.get("symbol") == "IBM", timeout=10, since=mark)
        assert [m for m in client.history if m.get("symbol") == "VFIAX"] == []
        struck = await admin(ops, "nav", "VFIAX", "451.20")
        assert struck["navs"] == {"VFIAX": "451.20"}
        quote = await client.wait_for(lambda m: m.get("type") == "quote" and m.get("symbol") == "VFIAX", timeout=10)
        assert (quote["bid"], quote["ask"], quote["bid_size"], quote["ask_size"]) == (None, None, "0", "0") and Decimal(
            quote["nav"]
        ) == Decimal("451.20")
        async with connect(server.url) as later:  # a new subscriber gets the last one at once
            await later.subscribe(["quotes:VFIAX"])
            again = await later.wait_for(lambda m: m.get("type") == "quote" and m.get("symbol") == "VFIAX", timeout=10)
            assert Decimal(again["nav"]) == Decimal("451.20")


# --- batched frames ----------------------------------------------------------------------------------


async def test_a_batching_login_gets_in_arrays_every_message_a_plain_login_gets_one_a_frame(server: BrokerServer) -> None:
    """The same reports in the same order, each an element of an array instead of a frame; a
    shard's answers to one ``new_orders`` frame come back together, so arrays hold many."""
    placed = [f"batch-{index}" for index in range(500)]
    async with connect(server.url) as plain, ws_connect(server.url, max_size=None) as raw:
        await raw.send(json.dumps({**login_message("tester", "tester-secret", batch=True), "id": 1}))
        (answer,) = json.loads(await raw.recv())
        assert (answer["id"], answer["type"], answer["ok"], answer["batch"]) == (1, "login", True, True)
        async with BrokerClient(server.url, "tester", "tester-secret", batch=True, keep=False) as sender:
            await place(sender, [opg("T09", coid) for coid in placed])  # the replies: unpacked from arrays
        arrays: list[list[dict[str, Any]]] = []
        while sum(1 for array in arrays for message in array if message.get("client_order_id") in placed) < len(placed):
            frame = json.loads(await asyncio.wait_for(raw.recv(), 15))
            assert isinstance(frame, list) and frame, frame
            arrays.append(frame)
        seen = [(m["client_order_id"], m["exec_type"], m["order_id"]) for array in arrays for m in array if m.get("client_order_id") in placed]
        assert max(len(array) for array in arrays) > 1
        await plain.wait_for(lambda m: m.get("client_order_id") == placed[-1], timeout=15)
        one_a_frame = [(m["client_order_id"], m["exec_type"], m["order_id"]) for m in plain.history if m.get("client_order_id") in placed]
        assert seen == one_a_frame and [coid for coid, _, _ in seen] == placed
