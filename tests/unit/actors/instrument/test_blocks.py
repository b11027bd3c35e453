"""The open's wiring: how routes for the open become blocks and limits (the open's arithmetic
is tested in test_opening and test_allocation)."""

from __future__ import annotations

from model.enums import OrderType, Side, TimeInForce, VenueEventKind
from model.messages import AdminCancelAll, OpenMarket, VenueNewOrder, VenueReport
from model.routes import RouteState
from tests.unit.actors.instrument.support import D, make_state, of_type, route, run


def test_at_the_open_market_orders_join_the_block_and_a_limit_goes_out_alone_as_ioc() -> None:
    state = make_state()
    run(state, route("m1", tif=TimeInForce.OPG))
    run(state, route("m2", side=Side.SELL, qty="4", tif=TimeInForce.OPG))
    run(state, route("l1", order_type=OrderType.LIMIT, price="149.00", tif=TimeInForce.OPG))
    held = dict(state.routes)
    sent = [s.message for s in of_type(run(state, OpenMarket([])), VenueNewOrder)]
    assert {(m.spec.order_type, m.spec.tif, m.spec.qty) for m in sent} == {
        (OrderType.LIMIT, TimeInForce.IOC, D("10")),  # the limit
        (OrderType.MARKET, TimeInForce.DAY, D("6")),  # the block: 10 bought, 4 sold
    }
    assert (held["m1"].state, held["m2"].state) == (RouteState.DONE, RouteState.DONE)
    assert list(state.routes) == ["l1"] and state.routes["l1"].state is RouteState.ROUTED
    assert len(state.blocks) == 1


def test_a_blocks_child_shares_the_child_counter_and_its_reports_never_reach_a_route() -> None:
    state = make_state()
    child = of_type(run(state, route("o1")), VenueNewOrder)[0].message.child_id
    run(state, route("m1", tif=TimeInForce.OPG))
    [block] = [s.message for s in of_type(run(state, OpenMarket([])), VenueNewOrder)]
    assert (child, block.child_id) == ("instrument-0-1", "instrument-0-2")
    run(state, VenueReport("A", block.child_id, VenueEventKind.ACCEPTED, 0, None, None, 1))
    assert state.anomalies == [] and list(state.routes) == ["o1"]


def test_an_operators_cancel_all_for_one_account_leaves_the_blocks_alone() -> None:
    state = make_state()
    run(state, route("m1", tif=TimeInForce.OPG))
    run(state, OpenMarket([]))
    assert state.matching_blocks(AdminCancelAll(account="A1")) == []
    assert len(state.matching_blocks(AdminCancelAll(symbol="IBM"))) == 1
