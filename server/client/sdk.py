"""Async client for the brokerd WebSocket API (docs/protocol.md)::

    async with BrokerClient("ws://127.0.0.1:8765", "trader1", "trader1-secret") as client:
        reply = await client.new_order("A1", "c-1", "IBM", "buy", qty="1")
        done = await client.wait_for(lambda m: m.get("status") == "filled", timeout=5)

The frames it sends are built in ``server/client/frames.py``; the trader command line
built on it is ``server/client/cli.py`` (``python -m server.client``).
"""

from __future__ import annotations

import asyncio
import itertools
import ssl
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Self

import msgspec
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as websocket_connect
from websockets.exceptions import ConnectionClosed

from server.client.frames import (
    DecimalArg,
    LotArg,
    Message,
    align_replies,
    decimal_text,
    is_failure,
    login_message,
    order_fields,
    with_decimal_text,
)

# the SDK's public names; the frame helpers are re-exported for callers of the SDK
__all__ = ["BrokerClient", "DecimalArg", "LoginError", "Message", "Predicate", "decimal_text", "is_failure", "login_message", "order_fields"]

Predicate = Callable[[Message], bool]

# Decimal output is a JSON string (msgspec's default); a JSON number the server might send
# is decoded as Decimal so that no binary float ever enters a message.
_ENCODER = msgspec.json.Encoder()
_DECODER = msgspec.json.Decoder(dict[str, Any] | list[dict[str, Any]], float_hook=Decimal)  # an array: a batching login's frame


