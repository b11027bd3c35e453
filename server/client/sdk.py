"""Async client for the brokerd WebSocket API (docs/protocol.md), and a command line.

Library::

    async with BrokerClient("ws://127.0.0.1:8765", "trader1", "trader1-secret") as client:
        reply = await client.new_order("A1", "c-1", "IBM", "buy", qty="1")
        done = await client.wait_for(lambda m: m.get("status") == "filled", timeout=5)

Command line (every line on stdout is one server message as a JSON object)::

    python -m server.client [--url URL] [--key KEY] [--secret SECRET] [--timeout S] COMMAND ...

    order ACCOUNT SYMBOL SIDE (--qty Q | --notional N) [--type T] [--price P]
          [--stop-price S] [--tif TIF] [--client-order-id ID] [--watch SECONDS]
    cancel ACCOUNT CLIENT_ORDER_ID
    orders ACCOUNT [--open] [--page-size N]
    account ACCOUNT
    watch [--quotes SYMBOL ...] [--seconds N]

``--url/--key/--secret`` default to ``$BROKERD_URL/$BROKERD_KEY/$BROKERD_SECRET``, else the
demo trader. Exit status: 0 ok; 1 the server answered with an error or rejected an order;
2 usage error; 3 the client failed (could not connect, login refused, no reply in time,
connection lost) -- then one JSON object ``{"type": "client_error", ...}`` goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import itertools
import os
import secrets
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Self, TextIO

import msgspec
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as websocket_connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from model.enums import OrderStatus, OrderType, Side, TimeInForce

Message = dict[str, Any]
Predicate = Callable[[Message], bool]
DecimalArg = str | Decimal | int

DECIMAL_FIELDS = frozenset({"qty", "notional", "price", "stop_price"})
TERMINAL_STATUSES = frozenset(status.value for status in OrderStatus if not status.is_open)

# Decimal output is a JSON string (msgspec's default); a JSON number the server might send
# is decoded as Decimal so that no binary float ever enters a message.
_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(dict[str, Any], float_hook=Decimal)


class LoginError(Exception):
    """The server refused the login; ``code`` and ``message`` are the server's own."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


# --------------------------------------------------------------------------- messages


def sign_login(secret: str, ts_ms: int, nonce: str) -> str:
    """Hex HMAC-SHA256 of ``f"{ts_ms}:{nonce}:login"`` keyed with ``secret`` (docs/protocol.md, Login)."""
    payload = f"{ts_ms}:{nonce}:login".encode()
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def login_message(key: str, secret: str, ts_ms: int | None = None, nonce: str | None = None) -> Message:
    """A signed ``login`` op without ``id``; a fresh nonce and the current time unless given."""
    ts_ms = time.time_ns() // 1_000_000 if ts_ms is None else ts_ms
    nonce = secrets.token_hex(16) if nonce is None else nonce
    return {"op": "login", "key": key, "ts": ts_ms, "nonce": nonce, "sig": sign_login(secret, ts_ms, nonce)}


def decimal_text(value: DecimalArg) -> str:
    """The wire form of a decimal argument.

    ``str`` passes unchanged (the server is the one that validates it, so tests can send
    malformed values); ``int`` and finite ``Decimal`` are written in plain notation
    (``Decimal("1E+2")`` -> ``"100"``). ``float`` and ``bool`` raise ``TypeError``.
    """
    if isinstance(value, (bool, float)) or not isinstance(value, (str, int, Decimal)):
        raise TypeError(f"decimal values must be str, int or Decimal, not {type(value).__name__}")
    if isinstance(value, str):
        return value
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValueError(f"not a finite decimal: {value}")
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def with_decimal_text(fields: Mapping[str, Any]) -> Message:
    """A copy of ``fields`` without ``None`` values and with its decimal fields as strings."""
    return {name: decimal_text(value) if name in DECIMAL_FIELDS else value for name, value in fields.items() if value is not None}


def order_fields(
    account: str,
    client_order_id: str,
    symbol: str,
    side: str,
    type: str = "market",  # the protocol's field name
    qty: DecimalArg | None = None,
    notional: DecimalArg | None = None,
    price: DecimalArg | None = None,
    stop_price: DecimalArg | None = None,
    tif: str = "day",
) -> Message:
    """One order's fields as sent in ``new_order`` or in the ``orders`` of ``new_orders``.

    Arguments left ``None`` are omitted. No business validation here (one of qty/notional,
    price for limit types...): that is the server's job and its answer is the reply.
    """
    return with_decimal_text(
        {
            "account": account,
            "client_order_id": client_order_id,
            "symbol": symbol,
            "side": side,
            "type": type,
            "qty": qty,
            "notional": notional,
            "price": price,
            "stop_price": stop_price,
            "tif": tif,
        }
    )


