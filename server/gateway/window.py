"""Fairness between connections: the in-flight window and the pacing of a connection's reads.

All clients of a gateway share its one ordered stream to each account shard, so whatever
the gateway sends ahead of a request is processed before it. A connection may therefore
have at most ``max_in_flight_per_connection`` commands unanswered by the shards; the rest
wait here, in order, and the connection is not read meanwhile (docs/design.md, Fairness
between connections).
"""

from __future__ import annotations

import asyncio

from actors.runtime.outbox import Outbox
from actors.runtime.outputs import ACCOUNT, Send
from model.config import GatewaySection
from model.messages import Message
from server.gateway.connection import Connection

_make = tuple.__new__  # a ``Send`` made in C, not through the named tuple's Python ``__new__``


class InFlightWindow:
    """Counts each connection's commands in flight to the shards and holds those beyond
    the window.

    Guarantees: a connection never has more than ``size`` commands in flight; its held
    commands go out in the order they were read, one per answer; nothing a connection sent
    is lost when it goes (``release``). Counting relies on the shards answering each
    command exactly once (the first report of an order, a reply, or a refusal)."""

    __slots__ = ("orders_per_turn", "outbox", "size")

    def __init__(self, config: GatewaySection, outbox: Outbox) -> None:
        self.size = config.max_in_flight_per_connection
        self.orders_per_turn = config.orders_per_turn
        self.outbox = outbox

    def full(self, conn: Connection) -> bool:
        """True while ``conn`` has commands held or its window is used up."""
        return bool(conn.held) or conn.in_flight >= self.size

    def send(self, conn: Connection, account: str, command: Message) -> None:
        """Send ``conn``'s command to its account's shard, unless the connection already
        has ``size`` unanswered there: then it waits, in order, behind the connection's
        other held commands (``answered`` sends them)."""
        self.send_all(conn, [(account, command)])

    def send_all(self, conn: Connection, commands: list[tuple[str, Message]]) -> None:
        """``send`` for each of ``commands`` (account, command) in turn, those that go out now
        handed to the outbox together (a frame of orders is one post, not one per order)."""
        room = 0 if conn.held else max(0, self.size - conn.in_flight)
        now, later = (commands, ()) if len(commands) <= room else (commands[:room], commands[room:])
        if now:
            conn.in_flight += len(now)  # the shard answers each command exactly once (``answered``)
            self.outbox.post([_make(Send, (ACCOUNT, account, command)) for account, command in now])
        conn.held.extend(later)

    def answered(self, conn: Connection) -> None:
        """One of ``conn``'s commands has its answer: room for the next one held back."""
        in_flight = conn.in_flight
        conn.in_flight = in_flight - 1 if in_flight > 0 else 0
        while conn.held and conn.in_flight < self.size:
            account, command = conn.held.popleft()
            conn.in_flight += 1
            self.outbox.post((Send(ACCOUNT, account, command),))
        conn.answered.set()

    def release(self, conn: Connection) -> None:
        """The connection is gone: what it sent and was checked goes to the shards, as if it
        had been in flight (its answers find no connection and are dropped)."""
        while conn.held:
            account, command = conn.held.popleft()
            self.outbox.post((Send(ACCOUNT, account, command),))

    async def pace(self, conn: Connection) -> None:
        """Checked after each frame. While ``conn`` has commands held, it is not read: what it
        sends meanwhile waits in its own socket buffers (TCP pushes back on the client), not
        in the shards' queues ahead of every other client's requests. A connection that has
        handled ``orders_per_turn`` orders in a row yields the event loop, so the frames of a
        bulk sender (which websockets hands over without yielding while they are buffered)
        cannot keep other sockets unread."""
        if self.full(conn):
            closed = asyncio.ensure_future(conn.socket.wait_closed())
            try:
                while self.full(conn) and not closed.done():
                    conn.answered.clear()
                    answered = asyncio.ensure_future(conn.answered.wait())
                    await asyncio.wait((answered, closed), return_when=asyncio.FIRST_COMPLETED)
                    answered.cancel()
            finally:
                closed.cancel()
            conn.work = 0
        elif conn.work >= self.orders_per_turn:
            conn.work = 0
            await asyncio.sleep(0)
