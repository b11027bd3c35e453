"""Receiving batches: in order per sender, each once, early ones held until the gap fills."""

from __future__ import annotations

from actors.runtime.inbox import Inbox
from model.messages import Batch, SetTradingStatus


def batch(sender: str, seq: int) -> Batch:
    return Batch(sender, seq, 0, [SetTradingStatus(f"S{seq}", True)])


def test_inbox_applies_each_senders_batches_in_order_and_once() -> None:
    inbox = Inbox()
    assert inbox.accept(batch("a", 2)) == []
    assert inbox.accept(batch("a", 3)) == []
    assert [b.seq for b in inbox.accept(batch("a", 1))] == [1, 2, 3]
    assert inbox.accept(batch("a", 2)) == []  # a repeat is dropped
    assert [b.seq for b in inbox.accept(batch("b", 1))] == [1]  # senders are independent
    assert inbox.waiting() == 0


def test_a_soft_inbox_starts_each_sender_where_its_first_batch_is() -> None:
    inbox = Inbox(soft=True)
    assert [b.seq for b in inbox.accept(batch("a", 7))] == [7]  # a gateway joins a running sequence
    assert inbox.accept(batch("a", 7)) == [] and [b.seq for b in inbox.accept(batch("a", 8))] == [8]
    assert Inbox().accept(batch("a", 7)) == []  # a journaled actor holds it until 1..6 arrive
