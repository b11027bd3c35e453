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
from model.messages import Batch, VenueNewOrder, VenueQuote, decode_batch, encode_batch
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


def report(fields: dict[int, str | None], seq: int) -> str:
    """An execution report as the venue's session hands it over, numbered ``seq``."""
    return from_venue("8", fields).toString().replace("\x0134=7\x01", f"\x0134={seq}\x01")


async def send_order(actor: Any, seq: int, child_id: str) -> None:
    """An order from instrument-0, until the venue has handed it to quickfix."""
    order = VenueNewOrder(child_id, OrderSpec("IBM", Side.BUY, OrderType.MARKET, TimeInForce.DAY, fixed.parse("1")))
    sent = actor.fix.sent
    actor.receive(encode_batch(Batch("instrument-0", seq, 0, [order])), Channel())
    for _ in range(200):
        if actor.fix.sent == sent + 1:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)


async def test_a_fix_venue_s_note_of_a_number_and_an_acknowledgement_ride_in_the_fill_s_record(tmp_path: Path) -> None:
    """The MsgSeqNum an order left with, and the venue's acknowledgement of it, ask for no
    commit of their own: the fill that follows finds no commit in flight and goes out with
    them, in one record and one batch. The venue's very first message is committed at once
    (a restart asks the venue again only for what came after one journaled). The venue is a
    socket that never answers the Logon: quickfix numbers and stores what it is given
    meanwhile, and does not give up for seconds; the venue's messages are handed to the
    actor as its quickfix thread would."""
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
    for _ in range(500):  # quickfix connects and sends its Logon on its own thread: the order is numbered after it
        if actor.fix.status()["next_sender_seq"] > 1:
            break
        await asyncio.sleep(0.01)
    before = actor.journal.last_seq
    await send_order(actor, 1, "instrument-0-1")
    assert actor.journal.last_seq == before + 1  # the order's record alone
    assert actor.adapter.last_out_seq == 0 and len(actor.commits.pending) == 1  # its number waits for the next record
    actor.fix.on_message(report(changed(ACCEPTED, {11: "instrument-0-1"}), 2))
    await actor.local_inputs_applied()
    assert actor.journal.last_seq == before + 2 and actor.adapter.last_in_seq == 2  # the venue's first message: at once
    number = actor.fix.status()["next_sender_seq"] - 1  # after the Logon's
    assert actor.adapter.last_out_seq == number and actor.adapter.by_seq == {number: "instrument-0-1"}

    await send_order(actor, 2, "instrument-0-2")
    actor.fix.on_message(report(changed(ACCEPTED, {11: "instrument-0-2", 17: "E-2"}), 3))
    for _ in range(500):  # the acknowledgement reaches the actor through its quickfix hand-off: slow on a loaded machine
        if len(actor.commits.pending) == 2:
            break
        await asyncio.sleep(0.01)
    assert actor.journal.last_seq == before + 3 and len(actor.commits.pending) == 2  # the note and the acknowledgement wait
    sent = actor.outbox.batches_sent
    actor.fix.on_message(report(changed(TRADE, {11: "instrument-0-2", 17: "E-3"}), 4))
    await actor.local_inputs_applied()
    assert actor.journal.last_seq == before + 4 and actor.commits.pending == [] and actor.adapter.last_in_seq == 4  # one record
    assert actor.outbox.batches_sent == sent + 1
    batches = [decode_batch(data) for queue in actor.outbox.unacked.values() for _, data in queue]
    newest = max(batches, key=lambda batch: batch.ts)  # the fill's record, with its acknowledgement
    assert [(m.kind.value, m.child_id) for m in newest.messages] == [("accepted", "instrument-0-2"), ("trade", "instrument-0-2")]  # type: ignore[union-attr]
    await stop(actor)
    silent.close()
