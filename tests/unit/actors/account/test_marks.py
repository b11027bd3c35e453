"""An account shard's marks without Ray: soft until a record carries them, never a commit of
their own, the latest per symbol at the head of the next record, replayed exactly."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec

from actors.account.core import AccountState
from actors.account.marks import MarksHost
from actors.account.risk import RiskLimits
from actors.runtime.inbox import SOFT
from actors.runtime.machine import LOCAL, record_decoder
from model import fixed
from model.config import Config, JournalSection, ServerSection
from model.enums import OrderType, Side, TimeInForce
from model.messages import Batch, MarketUpdate, NewOrder, OpenAccount, Reply, decode_batch, encode_batch
from model.orders import OrderSpec
from tests.conftest import demo_setup
from tests.unit.actors.runtime.support import Channel

SETUP = demo_setup()
GATEWAY = "gateway-0~1"
D = fixed.parse


class Shard(MarksHost):
    def make_core(self) -> AccountState:
        return AccountState(self.name, SETUP.instruments, RiskLimits.from_config(self.config.risk))


def shard(data_dir: Path, durability: str = "buffered") -> Shard:
    config: Config = msgspec.structs.replace(
        SETUP.config, server=ServerSection(data_dir=str(data_dir)), journal=JournalSection(durability=durability)
    )
    actor = Shard("account-0", config)
    actor.recover(str(data_dir))
    return actor


def marks(*quotes: tuple[str, str]) -> bytes:
    updates = [MarketUpdate("IBM", D(bid), D(ask), (D(bid) + D(ask)) // 2, False, 0) for bid, ask in quotes]
    return encode_batch(Batch("instrument-1", SOFT, 0, updates))


def market_buy(seq: int, client_order_id: str) -> bytes:
    spec = OrderSpec("IBM", Side.BUY, OrderType.MARKET, TimeInForce.DAY, D("10"), None, None, None)
    return encode_batch(Batch(GATEWAY, seq, 0, [NewOrder("A1", client_order_id, spec, Reply("gateway-0", seq, b""))]))


def reserved_at(ask: str) -> int:
    """What a market buy of 10 IBM holds when the ask is ``ask``: 10 × the ask moved up by the
    5 % collar, on the tick."""
    price = fixed.ceil_to(D(ask) + fixed.mul(D(ask), D("0.05")), D("0.01"))
    return 10 * price


async def turn() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


async def opened(actor: Shard) -> None:
    actor.submit_local([OpenAccount("A1", "trader1", D("100000"))])
    await turn()


def record_batches(actor: Shard, seq: int) -> list[Batch]:
    payload = dict(actor.journal.read_from(seq))[seq]
    return [decode_batch(raw) for raw in record_decoder.decode(payload).batches]


async def test_a_mark_asks_for_no_commit_and_is_not_applied_on_its_own(tmp_path: Path) -> None:
    actor = shard(tmp_path)
    await opened(actor)
    records = actor.journal.last_seq
    for _ in range(5):
        actor.receive(marks(("160.00", "160.10")), Channel())
        await turn()
    assert actor.journal.last_seq == records
    assert "IBM" not in actor.core.markets  # soft: the core holds only what its journal holds
    await actor.settle()
    assert actor.journal.last_seq == records  # nothing to settle: a mark alone makes no record


async def test_the_latest_mark_rides_at_the_head_of_the_next_record_and_prices_the_order(tmp_path: Path) -> None:
    actor = shard(tmp_path)
    await opened(actor)
    actor.receive(marks(("159.00", "159.10")), Channel())
    actor.receive(marks(("160.00", "160.10")), Channel())
    channel = Channel()
    actor.receive(market_buy(1, "c1"), channel)
    await turn()
    head, order = record_batches(actor, actor.journal.last_seq)
    assert head.sender == LOCAL and head.messages == [MarketUpdate("IBM", D("160.00"), D("160.10"), D("160.05"), False, 0)]
    assert order.sender == GATEWAY and channel.acks == [1]
    assert actor.core.accounts["A1"].reserved_cash == reserved_at("160.10")
    assert actor.marks == {}


async def test_with_fsync_a_record_carries_the_marks_that_came_before_it_was_made(tmp_path: Path) -> None:
    """Pipelined: inputs wait while a commit is in flight, and so do marks; the record made
    next carries the latest of them ahead of the inputs — replay decides exactly as live."""
    actor = shard(tmp_path, durability="fsync")
    await opened(actor)
    for seq in range(1, 61):
        actor.receive(marks((f"{150 + seq % 7}.00", f"{150 + seq % 7}.10")), Channel())
        if seq % 3 == 0:
            actor.receive(market_buy(seq // 3, f"c{seq}"), Channel())
        await asyncio.sleep(0.0005 * (seq % 4))
    await actor.settle()
    assert len(actor.core.orders) == 20
    replay = await actor.replay_hash()
    assert replay["live"] == replay["replayed"]


async def test_replay_and_a_restart_make_the_same_decisions_as_live(tmp_path: Path) -> None:
    actor = shard(tmp_path)
    await opened(actor)
    for seq in range(1, 21):
        actor.receive(marks((f"{150 + seq}.00", f"{150 + seq}.10")), Channel())
        if seq % 3 == 0:
            actor.receive(market_buy(seq // 3, f"c{seq}"), Channel())
        await turn()
    replay = await actor.replay_hash()
    assert replay["live"] == replay["replayed"]
    live = actor.machine.state_hash()
    held = {order.client_order_id: order.reserved_cash for order in actor.core.orders.values()}
    assert held["c3"] == reserved_at("153.10") and held["c18"] == reserved_at("168.10")  # each at the last mark before it
    actor.journal.close()
    again = shard(tmp_path)
    assert again.machine.state_hash() == live
    # the marks after the last order were never journaled: gone with the process, the
    # journal's are kept, and a starting shard asks the InstrumentActors for the rest (fetch_marks)
    assert again.marks == {} and again.core.markets["IBM"].ask == D("168.10")


async def test_local_inputs_stay_counted_when_marks_ride_with_them(tmp_path: Path) -> None:
    actor = shard(tmp_path, durability="fsync")
    actor.receive(marks(("160.00", "160.10")), Channel())
    actor.submit_local([OpenAccount("A1", "trader1", D("100000"))])
    await asyncio.wait_for(actor.local_inputs_applied(), 5)
    assert "A1" in actor.core.accounts and actor.core.markets["IBM"].ask == D("160.10")
    assert actor.local_applied == actor.local_submitted
    await actor.settle()


def test_another_soft_message_is_ignored(tmp_path: Path) -> None:
    actor = shard(tmp_path)
    actor.receive(encode_batch(Batch("instrument-1", SOFT, 0, [OpenAccount("A9", "x", D("1"))])), Channel())
    assert actor.marks == {} and actor.marks_received == 0 and actor.journal.last_seq == 0


def test_marks_from_anyone_but_an_instrument_actor_are_ignored(tmp_path: Path) -> None:
    actor = shard(tmp_path)
    forged = encode_batch(Batch(GATEWAY, SOFT, 0, [MarketUpdate("IBM", D("1.00"), D("1.01"), D("1.00"), False, 0)]))
    actor.receive(forged, Channel())
    assert actor.marks == {} and actor.marks_received == 0
