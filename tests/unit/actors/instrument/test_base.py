"""What every part of the instrument actor shares: the route mutator and the route indexes."""

from __future__ import annotations

import pytest

from model.enums import OrderType
from model.messages import VenueNewOrder
from model.routes import InvalidRouteTransition, RouteEvent, RouteState
from tests.unit.actors.instrument.support import make_state, of_type, route, run


def test_a_route_change_the_table_does_not_allow_raises_and_changes_nothing() -> None:
    state = make_state()
    run(state, route(order_type=OrderType.STOP, stop="151.00"))
    held = state.routes["o1"]
    with pytest.raises(InvalidRouteTransition):
        state._move(held, RouteEvent.REPLACE_SENT)  # a held stop has no child to replace
    assert held.state is RouteState.HELD_STOP


def test_a_forgotten_route_is_done_and_out_of_every_index() -> None:
    state = make_state()
    run(state, route("o1"))
    run(state, route("o2", order_type=OrderType.STOP, stop="151.00"))
    routed, held = state.routes["o1"], state.routes["o2"]
    state._forget(routed)
    state._forget(held)
    assert (routed.state, held.state) == (RouteState.DONE, RouteState.DONE)
    assert state.routes == {} and state.children == {} and state.stops == {"IBM": {}}


def test_a_rekeyed_route_keeps_its_child_and_its_place_among_the_stops() -> None:
    state = make_state()
    child = of_type(run(state, route("o1")), VenueNewOrder)[0].message.child_id
    run(state, route("o2", order_type=OrderType.STOP, stop="151.00"))
    state._rekey(state.routes["o1"], "o1b")
    state._rekey(state.routes["o2"], "o2b")
    assert state.children == {child: "o1b"} and list(state.stops["IBM"]) == ["o2b"]
    state.check_invariants()
