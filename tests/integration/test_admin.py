"""The admin shell, one-shot, against a running server."""

from __future__ import annotations

import json

import pytest

from server.admin import parse_args, run
from server.app import BrokerServer

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def admin(server: BrokerServer, *words: str, key: str = "admin", secret: str = "admin-secret") -> int:
    return await run(parse_args(["--url", server.url, "--key", key, "--secret", secret, *words]))


async def test_status_lists_every_actor(server: BrokerServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert await admin(server, "--json", "status") == 0
    reply = json.loads(capsys.readouterr().out)
    names = {actor["name"] for actor in reply["result"]["actors"]}
    assert {"account-0", "account-1", "instrument-0", "instrument-1", "venue-SIM", "gateway-0"} <= names
    assert all(actor.get("errors", 0) == 0 for actor in reply["result"]["actors"])


async def test_halt_and_resume_print_what_they_did(server: BrokerServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert await admin(server, "halt", "MSFT") == 0
    assert "halted=True" in capsys.readouterr().out
    assert await admin(server, "resume", "MSFT") == 0
    assert "halted=False" in capsys.readouterr().out


@pytest.mark.parametrize(("words", "message"), [(["launch", "rockets"], "unknown admin command"), (["halt"], "usage"), (["halt", "NOPE"], "unknown symbol")])
async def test_bad_commands_fail_with_a_message_and_non_zero_exit(
    server: BrokerServer, capsys: pytest.CaptureFixture[str], words: list[str], message: str
) -> None:
    assert await admin(server, *words) == 1
    assert message in capsys.readouterr().out


async def test_a_trader_key_cannot_run_admin_commands(server: BrokerServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert await admin(server, "status", key="trader1", secret="trader1-secret") == 1
    assert "forbidden" in capsys.readouterr().out


async def test_wrong_admin_secret_exits_3(server: BrokerServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert await admin(server, "status", secret="nope") == 3
