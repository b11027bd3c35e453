"""The admin shell (docs/admin.md): ``python run_server.py admin [--json] [COMMAND ARGS...]``.

Server commands log in over the WebSocket API with an admin key and send
``{"op": "admin", "command": C, "args": [...]}``, arguments as typed: the file and folder
names of ``accounts load``, ``nav FILE``, ``reconcile`` and ``export`` are the server's,
inside its import and export dirs. ``journal verify`` runs here, on the data dir (from
``--data-dir``, else the config's), and needs no server. Arguments are checked before anything connects. With a command
the shell runs it once and exits; without one it is interactive, with ``help`` and
line-editing history (kept in ``~/.brokerd_admin_history`` when that is writable).

Exit codes: 0 done; 1 the server answered with an error, or verify found errors; 2 usage
error; 3 the server could not be reached, refused the login or did not answer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

from websockets.exceptions import WebSocketException

from model.config import ConfigError, load_config
from server.client.sdk import BrokerClient, LoginError
from snapshots.verify import DataDirError, verify_data_dir

OK, FAILED, USAGE, UNREACHABLE = 0, 1, 2, 3
DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "conf" / "server.toml"  # as run_server.py's --config
JOURNAL_OPTIONS = ("--config", "--data-dir")
HISTORY_FILE = "~/.brokerd_admin_history"
HISTORY_LENGTH = 1000


class UsageError(ValueError):
    """A command or its arguments do not fit; the message says how."""


class Unreachable(Exception):
    """The server could not be reached, refused the login, or did not answer."""


# --- commands and their arguments --------------------------------------------------------------


class Command(NamedTuple):
    usage: str
    summary: str
    check: Callable[[list[str]], None]  # raises UsageError
    local: bool = False  # runs here, without the server


def parse_options(args: list[str], allowed: tuple[str, ...]) -> dict[str, str]:
    """``--name VALUE`` pairs, each name at most once."""
    options: dict[str, str] = {}
    position = 0
    while position < len(args):
        name = args[position]
        if "=" in name and name.split("=", 1)[0] in allowed:
            raise UsageError(f"write {name.replace('=', ' ', 1)}, not {name}")
        if name not in allowed:
            raise UsageError(f"unexpected {name!r}; options: {', '.join(allowed)}")
        if name in options:
            raise UsageError(f"{name} given twice")
        if position + 1 == len(args) or not args[position + 1] or args[position + 1].startswith("--"):
            raise UsageError(f"{name} needs a value")
        options[name] = args[position + 1]
        position += 2
    return options


def _no_arguments(args: list[str]) -> None:
    if args:
        raise UsageError(f"takes no arguments, got {' '.join(args)!r}")


def _one(what: str) -> Callable[[list[str]], None]:
    def check(args: list[str]) -> None:
        if len(args) != 1:
            raise UsageError(f"needs one {what}, got {len(args)} arguments")
        if not args[0] or args[0].startswith("-"):
            raise UsageError(f"{args[0]!r} is not a {what}")

    return check


def _options(*allowed: str) -> Callable[[list[str]], None]:
    def check(args: list[str]) -> None:
        parse_options(args, allowed)

    return check


def _symbols(args: list[str]) -> None:
    bad = [arg for arg in args if not arg or arg.startswith("-")]
    if bad:
        raise UsageError(f"{bad[0]!r} is not a symbol")


def _nav(args: list[str]) -> None:
    if len(args) not in (1, 2) or args[0].startswith("-"):
        raise UsageError("needs a fund symbol and its NAV, or a NAV file")


def _at_most_one(what: str) -> Callable[[list[str]], None]:
    def check(args: list[str]) -> None:
        if len(args) > 1:
            raise UsageError(f"takes at most one {what}")

    return check


def _accounts(args: list[str]) -> None:
    if len(args) != 2 or args[0] != "load":
        raise UsageError("the accounts command is 'accounts load FILE'")


def _journal(args: list[str]) -> None:
    if not args or args[0] != "verify":
        raise UsageError("the journal command is 'journal verify'")
    parse_options(args[1:], JOURNAL_OPTIONS)


def _help(args: list[str]) -> None:
    if len(args) > 1 or (args and args[0] not in COMMANDS):
        raise UsageError(f"help takes one command name: {', '.join(COMMANDS)}")


COMMANDS: dict[str, Command] = {
    "status": Command("status", "every actor with its health and counters; halted symbols", _no_arguments),
    "account": Command("account ACCOUNT", "one account: cash, buying power, positions", _one("ACCOUNT")),
    "orders": Command("orders ACCOUNT", "one account's orders", _one("ACCOUNT")),
    "halt": Command("halt SYMBOL", "stop trading a symbol: new orders are rejected (halted)", _one("SYMBOL")),
    "resume": Command("resume SYMBOL", "trade the symbol again", _one("SYMBOL")),
    "kill": Command("kill ACCOUNT|all", "kill switch: cancel open orders, refuse new ones; survives restart", _one("ACCOUNT or all")),
    "unkill": Command("unkill ACCOUNT|all", "lift the kill switch", _one("ACCOUNT or all")),
    "cancel-all": Command(
        "cancel-all [--account A] [--symbol S] [--venue V]",
        "cancel the open orders that match every filter given (none: all open orders)",
        _options("--account", "--symbol", "--venue"),
    ),
    "open": Command("open [SYMBOL ...]", "the open: release the orders queued for it as blocks (all symbols, or those named)", _symbols),
    "nav": Command(
        "nav FUND PRICE | nav FILE",
        "strike a mutual fund's NAV (or each of a symbol,nav file in the server's import dir): its collected orders fill at it",
        _nav,
    ),
    "blocks": Command("blocks", "the blocks sent at the open: orders, netted, filled, average price", _no_arguments),
    "export": Command(
        "export [FOLDER]",
        "end of day: positions.csv and allocations.csv into FOLDER in the server's export dir (default: <UTC date>)",
        _at_most_one("FOLDER"),
    ),
    "accounts": Command(
        "accounts load FILE", "open the accounts of an accounts CSV in the server's import dir (a bad row loads nothing)", _accounts
    ),
    "snapshot": Command("snapshot", "snapshot every actor now", _no_arguments),
    "check": Command("check", "check every actor's invariants and replay every journal against the live state", _no_arguments),
    "journal": Command(
        "journal verify [--config FILE] [--data-dir DIR]",
        "check every journal and snapshot, here, with the server up or down"
        " (DIR: the data_dir of FILE; without either, $BROKERD_DATA_DIR, else that of conf/server.toml)",
        _journal,
        local=True,
    ),
    "reconcile": Command(
        "reconcile FILE",
        "compare positions with a back-office file in the server's import dir, list the breaks (exit 1 if any)",
        _one("FILE"),
    ),
    "help": Command("help [COMMAND]", "this list, or one command", _help, local=True),
    "quit": Command("quit", "leave the shell (also: exit, Ctrl-D)", _no_arguments, local=True),
}
ALIASES = {"exit": "quit"}
HELP = {command.usage: command.summary for command in COMMANDS.values()}


def check_command(words: list[str]) -> Command:
    """The command ``words`` name, its arguments checked; raises ``UsageError``."""
    name, *args = words
    command = COMMANDS.get(ALIASES.get(name, name))
    if command is None:
        raise UsageError(f"unknown command {name!r}; commands: {', '.join(COMMANDS)}")
    try:
        command.check(args)
    except UsageError as problem:
        raise UsageError(f"{name}: {problem}\nusage: {command.usage}") from None
    return command


def help_text(name: str | None = None) -> str:
    if name is not None:
        command = COMMANDS[name]
        return f"usage: {command.usage}\n  {command.summary}"
    width = 34
    lines = []
    for usage, summary in HELP.items():
        lines.append(f"  {usage:<{width}} {summary}" if len(usage) < width else f"  {usage}\n  {'':<{width}} {summary}")
    lines.append("exit codes: 0 done, 1 the server refused or verify found errors, 2 usage error, 3 server unreachable")
    return "\n".join(lines)


# --- rendering -------------------------------------------------------------------------------------


def render(reply: dict[str, Any], as_json: bool) -> str:
    if as_json:
        return json.dumps(reply, sort_keys=True, default=str)
    if reply.get("type") == "error":
        return f"error ({reply.get('code')}): {reply.get('message')}"
    if reply.get("type") != "admin":
        return "\n".join(render_value(reply))
    result = reply.get("result", {})
    if isinstance(result, dict) and "actors" in result:
        return render_status(result)
    if isinstance(result, dict) and result.get("ok") is True:
        result = {key: value for key, value in result.items() if key != "ok"}
    return "\n".join(render_value(result)) if result else "ok"


def render_status(result: dict[str, Any]) -> str:
    lines = [f"ws port {result.get('ws_port')}   halted: {', '.join(result.get('halted', [])) or 'none'}"]
    if "killed" in result:
        lines[0] += f"   killed: {', '.join(result['killed']) or 'none'}"
    if "import_dir" in result or "export_dir" in result:
        lines.append(f"import dir {result.get('import_dir')}   export dir {result.get('export_dir')}")
    for actor in result["actors"]:
        details = "  ".join(f"{key}={_text(value)}" for key, value in actor.items() if key != "name")
        lines.append(f"  {actor.get('name', '?'):<24} {details}")
    return "\n".join(lines)


def render_value(value: Any, indent: str = "") -> list[str]:
    """Readable lines for any JSON value: a dict as aligned ``key: value`` lines (nested
    values indented below their key), a list of dicts as a table (without the columns that
    are empty in every row), a list of plain values on one line."""
    if isinstance(value, dict):
        return _render_mapping(value, indent)
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        return _render_table(value, indent)
    if isinstance(value, list) and not _inline(value):
        lines = []
        for item in value:
            lines += [f"{indent}- {_text(item)}"] if _inline(item) else [f"{indent}-", *render_value(item, indent + "  ")]
        return lines
    return [indent + _text(value)]


def _render_mapping(mapping: dict[str, Any], indent: str) -> list[str]:
    if not mapping:
        return [indent + "(none)"]
    width = max(len(str(key)) for key in mapping) + 1
    lines = []
    for key, item in mapping.items():
        label = f"{key}:"
        if _inline(item):
            lines.append(f"{indent}{label:<{width}} {_text(item)}")
        else:
            lines.append(f"{indent}{label}")
            lines.extend(render_value(item, indent + "  "))
    return lines


def _render_table(rows: list[dict[str, Any]], indent: str) -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    # a column no row has a value for (an order's stop_price, notional...) only widens the table
    columns = [column for column in columns if any(row.get(column) is not None for row in rows)] or columns
    cells = [[_text(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(column), *(len(row[index]) for row in cells)) for index, column in enumerate(columns)]

    def line(values: list[str]) -> str:
        return (indent + "  ".join(value.ljust(width) for value, width in zip(values, widths, strict=True))).rstrip()

    return [line(columns), *(line(row) for row in cells)]


def _inline(value: Any) -> bool:
    """Shown on its key's line: a plain value, an empty container, a list of plain values."""
    if isinstance(value, dict):
        return not value
    if isinstance(value, list):
        return not any(isinstance(item, dict | list) for item in value)
    return True


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and _inline(value):
        return ", ".join(_text(item) for item in value) or "(none)"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str) if value else "(none)"
    return str(value)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def render_report(report: dict[str, Any]) -> str:
    """``journal verify``: one line per actor (journal range, snapshots), its issues below."""
    errors, warnings = report["errors"], report["warnings"]
    counts = ", ".join(_count(n, noun) for n, noun in ((len(report["actors"]), "actor"), (errors, "error"), (warnings, "warning")))
    lines = [f"data dir {report['data_dir']}: {counts}"]
    width = max(len(actor["name"]) for actor in report["actors"])
    for actor in report["actors"]:
        first, last = actor["first_seq"], actor["last_seq"]
        journal = f"journal {first}..{last}" if first is not None else "journal empty"
        snapshots = ", ".join(str(seq) for seq in actor["snapshots"]) or "none"
        lines.append(f"  {actor['name']:<{width}}  {journal:<22} snapshots {snapshots}")
        lines += [f"      {issue['severity']:<8} {issue['where']}: {issue['detail']}" for issue in actor["issues"]]
    lines.append("ok" if report["ok"] else "errors found: recovery would stop or load wrong state (see above)")
    return "\n".join(lines)


