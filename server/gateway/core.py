"""The trader-facing WebSocket server: decoding, rate limits, dispatch, delivery.

It holds only soft state (connections, subscriptions, the last quote per symbol): a client
that reconnects resynchronises by querying. Requests become commands for the owning
AccountShard through a batched ``Outbox``; answers come back as batches through
``on_batch`` and go to the connection that asked (with its ``id``) and, for executions, to
every other connection of the account's users.

The parts, each its own module: ``connection`` (a connection's capped outgoing queue and
its writer), ``access`` (login and authorisation), ``window`` (fairness: the in-flight
window and read pacing), ``fanout`` (subscriptions, executions and quotes to followers);
``protocol`` and ``validation`` turn frames into checked commands.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from actors.runtime.audit import AuditLog
from actors.runtime.histogram import Histogram
from actors.runtime.inbox import Inbox
from actors.runtime.options import is_loopback
from actors.runtime.outbox import Outbox
from keystore import apikeys
from keystore.apikeys import ApiKey
from keystore.totp import MfaRefused
from model import admin_commands, fixed, permissions
from model.audit import AuditEvent, AuditKind
from model.audit_bodies import AdminCommand, OrderRejected
from model.basket import BasketError, BasketRules, Chunk, parse_basket
from model.config import Setup
from model.messages import (
    AccountReply,
    CancelAll,
    CancelAllDone,
    CancelOrder,
    ExecutionReport,
    GainsReply,
    LotsReply,
    Message,
    OrdersLoaded,
    OrdersReply,
    QueryAccount,
    QueryLots,
    QueryOrders,
    QuoteEvent,
    Reply,
    ReportToAsker,
    RequestRejected,
    StatementReply,
    decode_batch,
)
from model.messages import JournalEntry, JournalReply, QueryTransfers, RequestJournal, RequestTransfer, RiskAlert, TransferEvent, TransfersReply, TransferToAsker
from model.transfers import TransferKind, TransferStatus, amount_problem, key_problem
from server.gateway import books, protocol, statements
from server.gateway.access import MAX_NAME_RECORDED, Access, AccountEntry, authorise, forbidden_message, out_of_reach, permit
from server.gateway.baskets import BasketLoads, Summary
from server.gateway.connection import Connection, write_queued
from server.gateway.fanout import Fanout
from server.gateway.interest import Interest
from server.gateway.mfa import transfer_check
from server.gateway.protocol import (
    AdminRequest,
    CancelAllRequest,
    CancelOrderRequest,
    DepositRequest,
    GetAccountRequest,
    GetGainsRequest,
    GetLotsRequest,
    GetOrdersRequest,
    GetStatementRequest,
    GetTransfersRequest,
    JournalRequest,
    LoadOrdersRequest,
    Login,
    NewOrderRequest,
    NewOrdersRequest,
    ProtocolError,
    ReplaceOrderRequest,
    Request,
    SubscribeRequest,
    WhoamiRequest,
    WithdrawalRequest,
)
from server.gateway.ratelimit import TokenBucket
from server.gateway.tls import server_context
from server.gateway.validation import Invalid, OrderTerms, check_client_order_id, orders_page, to_new_order, to_replace
from server.gateway.window import InFlightWindow
from server.web.http import Door, Status, WebServer

log = structlog.get_logger("gateway")

# (command, args, tenant): the tenant the command is confined to, None for the platform operator's
# (command, args, tenant it is confined to, caller: (user, key id, address) for its audit record)
AdminHandler = Callable[..., Awaitable[dict[str, Any]]]
# Each op's request type → (the permission it needs, the op) (``model/permissions.OPS``); ``admin``: per command
NEEDS: dict[type, tuple[str, str]] = {
    cls: (permissions.OPS[str(cls.__struct_config__.tag)], str(cls.__struct_config__.tag))
    for cls in Request.__args__  # type: ignore[attr-defined]
    if cls.__struct_config__.tag in permissions.OPS
}
# The admin arguments that name an account (``model/admin_commands.py`` value names)
ACCOUNT_ARGUMENTS = ("ACCOUNT", "ACCOUNT|all", "account", "ACCOUNT|group:NAME")  # a group (``group:NAME``) the supervisor confines

__all__ = ["AdminHandler", "Connection", "Gateway"]


class Gateway:
    """Serves the WebSocket API (docs/protocol.md). Every request is answered: an
    ``error``, a reply, or the first execution report of the order it created; nothing a
    client sends can change state without passing decoding, authorisation and validation
    first.

    Guarantees: a request is checked against the session's permissions (``model/permissions.py``)
    before anything else is done for it, and every account it names against the session's
    reach: a refused request sends nothing to any actor."""

    def __init__(
        self, name: str, setup: Setup, outbox: Outbox, admin: AdminHandler | None = None, since: int = 0, audit: AuditLog | None = None
    ) -> None:
        self.name = name
        self.since = since  # events made before this gateway started are for connections it never had
        self.config = setup.config
        self.max_id_length = setup.config.risk.max_client_order_id_length
        self.instruments = {instrument.symbol: instrument for instrument in setup.instruments}
        self.terms = OrderTerms(self.instruments)  # orders' terms checked once (never changed: neither are the instruments)
        self.access = Access(setup)
        # the gateway's audit chain (docs/audit.md): each login attempt, and each admin command
        # refused here (the supervisor records those it runs)
        self.audit = audit
        self.access.gateway = name
        self.access.audit = None if audit is None else audit.note
        self.outbox = outbox
        self.window = InFlightWindow(setup.config.gateway, outbox)
        self.baskets = BasketLoads(name, outbox, setup.config.basket.chunks_in_flight)
        self.admin = admin
        self.inbox = Inbox(soft=True)
        self.inbox.histogram = Histogram(setup.config.web.latency_buckets_us)
        self.connections: dict[int, Connection] = {}
        self.fanout = Fanout(self.connections, self.instruments, setup.config.gateway.max_channels_per_connection, self.access.tenant_of.get)
        # several gateways: the login nonces' one authority (the supervisor), given by the shell
        self.nonces: Callable[[str, str], Awaitable[bool]] | None = None
        self.checking = asyncio.Semaphore(1)  # uploads checked in a thread, one at a time (``_load_orders``)
        self.interest = Interest(name, outbox)  # tell the shards who follows what: no report for an account nobody follows
        self.ids = itertools.count(max(since, 1))  # ids never repeat across restarts
        self.server: Server | None = None
        self.requests = 0
        self.executions_received = 0  # execution reports the shards sent here: those of its sessions' accounts
        self.web: WebServer | None = None  # set by ``serve_web`` on the gateway that serves the page
        self.web_server: Server | None = None  # its own listener, when ``[web] port`` is not the WebSocket port
        self.web_port: int | None = None
        self.port = 0  # where it listens, once started

    # --- server lifecycle -----------------------------------------------------------------------

    def serve_web(self, metrics: Status | None, readiness: Status | None) -> None:
        """Serve the web page, ``/metrics``, ``/healthz`` and ``/readyz`` too (docs/web.md),
        from ``start`` on: on the WebSocket port (``[web] port = 0``) or on a port of its
        own. Called before ``start`` on one gateway only."""
        self.web = WebServer(self.config.web, metrics, readiness)

    async def start(self, host: str, port: int) -> int:
        """Listen (wss:// when ``[gateway]`` names a certificate and key); returns the bound
        port (useful with port 0). Plain ws:// on an address other than loopback is logged
        as a warning: logins and orders would cross the network readable. With ``serve_web``,
        plain HTTP requests are answered too, on this port or on ``[web] port`` (the same
        host, the same TLS, and WebSocket upgrades taken there as here). Every listener
        checks each request at its ``Door`` first: no other site's page opens a WebSocket,
        no name rebound to this address reads a page or an endpoint."""
        tls = server_context(self.config.gateway)
        if tls is None and not is_loopback(host):
            log.warning("WebSocket without TLS on a non-loopback address: set [gateway] tls_cert_file and tls_key_file", host=host)
        web_port = self.config.web.port
        allowed = self.config.gateway.allowed_origins
        page_here = self.web if not web_port else None
        self.server = await self._listen(host, port, tls, Door(host, tls is not None, allowed, page_here))
        bound = self.port = int(self.server.sockets[0].getsockname()[1])
        if self.web is not None and web_port:
            self.web_server = await self._listen(host, web_port, tls, Door(host, tls is not None, allowed, self.web))
            self.web_port = int(self.web_server.sockets[0].getsockname()[1])
        elif self.web is not None:
            self.web_port = bound
        return bound

    async def _listen(self, host: str, port: int, tls: Any, door: Door) -> Server:
        return await serve(
            self._serve,
            host,
            port,
            max_size=self.config.gateway.max_frame_bytes,
            compression=None,
            max_queue=64,
            ssl=tls,
            process_request=door.process_request,
            process_response=door.process_response,
            server_header=None,  # no answer names the software and its version
            # several gateways on one port: each binds it with SO_REUSEPORT and the kernel
            # spreads the connections among them (Linux; docs/scale.md, "Several gateways")
            reuse_port=self.config.gateway.count > 1 and self.config.gateway.shared_port,
        )

    async def stop(self) -> None:
        for server in (self.server, self.web_server):
            if server is not None:
                server.close()
                await server.wait_closed()

    async def _serve(self, socket: ServerConnection) -> None:
        gateway = self.config.gateway
        address = str(socket.remote_address[0]) if socket.remote_address else ""
        if not self.access.admit(address):
            log.warning("connection refused", address=address, reason="too many connections from this address")
            await socket.close(1013, "too many connections from this address")
            return
        bucket = TokenBucket(gateway.rate_limit_per_s, gateway.rate_limit_burst)
        conn = Connection(
            next(self.ids), socket, bucket, gateway.max_pending_per_connection, gateway.max_pending_bytes_per_connection, address
        )
        self.connections[conn.conn_id] = conn
        loop = asyncio.get_running_loop()
        writer = loop.create_task(write_queued(conn))
        deadline = loop.call_later(gateway.login_deadline_ms / 1000, self._login_deadline, conn)
        try:
            async for frame in socket:
                self._on_frame_guarded(conn, frame)
                if conn.pending is not None:  # frames after a login or an upload wait for its answer
                    await conn.pending
                    conn.pending = None
                await self.window.pace(conn)
        except ConnectionClosed:
            pass
        finally:
            deadline.cancel()
            writer.cancel()
            self._forget(conn)

    def _login_deadline(self, conn: Connection) -> None:
        if conn.user is None and not conn.dropped:
            seconds = self.config.gateway.login_deadline_ms / 1000
            log.info("login deadline passed", conn=conn.conn_id, address=conn.address)
            conn.close(1008, f"no login within {seconds:g} s")

    def _forget(self, conn: Connection) -> None:
        if conn.key_expiry is not None:
            conn.key_expiry.cancel()
        self.connections.pop(conn.conn_id, None)
        self.window.release(conn)  # read and checked before the connection went: sent, as if in flight
        self.access.release(conn)
        followed = self.fanout.followed(conn)
        self.fanout.forget(conn)
        self.interest.update(self.fanout, followed)

    def add_accounts(self, accounts: list[AccountEntry]) -> None:
        """Accounts opened at run time (account, group, tenant); see ``Access.add_accounts``.
        Every logged-in connection's reach is asked again, so an account loaded for a tenant
        is within reach of that tenant's sessions at once, and follows its executions."""
        self.access.add_accounts(accounts)
        changed: set[str] = set()
        for conn in self.connections.values():
            if conn.user is not None and conn.session is not None:
                changed.update(self.fanout.followed(conn))
                self.fanout.forget_accounts(conn)
                conn.accounts = self.access.reach_of(conn.user, conn.session)
                self.fanout.follow(conn)
                changed.update(self.fanout.followed(conn))
        self.interest.update(self.fanout, changed)

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
            self._failed(conn, failure)

    @staticmethod
    def _failed(conn: Connection, failure: Exception, request_id: bytes = b"") -> None:
        """The last resort for a request: logged on one line (what and where, no traceback),
        answered ``invalid_request``; the connection carries on."""
        trace = traceback.extract_tb(failure.__traceback__)[-1:]
        where = f"{trace[0].filename}:{trace[0].lineno}" if trace else ""
        log.error("request failed", conn=conn.conn_id, error=repr(failure)[:300], where=where)
        conn.send(protocol.error("invalid_request", "the request could not be processed", request_id))

    def _here(self, conn: Connection) -> bool:
        """Whether ``conn`` is still served: not closed by the gateway, not forgotten."""
        return not conn.dropped and conn.conn_id in self.connections

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
            wall_ms = time.time_ns() // 1_000_000
            if self.nonces is not None and conn.user is None and self.access.signed(request, wall_ms):
                # several gateways: the nonce is spent at the one authority first; the
                # connection reads nothing more until the login is answered (``_serve``)
                conn.pending = asyncio.get_running_loop().create_task(self._shared_login(conn, request, request_id, wall_ms))
                return
            self._login(conn, request, request_id, wall_ms)
            return
        if conn.user is None:
            conn.send(protocol.error("not_authenticated", "log in first", request_id))
            return
        if not conn.bucket.take(cost, time.monotonic_ns()):
            conn.send(protocol.error("rate_limited", f"more than {self.config.gateway.rate_limit_per_s} requests/s", request_id))
            return
        reply = Reply(self.name, conn.conn_id, request_id)
        try:
            needs = NEEDS.get(type(request))
            if needs is not None and needs[0] not in conn.session.permissions:  # type: ignore[union-attr]  # set with user
                permit(conn, *needs)
            self._dispatch(conn, request, reply)
        except Invalid as invalid:
            conn.send(protocol.error(invalid.code, str(invalid), request_id))
            if invalid.code == "forbidden" and isinstance(request, (NewOrderRequest, NewOrdersRequest)):
                for fields in [request] if isinstance(request, NewOrderRequest) else request.orders[: self.config.gateway.max_orders_per_frame]:
                    self._note_refused_order(conn, fields, invalid.code, protocol.shorten(str(invalid), quote=False))

    def _login(self, conn: Connection, request: Login, request_id: bytes, wall_ms: int, fresh: bool | None = True) -> None:
        if self.access.login(conn, request, request_id, time.monotonic_ns() // 1_000_000, wall_ms, fresh):
            self.fanout.follow(conn)
            self.interest.update(self.fanout, self.fanout.followed(conn))
            self._close_at_key_expiry(conn, wall_ms)

    async def _shared_login(self, conn: Connection, request: Login, request_id: bytes, wall_ms: int) -> None:
        """A well-signed login on one of several gateways: its nonce spent at the shared
        authority (``nonces``), then checked here like any; a nonce spent before, on any
        gateway, is refused ``nonce already used``, and an authority that cannot be asked
        refuses the login (the client retries) rather than let a replay through."""
        assert self.nonces is not None
        fresh: bool | None
        try:
            fresh = await self.nonces(request.key, request.nonce)
        except Exception as failure:  # the supervisor restarting, or gone
            log.warning("login nonce not checked", conn=conn.conn_id, error=repr(failure)[:200])
            fresh = None
        if self._here(conn):
            self._login(conn, request, request_id, wall_ms, fresh)

    def _note_refused_order(self, conn: Connection, fields: protocol.OrderFields, code: str, text: str) -> None:
        """An order the gateway refused itself (its fields, its account out of reach, the
        session without the permission): an ``order_rejected`` record in the gateway's chain,
        as a shard records the orders it refuses."""
        if self.audit is not None:
            self.audit.note(AuditEvent(AuditKind.ORDER_REJECTED, _refused_order_record(self.name, conn, fields, code, text)), time.time_ns())

    def _dispatch(self, conn: Connection, request: Request, reply: Reply) -> None:
        if isinstance(request, NewOrderRequest):
            self._new_orders(conn, [request], reply)
        elif isinstance(request, NewOrdersRequest):
            if not 0 < len(request.orders) <= self.config.gateway.max_orders_per_frame:
                raise Invalid("invalid_request", f"orders must hold 1 to {self.config.gateway.max_orders_per_frame} orders")
            self._new_orders(conn, request.orders, reply)
        elif isinstance(request, CancelOrderRequest):
            authorise(conn, request.account)
            check_client_order_id(request.client_order_id, self.max_id_length)
            self.window.send(conn, request.account, CancelOrder(request.account, request.client_order_id, reply))
        elif isinstance(request, ReplaceOrderRequest):
            authorise(conn, request.account)
            self.window.send(conn, request.account, to_replace(request, reply, self.max_id_length))
        elif isinstance(request, CancelAllRequest):
            authorise(conn, request.account)
            if request.symbol is not None and request.symbol not in self.instruments:
                raise Invalid("unknown_symbol", f"unknown symbol {protocol.shorten(request.symbol)}")
            self.window.send(conn, request.account, CancelAll(request.account, request.symbol, reply))
        elif isinstance(request, GetOrdersRequest):
            authorise(conn, request.account)
            cursor, limit = orders_page(request, self.config.queries, self.max_id_length)
            self.window.send(conn, request.account, QueryOrders(request.account, request.open_only, reply, cursor, limit))
        elif isinstance(request, GetAccountRequest):
            authorise(conn, request.account)
            self.window.send(conn, request.account, QueryAccount(request.account, reply))
        elif isinstance(request, GetLotsRequest):
            authorise(conn, request.account)
            if request.symbol is not None and request.symbol not in self.instruments:
                raise Invalid("unknown_symbol", f"unknown symbol {protocol.shorten(request.symbol)}")
            self.window.send(conn, request.account, QueryLots(request.account, reply, request.symbol))
        elif isinstance(request, GetGainsRequest):
            authorise(conn, request.account)
            query = books.to_query_gains(request.account, request.from_, request.to, request.cursor, request.limit, self.config.books, reply)
            self.window.send(conn, request.account, query)
        elif isinstance(request, GetStatementRequest):
            authorise(conn, request.account)
            self.window.send(conn, request.account, statements.to_query_statement(request.account, request.from_, request.to, self.config.books, reply))
        elif isinstance(request, SubscribeRequest):
            self.fanout.subscribe(conn, request.channels, reply.request)
            self.interest.update(self.fanout, ())
        elif isinstance(request, LoadOrdersRequest):
            self._load_orders(conn, request, reply)
        elif isinstance(request, AdminRequest):
            self._admin(conn, request, reply)
        elif isinstance(request, WhoamiRequest):
            conn.send(protocol.encode(self.access.whoami(conn), reply.request))
        elif isinstance(request, (DepositRequest, WithdrawalRequest)):
            self._transfer(conn, request, reply)
        elif isinstance(request, JournalRequest):
            self._journal(conn, request, reply)
        elif isinstance(request, GetTransfersRequest):
            authorise(conn, request.account)
            status = None if request.status is None else TransferStatus._value2member_map_.get(request.status)
            if request.status is not None and status is None:
                raise Invalid("invalid_request", f"status must be one of {', '.join(TransferStatus)}, not {protocol.shorten(request.status)}")
            self.window.send(conn, request.account, QueryTransfers(request.account, reply, status))  # type: ignore[arg-type]

    # --- cash movements ---------------------------------------------------------------------------

    def _amount(self, text: str, field: str = "amount") -> int:
        """A cash amount of a request: a decimal string, whole cents, > 0, at most ``[transfers] max_amount``."""
        try:
            amount = fixed.parse(text)
        except fixed.DecimalFormatError:
            raise Invalid("invalid_amount", f"{field} must be a decimal string, not {protocol.shorten(text)}") from None
        problem = amount_problem(amount, self.config.transfers.max_amount_fixed)
        if problem is not None:
            raise Invalid("invalid_amount", problem if field == "amount" else f"{field}: {problem}")
        return amount

    def _idempotency_key(self, key: str) -> str:
        problem = key_problem(key, self.config.transfers.idempotency_key_length)
        if problem is not None:
            raise Invalid("invalid_request", problem)
        return key

    def _second_factor(self, conn: Connection, code: str | None) -> None:
        """Before cash leaves an account or moves between accounts: the user's TOTP code
        (``mfa.transfer_check``), when ``[gateway] require_mfa_for_transfers`` or the user is
        enrolled. Checked last, so a code is never spent on a request refused anyway."""
        user, session = conn.user, conn.session
        assert user is not None and session is not None
        factor = self.access.second_factor
        try:
            if not self.config.gateway.require_mfa_for_transfers and not factor.enrolled(user.key):
                return
            transfer_check(factor, user.key, session, code, time.time())
        except MfaRefused as refused:
            raise Invalid(refused.code, str(refused)) from None

    def _transfer(self, conn: Connection, request: DepositRequest | WithdrawalRequest, reply: Reply) -> None:
        """A deposit or a withdrawal on an account within reach: checked here (amount, key,
        and for a withdrawal the second factor), held and recorded by the account's shard."""
        authorise(conn, request.account)
        amount = self._amount(request.amount)
        key = self._idempotency_key(request.idempotency_key)
        kind = TransferKind.DEPOSIT if isinstance(request, DepositRequest) else TransferKind.WITHDRAWAL
        if isinstance(request, WithdrawalRequest):
            self._second_factor(conn, request.totp)
        assert conn.user is not None
        self.window.send(conn, request.account, RequestTransfer(request.account, kind, amount, key, conn.user.key, reply))

    def _journal(self, conn: Connection, request: JournalRequest, reply: Reply) -> None:
        """One journal or a batch: every account within reach, every amount or quantity good,
        then the second factor; the batch goes to the shard of its first debit account, which
        books it all or nothing. Whether the accounts share an owner (or the session may move
        cash across owners), their tenant, and whether the shares are there is the shards' to
        say: they hold the accounts."""
        given = (request.from_account, request.to, request.amount, request.symbol, request.qty, request.lots)
        if request.entries is not None:
            if any(value is not None for value in given):
                raise Invalid("invalid_request", "give from, to and amount (or symbol and qty), or entries, not both")
            fields = [(e.from_account, e.to, e.amount, e.symbol, e.qty, e.lots) for e in request.entries]
        elif request.from_account is not None and request.to is not None:
            fields = [(request.from_account, request.to, *given[2:])]
        else:
            raise Invalid("invalid_request", "a journal needs from, to and amount (or symbol and qty), or entries")
        most = self.config.transfers.max_journal_entries
        if not 0 < len(fields) <= most:
            raise Invalid("invalid_request", f"entries must hold 1 to {most} journals")
        key = self._idempotency_key(request.idempotency_key)
        entries = []
        for number, (source, target, amount, symbol, qty, picks) in enumerate(fields, 1):
            assert source is not None and target is not None
            authorise(conn, source)
            authorise(conn, target)
            entries.append(self._journal_entry(source, target, amount, symbol, qty, picks, "" if len(fields) == 1 else f"entry {number}: "))
        self._second_factor(conn, request.totp)
        session, user = conn.session, conn.user
        assert session is not None and user is not None
        across = permissions.ACROSS_OWNERS in session.permissions
        command = RequestJournal(key, entries, user.key, across, self.config.topology.account_shards, reply)
        self.window.send(conn, entries[0].from_account, command)

    def _journal_entry(
        self, source: str, target: str, amount: str | None, symbol: str | None, qty: str | None, picks: list[protocol.LotPick] | None, field: str
    ) -> JournalEntry:
        """One entry: cash (``amount``) or shares (``symbol`` and ``qty``, ``lots`` optional), not both."""
        if amount is not None and symbol is None and qty is None and picks is None:
            return JournalEntry(source, target, self._amount(amount, field.removesuffix(": ") or "amount"))
        if amount is None and symbol is not None and qty is not None:
            symbol, quantity, lots = books.journal_shares(symbol, qty, picks, self.instruments, field)
            return JournalEntry(source, target, 0, symbol, quantity, lots)
        raise Invalid("invalid_request", f"{field}a journal needs from, to and amount (cash) or from, to, symbol and qty (shares), not both")

    def _new_orders(self, conn: Connection, orders: list[protocol.OrderFields], reply: Reply) -> None:
        """Each order checked in turn (a refused one answered at once); those that pass go to
        the window together, in order, when the frame is done (or fails part way)."""
        checked: list[tuple[str, Message]] = []
        terms, max_id_length = self.terms, self.max_id_length
        try:
            for fields in orders:
                try:
                    authorise(conn, fields.account)
                    command = to_new_order(fields, self.instruments, reply, max_id_length, terms)
                except Invalid as invalid:
                    message = protocol.shorten(str(invalid), quote=False)
                    conn.send(protocol.encode({"type": "error", "code": invalid.code, "message": message, "client_order_id": fields.client_order_id}, reply.request))
                    self._note_refused_order(conn, fields, invalid.code, message)
                    continue
                checked.append((fields.account, command))
        finally:
            if checked:
                self.window.send_all(conn, checked)

    def _load_orders(self, conn: Connection, request: LoadOrdersRequest, reply: Reply) -> None:
        """A basket uploaded as CSV text: checked whole (every row as a ``new_order``, every
        account one of the user's), then loaded in chunks; answered once with the summary,
        or refused with every bad row (nothing loaded). Each order counts against the rate
        limit, as in ``new_orders``.

        The check runs in a thread (``_load_checked``; one basket at a time per gateway):
        some 1.5 µs a row, a tenth of a second for 50,000 rows, which on the event loop would
        hold up every other session of this gateway. This connection's next frames are read
        once the load has begun (``pending``): after its first chunks, as before the check
        moved (the rest follow as the shards answer; ``orders_loaded`` says all are in)."""
        basket_config = self.config.basket
        rules = BasketRules(
            self.instruments,
            conn.accounts,
            lambda account: self._not_yours(conn, account),
            basket_config.max_rows,
            self.max_id_length,
            basket_config.errors_listed,
        )
        conn.pending = asyncio.get_running_loop().create_task(self._load_checked(conn, request.csv, rules, reply))

    async def _load_checked(self, conn: Connection, csv: str, rules: BasketRules, reply: Reply) -> None:
        """``_load_orders`` once the basket is checked and split into chunks, off the loop. A
        failure no check foresaw goes to ``_failed``, as a frame's does: the connection
        carries on."""
        try:
            await self._load_when_checked(conn, csv, rules, reply)
        except Exception as failure:
            self._failed(conn, failure, reply.request)

    async def _load_when_checked(self, conn: Connection, csv: str, rules: BasketRules, reply: Reply) -> None:
        async with self.checking:  # one basket checked at a time: its columns' memory, once
            try:
                chunked = await asyncio.to_thread(_checked_upload, csv, rules, self.outbox.router.account, self.config.basket.chunk_rows)
            except BasketError as refused:
                conn.send(protocol.basket_refused(refused, reply.request))
                return
        if not self._here(conn):
            return  # closed by the gateway while its basket was checked: nothing loaded
        rows, chunks = chunked
        if rows > 1 and not conn.bucket.take(rows - 1, time.monotonic_ns()):
            message = f"more than {self.config.gateway.rate_limit_per_s} requests/s (one per order); nothing loaded"
            conn.send(protocol.error("rate_limited", message, reply.request))
            return

        def done(summary: Summary) -> None:
            if self._here(conn):
                conn.send(protocol.encode({"type": "orders_loaded", **summary}, reply.request))

        self.baskets.start(chunks, reply, done)

    def _not_yours(self, conn: Connection, account: str) -> str:
        """Why ``conn`` may not load orders for ``account``, one not within its reach."""
        return out_of_reach(conn, account)

    def load_chunks(self, chunks: list[Chunk], done: Callable[[Summary], None]) -> None:
        """The operator's basket, read and checked by the supervisor: loaded like an upload."""
        self.baskets.start(chunks, Reply(self.name, 0, b""), done)

    def _admin(self, conn: Connection, request: AdminRequest, reply: Reply) -> None:
        """Who may run the command comes from the one permission table
        (``model/permissions.py``, through ``admin_commands.authorize``), whether its
        arguments fit from the one admin table; an account it names must be within the
        session's reach (out of reach: the answer to an account that does not exist). A
        refused command never reaches the supervisor, which confines the command to the
        session's tenant (all tenants for the platform operator)."""
        try:
            self._check_admin(conn, request)
        except Invalid as refused:
            if self.audit is not None:
                self.audit.note(AuditEvent(AuditKind.ADMIN_COMMAND, _admin_record(conn, request, refused.code, str(refused))), time.time_ns())
            raise
        session = conn.session
        assert session is not None and conn.user is not None
        confined = None if session.platform else session.tenant
        caller = (conn.user.key, session.key_id, conn.address)
        asyncio.get_running_loop().create_task(self._run_admin(conn, request, reply.request, confined, caller))

    def _check_admin(self, conn: Connection, request: AdminRequest) -> None:
        """``Invalid`` unless ``_admin`` may pass ``request`` on to the supervisor."""
        session = conn.session
        assert session is not None
        try:
            admin_commands.authorize(request.command, request.args, session.permissions)
            _, given = admin_commands.check(request.command, request.args, admin_commands.SERVER)
        except admin_commands.Forbidden as refused:
            raise Invalid("forbidden", forbidden_message(session, refused.needed, f"admin {request.command}")) from None
        except admin_commands.AdminError as refused:
            raise Invalid("admin_failed", str(refused)) from None
        for name in ACCOUNT_ARGUMENTS if not session.platform else ():  # the platform operator's: the supervisor knows
            account = given.get(name)
            if account is not None and account != "all" and not account.startswith("group:") and account not in conn.accounts:
                raise Invalid("admin_failed", f"unknown account {account}")
        user = given.get("USER")
        if user is not None and not self.access.user_within(session, user):
            raise Invalid("admin_failed", f"unknown user {user}")
        key_id = given.get("KEY_ID")
        if key_id is not None and not self.access.key_within(session, key_id):
            raise Invalid("admin_failed", f"unknown key {key_id}")
        tenant = given.get("tenant")
        if tenant is not None and not session.platform and tenant != session.tenant:
            raise Invalid("forbidden", f"admin {request.command} --tenant: only the {permissions.PLATFORM_OPERATOR} role chooses a tenant")
        if self.admin is None:
            raise Invalid("invalid_request", "this gateway has no admin service")

    async def _run_admin(
        self, conn: Connection, request: AdminRequest, request_id: bytes, tenant: str | None, caller: tuple[str, str, str]
    ) -> None:
        assert self.admin is not None
        try:
            result = await self.admin(request.command, list(request.args), tenant, caller=caller)
        except Exception as failure:  # the operator gets the reason, the gateway carries on
            cause = getattr(failure, "cause", None) or failure  # a Ray error wraps the supervisor's
            conn.send(protocol.error("admin_failed", str(cause), request_id))
            return
        conn.send(protocol.encode({"type": "admin", "ok": bool(result.get("ok", True)), "result": result}, request_id))

    # --- API keys and lockouts, as the supervisor tells ---------------------------------------------

    def replace_keys(self, keys: dict[str, ApiKey]) -> int:
        """The API keys changed (created, rotated, revoked): hold the new table, and close at
        once every connection of a key revoked or rotated, its reason saying which (close code
        1008). Returns how many connections were closed."""
        self.access.keys = keys
        closed = 0
        for conn in list(self.connections.values()):
            session = conn.session
            if session is None or not session.key_id or conn.dropped:
                continue
            key = keys.get(session.key_id)
            if key is None or key.revoked:
                reason = f"api key {session.key_id} revoked"
            elif key.generation != session.key_generation:
                reason = f"api key {session.key_id} rotated: log in with its new secret"
            else:
                continue
            log.info("connection closed", conn=conn.conn_id, key=session.key_id, reason=reason)
            conn.close(1008, reason)
            closed += 1
        return closed

    def _close_at_key_expiry(self, conn: Connection, wall_ms: int) -> None:
        """A session of an API key: schedule its close at the key's expiry, ``wall_ms`` being
        now. One timer per connection rather than a periodic sweep: a timer is one entry in
        the event loop's heap (O(log n) to add or cancel) that costs nothing until it falls
        due, once, at the expiry itself; a sweep would walk every connection at each period
        for as long as the gateway runs, and close up to a period late. (No running loop: a
        core driven by hand, whose caller passes the time to ``close_if_key_expired``.)"""
        session = conn.session
        if session is None or not session.key_id:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if conn.key_expiry is not None:
            conn.key_expiry.cancel()
        delay_s = max(0, session.expires_ms - wall_ms) / 1000
        conn.key_expiry = loop.call_later(delay_s, self._key_expiry_due, conn)

    def _key_expiry_due(self, conn: Connection) -> None:
        conn.key_expiry = None
        self.close_if_key_expired(conn, time.time_ns() // 1_000_000)

    def close_if_key_expired(self, conn: Connection, wall_ms: int) -> bool:
        """Close ``conn`` (code 1008, the reason naming the key and when it expired) if it is
        logged in with an API key that has expired by ``wall_ms`` (epoch ms); True if closed.
        A key not yet expired is scheduled again: the timer runs on the monotonic clock,
        expiry is wall-clock time, and the wall clock may have been set back meanwhile.

        Guarantees: only the session's own key's expiry closes it; nothing is counted
        against the user, the key or the address (the login backoff and the lockout are
        untouched: an expiry is not a failed login)."""
        session = conn.session
        if conn.dropped or session is None or not session.key_id:
            return False
        if session.expires_ms > wall_ms:
            self._close_at_key_expiry(conn, wall_ms)
            return False
        reason = f"api key {session.key_id} expired at {apikeys.iso(session.expires_ms)}"
        log.info("connection closed", conn=conn.conn_id, key=session.key_id, reason=reason)
        conn.close(1008, reason)
        return True

    def lockouts(self, lift: str | None = None) -> dict[str, Any]:
        """The lockouts of this gateway (``lift``: first end that of a key or an address)."""
        now_ms = time.monotonic_ns() // 1_000_000
        lifted = None
        if lift is not None:
            lifted = [kind for kind in ("key", "address") if self.access.lockout.lift((kind, lift))]
        locked: list[dict[str, Any]] = []
        for key, left in self.access.lockout.locked(now_ms):
            pair: tuple[str, str] = key  # type: ignore[assignment]  # (kind, name): Access.login makes them
            locked.append({"kind": pair[0], "name": pair[1], "retry_after_ms": left})
        return {"gateway": self.name, "locked": locked, "lifted": lifted}

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
            self.fanout.quote(message)
        elif isinstance(message, RequestRejected):
            self._reply(message.reply, protocol.error(message.code, message.message, message.reply.request))
        elif isinstance(message, ReportToAsker):
            self._reply(message.reply, protocol.with_id(protocol.execution_body(message.report), message.reply.request))
        elif isinstance(message, OrdersReply):
            self._reply(message.reply, protocol.orders_reply(message))
        elif isinstance(message, AccountReply):
            self._reply(message.reply, protocol.account_reply(message))
        elif isinstance(message, LotsReply):
            self._reply(message.reply, protocol.with_id(books.encode_lots(message), message.reply.request))
        elif isinstance(message, GainsReply):
            self._reply(message.reply, protocol.with_id(books.encode_gains(message), message.reply.request))
        elif isinstance(message, StatementReply):
            self._reply(message.reply, protocol.with_id(statements.encode_statement(message), message.reply.request))
        elif isinstance(message, OrdersLoaded):
            self.baskets.answered(message)
        elif isinstance(message, TransferEvent):
            self._transfer_event(message)
        elif isinstance(message, RiskAlert):
            self.fanout.risk_alert(message)
        elif isinstance(message, TransferToAsker):
            self._reply(message.reply, protocol.transfer(message.transfer, message.reply.request))
        elif isinstance(message, TransfersReply):
            self._reply(message.reply, protocol.transfers_reply(message))
        elif isinstance(message, JournalReply):
            self._reply(message.reply, protocol.journal_reply(message))
        elif isinstance(message, CancelAllDone):
            frame = protocol.encode({"type": "cancel_all", "account": message.account, "requested": message.requested}, message.reply.request)
            self._reply(message.reply, frame)

    def _reply(self, reply: Reply, frame: bytes) -> None:
        """An answer to one of a connection's commands: it goes to that connection only,
        and makes room in its window."""
        if reply.gateway != self.name:
            return
        conn = self.connections.get(reply.conn)
        if conn is not None:
            self.window.answered(conn)
            conn.send(frame)

    def _execution(self, report: ExecutionReport) -> None:
        """To every follower of the account; to the connection that asked (if it is still
        here) with its request's id, as the answer that makes room in its window."""
        self.executions_received += 1
        reply = report.reply
        asker = self.connections.get(reply.conn) if reply is not None and reply.gateway == self.name else None
        body = self.fanout.execution(report, asker)
        if asker is not None and reply is not None and body is not None:
            self.window.answered(asker)
            asker.send(protocol.with_id(body, reply.request))

    def _transfer_event(self, event: TransferEvent) -> None:
        """A transfer's new status: to every ``transfers`` follower whose reach holds its
        account, and to the connection that asked for it (with its request's id)."""
        reply = event.reply
        asker = self.connections.get(reply.conn) if reply is not None and reply.gateway == self.name else None
        self.fanout.transfer(event.transfer, asker)
        if asker is not None and reply is not None:
            self.window.answered(asker)
            asker.send(protocol.transfer(event.transfer, reply.request))

    def status(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "port": self.port,
            "connections": len(self.connections),
            "sessions": sum(1 for conn in self.connections.values() if conn.user is not None),
            "frames_queued": sum(len(conn.outgoing) for conn in self.connections.values()),
            "requests": self.requests,
            "executions_received": self.executions_received,  # reports the shards sent here: for its sessions' accounts
            "held_batches": self.inbox.waiting(),
            "batches_sent": self.outbox.batches_sent,
            "messages_waiting": self.outbox.waiting(),
            "baskets_loading": self.baskets.status(),
            "baskets_progress": self.baskets.progress(),
            **self.inbox.delay_percentiles(),
        }


def _checked_upload(csv: str, rules: BasketRules, shard_of: Callable[[str], str], chunk_rows: int) -> tuple[int, list[Chunk]]:
    """An uploaded basket checked whole and split into its shards' chunks: how many orders,
    and the chunks (``BasketError``: refused, nothing built). Run in a thread: it reads the
    connection's reach and the instruments, and changes nothing."""
    basket = parse_basket(csv.encode(), "load_orders", rules)
    return len(basket), basket.chunks(shard_of, chunk_rows)


def _refused_order_record(gateway: str, conn: Connection, fields: protocol.OrderFields, code: str, text: str) -> OrderRejected:
    """An order refused at the gateway, as its audit record: its terms as sent (names cut to
    ``MAX_NAME_RECORDED``; a number that does not parse, or does not fit a record's 64 bits, is
    recorded as none), why, and where it came from."""

    def name(value: str) -> str:
        return value[:MAX_NAME_RECORDED]

    def number(value: str | None) -> int | None:
        if value is None:
            return None
        try:
            return fixed.parse_bounded(value)
        except fixed.DecimalFormatError:
            return None

    return OrderRejected(
        name(fields.account), name(fields.client_order_id), name(fields.symbol), name(fields.side), name(fields.type),
        number(fields.qty), number(fields.notional), number(fields.price), code, text, gateway, conn.conn_id,
    )  # fmt: skip


def _admin_record(conn: Connection, request: AdminRequest, outcome: str, text: str) -> AdminCommand:
    """An admin command refused at the gateway, as its audit record: who, what (without a
    secret value), and why not."""
    session = conn.session
    user = conn.user.key if conn.user is not None else ""
    key_id = session.key_id if session is not None else ""
    return AdminCommand(user, key_id, conn.address, request.command, admin_commands.public_args(request.command, request.args), outcome, text)
