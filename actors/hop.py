"""Batched, sequenced actor-to-actor messaging (DESIGN.md "Batch every hop").

Sending: one outbox per destination actor, flushed when it holds ``max_messages`` or when
a short timer fires; each flush is one msgspec-encoded ``Batch`` carrying ``(sender, seq)``
and one fire-and-forget Ray call — nobody waits on it.

Receiving: batches from each sender are applied in ``seq`` order; a duplicate is dropped
and a batch that arrives early is held until the gap before it is filled (Ray does not
promise order for async actors, and retries may repeat a call).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from typing import Any

import structlog

from actors.outputs import ACCOUNT, ALL, GATEWAY, INSTRUMENT, VENUE, Send
from model.config import BatchingSection, Config
from model.messages import Batch, Message, decode_batch, encode_batch
from model.routing import shard_of

log = structlog.get_logger("hop")


def account_actor(index: int) -> str:
    return f"account-{index}"


def instrument_actor(index: int) -> str:
    return f"instrument-{index}"


def venue_actor(venue: str) -> str:
    return f"venue-{venue}"


def gateway_actor(index: int) -> str:
    return f"gateway-{index}"


SUPERVISOR = "supervisor"


class Router:
    """Turns a core's ``(kind, key)`` into actor names, from the topology in config."""

    def __init__(self, config: Config, gateways: int = 1) -> None:
        self.shards = config.topology.account_shards
        self.instrument_count = config.topology.instrument_actors
        self.venues = [venue.name for venue in config.venues]
        self.gateways = [gateway_actor(i) for i in range(gateways)]
        self._instrument_cache: dict[str, str] = {}
        self._account_cache: dict[str, str] = {}

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
        if kind == ACCOUNT:
            return [account_actor(i) for i in range(self.shards)] if key == ALL else [self.account(key)]
        if kind == INSTRUMENT:
            return [instrument_actor(i) for i in range(self.instrument_count)] if key == ALL else [self.instrument(key)]
        if kind == VENUE:
            return [venue_actor(v) for v in self.venues] if key == ALL else [venue_actor(key)]
        if kind == GATEWAY:
            return list(self.gateways) if key == ALL else [key]
        raise ValueError(f"unknown destination kind {kind}")

    def all_actors(self) -> list[str]:
        return (
            [account_actor(i) for i in range(self.shards)]
            + [instrument_actor(i) for i in range(self.instrument_count)]
            + [venue_actor(v) for v in self.venues]
            + list(self.gateways)
        )


class Inbox:
    """In-order, duplicate-free delivery of batches per sender."""

    def __init__(self) -> None:
        self.applied: dict[str, int] = {}
        self.held: dict[str, dict[int, Batch]] = {}

    def accept(self, batch: Batch) -> list[Batch]:
        """The batches now ready to apply, in order (possibly none, possibly several)."""
        last = self.applied.get(batch.sender, 0)
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
    """Per-destination outboxes with a flush timer on the owning event loop.

    ``deliver(name, data)`` makes the actual (fire-and-forget) call to the actor ``name``.
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
        self.interval = batching.flush_interval_us / 1_000_000
        self.deliver = deliver
        self.loop = loop
        self.pending: dict[str, list[Message]] = {}
        self.seq: dict[str, int] = {}
        self.timer: asyncio.TimerHandle | None = None
        self.batches_sent = 0
        self.messages_sent = 0

    def post(self, sends: Iterable[Send]) -> None:
        full = False
        for send in sends:
            for name in self.router.resolve(send.kind, send.key):
                queue = self.pending.setdefault(name, [])
                queue.append(send.message)
                full = full or len(queue) >= self.max_messages
        if full:
            self.flush()
        elif self.timer is None and self.pending:
            loop = self.loop or asyncio.get_running_loop()
            self.timer = loop.call_later(self.interval, self.flush)

    def send_now(self, name: str, messages: list[Message]) -> None:
        self.pending.setdefault(name, []).extend(messages)
        self.flush()

    def flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        pending, self.pending = self.pending, {}
        now = time.time_ns()
        for name, messages in pending.items():
            for start in range(0, len(messages), self.max_messages):
                chunk = messages[start : start + self.max_messages]
                seq = self.seq.get(name, 0) + 1
                self.seq[name] = seq
                self.deliver(name, encode_batch(Batch(self.sender, seq, now, chunk)))
                self.batches_sent += 1
                self.messages_sent += len(chunk)


def decode(data: bytes) -> Batch:
    return decode_batch(data)
