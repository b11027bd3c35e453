"""The data plane between actors: length-prefixed batches over TCP, on links whose two ends
have proved they belong to the same cluster.

Why not a Ray call per batch: on the 2-core machine a Ray actor call costs ~250 µs of CPU
to submit and the whole machine tops out near 2,000 calls/s, so a pipeline of ten busy
edges spends its cores on call overhead and an order's acknowledgement waits tens of
milliseconds in queues (measured; docs/design.md). A write on an open socket costs a
system call. Ray still places, starts, restarts and names every actor and carries the
control path (wiring, status, admin, and the link secret); only the hot batches travel here.

Each actor listens on its node's address (``LinkServer``); a sender keeps one connection
per destination (``Links``), opened on first use. A frame is a 4-byte big-endian length,
a type byte and a body:

* ``C`` challenge, receiver → sender, first on every connection: a fresh 32-byte nonce.
* ``H`` hello, sender → receiver, the answer: ``[destination, sender, sender_nonce, mac]``
  msgpack, ``mac = HMAC-SHA256(secret, [hello tag, receiver_nonce, sender_nonce,
  destination, sender])``.
* ``W`` welcome, receiver → sender: ``HMAC-SHA256(secret, [welcome tag, receiver_nonce,
  sender_nonce, destination, sender])`` — the receiver's proof that it holds the secret.
* ``B`` batch, sender → receiver, only after the welcome: one encoded ``Batch`` whose
  ``sender`` is the name the hello proved.
* ``A`` ack, receiver → sender on the same connection: 8-byte seq, "every batch up to
  here is applied" (for a journaled actor: committed to its journal).

The secret (``LinkSecret``) is made by the supervisor when the server starts and reaches
each actor through Ray, with the call that opens its link; it lives in memory only. The
receiver accepts a hello only with a good MAC over its own fresh nonce (a recorded hello
does not open a second connection), addressed to itself (a port reused after a restart
is not taken for someone else's), from a name the topology gives an actor. Anything else
— a bad or late handshake, a batch before it, a batch under another sender's name, an
unknown frame type, a length out of bounds — is logged in one line and the connection
closed, having changed nothing. A sender writes no batch before the receiver's welcome.
The cost is one exchange per connection; a batch costs one prefix comparison more.

The sender keeps every batch until it is acked and, whenever a connection (re)opens,
writes all unacked ones again in order; the receiver drops what it has by ``(sender,
seq)``. So a broken connection, a restarted receiver or a restarted sender loses nothing
and applies nothing twice.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import struct
from collections.abc import Callable
from typing import Protocol, cast

import msgspec
import structlog

from model.config import BatchingSection
from model.messages import batch_prefix

log = structlog.get_logger("link")

_LENGTH = struct.Struct(">I")
_SEQ = struct.Struct(">Q")
BATCH = 0x42  # b"B"
HELLO = 0x48  # b"H"
ACK = 0x41  # b"A"
CHALLENGE = 0x43  # b"C"
WELCOME = 0x57  # b"W"
MAX_FRAME = 256 * 1024 * 1024
# Every frame before the welcome, and every frame a receiver sends, is small: a nonce, two
# actor names and a MAC, or an ack. An unauthenticated peer cannot make us buffer more.
MAX_HANDSHAKE_FRAME = 1024
NONCE_BYTES = 32
SECRET_BYTES = 32
MAX_NAME_LOGGED = 64  # a claimed name is the peer's text: logged, but not at any length
RETRY_FIRST_S = 0.05
RETRY_MAX_S = 1.0
_HELLO_TAG = b"brokerd-link/1 hello"
_WELCOME_TAG = b"brokerd-link/1 welcome"


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


# --- the handshake, pure -------------------------------------------------------------------------


class LinkSecret:
    """The cluster's link key: random, made once per server start, in memory only.

    Guarantees: its bytes never appear in a repr (a log line, an exception's arguments,
    a Ray error); the MACs made with it are compared in constant time only."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if len(key) < SECRET_BYTES:
            raise ValueError(f"a link secret has at least {SECRET_BYTES} bytes")
        self._key = bytes(key)

    @classmethod
    def generate(cls) -> LinkSecret:
        return cls(secrets.token_bytes(SECRET_BYTES))

    def __repr__(self) -> str:
        return "LinkSecret(<hidden>)"

    def __getstate__(self) -> bytes:
        return self._key

    def __setstate__(self, key: bytes) -> None:
        self._key = key

    def mac(self, tag: bytes, receiver_nonce: bytes, sender_nonce: bytes, destination: str, sender: str) -> bytes:
        # msgpack frames each field with its length: no two field lists give the same bytes
        message = msgspec.msgpack.encode([tag, receiver_nonce, sender_nonce, destination, sender])
        return hmac.new(self._key, message, hashlib.sha256).digest()


class Hello(msgspec.Struct, array_like=True, frozen=True):
    destination: str
    sender: str
    nonce: bytes
    mac: bytes


_hello_decoder = msgspec.msgpack.Decoder(Hello)


