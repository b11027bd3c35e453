"""The VenueSession Ray shell without a cluster: its class run in this process on a real
LMDB journal in tmp_path with the sim venue. Its clock's ticks are journaled inputs, a
restart does not open the venue twice, and a bad session state is refused before the
journal."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import msgspec
import pytest

from actors.venue.actor import VenueActor
from model.config import Config, JournalSection, ServerSection, SimSection, VenueSection
from model.messages import VenueQuote, decode_batch
from tests.conftest import demo_setup

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