# --- local commands --------------------------------------------------------------------------------


def run_local(words: list[str], as_json: bool) -> int:
    name, *args = words
    if name == "help":
        print(help_text(args[0] if args else None))
    elif name == "journal":
        return journal_verify(args[1:], as_json)
    return OK


def data_dir_of(options: dict[str, str]) -> str:
    """The data dir to verify: ``--data-dir``; else ``[server] data_dir`` of ``--config``;
    else ``$BROKERD_DATA_DIR``; else ``[server] data_dir`` of ``conf/server.toml`` (the
    server's default config). A flag wins over the environment, the environment over the
    default. A relative data dir is relative to the working directory, as for the server.
    Raises ``ConfigError`` for a configuration that cannot be read."""
    if options.get("--data-dir"):
        return options["--data-dir"]
    if not options.get("--config") and os.environ.get("BROKERD_DATA_DIR"):
        return os.environ["BROKERD_DATA_DIR"]
    path = options.get("--config") or DEFAULT_CONFIG
    try:
        return load_config(path).server.data_dir
    except OSError as error:
        raise ConfigError(f"cannot read the configuration {path}: {error.strerror or error}") from None
    except ConfigError as error:
        raise ConfigError(f"bad configuration: {error}") from None


def journal_verify(args: list[str], as_json: bool) -> int:
    """0 when no journal has an error (warnings are what recovery repairs), else 1."""
    data_dir = ""
    try:
        data_dir = data_dir_of(parse_options(args, JOURNAL_OPTIONS))
        report = verify_data_dir(data_dir)
    except (DataDirError, ConfigError) as problem:
        if as_json:
            print(json.dumps({"ok": False, "data_dir": data_dir, "error": str(problem)}, sort_keys=True))
        else:
            print(f"journal verify: {problem}", file=sys.stderr)
        return FAILED
    print(json.dumps(report, sort_keys=True) if as_json else render_report(report))
    return OK if report["ok"] else FAILED


