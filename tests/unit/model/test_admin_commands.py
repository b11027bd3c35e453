"""The one admin command table (``model/admin_commands.py``): every entry has its handler, and
the shell, the gateway and the supervisor accept and refuse the same command lines, with the
same message."""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from typing import Any, cast

import msgspec
import pytest

from actors.runtime.outbox import Outbox
from actors.runtime.router import Router
from actors.supervisor.admin import AdminCommands, Supervisor
from model import admin_commands, permissions
from model.admin_commands import COMMANDS, SERVER, SERVER_COMMANDS, SHELL, TABLE, AdminError, Form, Given, UsageError, check
from model.messages import decode_batch
from server.client import local, shell
from server.gateway.auth import signature
from server.gateway.core import Connection, Gateway
from server.gateway.ratelimit import TokenBucket
from tests.conftest import demo_setup

# Argument lists tried on every command: good and bad ones of every shape the table knows.
ARGUMENTS: list[list[str]] = [
    [],
    ["A1"],
    ["IBM", "AAPL"],
    ["VFIAX", "451.20"],
    ["VFIAX", "451.20", "x"],
    ["-x"],
    [""],
    ["all"],
    ["--account", "A1"],
    ["--account", "A1", "--symbol", "IBM", "--venue", "SIM"],
    ["--account"],
    ["--account=A1"],
    ["--account", "A1", "--account", "A2"],
    ["--side", "buy"],
    ["load", "accounts.csv"],
    ["load"],
    ["add", "x.csv"],
    ["verify"],
    ["verify", "--data-dir", "/d"],
    ["verify", "/d"],
    ["status"],
    ["frobnicate"],
]


# --- every entry has its handler -------------------------------------------------------------------


def test_every_server_command_has_a_handler_method_on_admin_commands() -> None:
    for command in SERVER_COMMANDS.values():
        handler = AdminCommands.__dict__.get(command.handler)
        assert handler is not None, f"{command.name}: AdminCommands has no method {command.handler}"
        assert inspect.iscoroutinefunction(handler) and not command.handler.startswith("_"), command.name


def test_every_shell_command_has_a_local_handler() -> None:
    for command in TABLE:
        for handler in command.handlers(SHELL):  # every form that runs in the shell, also of a server command
            assert handler in local.HANDLERS, command.name
    assert COMMANDS["report"].handlers(SHELL) == {"compliance_report"}


def test_a_form_runs_where_it_says_and_the_server_refuses_the_shells_forms() -> None:
    """``report gains`` runs at the server; ``report trades|cat|best-ex|admin-actions`` read the
    audit log's files in the shell."""
    report = COMMANDS["report"]
    gains = check("report", ["gains", "2025"], SERVER)[1]
    assert (report.where(gains), report.handler_of(gains)) == (SERVER, "report")
    for words in (["trades", "2025-01-02", "out"], ["cat", "2025-01-02", "out"], ["best-ex", "2025-01-01", "2025-01-31", "out"], ["admin-actions", "2025-01-01", "2025-01-31", "out"]):
        given = check("report", words, SHELL)[1]
        assert (report.where(given), report.handler_of(given)) == (SHELL, "compliance_report")
        with pytest.raises(AdminError, match=f"'report {words[0]}' is a command of the admin shell"):
            check("report", words, SERVER)
    assert check("report", ["trades", "2025-01-02", "out", "--format", "jsonl", "--data-dir", "/d"], SHELL)[1].values == {
        "DATE": "2025-01-02", "OUT": "out", "format": "jsonl", "data-dir": "/d",
    }  # fmt: skip
    with pytest.raises(UsageError, match="report: fits none of its forms"):
        check("report", ["trades", "2025-01-02"], SHELL)


def test_names_aliases_and_handlers_are_unique_and_every_entry_is_complete() -> None:
    names = [command.name for command in TABLE] + [alias for command in TABLE for alias in command.aliases]
    assert len(names) == len(set(names))
    for runs in (SERVER, SHELL):
        handlers = [command.handler for command in TABLE if command.runs == runs]
        assert len(handlers) == len(set(handlers))
    for command in TABLE:
        assert command.forms and command.summary, command.name
        if command.runs == SERVER:  # who may run it: the one permission table
            assert command.name in permissions.COMMANDS, command.name


def test_usage_is_written_from_the_forms() -> None:
    assert COMMANDS["cancel-all"].usage == "cancel-all [--account A] [--symbol S] [--venue V]"
    assert COMMANDS["nav"].usage == "nav FUND PRICE | nav FILE"
    assert COMMANDS["open"].usage == "open [SYMBOL ...]"
    assert COMMANDS["accounts"].usage == "accounts load FILE"
    assert COMMANDS["journal"].usage == "journal verify [--config FILE] [--data-dir DIR]"
    assert Form(names=("A",), optional="B").usage() == "A [B]"


# --- what the handler gets --------------------------------------------------------------------------


