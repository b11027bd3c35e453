"""The admin shell, one-shot, against a running server: every admin command (docs/admin.md)
that talks to the server, its effect on the books, and its refusals."""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid
from pathlib import Path

import msgspec
import pytest

from server.client.shell import COMMANDS, UsageError, check_command, one_shot, parse_args
from server.app import BrokerServer
from tests.conftest import ROOT, make_setup
from tests.integration.helpers import cloid, connect, final_report

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def admin(server: BrokerServer, *words: str, key: str = "admin", secret: str = "admin-secret") -> int:
    args = parse_args(["--url", server.url, "--key", key, "--secret", secret, *words])
    try:
        check_command(args.command)
    except UsageError:
        return 2
    return await one_shot(args.command, args)


async def admin_json(server: BrokerServer, capsys: pytest.CaptureFixture[str], *words: str) -> dict:
    assert await admin(server, "--json", *words) == 0
    reply: dict = json.loads(capsys.readouterr().out)
    return reply["result"]


BELOW_MARKET = {"IBM": "140.00", "AAPL": "180.00", "XYZ": "23.00"}  # inside the 10% band, below the bid


def resting(account: str, symbol: str = "IBM") -> dict:
    return {"op": "new_order", "account": account, "client_order_id": cloid("rest"), "symbol": symbol, "side": "buy", "type": "limit", "qty": "1",
            "price": BELOW_MARKET[symbol]}


async def test_status_lists_every_actor_with_its_journal(server: BrokerServer, capsys: pytest.CaptureFixture[str]) -> None:
    result = await admin_json(server, capsys, "status")
    actors = {actor["name"]: actor for actor in result["actors"]}
    assert {"supervisor", "account-0", "account-1", "instrument-0", "instrument-1", "venue-SIM", "gateway-0"} <= set(actors)
    assert all(actor.get("errors", 0) == 0 for actor in actors.values())
    assert actors["account-0"]["journal_seq"] > 0


