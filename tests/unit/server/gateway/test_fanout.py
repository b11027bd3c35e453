"""Who follows what, and the executions and quotes each follower gets (``Fanout``); then the
subscribe limits through a gateway's frames."""

from __future__ import annotations

import json
from typing import Any

import pytest

from model import fixed
from model.config import User
from model.enums import ExecType, OrderStatus, OrderType, Side, TimeInForce
from model.messages import ExecutionReport, QuoteEvent, Reply
from model.orders import OrderSpec
from server.gateway.access import Access
from server.gateway.connection import Connection
from server.gateway.fanout import Fanout
from server.gateway.ratelimit import TokenBucket
from server.gateway.validation import Invalid
from tests.conftest import demo_setup
from tests.unit.server.gateway.harness import NoSocket, logged_in, make_gateway, replies

D = fixed.parse
TRADER = User(key="trader1", secret="s", role="trader", accounts=["A1", "A2"])
ADMIN = User(key="admin", secret="s", role="admin")


def make_fanout(max_channels: int = 10) -> Fanout:
    instruments = {instrument.symbol: instrument for instrument in demo_setup().instruments}
    return Fanout({}, instruments, max_channels)


def join(fanout: Fanout, conn_id: int, user: User, accounts: set[str]) -> Connection:
    """A connection logged in as ``user``, registered with the gateway's connections."""
    conn = Connection(conn_id, NoSocket(), TokenBucket(10**6, 10**6), 10**6)  # type: ignore[arg-type]
    conn.user, conn.accounts = user, frozenset(accounts)
    conn.session = Access.session_of(user)
    fanout.connections[conn_id] = conn
    fanout.follow(conn)
    return conn


def frames(conn: Connection) -> list[dict[str, Any]]:
    sent, conn.outgoing = conn.outgoing, []
    return [json.loads(frame) for frame in sent]


