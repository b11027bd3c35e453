"""Sending batches: the paced outbox of a gateway and the deterministic outbox of a
journaled actor."""

from __future__ import annotations

import asyncio

import pytest

from actors.runtime.outbox import DurableOutbox, Outbox, batches_of
from actors.runtime.outputs import ACCOUNT, ALL, GATEWAY, INSTRUMENT, Send
from actors.runtime.router import Router
from model.config import BatchingSection, Config, TopologySection
from model.messages import AllocationFills, Batch, SetTradingStatus, decode_batch

CONFIG = Config(topology=TopologySection(account_shards=3, instrument_actors=2))


async def test_outbox_sends_one_sequenced_batch_per_destination_per_turn() -> None:
    sent: list[tuple[str, Batch]] = []
    outbox = Outbox("me", Router(CONFIG), BatchingSection(), lambda name, data: sent.append((name, decode_batch(data))))
    outbox.post([Send(INSTRUMENT, "IBM", SetTradingStatus("IBM", True)), Send(INSTRUMENT, "IBM", SetTradingStatus("IBM", False))])
    outbox.post([Send(ACCOUNT, ALL, SetTradingStatus("IBM", True))])
    assert sent == []  # nothing leaves before the end of the turn
    await asyncio.sleep(0)
    assert sorted(name for name, _ in sent) == ["account-0", "account-1", "account-2", Router(CONFIG).instrument("IBM")]
    instrument_batch = next(b for name, b in sent if name.startswith("instrument"))
    assert (instrument_batch.sender, instrument_batch.seq, len(instrument_batch.messages)) == ("me", 1, 2)
    outbox.post([Send(INSTRUMENT, "IBM", SetTradingStatus("IBM", True))])
    await asyncio.sleep(0)
    assert [b.seq for name, b in sent if name.startswith("instrument")] == [1, 2]


async def test_outbox_paces_a_busy_destination_into_bigger_batches() -> None:
    sent: list[Batch] = []
    outbox = Outbox("me", Router(CONFIG), BatchingSection(flush_interval_us=20_000), lambda name, data: sent.append(decode_batch(data)))
    outbox.post([Send(GATEWAY, ALL, SetTradingStatus("X", True))])
    await asyncio.sleep(0)
    for _ in range(5):
        outbox.post([Send(GATEWAY, ALL, SetTradingStatus("X", True))])
        await asyncio.sleep(0)
    assert [len(b.messages) for b in sent] == [1]  # the next batch waits for the interval
    await asyncio.sleep(0.03)
    assert [len(b.messages) for b in sent] == [1, 5]


async def test_outbox_sends_at_once_when_a_batch_is_full() -> None:
    sent: list[Batch] = []
    outbox = Outbox("me", Router(CONFIG), BatchingSection(max_messages=3, flush_interval_us=10**6), lambda name, data: sent.append(decode_batch(data)))
    outbox.post([Send(GATEWAY, ALL, SetTradingStatus("X", True))] * 3)
    assert [len(b.messages) for b in sent] == [3]
    outbox.flush()
    assert outbox.waiting() == 0


async def test_a_batch_that_cannot_be_encoded_uses_no_sequence_number() -> None:
    """Its receiver applies batches in order: a number taken and never sent would hold every
    later batch there for good."""
    sent: list[Batch] = []
    outbox = Outbox("me", Router(CONFIG), BatchingSection(), lambda name, data: sent.append(decode_batch(data)))
    outbox.post([Send(GATEWAY, ALL, SetTradingStatus("X" * 3, True))])
    outbox.flush()
    outbox.post([Send(GATEWAY, ALL, SetTradingStatus(2**64, True))])  # type: ignore[arg-type]  # past what msgpack holds
    with pytest.raises(OverflowError):
        outbox.flush()
    outbox.post([Send(GATEWAY, ALL, SetTradingStatus("Y", True))])
    outbox.flush()
    assert [(b.seq, b.messages[0].symbol) for b in sent] == [(1, "XXX"), (2, "Y")]