def test_values_are_given_by_name_options_without_dashes_in_the_order_typed() -> None:
    assert check("halt", ["IBM"], SERVER)[1] == Given(0, {"SYMBOL": "IBM"})
    assert check("cancel-all", ["--venue", "SIM", "--account", "A1"], SERVER)[1].values == {"venue": "SIM", "account": "A1"}
    assert list(check("cancel-all", ["--venue", "SIM", "--account", "A1"], SERVER)[1].values) == ["venue", "account"]
    assert check("nav", ["VFIAX", "1.5"], SERVER)[1] == Given(0, {"FUND": "VFIAX", "PRICE": "1.5"})
    assert check("nav", ["navs.csv"], SERVER)[1] == Given(1, {"FILE": "navs.csv"})
    assert check("open", ["IBM", "AAPL"], SERVER)[1].many == ("IBM", "AAPL")
    assert check("export", [], SERVER)[1].get("FOLDER") is None
    assert check("accounts", ["load", "a.csv"], SERVER)[1]["FILE"] == "a.csv"
    assert check("journal", ["verify", "--data-dir", "/d"], SHELL)[1].values == {"data-dir": "/d"}
    assert check("exit", [], SHELL)[0] is COMMANDS["quit"]


def test_a_refusal_names_the_problem_and_the_usage() -> None:
    with pytest.raises(UsageError) as refused:
        check("kill", ["A1", "B1"], SERVER)
    assert str(refused.value) == "kill: needs one ACCOUNT or all, got 2 arguments\nusage: kill ACCOUNT|all"
    with pytest.raises(UsageError, match="write --account A1, not --account=A1"):
        check("cancel-all", ["--account=A1"], SERVER)
    with pytest.raises(UsageError, match="'frob' is not a command"):
        check("help", ["frob"], SHELL)


def test_the_server_refuses_shell_commands_and_unknown_ones_naming_its_own() -> None:
    for name in ("help", "journal", "quit", "exit"):
        with pytest.raises(AdminError, match=f"'{name}' is a command of the admin shell"):
            check(name, [], SERVER)
    with pytest.raises(AdminError) as refused:
        check("frob", [], SERVER)
    assert str(refused.value) == f"unknown admin command 'frob'; server commands: {', '.join(SERVER_COMMANDS)}"
    with pytest.raises(UsageError, match="unknown command 'frob'; commands: status, "):
        check("frob", [], SHELL)


def test_a_command_needs_the_permission_the_permission_table_names() -> None:
    admin_commands.authorize("halt", ["IBM"], permissions.effective("admin"))
    admin_commands.authorize("kill", ["A1"], permissions.effective("tenant_admin"))
    admin_commands.authorize("orders", ["A1"], permissions.effective("compliance"))
    with pytest.raises(admin_commands.Forbidden, match="admin orders needs the tenant.load_orders permission"):
        admin_commands.authorize("orders", ["load", "x.csv"], permissions.effective("compliance"))
    for role in ("trader", "advisor", "viewer"):
        for name in ("halt", "frobnicate", "help"):
            with pytest.raises(admin_commands.Forbidden, match=f"admin {name} needs the server"):
                admin_commands.authorize(name, [], permissions.effective(role))


def test_a_refusal_fits_in_an_error_frame() -> None:
    """The gateway cuts an error message at ``MESSAGE_CHARS``: the list of server commands must
    fit whole, or whoever reads it misses the last commands (a name is quoted cut short)."""
    from server.gateway.protocol import MESSAGE_CHARS

    for name in ("help", "journal", "exit", "frobnicate-something", "x" * 10_000):
        assert len(admin_commands.unknown_command(name, SERVER)) <= MESSAGE_CHARS


# --- the shell, the gateway and the supervisor agree -------------------------------------------------


def shell_verdict(name: str, args: list[str]) -> str:
    try:
        shell.check_command([name, *args])
    except UsageError as refused:
        return f"refused: {refused}"
    return "accepted"