def is_failure(message: Message) -> bool:
    """True for an ``error``, a rejected order's execution report, or any reply with ``ok: false``."""
    kind = message.get("type")
    if kind == "error" or message.get("ok") is False:
        return True
    if kind == "execution":
        return message.get("exec_type") == "rejected" or message.get("status") == "rejected"
    return kind == "login" and message.get("ok") is not True


def align_replies(orders: Sequence[Mapping[str, Any]], replies: list[Message]) -> list[Message]:
    """``replies`` reordered so that ``result[i]`` answers ``orders[i]`` where that can be told.

    A reply belongs to the first unanswered order with its ``account`` and
    ``client_order_id``; replies that name no order (e.g. an ``error``) fill the remaining
    places in arrival order. Replies beyond the orders are appended.
    """
    slots: list[Message | None] = [None] * len(orders)
    unplaced: list[Message] = []
    for reply in replies:
        index = _free_slot_for(reply, orders, slots)
        if index is None:
            unplaced.append(reply)
        else:
            slots[index] = reply
    leftovers = iter(unplaced)
    aligned = [slot if slot is not None else next(leftovers, None) for slot in slots]
    return [reply for reply in aligned if reply is not None] + list(leftovers)


def _free_slot_for(reply: Message, orders: Sequence[Mapping[str, Any]], slots: list[Message | None]) -> int | None:
    for index, order in enumerate(orders):
        if slots[index] is None and _same_order(reply, order):
            return index
    return None


def _same_order(reply: Mapping[str, Any], order: Mapping[str, Any]) -> bool:
    coid = reply.get("client_order_id")
    account = reply.get("account")  # per-order errors name the order but not its account
    return coid is not None and coid == order.get("client_order_id") and (account is None or account == order.get("account"))


# --------------------------------------------------------------------------- client


class _Pending:
    """The replies of one request id: ``expected`` of them, one per order of the frame.

    A later execution report of an order already answered (same account, client_order_id
    and order_id) carries the same id but is not a reply, so it is not counted. An
    ``error`` naming no ``client_order_id`` answers the frame as a whole (rate limited,
    malformed...) and completes it at once.
    """

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.replies: list[Message] = []
        self.answered_orders: set[tuple[Any, Any, Any]] = set()
        self.future: asyncio.Future[list[Message]] = asyncio.get_running_loop().create_future()

    def offer(self, message: Message) -> None:
        if self.future.done() or not self._is_reply(message):
            return
        self.replies.append(message)
        if len(self.replies) >= self.expected or _answers_whole_frame(message):
            self.future.set_result(self.replies)

    def _is_reply(self, message: Message) -> bool:
        if message.get("type") != "execution":
            return True
        order = (message.get("account"), message.get("client_order_id"), message.get("order_id"))
        if order in self.answered_orders:
            return False
        self.answered_orders.add(order)
        return True


def _answers_whole_frame(message: Message) -> bool:
    return message.get("type") == "error" and message.get("client_order_id") is None


class _Waiter:
    """One ``wait_for`` call that is waiting for a message still to come."""

    def __init__(self, predicate: Predicate) -> None:
        self.predicate = predicate
        self.future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()

    def offer(self, message: Message) -> None:
        if self.future.done():
            return
        try:
            matched = self.predicate(message)
        except Exception as exc:
            self.future.set_exception(exc)
            return
        if matched:
            self.future.set_result(message)