async def test_halt_and_resume_print_what_they_did(server: BrokerServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert (await admin_json(server, capsys, "halt", "MSFT"))["halted"] is True
    assert (await admin_json(server, capsys, "resume", "MSFT"))["halted"] is False


async def test_account_and_orders_show_the_books(server: BrokerServer, capsys: pytest.CaptureFixture[str]) -> None:
    async with connect(server.url) as client:
        placed = await client.request(resting("T11"))
    account = (await admin_json(server, capsys, "account", "T11"))["account"]
    assert account["account"] == "T11" and account["killed"] is False and account["open_orders"] >= 1
    orders = (await admin_json(server, capsys, "orders", "T11"))["orders"]
    assert placed["order_id"] in {order["order_id"] for order in orders}


async def test_kill_cancels_open_orders_and_refuses_new_ones_until_unkill(server: BrokerServer, capsys: pytest.CaptureFixture[str]) -> None:
    async with connect(server.url) as client:
        placed = await client.request(resting("T12"))
        assert placed["status"] == "new"
        killed = await admin_json(server, capsys, "kill", "T12")
        assert "T12" in killed["killed"] and killed["canceled"] == 1
        assert (await final_report(client, placed["client_order_id"]))["status"] == "canceled"
        refused = await client.request(resting("T12"))
        assert refused["status"] == "rejected" and refused["reason"] == "account_killed"
        other = await client.request(resting("T13"))
        assert other["status"] == "new"  # other accounts trade on
        assert "T12" not in (await admin_json(server, capsys, "unkill", "T12"))["killed"]
        assert (await client.request(resting("T12")))["status"] == "new"


async def test_cancel_all_with_filters_cancels_only_what_matches(server: BrokerServer, capsys: pytest.CaptureFixture[str]) -> None:
    async with connect(server.url) as client:
        ibm = await client.request(resting("T14", "IBM"))
        aapl = await client.request(resting("T14", "AAPL"))
        other = await client.request(resting("T15", "IBM"))
        done = await admin_json(server, capsys, "cancel-all", "--account", "T14", "--symbol", "IBM")
        assert done["canceled"] == 1 and done["filters"] == {"account": "T14", "symbol": "IBM"}
        assert (await final_report(client, ibm["client_order_id"]))["status"] == "canceled"
        await asyncio.sleep(0.2)
        open_ids = {o["order_id"] for o in (await client.get_orders("T14", open_only=True))["orders"]}
        assert aapl["order_id"] in open_ids
        # by venue: the venue's own cancel-all, for every account
        done = await admin_json(server, capsys, "cancel-all", "--venue", "SIM")
        assert done["canceled"] >= 2
        assert (await final_report(client, aapl["client_order_id"]))["status"] == "canceled"
        assert (await final_report(client, other["client_order_id"]))["status"] == "canceled"


async def test_snapshot_and_check(server: BrokerServer, capsys: pytest.CaptureFixture[str]) -> None:
    snapshots = (await admin_json(server, capsys, "snapshot"))["snapshots"]
    assert set(snapshots) >= {"supervisor", "account-0", "account-1", "instrument-0", "instrument-1", "venue-SIM"}
    check = await admin_json(server, capsys, "check")
    assert check["problems"] == []


@pytest.mark.parametrize(
    ("words", "code", "message"),
    [
        (["launch", "rockets"], 2, None),
        (["halt"], 2, None),
        (["kill", "A1", "A2"], 2, None),
        (["cancel-all", "--colour", "red"], 2, None),
        (["halt", "NOPE"], 1, "unknown symbol"),
        (["kill", "NOPE"], 1, "unknown account"),
        (["account", "NOPE"], 1, "unknown account"),
        (["cancel-all", "--venue", "NOPE"], 1, "unknown venue"),
    ],
)
async def test_bad_commands_fail_with_a_message_and_non_zero_exit(
    server: BrokerServer, capsys: pytest.CaptureFixture[str], words: list[str], code: int, message: str | None
) -> None:
    assert await admin(server, *words) == code
    if message:
        out = capsys.readouterr().out
        assert message in out and "Traceback" not in out


async def test_a_trader_key_cannot_run_admin_commands(server: BrokerServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert await admin(server, "status", key="trader1", secret="trader1-secret") == 1
    assert "forbidden" in capsys.readouterr().out


async def test_wrong_admin_secret_exits_3(server: BrokerServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert await admin(server, "status", secret="nope") == 3


async def test_a_killed_account_stays_killed_after_a_restart(ray_cluster: None, tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    setup = make_setup(f"kill-{uuid.uuid4().hex[:6]}", data_dir=str(tmp_path), quote_interval_ms=25)
    first = BrokerServer(setup, "127.0.0.1", 0)
    await first.start()
    try:
        assert (await admin_json(first, capsys, "kill", "T20"))["killed"] == ["T20"]
        assert (await admin_json(first, capsys, "halt", "XYZ"))["halted"] is True
    finally:
        await first.stop()
    second = BrokerServer(setup, "127.0.0.1", 0)
    await second.start()
    try:
        status = await admin_json(second, capsys, "status")
        assert status["killed"] == ["T20"] and status["halted"] == ["XYZ"]
        async with connect(second.url) as client:
            refused = await client.request(resting("T20"))
            assert refused["reason"] == "account_killed"
            halted = await client.request(resting("T21", "XYZ"))
            assert halted["reason"] == "halted"
    finally:
        await second.stop()


# --- files: read only inside the import dir, written only inside the export dir ------------------


def data_dir(server: BrokerServer) -> Path:
    return Path(server.setup.config.server.data_dir).resolve()


def import_dir(server: BrokerServer) -> Path:
    return server.setup.config.admin.import_root(data_dir(server))


def export_dir(server: BrokerServer) -> Path:
    return server.setup.config.admin.export_root(data_dir(server))


def escapes(root: Path, target: Path, kind: str) -> str:
    """A path that leads from ``root`` (the import or export dir) to ``target``, outside it."""
    if kind == "dot-dot":
        return os.path.relpath(target, root)
    if kind == "absolute":
        return str(target)
    link = root / f"link-{uuid.uuid4().hex[:6]}"
    link.symlink_to(target)  # planted by someone with access to the server's machine
    return link.name


ESCAPES = ["dot-dot", "absolute", "symbolic-link"]


@pytest.mark.parametrize("kind", ESCAPES)
async def test_accounts_load_refuses_a_file_outside_the_import_dir_and_loads_nothing(
    server: BrokerServer, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    account = f"X{uuid.uuid4().hex[:6].upper()}"
    outside = data_dir(server) / f"accounts-{account}.csv"  # beside the import dir, readable by the server
    outside.write_text(f"account,owner,cash\n{account},tester,100.00\n")
    assert await admin(server, "accounts", "load", escapes(import_dir(server), outside, kind)) == 1
    out = capsys.readouterr().out
    assert "leads outside the import dir" in out and "nothing read" in out and "Traceback" not in out, out
    assert await admin(server, "account", account) == 1
    assert "unknown account" in capsys.readouterr().out  # nothing was loaded
    # the same file inside the import dir loads
    (import_dir(server) / outside.name).write_bytes(outside.read_bytes())
    assert (await admin_json(server, capsys, "accounts", "load", outside.name))["loaded"] == 1


@pytest.mark.parametrize("kind", ESCAPES)
async def test_reconcile_refuses_a_file_outside_the_import_dir(server: BrokerServer, capsys: pytest.CaptureFixture[str], kind: str) -> None:
    outside = data_dir(server) / f"positions-{uuid.uuid4().hex[:6]}.csv"
    outside.write_text("account,symbol,qty\nA1,IBM,1\n")
    assert await admin(server, "reconcile", escapes(import_dir(server), outside, kind)) == 1
    out = capsys.readouterr().out
    assert "leads outside the import dir" in out and "nothing read" in out and "breaks" not in out, out


async def test_nav_refuses_a_file_outside_the_import_dir_and_strikes_nothing(server: BrokerServer, capsys: pytest.CaptureFixture[str]) -> None:
    async with connect(server.url) as client:
        placed = await client.new_order("T16", cloid("fund"), "VFIAX", "buy", qty="1")
        assert placed["status"] == "new", placed
        await queued_for_nav(server, capsys, 1)
        outside = data_dir(server) / f"navs-{uuid.uuid4().hex[:6]}.csv"
        outside.write_text("symbol,nav\nVFIAX,401.23\n")
        for kind in ESCAPES:
            assert await admin(server, "nav", escapes(import_dir(server), outside, kind)) == 1
            out = capsys.readouterr().out
            assert "leads outside the import dir" in out and "nothing read" in out, out
        # the order is still waiting, and fills at the NAV struck from the import dir, not 401.23
        (import_dir(server) / "navs.csv").write_text("symbol,nav\nVFIAX,402.00\n")
        assert (await admin_json(server, capsys, "nav", "navs.csv"))["navs"] == {"VFIAX": "402.00"}
        filled = await final_report(client, placed["client_order_id"])
        assert (filled["status"], filled["last_price"]) == ("filled", "402")


async def queued_for_nav(server: BrokerServer, capsys: pytest.CaptureFixture[str], count: int, timeout: float = 30) -> None:
    """Until the InstrumentActors hold ``count`` fund orders (``new`` comes from the account
    shard; the InstrumentActor journals the route before it holds it)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        status = await admin_json(server, capsys, "status")
        queued = sum(actor.get("open", {}).get("queued_for_nav", 0) for actor in status["actors"])
        if queued == count:
            return
        assert asyncio.get_running_loop().time() < deadline, f"{queued} of {count} orders queued for a NAV"
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("kind", ESCAPES)
async def test_export_refuses_a_folder_outside_the_export_dir_and_writes_nothing(
    server: BrokerServer, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    outside = data_dir(server) / f"export-{uuid.uuid4().hex[:6]}"
    if kind == "symbolic-link":
        outside.mkdir()  # an existing folder elsewhere, linked from the export dir
    given = escapes(export_dir(server), outside, kind)
    assert await admin(server, "export", given) == 1
    out = capsys.readouterr().out
    assert "leads outside the export dir" in out and "nothing written" in out, out
    assert not outside.exists() or not any(outside.iterdir())  # nothing created, nothing written


async def test_export_writes_into_the_export_dir(server: BrokerServer, capsys: pytest.CaptureFixture[str]) -> None:
    result = await admin_json(server, capsys, "export", "eod/day-1")
    folder = export_dir(server) / "eod" / "day-1"
    assert result["files"] == {"positions": str(folder / "positions.csv"), "allocations": str(folder / "allocations.csv")}
    assert sorted(path.name for path in folder.iterdir()) == ["allocations.csv", "positions.csv"]
    assert (folder / "positions.csv").read_text().startswith("account,symbol,qty,cost\n")


async def test_status_names_the_file_folders(server: BrokerServer, capsys: pytest.CaptureFixture[str]) -> None:
    status = await admin_json(server, capsys, "status")
    assert (status["import_dir"], status["export_dir"]) == (str(import_dir(server)), str(export_dir(server)))
    assert import_dir(server).is_dir() and export_dir(server).is_dir()  # made at start


async def test_config_shows_the_running_configuration_without_secrets(server: BrokerServer, capsys: pytest.CaptureFixture[str]) -> None:
    result = await admin_json(server, capsys, "config")
    assert result["config"] == msgspec.to_builtins(server.setup.config)
    assert result["config"]["gateway"]["max_in_flight_per_connection"] == server.setup.config.gateway.max_in_flight_per_connection
    shown = json.dumps(result)
    assert not [user.key for user in server.setup.users if user.secret in shown]


# --- over the WebSocket API ------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["help", "journal", "frobnicate"])
async def test_a_command_the_server_does_not_have_names_those_it_has(server: BrokerServer, command: str) -> None:
    """There is no 'help' over the WebSocket API: the refusal itself lists the commands."""
    async with connect(server.url, "admin", "admin-secret") as client:
        reply = await client.request({"op": "admin", "command": command, "args": []})
    assert (reply["type"], reply["code"]) == ("error", "admin_failed"), reply
    assert "try 'help'" not in reply["message"]
    listed = reply["message"].rsplit("server commands: ", 1)[1].split(", ")
    assert set(listed) == {name for name, spec in COMMANDS.items() if not spec.local}
    if command in ("help", "journal"):
        assert "is a command of the admin shell" in reply["message"]
    else:
        assert reply["message"].startswith("unknown admin command 'frobnicate'")


# --- docs/admin.md lists every field of the results ------------------------------------------------


def documented(section: str) -> set[str]:
    """The backquoted names in one ``### section`` of docs/admin.md."""
    text = (ROOT / "docs" / "admin.md").read_text()
    body = text.split(f"\n### {section}\n", 1)[1].split("\n### ", 1)[0]
    return set(re.findall(r"`([a-z_0-9]+)`", body))


def keys(value: object) -> set[str]:
    """Every key of a JSON value, nested ones too (not the keys of maps keyed by data:
    residuals by symbol, a shard's reports by exec type and rejects by reason)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            found.add(key)
            if key not in ("residuals", "reports", "rejects"):
                found |= keys(item)
    elif isinstance(value, list):
        for item in value:
            found |= keys(item)
    return found


async def test_docs_list_every_field_of_the_status_result(server: BrokerServer, capsys: pytest.CaptureFixture[str]) -> None:
    status = await admin_json(server, capsys, "status")
    assert keys(status) - documented("status") == set()


async def test_docs_list_every_field_of_the_open_and_check_results(server: BrokerServer, capsys: pytest.CaptureFixture[str]) -> None:
    opened = await admin_json(server, capsys, "open", "XYZ")
    assert set(opened) - documented("open [SYMBOL ...]") == set()
    check = await admin_json(server, capsys, "check")
    assert set(check) - documented("check") == set()
