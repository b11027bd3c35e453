"""The trader command line: ``python -m server.client``, built on the SDK (``server/client/sdk.py``).

Every line on stdout is one server message as a JSON object::

    python -m server.client [--url URL] [--key KEY] [--secret SECRET] [--ca-file PEM] [--timeout S] COMMAND ...

    order ACCOUNT SYMBOL SIDE (--qty Q | --notional N) [--type T] [--price P]
          [--stop-price S] [--tif TIF] [--client-order-id ID] [--watch SECONDS]
          [--lot-method M] [--lot LOT_ID:QTY ...]
    cancel ACCOUNT CLIENT_ORDER_ID
    orders ACCOUNT [--open] [--page-size N]
    account ACCOUNT
    load FILE
    watch [--quotes SYMBOL ...] [--transfers] [--seconds N]
    deposit ACCOUNT AMOUNT [--key-id K]
    withdraw ACCOUNT AMOUNT [--key-id K] [--totp CODE]
    journal FROM TO AMOUNT [FROM TO AMOUNT ...] [--key-id K] [--totp CODE]
    journal FROM TO --symbol S --qty Q [--key-id K] [--totp CODE]
    transfers ACCOUNT [--status S]
    lots ACCOUNT [--symbol S]
    gains ACCOUNT --from YYYY-MM-DD --to YYYY-MM-DD [--page-size N]
    statement ACCOUNT FROM TO

``--url/--key/--secret`` default to ``$BROKERD_URL/$BROKERD_KEY/$BROKERD_SECRET``, else the
demo trader. A ``wss://`` URL is TLS; ``--ca-file`` (``$BROKERD_CA_FILE``) names the CA
to verify the server with, else the system's roots are used. Exit status: 0 ok; 1 the server answered with an error or rejected an order;
2 usage error; 3 the client failed (could not connect, login refused, no reply in time,
connection lost) -- then one JSON object ``{"type": "client_error", ...}`` goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TextIO

import msgspec
from websockets.exceptions import WebSocketException

from model.enums import OrderStatus, OrderType, Side, TimeInForce
from model.lots import METHODS
from server.client.frames import Message, is_failure
from server.client.sdk import BrokerClient, LoginError

TERMINAL_STATUSES = frozenset(status.value for status in OrderStatus if not status.is_open)
_ENCODER = msgspec.json.Encoder()  # a Decimal (a number the server sent) prints as a JSON string

DEFAULT_URL = "ws://127.0.0.1:8765"
DEFAULT_KEY = "trader1"
DEFAULT_SECRET = "trader1-secret"
DEFAULT_REPLY_TIMEOUT_SECONDS = 10.0
EXIT_OK = 0
EXIT_SERVER_SAID_NO = 1
EXIT_USAGE = 2
EXIT_CLIENT_FAILED = 3
# A statement is one frame of up to [books] statement_max_rows entries: more than websockets'
# default 1 MiB; the cap is the server's own for a connection's unread frames.
STATEMENT_FRAME_BYTES = 64 * 1024 * 1024


def build_parser(environ: Mapping[str, str] = os.environ, prog: str = "python -m server.client") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="brokerd WebSocket client")
    parser.add_argument("--url", default=environ.get("BROKERD_URL", DEFAULT_URL))
    parser.add_argument("--key", default=environ.get("BROKERD_KEY", DEFAULT_KEY))
    parser.add_argument("--secret", default=environ.get("BROKERD_SECRET", DEFAULT_SECRET))
    parser.add_argument(
        "--ca-file",
        default=environ.get("BROKERD_CA_FILE") or None,
        help="wss:// URLs: verify the server against this PEM CA bundle (default: the system's roots)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_REPLY_TIMEOUT_SECONDS,
        help="seconds to wait for a reply (default %(default)s)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    _add_order_parser(commands)
    cancel = commands.add_parser("cancel", help="cancel one order")
    cancel.add_argument("account")
    cancel.add_argument("client_order_id")
    orders = commands.add_parser("orders", help="an account's orders")
    orders.add_argument("account")
    orders.add_argument("--open", dest="open_only", action="store_true", help="open orders only")
    orders.add_argument("--page-size", type=int, default=None, metavar="N", help="orders per page asked (default: the server's)")
    account = commands.add_parser("account", help="an account's cash and positions")
    account.add_argument("account")
    load = commands.add_parser("load", help="upload a basket of orders: a CSV file here (docs/open.md); all or nothing")
    load.add_argument("file")
    watch = commands.add_parser("watch", help="stream executions (and quotes)")
    watch.add_argument("--quotes", nargs="+", default=[], metavar="SYMBOL")
    watch.add_argument("--transfers", action="store_true", help="also the transfers of the accounts within reach")
    watch.add_argument("--seconds", type=float, default=None, help="stop after this long (default: never)")
    _add_transfer_parsers(commands)
    _add_books_parsers(commands)
    statement = commands.add_parser("statement", help="an account's statement for the local dates FROM to TO (YYYY-MM-DD)")
    statement.add_argument("account")
    statement.add_argument("first", metavar="FROM")
    statement.add_argument("last", metavar="TO")
    return parser


def _add_books_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    lots = commands.add_parser("lots", help="an account's open tax lots, with their mark and unrealized P&L")
    lots.add_argument("account")
    lots.add_argument("--symbol", default=None, help="this symbol's lots only")
    gains = commands.add_parser("gains", help="an account's closed lots sold on the dates FROM to TO, with their totals (every page)")
    gains.add_argument("account")
    gains.add_argument("--from", dest="start", required=True, metavar="YYYY-MM-DD", help="the first local date of the sales")
    gains.add_argument("--to", dest="end", required=True, metavar="YYYY-MM-DD", help="the last (included)")
    gains.add_argument("--page-size", type=int, default=None, metavar="N", help="closings per page asked (default: the server's)")


def lot_pick(text: str) -> tuple[int, str]:
    """``--lot LOT_ID:QTY`` as ``(lot_id, qty)``; the quantity is the server's to judge."""
    lot_id, colon, qty = text.partition(":")
    if not colon or not lot_id.isdigit() or not qty:
        raise argparse.ArgumentTypeError(f"expected LOT_ID:QTY (e.g. 3:4.5), not {text!r}")
    return int(lot_id), qty