# --- talking to the server -------------------------------------------------------------------------


def succeeded(reply: dict[str, Any]) -> bool:
    return reply.get("type") == "admin" and bool(reply.get("ok"))


async def connect(args: argparse.Namespace) -> BrokerClient:
    try:
        return await BrokerClient.connect(args.url, args.key, args.secret)
    except LoginError as refused:
        raise Unreachable(f"brokerd at {args.url} refused the login as {args.key!r}: {refused}") from None
    except (OSError, WebSocketException) as failure:  # OSError includes TimeoutError
        raise Unreachable(f"cannot reach brokerd at {args.url}: {failure}") from None


async def ask(client: BrokerClient, words: list[str], timeout: float) -> dict[str, Any]:
    command, *args = words
    try:
        return await client.request({"op": "admin", "command": command, "args": args}, timeout=timeout)
    except TimeoutError:
        raise Unreachable(f"no answer from brokerd within {timeout:g} s") from None
    except ConnectionError as lost:
        raise Unreachable(f"connection to brokerd lost: {lost}") from None


async def one_shot(words: list[str], args: argparse.Namespace) -> int:
    try:
        client = await connect(args)
        try:
            reply = await ask(client, words, args.timeout)
        finally:
            await client.close()
    except Unreachable as failure:
        print(failure, file=sys.stderr)
        return UNREACHABLE
    print(render(reply, args.json))
    return OK if succeeded(reply) else FAILED


