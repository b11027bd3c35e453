"""Baskets on their way to the account shards: a load's chunks sent a few at a time per
shard, and the shards' answers added up into the load's summary.

A load comes from a ``load_orders`` request (``core.py``) or from the operator's ``orders
load FILE`` (the supervisor reads and checks the file and hands the chunks to a gateway,
``actor.py``): either way its orders enter the order path here, like any order, through
the gateway's outbox (kept until the shard acks it, written again when the link reopens).

Memory: a load's chunks wait here as their encoded bytes (``model.basket.Chunk``), each
decoded only as it is sent, so a basket of a million orders costs the gateway about its
encoded size (some 50 bytes per order), not an object per order and field.

Guarantees: each chunk is sent once (the outbox resends it after a reconnect; the shard
journals it before applying it and drops a repeat); a load is answered once, when every
chunk has its ``OrdersLoaded``; no shard has more than ``chunks_in_flight`` chunks of one
load unanswered, so other clients' requests wait behind at most that many chunks.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from actors.runtime.outbox import Outbox
from actors.runtime.outputs import ACCOUNT, Send
from model.basket import Chunk
from model.messages import LoadOrders, OrdersLoaded, Reply

Summary = dict[str, Any]


@dataclass
class _Load:
    """One basket in flight: what is still to send per shard, what is out, what came back."""

    number: int  # the load's number (``LoadOrders.load``)
    reply: Reply
    done: Callable[[Summary], None]
    started: float
    waiting: dict[str, deque[tuple[int, Chunk]]]  # shard → chunks not yet sent (number, encoded orders)
    in_flight: dict[str, int] = field(default_factory=dict)  # shard → chunks sent, not answered
    unanswered: int = 0
    answered: int = 0  # chunks answered (``unanswered`` + ``answered``: all of them)
    rows: int = 0
    accepted: int = 0
    already: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    shard_of: dict[int, str] = field(default_factory=dict)  # chunk → its shard


class BasketLoads:
    """Every load of one gateway, by the number it gave it (``LoadOrders.load``)."""

    def __init__(self, name: str, outbox: Outbox, chunks_in_flight: int) -> None:
        self.name = name
        self.outbox = outbox
        self.chunks_in_flight = chunks_in_flight
        self.loads: dict[int, _Load] = {}
        self.numbers = itertools.count(1)

    def start(self, chunks: list[Chunk], reply: Reply, done: Callable[[Summary], None]) -> int:
        """Send ``chunks`` (each shard's in order) and call ``done`` with the summary once
        every chunk is answered. ``reply`` names who asked (its ``conn`` and ``request``; conn
        0: the operator, through the supervisor). Returns the load's number."""
        number = next(self.numbers)
        load = _Load(number, reply, done, time.monotonic(), {})
        for index, chunk in enumerate(chunks):
            load.waiting.setdefault(chunk.shard, deque()).append((index, chunk))
            load.shard_of[index] = chunk.shard
            load.unanswered += 1
        if not load.unanswered:
            done(self._summary(load))
            return number
        self.loads[number] = load
        for shard in load.waiting:
            self._send(load, shard)
        return number

    def _send(self, load: _Load, shard: str) -> None:
        waiting = load.waiting[shard]
        sends = []
        while waiting and load.in_flight.get(shard, 0) < self.chunks_in_flight:
            index, chunk = waiting.popleft()
            orders = chunk.orders()  # Python objects only now, for the chunks in flight
            load.in_flight[shard] = load.in_flight.get(shard, 0) + 1
            # every account of a chunk is on its shard
            sends.append(Send(ACCOUNT, orders.accounts[0], LoadOrders(load.number, index, orders, load.reply)))
        if sends:
            self.outbox.post(sends)

    def answered(self, answer: OrdersLoaded) -> None:
        """A shard's answer to one chunk: counted, and the shard's next chunk goes out."""
        load = self.loads.get(answer.load)
        shard = load.shard_of.pop(answer.chunk, None) if load is not None else None
        if load is None or shard is None:  # a load this gateway no longer has (or an answer seen before)
            return
        load.unanswered -= 1
        load.answered += 1
        load.in_flight[shard] -= 1
        load.rows += answer.rows
        load.accepted += answer.accepted
        load.already += answer.already
        for reason, count in answer.rejected.items():
            load.rejected[reason] = load.rejected.get(reason, 0) + count
        if load.unanswered:
            self._send(load, shard)
            return
        del self.loads[answer.load]
        load.done(self._summary(load))

    @staticmethod
    def _summary(load: _Load) -> Summary:
        return {
            "rows": load.rows,
            "accepted": load.accepted,
            "rejected": sum(load.rejected.values()),
            "rejected_by_reason": dict(sorted(load.rejected.items())),
            "already_loaded": load.already,
            "ms": round((time.monotonic() - load.started) * 1000),  # whole milliseconds: no float on the wire
        }

    def status(self) -> int:
        """Loads in flight."""
        return len(self.loads)

    def progress(self) -> list[dict[str, int]]:
        """Each load in flight: its chunks, how many are answered, and the rows they held
        (what ``admin orders load`` draws its progress bar from)."""
        return [
            {"load": load.number, "chunks": load.unanswered + load.answered, "answered": load.answered, "rows": load.rows}
            for load in self.loads.values()
        ]
