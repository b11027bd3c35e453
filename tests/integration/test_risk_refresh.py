"""The risk model follows the daily bars while the server runs: a day appended under the
data dir with a sudden move of a held symbol makes the account shards journal a new model,
and the holder's volatility alert is raised on the risk channel without a restart."""

from __future__ import annotations

import random
import time
import uuid
from pathlib import Path

import msgspec
import pytest

from model import fixed
from model.calendar import trading_day
from model.risk import stored
from model.risk.history import Bar
from server.app import BrokerServer
from tests.conftest import make_setup
from tests.integration.helpers import cloid, connect
from tests.integration.test_admin import admin_json

pytestmark = pytest.mark.asyncio(loop_scope="session")

DAYS = 120  # calm days: the window's equal-weight volatility stays low beside one day's jump
REFRESH_MS = 200


def calm_history(folder: Path, symbols: dict[str, int], last_day: int) -> dict[str, int]:
    """``DAYS`` daily bars per symbol ending on ``last_day``, moving about 0.5 % a day
    (seeded); returns each symbol's last close."""
    rng = random.Random(11)
    closes = {}
    for symbol, price in symbols.items():
        bars = []
        for day in range(last_day - DAYS + 1, last_day + 1):
            price = max(fixed.CENT, price + price * rng.randint(-5, 5) // 1000 // fixed.CENT * fixed.CENT)
            bars.append(Bar(symbol, day, price, price, price, price, fixed.SCALE))
        stored.append_daily(stored.daily_path(folder, symbol), bars)
        closes[symbol] = price
    return closes


async def test_a_new_days_bars_refresh_the_model_and_raise_the_holders_volatility_alert(ray_cluster: None, capsys: pytest.CaptureFixture[str]) -> None:
    setup = make_setup(f"t-{uuid.uuid4().hex[:8]}")
    config = setup.config
    config = msgspec.structs.replace(config, portfolio=msgspec.structs.replace(config.portfolio, model_refresh_ms=REFRESH_MS, correlation_alert=""))
    setup = msgspec.structs.replace(setup, config=config)
    folder = config.bars.folder(config.server.data_dir)
    today = trading_day(time.time_ns(), config.open.timezone)
    quoted = {i.symbol: i.reference_price for i in setup.instruments if i.asset_class.value != "mutual_fund"}
    closes = calm_history(folder, quoted, today - 2)  # up to the day before yesterday
    broker = BrokerServer(setup, "127.0.0.1", 0)
    await broker.start()
    try:
        async with connect(broker.url) as client:
            assert (await client.subscribe(["risk"]))["channels"] == ["risk"]
            order = cloid("hold")
            await client.new_order("T07", order, "IBM", "buy", "market", qty="5")
            await client.wait_for(lambda m: m.get("type") == "execution" and m.get("client_order_id") == order and m.get("status") == "filled", timeout=30)
            held = await admin_json(broker, capsys, "risk", "T07")
            assert held["alerts"] == []  # calm history: nothing to say
            jump = closes["IBM"] * 13 // 10 // fixed.CENT * fixed.CENT  # yesterday IBM closed 30 % up
            stored.append_daily(stored.daily_path(folder, "IBM"), [Bar("IBM", today - 1, jump, jump, closes["IBM"], jump, fixed.SCALE)])
            raised = await client.wait_for(
                lambda m: m.get("type") == "risk_alert" and m.get("account") == "T07" and m.get("kind") == "volatility", timeout=30
            )
            assert (raised["subject"], raised["state"]) == ("IBM", "raised")
            seen = await admin_json(broker, capsys, "risk", "T07")
            assert [(a["kind"], a["subject"]) for a in seen["alerts"]] == [("volatility", "IBM")]
            checked = await admin_json(broker, capsys, "check")  # the model journaled: replay decides with it
            assert checked["ok"] is True, checked
    finally:
        await broker.stop()