class Session:
    """The interactive shell's connection: opened when first needed, reopened after it ends
    (a restarted server), so local commands work while the server is down."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.client: BrokerClient | None = None

    async def open(self) -> BrokerClient:
        if self.client is None or self.client.closed:
            await self.close()
            self.client = await connect(self.args)
        return self.client

    async def ask(self, words: list[str]) -> dict[str, Any]:
        return await ask(await self.open(), words, self.args.timeout)

    async def close(self) -> None:
        if self.client is not None:
            client, self.client = self.client, None
            await client.close()


class Terminal:
    """Line editing for the shell on a terminal: readline history, read at start and written
    at the end when the file is writable, and the terminal's settings, put back at the end
    (readline leaves the terminal raw when Ctrl-C ends the shell in the middle of a line).
    Piped input needs neither."""

    def __init__(self, history: Path) -> None:
        self.history = history
        self.readline: ModuleType | None = None
        self.settings: list[Any] | None = None
        if not sys.stdin.isatty():
            return
        try:
            import readline
            import termios
        except ImportError:
            return
        self.settings = termios.tcgetattr(sys.stdin.fileno())
        self.readline = readline
        readline.set_history_length(HISTORY_LENGTH)
        try:
            readline.read_history_file(str(history))
        except OSError:
            pass  # none yet, or unreadable: start empty

    def restore(self) -> None:
        if self.readline is None:
            return
        try:
            self.readline.write_history_file(str(self.history))
        except OSError:
            pass  # not writable: the history of this session only
        if self.settings is not None:
            import termios

            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, self.settings)


def history_path() -> Path:
    return Path(os.environ.get("BROKERD_ADMIN_HISTORY") or HISTORY_FILE).expanduser()


async def read_line(prompt: str) -> str:
    """``input(prompt)`` in a daemon thread: the event loop keeps serving the connection
    (pings) meanwhile, and Ctrl-C or the end of the program never waits for the thread."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[str] = loop.create_future()

    def settle(line: str | None, failure: BaseException | None) -> None:
        if answer.done():
            return
        if failure is not None:
            answer.set_exception(failure)
        else:
            answer.set_result(line or "")

    def read() -> None:
        try:
            line, failure = input(prompt), None
        except BaseException as error:  # EOFError, KeyboardInterrupt: handed to the shell
            line, failure = None, error
        try:
            loop.call_soon_threadsafe(settle, line, failure)
        except RuntimeError:
            pass  # the loop has closed: the shell is gone

    threading.Thread(target=read, name="admin-input", daemon=True).start()
    return await answer


