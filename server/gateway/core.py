"""The trader-facing WebSocket server: login, authorisation, decoding, rate limits, fan-out.

It holds only soft state (connections, subscriptions, the last quote per symbol): a client
that reconnects resynchronises by querying. Requests become commands for the owning
AccountShard through a batched ``Outbox``; answers come back as batches through
``on_batch`` and go to the connection that asked (with its ``id``) and, for executions, to
every other connection of the account's users.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
import traceback
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

import structlog
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from actors.runtime.inbox import Inbox
from actors.runtime.outbox import Outbox
from actors.runtime.outputs import ACCOUNT, Send
from model.config import Setup, User
from model.messages import (
    AccountReply,
    CancelAll,
    CancelAllDone,
    CancelOrder,
    ExecutionReport,
    Message,
    OrdersReply,
    QueryAccount,
    QueryOrders,
    QuoteEvent,
    Reply,
    ReportToAsker,
    RequestRejected,
    decode_batch,
)
from server.gateway import protocol
from server.gateway.admission import ConnectionCaps, login_throttle
from server.gateway.auth import Authenticator, LoginRefused
from server.gateway.protocol import (
    AdminRequest,
    CancelAllRequest,
    CancelOrderRequest,
    GetAccountRequest,
    GetOrdersRequest,
    Login,
    NewOrderRequest,
    NewOrdersRequest,
    ProtocolError,
    ReplaceOrderRequest,
    Request,
    SubscribeRequest,
)
from server.gateway.ratelimit import TokenBucket
from server.gateway.validation import Invalid, check_client_order_id, orders_page, to_new_order, to_replace
from server.gateway.wsio import write_frames

log = structlog.get_logger("gateway")

AdminHandler = Callable[[str, list[str]], Awaitable[dict[str, Any]]]


class Connection:
    """One client connection: who it is, what it may touch, and its outgoing queue."""

    def __init__(
        self,
        conn_id: int,
        socket: ServerConnection,
        bucket: TokenBucket,
        max_pending: int,
        max_pending_bytes: int | None = None,
        address: str = "",
    ) -> None:
        self.conn_id = conn_id
        self.socket = socket
        self.bucket = bucket
        self.max_pending = max_pending
        self.max_pending_bytes = max_pending_bytes
        self.address = address
        self.dropped = False
        self.closing: asyncio.Task[None] | None = None
        self.user: User | None = None
        self.accounts: frozenset[str] = frozenset()
        self.quotes: set[str] = set()
        self.outgoing: list[bytes] = []
        self.pending_bytes = 0
        self.wake = asyncio.Event()
        self.in_flight = 0  # requests sent to the shards and not answered yet
        self.held: deque[tuple[str, Message]] = deque()  # checked commands waiting for room in flight
        self.answered = asyncio.Event()  # set whenever one of them is answered
        self.work = 0  # orders and requests handled since the connection last yielded the loop

    def send(self, frame: bytes) -> None:
        """Queue a frame. A client that lets ``max_pending`` frames or ``max_pending_bytes``
        bytes pile up is disconnected (close code 1008) rather than let the gateway's memory
        grow without bound; it resynchronises by querying when it reconnects."""
        if self.dropped:
            return
        too_many = len(self.outgoing) >= self.max_pending
        if too_many or (self.max_pending_bytes is not None and self.pending_bytes + len(frame) > self.max_pending_bytes):
            log.warning("slow consumer disconnected", conn=self.conn_id, pending=len(self.outgoing), pending_bytes=self.pending_bytes)
            self.close(1008, "too many unread messages")
            return
        self.outgoing.append(frame)
        self.pending_bytes += len(frame)
        if len(self.outgoing) == 1:
            self.wake.set()

    def close(self, code: int, reason: str) -> None:
        """Close with ``code`` and ``reason``; nothing more is sent. (The task is kept: the
        loop holds only a weak reference to it.)"""
        if self.dropped:
            return
        self.dropped = True
        self.closing = asyncio.get_running_loop().create_task(self.socket.close(code, reason))


class Gateway:
    """Serves the WebSocket API (docs/protocol.md). Every request is answered: an
    ``error``, a reply, or the first execution report of the order it created; nothing a
    client sends can change state without passing decoding, authorisation and validation
    first."""

    def __init__(self, name: str, setup: Setup, outbox: Outbox, admin: AdminHandler | None = None, since: int = 0) -> None:
        self.name = name
        self.since = since  # events made before this gateway started are for connections it never had
        self.config = setup.config
        self.max_id_length = setup.config.risk.max_client_order_id_length
        self.instruments = {instrument.symbol: instrument for instrument in setup.instruments}
        self.all_accounts = frozenset(seed.account for seed in setup.accounts)
        self.groups: dict[str, set[str]] = {}  # group → its accounts (an advisor trades for whole groups)
        for seed in setup.accounts:
            if seed.group:
                self.groups.setdefault(seed.group, set()).add(seed.account)
        self.auth = Authenticator(setup.users, setup.config.gateway.login_window_ms)
        self.throttle = login_throttle(setup.config.gateway)
        self.caps = ConnectionCaps(setup.config.gateway.max_connections_per_address, setup.config.gateway.max_connections_per_user)
        self.outbox = outbox
        self.admin = admin
        self.inbox = Inbox(soft=True)
        self.connections: dict[int, Connection] = {}
        self.account_connections: dict[str, set[int]] = {}
        self.firehose: set[int] = set()  # admin connections subscribed to every account's executions
        self.quote_connections: dict[str, set[int]] = {}
        self.last_quotes: dict[str, bytes] = {}
        self.ids = itertools.count(max(since, 1))  # ids never repeat across restarts
        self.server: Server | None = None
        self.requests = 0

    # --- server lifecycle -----------------------------------------------------------------------

    async def start(self, host: str, port: int) -> int:
        """Listen; returns the bound port (useful with port 0)."""
        self.server = await serve(
            self._serve,
            host,
            port,
            max_size=self.config.gateway.max_frame_bytes,
            compression=None,
            max_queue=64,
        )
        return int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _serve(self, socket: ServerConnection) -> None:
        gateway = self.config.gateway
        address = str(socket.remote_address[0]) if socket.remote_address else ""
        if not self.caps.admit_address(address):
            log.warning("connection refused", address=address, reason="too many connections from this address")
            await socket.close(1013, "too many connections from this address")
            return
        bucket = TokenBucket(gateway.rate_limit_per_s, gateway.rate_limit_burst)
        conn = Connection(
            next(self.ids), socket, bucket, gateway.max_pending_per_connection, gateway.max_pending_bytes_per_connection, address
        )
        self.connections[conn.conn_id] = conn
        loop = asyncio.get_running_loop()
        writer = loop.create_task(self._write(conn))
        deadline = loop.call_later(gateway.login_deadline_ms / 1000, self._login_deadline, conn)
        try:
            async for frame in socket:
                self._on_frame_guarded(conn, frame)
                await self._pace(conn)
        except ConnectionClosed:
            pass
        finally:
            deadline.cancel()
            writer.cancel()
            self._forget(conn)

    async def _pace(self, conn: Connection) -> None:
        """Fairness between connections, checked after each frame. A connection's commands
        beyond ``max_in_flight_per_connection`` unanswered by the shards are held here and
        sent as answers come back (``_to_shard``), and while it has commands held the
        connection is not read: what it sends meanwhile waits in its own socket buffers (TCP
        pushes back on the client), not in the shards' queues ahead of every other client's
        requests. A connection that has handled ``orders_per_turn`` orders in a row yields
        the event loop, so the frames of a bulk sender (which websockets hands over without
        yielding while they are buffered) cannot keep other sockets unread."""
        gateway = self.config.gateway
        if conn.held or conn.in_flight >= gateway.max_in_flight_per_connection:
            closed = asyncio.ensure_future(conn.socket.wait_closed())
            try:
                while (conn.held or conn.in_flight >= gateway.max_in_flight_per_connection) and not closed.done():
                    conn.answered.clear()
                    answered = asyncio.ensure_future(conn.answered.wait())
                    await asyncio.wait((answered, closed), return_when=asyncio.FIRST_COMPLETED)
                    answered.cancel()
            finally:
                closed.cancel()
            conn.work = 0
        elif conn.work >= gateway.orders_per_turn:
            conn.work = 0
            await asyncio.sleep(0)

    def _login_deadline(self, conn: Connection) -> None:
        if conn.user is None and not conn.dropped:
            seconds = self.config.gateway.login_deadline_ms / 1000
            log.info("login deadline passed", conn=conn.conn_id, address=conn.address)
            conn.close(1008, f"no login within {seconds:g} s")

    async def _write(self, conn: Connection) -> None:
        """Everything queued for the connection goes out in one write, in order."""
        try:
            while True:
                await conn.wake.wait()
                conn.wake.clear()
                frames, conn.outgoing, conn.pending_bytes = conn.outgoing, [], 0
                if frames:
                    await write_frames(conn.socket, frames)
        except (ConnectionClosed, ConnectionError):
            pass  # the reader sees the same close and forgets the connection

    def _forget(self, conn: Connection) -> None:
        self.connections.pop(conn.conn_id, None)
        while conn.held:  # read and checked before the connection went: sent, as if in flight
            account, command = conn.held.popleft()
            self.outbox.post((Send(ACCOUNT, account, command),))
        self.caps.release_address(conn.address)
        if conn.user is not None:
            self.caps.release_user(conn.user.key)
        self.throttle.forget(("connection", conn.conn_id))
        for account in conn.accounts:
            self.account_connections.get(account, set()).discard(conn.conn_id)
        self.firehose.discard(conn.conn_id)
        for symbol in conn.quotes:
            self.quote_connections.get(symbol, set()).discard(conn.conn_id)

    # --- client → server ------------------------------------------------------------------------

    def _on_frame_guarded(self, conn: Connection, frame: str | bytes) -> None:
        """``on_frame``, with a last resort: a failure no check foresaw answers the frame
        ``invalid_request`` and is logged on one line (what and where, no traceback), and the
        connection carries on. Every input known to fail is refused before this is reached.
        A connection being closed (slow reader, login deadline) has nothing more done for it."""
        if conn.dropped:
            return
        try:
            self.on_frame(conn, frame)
        except Exception as failure:
            trace = traceback.extract_tb(failure.__traceback__)[-1:]
            where = f"{trace[0].filename}:{trace[0].lineno}" if trace else ""
            log.error("request failed", conn=conn.conn_id, error=repr(failure)[:300], where=where)
            conn.send(protocol.error("invalid_request", "the request could not be processed"))

    def on_frame(self, conn: Connection, frame: str | bytes) -> None:
        self.requests += 1
        try:
            request = protocol.decode_request(frame)
        except ProtocolError as error:
            conn.work += 1
            conn.send(protocol.error("invalid_request", str(error), error.request_id))
            return
        request_id = bytes(request.id)
        cost = len(request.orders) if isinstance(request, NewOrdersRequest) else 1
        conn.work += cost
        if isinstance(request, Login):
            self._login(conn, request, request_id)
            return
        if conn.user is None:
            conn.send(protocol.error("not_authenticated", "log in first", request_id))
            return
        if not conn.bucket.take(cost, time.monotonic_ns()):
            conn.send(protocol.error("rate_limited", f"more than {self.config.gateway.rate_limit_per_s} requests/s", request_id))
            return
        reply = Reply(self.name, conn.conn_id, request_id)
        try:
            self._dispatch(conn, request, reply)
        except Invalid as invalid:
            conn.send(protocol.error(invalid.code, str(invalid), request_id))

    def _dispatch(self, conn: Connection, request: Request, reply: Reply) -> None:
        if isinstance(request, NewOrderRequest):
            self._new_orders(conn, [request.fields()], reply)
        elif isinstance(request, NewOrdersRequest):
            if not 0 < len(request.orders) <= self.config.gateway.max_orders_per_frame:
                raise Invalid("invalid_request", f"orders must hold 1 to {self.config.gateway.max_orders_per_frame} orders")
            self._new_orders(conn, request.orders, reply)
        elif isinstance(request, CancelOrderRequest):
            self._authorise(conn, request.account)
            check_client_order_id(request.client_order_id, self.max_id_length)
            self._to_shard(request.account, CancelOrder(request.account, request.client_order_id, reply))
        elif isinstance(request, ReplaceOrderRequest):
            self._authorise(conn, request.account)
            self._to_shard(request.account, to_replace(request, reply, self.max_id_length))
        elif isinstance(request, CancelAllRequest):
            self._authorise(conn, request.account)
            if request.symbol is not None and request.symbol not in self.instruments:
                raise Invalid("unknown_symbol", f"unknown symbol {request.symbol!r}")
            self._to_shard(request.account, CancelAll(request.account, request.symbol, reply))
        elif isinstance(request, GetOrdersRequest):
            self._authorise(conn, request.account)
            cursor, limit = orders_page(request, self.config.queries, self.max_id_length)
            self._to_shard(request.account, QueryOrders(request.account, request.open_only, reply, cursor, limit))
        elif isinstance(request, GetAccountRequest):
            self._authorise(conn, request.account)
            self._to_shard(request.account, QueryAccount(request.account, reply))
        elif isinstance(request, SubscribeRequest):
            self._subscribe(conn, request.channels, reply)
        elif isinstance(request, AdminRequest):
            self._admin(conn, request, reply)

    def _login(self, conn: Connection, request: Login, request_id: bytes) -> None:
        if conn.user is not None:
            conn.send(protocol.error("invalid_request", "already logged in", request_id))
            return
        gateway = self.config.gateway
        keys: list[tuple[Hashable, int]] = [
            (("connection", conn.conn_id), gateway.login_failures_per_connection),
            (("address", conn.address), gateway.login_failures_per_address),
        ]
        if request.key in self.auth.users:  # unknown keys are not remembered: they cannot fill the table
            keys.append((("user", request.key), gateway.login_failures_per_user))
        now_ms = time.monotonic_ns() // 1_000_000
        wait_ms = self.throttle.retry_after_ms((key for key, _ in keys), now_ms)
        if wait_ms > 0:  # refused unchecked: no signature is computed and nothing is counted
            message = f"too many failed logins; retry in {math.ceil(wait_ms / 1000)} s"
            conn.send(protocol.encode({"type": "error", "code": "rate_limited", "message": message, "retry_after_ms": wait_ms}, request_id))
            return
        try:
            user = self.auth.login(request.key, request.ts, request.nonce, request.sig, time.time_ns() // 1_000_000)
        except LoginRefused as refused:
            self.throttle.failed(keys, now_ms)
            log.info("login refused", conn=conn.conn_id, address=conn.address, key=request.key[:64], reason=str(refused))
            conn.send(protocol.error("not_authenticated", str(refused), request_id))
            return
        if not self.caps.admit_user(user.key):
            message = f"{user.key} already has {gateway.max_connections_per_user} connections; close one first"
            conn.send(protocol.error("too_many_connections", message, request_id))
            return
        self.throttle.forget(("connection", conn.conn_id))
        self.throttle.forget(("user", user.key))
        conn.user = user
        conn.accounts = self.all_accounts if user.role == "admin" else self.accounts_of(user)
        if user.role != "admin":  # an operator's connection gets every execution only when it subscribes
            for account in conn.accounts:
                self.account_connections.setdefault(account, set()).add(conn.conn_id)
        accounts = sorted(conn.accounts) if user.role != "admin" else []
        conn.send(protocol.encode({"type": "login", "ok": True, "role": user.role, "accounts": accounts}, request_id))
        log.info("login", user=user.key, role=user.role, conn=conn.conn_id)

    def add_accounts(self, accounts: list[tuple[str, str]]) -> None:
        """Accounts opened at run time (account, group): admins see them at once; a trader
        or advisor logging in after this gets those of its groups."""
        self.all_accounts = self.all_accounts | {account for account, _ in accounts}
        for account, group in accounts:
            if group:
                self.groups.setdefault(group, set()).add(account)

    def accounts_of(self, user: User) -> frozenset[str]:
        """The accounts a user trades for: those named, and every account of its groups."""
        accounts = set(user.accounts)
        for group in user.groups:
            accounts |= self.groups.get(group, set())
        return frozenset(accounts)

    def _authorise(self, conn: Connection, account: str) -> None:
        if account not in conn.accounts:
            raise Invalid("forbidden", f"account {account!r} is not yours")

    def _new_orders(self, conn: Connection, orders: list[protocol.OrderFields], reply: Reply) -> None:
        for fields in orders:
            try:
                self._authorise(conn, fields.account)
                command = to_new_order(fields, self.instruments, reply, self.max_id_length)
            except Invalid as invalid:
                conn.send(
                    protocol.encode(
                        {"type": "error", "code": invalid.code, "message": protocol.shorten(str(invalid), quote=False), "client_order_id": fields.client_order_id},
                        reply.request,
                    )
                )
                continue
            self._to_shard(fields.account, command)

    def _subscribe(self, conn: Connection, channels: list[str], reply: Reply) -> None:
        """Guarantees: a channel counts once however often it is named; a connection holds at
        most ``max_channels_per_connection`` channels; a refused frame changes nothing; the
        reply names each channel of the frame once, and only a newly subscribed symbol's
        latest quote is sent, so no frame is answered with more than the cap."""
        limit = self.config.gateway.max_channels_per_connection
        if len(channels) > limit:
            raise Invalid("invalid_request", f"channels must hold at most {limit} entries, not {len(channels)}")
        channels = list(dict.fromkeys(channels))  # deduplicated, in the order given
        firehose = False
        symbols = []
        for channel in channels:
            if channel == "executions":
                firehose = conn.user is not None and conn.user.role == "admin"
                continue
            kind, _, symbol = channel.partition(":")
            if kind != "quotes" or not symbol:
                raise Invalid("invalid_request", f"unknown channel {protocol.shorten(channel)}; use executions or quotes:SYMBOL")
            if symbol not in self.instruments:
                raise Invalid("unknown_symbol", f"unknown symbol {protocol.shorten(symbol)}")
            symbols.append(symbol)
        new = [symbol for symbol in symbols if symbol not in conn.quotes]
        held = len(conn.quotes) + (conn.conn_id in self.firehose)
        adding = len(new) + (firehose and conn.conn_id not in self.firehose)
        if held + adding > limit:
            raise Invalid("invalid_request", f"a connection may hold at most {limit} channels; this one holds {held}")
        if firehose:
            self.firehose.add(conn.conn_id)
        for symbol in new:
            conn.quotes.add(symbol)
            self.quote_connections.setdefault(symbol, set()).add(conn.conn_id)
        conn.send(protocol.encode({"type": "subscribed", "channels": channels}, reply.request))
        for symbol in new:
            if symbol in self.last_quotes:
                conn.send(self.last_quotes[symbol])

    def _admin(self, conn: Connection, request: AdminRequest, reply: Reply) -> None:
        assert conn.user is not None
        if conn.user.role != "admin":
            raise Invalid("forbidden", "admin commands need the admin role")
        if self.admin is None:
            raise Invalid("invalid_request", "this gateway has no admin service")
        asyncio.get_running_loop().create_task(self._run_admin(conn, request, reply.request))

    async def _run_admin(self, conn: Connection, request: AdminRequest, request_id: bytes) -> None:
        assert self.admin is not None
        try:
            result = await self.admin(request.command, list(request.args))
        except Exception as failure:  # the operator gets the reason, the gateway carries on
            cause = getattr(failure, "cause", None) or failure  # a Ray error wraps the supervisor's
            conn.send(protocol.error("admin_failed", str(cause), request_id))
            return
        conn.send(protocol.encode({"type": "admin", "ok": bool(result.get("ok", True)), "result": result}, request_id))

    def _to_shard(self, account: str, command: Message) -> None:
        """Send a client's command to its account's shard, unless the connection already has
        ``max_in_flight_per_connection`` unanswered there: then it waits, in order, behind
        the connection's other held commands (``_answered`` sends them)."""
        reply: Reply | None = getattr(command, "reply", None)  # every client command carries one
        conn = self.connections.get(reply.conn) if reply is not None else None
        if conn is not None:
            if conn.held or conn.in_flight >= self.config.gateway.max_in_flight_per_connection:
                conn.held.append((account, command))
                return
            conn.in_flight += 1  # the shard answers each command exactly once (``_answered``)
        self.outbox.post((Send(ACCOUNT, account, command),))

    def _answered(self, conn: Connection) -> None:
        """One of ``conn``'s commands has its answer: room for the next one held back."""
        conn.in_flight = max(0, conn.in_flight - 1)
        window = self.config.gateway.max_in_flight_per_connection
        while conn.held and conn.in_flight < window:
            account, command = conn.held.popleft()
            conn.in_flight += 1
            self.outbox.post((Send(ACCOUNT, account, command),))
        conn.answered.set()

    # --- actors → clients -----------------------------------------------------------------------

    def on_batch(self, data: bytes) -> tuple[str, int]:
        """Deliver a batch of events from the actors, in order per sender; returns the
        sender and the seq to ack. A batch made before this gateway started (a resend
        after a restart) is acked and dropped."""
        batch = decode_batch(data)
        if batch.ts < self.since:
            return batch.sender, max(batch.seq, self.inbox.applied.get(batch.sender, 0))
        for ready in self.inbox.accept(batch, time.time_ns()):
            for message in ready.messages:
                self._deliver(message)
        return batch.sender, self.inbox.applied.get(batch.sender, 0)

    def _deliver(self, message: Message) -> None:
        if isinstance(message, ExecutionReport):
            self._execution(message)
        elif isinstance(message, QuoteEvent):
            self._quote(message)
        elif isinstance(message, RequestRejected):
            self._reply(message.reply, protocol.error(message.code, message.message, message.reply.request))
        elif isinstance(message, ReportToAsker):
            self._reply(message.reply, protocol.with_id(protocol.execution_body(message.report), message.reply.request))
        elif isinstance(message, OrdersReply):
            self._reply(message.reply, protocol.orders_reply(message))
        elif isinstance(message, AccountReply):
            self._reply(message.reply, protocol.account_reply(message))
        elif isinstance(message, CancelAllDone):
            frame = protocol.encode({"type": "cancel_all", "account": message.account, "requested": message.requested}, message.reply.request)
            self._reply(message.reply, frame)

    def _reply(self, reply: Reply, frame: bytes) -> None:
        if reply.gateway != self.name:
            return
        conn = self.connections.get(reply.conn)
        if conn is not None:
            self._answered(conn)
            conn.send(frame)

    def _execution(self, report: ExecutionReport) -> None:
        asker = report.reply.conn if report.reply is not None and report.reply.gateway == self.name else None
        watchers = self.account_connections.get(report.account)
        if self.firehose:
            watchers = (watchers or set()) | self.firehose
        if not watchers and asker is None:
            return  # nobody on this gateway follows the account: do not encode it
        body = protocol.execution_body(report)
        for conn_id in watchers or ():
            if conn_id != asker:
                self.connections[conn_id].send(body)
        if asker is not None and report.reply is not None:
            conn = self.connections.get(asker)
            if conn is not None:
                self._answered(conn)
                conn.send(protocol.with_id(body, report.reply.request))

    def _quote(self, event: QuoteEvent) -> None:
        frame = protocol.quote(event)
        self.last_quotes[event.symbol] = frame
        for conn_id in self.quote_connections.get(event.symbol, ()):
            self.connections[conn_id].send(frame)

    def status(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "connections": len(self.connections),
            "frames_queued": sum(len(conn.outgoing) for conn in self.connections.values()),
            "requests": self.requests,
            "held_batches": self.inbox.waiting(),
            "batches_sent": self.outbox.batches_sent,
            "messages_waiting": self.outbox.waiting(),
            **self.inbox.delay_percentiles(),
        }

