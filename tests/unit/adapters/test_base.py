"""The venue-adapter interface: what a venue without a wire session answers to its wire hooks."""

from __future__ import annotations

import pytest

from adapters.base import VenueAdapter
from adapters.sim.venue import SimVenue
from model import fixed
from model.config import SimSection, VenueSection
from model.enums import AssetClass
from model.instruments import Instrument
from model.messages import VenueWireSent

T0 = 1_700_000_000 * 1_000_000_000
IBM = Instrument("IBM", AssetClass.EQUITY, fixed.parse("0.01"), fixed.SCALE, fixed.parse("150"))


def sim() -> VenueAdapter:
    venue: VenueAdapter = SimVenue("SIM", [IBM], SimSection())  # mypy checks the protocol here
    venue.start(T0)
    return venue


def test_a_venue_without_a_wire_has_nothing_to_send_and_nothing_unsent() -> None:
    venue = sim()
    assert venue.take_outgoing() == []
    assert venue.never_sent([VenueWireSent(3, "D", "c1")]) == []
    assert (venue.last_in_seq, venue.last_out_seq) == (0, 0)
    assert venue.anomalies == []


def test_what_only_a_wire_session_produces_is_refused_and_changes_nothing() -> None:
    venue = sim()
    before = venue.state_hash()
    with pytest.raises(TypeError, match="takes no wire messages"):
        venue.receive("8=FIX.4.4\x01", T0)
    with pytest.raises(TypeError, match="sends no wire messages"):
        venue.record_sent(1, "D", "c1")
    with pytest.raises(TypeError, match="sends no wire messages"):
        venue.recovered([], ["c1"], T0)
    assert venue.state_hash() == before


def test_configuring_the_sim_venue_keeps_the_settings_it_was_built_with() -> None:
    venue = sim()
    before = venue.state_hash()
    venue.configure(VenueSection("SIM", cancel_on_disconnect=True))
    assert venue.state_hash() == before
    venue.check_invariants()