def _add_transfer_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    key_help = "the idempotency key: the same key and content again gets the same answer (default: a fresh cli-<random>)"
    for name, helped in (("deposit", "ask to move cash into an account (pending until settled)"), ("withdraw", "ask to move cash out (held at once)")):
        parser = commands.add_parser(name, help=helped)
        parser.add_argument("account")
        parser.add_argument("amount")
        parser.add_argument("--key-id", default=None, help=key_help)
        if name == "withdraw":
            parser.add_argument("--totp", default=None, help="the current TOTP code, where moving cash asks for one")
    journal = commands.add_parser(
        "journal", help="move cash between accounts at once: FROM TO AMOUNT, repeated for a batch (all or nothing); or FROM TO --symbol S --qty Q: shares"
    )
    journal.add_argument("legs", nargs="+", metavar="FROM TO AMOUNT")
    journal.add_argument("--symbol", default=None, help="journal shares of this symbol (their lots keep cost and acquisition date)")
    journal.add_argument("--qty", default=None, help="the quantity of shares, with --symbol")
    journal.add_argument("--key-id", default=None, help=key_help)
    journal.add_argument("--totp", default=None, help="the current TOTP code, where moving cash asks for one")
    transfers = commands.add_parser("transfers", help="an account's deposits, withdrawals and journals")
    transfers.add_argument("account")
    transfers.add_argument("--status", default=None, choices=["pending", "settled", "rejected", "canceled"])


def _add_order_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    order = commands.add_parser("order", help="send one order")
    order.add_argument("account")
    order.add_argument("symbol")
    order.add_argument("side", choices=[side.value for side in Side])
    size = order.add_mutually_exclusive_group(required=True)
    size.add_argument("--qty")
    size.add_argument("--notional")
    order.add_argument("--type", default="market", choices=[kind.value for kind in OrderType])
    order.add_argument("--price")
    order.add_argument("--stop-price")
    order.add_argument("--tif", default="day", choices=[tif.value for tif in TimeInForce])
    order.add_argument("--client-order-id", default=None, help="default: a fresh cli-<random>")
    order.add_argument("--lot-method", default=None, choices=list(METHODS), help="the tax lots a sale closes (default: the account's)")
    order.add_argument(
        "--lot",
        dest="lots",
        type=lot_pick,
        action="append",
        default=None,
        metavar="LOT_ID:QTY",
        help="a sell: close this much of this lot (repeat for several; the method is then specific)",
    )
    order.add_argument(
        "--watch",
        type=float,
        default=None,
        metavar="SECONDS",
        help="then print the order's execution reports until it is done or SECONDS pass",
    )


