"""The admin shell (docs/admin.md): ``brokerd admin [--json] [COMMAND ARGS...]`` (from a
checkout also ``python run_server.py admin ...``).

Server commands log in over the WebSocket API with an admin key and send
``{"op": "admin", "command": C, "args": [...]}``, arguments as typed: the file and folder
names of ``accounts load``, ``nav FILE``, ``reconcile`` and ``export`` are the server's,
inside its import and export dirs. ``journal verify`` runs here, on the data dir (from
``--data-dir``, else the config's), and needs no server; so do ``audit`` and the
compliance reports of the audit log (``report trades|cat|best-ex|admin-actions``). Arguments are checked before anything connects. With a command
the shell runs it once and exits; without one it is interactive, with ``help`` and
line-editing history (kept in ``~/.brokerd_admin_history`` when that is writable).
``vault add NAME`` and ``vault rotate NAME`` take their value from a prompt without echo,
``--value-file FILE`` or standard input, never from the line (``with_secret``).

The commands, their arguments and help come from the one admin table
(``model/admin_commands.py``); the shell's own commands are in ``server/client/local.py``,
the rendering of replies in ``server/client/render.py``.

Exit codes: 0 done; 1 the server answered with an error, or verify found errors; 2 usage
error; 3 the server could not be reached, refused the login or did not answer.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

from websockets.exceptions import WebSocketException

from keystore.cli import ValueRefused, read_value
from model.admin_commands import COMMANDS, SHELL, Command, Given, UsageError, check
from server.client.local import FAILED, OK, UNREACHABLE, USAGE, help_text, run_local
from server.client.progress import Progress
from server.client.render import render
from server.client.sdk import BrokerClient, LoginError

__all__ = ["COMMANDS", "FAILED", "OK", "UNREACHABLE", "USAGE", "UsageError", "help_text", "main", "render"]

HISTORY_FILE = "~/.brokerd_admin_history"
PROGRESS_POLL_S = 0.5  # how often a progress bar asks the server how far a long command is
HISTORY_LENGTH = 1000


class Unreachable(Exception):
    """The server could not be reached, refused the login, or did not answer."""


def checked(words: list[str]) -> tuple[Command, Given]:
    """The command ``words`` name and its arguments, checked against the table; raises ``UsageError``."""
    name, *args = words
    return check(name, args, SHELL)


def with_secret(command: Command, given: Given, words: list[str], value_file: str | None, interactive: bool) -> list[str]:
    """``words`` with the secret value of a form that takes one (``vault add NAME``) added
    last, as the server expects it; ``words`` alone otherwise. The value comes from
    ``value_file``, else is asked for twice without echo on a terminal, else (a one-shot
    command) is all of standard input. It never enters the shell's history: only the line
    typed does. Raises ``ValueRefused``."""
    form = command.forms[given.form]
    if form.secret is None:
        return words
    if interactive and value_file is None and not sys.stdin.isatty():
        raise ValueRefused("in a piped shell the value comes from --value-file FILE (standard input holds the commands)")
    value = read_value(given.get("NAME") or form.secret, value_file)
    try:
        return [*words, value.decode("utf-8")]
    except UnicodeDecodeError:
        raise ValueRefused("the value is not UTF-8 text; nothing sent") from None


def check_command(words: list[str]) -> Command:
    """The command ``words`` name, its arguments checked; raises ``UsageError``."""
    return checked(words)[0]


# --- talking to the server -------------------------------------------------------------------------


def succeeded(reply: dict[str, Any]) -> bool:
    return reply.get("type") == "admin" and bool(reply.get("ok"))


async def connect(args: argparse.Namespace) -> BrokerClient:
    try:
        return await BrokerClient.connect(args.url, args.key, args.secret, ca_file=args.ca_file, totp=args.totp)
    except ValueError as unusable:  # a CA file that cannot be used
        raise Unreachable(str(unusable)) from None
    except LoginError as refused:
        raise Unreachable(f"brokerd at {args.url} refused the login as {args.key!r}: {refused}") from None
    except (OSError, WebSocketException) as failure:  # OSError includes TimeoutError
        raise Unreachable(f"cannot reach brokerd at {args.url}: {failure}") from None


async def ask(client: BrokerClient, words: list[str], timeout: float, as_json: bool = True) -> dict[str, Any]:
    """The server's answer to one command. ``orders load`` on a terminal (not ``--json``) draws
    a progress bar of the basket's chunks as the shards answer them (``with_progress``)."""
    command, *args = words
    request = {"op": "admin", "command": command, "args": args}
    try:
        if (command, *args[:1]) == ("orders", "load"):
            bar = Progress("loading orders: chunks", as_json=as_json)
            if bar.enabled:
                return await with_progress(client, request, timeout, bar)
        return await client.request(request, timeout=timeout)
    except TimeoutError:
        raise Unreachable(f"no answer from brokerd within {timeout:g} s") from None
    except ConnectionError as lost:
        raise Unreachable(f"connection to brokerd lost: {lost}") from None