def report(account: str, exec_id: str, reply: Reply | None = None) -> ExecutionReport:
    return ExecutionReport(account, "o1", "c1", exec_id, ExecType.NEW, OrderStatus.NEW, OrderSpec("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, D("1"), None, D("149"), None), 0, D("1"), 0, None, None, None, 1, reply)


def quote(symbol: str, bid: str) -> QuoteEvent:
    return QuoteEvent(symbol, D(bid), D("100"), D(bid) + D("0.10"), D("100"), 1)


async def test_a_trader_follows_its_accounts_from_login_and_an_admin_only_once_it_subscribes() -> None:
    fanout = make_fanout()
    trader = join(fanout, 1, TRADER, {"A1", "A2"})
    admin = join(fanout, 2, ADMIN, {"A1", "A2", "B1"})
    fanout.execution(report("A1", "e1"), None)
    assert [m["exec_id"] for m in frames(trader)] == ["e1"] and frames(admin) == []
    fanout.subscribe(admin, ["executions"], b"7")
    assert frames(admin) == [{"id": 7, "type": "subscribed", "channels": ["executions"]}]
    fanout.execution(report("B1", "e2"), None)
    assert frames(trader) == [] and [m["exec_id"] for m in frames(admin)] == ["e2"]


async def test_executions_is_no_firehose_for_a_trader() -> None:
    fanout = make_fanout()
    trader = join(fanout, 1, TRADER, {"A1", "A2"})
    fanout.subscribe(trader, ["executions"], b"3")
    assert frames(trader)[0]["channels"] == ["executions"]
    assert fanout.execution(report("B1", "e1"), None) is None  # nobody here follows B1: never encoded
    assert frames(trader) == [] and fanout.firehose == set()


async def test_the_asker_is_left_to_the_gateway_and_every_other_follower_gets_the_report() -> None:
    fanout = make_fanout()
    asker = join(fanout, 1, TRADER, {"A1", "A2"})
    other = join(fanout, 2, TRADER, {"A1", "A2"})
    body = fanout.execution(report("A1", "e1", Reply("gateway-0", 1, b"9")), asker)
    assert body is not None and json.loads(body)["exec_id"] == "e1"
    assert frames(asker) == []  # it gets the report with its request's id, from the gateway
    assert [m["exec_id"] for m in frames(other)] == ["e1"]
    lonely = make_fanout()
    alone = join(lonely, 5, TRADER, set())
    assert lonely.execution(report("A1", "e2"), alone) is not None  # the asker needs it even with no follower


async def test_a_quote_goes_to_its_subscribers_and_the_latest_is_sent_to_a_new_subscriber() -> None:
    fanout = make_fanout()
    first = join(fanout, 1, TRADER, set())
    fanout.quote(quote("IBM", "149.00"))
    fanout.quote(quote("IBM", "149.50"))
    assert frames(first) == []
    fanout.subscribe(first, ["quotes:IBM"], b"2")
    subscribed, latest = frames(first)
    assert subscribed["channels"] == ["quotes:IBM"] and (latest["type"], latest["bid"]) == ("quote", "149.5")
    fanout.quote(quote("AAPL", "200.00"))
    fanout.quote(quote("IBM", "148.00"))
    assert [(m["symbol"], m["bid"]) for m in frames(first)] == [("IBM", "148")]


async def test_a_quote_nobody_follows_is_kept_but_not_formatted_until_someone_subscribes() -> None:
    fanout = make_fanout()
    first = join(fanout, 1, TRADER, set())
    fanout.quote(quote("IBM", "149.00"))
    assert fanout.quote_frames == {} and fanout.last_quotes["IBM"].bid == D("149.00")
    fanout.subscribe(first, ["quotes:IBM"], b"2")
    assert frames(first)[1]["bid"] == "149"
    fanout.forget(first)
    fanout.quote(quote("IBM", "150.00"))
    assert "IBM" not in fanout.quote_frames  # its last follower went: formatted no more


async def test_a_forgotten_connection_follows_nothing() -> None:
    fanout = make_fanout()
    admin = join(fanout, 1, ADMIN, {"A1"})
    trader = join(fanout, 2, TRADER, {"A1", "A2"})
    fanout.subscribe(admin, ["executions", "quotes:IBM"], b"1")
    fanout.subscribe(trader, ["quotes:IBM"], b"1")
    for conn in (admin, trader):
        del fanout.connections[conn.conn_id]
        fanout.forget(conn)
    assert fanout.execution(report("A1", "e1"), None) is None
    fanout.quote(quote("IBM", "150.00"))  # no KeyError for connections that are gone
    assert fanout.firehose == set() and fanout.quote_connections == {"IBM": set()} and fanout.account_connections == {"A1": set(), "A2": set()}


class Unwalkable(frozenset[str]):
    """A reach that fails the test if anything walks it (``in`` still answers)."""

    def __iter__(self):  # type: ignore[no-untyped-def]
        raise AssertionError("the reach was walked")


async def test_closing_a_connection_that_followed_nothing_does_not_walk_its_reach() -> None:
    """An operator's reach may be every account: closing its connection (or changing its
    reach) costs what it followed — nothing — not a walk of a million accounts. A trader's
    close still stops it following its own, and its reach changing follows the new ones."""
    fanout = make_fanout()
    admin = join(fanout, 1, ADMIN, set())
    admin.accounts = Unwalkable({"A1", "A2", "B1"})
    trader = join(fanout, 2, TRADER, {"A1", "A2"})
    fanout.forget(admin)
    fanout.forget_accounts(admin)
    assert fanout.account_connections == {"A1": {2}, "A2": {2}}
    fanout.forget_accounts(trader)  # its reach changes: forgotten, then followed again
    trader.accounts = frozenset({"A2", "B1"})
    fanout.follow(trader)
    assert fanout.account_connections == {"A1": set(), "A2": {2}, "B1": {2}}
    fanout.forget(trader)
    assert fanout.account_connections == {"A1": set(), "A2": set(), "B1": set()}


@pytest.mark.parametrize(
    ("channel", "code", "words"),
    [("quotes:NOPE", "unknown_symbol", "unknown symbol 'NOPE'"), ("trades:IBM", "invalid_request", "unknown channel"), ("quotes:", "invalid_request", "unknown channel")],
)
async def test_a_bad_channel_refuses_the_whole_frame(channel: str, code: str, words: str) -> None:
    fanout = make_fanout()
    trader = join(fanout, 1, TRADER, set())
    with pytest.raises(Invalid) as refused:
        fanout.subscribe(trader, ["quotes:IBM", channel], b"1")
    assert refused.value.code == code and words in str(refused.value)
    assert trader.quotes == set() and frames(trader) == [] and fanout.quote_connections == {}


# --- subscribe amplification -------------------------------------------------------------------


async def test_a_channel_named_95000_times_is_one_subscription_with_one_reply_entry_and_one_quote() -> None:
    gateway, _ = make_gateway(max_channels_per_connection=100_000)
    conn = logged_in(gateway)
    gateway.fanout.quote(quote("IBM", "150"))
    gateway.on_frame(conn, json.dumps({"op": "subscribe", "id": 2, "channels": ["quotes:IBM"] * 95_000}))
    reply, latest = replies(conn)
    assert reply == {"id": 2, "type": "subscribed", "channels": ["quotes:IBM"]}
    assert latest["symbol"] == "IBM"
    assert gateway.fanout.quote_connections["IBM"] == {conn.conn_id}
    gateway.on_frame(conn, json.dumps({"op": "subscribe", "id": 3, "channels": ["quotes:IBM", "quotes:AAPL"]}))
    assert [frame["type"] for frame in replies(conn)] == ["subscribed"]  # IBM again: no second snapshot


async def test_a_subscribe_frame_over_the_cap_is_refused_whole_and_changes_nothing() -> None:
    gateway, _ = make_gateway(max_channels_per_connection=3)
    conn = logged_in(gateway)
    gateway.on_frame(conn, json.dumps({"op": "subscribe", "id": 2, "channels": ["quotes:IBM"] * 4}))
    (refused,) = replies(conn)
    assert (refused["id"], refused["code"]) == (2, "invalid_request") and "at most 3" in refused["message"]
    gateway.on_frame(conn, json.dumps({"op": "subscribe", "id": 3, "channels": ["quotes:IBM", "quotes:AAPL"]}))
    assert replies(conn)[0]["channels"] == ["quotes:IBM", "quotes:AAPL"]
    gateway.on_frame(conn, json.dumps({"op": "subscribe", "id": 4, "channels": ["quotes:IBM", "quotes:MSFT", "quotes:SPY"]}))
    (refused,) = replies(conn)  # 2 held + 2 new > 3
    assert refused["code"] == "invalid_request" and "holds 2" in refused["message"]
    assert conn.quotes == {"IBM", "AAPL"} and "MSFT" not in gateway.fanout.quote_connections
    gateway.on_frame(conn, json.dumps({"op": "subscribe", "id": 5, "channels": ["quotes:AAPL", "quotes:MSFT", "quotes:IBM"]}))
    assert replies(conn)[0]["type"] == "subscribed" and conn.quotes == {"IBM", "AAPL", "MSFT"}