class LoginError(Exception):
    """The server refused the login; ``code`` and ``message`` are the server's own."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


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


def client_context(url: str, ca_file: str | None = None) -> ssl.SSLContext | None:
    """The TLS context to reach ``url`` with: ``None`` for ``ws://``; for ``wss://``, one that
    verifies the server's certificate and host name against ``ca_file`` (a PEM bundle) or
    the system's trusted roots. ``ValueError`` for a CA file that cannot be used."""
    if not url.startswith("wss://"):
        if ca_file:
            raise ValueError(f"a CA file is for wss:// URLs, not {url}")
        return None
    try:
        return ssl.create_default_context(cafile=ca_file or None)
    except (OSError, ssl.SSLError) as error:
        raise ValueError(f"cannot use CA file {ca_file}: {getattr(error, 'strerror', None) or error}") from None


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

    def __init__(
        self,
        url: str,
        key: str,
        secret: str,
        *,
        keep: bool = True,
        ca_file: str | None = None,
        totp: str | None = None,
        batch: bool = False,
        **connect_options: Any,
    ) -> None:
        """``connect_options`` go to ``websockets.asyncio.client.connect`` (e.g. ``max_size``).
        ``keep=False`` keeps nothing: messages are only matched to requests and ``wait_for``
        callers, never stored in ``history`` or queued for ``events()`` (a bulk submitter
        sending millions of orders would otherwise hold every report in memory).
        A ``wss://`` URL is TLS: the server's certificate is verified against ``ca_file`` (a
        PEM bundle, e.g. a private CA's) or the system's trusted roots (``ValueError`` for a
        ``ca_file`` that cannot be read, or given with a ``ws://`` URL). ``totp``: the current
        code of the user's authenticator, for a login that needs a second factor. ``batch``:
        the login asks for the server's frames as JSON arrays of messages (many execution
        reports in one frame: cheaper to read at thousands a second); the messages are
        handled one by one, as if each had come alone."""
        if "ssl" not in connect_options:
            context = client_context(url, ca_file)
            if context is not None:
                connect_options["ssl"] = context
        self.url = url
        self.keep = keep
        self.role: str | None = None
        self.accounts: tuple[str, ...] = ()
        self.history: list[Message] = []
        self._key = key
        self._secret = secret
        self._totp = totp
        self._batch = batch
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
    async def connect(cls, url: str, key: str, secret: str, **options: Any) -> BrokerClient:
        """A connected, logged-in client (``options``: the constructor's keywords); raises
        ``LoginError`` if the server refuses."""
        client = cls(url, key, secret, **options)
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
        reply = await self.request(login_message(self._key, self._secret, totp=self._totp, batch=self._batch))
        if reply.get("type") != "login" or reply.get("ok") is not True:
            raise LoginError(str(reply.get("code", "login_refused")), str(reply.get("message", "")))
        self.role = reply.get("role")
        self.accounts = tuple(reply.get("accounts") or ())
        self.gateway: str | None = reply.get("gateway")  # the gateway that took the login (several gateways)

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
        lot_method: str | None = None,
        lots: Sequence[LotArg] | None = None,
        timeout: float | None = None,
    ) -> Message:
        """The order's first execution report (or an ``error``). ``TypeError`` on a float.
        ``lot_method`` (``fifo``, ``lifo``, ``hifo``, ``average``, ``specific``) and, for a
        sell, ``lots`` (``(lot_id, qty)`` pairs) choose the tax lots it closes."""
        fields = order_fields(
            account, client_order_id, symbol, side, type, qty, notional, price, stop_price, tif, lot_method=lot_method, lots=lots
        )
        return await self.request({"op": "new_order", **fields}, timeout)

    async def new_orders(self, orders: Sequence[Mapping[str, Any]], *, timeout: float | None = None) -> list[Message]:
        """One reply per order, ``result[i]`` for ``orders[i]`` (see ``request_many``).
        Decimal fields may be str, int or Decimal; ``TypeError`` on a float, before sending."""
        return await self.request_many({"op": "new_orders", "orders": [with_decimal_text(o) for o in orders]}, timeout)

    async def load_orders(self, csv_text: str, *, timeout: float | None = None) -> Message:
        """Upload a basket of orders as CSV text (the basket format of docs/open.md): one reply,
        ``orders_loaded`` with the summary once every order is in, or an ``error`` listing
        every bad row (nothing loaded)."""
        return await self.request({"op": "load_orders", "csv": csv_text}, timeout)

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

    async def get_lots(self, account: str, symbol: str | None = None, *, timeout: float | None = None) -> Message:
        """The account's open tax lots (of ``symbol`` only, when given), each with its mark
        and unrealized P&L: one ``lots`` reply, or an ``error``."""
        message = {"op": "get_lots", "account": account}
        if symbol is not None:
            message["symbol"] = symbol
        return await self.request(message, timeout)

    async def get_gains(self, account: str, start: str, end: str, *, limit: int | None = None, timeout: float | None = None) -> Message:
        """Every closed lot sold on the local dates ``start`` to ``end`` (``YYYY-MM-DD``, both
        included), however many pages the server answers in: one ``gains`` message holding
        them all, in the order booked, with the totals of the range and ``next_cursor``
        null; or the first error, as it came. ``limit`` is the page size (the server's
        default when ``None``); ``timeout`` applies to each page."""
        gains: list[Message] = []
        cursor: int | None = None
        while True:
            page = await self.get_gains_page(account, start, end, cursor=cursor, limit=limit, timeout=timeout)
            if page.get("type") != "gains":
                return page
            gains.extend(page.get("gains") or ())
            cursor = page.get("next_cursor")
            if cursor is None:
                return {**page, "gains": gains}

    async def get_gains_page(
        self, account: str, start: str, end: str, *, cursor: int | None = None, limit: int | None = None, timeout: float | None = None
    ) -> Message:
        """One page of ``get_gains``: the reply as it came (its ``next_cursor`` asks for the next)."""
        message: Message = {"op": "get_gains", "account": account, "from": start, "to": end}
        if cursor is not None:
            message["cursor"] = cursor
        if limit is not None:
            message["limit"] = limit
        return await self.request(message, timeout)

    async def deposit(self, account: str, amount: str, idempotency_key: str, *, timeout: float | None = None) -> Message:
        """Ask to move ``amount`` into ``account`` (pending until a cashier settles it)."""
        message = {"op": "deposit", "account": account, "amount": amount, "idempotency_key": idempotency_key}
        return await self.request(message, timeout)

    async def withdrawal(self, account: str, amount: str, idempotency_key: str, *, totp: str | None = None, timeout: float | None = None) -> Message:
        """Ask to move ``amount`` out of ``account``: held at once, paid out when settled."""
        message: dict[str, Any] = {"op": "withdrawal", "account": account, "amount": amount, "idempotency_key": idempotency_key}
        if totp is not None:
            message["totp"] = totp
        return await self.request(message, timeout)

    async def journal(
        self,
        entries: Sequence[tuple[str, str, str] | Mapping[str, Any]],
        idempotency_key: str,
        *,
        totp: str | None = None,
        timeout: float | None = None,
    ) -> Message:
        """Move cash or shares between accounts at once, all or nothing: ``entries`` of
        ``(from, to, amount)`` for cash, or mappings of the op's fields (``{"from", "to",
        "symbol", "qty"}`` and optionally ``"lots"`` for shares)."""
        message: dict[str, Any] = {"op": "journal", "idempotency_key": idempotency_key}
        fields = [dict(entry) if isinstance(entry, Mapping) else {"from": entry[0], "to": entry[1], "amount": entry[2]} for entry in entries]
        if len(fields) == 1:
            message.update(fields[0])
        else:
            message["entries"] = fields
        if totp is not None:
            message["totp"] = totp
        return await self.request(message, timeout)

    async def get_transfers(self, account: str, status: str | None = None, *, timeout: float | None = None) -> Message:
        message = {"op": "get_transfers", "account": account}
        if status is not None:
            message["status"] = status
        return await self.request(message, timeout)

    async def get_statement(self, account: str, first: str, last: str, *, timeout: float | None = None) -> Message:
        """The account's statement for the local dates ``first`` to ``last`` (``YYYY-MM-DD``,
        docs/books.md). One frame: a long statement (thousands of entries) is larger than
        websockets' default 1 MiB frame limit, so connect with a larger ``max_size`` to ask for one."""
        return await self.request({"op": "get_statement", "account": account, "from": first, "to": last}, timeout)

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
                decoded = _DECODER.decode(frame)
                if isinstance(decoded, list):  # a batching login's frame: the messages in order
                    for message in decoded:
                        self._dispatch(message)
                else:
                    self._dispatch(decoded)
            reason = f"connection closed (code {websocket.close_code}, reason {websocket.close_reason!r})"
        except ConnectionClosed as exc:
            reason = f"connection lost: {exc}"
        except msgspec.DecodeError as exc:
            reason = f"server sent a frame that is neither a JSON object nor an array of them: {exc}"
            await websocket.close(code=1002, reason="frame is not a JSON object or array of them")
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
