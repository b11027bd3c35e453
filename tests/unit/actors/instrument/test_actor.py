"""The InstrumentActor's Ray shell without a cluster: its class run in this process on a
real LMDB journal in tmp_path, fed batches as its links would. The operator's counts,
the open's progress, status and the finished blocks in decimal strings."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import msgspec

from actors.instrument.actor import InstrumentActor
from actors.runtime.inbox import SOFT
from model import fixed
from model.config import Config, JournalSection, ServerSection
from model.enums import OrderType, Side, TimeInForce, VenueEventKind
from model.messages import (
    Batch,
    MarketUpdate,
    Message,
    OpenMarket,
    RouteOrder,
    VenueNewOrder,
    VenueQuote,
    VenueReport,
    decode_batch,
    encode_batch,
)
from model.orders import OrderSpec
from tests.conftest import demo_setup

SETUP = demo_setup()
Shell = InstrumentActor.__ray_actor_class__  # type: ignore[attr-defined]  # the class Ray would host, called here directly
INSTRUMENTS = [i for i in SETUP.instruments if i.symbol in ("IBM", "VFIAX")]
D = fixed.parse


class Acks:
    def ack(self, seq: int) -> None:
        pass


def config(data_dir: Path) -> Config:
    return msgspec.structs.replace(SETUP.config, server=ServerSection(data_dir=str(data_dir)), journal=JournalSection(durability="buffered"))


class Feed:
    """Batches from named senders, numbered per sender as links number them."""

    def __init__(self, actor: Any) -> None:
        self.actor = actor
        self.seqs: dict[str, int] = {}

    async def send(self, sender: str, *messages: Message) -> None:
        seq = self.seqs[sender] = self.seqs.get(sender, 0) + 1
        self.actor.receive(encode_batch(Batch(sender, seq, 0, list(messages))), Acks())
        for _ in range(3):
            await asyncio.sleep(0)


def route(order_id: str, symbol: str = "IBM", tif: TimeInForce = TimeInForce.DAY, order_type: OrderType = OrderType.MARKET,
          qty: str = "10", stop: str | None = None, account: str = "A1") -> RouteOrder:  # fmt: skip
    spec = OrderSpec(symbol, Side.BUY, order_type, tif, D(qty), None, None, D(stop) if stop else None)
    return RouteOrder(order_id, account, spec)


async def stop(actor: Any) -> None:
    await actor.close()
    actor.journal.close()


async def test_an_operator_s_cancel_all_counts_what_its_filters_cover(tmp_path: Path) -> None:
    actor = Shell("instrument-0", config(tmp_path), INSTRUMENTS)
    feed = Feed(actor)
    await feed.send("account-0", route("o1"), route("o2", account="A2", order_type=OrderType.STOP, stop="160.00"), route("o3", tif=TimeInForce.OPG))
    assert await actor.cancel_count(None, None, None) == 3
    assert await actor.cancel_count("A2", None, None) == 1
    assert await actor.cancel_count(None, "VFIAX", None) == 0
    await stop(actor)


async def test_status_shows_what_waits_for_the_open_and_for_a_nav(tmp_path: Path) -> None:
    actor = Shell("instrument-0", config(tmp_path), INSTRUMENTS)
    feed = Feed(actor)
    await feed.send("account-0", route("o1", tif=TimeInForce.OPG), route("f1", symbol="VFIAX", qty="1"))
    status = (await actor.status())["open"]
    assert (status["queued"], status["queued_for_nav"], status["blocks_working"], status["allocated"]) == (1, 1, 0, 0)
    assert await actor.nav_progress(["VFIAX"]) == {"VFIAX": []}
    await stop(actor)


async def test_the_open_waits_for_every_shard_s_marker_and_its_block_is_shown_in_decimal_strings(tmp_path: Path) -> None:
    actor = Shell("instrument-0", config(tmp_path), INSTRUMENTS)
    feed = Feed(actor)
    await feed.send("account-0", route("o1", qty="3"), route("o2", qty="1.5", tif=TimeInForce.OPG))
    await feed.send("account-1", route("o3", qty="2", account="B1", tif=TimeInForce.OPG))
    await feed.send("account-0", OpenMarket([], open_id=1, shard="account-0"))
    assert await actor.open_progress(1) == (0, 0)  # one shard's marker of two
    await feed.send("account-1", OpenMarket([], open_id=1, shard="account-1"))
    assert await actor.open_progress(1) == (1, 2) and await actor.admin_blocks() == []
    sent = [message for _, data in actor.outbox.unacked["venue-SIM"] for message in decode_batch(data).messages]
    block = [message for message in sent if isinstance(message, VenueNewOrder)][-1]  # after o1's child
    assert block.spec.qty == D("3.5")
    await feed.send("venue-SIM", VenueReport("SIM", block.child_id, VenueEventKind.TRADE, D("3.5"), D("150.123456789"), None, 1, done=True))
    (shown,) = await actor.admin_blocks()
    assert (shown["symbol"], shown["side"], shown["orders"], shown["routed"], shown["fill_qty"]) == ("IBM", "buy", 2, "3.5", "3.5")
    assert shown["fill_value"] == "525.4320987615"  # 3.5 × 150.123456789, exact
    assert "value_nanos" not in shown and "value_subnanos" not in shown
    assert (await actor.status())["open"]["allocated"] == 2  # a fill allocated to each of the two orders
    await stop(actor)


class Channel:
    def __init__(self) -> None:
        self.acks: list[int] = []

    def ack(self, seq: int) -> None:
        self.acks.append(seq)


async def test_a_venue_s_batch_of_acceptances_rides_in_the_next_record_and_is_acked_only_then(tmp_path: Path) -> None:
    actor = Shell("instrument-0", config(tmp_path), INSTRUMENTS)
    feed = Feed(actor)
    await feed.send("account-0", route("o1", order_type=OrderType.LIMIT))
    child = [m for _, data in actor.outbox.unacked["venue-SIM"] for m in decode_batch(data).messages][-1].child_id
    records = actor.journal.last_seq
    venue = Channel()
    accepted = VenueReport("SIM", child, VenueEventKind.ACCEPTED, 0, None, None, 1)
    actor.receive(encode_batch(Batch("venue-SIM", 1, 0, [accepted])), venue)
    await asyncio.sleep(0.01)
    assert actor.journal.last_seq == records and venue.acks == []  # no commit of its own: not on disk, not acked
    await feed.send("account-0", route("o2"))  # the next input's record carries it, in its place
    assert actor.journal.last_seq == records + 1 and venue.acks == [1]
    replay = await actor.replay_hash()
    assert replay["live"] == replay["replayed"]
    await stop(actor)


async def test_an_acceptance_alone_is_committed_after_lazy_commit_ms(tmp_path: Path) -> None:
    conf = msgspec.structs.replace(config(tmp_path), journal=JournalSection(durability="buffered", lazy_commit_ms=20))
    actor = Shell("instrument-0", conf, INSTRUMENTS)
    venue = Channel()
    actor.receive(encode_batch(Batch("venue-SIM", 1, 0, [VenueReport("SIM", "x-1", VenueEventKind.ACCEPTED, 0, None, None, 1)])), venue)
    assert venue.acks == []
    await asyncio.sleep(0.2)
    assert venue.acks == [1]
    await stop(actor)


async def test_a_batch_with_anything_but_acceptances_is_committed_at_once(tmp_path: Path) -> None:
    actor = Shell("instrument-0", config(tmp_path), INSTRUMENTS)
    venue = Channel()
    trade = VenueReport("SIM", "x-1", VenueEventKind.TRADE, D("1"), D("150"), None, 1)
    actor.receive(encode_batch(Batch("venue-SIM", 1, 0, [VenueReport("SIM", "x-1", VenueEventKind.ACCEPTED, 0, None, None, 1), trade])), venue)
    for _ in range(3):
        await asyncio.sleep(0)
    assert venue.acks == [1]
    await stop(actor)


async def test_marks_leave_in_no_journaled_batch_and_a_starting_shard_gets_every_current_one(tmp_path: Path) -> None:
    actor = Shell("instrument-0", config(tmp_path), INSTRUMENTS)
    feed = Feed(actor)
    await feed.send("venue-SIM", VenueQuote("SIM", "IBM", D("149.90"), D("10"), D("150.30"), D("10"), 1))
    assert not any(isinstance(m, MarketUpdate) for queue in actor.outbox.unacked.values() for _, data in queue for m in decode_batch(data).messages)
    soft = decode_batch(await actor.current_marks())
    assert soft.seq == SOFT and soft.sender == "instrument-0"
    assert [(m.symbol, m.bid, m.ask, m.reference) for m in soft.messages] == [("IBM", D("149.90"), D("150.30"), D("150.10"))]
    await stop(actor)


def crossing_config(data_dir: Path, enabled: bool) -> Config:
    from model.config import CrossingSection

    return msgspec.structs.replace(config(data_dir), crossing=CrossingSection(enabled=enabled, max_quote_age_ms=10**9))


async def test_the_crossing_policy_is_journaled_so_replay_and_a_restart_cross_alike(tmp_path: Path) -> None:
    from model.liquidity import LiquidityPolicy
    from model.messages import OrderUpdate, SetLiquidity

    actor = Shell("instrument-0", crossing_config(tmp_path, True), INSTRUMENTS)
    actor.wired()  # as wiring does: the configuration's policy differs from the empty state's
    await actor.local_inputs_applied()
    assert actor.state.policy.enabled
    feed = Feed(actor)
    now = time.time_ns()  # the quote's age is checked against the record's time
    await feed.send("venue-SIM", VenueQuote("SIM", "IBM", D("150.00"), D("100"), D("150.10"), D("100"), now))
    sell = RouteOrder("s1", "A2", OrderSpec("IBM", Side.SELL, OrderType.MARKET, TimeInForce.DAY, D("4"), None, None, None))
    await feed.send("account-0", route("b1", qty="4"), sell)
    await actor.settle()
    updates = [m for name, queue in actor.outbox.unacked.items() if name.startswith("account-")
               for _, data in queue for m in decode_batch(data).messages if isinstance(m, OrderUpdate)]
    assert sorted((u.order_id, u.venue, u.last_price) for u in updates) == [("b1", "INTERNAL", D("150.05")), ("s1", "INTERNAL", D("150.05"))]
    assert (await actor.status())["crossing"]["counts"]["crossed"] == 2
    replay = await actor.replay_hash()
    assert replay["live"] == replay["replayed"], replay
    live = await actor.state_hash()
    await stop(actor)
    again = Shell("instrument-0", crossing_config(tmp_path, True), INSTRUMENTS)  # same policy: nothing journaled
    last = again.journal.last_seq
    again.wired()
    assert again.journal.last_seq == last and await again.state_hash() == live
    await stop(again)
    off = Shell("instrument-0", crossing_config(tmp_path, False), INSTRUMENTS)  # changed: journaled from here on
    off.wired()
    await off.local_inputs_applied()
    assert off.state.policy == LiquidityPolicy.from_config(off.config.crossing, off.config.routing) and not off.state.policy.enabled
    assert SetLiquidity.__struct_config__.tag == 200
    await stop(off)
