"""Bars from a running server: the sim venue's quotes and a fill, through the InstrumentActors,
into minute files under the data dir that the bars loader reads."""

from __future__ import annotations

import asyncio
import time
import uuid
from decimal import Decimal

import pytest

from model import fixed
from model.calendar import trading_day
from model.risk import stored
from model.risk.history import NS_PER_MINUTE, load_bars
from server.app import BrokerServer
from tests.conftest import make_setup
from tests.integration.helpers import cloid, connect, final_report

pytestmark = pytest.mark.asyncio(loop_scope="session")

RUN_S = 1.5  # long enough for several sim quote ticks of every symbol (quote_interval_ms below)


async def test_the_sim_venue_s_quotes_and_a_fill_become_minute_bars_under_the_data_dir(ray_cluster: None) -> None:
    setup = make_setup(f"t-{uuid.uuid4().hex[:8]}", quote_interval_ms=25)
    config = setup.config
    broker = BrokerServer(setup, "127.0.0.1", 0)
    started = time.time_ns()
    await broker.start()
    try:
        async with connect(broker.url) as client:
            order = cloid()
            await client.new_order("T01", order, "IBM", "buy", type="market", qty="7")
            filled = await final_report(client, order)
            assert filled["status"] == "filled"
        await asyncio.sleep(RUN_S)
    finally:
        await broker.stop()  # a clean stop writes each symbol's open minute
    stopped = time.time_ns()
    folder = config.bars.folder(config.server.data_dir)
    quoted = [i.symbol for i in setup.instruments if i.asset_class.value != "mutual_fund"]  # a fund has no bid or ask
    days = {trading_day(started, config.open.timezone), trading_day(stopped, config.open.timezone)}
    for symbol in quoted:
        files = [stored.minute_path(folder, symbol, day) for day in sorted(days)]
        bars = [bar for path in files if path.exists() for bar in load_bars(path).bars()]
        assert bars, f"no minute bar of {symbol} under {folder}"
        assert all(started // NS_PER_MINUTE * NS_PER_MINUTE <= bar.start <= stopped for bar in bars)
        assert all(bar.low <= min(bar.open, bar.close) and bar.high >= max(bar.open, bar.close) for bar in bars)
        if symbol == "IBM":  # the fill's quantity, once; the quotes add none
            assert sum(bar.volume for bar in bars) == fixed.parse("7")
            price = fixed.parse(str(Decimal(filled["avg_price"])))
            assert any(bar.low <= price <= bar.high for bar in bars)
    fund = next(i.symbol for i in setup.instruments if i.symbol not in quoted)
    assert not (folder / stored.MINUTE / stored.file_name(fund)).exists()