async def interactive(args: argparse.Namespace) -> int:
    terminal = Terminal(history_path())
    session = Session(args)
    print("brokerd admin shell; 'help' lists the commands")
    try:
        await session.open()
    except Unreachable as failure:
        print(f"{failure}\n(local commands work: journal verify, help; server commands try again)", file=sys.stderr)
    try:
        while True:
            try:
                line = await read_line("brokerd> ")
            except EOFError:
                print()
                return OK
            if await run_line(line, session, args.json) == "quit":
                return OK
    finally:
        terminal.restore()
        await session.close()


async def run_line(line: str, session: Session, as_json: bool) -> str | None:
    """One shell line; returns ``"quit"`` when the shell should end."""
    try:
        words = shlex.split(line)
        command = check_command(words) if words else None
    except ValueError as problem:  # UsageError, or shlex's unbalanced quotes
        print(f"admin: {problem}", file=sys.stderr)
        return None
    if command is None:
        return None
    if command is COMMANDS["quit"]:
        return "quit"
    if command.local:
        run_local(words, as_json)
        return None
    try:
        reply = await session.ask(words)
    except Unreachable as failure:
        print(failure, file=sys.stderr)
        return None
    print(render(reply, as_json))
    return None


# --- entry point -----------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="run_server.py admin",
        description="brokerd admin shell: run one COMMAND, or none for an interactive shell",
        epilog="commands:\n" + help_text(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--url", default=os.environ.get("BROKERD_URL", "ws://127.0.0.1:8765"))
    parser.add_argument("--key", default=os.environ.get("BROKERD_ADMIN_KEY", "admin"))
    parser.add_argument("--secret", default=os.environ.get("BROKERD_ADMIN_SECRET", "admin-secret"))
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("--timeout", type=float, default=30, help="seconds to wait for an answer")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="command and arguments; none: interactive")
    return parser.parse_args(argv)


def run_once(args: argparse.Namespace) -> int:
    words: list[str] = args.command
    try:
        command = check_command(words)
    except UsageError as problem:
        print(f"admin: {problem}", file=sys.stderr)
        return USAGE
    if command.local:
        return run_local(words, args.json)
    return asyncio.run(one_shot(words, args))


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    try:
        return run_once(args) if args.command else asyncio.run(interactive(args))
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130  # the shell's convention for SIGINT
    except BrokenPipeError:
        # whoever read stdout has had enough (`| head`): stop quietly, as server/client/cli.py does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return OK
