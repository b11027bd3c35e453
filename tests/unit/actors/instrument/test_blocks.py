"""The open's wiring: how routes for the open become blocks and limits (the open's arithmetic
is tested in test_opening and test_allocation)."""

from __future__ import annotations

from actors.instrument.core import InstrumentState
from actors.runtime.outputs import Send
from model.enums import OrderType, Side, TimeInForce, VenueEventKind
from model.messages import AdminCancelAll, AllocationFills, OpenMarket, OrderUpdate, RouteOrder, VenueNewOrder, VenueReport
from model.orders import OrderSpec
from model.routes import RouteState
from model.routing import shard_of
from tests.unit.actors.instrument.support import IBM, VENUES, D, make_state, of_type, route, run


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


def test_a_blocks_fills_go_to_each_shard_in_chunks_of_columns_and_before_any_expiry() -> None:
    """Fills of an allocation travel as ``AllocationFills``, one per account shard (keyed by
    an account of that shard) and per ``allocation_chunk`` orders; an order only partly
    filled is told of its fill before its expiry."""
    state = InstrumentState("instrument-0", [IBM], VENUES, shards=2, allocation_chunk=3)
    accounts = [f"A{i}" for i in range(10)]
    for index, account in enumerate(accounts):
        run_raw(state, RouteOrder(f"m{index}", account, OrderSpec("IBM", Side.BUY, OrderType.MARKET, TimeInForce.OPG, D("10"))))
    [block] = [s.message for s in of_type(run_raw(state, OpenMarket([])), VenueNewOrder)]
    run_raw(state, VenueReport("A", block.child_id, VenueEventKind.TRADE, D("95"), D("150"), None, 1))
    sends = run_raw(state, VenueReport("A", block.child_id, VenueEventKind.CANCELED, 0, None, None, 2))
    fills = [s for s in sends if isinstance(s.message, AllocationFills)]
    for send in fills:
        shard = shard_of(send.key, 2)
        assert {shard_of(account, 2) for account in send.message.accounts} == {shard}  # routed by its key: all of one shard
        assert send.key == send.message.accounts[0] and 1 <= len(send.message.order_ids) <= 3
    booked = [update for send in fills for update in send.message.updates()]
    assert sorted(u.order_id for u in booked) == sorted(f"m{i}" for i in range(10))  # each order once
    assert sum(u.last_qty for u in booked) == D("95")  # the allocation sums to the fill
    expiries = [(i, s.message.order_id) for i, s in enumerate(sends) if isinstance(s.message, OrderUpdate) and s.message.kind is VenueEventKind.EXPIRED]
    assert expiries and all(i > sends.index(fills[-1]) for i, _ in expiries)  # after every fill of the allocation
    assert {order_id for _, order_id in expiries} == {u.order_id for u in booked if not u.done}


def run_raw(state: InstrumentState, message: object) -> list[Send]:
    """``run`` without turning ``AllocationFills`` into updates: the messages as sent."""
    state.apply(message, 1)  # type: ignore[arg-type]
    sends = state.out.drain()
    state.check_invariants()
    return sends