async def run_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Run one parsed command; returns the exit status. Client failures go to ``err``."""
    try:
        frames: dict[str, Any] = {"max_size": STATEMENT_FRAME_BYTES} if args.command == "statement" else {}
        # batch: ``watch`` of a busy tenant reads thousands of reports a second, several a frame
        client = BrokerClient(args.url, args.key, args.secret, ca_file=args.ca_file, batch=True, **frames)
    except ValueError as exc:  # a CA file that cannot be used
        return _client_failed(err, "connection_failed", str(exc))
    try:
        async with client:
            return await _COMMANDS[args.command](client, args, out)
    except LoginError as exc:
        return _client_failed(err, "login_refused", str(exc))
    except TimeoutError:
        return _client_failed(err, "timeout", f"no answer within {args.timeout} s")
    except BrokenPipeError:
        raise  # our stdout, not the connection: main() handles it
    except (OSError, WebSocketException) as exc:  # ConnectionError is an OSError
        return _client_failed(err, "connection_failed", f"{args.url}: {exc}")


async def _order_command(client: BrokerClient, args: argparse.Namespace, out: TextIO) -> int:
    client_order_id = args.client_order_id or f"cli-{secrets.token_hex(6)}"
    mark = len(client.history)
    reply = await client.new_order(
        args.account,
        client_order_id,
        args.symbol,
        args.side,
        args.type,
        qty=args.qty,
        notional=args.notional,
        price=args.price,
        stop_price=args.stop_price,
        tif=args.tif,
        lot_method=args.lot_method,
        lots=args.lots,
        timeout=args.timeout,
    )
    _print(out, reply)
    failed = is_failure(reply)
    if args.watch is not None and reply.get("type") == "execution":
        failed = await _watch_order(client, reply, args.watch, mark, out) or failed
    return EXIT_SERVER_SAID_NO if failed else EXIT_OK


async def _watch_order(client: BrokerClient, reply: Message, seconds: float, mark: int, out: TextIO) -> bool:
    """Print the order's later execution reports until a terminal status or ``seconds`` pass;
    True if one of them is a rejection."""
    account, client_order_id = reply.get("account"), reply.get("client_order_id")
    seen_exec_ids = {reply.get("exec_id")}
    status, failed = reply.get("status"), False

    def is_next_report(message: Message) -> bool:
        return (
            message.get("type") == "execution"
            and message.get("account") == account
            and message.get("client_order_id") == client_order_id
            and message.get("exec_id") not in seen_exec_ids
        )

    try:
        async with asyncio.timeout(seconds):
            while status not in TERMINAL_STATUSES:
                report = await client.wait_for(is_next_report, since=mark)
                seen_exec_ids.add(report.get("exec_id"))
                _print(out, report)
                status, failed = report.get("status"), failed or is_failure(report)
    except TimeoutError:
        pass  # the watch window ended; the order is still open, which is not an error
    return failed


async def _cancel_command(client: BrokerClient, args: argparse.Namespace, out: TextIO) -> int:
    return _print_reply(out, await client.cancel_order(args.account, args.client_order_id, timeout=args.timeout))


async def _orders_command(client: BrokerClient, args: argparse.Namespace, out: TextIO) -> int:
    return _print_reply(out, await client.get_orders(args.account, args.open_only, limit=args.page_size, timeout=args.timeout))


async def _account_command(client: BrokerClient, args: argparse.Namespace, out: TextIO) -> int:
    return _print_reply(out, await client.get_account(args.account, timeout=args.timeout))


async def _load_command(client: BrokerClient, args: argparse.Namespace, out: TextIO) -> int:
    """Upload a local basket CSV file with ``load_orders``: the summary, or every bad row."""
    try:
        with open(args.file, encoding="utf-8-sig", newline="") as basket:
            text = basket.read()
    except (OSError, UnicodeDecodeError) as error:
        _print(sys.stderr, {"type": "client_error", "code": "unreadable_file", "message": f"{args.file}: {error}"})
        return EXIT_USAGE
    return _print_reply(out, await client.load_orders(text, timeout=args.timeout))


async def _watch_command(client: BrokerClient, args: argparse.Namespace, out: TextIO) -> int:
    """Print every message after the login reply (the subscribe reply included) until
    ``--seconds`` pass (exit 0) or the connection ends (exit 3)."""
    if args.quotes or args.transfers:
        channels = ["executions", *(["transfers"] if args.transfers else []), *(f"quotes:{symbol}" for symbol in args.quotes)]
        reply = await client.subscribe(channels, timeout=args.timeout)
        if is_failure(reply):
            return _print_reply(out, reply)
    try:
        async with asyncio.timeout(args.seconds):
            async for message in client.events():
                if message.get("type") != "login":
                    _print(out, message)
    except TimeoutError:
        return EXIT_OK
    raise ConnectionError("connection ended while watching")


def _key(args: argparse.Namespace) -> str:
    return str(args.key_id or f"cli-{secrets.token_hex(6)}")


async def _deposit_command(client: BrokerClient, args: argparse.Namespace, out: TextIO) -> int:
    return _print_reply(out, await client.deposit(args.account, args.amount, _key(args), timeout=args.timeout))


async def _withdraw_command(client: BrokerClient, args: argparse.Namespace, out: TextIO) -> int:
    return _print_reply(out, await client.withdrawal(args.account, args.amount, _key(args), totp=args.totp, timeout=args.timeout))


async def _journal_command(client: BrokerClient, args: argparse.Namespace, out: TextIO) -> int:
    legs = args.legs
    if args.symbol is not None or args.qty is not None:
        if len(legs) != 2 or args.symbol is None or args.qty is None:
            _print(sys.stderr, {"type": "client_error", "code": "usage", "message": "journal of shares takes FROM TO --symbol S --qty Q"})
            return EXIT_USAGE
        shares = {"from": legs[0], "to": legs[1], "symbol": args.symbol, "qty": args.qty}
        return _print_reply(out, await client.journal([shares], _key(args), totp=args.totp, timeout=args.timeout))
    if len(legs) % 3:
        _print(sys.stderr, {"type": "client_error", "code": "usage", "message": "journal takes FROM TO AMOUNT, repeated"})
        return EXIT_USAGE
    entries = [(legs[at], legs[at + 1], legs[at + 2]) for at in range(0, len(legs), 3)]
    return _print_reply(out, await client.journal(entries, _key(args), totp=args.totp, timeout=args.timeout))


async def _transfers_command(client: BrokerClient, args: argparse.Namespace, out: TextIO) -> int:
    return _print_reply(out, await client.get_transfers(args.account, args.status, timeout=args.timeout))


async def _statement_command(client: BrokerClient, args: argparse.Namespace, out: TextIO) -> int:
    return _print_reply(out, await client.get_statement(args.account, args.first, args.last, timeout=args.timeout))


async def _lots_command(client: BrokerClient, args: argparse.Namespace, out: TextIO) -> int:
    return _print_reply(out, await client.get_lots(args.account, args.symbol, timeout=args.timeout))


async def _gains_command(client: BrokerClient, args: argparse.Namespace, out: TextIO) -> int:
    return _print_reply(out, await client.get_gains(args.account, args.start, args.end, limit=args.page_size, timeout=args.timeout))


_COMMANDS: dict[str, Callable[[BrokerClient, argparse.Namespace, TextIO], Awaitable[int]]] = {
    "order": _order_command,
    "cancel": _cancel_command,
    "orders": _orders_command,
    "account": _account_command,
    "load": _load_command,
    "watch": _watch_command,
    "deposit": _deposit_command,
    "withdraw": _withdraw_command,
    "journal": _journal_command,
    "transfers": _transfers_command,
    "lots": _lots_command,
    "gains": _gains_command,
    "statement": _statement_command,
}


def _print(out: TextIO, message: Mapping[str, Any]) -> None:
    out.write(_ENCODER.encode(message).decode() + "\n")
    out.flush()


def _print_reply(out: TextIO, reply: Message) -> int:
    _print(out, reply)
    return EXIT_SERVER_SAID_NO if is_failure(reply) else EXIT_OK


def _client_failed(err: TextIO, code: str, message: str) -> int:
    _print(err, {"type": "client_error", "code": code, "message": message})
    return EXIT_CLIENT_FAILED


def main(argv: Sequence[str] | None = None, prog: str = "python -m server.client") -> int:
    args = build_parser(prog=prog).parse_args(argv)
    try:
        return asyncio.run(run_command(args, sys.stdout, sys.stderr))
    except KeyboardInterrupt:
        return 130  # the shell's convention for SIGINT
    except BrokenPipeError:
        # whoever read stdout has had enough (`| head`): stop quietly, as a finished watch does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
