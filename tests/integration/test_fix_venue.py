"""brokerd routing to a market maker over a real FIX session on loopback: the simulator
(``python -m adapters.fix.simulator``) as its own process, brokerd in the session's Ray
cluster with one venue of kind ``fix`` (and the sim venue beside it for best-price
routing); traders on WebSocket. Where the venue must say what no simulator says — garbage,
a fill after a disconnect — a bare quickfix acceptor plays it (``fixtools.RawVenue``)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
import pytest_asyncio

from model.config import VenueSection
from server.app import BrokerServer
from server.client.sdk import BrokerClient
from tests.conftest import ROOT, make_setup
from tests.integration.fixtools import Fields, RawVenue, free_port, ready_line
from tests.integration.helpers import assert_book, booked, cloid, connect, final_report

pytestmark = pytest.mark.asyncio(loop_scope="session")


QUOTED = "IBM,AAPL,MSFT,SPY"  # what the module's market maker trades: not XYZ, which brokerd lists


@pytest.fixture(scope="module")
def market_maker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    process, port = start_market_maker(tmp_path_factory.mktemp("mm"), "--fill-parts", "3", "--symbols", QUOTED)
    try:
        yield port
    finally:
        stop(process)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def fix_server(ray_cluster: None, market_maker: int, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[BrokerServer]:
    broker = await fix_broker(market_maker, tmp_path_factory.mktemp("fixconf"))
    yield broker
    await broker.stop()


@pytest.fixture(scope="module")
def raw_venue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RawVenue]:
    with RawVenue(tmp_path_factory.mktemp("raw"), free_port()) as venue:
        yield venue


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def raw_server(ray_cluster: None, raw_venue: RawVenue, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[BrokerServer]:
    """brokerd whose venue MM1 is the raw venue, with cancel on disconnect."""
    broker = await fix_broker(raw_venue.port, tmp_path_factory.mktemp("rawconf"), cancel_on_disconnect=True)
    yield broker
    await broker.stop()


def order(account: str, symbol: str = "IBM", **fields: str) -> dict:
    return {
        "op": "new_order",
        "account": account,
        "client_order_id": cloid("fix"),
        "symbol": symbol,
        "side": "buy",
        "type": "market",
        **fields,
    }


async def test_a_market_order_is_routed_over_fix_and_filled_in_parts(fix_server: BrokerServer) -> None:
    async with connect(fix_server.url) as client:
        ack = await client.request(order("T01", qty="0.9"))
        assert ack.get("status") == "new", ack
        final = await final_report(client, ack["client_order_id"])
        assert final["status"] == "filled" and Decimal(final["cum_qty"]) == Decimal("0.9")
        trades = [m for m in client.history if m.get("client_order_id") == ack["client_order_id"] and m.get("exec_type") == "trade"]
        assert len(trades) >= 2 and sum(Decimal(t["last_qty"]) for t in trades) == Decimal("0.9")


async def test_a_notional_order_never_costs_more_than_its_cash(fix_server: BrokerServer) -> None:
    async with connect(fix_server.url) as client:
        before = await client.get_account("T02")
        ack = await client.request(order("T02", notional="250.00"))
        final = await final_report(client, ack["client_order_id"])
        assert final["status"] == "filled", final
        await asyncio.sleep(0.2)
        after = await client.get_account("T02")
        assert Decimal(before["cash"]) - Decimal(after["cash"]) <= Decimal("250.00")


async def test_a_resting_limit_is_canceled_at_the_venue(fix_server: BrokerServer) -> None:
    async with connect(fix_server.url) as client:
        ack = await client.request(order("T03", type="limit", qty="1", price="140.00"))
        assert ack.get("status") == "new", ack
        await asyncio.sleep(0.2)
        await client.request({"op": "cancel_order", "account": "T03", "client_order_id": ack["client_order_id"]})
        final = await final_report(client, ack["client_order_id"])
        assert final["status"] == "canceled"


async def test_quotes_from_the_market_maker_reach_the_websocket_stream(fix_server: BrokerServer) -> None:
    async with connect(fix_server.url) as client:
        await client.subscribe(["quotes:IBM"])
        quote = await client.wait_for(lambda m: m.get("type") == "quote" and m.get("symbol") == "IBM", timeout=10)
        assert Decimal(quote["bid"]) < Decimal(quote["ask"])


async def test_status_shows_the_fix_session(fix_server: BrokerServer) -> None:
    status = await fix_server.supervisor.admin.remote("status", [])
    venue = next(a for a in status["actors"] if a["name"] == "venue-MM1")
    assert venue["fix"]["logged_on"] is True and venue["fix"]["sent"] > 0
    assert venue["reconciled"] == {"unknown_at_venue": [], "unknown_here": []}


def start_market_maker(data: Path, *extra: str, port: int | None = None) -> tuple[subprocess.Popen[str], int]:
    port = port or free_port()
    command = [sys.executable, "-m", "adapters.fix.simulator", "--config", str(ROOT / "conf" / "fix" / "mmsim.cfg"), "--port", str(port),
               "--data-dir", str(data), "--fill-parts", "2", "--latency-ms", "5", "--quote-interval-ms", "50", *extra]  # fmt: skip
    data.mkdir(parents=True, exist_ok=True)
    with (data / "mmsim.err").open("w") as stderr:
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True)
    assert ready_line(process).startswith("mmsim ready")
    return process, port


def stop(process: subprocess.Popen[str], sig: signal.Signals = signal.SIGTERM) -> None:
    if process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def fix_broker(
    port: int,
    conf: Path,
    data_dir: Path | None = None,
    rate_limit_per_s: int = 0,
    *,
    cancel_on_disconnect: bool = False,
    sim: dict[str, object] | None = None,
    comp_id: str = "MM1",
) -> BrokerServer:
    """brokerd with the venue MM1 over FIX to ``port`` (the venue's CompID: ``comp_id``).
    With ``sim``: the simulated venue SIM too, listed first, its ``[sim]`` settings changed
    by ``sim``."""
    conf.mkdir(parents=True, exist_ok=True)
    session = (ROOT / "conf" / "fix" / "venue-MM1.cfg").read_text().replace("SocketConnectPort=9880", f"SocketConnectPort={port}")
    session = session.replace("TargetCompID=MM1", f"TargetCompID={comp_id}")
    (conf / "venue-MM1.cfg").write_text(session)
    setup = make_setup(f"fix-{uuid.uuid4().hex[:6]}", data_dir=data_dir, **{"quote_interval_ms": 25, **(sim or {})})
    venue = VenueSection(
        name="MM1",
        kind="fix",
        session_config=str(conf / "venue-MM1.cfg"),
        rate_limit_per_s=rate_limit_per_s,
        cancel_on_disconnect=cancel_on_disconnect,
    )
    venues = [venue] if sim is None else [VenueSection(name="SIM"), venue]
    setup = msgspec.structs.replace(setup, config=msgspec.structs.replace(setup.config, venues=venues))
    broker = BrokerServer(setup, "127.0.0.1", 0)
    await broker.start()
    await venue_open(broker)
    return broker


async def venue_status(broker: BrokerServer, name: str = "venue-MM1") -> dict:
    status = await broker.supervisor.admin.remote("status", [])
    return dict(next(a for a in status["actors"] if a["name"] == name))


async def venue_in(broker: BrokerServer, session: str) -> dict:
    for _ in range(300):
        venue = await venue_status(broker)
        if venue.get("session") == session:
            return venue
        await asyncio.sleep(0.05)
    raise AssertionError(f"the FIX venue's session never became {session}: {venue}")


async def venue_open(broker: BrokerServer) -> dict:
    return await venue_in(broker, "open")


async def test_a_restart_resumes_sequence_numbers_and_possdup_resends_change_nothing(ray_cluster: None, tmp_path: Path) -> None:
    """brokerd stops and starts again on its data dir; the market maker resends its last
    execution reports with PossDupFlag=Y on the new logon: no fill is applied twice."""
    maker, port = start_market_maker(tmp_path / "mm", "--resend-on-logon", "3")
    try:
        first = await fix_broker(port, tmp_path / "conf", tmp_path / "data")
        try:
            async with connect(first.url) as client:
                for qty in ("0.4", "1.5"):
                    ack = await client.request(order("T05", qty=qty))
                    await final_report(client, ack["client_order_id"])
                await asyncio.sleep(0.3)
                before = await client.get_account("T05")
                orders_before = (await client.get_orders("T05"))["orders"]
        finally:
            await first.stop()
        second = await fix_broker(port, tmp_path / "conf", tmp_path / "data")
        try:
            venue = await venue_open(second)
            assert venue["fix"]["next_target_seq"] > 2 and venue["fix"]["next_sender_seq"] > 2  # resumed, not reset
            await asyncio.sleep(1.0)  # the PossDup resends arrive and are dropped
            async with connect(second.url) as client:
                after = await client.get_account("T05")
                orders_after = (await client.get_orders("T05"))["orders"]
            assert (after["cash"], booked(after)["positions"]) == (before["cash"], booked(before)["positions"])
            assert [(o["order_id"], o["cum_qty"]) for o in orders_after] == [(o["order_id"], o["cum_qty"]) for o in orders_before]
            check = await second.supervisor.admin.remote("check", [])
            assert check["ok"], check
        finally:
            await second.stop()
    finally:
        stop(maker)


async def test_the_rate_limit_holds_orders_back_rather_than_dropping_them(ray_cluster: None, tmp_path: Path) -> None:
    maker, port = start_market_maker(tmp_path / "mm")
    try:
        broker = await fix_broker(port, tmp_path / "conf", rate_limit_per_s=5)
        try:
            async with connect(broker.url) as client:
                started = asyncio.get_running_loop().time()
                acks = [await client.request(order(f"T{20 + i:02d}", qty="1")) for i in range(12)]
                finals = [await final_report(client, ack["client_order_id"], timeout=30) for ack in acks]
                elapsed = asyncio.get_running_loop().time() - started
            assert all(final["status"] == "filled" for final in finals)
            assert elapsed >= 1.2  # 12 orders at 5/s with a burst of 5: held back, none dropped
        finally:
            await broker.stop()
    finally:
        stop(maker)


# --- replace and venue reject (the module's market maker) ------------------------------------------


async def test_a_resting_limit_is_replaced_at_the_venue_and_a_marketable_replace_fills(fix_server: BrokerServer) -> None:
    async with connect(fix_server.url) as client:
        first, second, third = cloid("fix"), cloid("fix"), cloid("fix")
        ack = await client.new_order("T04", first, "IBM", "buy", type="limit", qty="1", price="140.00", timeout=15)
        assert ack.get("status") == "new", ack
        replaced = await client.replace_order("T04", first, second, qty="2", price="141.00", timeout=15)
        assert (replaced["exec_type"], replaced["client_order_id"], replaced["qty"], replaced["price"]) == (
            "replaced",
            second,
            "2",
            "141",
        ), replaced
        statuses = {o["client_order_id"]: o["status"] for o in (await client.get_orders("T04"))["orders"]}
        assert statuses == {first: "replaced", second: "new"}
        marketable = await client.replace_order("T04", second, third, price="160.00", timeout=15)
        assert (marketable["exec_type"], marketable["price"]) == ("replaced", "160"), marketable
        final = await final_report(client, third)
        assert final["status"] == "filled" and Decimal(final["cum_qty"]) == 2, final
        assert all(
            Decimal(t["last_price"]) <= Decimal("160")
            for t in client.history
            if t.get("client_order_id") == third and t.get("exec_type") == "trade"
        )


async def test_an_order_the_market_maker_refuses_comes_back_rejected_with_its_reason(fix_server: BrokerServer) -> None:
    async with connect(fix_server.url) as client:
        ack = await client.request(order("T06", symbol="XYZ", type="limit", qty="1", price="25.00"))
        assert ack.get("status") == "new", ack
        final = await final_report(client, ack["client_order_id"])
        assert (final["status"], final["reason"]) == ("rejected", "unknown symbol XYZ"), final
        account = await client.get_account("T06")
        assert account["cash"] == account["buying_power"]  # the reservation is released


# --- garbage and late fills (the raw venue) ---------------------------------------------------------


async def routed(raw_venue: RawVenue, client: BrokerClient, request: dict) -> Fields:
    """Send ``request`` and return the NewOrderSingle it became at the raw venue."""
    known = {message[11] for message in raw_venue.received if message.get(35) == "D"}
    ack = await client.request(request)
    assert ack.get("status") == "new", ack
    return await raw_venue.wait_for(lambda m: m.get(35) == "D" and m[11] not in known)


async def book_of(client: BrokerClient, account: str) -> tuple[dict, list[tuple[str, str, str]]]:
    view = await client.get_account(account)
    orders = [(o["client_order_id"], o["status"], o["cum_qty"]) for o in (await client.get_orders(account))["orders"]]
    return {key: booked(view)[key] for key in ("cash", "buying_power", "positions")}, orders


@asynccontextmanager
async def working_at_the_raw_venue(server: BrokerServer, raw_venue: RawVenue, account: str, qty: str) -> AsyncIterator[tuple[BrokerClient, dict, Fields]]:
    """A client, its limit buy of ``qty`` at 150.00 for ``account``, and the NewOrderSingle the
    raw venue received for it (and acknowledged, filling nothing)."""
    await venue_open(server)
    raw_venue.fill_price = None
    async with connect(server.url) as client:
        request = order(account, type="limit", qty=qty, price="150.00")
        yield client, request, await routed(raw_venue, client, request)


async def test_garbage_from_the_venue_is_refused_changes_nothing_and_the_session_stays_up(
    raw_server: BrokerServer, raw_venue: RawVenue
) -> None:
    async with working_at_the_raw_venue(raw_server, raw_venue, "T32", "2") as (client, request, sent):
        await asyncio.sleep(0.3)  # the venue's ack is applied
        before = await book_of(client, "T32")

        raw_venue.send(raw_venue.fill(sent, "1", "150.00"), without=(17,))  # ExecID missing: quickfix's dictionary refuses it
        missing = await raw_venue.wait_for(lambda m: m.get(35) == "3" and m.get(371) == "17", admin=True)
        assert missing[373] == "1"  # required tag missing
        raw_venue.send(raw_venue.report(sent, "Z"))  # no such ExecType
        bad_enum = await raw_venue.wait_for(lambda m: m.get(35) == "3" and m.get(371) == "150", admin=True)
        assert bad_enum[373] == "5"  # value incorrect
        raw_venue.send(raw_venue.report(sent, "F", _32="-1", _31="150.00", _39="1"))  # negative LastQty: brokerd's codec refuses it
        negative = await raw_venue.wait_for(lambda m: m.get(35) == "3" and m.get(371) == "32", admin=True)
        assert negative[373] == "5" and "LastQty(32)" in negative[58]
        raw_venue.send(raw_venue.fill(sent, "5", "150.00"))  # more than the order's 2
        overfill = await raw_venue.wait_for(lambda m: m.get(35) == "j" and m.get(379) == sent[11])
        assert "overfill" in overfill[58]

        await asyncio.sleep(0.3)
        assert await book_of(client, "T32") == before
        assert [m["exec_type"] for m in client.history if m.get("client_order_id") == request["client_order_id"]] == ["new"]
        venue = await venue_status(raw_server)
        assert venue["session"] == "open" and venue["fix"]["logged_on"] is True
        assert any("LastQty(32)" in text for text in venue["anomalies_recent"]) and any(
            "overfill" in text for text in venue["anomalies_recent"]
        )
        refused_tags = " ".join(venue["fix"]["refusals_recent"])
        assert "RefTagID=17" in refused_tags and "RefTagID=150" in refused_tags

        raw_venue.send(raw_venue.fill(sent, "2", "150.00"))  # the good fill after all that
        assert (await final_report(client, request["client_order_id"]))["status"] == "filled"
        raw_venue.fill_price = "150.00"
        following = await client.request(order("T32", type="limit", qty="1", price="150.00"))
        assert (await final_report(client, following["client_order_id"]))["status"] == "filled"
        await assert_book(client, "T32")


async def test_with_cancel_on_disconnect_a_drop_cancels_the_order_and_a_later_fill_is_refused(
    raw_server: BrokerServer, raw_venue: RawVenue
) -> None:
    async with working_at_the_raw_venue(raw_server, raw_venue, "T33", "1") as (client, request, sent):
        await asyncio.sleep(0.2)
        await raw_venue.logout()
        final = await final_report(client, request["client_order_id"])
        assert (final["status"], final["reason"]) == ("canceled", "venue disconnected: cancel on disconnect"), final
        released = await book_of(client, "T33")
        assert released[0]["cash"] == released[0]["buying_power"] and released[0]["positions"] == []

        await venue_open(raw_server)  # brokerd logs on again by itself
        await raw_venue.wait_logged_on()
        raw_venue.send(raw_venue.fill(sent, "1", "150.00"))  # the venue had not canceled it after all
        late = await raw_venue.wait_for(lambda m: m.get(35) == "j" and m.get(379) == sent[11])
        assert "after it was closed here" in late[58]
        await asyncio.sleep(0.3)
        assert await book_of(client, "T33") == released
        venue = await venue_status(raw_server)
        assert any("after it was closed here" in text for text in venue["anomalies_recent"])
        check = await raw_server.supervisor.admin.remote("check", [])
        assert check["ok"], check


# --- cancel on disconnect with the market maker ----------------------------------------------------


async def test_with_cancel_on_disconnect_killing_the_market_maker_cancels_resting_orders(ray_cluster: None, tmp_path: Path) -> None:
    maker, port = start_market_maker(tmp_path / "mm", "--cancel-on-disconnect")
    try:
        broker = await fix_broker(port, tmp_path / "conf", cancel_on_disconnect=True)
        try:
            async with connect(broker.url) as client:
                resting = await client.request(order("T34", type="limit", qty="1", price="140.00"))
                assert resting["status"] == "new", resting
                await asyncio.sleep(0.3)
                stop(maker, signal.SIGKILL)  # no logout: the connection just drops
                final = await final_report(client, resting["client_order_id"])
                assert (final["status"], final["reason"]) == ("canceled", "venue disconnected: cancel on disconnect"), final
                account = await client.get_account("T34")
                assert account["cash"] == account["buying_power"]
                maker, _ = start_market_maker(tmp_path / "mm", "--cancel-on-disconnect", port=port)
                await venue_open(broker)
                again = await client.request(order("T34", qty="1"))
                assert (await final_report(client, again["client_order_id"]))["status"] == "filled"
        finally:
            await broker.stop()
    finally:
        stop(maker)


async def test_without_cancel_on_disconnect_a_drop_leaves_orders_open_until_the_next_logon_reconciles_them(
    ray_cluster: None, tmp_path: Path
) -> None:
    maker, port = start_market_maker(tmp_path / "mm")
    try:
        broker = await fix_broker(port, tmp_path / "conf")
        try:
            async with connect(broker.url) as client:
                resting = await client.request(order("T35", type="limit", qty="1", price="140.00"))
                assert resting["status"] == "new", resting
                await asyncio.sleep(0.3)
                stop(maker)
                await venue_in(broker, "closed")
                await asyncio.sleep(1.0)
                orders = (await client.get_orders("T35", open_only=True))["orders"]
                assert [(o["client_order_id"], o["status"]) for o in orders] == [(resting["client_order_id"], "new")]
                # a restarted simulator has forgotten its orders: the status request at logon finds none
                maker, _ = start_market_maker(tmp_path / "mm", port=port)
                final = await final_report(client, resting["client_order_id"])
                assert (final["status"], final["reason"]) == ("rejected", "unknown at the venue"), final
        finally:
            await broker.stop()
    finally:
        stop(maker)


# --- best price between two venues ------------------------------------------------------------------

# Quotes that stand still (no random walk) one dollar wide: SIM around the reference 150.00
# (149.25 / 150.75), MM1 around 149.50 (148.75 / 150.25). MM1 has the better offer, SIM
# the better bid, and the consolidated quote 149.25 / 150.25 is not crossed.
STILL_MARKET_MAKER = """
symbols = ["IBM"]
seed = 7
quote_interval_ms = 50
latency_ms = 5
fill_parts = 1
resend_on_logon = 0

[quotes]
spread_bps = 100
volatility_bps = 0
quote_size = 500
tick_size = "0.01"
default_start_price = "100.00"
start_prices = { IBM = "149.50" }

[orders]
qty_increment = "0.000001"
max_order_qty = "1000000"
max_notional = "10000000.00"
price_band_pct = 50
"""


async def trade_price(client: BrokerClient, account: str, side: str) -> Decimal:
    ack = await client.request(order(account, qty="1", side=side))
    final = await final_report(client, ack["client_order_id"])
    assert final["status"] == "filled", final
    return Decimal(final["avg_price"])


async def test_orders_go_to_the_venue_with_the_better_price_and_fall_back_when_its_session_is_down(
    ray_cluster: None, tmp_path: Path
) -> None:
    settings = tmp_path / "still.toml"
    settings.write_text(STILL_MARKET_MAKER)
    maker, port = start_market_maker(tmp_path / "mm", "--settings", str(settings))
    try:
        broker = await fix_broker(port, tmp_path / "conf", sim={"spread_bps": 100, "volatility_bps": 0})
        try:
            async with connect(broker.url) as client:
                await client.subscribe(["quotes:IBM"])
                await client.wait_for(
                    lambda m: m.get("type") == "quote" and m.get("bid") == "149.25" and m.get("ask") == "150.25", timeout=10
                )
                sent = (await venue_status(broker))["fix"]["sent"]
                assert await trade_price(client, "T36", "buy") == Decimal("150.25")  # MM1's offer
                assert (await venue_status(broker))["fix"]["sent"] == sent + 1
                assert await trade_price(client, "T36", "sell") == Decimal("149.25")  # SIM's bid
                assert (await venue_status(broker))["fix"]["sent"] == sent + 1
                stop(maker)
                await venue_in(broker, "closed")
                assert await trade_price(client, "T36", "buy") == Decimal("150.75")  # SIM's offer: MM1 is down
        finally:
            await broker.stop()
    finally:
        stop(maker)
