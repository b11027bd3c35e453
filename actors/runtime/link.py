"""The data plane between actors: length-prefixed batches over TCP, on links whose two ends
have proved they belong to the same cluster (the frames and the handshake, pure:
``actors/runtime/frames.py``).

Why not a Ray call per batch: on the 2-core machine a Ray actor call costs ~250 µs of CPU
to submit and the whole machine tops out near 2,000 calls/s, so a pipeline of ten busy
edges spends its cores on call overhead and an order's acknowledgement waits tens of
milliseconds in queues (measured; docs/design.md). A write on an open socket costs a
system call. Ray still places, starts, restarts and names every actor and carries the
control path (wiring, status, admin, and the link secret); only the hot batches travel here.

Each actor listens on its node's address (``LinkServer``); a sender keeps one connection
per destination (``Links``), opened on first use: challenge, hello, welcome, then batches
one way and acks the other.

The secret (``LinkSecret``) is made by the supervisor when the server starts and reaches
each actor through Ray, with the call that opens its link; it lives in memory only.
Anything a receiver does not accept — a bad or late handshake, a batch before it, a batch
under another sender's name, an unknown frame type, a length out of bounds — is logged in
one line and the connection closed, having changed nothing. A sender writes no batch
before the receiver's welcome. The cost is one exchange per connection; a batch costs one
prefix comparison more.

The sender keeps every batch until it is acked and, whenever a connection (re)opens,
writes all unacked ones again in order; the receiver drops what it has by ``(sender,
seq)``. So a broken connection, a restarted receiver or a restarted sender loses nothing
and applies nothing twice.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Protocol, cast

import structlog

from actors.runtime.frames import (
    ACK,
    BATCH,
    CHALLENGE,
    HELLO,
    LENGTH,
    MAX_FRAME,
    MAX_HANDSHAKE_FRAME,
    MAX_NAME_LOGGED,
    NONCE_BYTES,
    SEQ,
    WELCOME,
    FrameBuffer,
    FrameError,
    Hello,
    LinkSecret,
    Refused,
    ack_frame,
    check_hello,
    endpoint,
    frame,
    hello_decoder,
    make_hello,
    proves_welcome,
    welcome_mac,
)
from model.config import BatchingSection
from model.messages import batch_prefix

log = structlog.get_logger("link")

RETRY_FIRST_S = 0.05
RETRY_MAX_S = 1.0


class BatchingHost(Protocol):
    @property
    def batching(self) -> BatchingSection: ...


def link_host(config: BatchingHost) -> str:
    """The address an actor listens on: ``[batching] link_host``, or Ray's node address
    when it is ``"node"`` (a cluster of several machines)."""
    host = config.batching.link_host
    if host == "node":
        import ray

        return str(ray.util.get_node_ip_address())
    return host


def _peer(transport: asyncio.BaseTransport) -> str:
    address = transport.get_extra_info("peername")
    if isinstance(address, tuple) and len(address) >= 2:
        return f"{address[0]}:{address[1]}"
    return "?"


# --- receiving ---------------------------------------------------------------------------------


class Channel(asyncio.Protocol):
    """The receiving end of one connection: a challenge out, a hello in, then frames in and
    acks back to the sender. ``sender`` is set once the handshake is complete."""

    def __init__(self, server: LinkServer) -> None:
        self.server = server
        self.frames = FrameBuffer(MAX_HANDSHAKE_FRAME)
        self.transport: asyncio.Transport | None = None
        self.sender: str | None = None
        self.prefix = b""  # how every batch from ``sender`` begins
        self.nonce = secrets.token_bytes(NONCE_BYTES)
        self.peer = "?"
        self.deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.peer = _peer(transport)
        self.server.connections.add(self)
        self.transport.write(frame(CHALLENGE, self.nonce))
        self.deadline = asyncio.get_running_loop().call_later(self.server.handshake_timeout_s, self._too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.server.connections.discard(self)
        self._stop_deadline()

    def data_received(self, data: bytes) -> None:
        frames = self.frames
        frames.feed(data)
        try:
            while self.transport is not None:
                found = frames.pop()
                if found is None:
                    return
                self._frame(found[0], found[1])
        except FrameError as error:
            self.refuse(str(error))
        except Refused as refusal:
            self.refuse(refusal.reason, refusal.claimed)

    def _frame(self, kind: int, body: bytes) -> None:
        if kind == BATCH:
            if self.sender is None:
                raise Refused("batch before the handshake")
            if not body.startswith(self.prefix):
                raise Refused("batch under another sender's name", self.sender)
            self.server.on_batch(body, self)
        elif kind == HELLO and self.sender is None:
            server = self.server
            hello = check_hello(server.secret, self.nonce, server.endpoint, server.allowed, body)
            self._stop_deadline()
            self.sender = hello.sender
            self.prefix = batch_prefix(hello.sender)
            self.frames.limit = MAX_FRAME
            assert self.transport is not None
            self.transport.write(frame(WELCOME, welcome_mac(server.secret, self.nonce, hello)))
            server.on_hello(hello.sender, self)
        else:
            raise Refused(f"unexpected frame type {kind}", self.sender)

    def _too_slow(self) -> None:
        self.deadline = None
        if self.sender is None:
            self.refuse(f"no handshake within {self.server.handshake_timeout_s:g} s")

    def _stop_deadline(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def refuse(self, reason: str, claimed: str | None = None) -> None:
        """Log one line and close: nothing this connection sent after the last good frame
        is applied."""
        log.warning(
            "link refused",
            actor=self.server.name,
            peer=self.peer,
            reason=reason,
            sender=None if claimed is None else claimed[:MAX_NAME_LOGGED],
        )
        self.frames.clear()
        self.close()

    def ack(self, seq: int) -> None:
        if self.transport is not None and self.sender is not None:
            self.transport.write(ack_frame(seq))

    def close(self) -> None:
        self._stop_deadline()
        if self.transport is not None:
            self.transport.close()
            self.transport = None


class LinkServer:
    """Accepts batch connections from other actors for the actor ``name``.

    ``on_batch(body, channel)`` gets every batch, synchronously, in arrival order;
    ``channel.ack(seq)`` tells that sender its batches up to ``seq`` are applied.
    ``channels`` maps each proven sender to its newest connection. ``allowed(name)``
    says whether the topology has an actor that may send under ``name``."""

    def __init__(
        self,
        name: str,
        on_batch: Callable[[bytes, Channel], None],
        secret: LinkSecret,
        allowed: Callable[[str], bool],
        handshake_timeout_s: float,
    ) -> None:
        self.name = name
        self.on_batch = on_batch
        self.secret = secret
        self.allowed = allowed
        self.handshake_timeout_s = handshake_timeout_s
        self.server: asyncio.Server | None = None
        self.endpoint = ""  # ``name`` at the address it listens on, once started: what a hello must be for
        self.channels: dict[str, Channel] = {}
        self.connections: set[Channel] = set()

    def on_hello(self, sender: str, channel: Channel) -> None:
        self.channels[sender] = channel

    async def start(self, host: str) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: Channel(self), host, 0)
        address = host, int(self.server.sockets[0].getsockname()[1])
        self.endpoint = endpoint(self.name, address)
        return address

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
        for channel in list(self.connections):
            channel.close()
        self.channels.clear()


# --- sending -----------------------------------------------------------------------------------


class _Sender(asyncio.Protocol):
    """The sending end of one connection. ``ready`` turns True once the receiver proved
    the secret (then batches may go), False when the handshake failed or the connection
    closed before it."""

    def __init__(self, links: Links, name: str, address: tuple[str, int]) -> None:
        self.links = links
        self.name = name
        self.endpoint = endpoint(name, address)  # the hello is for the actor at the address dialed
        self.frames = FrameBuffer(MAX_HANDSHAKE_FRAME)  # the receiver sends only small frames
        self.transport: asyncio.Transport | None = None
        self.nonce = secrets.token_bytes(NONCE_BYTES)
        self.hello: Hello | None = None
        self.challenge = b""
        self.established = False
        self.ready: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self._settle(False)
        self.links._lost(self.name, self)

    def _settle(self, ok: bool) -> None:
        if not self.ready.done():
            self.ready.set_result(ok)

    def data_received(self, data: bytes) -> None:
        self.frames.feed(data)
        try:
            while self.transport is not None:
                found = self.frames.pop()
                if found is None:
                    return
                self._frame(found[0], found[1])
        except FrameError as error:
            self._fail(str(error))

    def _frame(self, kind: int, body: bytes) -> None:
        if self.established:
            if kind == ACK and len(body) == 8:
                self.links.on_ack(self.name, SEQ.unpack(body)[0])
            else:
                log.error("unexpected frame from receiver", destination=self.name, kind=kind)
        elif kind == CHALLENGE and self.hello is None and len(body) == NONCE_BYTES:
            links = self.links
            self.challenge = body
            hello = make_hello(links.secret, body, self.endpoint, links.owner, self.nonce)
            self.hello = hello_decoder.decode(hello)
            assert self.transport is not None
            self.transport.write(frame(HELLO, hello))
        elif kind == WELCOME and self.hello is not None and self._proves_secret(body):
            self.established = True
            self._settle(True)
        else:
            self._fail(f"unexpected frame type {kind} in the handshake")

    def _proves_secret(self, welcome: bytes) -> bool:
        assert self.hello is not None
        return proves_welcome(self.links.secret, self.challenge, self.hello, welcome)

    def _fail(self, reason: str) -> None:
        log.warning("link handshake failed; will retry", destination=self.name, reason=reason)
        self.close()

    def close(self) -> None:
        self._settle(False)
        if self.transport is not None:
            self.transport.close()


class Links:
    """One outgoing connection per destination actor, opened on first use, reopened when it
    breaks (with backoff) and moved when the destination's address changes (``update``).

    ``send`` never blocks and never buffers: a batch written while the connection is down
    (or still shaking hands) is simply not written, because the owner keeps it until acked
    and ``on_connect(name)`` asks the owner to write every unacked batch again, in order,
    as soon as the connection is up and the receiver has proved the secret.
    ``on_ack(name, seq)`` reports the receiver's acks.
    """

    def __init__(
        self,
        owner: str,
        addresses: dict[str, tuple[str, int]],
        secret: LinkSecret,
        handshake_timeout_s: float,
        on_ack: Callable[[str, int], None] = lambda name, seq: None,
        on_connect: Callable[[str], None] = lambda name: None,
    ) -> None:
        self.owner = owner
        self.addresses = dict(addresses)
        self.secret = secret
        self.handshake_timeout_s = handshake_timeout_s
        self.on_ack = on_ack
        self.on_connect = on_connect
        self.senders: dict[str, _Sender] = {}  # established connections only
        self.connecting: set[str] = set()
        self.shaking: dict[str, _Sender] = {}  # connections still in their handshake
        self.frames_sent = 0
        self.reconnects = 0
        self.closed = False

    def connected(self, name: str) -> bool:
        sender = self.senders.get(name)
        return sender is not None and sender.transport is not None

    def send(self, name: str, data: bytes) -> None:
        sender = self.senders.get(name)
        if sender is not None and sender.transport is not None:
            sender.transport.writelines((LENGTH.pack(len(data) + 1), b"B", data))
            self.frames_sent += 1
        else:
            self.connect(name)

    def connect(self, name: str) -> None:
        """Open the connection to ``name`` unless it is open or opening."""
        if self.closed or name in self.connecting or self.connected(name):
            return
        self.connecting.add(name)
        asyncio.get_running_loop().create_task(self._connect(name))

    def update(self, name: str, address: tuple[str, int]) -> None:
        """``name`` listens somewhere new (it was restarted): move there."""
        self.addresses[name] = tuple(address)  # type: ignore[assignment]
        sender = self.senders.pop(name, None)
        if sender is not None:
            sender.close()
        shaking = self.shaking.get(name)
        if shaking is not None:  # its handshake is with the old address: start again
            shaking.close()
        self.connect(name)

    async def _connect(self, name: str) -> None:
        delay = RETRY_FIRST_S
        try:
            while not self.closed:
                sender = await self._open(name)
                if sender is not None:
                    self.senders[name] = sender
                    break
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
        finally:
            self.connecting.discard(name)
        if self.connected(name):
            self.on_connect(name)

    async def _open(self, name: str) -> _Sender | None:
        """One attempt: connect and complete the handshake at the current address."""
        loop = asyncio.get_running_loop()
        host, port = self.addresses[name]
        try:
            _, sender = await loop.create_connection(lambda: _Sender(self, name, (host, port)), host, port)
        except OSError as error:
            log.debug("link connect failed; retrying", destination=name, error=str(error))
            return None
        self.shaking[name] = sender
        try:
            ok = await asyncio.wait_for(asyncio.shield(sender.ready), self.handshake_timeout_s)
        except TimeoutError:
            log.warning("link handshake timed out; will retry", destination=name, after_s=self.handshake_timeout_s)
            ok = False
        finally:
            if self.shaking.get(name) is sender:
                del self.shaking[name]
        if ok and not self.closed and sender.transport is not None and (host, port) == tuple(self.addresses[name]):
            return sender
        sender.close()  # failed, closed meanwhile, or moved while connecting
        return None

    def _lost(self, name: str, sender: _Sender) -> None:
        if self.senders.get(name) is sender:
            del self.senders[name]
            if not self.closed:
                self.reconnects += 1
                self.connect(name)

    def close(self) -> None:
        self.closed = True
        for sender in [*self.senders.values(), *self.shaking.values()]:
            sender.close()
        self.senders.clear()

