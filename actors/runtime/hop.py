"""Batched, sequenced actor-to-actor messaging (docs/design.md, "How a message travels").

Sending: one outbox per destination actor; each flush is one msgspec-encoded ``Batch``
carrying ``(sender, seq)``, handed to a fire-and-forget ``deliver`` (a link write between
actors, ``actors/runtime/link.py``; a Ray call on the supervisor's control path) — nobody waits.

Every sender keeps each batch until the receiver acks it (``actors/runtime/link.py``) and writes
the unacked ones again when a connection reopens. A journaled actor's outbox is part of
its state (``DurableOutbox``): its batches are a pure function of its journaled inputs, so
a restarted actor regenerates exactly the batches, with the same seqs, that it may have
sent before it died.

Receiving: batches from each sender are applied in ``seq`` order; a duplicate is dropped
and a batch that arrives early is held until the gap before it is filled (a reconnect may
repeat batches; a resend after a restart repeats many).
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable, Iterable
from typing import Any

from actors.runtime.outputs import ACCOUNT, ALL, DROP_COPY, GATEWAY, INSTRUMENT, VENUE, Send
from model.config import BatchingSection, Config
from model.messages import Batch, Message, encode_batch
from model.routing import shard_of


def account_actor(index: int) -> str:
    return f"account-{index}"


def instrument_actor(index: int) -> str:
    return f"instrument-{index}"


def venue_actor(venue: str) -> str:
    return f"venue-{venue}"


def gateway_actor(index: int) -> str:
    return f"gateway-{index}"


SUPERVISOR = "supervisor"
DROP_COPY_ACTOR = "drop-copy"


class Router:
    """Turns a core's ``(kind, key)`` into actor names, from the topology in config."""

    def __init__(self, config: Config, gateways: int = 1) -> None:
        self.shards = config.topology.account_shards
        self.instrument_count = config.topology.instrument_actors
        self.venues = [venue.name for venue in config.venues]
        self.gateways = [gateway_actor(i) for i in range(gateways)]
        self._instrument_cache: dict[str, str] = {}
        self._account_cache: dict[str, str] = {}
        self._everyone = {  # fan-out lists, shared: callers only read them
            ACCOUNT: [account_actor(i) for i in range(self.shards)],
            INSTRUMENT: [instrument_actor(i) for i in range(self.instrument_count)],
            VENUE: [venue_actor(v) for v in self.venues],
            GATEWAY: self.gateways,
            DROP_COPY: [DROP_COPY_ACTOR] if config.drop_copy.enabled else [],
        }
        # who may send batches: a gateway only under its signed name (see ``is_sender``)
        self._senders = {name for kind, names in self._everyone.items() if kind != GATEWAY for name in names} | {SUPERVISOR}

    def is_sender(self, name: str) -> bool:
        """Whether a link may accept batches from ``name``: an actor of this topology, the
        supervisor, or a gateway under the name it signs with (``gateway-N~<incarnation>``)."""
        base, tilde, incarnation = name.partition("~")
        if tilde:
            return base in self.gateways and incarnation.isascii() and incarnation.isdigit()
        return name in self._senders

    def account(self, account: str) -> str:
        name = self._account_cache.get(account)
        if name is None:
            name = self._account_cache[account] = account_actor(shard_of(account, self.shards))
        return name

    def instrument(self, symbol: str) -> str:
        name = self._instrument_cache.get(symbol)
        if name is None:
            name = self._instrument_cache[symbol] = instrument_actor(shard_of(symbol, self.instrument_count))
        return name

    def resolve(self, kind: str, key: str) -> list[str]:
        if key == ALL:
            everyone = self._everyone.get(kind)
            if everyone is None:
                raise ValueError(f"unknown destination kind {kind}")
            return everyone
        if kind == ACCOUNT:
            return [self.account(key)]
        if kind == INSTRUMENT:
            return [self.instrument(key)]
        if kind == VENUE:
            return [venue_actor(key)]
        if kind == GATEWAY:
            return [key]
        raise ValueError(f"unknown destination kind {kind}")


class Inbox:
    """In-order, duplicate-free delivery of batches per sender. Also keeps the recent
    one-way hop delays (send to receipt, queueing included) for ``status``."""

    def __init__(self, delay_samples: int = 1024, soft: bool = False) -> None:
        self.soft = soft  # soft state (a gateway): the first batch seen from a sender starts its sequence
        self.applied: dict[str, int] = {}
        self.held: dict[str, dict[int, Batch]] = {}
        self.delays: collections.deque[int] = collections.deque(maxlen=delay_samples)

    def delay_percentiles(self) -> dict[str, float]:
        """p50/p99 of recent hop delays, in milliseconds."""
        if not self.delays:
            return {}
        ordered = sorted(self.delays)
        return {
            "hop_ms_p50": round(ordered[len(ordered) // 2] / 1e6, 3),
            "hop_ms_p99": round(ordered[int(len(ordered) * 0.99)] / 1e6, 3),
        }

    def accept(self, batch: Batch, now: int | None = None) -> list[Batch]:
        """The batches now ready to apply, in order (possibly none, possibly several)."""
        if now is not None:
            self.delays.append(now - batch.ts)
        last = self.applied.get(batch.sender)
        if last is None:
            last = batch.seq - 1 if self.soft else 0
        if batch.seq <= last:
            return []
        if batch.seq != last + 1:
            self.held.setdefault(batch.sender, {})[batch.seq] = batch
            return []
        ready = [batch]
        held = self.held.get(batch.sender)
        seq = batch.seq
        while held and seq + 1 in held:
            seq += 1
            ready.append(held.pop(seq))
        self.applied[batch.sender] = seq
        return ready

    def waiting(self) -> int:
        return sum(len(held) for held in self.held.values())


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
            self.seq[name] = seq
            data = encode_batch(Batch(self.sender, seq, wall, chunk))
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


def _drop_acked(unacked: collections.deque[tuple[int, bytes]] | None, seq: int) -> None:
    while unacked and unacked[0][0] <= seq:
        unacked.popleft()


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

    def record(self, sends: Iterable[Send], now: int) -> None:
        groups: dict[str, list[Message]] = {}
        for send in sends:
            for name in self.router.resolve(send.kind, send.key):
                group = groups.get(name)
                if group is None:
                    group = groups[name] = []
                group.append(send.message)
        for name, messages in groups.items():
            unacked = self.unacked.get(name)
            if unacked is None:
                unacked = self.unacked[name] = collections.deque()
            for start in range(0, len(messages), self.max_messages):
                seq = self.seq.get(name, 0) + 1
                self.seq[name] = seq
                data = encode_batch(Batch(self.sender, seq, now, messages[start : start + self.max_messages]))
                unacked.append((seq, data))
                self.fresh.append((name, data))

    def take_fresh(self) -> list[tuple[str, bytes]]:
        fresh, self.fresh = self.fresh, []
        self.batches_sent += len(fresh)
        return fresh

    def on_ack(self, name: str, seq: int) -> None:
        if seq > self.acked.get(name, 0):
            self.acked[name] = seq
        _drop_acked(self.unacked.get(name), seq)

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
