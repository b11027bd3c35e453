"""Sending batches, each carrying ``(sender, seq)`` (docs/design.md, "How a message travels").

``Outbox`` (a gateway's): one outbox per destination actor; each flush is one
msgspec-encoded ``Batch`` handed to a fire-and-forget ``deliver`` (a link write between
actors, ``actors/runtime/link.py``) — nobody waits.

Every sender keeps each batch until the receiver acks it and writes the unacked ones again
when a connection reopens. A journaled actor's outbox is part of its state
(``DurableOutbox``): its batches are a pure function of its journaled inputs, so a
restarted actor regenerates exactly the batches, with the same seqs, that it may have sent
before it died.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable, Iterable
from typing import Any

from actors.runtime.outputs import Send
from actors.runtime.router import Router
from model.config import BatchingSection
from model.messages import Batch, Message, encode_batch


class Outbox:
    """Per-destination outboxes, paced so that busier means bigger batches, not more calls.

    Each batch costs a delivery (a system call on a link, far more as a Ray call) whatever it
    carries, so the number of batches — not messages — is what must stay bounded. A message
    for a destination that has not been sent to for ``flush_interval_us`` goes at the end
    of the current event-loop turn (with whatever else the turn produced); after that, the
    destination gets at most one batch per ``flush_interval_us``, and everything that
    arrived meanwhile rides in it. A batch is sent at once when it reaches ``max_messages``.

    ``deliver(name, data)`` hands one encoded batch to the actor ``name``, fire and forget.
    """

    def __init__(
        self,
        sender: str,
        router: Router,
        batching: BatchingSection,
        deliver: Callable[[str, bytes], Any],
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.sender = sender
        self.router = router
        self.max_messages = batching.max_messages
        self.gap_ns = batching.flush_interval_us * 1000
        self.deliver = deliver
        self.loop = loop
        self.pending: dict[str, list[Message]] = {}
        self.last_sent: dict[str, int] = {}
        self.seq: dict[str, int] = {}
        self.timer: asyncio.Handle | None = None
        self.unacked: dict[str, collections.deque[tuple[int, bytes]]] = {}
        self.batches_sent = 0
        self.messages_sent = 0

    def post(self, sends: Iterable[Send]) -> None:
        full: list[str] = []
        for send in sends:
            for name in self.router.resolve(send.kind, send.key):
                queue = self.pending.get(name)
                if queue is None:
                    queue = self.pending[name] = []
                queue.append(send.message)
                if len(queue) == self.max_messages:
                    full.append(name)
        for name in full:
            self._send(name, time.monotonic_ns())
        self._schedule()

    def flush(self) -> None:
        """Send everything now (shutdown, operator commands)."""
        now = time.monotonic_ns()
        for name in list(self.pending):
            self._send(name, now)

    def _schedule(self) -> None:
        if self.timer is not None or not self.pending:
            return
        loop = self.loop or asyncio.get_running_loop()
        due = min(self.last_sent.get(name, 0) for name in self.pending) + self.gap_ns
        delay = due - time.monotonic_ns()
        if delay <= 0:
            self.timer = loop.call_soon(self._flush_due)
        else:
            self.timer = loop.call_later(delay / 1e9, self._flush_due)

    def _flush_due(self) -> None:
        self.timer = None
        now = time.monotonic_ns()
        for name in list(self.pending):
            if self.last_sent.get(name, 0) + self.gap_ns <= now:
                self._send(name, now)
        self._schedule()

    def _send(self, name: str, now: int) -> None:
        messages = self.pending.pop(name, None)
        if not messages:
            return
        self.last_sent[name] = now
        wall = time.time_ns()
        for start in range(0, len(messages), self.max_messages):
            chunk = messages[start : start + self.max_messages]
            seq = self.seq.get(name, 0) + 1
            data = encode_batch(Batch(self.sender, seq, wall, chunk))
            self.seq[name] = seq  # once encoded: a batch that cannot be sent leaves no gap the receiver would wait on forever
            unacked = self.unacked.get(name)
            if unacked is None:
                unacked = self.unacked[name] = collections.deque()
            unacked.append((seq, data))
            self.deliver(name, data)
            self.batches_sent += 1
            self.messages_sent += len(chunk)

    def on_ack(self, name: str, seq: int) -> None:
        _drop_acked(self.unacked.get(name), seq)

    def waiting(self) -> int:
        return sum(len(queue) for queue in self.pending.values())

    def unacked_batches(self) -> int:
        return sum(len(queue) for queue in self.unacked.values())


def batches_of(messages: list[Message], step: int, carries: bool | None = None) -> list[list[Message]]:
    """``messages`` cut, in order, into batches of at most ``step`` rows each: a message
    counts one row, or what it ``carried()`` if it carries ``many`` (an allocation's fills for up
    to ``step`` orders) — at least one message a batch.

    Why rows and not messages: a batch is what its receiver applies and journals in one
    record and acks at once. Counted in messages, the open's allocations went to a shard in
    batches of up to a million fills, and the shard applied half of its open in one record:
    every fill's report and audit event alive at once (measured: 245,000 audit events and
    491,000 sends in one shard at 1,000,000 orders), the window of unacked batches
    (``[batching] max_in_flight_to_shard``) no bound at all. ``carries``: whether any of
    ``messages`` carries ``many`` (``None``: look)."""
    if not (any(message.many for message in messages) if carries is None else carries):
        return [messages] if len(messages) <= step else [messages[start : start + step] for start in range(0, len(messages), step)]
    batches: list[list[Message]] = []
    batch: list[Message] = []
    size = 0
    for message in messages:
        rows = message.carried() if message.many else 1
        if batch and size + rows > step:
            batches.append(batch)
            batch, size = [], 0
        batch.append(message)
        size += rows
    if batch:
        batches.append(batch)
    return batches


def _drop_acked(unacked: collections.deque[tuple[int, bytes]] | None, seq: int, bulk: set[int] | None = None) -> int:
    """Drop the batches up to ``seq``; returns the bytes of those whose seq is in ``bulk``
    (taken out of it)."""
    freed = 0
    while unacked and unacked[0][0] <= seq:
        number, data = unacked.popleft()
        if bulk and number in bulk:
            bulk.discard(number)
            freed += len(data)
    return freed


class DurableOutbox:
    """The outbox of a journaled actor, part of its state and snapshot.

    ``record(sends, now)`` turns the outputs of one journaled input record into batches:
    one per destination (split at ``max_messages``), each with the next seq to that
    destination and ``ts = now`` of the record. Nothing here reads a clock, so replaying
    the journal rebuilds the same batches, byte for byte. A batch stays until acked;
    ``fresh`` holds the ones not yet written since they were made.
    """

    def __init__(self, sender: str, router: Router, max_messages: int) -> None:
        self.sender = sender
        self.router = router
        self.max_messages = max_messages
        self.seq: dict[str, int] = {}
        self.acked: dict[str, int] = {}
        self.unacked: dict[str, collections.deque[tuple[int, bytes]]] = {}
        self.fresh: list[tuple[str, bytes]] = []
        self.batches_sent = 0
        self.bytes_made = 0  # encoded since the host last looked (``DurableHost``: when to trim the heap)
        self.bulk_acked = 0  # bytes of bulk batches acked since the host last looked (the same)
        self.bulk: dict[str, set[int]] = {}  # destination → seqs of its unacked batches that carry rows (``many``: an allocation's fills)

    def record(self, sends: Iterable[Send], now: int, fresh: bool = True) -> None:
        """Turn one record's outputs into batches. ``fresh``: also queue them to be written
        now (live); a replay keeps them only as unacked (they go when the links open)."""
        groups: dict[str, list[Message]] = {}
        resolved = self.router.resolved  # (kind, key) -> names; ``resolve`` fills it
        for kind, key, message in sends:
            names = resolved.get((kind, key))
            if names is None:
                names = self.router.resolve(kind, key)
            for name in names:
                group = groups.get(name)
                if group is None:
                    groups[name] = [message]
                else:
                    group.append(message)
        step = self.max_messages
        sender = self.sender
        for name, messages in groups.items():
            unacked = self.unacked.get(name)
            if unacked is None:
                unacked = self.unacked[name] = collections.deque()
            seq = self.seq.get(name, 0)
            carries = any(message.many for message in messages)
            for chunk in batches_of(messages, step, carries):
                seq += 1
                data = encode_batch(Batch(sender, seq, now, chunk))
                self.bytes_made += len(data)
                unacked.append((seq, data))
                if carries and any(message.many for message in chunk):
                    self.bulk.setdefault(name, set()).add(seq)
                if fresh:
                    self.fresh.append((name, data))
            self.seq[name] = seq

    def take_fresh(self) -> list[tuple[str, bytes]]:
        fresh, self.fresh = self.fresh, []
        self.batches_sent += len(fresh)
        return fresh

    def on_ack(self, name: str, seq: int) -> None:
        if seq > self.acked.get(name, 0):
            self.acked[name] = seq
        self.bulk_acked += _drop_acked(self.unacked.get(name), seq, self.bulk.get(name))

    def all_acked(self) -> bool:
        return all(self.acked.get(name, 0) >= seq for name, seq in self.seq.items())

    def unacked_batches(self) -> int:
        return sum(len(queue) for queue in self.unacked.values())

    def waiting(self) -> int:
        return self.unacked_batches()

    # --- snapshot -----------------------------------------------------------------------------

    def dump(self) -> tuple[dict[str, int], dict[str, list[tuple[int, bytes]]]]:
        return dict(self.seq), {name: list(queue) for name, queue in self.unacked.items() if queue}

    def load(self, state: tuple[dict[str, int], dict[str, list[tuple[int, bytes]]]]) -> None:
        seqs, unacked = state
        self.seq = dict(seqs)
        self.unacked = {name: collections.deque(queue) for name, queue in unacked.items()}
        self.fresh = []
