"""A simulated venue's snapshot: it encodes under its own tag, and restoring it gives back a
venue in the same state, which goes on exactly as the original does."""

from __future__ import annotations

import msgspec

from adapters.sim.snapshot import SimSnapshot
from adapters.sim.venue import SimVenue
from model import fixed
from model.config import SimSection
from model.enums import AssetClass, OrderType, SessionState, Side, TimeInForce
from model.instruments import Instrument
from model.messages import VenueNewOrder
from model.orders import OrderSpec

D = fixed.parse
T0 = 1_700_000_000_000_000_000
IBM = Instrument("IBM", AssetClass.EQUITY, D("0.01"), D("0.000001"), D("150"))


def working_venue() -> SimVenue:
    venue = SimVenue("SIM", [IBM], SimSection(seed=7))
    venue.start(T0)
    venue.set_session(SessionState.OPEN, T0)
    resting = OrderSpec("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, D("5"), None, D("100.00"), None)
    venue.submit(VenueNewOrder("c1", resting), T0)
    venue.advance(T0 + 3 * 1_000_000_000)
    return venue


def test_a_snapshot_encodes_under_the_sim_tag_and_decodes_to_the_same_struct() -> None:
    snapshot = working_venue().snapshot()
    encoded = msgspec.msgpack.encode(snapshot)
    assert msgspec.msgpack.decode(encoded, type=SimSnapshot) == snapshot
    assert msgspec.msgpack.decode(encoded)["type"] == "sim"
    assert [child.child_id for child in snapshot.state.orders] == ["c1"]


def test_a_restored_venue_hashes_the_same_and_goes_on_as_the_original() -> None:
    original = working_venue()
    restored = SimVenue.restore(msgspec.msgpack.decode(msgspec.msgpack.encode(original.snapshot()), type=SimSnapshot))
    assert restored.state_hash() == original.state_hash()
    later = T0 + 10 * 1_000_000_000
    assert restored.advance(later) == original.advance(later)
    assert restored.state_hash() == original.state_hash()
