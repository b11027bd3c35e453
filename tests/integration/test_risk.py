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
