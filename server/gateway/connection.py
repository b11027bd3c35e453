"""One client connection: who it is, what it may touch, and its outgoing queue.

The queue is bounded (frames and bytes): a client that does not read is dropped rather
than let the gateway's memory grow. ``write_queued`` is the one task per connection that
empties the queue onto the socket, every frame queued meanwhile in one write — and, for a
connection whose login asked for ``batch``, in as few frames as ``wsio.json_arrays`` makes.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass

import structlog
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from model.config import User
from model.messages import Message
from model.permissions import Reach, Scope
from server.gateway.ratelimit import TokenBucket
from server.gateway.wsio import json_arrays, write_frames

log = structlog.get_logger("gateway")


@dataclass(frozen=True)
class Session:
    """Who a logged-in connection is: its role (resolved: ``admin`` is ``platform_operator``),
    tenant, the scopes its credential holds, and what they come to (``model/permissions.py``,
    ``effective``): the permissions every request is checked against, and the reach of its
    accounts (``Connection.accounts``)."""

    role: str
    tenant: str
    scopes: frozenset[Scope]
    permissions: frozenset[str]
    reach: Reach
    # An API key's login: its id, when it expires, the networks it may log in from, and the
    # generation of its secret (a rotation makes a new one: the connections of the old are closed)
    key_id: str = ""
    expires_ms: int = 0
    allow: tuple[str, ...] = ()
    key_generation: int = 0
    mfa: bool = False  # the login gave a TOTP code

    @property
    def platform(self) -> bool:
        """Spans tenants."""
        return self.reach is Reach.PLATFORM


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
        self.session: Session | None = None  # set with ``user`` at login
        self.key_expiry: asyncio.TimerHandle | None = None  # an API key's session: the close at its expiry
        self.accounts: frozenset[str] = frozenset()  # the accounts within the session's reach
        self.quotes: set[str] = set()
        self.outgoing: list[bytes] = []
        self.pending_bytes = 0
        self.wake = asyncio.Event()
        self.in_flight = 0  # requests sent to the shards and not answered yet
        self.held: deque[tuple[str, Message]] = deque()  # checked commands waiting for room in flight
        self.answered = asyncio.Event()  # set whenever one of them is answered
        self.work = 0  # orders and requests handled since the connection last yielded the loop
        # a request the connection's next frames wait for: a login at the shared nonce authority,
        # an uploaded basket being checked off the event loop (other connections go on meanwhile)
        self.pending: asyncio.Task[None] | None = None
        self.batch = False  # the login asked for its frames as JSON arrays of messages

    def send(self, frame: bytes) -> None:
        """Queue a frame. A client that lets ``max_pending`` frames or ``max_pending_bytes``
        bytes pile up is disconnected (close code 1008) rather than let the gateway's memory
        grow without bound; it resynchronises by querying when it reconnects."""
        if self.dropped:
            return
        outgoing = self.outgoing
        queued = len(outgoing)
        pending_bytes = self.pending_bytes + len(frame)
        if queued >= self.max_pending or (self.max_pending_bytes is not None and pending_bytes > self.max_pending_bytes):
            log.warning("slow consumer disconnected", conn=self.conn_id, pending=queued, pending_bytes=self.pending_bytes)
            self.close(1008, "too many unread messages")
            return
        outgoing.append(frame)
        self.pending_bytes = pending_bytes
        if not queued:
            self.wake.set()

    def close(self, code: int, reason: str) -> None:
        """Close with ``code`` and ``reason``; nothing more is sent. (The task is kept: the
        loop holds only a weak reference to it.)"""
        if self.dropped:
            return
        self.dropped = True
        self.closing = asyncio.get_running_loop().create_task(self.socket.close(code, reason))


async def write_queued(conn: Connection) -> None:
    """Everything queued for the connection goes out in one write, in order. Runs until the
    connection closes (the reader sees the same close and forgets the connection) or is
    cancelled."""
    try:
        while True:
            await conn.wake.wait()
            conn.wake.clear()
            frames, conn.outgoing, pending, conn.pending_bytes = conn.outgoing, [], conn.pending_bytes, 0
            if frames:
                await write_frames(conn.socket, json_arrays(frames, pending) if conn.batch else frames)
    except (ConnectionClosed, ConnectionError):
        pass
