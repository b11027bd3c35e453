"""kill -9 of the whole server with a client's limit order resting in the internal book:
the restarted InstrumentActor holds it where it was (its journal and the crossing policy it
journaled), a market order crosses it at the mid as before the kill, and every journal
replays to the live state."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal
from pathlib import Path

import pytest

from server.client.sdk import BrokerClient
from tests.integration.recovery import ServerProcess, admin, write_conf_dir

pytestmark = pytest.mark.asyncio(loop_scope="session")

SERVER_TOML = """[server]
ws_port = 0

[sim]
quote_interval_ms = 600000   # one tick in ten minutes: the NBBO holds still across the kill

[crossing]
enabled = true
rest_limit_orders = true
max_quote_age_ms = 3600000
"""


async def test_a_resting_internal_order_survives_kill_9_and_crosses_after_the_restart(tmp_path: Path) -> None:
    server = ServerProcess(write_conf_dir(tmp_path / "conf", SERVER_TOML), tmp_path / "data")
    url = server.start()
    try:
        async with BrokerClient(url, "tester", "tester-secret") as client:
            await client.subscribe(["quotes:IBM"])
            quote = await client.wait_for(lambda m: m.get("type") == "quote" and m.get("symbol") == "IBM", timeout=30)
            bid, ask = Decimal(quote["bid"]), Decimal(quote["ask"])
            bought = await client.new_order(account="T02", client_order_id="seed", symbol="IBM", side="buy", type="market", qty="5", timeout=30)
            assert bought["exec_type"] == "new"
            await client.wait_for(lambda m: m.get("client_order_id") == "seed" and m.get("status") == "filled", timeout=30)
            price = max(((bid + ask) / 2).quantize(Decimal("0.01"), rounding=ROUND_FLOOR), bid + Decimal("0.01"))
            rested = await client.new_order(account="T02", client_order_id="rest", symbol="IBM", side="sell", type="limit",
                                            price=str(price), qty="3", timeout=30)  # fmt: skip
            assert rested["exec_type"] == "new"
            status = await admin(url, "status")
            assert sum(a["crossing"]["resting"] for a in status["result"]["actors"] if a["name"].startswith("instrument-")) == 1
        server.kill9()
        url = server.start()
        status = await admin(url, "status")
        assert sum(a["crossing"]["resting"] for a in status["result"]["actors"] if a["name"].startswith("instrument-")) == 1
        async with BrokerClient(url, "tester", "tester-secret") as client:
            await client.new_order(account="T01", client_order_id="take", symbol="IBM", side="buy", type="market", qty="3", timeout=30)
            taken = await client.wait_for(lambda m: m.get("client_order_id") == "take" and m.get("status") == "filled", timeout=30)
            assert (taken["venue"], Decimal(taken["last_price"])) == ("INTERNAL", price)
            sold = await client.wait_for(lambda m: m.get("client_order_id") == "rest" and m.get("status") == "filled", timeout=30)
            assert (sold["venue"], Decimal(sold["last_price"])) == ("INTERNAL", price)
        check = await admin(url, "check")
        assert check.get("ok"), check
    finally:
        assert server.stop() == 0
