"""brokerd routing to a market maker over a real FIX session on loopback: the simulator
(``python -m adapters.fix.mmsim``) as its own process, brokerd in the session's Ray
cluster with one venue of kind ``fix``; traders on WebSocket."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
import pytest_asyncio

from model.config import VenueSection
from server.app import BrokerServer
from tests.conftest import ROOT, make_setup
from tests.integration.fixtools import free_port, ready_line
from tests.integration.helpers import cloid, connect, final_report

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture(scope="module")
def market_maker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    process, port = start_market_maker(tmp_path_factory.mktemp("mm"), "--fill-parts", "3")
    try:
        yield port
    finally:
        stop(process)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def fix_server(ray_cluster: None, market_maker: int, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[BrokerServer]:
    broker = await fix_broker(market_maker, tmp_path_factory.mktemp("fixconf"))
    yield broker
    await broker.stop()


def order(account: str, symbol: str = "IBM", **fields: str) -> dict:
    return {"op": "new_order", "account": account, "client_order_id": cloid("fix"), "symbol": symbol, "side": "buy", "type": "market", **fields}


async def test_a_market_order_is_routed_over_fix_and_filled_in_parts(fix_server: BrokerServer) -> None:
    async with connect(fix_server.url) as client:
        ack = await client.request(order("T01", qty="0.9"))
        assert ack["status"] == "new", ack
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
        assert ack["status"] == "new", ack
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


def start_market_maker(data: Path, *extra: str) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    command = [sys.executable, "-m", "adapters.fix.mmsim", "--config", str(ROOT / "conf" / "fix" / "mmsim.cfg"), "--port", str(port),
               "--data-dir", str(data), "--fill-parts", "2", "--latency-ms", "5", "--quote-interval-ms", "50", *extra]
    data.mkdir(parents=True, exist_ok=True)
    with (data / "mmsim.err").open("w") as stderr:
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True)
    assert ready_line(process).startswith("mmsim ready")
    return process, port


def stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


async def fix_broker(port: int, conf: Path, data_dir: Path | None = None, rate_limit_per_s: int = 0) -> BrokerServer:
    conf.mkdir(parents=True, exist_ok=True)
    session = (ROOT / "conf" / "fix" / "venue-MM1.cfg").read_text().replace("SocketConnectPort=9880", f"SocketConnectPort={port}")
    (conf / "venue-MM1.cfg").write_text(session)
    setup = make_setup(f"fix-{uuid.uuid4().hex[:6]}", data_dir=data_dir, quote_interval_ms=25)
    venue = VenueSection(name="MM1", kind="fix", session_config=str(conf / "venue-MM1.cfg"), rate_limit_per_s=rate_limit_per_s)
    setup = msgspec.structs.replace(setup, config=msgspec.structs.replace(setup.config, venues=[venue]))
    broker = BrokerServer(setup, "127.0.0.1", 0)
    await broker.start()
    await venue_open(broker)
    return broker


async def venue_open(broker: BrokerServer) -> dict:
    for _ in range(300):
        status = await broker.supervisor.admin.remote("status", [])
        venue = next(a for a in status["actors"] if a["name"] == "venue-MM1")
        if venue.get("session") == "open":
            return venue
        await asyncio.sleep(0.05)
    raise AssertionError(f"the FIX venue never logged on: {venue}")


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
            assert (after["cash"], after["positions"]) == (before["cash"], before["positions"])
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
