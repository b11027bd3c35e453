from __future__ import annotations

import asyncio

import pytest

from actors.runtime.hop import Inbox, Outbox, Router
from actors.runtime.outputs import ACCOUNT, ALL, GATEWAY, INSTRUMENT, Send
from model.config import BatchingSection, Config, TopologySection
from model.messages import Batch, SetTradingStatus, decode_batch

CONFIG = Config(topology=TopologySection(account_shards=3, instrument_actors=2))


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


def test_router_places_accounts_and_symbols_stably_and_fans_out_all() -> None:
    router = Router(CONFIG)
    assert router.resolve(ACCOUNT, "A1") == router.resolve(ACCOUNT, "A1")
    assert router.resolve(ACCOUNT, ALL) == ["account-0", "account-1", "account-2"]
    assert router.resolve(INSTRUMENT, ALL) == ["instrument-0", "instrument-1"]
    assert router.resolve(GATEWAY, ALL) == ["gateway-0"]
    with pytest.raises(ValueError):
        router.resolve("nowhere", "x")


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
