"""Receiving batches (docs/design.md, "How a message travels"): each sender's batches are
applied in ``seq`` order; a duplicate is dropped and a batch that arrives early is held
until the gap before it is filled (a reconnect may repeat batches; a resend after a
restart repeats many).
"""

from __future__ import annotations

import collections

from actors.runtime.histogram import Histogram

from model.messages import Batch

# The seq of a *soft* batch: outside every sequence, never acked, kept or sent again, and not
# journaled as received — what it carries is state its receiver can be given again (an
# InstrumentActor's latest quotes to the account shards: ``actors/account/marks.py``).
# Sequenced batches count from 1.
SOFT = 0


class Inbox:
    """In-order, duplicate-free delivery of batches per sender. Also keeps the recent
    one-way hop delays (send to receipt, queueing included) for ``status``."""

    def __init__(self, delay_samples: int = 1024, soft: bool = False) -> None:
        self.soft = soft  # soft state (a gateway): the first batch seen from a sender starts its sequence
        self.applied: dict[str, int] = {}
        self.held: dict[str, dict[int, Batch]] = {}
        self.delays: collections.deque[int] = collections.deque(maxlen=delay_samples)
        self.histogram: Histogram | None = None  # set by a shell that exposes /metrics (``[web] latency_buckets_us``)

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
            if self.histogram is not None:
                self.histogram.record(now - batch.ts)
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
