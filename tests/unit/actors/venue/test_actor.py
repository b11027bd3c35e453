"""The VenueSession Ray shell without a cluster: its class run in this process on a real
LMDB journal in tmp_path with the sim venue. Its clock's ticks are journaled inputs, a
restart does not open the venue twice, and a bad session state is refused before the
journal."""

from __future__ import annotations

import asyncio
import socket
import uuid
from pathlib import Path
from typing import Any

import msgspec
import pytest

from actors.venue.actor import VenueActor
from model import fixed
from model.config import Config, JournalSection, ServerSection, SimSection, VenueSection
from model.enums import OrderType, Side, TimeInForce
from model.messages import Batch, VenueNewOrder, VenueQuote, VenueReport, decode_batch, encode_batch
from model.orders import OrderSpec
from tests.conftest import ROOT, demo_setup
from tests.unit.adapters.fix.wire import ACCEPTED, TRADE, changed, from_venue

SETUP = demo_setup()
Shell = VenueActor.__ray_actor_class__  # type: ignore[attr-defined]  # the class Ray would host, called here directly
SIM = VenueSection(name="SIM", symbols=["IBM", "AAPL"])


def config(data_dir: Path, quote_interval_ms: int = 20) -> Config:
    return msgspec.structs.replace(
        SETUP.config,
        server=ServerSection(data_dir=str(data_dir)),
        journal=JournalSection(durability="buffered"),
        sim=SimSection(quote_interval_ms=quote_interval_ms),
    )


def quotes_sent(actor: Any) -> list[VenueQuote]:
    return [m for queue in actor.outbox.unacked.values() for _, data in queue for m in decode_batch(data).messages if isinstance(m, VenueQuote)]


async def stop(actor: Any) -> None:
    await actor.close()
    actor.journal.close()


async def test_start_opens_the_venue_and_its_clock_journals_a_tick_per_wakeup(tmp_path: Path) -> None:
    actor = Shell("venue-SIM", config(tmp_path), SIM, SETUP.instruments)
    await actor.start()
    first = actor.journal.last_seq
    assert (await actor.status())["session"] == "open" and {quote.symbol for quote in quotes_sent(actor)} == {"IBM", "AAPL"}
    await asyncio.sleep(0.3)  # about 15 ticks of 20 ms
    ticks = actor.journal.last_seq - first
    assert 3 <= ticks <= 30, ticks  # one record per wakeup, not one per event-loop turn
    await stop(actor)
    assert actor.clock is None


async def test_a_restart_finds_the_venue_open_and_does_not_start_it_again(tmp_path: Path) -> None:
    actor = Shell("venue-SIM", config(tmp_path, quote_interval_ms=60_000), SIM, SETUP.instruments)
    await actor.start()
    await stop(actor)
    again = Shell("venue-SIM", config(tmp_path, quote_interval_ms=60_000), SIM, SETUP.instruments)
    before = again.journal.last_seq
    await again.start()
    status = await again.status()
    assert again.journal.last_seq == before  # no second VenueStart
    assert (status["session"], status["open_children"], status["reconciled"]) == ("open", 0, again.core.reconcile())
    await stop(again)


async def test_a_session_state_is_set_by_name_and_a_bad_one_is_refused_before_the_journal(tmp_path: Path) -> None:
    actor = Shell("venue-SIM", config(tmp_path, quote_interval_ms=60_000), SIM, SETUP.instruments)
    await actor.start()
    before = actor.journal.last_seq
    with pytest.raises(ValueError):
        await actor.set_session("sleepy")
    assert actor.journal.last_seq == before
    await actor.set_session("closed")
    assert (await actor.status())["session"] == "closed" and actor.journal.last_seq == before + 1
    await stop(actor)


