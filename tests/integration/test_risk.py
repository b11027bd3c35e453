"""Portfolio limits and trading states through a running server: the admin commands, their
refusals, and an order over a limit rejected with its reason (docs/risk.md)."""

from __future__ import annotations

import pytest

from server.app import BrokerServer
from tests.integration.helpers import cloid, connect
from tests.integration.test_admin import admin, admin_json

pytestmark = pytest.mark.asyncio(loop_scope="session")


def buy(account: str, qty: str) -> dict:
    return {"op": "new_order", "account": account, "client_order_id": cloid("risk"), "symbol": "IBM", "side": "buy", "type": "limit", "qty": qty,
            "price": "140.00"}


async def test_gross_limit_rejects_the_order_that_crosses_it_split_or_whole(server: BrokerServer, capsys: pytest.CaptureFixture[str]) -> None:
    done = await admin_json(server, capsys, "risk-limits", "T38", "--max-gross-exposure", "2000.00")
    assert done["limits"]["max_gross_exposure"] == "2000"
    async with connect(server.url) as client:
        # IBM marks near 150: 13 shares fit under 2,000.00, 14 do not — in one order or in pieces
        assert (await client.request(buy("T38", "14")))["reason"] == "max_gross_exposure"
        pieces = [await client.request(buy("T38", "1")) for _ in range(14)]
        statuses = [piece["status"] for piece in pieces]
        assert statuses[:13] == ["new"] * 13 and pieces[13]["reason"] == "max_gross_exposure"
    assert (await admin_json(server, capsys, "risk-limits", "clear", "T38"))["cleared"]


async def test_trading_state_halted_and_reducing(server: BrokerServer, capsys: pytest.CaptureFixture[str]) -> None:
    async with connect(server.url) as client:
        await admin_json(server, capsys, "trading-state", "T39", "halted")
        assert (await client.request(buy("T39", "1")))["reason"] == "account_halted"
        await admin_json(server, capsys, "trading-state", "T39", "reducing")
        assert (await client.request(buy("T39", "1")))["reason"] == "account_reducing"
        await admin_json(server, capsys, "trading-state", "T39", "active")
        assert (await client.request(buy("T39", "1")))["status"] == "new"


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["risk-limits", "T37", "--max-var", "-5"], "max_var: -5 is negative"),
        (["risk-limits", "T37", "--max-concentration-pct", "150"], "above 100 %"),
        (["risk-limits", "NOPE", "--max-var", "5"], "unknown account NOPE"),
        (["risk-limits", "group:NOPE", "--max-var", "5"], "unknown group NOPE"),
        (["risk-limits", "T37"], "give at least one limit"),
        (["trading-state", "T37", "paused"], "unknown trading state"),
    ],
)
async def test_bad_limits_and_states_are_refused(server: BrokerServer, capsys: pytest.CaptureFixture[str], words: list[str], message: str) -> None:
    assert await admin(server, *words) != 0
    out = capsys.readouterr().out
    assert message in out and "Traceback" not in out


async def test_the_risk_channel_and_admin_risk(server: BrokerServer, capsys: pytest.CaptureFixture[str]) -> None:
    def alert_of(state: str):  # type: ignore[no-untyped-def]
        return lambda m: m.get("type") == "risk_alert" and m.get("account") == "T36" and m.get("state") == state

    async with connect(server.url) as client:
        assert (await client.subscribe(["risk"]))["channels"] == ["risk"]
        done = await client.new_order("T36", cloid("fill"), "IBM", "buy", "market", qty="10")
        assert done["status"] == "new", done
        await client.wait_for(lambda m: m.get("type") == "execution" and m.get("account") == "T36" and m.get("status") == "filled", timeout=30)
        await admin_json(server, capsys, "risk-limits", "T36", "--max-gross-exposure", "100.00")  # ~1,500.00 held
        raised = await client.wait_for(alert_of("raised"), timeout=30)
        assert (raised["kind"], raised["subject"], raised["threshold"], raised["trading_state"]) == ("limit", "max_gross_exposure", "100", "reducing")
        seen = await admin_json(server, capsys, "risk", "T36")
        assert seen["trading_state"] == "reducing" and seen["limits"]["max_gross_exposure"] == "100"
        assert [(a["kind"], a["subject"]) for a in seen["alerts"]] == [("limit", "max_gross_exposure")]
        assert 1000 < float(seen["gross_exposure"]) < 2000 and seen["gross_exposure"] == seen["net_exposure"]
        assert set(seen["historical"]) == {"95", "99"} and float(seen["historical"]["99"]["es"]) >= float(seen["historical"]["99"]["var"]) > 0
        assert seen["concentration"]["symbol"] == "IBM" and seen["concentration_asset_class"]["asset_class"] == "equity"
        assert seen["correlation"] == {"symbols": ["IBM"], "matrix": [["1.0000"]]}  # the heatmap's matrix: of the symbols held
        firm = await admin_json(server, capsys, "risk")
        assert firm["target"] == "all" and firm["accounts"] > 1 and any(a["account"] == "T36" for a in firm["alerts"])
        await admin_json(server, capsys, "risk-limits", "clear", "T36")
        cleared = await client.wait_for(alert_of("cleared"), timeout=30)
        assert cleared["subject"] == "max_gross_exposure"
        await admin_json(server, capsys, "trading-state", "T36", "active")
    assert await admin(server, "risk", "group:NOPE") != 0
    assert "unknown group NOPE" in capsys.readouterr().out
