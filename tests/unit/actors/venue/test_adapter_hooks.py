"""The VenueSession core calls its adapter through the whole ``VenueAdapter`` interface, with
no probing for what an adapter has: a real sim venue and a real FIX adapter behind it."""

from __future__ import annotations

import pytest

from actors.runtime.outputs import INSTRUMENT
from actors.venue.core import VenueState
from adapters.fix.venue import FixVenue
from adapters.sim.venue import SimVenue
from model import fixed
from model.config import SimSection
from model.enums import OrderType, SessionState, Side, TimeInForce, VenueEventKind
from model.messages import VenueCancelAll, VenueNewOrder, VenueReport, VenueSetSession, VenueStart, VenueWireIn
from model.orders import OrderSpec
from tests.conftest import demo_setup
from tests.unit.adapters.fix.wire import ACCEPTED, changed, from_venue

SETUP = demo_setup()
T0 = 1_763_700_000_000_000_000


def limit(child_id: str, symbol: str = "IBM") -> VenueNewOrder:
    return VenueNewOrder(child_id, OrderSpec(symbol, Side.BUY, OrderType.LIMIT, TimeInForce.DAY, fixed.SCALE, None, fixed.parse("1.00"), None))


def sim_state(supports_cancel_all: bool) -> VenueState:
    state = VenueState("venue-SIM", SimVenue("SIM", SETUP.instruments, SimSection()), supports_cancel_all)
    state.apply(VenueStart(), T0)
    for child_id in ("c1", "c2"):
        state.apply(limit(child_id), T0)
    state.apply(limit("c3", "AAPL"), T0)
    state.out.drain()
    return state


@pytest.mark.parametrize("supports_cancel_all", [True, False])
def test_cancel_all_is_the_venues_own_or_one_cancel_per_child_and_cancels_the_same(supports_cancel_all: bool) -> None:
    state = sim_state(supports_cancel_all)
    state.apply(VenueCancelAll(["IBM"]), T0)
    reports = [send.message for send in state.out.drain() if isinstance(send.message, VenueReport)]
    assert [(report.child_id, report.kind) for report in reports] == [("c1", VenueEventKind.CANCELED), ("c2", VenueEventKind.CANCELED)]
    assert list(state.child_symbols) == ["c3"]
    state.check_invariants()


def test_a_wire_message_for_a_venue_without_a_wire_is_refused_and_changes_nothing() -> None:
    state = sim_state(True)
    before = state.state_hash()
    with pytest.raises(TypeError):
        state.apply(VenueWireIn("8=FIX.4.4\x01"), T0)
    assert state.state_hash() == before


def test_a_fix_venues_wire_message_reaches_its_adapter_and_its_report_the_instrument() -> None:
    state = VenueState("venue-MM1", FixVenue("MM1", SETUP.instruments), True)
    state.apply(VenueSetSession(SessionState.OPEN.value), T0)
    state.apply(limit("child-1"), T0)
    state.out.drain()
    state.apply(VenueWireIn(from_venue("8", changed(ACCEPTED, {17: "E-0"})).toString()), T0)
    (send,) = state.out.drain()
    assert (send.kind, send.key) == (INSTRUMENT, "IBM") and isinstance(send.message, VenueReport)
    assert send.message.kind is VenueEventKind.ACCEPTED
    state.check_invariants()