class Recorded:
    """What a handler got (stands where the supervisor's topology would be)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Given]] = []

    def handler(self, name: str) -> Any:
        async def record(given: Given, tenant: str | None) -> dict[str, Any]:
            self.calls.append((name, given))
            return {"ok": True}

        return record


def supervisor_verdict(name: str, args: list[str]) -> str:
    commands = AdminCommands(cast(Supervisor, None))
    recorded = Recorded()
    for command in SERVER_COMMANDS.values():
        setattr(commands, command.handler, recorded.handler(command.handler))
    try:
        asyncio.run(commands.run(name, args))
    except AdminError as refused:
        return f"refused: {refused}"
    [(handler, given)] = recorded.calls
    assert (handler, given) == (SERVER_COMMANDS[name].handler, check(name, args, SERVER)[1])
    return "accepted"


def logged_in_gateway(role_key: str, secret: str) -> tuple[Gateway, Connection, list[tuple[str, list[str]]]]:
    setup = demo_setup()
    outbox = Outbox("gateway-0", Router(setup.config), setup.config.batching, lambda name, data: decode_batch(data))
    asked: list[tuple[str, list[str]]] = []

    async def admin(command: str, args: list[str], tenant: str | None, caller: tuple[str, str, str] | None = None) -> dict[str, Any]:
        asked.append((command, args))
        return {"ok": True}

    gateway = Gateway("gateway-0", setup, outbox, admin)
    conn = Connection(1, object(), TokenBucket(10_000, 10_000), 1000)  # type: ignore[arg-type]
    ts = int(time.time() * 1000)
    gateway.on_frame(conn, json.dumps({"op": "login", "id": 1, "key": role_key, "ts": ts, "nonce": "n1", "sig": signature(secret, ts, "n1")}))
    assert json.loads(conn.outgoing.pop())["ok"] is True
    return gateway, conn, asked


async def gateway_verdict(gateway: Gateway, conn: Connection, asked: list[tuple[str, list[str]]], name: str, args: list[str]) -> str:
    asked.clear()
    gateway.on_frame(conn, msgspec.json.encode({"op": "admin", "id": 2, "command": name, "args": args}))
    await asyncio.sleep(0)  # the admin call runs as a task
    await asyncio.sleep(0)
    if asked:
        assert asked == [(name, args)]
        assert json.loads(conn.outgoing.pop())["type"] == "admin"
        return "accepted"
    reply = json.loads(conn.outgoing.pop())
    assert reply["code"] == "admin_failed", reply
    return f"refused: {reply['message']}"


def _secret_form(name: str, args: list[str]) -> bool:
    command, given = check(name, args, SERVER)
    return command.forms[given.form].secret is not None


@pytest.mark.parametrize("name", [command.name for command in TABLE] + ["exit", "frobnicate"])
async def test_the_shell_the_gateway_and_the_supervisor_accept_and_refuse_alike(name: str) -> None:
    gateway, conn, asked = logged_in_gateway("admin", "admin-secret")
    for args in ARGUMENTS:
        at_gateway = await gateway_verdict(gateway, conn, asked, name, args)
        at_supervisor = await asyncio.to_thread(supervisor_verdict, name, args)
        assert at_gateway == at_supervisor, (name, args)
        in_shell = shell_verdict(name, args)
        if name in SERVER_COMMANDS and any(form.secret for form in SERVER_COMMANDS[name].forms):
            # the shell checks the line without the secret value, which it asks for and sends last
            with_value = await gateway_verdict(gateway, conn, asked, name, [*args, "the-value"])
            server_takes = at_gateway == "accepted" or (with_value == "accepted" and _secret_form(name, [*args, "the-value"]))
            assert (in_shell == "accepted") == server_takes, (name, args)
        elif name in SERVER_COMMANDS:
            assert in_shell == at_gateway, (name, args)
        else:  # the shell's own commands (and unknown ones): the server refuses them all
            assert at_gateway.startswith("refused: ") and "server commands: " in at_gateway
            assert in_shell == "accepted" or in_shell.startswith(f"refused: {name}: ") or "unknown command" in in_shell


async def test_the_gateway_refuses_a_trader_before_looking_at_the_command() -> None:
    gateway, conn, asked = logged_in_gateway("trader1", "trader1-secret")
    for name, args, needed in (("halt", ["IBM"], "server.control"), ("frobnicate", [], "server.inspect"), ("halt", [], "server.control")):
        gateway.on_frame(conn, msgspec.json.encode({"op": "admin", "id": 3, "command": name, "args": args}))
        await asyncio.sleep(0)
        reply = json.loads(conn.outgoing.pop())
        assert (reply["code"], reply["message"]) == ("forbidden", f"admin {name} needs the {needed} permission (trader: the role lacks it)")
    assert asked == []


def test_a_vault_value_is_never_on_the_shell_line_and_comes_last_to_the_server() -> None:
    from model.admin_commands import SERVER, SHELL, UsageError, check

    command, given = check("vault", ["add", "MM1"], SHELL)
    assert command.forms[given.form].secret == "VALUE" and "VALUE" not in given.values
    with pytest.raises(UsageError):
        check("vault", ["add", "MM1", "typed-password"], SHELL)  # a value typed on the line: refused
    _, given = check("vault", ["add", "MM1", "-starts-with-a-dash"], SERVER)
    assert (given["NAME"], given["VALUE"]) == ("MM1", "-starts-with-a-dash")
    with pytest.raises(UsageError) as refused:
        check("vault", ["add", "MM1"], SERVER)  # the server never takes it without its value
    with pytest.raises(UsageError) as extra:
        check("vault", ["add", "MM1", "x", "s3cret"], SERVER)
    assert "s3cret" not in str(extra.value) and "VALUE" not in str(refused.value).split("usage")[-1]
    assert check("vault", ["list"], SERVER)[1].form == 0 and check("vault", ["remove", "MM1"], SERVER)[1].values == {"NAME": "MM1"}
