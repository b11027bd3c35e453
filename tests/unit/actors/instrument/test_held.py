"""Held orders: stops until their trigger, orders for the open until it."""

from __future__ import annotations

from model.enums import OrderType, Reason, SessionState, Side, TimeInForce, VenueEventKind
from model.messages import CancelRoute, OrderUpdate, ReplaceRoute, SetTradingStatus, VenueCancel, VenueNewOrder, VenueSessionChanged
from model.routes import RouteState
from tests.unit.actors.instrument.support import D, make_state, of_type, quote, route, run


def test_a_buy_stop_waits_until_the_ask_reaches_it_then_goes_out_as_market() -> None:
    state = make_state()
    run(state, quote("A", "149.90", "150.10"))
    sends = run(state, route(order_type=OrderType.STOP, stop="151.00"))
    assert of_type(sends, VenueNewOrder) == [] and state.routes["o1"].state is RouteState.HELD_STOP
    assert of_type(run(state, quote("A", "150.40", "150.60")), VenueNewOrder) == []
    sent = of_type(run(state, quote("A", "150.90", "151.00")), VenueNewOrder)[0].message
    assert sent.spec.order_type is OrderType.MARKET and state.routes["o1"].state is RouteState.ROUTED


def test_a_sell_stop_limit_triggers_on_the_bid_and_goes_out_as_limit() -> None:
    state = make_state()
    run(state, quote("A", "149.90", "150.10"))
    run(state, route(side=Side.SELL, order_type=OrderType.STOP_LIMIT, stop="149.00", price="148.50"))
    sent = of_type(run(state, quote("A", "148.95", "149.20")), VenueNewOrder)[0].message
    assert (sent.spec.order_type, sent.spec.price) == (OrderType.LIMIT, D("148.50"))


def test_stops_do_not_trigger_while_halted() -> None:
    state = make_state()
    run(state, route(order_type=OrderType.STOP, stop="151.00"))
    run(state, SetTradingStatus("IBM", True))
    assert of_type(run(state, quote("A", "151.00", "151.20")), VenueNewOrder) == []
    run(state, SetTradingStatus("IBM", False))
    assert of_type(run(state, quote("A", "151.00", "151.20")), VenueNewOrder)


def test_orders_for_the_open_are_held_and_cancel_without_the_venue() -> None:
    state = make_state()
    run(state, route(tif=TimeInForce.OPG))
    assert [r.order_id for r in state.held_for_open("IBM")] == ["o1"]
    assert state.routes["o1"].state is RouteState.HELD_OPEN
    sends = run(state, CancelRoute("o1", "A1", "IBM"))
    assert of_type(sends, VenueCancel) == []
    assert of_type(sends, OrderUpdate)[0].message.kind is VenueEventKind.CANCELED


def test_day_stops_expire_when_every_venue_closes_but_gtc_stay() -> None:
    state = make_state()
    run(state, route("day", order_type=OrderType.STOP, stop="160.00"))
    run(state, route("gtc", order_type=OrderType.STOP, stop="160.00", tif=TimeInForce.GTC))
    for venue in ("A", "B"):
        run(state, VenueSessionChanged(venue, SessionState.OPEN, 1))
    assert of_type(run(state, VenueSessionChanged("A", SessionState.CLOSED, 1)), OrderUpdate) == []
    expired = of_type(run(state, VenueSessionChanged("B", SessionState.CLOSED, 1)), OrderUpdate)
    assert [(s.message.order_id, s.message.reason) for s in expired] == [("day", Reason.END_OF_DAY.value)]
    assert list(state.routes) == ["gtc"]


def test_a_stop_leaves_the_stop_index_when_it_triggers_and_goes_out_once() -> None:
    state = make_state()
    run(state, route(order_type=OrderType.STOP, stop="151.00"))
    assert list(state.stops["IBM"]) == ["o1"]
    sent = of_type(run(state, quote("A", "150.90", "151.00")), VenueNewOrder)
    assert len(sent) == 1 and state.stops["IBM"] == {}
    assert sent[0].message.spec.stop_price is None  # the child is a plain market order
    assert of_type(run(state, quote("A", "151.00", "151.20")), VenueNewOrder) == []


def test_a_held_stop_is_replaced_at_once_under_its_new_id_and_may_trigger_on_its_new_stop() -> None:
    state = make_state()
    run(state, quote("A", "149.90", "150.10"))
    run(state, route(order_type=OrderType.STOP, stop="151.00"))
    sends = run(state, ReplaceRoute("o1", "o2", "A1", "IBM", D("10"), None, D("150.00")))
    update = of_type(sends, OrderUpdate)[0].message
    assert (update.order_id, update.kind) == ("o1", VenueEventKind.REPLACED)
    assert of_type(sends, VenueNewOrder)  # the ask is above the new stop: it triggers
    assert list(state.routes) == ["o2"] and state.routes["o2"].state is RouteState.ROUTED