async def test_a_fix_venue_takes_its_table_s_cancel_on_disconnect_whatever_the_snapshot_brought(tmp_path: Path) -> None:
    table = VenueSection(name="MM1", kind="fix", session_config=str(tmp_path / "unused.cfg"), cancel_on_disconnect=False)
    actor = Shell("venue-MM1", config(tmp_path), table, SETUP.instruments)  # quickfix starts only with ``start``
    await actor.set_session("closed")  # something to snapshot
    await stop(actor)
    assert actor.snapshotter.seq > 0
    again = Shell("venue-MM1", config(tmp_path), msgspec.structs.replace(table, cancel_on_disconnect=True), SETUP.instruments)
    assert again.recovery["snapshot"] is not None and again.adapter.cancel_on_disconnect is True
    again.journal.close()


class Channel:
    """Where the shell acks the batches it has on disk."""

    def __init__(self) -> None:
        self.acked: list[int] = []

    def ack(self, seq: int) -> None:
        self.acked.append(seq)


async def test_a_fix_venue_s_note_of_a_number_and_an_acknowledgement_ride_in_the_fill_s_record(tmp_path: Path) -> None:
    """The MsgSeqNum an order left with, and the venue's acknowledgement of it, ask for no
    commit of their own: the fill that follows finds no commit in flight and goes out with
    them, in one record and one batch. The venue is a socket that never answers the Logon:
    quickfix numbers and stores what it is given meanwhile, and does not give up for seconds;
    the venue's messages are handed to the actor as its quickfix thread would."""
    own = f"T{uuid.uuid4().hex[:8]}"  # quickfix's session registry is process-wide
    silent = socket.create_server(("127.0.0.1", 0))
    session_file = tmp_path / "venue.cfg"
    session_file.write_text((ROOT / "conf" / "fix" / "venue-MM1.cfg").read_text().replace("TargetCompID=MM1", f"TargetCompID={own}")
                            .replace("SocketConnectPort=9880", f"SocketConnectPort={silent.getsockname()[1]}"))  # fmt: skip
    table = VenueSection(name="MM1", kind="fix", session_config=str(session_file))
    slow = msgspec.structs.replace(config(tmp_path), journal=JournalSection(durability="buffered", lazy_commit_ms=60_000))
    actor = Shell("venue-MM1", slow, table, SETUP.instruments)
    await actor.start()
    await actor.set_session("open")  # as a logon would
    before = actor.journal.last_seq
    order = VenueNewOrder("instrument-0-1", OrderSpec("IBM", Side.BUY, OrderType.MARKET, TimeInForce.DAY, fixed.parse("1")))
    channel = Channel()
    actor.receive(encode_batch(Batch("instrument-0", 1, 0, [order])), channel)
    for _ in range(200):
        if actor.fix.sent == 1:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    assert (actor.fix.sent, channel.acked, actor.journal.last_seq) == (1, [1], before + 1)  # the order's record alone
    assert actor.adapter.last_out_seq == 0 and len(actor.commits.pending) == 1  # its number waits for the next record
    actor.fix.on_message(from_venue("8", changed(ACCEPTED, {11: "instrument-0-1"})).toString())
    await asyncio.sleep(0.05)
    assert actor.journal.last_seq == before + 1 and len(actor.commits.pending) == 2  # the acknowledgement waits too
    sent = actor.outbox.batches_sent
    actor.fix.on_message(from_venue("8", changed(TRADE, {11: "instrument-0-1", 17: "E-2"})).toString())
    await actor.local_inputs_applied()
    assert actor.journal.last_seq == before + 2 and actor.commits.pending == []  # one record for the three
    number = actor.fix.status()["next_sender_seq"] - 1  # after the Logon's
    assert actor.adapter.last_out_seq == number and actor.adapter.by_seq == {number: "instrument-0-1"}
    assert actor.outbox.batches_sent == sent + 1
    reports = [m for queue in actor.outbox.unacked.values() for _, data in queue for m in decode_batch(data).messages]
    assert [(r.kind.value, r.child_id) for r in reports if isinstance(r, VenueReport)] == [("accepted", "instrument-0-1"), ("trade", "instrument-0-1")]
    await stop(actor)
    silent.close()
