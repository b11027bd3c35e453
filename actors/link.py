"""The data plane between actors: length-prefixed batches over TCP.

Why not a Ray call per batch: on the 2-core machine a Ray actor call costs ~250 µs of CPU
to submit and the whole machine tops out near 2,000 calls/s, so a pipeline of ten busy
edges spends its cores on call overhead and an order's acknowledgement waits tens of
milliseconds in queues (measured; docs/design.md). A write on an open socket costs a
system call. Ray still places, starts, restarts and names every actor and carries the
control path (wiring, status, admin); only the hot batches travel here.

Each actor listens on its node's address (``LinkServer``); a sender keeps one connection
per destination (``Links``), opened on first use. A frame is a 4-byte big-endian length,
a type byte and a body:

* ``H`` hello, sender → receiver, first on every connection: ``[destination, sender]``
  msgpack. A receiver that is not the destination (a port reused after a restart) closes.
* ``B`` batch, sender → receiver: one encoded ``Batch``.
* ``A`` ack, receiver → sender on the same connection: 8-byte seq, "every batch up to
  here is applied" (for a journaled actor: committed to its journal).

The sender keeps every batch until it is acked and, whenever a connection (re)opens,
writes all unacked ones again in order; the receiver drops what it has by ``(sender,
seq)``. So a broken connection, a restarted receiver or a restarted sender loses nothing
and applies nothing twice.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from typing import Protocol, cast

import msgspec
import structlog

from model.config import BatchingSection

log = structlog.get_logger("link")

_LENGTH = struct.Struct(">I")
_SEQ = struct.Struct(">Q")
BATCH = 0x42  # b"B"
HELLO = 0x48  # b"H"
ACK = 0x41  # b"A"
MAX_FRAME = 256 * 1024 * 1024
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


def _frames(buffer: bytearray, on_frame: Callable[[int, bytes], None], transport: asyncio.Transport | None) -> None:
    """Hand every whole frame in ``buffer`` to ``on_frame(type, body)`` and drop it."""
    offset = 0
    size = len(buffer)
    while size - offset >= 5:
        (length,) = _LENGTH.unpack_from(buffer, offset)
        if length > MAX_FRAME or length < 1:
            log.error("bad frame length; closing link", length=length)
            if transport is not None:
                transport.close()
            buffer.clear()
            return
        end = offset + 4 + length
        if end > size:
            break
        on_frame(buffer[offset + 4], bytes(buffer[offset + 5 : end]))
        offset = end
    if offset:
        del buffer[:offset]


class Channel(asyncio.Protocol):
    """The receiving end of one connection: frames in, acks back to the sender."""

    def __init__(self, server: LinkServer) -> None:
        self.server = server
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.sender: str | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        _frames(self.buffer, self._frame, self.transport)

    def _frame(self, kind: int, body: bytes) -> None:
        if kind == BATCH:
            if self.sender is None:
                log.error("batch before hello; closing link")
                self.close()
                return
            self.server.on_batch(body, self)
        elif kind == HELLO:
            destination, sender = msgspec.msgpack.decode(body)
            if destination != self.server.name:
                log.error("link for another actor; closing", me=self.server.name, wanted=destination, sender=sender)
                self.close()
                return
            self.sender = sender
            self.server.on_hello(sender, self)
        else:
            log.error("unknown frame type; closing link", kind=kind)
            self.close()

    def ack(self, seq: int) -> None:
        if self.transport is not None:
            self.transport.write(_LENGTH.pack(9) + b"A" + _SEQ.pack(seq))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
            self.transport = None


class LinkServer:
    """Accepts batch connections from other actors for the actor ``name``.

    ``on_batch(body, channel)`` gets every batch, synchronously, in arrival order;
    ``channel.ack(seq)`` tells that sender its batches up to ``seq`` are applied.
    ``channels`` maps each sender to its newest connection."""

    def __init__(self, name: str, on_batch: Callable[[bytes, Channel], None]) -> None:
        self.name = name
        self.on_batch = on_batch
        self.server: asyncio.Server | None = None
        self.channels: dict[str, Channel] = {}

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
        for channel in self.channels.values():
            channel.close()


class _Sender(asyncio.Protocol):
    def __init__(self, links: Links, name: str) -> None:
        self.links = links
        self.name = name
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.links._lost(self.name, self)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        _frames(self.buffer, self._frame, self.transport)

    def _frame(self, kind: int, body: bytes) -> None:
        if kind == ACK and len(body) == 8:
            self.links.on_ack(self.name, _SEQ.unpack(body)[0])
        else:
            log.error("unexpected frame from receiver", destination=self.name, kind=kind)


class Links:
    """One outgoing connection per destination actor, opened on first use, reopened when it
    breaks (with backoff) and moved when the destination's address changes (``update``).

    ``send`` never blocks and never buffers: a batch written while the connection is down
    is simply not written, because the owner keeps it until acked and ``on_connect(name)``
    asks the owner to write every unacked batch again, in order, as soon as the
    connection is up. ``on_ack(name, seq)`` reports the receiver's acks.
    """

    def __init__(
        self,
        owner: str,
        addresses: dict[str, tuple[str, int]],
        on_ack: Callable[[str, int], None] = lambda name, seq: None,
        on_connect: Callable[[str], None] = lambda name: None,
    ) -> None:
        self.owner = owner
        self.addresses = dict(addresses)
        self.on_ack = on_ack
        self.on_connect = on_connect
        self.senders: dict[str, _Sender] = {}
        self.connecting: set[str] = set()
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
        if sender is not None and sender.transport is not None:
            sender.transport.close()
        self.connect(name)

    async def _connect(self, name: str) -> None:
        loop = asyncio.get_running_loop()
        delay = RETRY_FIRST_S
        try:
            while not self.closed:
                host, port = self.addresses[name]
                try:
                    _, sender = await loop.create_connection(lambda: _Sender(self, name), host, port)
                except OSError as error:
                    log.debug("link connect failed; retrying", destination=name, error=str(error), delay=delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RETRY_MAX_S)
                    continue
                if sender.transport is None:
                    continue
                if (host, port) != tuple(self.addresses[name]):  # moved while connecting
                    sender.transport.close()
                    continue
                self.senders[name] = sender
                hello = msgspec.msgpack.encode([name, self.owner])
                sender.transport.writelines((_LENGTH.pack(len(hello) + 1), b"H", hello))
                break
        finally:
            self.connecting.discard(name)
        if self.connected(name):
            self.on_connect(name)

    def _lost(self, name: str, sender: _Sender) -> None:
        if self.senders.get(name) is sender:
            del self.senders[name]
            if not self.closed:
                self.reconnects += 1
                self.connect(name)

    def close(self) -> None:
        self.closed = True
        for sender in self.senders.values():
            if sender.transport is not None:
                sender.transport.close()
        self.senders.clear()
