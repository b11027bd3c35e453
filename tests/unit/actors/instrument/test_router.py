"""The router: child orders at venues, their cancels and replaces, and what venues answer."""

from __future__ import annotations

from actors.instrument.core import InstrumentState
from model.config import VenueSection
from model.enums import OrderType, Reason, Side, VenueEventKind
from model.messages import (
    AdminCancelAll,
    CancelRoute,
    OrderUpdate,
    ReplaceRoute,
    VenueCancel,
    VenueCancelAll,
    VenueNewOrder,
    VenueReplace,
    VenueReport,
)
from model.routes import RouteState
from tests.unit.actors.instrument.support import IBM, D, make_state, of_type, quote, route, run


def test_an_order_goes_to_the_venue_with_the_best_price_that_covers_its_size() -> None:
    state = make_state()
    run(state, quote("A", "149.90", "150.10", size="500"))
    run(state, quote("B", "149.95", "150.05", size="5"))
    big = of_type(run(state, route("o1", qty="10")), VenueNewOrder)[0]
    assert big.key == "A"  # B is cheaper but shows only 5
    small = of_type(run(state, route("o2", qty="5")), VenueNewOrder)[0]
    assert small.key == "B"
    sell = of_type(run(state, route("o3", side=Side.SELL, qty="1")), VenueNewOrder)[0]
    assert sell.key == "B"  # the higher bid


def test_without_quotes_routing_falls_back_to_config_order() -> None:
    sends = run(make_state(), route())
    assert of_type(sends, VenueNewOrder)[0].key == "A"


def test_no_venue_that_takes_the_type_rejects_the_order() -> None:
    state = InstrumentState("instrument-0", [IBM], [VenueSection(name="A", order_types=["limit"])])
    update = of_type(run(state, route()), OrderUpdate)[0].message
    assert (update.kind, update.reason) == (VenueEventKind.REJECTED, Reason.NO_VENUE.value)
    assert state.routes == {}


def test_venue_reports_map_back_to_the_client_order_and_finish_the_route() -> None:
    state = make_state()
    child = of_type(run(state, route(qty="10")), VenueNewOrder)[0].message.child_id
    assert run(state, VenueReport("A", child, VenueEventKind.ACCEPTED, 0, None, None, 1)) == []
    part = of_type(run(state, VenueReport("A", child, VenueEventKind.TRADE, D("4"), D("150"), None, 1)), OrderUpdate)[0].message
    assert (part.order_id, part.last_qty, part.done) == ("o1", D("4"), False)
    last = of_type(run(state, VenueReport("A", child, VenueEventKind.TRADE, D("6"), D("150"), None, 1, done=True)), OrderUpdate)[0].message
    assert last.done and state.routes == {} and state.children == {}


def test_cancel_and_replace_of_a_routed_order_go_to_its_venue_and_replace_rekeys_on_confirmation() -> None:
    state = make_state()
    child = of_type(run(state, route(order_type=OrderType.LIMIT, price="149.00")), VenueNewOrder)[0].message.child_id
    replace = of_type(run(state, ReplaceRoute("o1", "o2", "A1", "IBM", D("20"), D("149.50"), None)), VenueReplace)[0]
    assert (replace.key, replace.message.qty) == ("A", D("20"))
    assert state.routes["o1"].spec.qty == D("10")  # unchanged until the venue confirms
    update = of_type(run(state, VenueReport("A", child, VenueEventKind.REPLACED, 0, None, None, 1)), OrderUpdate)[0].message
    assert update.order_id == "o1" and "o2" in state.routes and state.routes["o2"].spec.qty == D("20")
    cancel = of_type(run(state, CancelRoute("o2", "A1", "IBM")), VenueCancel)[0]
    assert cancel.message.child_id == child


def replacing(state: InstrumentState) -> str:
    """Route o1 (a limit at venue A) with a replace to o2 in flight; its child id."""
    child = of_type(run(state, route(order_type=OrderType.LIMIT, price="149.00")), VenueNewOrder)[0].message.child_id
    run(state, ReplaceRoute("o1", "o2", "A1", "IBM", D("20"), D("149.50"), None))
    assert state.routes["o1"].state is RouteState.REPLACING
    return str(child)


def test_a_replace_the_venue_refuses_leaves_the_route_working_as_it_was() -> None:
    state = make_state()
    child = replacing(state)
    update = of_type(run(state, VenueReport("A", child, VenueEventKind.REPLACE_REJECTED, 0, None, "no", 1)), OrderUpdate)[0].message
    assert (update.order_id, update.kind) == ("o1", VenueEventKind.REPLACE_REJECTED)
    route_o1 = state.routes["o1"]
    assert (route_o1.state, route_o1.spec.qty, route_o1.replacing_to) == (RouteState.ROUTED, D("10"), None)
    assert of_type(run(state, ReplaceRoute("o1", "o3", "A1", "IBM", D("30"), None, None)), VenueReplace)  # it may be replaced again


def test_a_route_being_replaced_is_canceled_at_its_venue_but_not_by_the_operators_cancel_all() -> None:
    state = make_state()
    child = replacing(state)
    assert [s.message.child_id for s in of_type(run(state, CancelRoute("o1", "A1", "IBM")), VenueCancel)] == [child]
    assert state.matching(AdminCancelAll()) == []
    assert of_type(run(state, AdminCancelAll()), VenueCancel) == []


def test_a_route_being_replaced_ends_when_its_child_does() -> None:
    state = make_state()
    child = replacing(state)
    run(state, VenueReport("A", child, VenueEventKind.CANCELED, 0, None, "user_canceled", 1))
    assert state.routes == {} and state.children == {}


def test_the_operators_cancel_all_uses_a_venues_own_cancel_all_unless_an_account_narrows_it() -> None:
    state = make_state()
    run(state, route("o1"))
    run(state, route("o2"))
    assert [s.message.symbols for s in of_type(run(state, AdminCancelAll(symbol="IBM")), VenueCancelAll)] == [["IBM"]]
    assert len(of_type(run(state, AdminCancelAll(account="A1")), VenueCancel)) == 2
