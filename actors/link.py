"""The data plane between actors: length-prefixed batches over TCP.

Why not a Ray call per batch: on the 2-core machine a Ray actor call costs ~250 µs of CPU
to submit and the whole machine tops out near 2,000 calls/s, so a pipeline of ten busy
edges spends its cores on call overhead and an order's acknowledgement waits tens of
milliseconds in queues (measured; docs/design.md). A write on an open socket costs a
system call. Ray still places, starts, restarts and names every actor and carries the
control path (wiring, status, admin); only the hot batches travel here.

Each actor listens on its node's address (``LinkServer``); a sender keeps one connection
per destination (``Links``), opened on first use, and writes each encoded ``Batch`` as a
4-byte big-endian length and the bytes. TCP keeps a connection's batches in order; the
receiver's ``Inbox`` still checks ``(sender, seq)``, so a reconnect that repeats or skips
is caught there.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from typing import Protocol, cast

import structlog

from model.config import BatchingSection

log = structlog.get_logger("link")

_LENGTH = struct.Struct(">I")


class BatchingHost(Protocol):
    @property
    def batching(self) -> BatchingSection: ...

MAX_FRAME = 256 * 1024 * 1024


def link_host(config: BatchingHost) -> str:
    """The address an actor listens on: ``[batching] link_host``, or Ray's node address
    when it is ``"node"`` (a cluster of several machines)."""
    host = config.batching.link_host
    if host == "node":
        import ray

        return str(ray.util.get_node_ip_address())
    return host


class _Receiver(asyncio.Protocol):
    """Splits the byte stream into frames and hands each to ``on_frame`` synchronously."""

    def __init__(self, on_frame: Callable[[bytes], None]) -> None:
        self.on_frame = on_frame
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        offset = 0
        size = len(buffer)
        while size - offset >= 4:
            (length,) = _LENGTH.unpack_from(buffer, offset)
            if length > MAX_FRAME:
                log.error("frame too large; closing link", length=length)
                assert self.transport is not None
                self.transport.close()
                return
            end = offset + 4 + length
            if end > size:
                break
            self.on_frame(bytes(buffer[offset + 4 : end]))
            offset = end
        if offset:
            del buffer[:offset]


class LinkServer:
    """Accepts batch connections from other actors."""

    def __init__(self, on_frame: Callable[[bytes], None]) -> None:
        self.on_frame = on_frame
        self.server: asyncio.Server | None = None

    async def start(self, host: str) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        self.server = await loop.create_server(lambda: _Receiver(self.on_frame), host, 0)
        port = self.server.sockets[0].getsockname()[1]
        return host, int(port)

    def close(self) -> None:
        if self.server is not None:
            self.server.close()


class _Sender(asyncio.Protocol):
    def __init__(self, name: str, lost: Callable[[str], None]) -> None:
        self.name = name
        self.lost = lost
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.lost(self.name)


class Links:
    """One outgoing connection per destination actor, opened on first use.

    ``send`` never blocks: frames written before the connection is up wait in order and go
    as soon as it is. A lost connection is reopened on the next send; frames the kernel had
    not delivered when it broke are gone, which the receiver's ``(sender, seq)`` check
    reveals as a gap (resending them from the sender's outbox is the crash-safe-state
    issue's work).
    """

    def __init__(self, addresses: dict[str, tuple[str, int]]) -> None:
        self.addresses = addresses
        self.senders: dict[str, _Sender] = {}
        self.waiting: dict[str, list[bytes]] = {}
        self.connecting: set[str] = set()
        self.frames_sent = 0

    def send(self, name: str, data: bytes) -> None:
        header = _LENGTH.pack(len(data))
        sender = self.senders.get(name)
        if sender is not None and sender.transport is not None:
            sender.transport.writelines((header, data))
            self.frames_sent += 1
            return
        self.waiting.setdefault(name, []).append(header + data)
        if name not in self.connecting:
            self.connecting.add(name)
            asyncio.get_running_loop().create_task(self._connect(name))

    async def _connect(self, name: str) -> None:
        host, port = self.addresses[name]
        loop = asyncio.get_running_loop()
        try:
            _, sender = await loop.create_connection(lambda: _Sender(name, self._lost), host, port)
        except OSError as error:
            log.error("link connect failed", destination=name, error=str(error))
            self.connecting.discard(name)
            return
        self.senders[name] = sender
        self.connecting.discard(name)
        frames = self.waiting.pop(name, [])
        if frames and sender.transport is not None:
            sender.transport.write(b"".join(frames))
            self.frames_sent += len(frames)

    def _lost(self, name: str) -> None:
        self.senders.pop(name, None)

    def close(self) -> None:
        for sender in self.senders.values():
            if sender.transport is not None:
                sender.transport.close()
        self.senders.clear()