async def with_progress(client: BrokerClient, request: dict[str, Any], timeout: float, bar: Progress) -> dict[str, Any]:
    """``request``'s answer, while the bar shows the gateways' basket loads in flight (their
    chunks answered of all), asked with ``status`` every ``PROGRESS_POLL_S`` on the same
    connection. A status that fails or is late only leaves the bar as it was."""
    answer = asyncio.ensure_future(client.request(request, timeout=timeout))
    try:
        while not answer.done():
            await asyncio.wait({answer}, timeout=PROGRESS_POLL_S)
            if answer.done():
                break
            try:
                status = await client.request({"op": "admin", "command": "status", "args": []}, timeout=PROGRESS_POLL_S * 4)
            except (TimeoutError, ConnectionError):
                continue
            loads = [load for actor in status.get("result", {}).get("actors", []) for load in actor.get("baskets_progress", [])]
            if loads:
                bar.update(sum(load["answered"] for load in loads), sum(load["chunks"] for load in loads))
        return answer.result()
    finally:
        if not answer.done():
            answer.cancel()
        bar.finish()


async def one_shot(words: list[str], args: argparse.Namespace) -> int:
    try:
        client = await connect(args)
        try:
            reply = await ask(client, words, args.timeout, args.json)
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
        return await ask(await self.open(), words, self.args.timeout, self.args.json)

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
        print(f"{failure}\n(local commands work: journal verify, audit, report trades|cat|best-ex|admin-actions, help; server commands try again)", file=sys.stderr)
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
        if not words:
            return None
        command, given = checked(words)
    except ValueError as problem:  # UsageError, or shlex's unbalanced quotes
        print(f"admin: {problem}", file=sys.stderr)
        return None
    if command is COMMANDS["quit"]:
        return "quit"
    if command.where(given) == SHELL:
        run_local(command, given, as_json)
        return None
    try:
        words = await asyncio.to_thread(with_secret, command, given, words, session.args.value_file, True)
    except ValueRefused as refused:
        print(f"admin: {refused}", file=sys.stderr)
        return None
    try:
        reply = await session.ask(words)
    except Unreachable as failure:
        print(failure, file=sys.stderr)
        return None
    print(render(reply, as_json))
    return None


# --- entry point -----------------------------------------------------------------------------------


def parse_args(argv: list[str], prog: str = "run_server.py admin") -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="brokerd admin shell: run one COMMAND, or none for an interactive shell",
        epilog="commands:\n" + help_text(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--url", default=os.environ.get("BROKERD_URL", "ws://127.0.0.1:8765"))
    parser.add_argument("--key", default=os.environ.get("BROKERD_ADMIN_KEY", "admin"))
    parser.add_argument("--secret", default=os.environ.get("BROKERD_ADMIN_SECRET", "admin-secret"))
    parser.add_argument("--totp", default=None, help="the current code of your authenticator app (a user enrolled in MFA)")
    parser.add_argument(
        "--ca-file",
        default=os.environ.get("BROKERD_CA_FILE") or None,
        help="wss:// URLs: verify the server against this PEM CA bundle (default: the system's roots)",
    )
    parser.add_argument("--value-file", help="vault add/rotate: read the value from this file (default: ask without echo, or standard input)")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("--timeout", type=float, default=30, help="seconds to wait for an answer")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="command and arguments; none: interactive")
    return parser.parse_args(argv)


def run_once(args: argparse.Namespace) -> int:
    words: list[str] = args.command
    try:
        command, given = checked(words)
    except UsageError as problem:
        print(f"admin: {problem}", file=sys.stderr)
        return USAGE
    if command.where(given) == SHELL:
        return run_local(command, given, args.json)
    try:
        words = with_secret(command, given, words, args.value_file, False)
    except ValueRefused as refused:
        print(f"admin: {refused}", file=sys.stderr)
        return USAGE
    return asyncio.run(one_shot(words, args))


def main(argv: list[str], prog: str = "run_server.py admin") -> int:
    """The shell; ``prog`` is how it was started (``brokerd admin``, ``run_server.py admin``)."""
    args = parse_args(argv, prog)
    try:
        return run_once(args) if args.command else asyncio.run(interactive(args))
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130  # the shell's convention for SIGINT
    except BrokenPipeError:
        # whoever read stdout has had enough (`| head`): stop quietly, as server/client/cli.py does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return OK