class BrokerClient:
    """One logged-in WebSocket connection to brokerd.

    Guarantees:

    * Every server message is, in arrival order, appended to ``history`` (unbounded, kept
      for the life of the client), put on the ``events()`` queue (unbounded, so a slow
      consumer never stalls reply matching; an unread queue grows), matched to the request
      waiting for its ``id``, and offered to ``wait_for`` callers -- all before the next
      message is read.
    * Request ids are this client's own increasing integers starting at 1 (the login is 1).
    * When the connection ends, for whatever reason, every waiting request and
      ``wait_for`` fails with ``ConnectionError``, later calls fail at once, and
      ``events()`` ends after yielding what was received.
    * Error replies and rejections are returned as messages, not raised: they are answers.
      Only ``LoginError``, ``ConnectionError``, ``TimeoutError`` and argument errors raise.
    """

    def __init__(self, url: str, key: str, secret: str, *, keep: bool = True, **connect_options: Any) -> None:
        """``connect_options`` go to ``websockets.asyncio.client.connect`` (e.g. ``max_size``).
        ``keep=False`` keeps nothing: messages are only matched to requests and ``wait_for``
        callers, never stored in ``history`` or queued for ``events()`` (a bulk submitter
        sending millions of orders would otherwise hold every report in memory)."""
        self.url = url
        self.keep = keep
        self.role: str | None = None
        self.accounts: tuple[str, ...] = ()
        self.history: list[Message] = []
        self._key = key
        self._secret = secret
        self._connect_options = connect_options
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._waiters: list[_Waiter] = []
        self._events: asyncio.Queue[Message | None] = asyncio.Queue()
        self._websocket: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._close_reason: str | None = None

    # ---- lifecycle

    @classmethod
    async def connect(cls, url: str, key: str, secret: str, *, keep: bool = True, **connect_options: Any) -> BrokerClient:
        """A connected, logged-in client; raises ``LoginError`` if the server refuses."""
        client = cls(url, key, secret, keep=keep, **connect_options)
        await client.open()
        return client

    async def open(self) -> None:
        """Connect and log in. On any failure the connection is closed before raising."""
        if self._websocket is not None:
            raise RuntimeError("this client was already opened")
        self._websocket = await websocket_connect(self.url, **self._connect_options)
        self._reader = asyncio.create_task(self._read_loop(), name=f"brokerd-client-reader {self.url}")
        try:
            await self._login()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Close the connection and wait for the reader to finish. Idempotent."""
        if self._websocket is not None:
            await self._websocket.close()
        if self._reader is not None:
            await self._reader

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def closed(self) -> bool:
        """True once the connection has ended (the reader has stopped)."""
        return self._close_reason is not None

    async def _login(self) -> None:
        reply = await self.request(login_message(self._key, self._secret))
        if reply.get("type") != "login" or reply.get("ok") is not True:
            raise LoginError(str(reply.get("code", "login_refused")), str(reply.get("message", "")))
        self.role = reply.get("role")
        self.accounts = tuple(reply.get("accounts") or ())

    # ---- requests

    async def request(self, message: Mapping[str, Any], timeout: float | None = None) -> Message:
        """Send ``message`` under a fresh ``id`` (any ``id`` in it is replaced) and return the
        first server message carrying that id, whatever its type. The message is sent as is:
        no float check here, so tests can send what a careless client would."""
        (reply,) = await self._exchange(message, 1, timeout)
        return reply

    async def request_many(self, message: Mapping[str, Any], timeout: float | None = None) -> list[Message]:
        """Send a frame with an ``orders`` list and return one reply per order.

        Resolves when ``len(orders)`` replies with the frame's id have arrived, or at once
        with the replies so far plus the error when an ``error`` without ``client_order_id``
        answers the whole frame; a later report of an already answered order is not a reply.
        Result order: see ``align_replies``.
        """
        orders = message.get("orders")
        if not isinstance(orders, list):
            raise TypeError("request_many needs a message with an 'orders' list")
        replies = await self._exchange(message, max(1, len(orders)), timeout)
        return align_replies(orders, replies)

    async def _exchange(self, message: Mapping[str, Any], expected: int, timeout: float | None) -> list[Message]:
        websocket = self._require_open()
        request_id = next(self._ids)
        pending = self._pending[request_id] = _Pending(expected)
        try:
            await websocket.send(_ENCODER.encode({**message, "id": request_id}), text=True)
            async with asyncio.timeout(timeout):
                return await pending.future
        except ConnectionClosed as exc:
            raise ConnectionError(f"connection closed while sending: {exc}") from exc
        finally:
            del self._pending[request_id]
            _settle_quietly(pending.future)

    def _require_open(self) -> ClientConnection:
        if self._close_reason is not None:
            raise ConnectionError(self._close_reason)
        if self._websocket is None:
            raise ConnectionError("not connected: call open() or connect() first")
        return self._websocket

    # ---- convenience requests (each returns the reply message)

    async def new_order(
        self,
        account: str,
        client_order_id: str,
        symbol: str,
        side: str,
        type: str = "market",  # the protocol's field name
        qty: DecimalArg | None = None,
        notional: DecimalArg | None = None,
        price: DecimalArg | None = None,
        stop_price: DecimalArg | None = None,
        tif: str = "day",
        *,
        timeout: float | None = None,
    ) -> Message:
        """The order's first execution report (or an ``error``). ``TypeError`` on a float."""
        fields = order_fields(account, client_order_id, symbol, side, type, qty, notional, price, stop_price, tif)
        return await self.request({"op": "new_order", **fields}, timeout)

    async def new_orders(self, orders: Sequence[Mapping[str, Any]], *, timeout: float | None = None) -> list[Message]:
        """One reply per order, ``result[i]`` for ``orders[i]`` (see ``request_many``).
        Decimal fields may be str, int or Decimal; ``TypeError`` on a float, before sending."""
        return await self.request_many({"op": "new_orders", "orders": [with_decimal_text(o) for o in orders]}, timeout)

    async def cancel_order(self, account: str, client_order_id: str, *, timeout: float | None = None) -> Message:
        return await self.request({"op": "cancel_order", "account": account, "client_order_id": client_order_id}, timeout)

    async def replace_order(
        self,
        account: str,
        client_order_id: str,
        new_client_order_id: str,
        qty: DecimalArg | None = None,
        price: DecimalArg | None = None,
        stop_price: DecimalArg | None = None,
        *,
        timeout: float | None = None,
    ) -> Message:
        """Fields left ``None`` are omitted (kept as they are on the order). ``TypeError`` on a float."""
        fields = {
            "account": account,
            "client_order_id": client_order_id,
            "new_client_order_id": new_client_order_id,
            "qty": qty,
            "price": price,
            "stop_price": stop_price,
        }
        return await self.request({"op": "replace_order", **with_decimal_text(fields)}, timeout)

    async def cancel_all(self, account: str, symbol: str | None = None, *, timeout: float | None = None) -> Message:
        message: Message = {"op": "cancel_all", "account": account}
        if symbol is not None:
            message["symbol"] = symbol
        return await self.request(message, timeout)

    async def get_orders(self, account: str, open_only: bool = False, *, limit: int | None = None, timeout: float | None = None) -> Message:
        """Every order of the account (or its open ones), however many pages the server
        answers in: one ``orders`` message holding them all, in the server's order, with
        ``next_cursor`` null; or the first error, as it came. ``limit`` is the page size
        (the server's default when ``None``); ``timeout`` applies to each page."""
        orders: list[Message] = []
        cursor: str | None = None
        while True:
            page = await self.get_orders_page(account, open_only, cursor=cursor, limit=limit, timeout=timeout)
            if page.get("type") != "orders":
                return page
            orders.extend(page.get("orders") or ())
            cursor = page.get("next_cursor")
            if cursor is None:
                return {**page, "orders": orders}

    async def get_orders_page(
        self,
        account: str,
        open_only: bool = False,
        *,
        cursor: str | None = None,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> Message:
        """One page of ``get_orders``: the reply as it came (its ``next_cursor`` asks for the next)."""
        message: Message = {"op": "get_orders", "account": account}
        if open_only:
            message["open_only"] = True
        if cursor is not None:
            message["cursor"] = cursor
        if limit is not None:
            message["limit"] = limit
        return await self.request(message, timeout)

    async def get_account(self, account: str, *, timeout: float | None = None) -> Message:
        return await self.request({"op": "get_account", "account": account}, timeout)

    async def subscribe(self, channels: Sequence[str], *, timeout: float | None = None) -> Message:
        return await self.request({"op": "subscribe", "channels": list(channels)}, timeout)

    # ---- events

    async def events(self) -> AsyncIterator[Message]:
        """Every server message in arrival order, from the login reply on.

        One queue: each message goes to exactly one of the iterators reading it. Ends once
        the connection has closed and everything received has been yielded.
        """
        while True:
            message = await self._events.get()
            if message is None:
                self._events.put_nowait(None)  # so that any other iterator ends too
                return
            yield message

    async def wait_for(self, predicate: Predicate, timeout: float | None = None, since: int = 0) -> Message:
        """The first message from position ``since`` of ``history`` on that matches ``predicate``.

        Buffered by default: ``since=0`` looks at everything received so far before waiting;
        ``since=len(client.history)`` means "from now on". Raises ``TimeoutError``, or
        ``ConnectionError`` if the connection ends first; the predicate's errors propagate.
        """
        for message in self.history[since:]:
            if predicate(message):
                return message
        if self._close_reason is not None:
            raise ConnectionError(self._close_reason)
        waiter = _Waiter(predicate)
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                return await waiter.future
        finally:
            self._waiters.remove(waiter)
            _settle_quietly(waiter.future)

    # ---- reader

    async def _read_loop(self) -> None:
        assert self._websocket is not None
        websocket = self._websocket
        reason = "connection closed"
        try:
            async for frame in websocket:
                self._dispatch(_DECODER.decode(frame))
            reason = f"connection closed (code {websocket.close_code}, reason {websocket.close_reason!r})"
        except ConnectionClosed as exc:
            reason = f"connection lost: {exc}"
        except msgspec.DecodeError as exc:
            reason = f"server sent a frame that is not a JSON object: {exc}"
            await websocket.close(code=1002, reason="frame is not a JSON object")
        except Exception as exc:  # a bug here: end the connection loudly rather than hang
            reason = f"client reader failed: {exc!r}"
            await websocket.close(code=1011, reason="client error")
            raise
        finally:
            self._shut_down(reason)

    def _dispatch(self, message: Message) -> None:
        if self.keep:
            self.history.append(message)
            self._events.put_nowait(message)
        request_id = _request_id(message)
        if request_id is not None and request_id in self._pending:
            self._pending[request_id].offer(message)
        for waiter in list(self._waiters):
            waiter.offer(message)

    def _shut_down(self, reason: str) -> None:
        if self._close_reason is not None:
            return
        self._close_reason = reason
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_exception(ConnectionError(reason))
        for waiter in self._waiters:
            if not waiter.future.done():
                waiter.future.set_exception(ConnectionError(reason))
        self._events.put_nowait(None)


def _request_id(message: Message) -> int | None:
    """The message's ``id`` if it can be one of ours (an int; JSON ``true`` is not)."""
    request_id = message.get("id")
    return request_id if isinstance(request_id, int) and not isinstance(request_id, bool) else None


def _settle_quietly(future: asyncio.Future[Any]) -> None:
    """Cancel an abandoned future, or mark its exception seen, so asyncio does not log it."""
    if not future.done():
        future.cancel()
    elif not future.cancelled():
        future.exception()


# --------------------------------------------------------------------------- command line

DEFAULT_URL = "ws://127.0.0.1:8765"
DEFAULT_KEY = "trader1"
DEFAULT_SECRET = "trader1-secret"
DEFAULT_REPLY_TIMEOUT_SECONDS = 10.0
EXIT_OK = 0
EXIT_SERVER_SAID_NO = 1
EXIT_CLIENT_FAILED = 3


def build_parser(environ: Mapping[str, str] = os.environ) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m server.client", description="brokerd WebSocket client")
    parser.add_argument("--url", default=environ.get("BROKERD_URL", DEFAULT_URL))
    parser.add_argument("--key", default=environ.get("BROKERD_KEY", DEFAULT_KEY))
    parser.add_argument("--secret", default=environ.get("BROKERD_SECRET", DEFAULT_SECRET))
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
    watch = commands.add_parser("watch", help="stream executions (and quotes)")
    watch.add_argument("--quotes", nargs="+", default=[], metavar="SYMBOL")
    watch.add_argument("--seconds", type=float, default=None, help="stop after this long (default: never)")
    return parser


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
        async with BrokerClient(args.url, args.key, args.secret) as client:
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


async def _watch_command(client: BrokerClient, args: argparse.Namespace, out: TextIO) -> int:
    """Print every message after the login reply (the subscribe reply included) until
    ``--seconds`` pass (exit 0) or the connection ends (exit 3)."""
    if args.quotes:
        reply = await client.subscribe(["executions", *(f"quotes:{symbol}" for symbol in args.quotes)], timeout=args.timeout)
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


_COMMANDS: dict[str, Callable[[BrokerClient, argparse.Namespace, TextIO], Awaitable[int]]] = {
    "order": _order_command,
    "cancel": _cancel_command,
    "orders": _orders_command,
    "account": _account_command,
    "watch": _watch_command,
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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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
