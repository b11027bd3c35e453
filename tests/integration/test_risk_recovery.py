"""kill -9 of the whole server with portfolio limits set, trading states changed and a risk
alert raised: after the restart the limits, the states and the alerts' memory are as they
were — the alert is not raised again while the account stays over its limit, though the
quotes go on moving — and ``admin check`` (every journal replays to the live state) is ok."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from server.client.sdk import BrokerClient
from tests.integration.recovery import ServerProcess, admin, write_conf
from tests.integration.test_lots import filled

pytestmark = pytest.mark.asyncio(loop_scope="session")

OVER, HALTED, GROUPED = "T11", "T12", "T13"
QUIET_S = 3.0  # how long the restarted server's quotes move without any alert again (25 ms apart)


def is_alert(state: str):  # type: ignore[no-untyped-def]
    return lambda m: m.get("type") == "risk_alert" and m.get("account") == OVER and m.get("state") == state


async def test_limits_states_and_alerts_survive_a_kill_9(tmp_path: Path) -> None:
    config = write_conf(tmp_path / "conf", snapshot_every_events=50)  # the restart reads a snapshot, then the journal
    data = tmp_path / "data"
    server = ServerProcess(config, data)
    url = server.start()
    try:
        async with BrokerClient(url, "tester", "tester-secret") as client:
            assert (await client.subscribe(["risk"]))["channels"] == ["risk"]
            await filled(client, OVER, "buy", "10")  # ~1,500.00 of IBM
            limited = await admin(url, "risk-limits", OVER, "--max-gross-exposure", "10.00")
            assert limited["result"]["ok"], limited
            raised = await client.wait_for(is_alert("raised"), timeout=30)
            assert (raised["subject"], raised["trading_state"]) == ("max_gross_exposure", "reducing")
            assert (await admin(url, "trading-state", HALTED, "halted"))["result"]["ok"]
            assert (await admin(url, "risk-limits", GROUPED, "--max-var", "123.45"))["result"]["ok"]
            before = {name: (await admin(url, "risk", name))["result"] for name in (OVER, HALTED, GROUPED)}
            assert [a["subject"] for a in before[OVER]["alerts"]] == ["max_gross_exposure"]
    finally:
        server.kill9()

    with server.running() as url:
        async with BrokerClient(url, "tester", "tester-secret") as client:
            assert (await client.subscribe(["risk"]))["channels"] == ["risk"]
            await asyncio.sleep(QUIET_S)  # marks move; the account stays far over its limit
            assert [m for m in client.history if m.get("type") == "risk_alert"] == []
            after = {name: (await admin(url, "risk", name))["result"] for name in (OVER, HALTED, GROUPED)}
            for name in (OVER, HALTED, GROUPED):
                assert (after[name]["limits"], after[name]["trading_state"]) == (before[name]["limits"], before[name]["trading_state"]), name
            assert after[OVER]["alerts"] == before[OVER]["alerts"]  # the same alert, raised once, before the kill
            assert after[OVER]["trading_state"] == "reducing" and after[HALTED]["trading_state"] == "halted"
            assert after[GROUPED]["limits"]["max_var"] == "123.45"
            order = await client.new_order(HALTED, "after-kill", "IBM", "buy", "limit", qty="1", price="140.00")
            assert order["reason"] == "account_halted", order
            # the memory still works: the limit lifted clears the alert, once
            assert (await admin(url, "risk-limits", "clear", OVER))["result"]["ok"]
            cleared = await client.wait_for(is_alert("cleared"), timeout=30)
            assert cleared["subject"] == "max_gross_exposure"
        check = await admin(url, "check")
        assert check["result"]["ok"], check