def test_a_durable_outbox_makes_the_same_batches_from_the_same_outputs() -> None:
    """Replay rebuilds the batches byte for byte: one per destination per record, split at
    max_messages, next seq, ``ts`` = the record's now; acked ones are dropped."""
    sends = [Send(ACCOUNT, ALL, SetTradingStatus("IBM", True)), *[Send(GATEWAY, "gateway-0", SetTradingStatus(f"S{i}", True)) for i in range(5)]]
    outboxes = [DurableOutbox("me", Router(CONFIG), 2) for _ in range(2)]
    for outbox in outboxes:
        outbox.record(sends, 1234)
        outbox.record(sends[:1], 5678)
    live, replayed = outboxes
    assert live.take_fresh() == replayed.take_fresh()
    gateway = [decode_batch(data) for _, data in live.unacked["gateway-0"]]
    assert [(b.seq, b.ts, len(b.messages)) for b in gateway] == [(1, 1234, 2), (2, 1234, 2), (3, 1234, 1)]
    assert [b.seq for b in (decode_batch(data) for _, data in live.unacked["account-0"])] == [1, 2]
    live.on_ack("gateway-0", 2)
    assert [seq for seq, _ in live.unacked["gateway-0"]] == [3] and not live.all_acked()
    for name, seq in live.seq.items():
        live.on_ack(name, seq)
    assert live.all_acked() and live.unacked_batches() == 0
    fresh = DurableOutbox("me", Router(CONFIG), 2)
    fresh.load(replayed.dump())
    assert fresh.seq == replayed.seq and fresh.unacked == replayed.unacked and fresh.fresh == []


def _fills(rows: int, block: str = "B1") -> AllocationFills:
    return AllocationFills(block, "IBM", "SIM", 1, [f"account-0-{i}" for i in range(rows)], ["U1"] * rows, [1] * rows, [1] * rows, [True] * rows, 0)


def test_batches_of_counts_an_allocations_fills_as_rows() -> None:
    """A batch holds at most ``step`` rows: an allocation's chunk counts its fills, any other
    message one; a message larger than a batch goes alone; the order is kept."""
    status = SetTradingStatus("IBM", True)
    messages = [_fills(600, "B1"), status, _fills(300, "B2"), _fills(200, "B3"), status, _fills(1500, "B4"), status]
    batches = batches_of(messages, 1000)  # type: ignore[arg-type]
    assert [[m.carried() for m in batch] for batch in batches] == [[600, 1, 300], [200, 1], [1500], [1]]
    assert [m for batch in batches for m in batch] == messages
    assert batches_of([status] * 5, 2) == [[status] * 2, [status] * 2, [status]]  # type: ignore[list-item]
    assert batches_of([status] * 2, 2) == [[status] * 2]  # type: ignore[list-item]


def test_a_durable_outbox_bounds_a_batch_of_allocation_fills_by_rows() -> None:
    """The open's allocations to one shard leave in batches of at most ``max_messages`` fills
    (a window of unacked batches then bounds what waits at the shard), not in one batch of a
    million; replayed, the same batches come out."""
    sends = [Send(ACCOUNT, "U1", _fills(400, f"B{i}")) for i in range(10)]
    outboxes = [DurableOutbox("me", Router(CONFIG), 1000) for _ in range(2)]
    for outbox in outboxes:
        outbox.record(sends, 1)
    live, replayed = outboxes
    assert live.take_fresh() == replayed.take_fresh()
    name = Router(CONFIG).account("U1")
    batches = [decode_batch(data) for _, data in live.unacked[name]]
    assert [sum(len(m.order_ids) for m in b.messages) for b in batches] == [800, 800, 800, 800, 800]  # type: ignore[attr-defined]
    assert [b.seq for b in batches] == [1, 2, 3, 4, 5]


def test_a_durable_outbox_counts_the_bytes_of_acked_batches_that_carried_rows() -> None:
    """What the host trims glibc after (``DurableHost._bulk_done``): acked batches that carried
    an allocation's fills count, whatever their size; others (the steady flow of orders,
    however large its batches) do not."""
    outbox = DurableOutbox("me", Router(CONFIG), 1000)
    name = Router(CONFIG).account("U1")
    outbox.record([Send(ACCOUNT, "U1", _fills(1000, "B1")), Send(ACCOUNT, "U1", _fills(10, "B2"))], 1)
    outbox.record([Send(ACCOUNT, "U1", SetTradingStatus("IBM", True))] * 500, 2)
    sizes = [len(data) for _, data in outbox.unacked[name]]
    assert len(sizes) == 3 and outbox.bulk[name] == {1, 2} and sizes[2] > sizes[1]
    outbox.on_ack(name, 1)
    assert outbox.bulk_acked == sizes[0]
    outbox.bulk_acked = 0
    outbox.on_ack(name, 3)
    assert outbox.bulk_acked == sizes[1] and not outbox.unacked[name] and not outbox.bulk[name]  # the status batch freed, not counted