class Refused(Exception):
    """A peer the receiver does not accept. ``reason`` is for the log; ``claimed`` is the
    sender name the peer gave, if any (unproven unless the MAC was good)."""

    def __init__(self, reason: str, claimed: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.claimed = claimed


def make_hello(secret: LinkSecret, receiver_nonce: bytes, destination: str, sender: str, sender_nonce: bytes) -> bytes:
    """The sender's answer to a challenge."""
    mac = secret.mac(_HELLO_TAG, receiver_nonce, sender_nonce, destination, sender)
    return msgspec.msgpack.encode(Hello(destination, sender, sender_nonce, mac))


def welcome_mac(secret: LinkSecret, receiver_nonce: bytes, hello: Hello) -> bytes:
    """The receiver's proof, over both nonces, that it holds the secret too."""
    return secret.mac(_WELCOME_TAG, receiver_nonce, hello.nonce, hello.destination, hello.sender)


def check_hello(secret: LinkSecret, receiver_nonce: bytes, me: str, allowed: Callable[[str], bool], body: bytes) -> Hello:
    """The hello, if it proves the secret over this connection's nonce, is for ``me`` and
    names an actor the topology allows; else raises ``Refused``.

    Guarantees: a hello made for another challenge (a recorded one) fails, as does any
    change to its names or nonces."""
    try:
        hello = _hello_decoder.decode(body)
    except msgspec.DecodeError:
        raise Refused("malformed hello") from None
    if len(hello.nonce) != NONCE_BYTES:
        raise Refused("malformed hello", hello.sender)
    expected = secret.mac(_HELLO_TAG, receiver_nonce, hello.nonce, hello.destination, hello.sender)
    if not hmac.compare_digest(hello.mac, expected):
        raise Refused("bad MAC", hello.sender)
    if hello.destination != me:
        raise Refused(f"link for another actor ({hello.destination[:MAX_NAME_LOGGED]})", hello.sender)
    if not allowed(hello.sender):
        raise Refused("sender is not an actor of this topology", hello.sender)
    return hello


def frame(kind: int, body: bytes) -> bytes:
    return _LENGTH.pack(len(body) + 1) + bytes((kind,)) + body


class FrameError(ValueError):
    """A length prefix out of bounds: the stream cannot be trusted past it."""


class FrameBuffer:
    """Splits a byte stream into ``(type, body)`` frames of at most ``limit`` bytes. Pure."""

    def __init__(self, limit: int) -> None:
        self.data = bytearray()
        self.offset = 0
        self.limit = limit

    def feed(self, data: bytes) -> None:
        self.data += data

    def pop(self) -> tuple[int, bytes] | None:
        """The next whole frame, or None until more bytes arrive. Raises ``FrameError``."""
        data, offset = self.data, self.offset
        if len(data) - offset >= 5:
            (length,) = _LENGTH.unpack_from(data, offset)
            if length < 1 or length > self.limit:
                raise FrameError(f"frame length {length} outside 1..{self.limit}")
            end = offset + 4 + length
            if end <= len(data):
                self.offset = end
                return data[offset + 4], bytes(data[offset + 5 : end])
        if offset:  # everything before offset is handed out: drop it once per read
            del data[:offset]
            self.offset = 0
        return None

    def clear(self) -> None:
        self.data.clear()
        self.offset = 0


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
            hello = check_hello(server.secret, self.nonce, server.name, server.allowed, body)
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
            self.transport.write(_LENGTH.pack(9) + b"A" + _SEQ.pack(seq))

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
        self.channels: dict[str, Channel] = {}
        self.connections: set[Channel] = set()

    def on_hello(self, sender: str, channel: Channel) -> None:
        self.channels[sender] = channel

    async def start(self, host: str) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: Channel(self), host, 0)
        port = self.server.sockets[0].getsockname()[1]
        return host, int(port)

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

    def __init__(self, links: Links, name: str) -> None:
        self.links = links
        self.name = name
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
                self.links.on_ack(self.name, _SEQ.unpack(body)[0])
            else:
                log.error("unexpected frame from receiver", destination=self.name, kind=kind)
        elif kind == CHALLENGE and self.hello is None and len(body) == NONCE_BYTES:
            links = self.links
            self.challenge = body
            hello = make_hello(links.secret, body, self.name, links.owner, self.nonce)
            self.hello = _hello_decoder.decode(hello)
            assert self.transport is not None
            self.transport.write(frame(HELLO, hello))
        elif kind == WELCOME and self.hello is not None and self._proves_secret(body):
            self.established = True
            self._settle(True)
        else:
            self._fail(f"unexpected frame type {kind} in the handshake")

    def _proves_secret(self, welcome: bytes) -> bool:
        assert self.hello is not None
        return hmac.compare_digest(welcome, welcome_mac(self.links.secret, self.challenge, self.hello))

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
            sender.transport.writelines((_LENGTH.pack(len(data) + 1), b"B", data))
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
            _, sender = await loop.create_connection(lambda: _Sender(self, name), host, port)
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

