"""Orders for the open held in columns (``actors/instrument/holding.py``): the rows round-trip,
cancels and replaces find them, snapshots carry them, and the open and its allocation are
exactly what the same orders held as routes give."""

from __future__ import annotations

import random

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.instrument.core import InstrumentState
from actors.instrument.holding import LIMIT, OpenHolding, kind_of, lexicographic_order, parse_order_id
from actors.instrument.records import Route
from actors.runtime.outputs import ACCOUNT, Send
from model import fixed
from model.config import VenueSection
from model.enums import AssetClass, OrderType, Reason, Side, TimeInForce, VenueEventKind
from model.instruments import Instrument
from tests.unit.actors.instrument.support import as_updates
from model.messages import AdminCancelAll, CancelRoute, OpenMarket, OrderUpdate, ReplaceRoute, RouteOrder, VenueNewOrder, VenueReport
from model.orders import OrderSpec
from model.routes import RouteState

D = fixed.parse
IBM = Instrument("IBM", AssetClass.EQUITY, D("0.01"), D("0.000001"), D("150"))
MSFT = Instrument("MSFT", AssetClass.EQUITY, D("0.01"), D("0.000001"), D("420"))
OPT = Instrument("IBM-C150", AssetClass.OPTION, D("0.01"), fixed.SCALE, D("2.50"), multiplier=100)
NOW = 1_700_000_000 * 1_000_000_000


def make_state() -> InstrumentState:
    return InstrumentState("instrument-0", [IBM, MSFT, OPT], [VenueSection(name="SIM")], shards=1)


def run(state: InstrumentState, message: object) -> list[Send]:
    state.apply(message, NOW)  # type: ignore[arg-type]
    sends = as_updates(as_updates(state.out.drain()))
    state.check_invariants()
    return sends


def opg(order_id: str, side: Side = Side.BUY, qty: int | None = D("1"), notional: int | None = None, account: str = "A1",
        symbol: str = "IBM", cap: int | None = None) -> RouteOrder:
    return RouteOrder(order_id, account, OrderSpec(symbol, side, OrderType.MARKET, TimeInForce.OPG, qty, notional), cap)


def updates(sends: list[Send]) -> list[OrderUpdate]:
    return [s.message for s in sends if isinstance(s.message, OrderUpdate)]


def test_an_order_id_is_a_shard_name_and_a_counter_and_nothing_else_is_held_in_columns() -> None:
    assert parse_order_id("account-0-17") == ("account-0", 17)
    assert parse_order_id("account-12-9") == ("account-12", 9)
    for other in ("o1", "account-0-017", "account-0-0", "a-b-0-1", "account-0-", "account0-5", "account-0-" + "1" * 19):
        assert parse_order_id(other) is None, other
    state = make_state()
    run(state, opg("account-0-1"))
    run(state, opg("o2"))  # another form of id: a route as before
    run(state, opg("account-0-3", qty=LIMIT))  # too large for an int64 column with sums to spare
    run(state, RouteOrder("account-0-4", "A1", OrderSpec("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.OPG, D("1"), None, D("150"))))
    assert len(state.held_open) == 1 and "account-0-1" in state.held_open
    assert sorted(state.routes) == ["account-0-3", "account-0-4", "o2"]
    assert all(route.state is RouteState.HELD_OPEN for route in state.routes.values())
    assert [r.order_id for r in state.held_for_open("IBM")] == ["o2", "account-0-3", "account-0-4", "account-0-1"]


def test_a_row_thaws_into_the_route_the_actor_would_have_built() -> None:
    state, other = make_state(), make_state()
    orders = [
        opg("account-0-1", Side.BUY, D("1.5")),
        opg("account-0-2", Side.SELL, None, D("100.00"), account="B2", symbol="MSFT", cap=D("3")),
        opg("account-0-3", Side.BUY, None, D("50.00"), account="C3"),
    ]
    for order in orders:
        run(state, order)
        # the same order as a route: an id the columns do not take, renamed back
        run(other, msgspec.structs.replace(order, order_id=order.order_id.replace("account-", "account#")))
    assert state.routes == {} and len(state.held_open) == 3
    for order in orders:
        route = state.held_open.take(order.order_id)
        expected = other.routes[order.order_id.replace("account-", "account#")]
        assert route == msgspec.structs.replace(expected, order_id=order.order_id)
        assert route is not None and route.spec.symbol is state.books[order.spec.symbol].instrument.symbol
    assert len(state.held_open) == 0 and state.held_open.take("account-0-1") is None


def test_the_columns_round_trip_through_a_snapshot_and_the_actor_goes_on_alike() -> None:
    rng = random.Random(3)
    state = make_state()
    for counter in rng.sample(range(1, 5000), 400):  # counters out of order: inserted in place
        shard = rng.choice(["account-0", "account-1", "account-10"])
        notional = rng.random() < 0.3
        order = opg(f"{shard}-{counter}", rng.choice([Side.BUY, Side.SELL]), None if notional else rng.randint(1, 10**7) * 1000,
                    rng.randint(1, 10**6) * fixed.CENT if notional else None, f"A{rng.randrange(30)}", rng.choice(["IBM", "MSFT"]),
                    rng.randint(0, 10**12) if notional and rng.random() < 0.5 else None)
        run(state, order)
    run(state, CancelRoute(f"account-0-{next(iter(sorted(state.held_open.shards['account-0'].counter.tolist())))}", "A0", "IBM"))
    encoded = msgspec.msgpack.encode(state.snapshot())
    restored = InstrumentState.restore(msgspec.msgpack.decode(encoded, type=InstrumentState.snapshot_type))
    restored.check_invariants()
    assert len(restored.held_open) == len(state.held_open) > 300
    assert restored.state_hash() == state.state_hash()
    assert msgspec.msgpack.encode(restored.snapshot()) == encoded
    assert run(restored, OpenMarket([])) == run(state, OpenMarket([]))
    assert restored.state_hash() == state.state_hash() and len(state.held_open) == 0


def test_a_version_3_snapshot_with_routes_for_the_open_restores_them_into_the_columns() -> None:
    state = make_state()
    for index in range(1, 6):
        run(state, opg(f"account-0-{index}", account=f"A{index % 2}"))
    run(state, opg("o9"))
    old = state.snapshot()
    routes = state.held_open.take_matching(None, None)  # as version 3 held them: routes, no columns
    old = msgspec.structs.replace(old, routes=[*old.routes, *routes], held_open=None)
    assert len(old.routes) == 6
    restored = InstrumentState.restore(msgspec.msgpack.decode(msgspec.msgpack.encode(old), type=InstrumentState.snapshot_type))
    restored.check_invariants()
    assert len(restored.held_open) == 5 and list(restored.routes) == ["o9"]
    fresh = make_state()
    for index in range(1, 6):
        run(fresh, opg(f"account-0-{index}", account=f"A{index % 2}"))
    run(fresh, opg("o9"))
    assert restored.state_hash() == fresh.state_hash()


def test_a_held_row_is_canceled_and_replaced_and_stays_in_the_columns_under_its_new_id() -> None:
    state = make_state()
    run(state, opg("account-0-1", qty=D("5")))
    run(state, opg("account-0-2", qty=D("7"), account="B"))
    [canceled] = updates(run(state, CancelRoute("account-0-1", "A1", "IBM")))
    assert (canceled.order_id, canceled.kind, canceled.reason) == ("account-0-1", VenueEventKind.CANCELED, Reason.USER_CANCELED.value)
    assert "account-0-1" not in state.held_open and state.routes == {}
    [replaced] = updates(run(state, ReplaceRoute("account-0-2", "account-0-3", "B", "IBM", D("9"), None, None)))
    assert (replaced.order_id, replaced.kind) == ("account-0-2", VenueEventKind.REPLACED)
    assert state.routes == {} and "account-0-3" in state.held_open and "account-0-2" not in state.held_open
    [route] = state.held_for_open("IBM")
    assert (route.order_id, route.spec.qty, route.account) == ("account-0-3", D("9"), "B")
    [again] = updates(run(state, CancelRoute("account-0-2", "B", "IBM")))  # the old id is gone
    assert (again.kind, again.reason) == (VenueEventKind.CANCEL_REJECTED, Reason.TOO_LATE_TO_CANCEL.value)
    [block] = [s.message for s in run(state, OpenMarket([])) if isinstance(s.message, VenueNewOrder)]
    assert block.spec.qty == D("9")
    [late] = updates(run(state, CancelRoute("account-0-3", "B", "IBM")))
    assert late.kind is VenueEventKind.CANCEL_REJECTED  # in the block now


def test_a_replace_the_columns_cannot_hold_leaves_a_route() -> None:
    state = make_state()
    run(state, opg("account-0-1", qty=None, notional=D("100")))
    run(state, ReplaceRoute("account-0-1", "account-0-2", "A1", "IBM", D("2"), None, None))  # qty and notional both set
    assert list(state.routes) == ["account-0-2"] and len(state.held_open) == 0


def test_a_duplicate_order_id_is_refused_whether_held_in_columns_or_as_a_route() -> None:
    state = make_state()
    run(state, opg("account-0-1"))
    assert run(state, opg("account-0-1", qty=D("2"))) == []
    assert len(state.held_open) == 1 and state.anomalies == ["route for account-0-1 in IBM refused"]


def test_an_operators_cancel_all_thaws_the_rows_it_covers_and_counts_them_first() -> None:
    state = make_state()
    for index, (account, symbol) in enumerate([("A", "IBM"), ("B", "IBM"), ("A", "MSFT"), ("A", "IBM")], start=1):
        run(state, opg(f"account-0-{index}", account=account, symbol=symbol))
    assert (state.held_open.count("A"), state.held_open.count("A", "IBM"), state.held_open.count(None, "MSFT")) == (3, 2, 1)
    assert updates(run(state, AdminCancelAll(venue="SIM"))) == []  # a held order is at no venue
    canceled = updates(run(state, AdminCancelAll(account="A", symbol="IBM")))
    assert [(u.order_id, u.kind) for u in canceled] == [("account-0-1", VenueEventKind.CANCELED), ("account-0-4", VenueEventKind.CANCELED)]
    assert len(state.held_open) == 2 and state.routes == {}


def test_a_halted_symbol_keeps_its_rows_and_an_open_of_other_symbols_leaves_them() -> None:
    from model.messages import SetTradingStatus

    state = make_state()
    run(state, opg("account-0-1", symbol="IBM"))
    run(state, opg("account-0-2", symbol="MSFT"))
    run(state, SetTradingStatus("MSFT", True))
    sends = run(state, OpenMarket([]))
    assert [s.message.spec.symbol for s in sends if isinstance(s.message, VenueNewOrder)] == ["IBM"]
    assert state.held_open.count(None, "MSFT") == 1 and state.held_open.count(None, "IBM") == 0
    assert run(state, OpenMarket(["IBM"])) == [] and len(state.held_open) == 1


@given(st.lists(st.integers(1, 10**17), min_size=1, max_size=200))
def test_rows_sort_as_their_order_ids_do_as_strings(counters: list[int]) -> None:
    values = sorted(set(counters))
    import numpy as np

    order = lexicographic_order(np.array(values, np.int64))
    assert [str(values[i]) for i in order] == sorted(str(v) for v in values)


def test_the_open_releases_rows_of_several_shards_in_order_id_order() -> None:
    holding = OpenHolding()
    ids = [f"account-{shard}-{counter}" for shard in (0, 1, 2, 10, 11) for counter in (1, 2, 9, 10, 11, 100, 99)]
    for order_id in random.Random(1).sample(ids, len(ids)):
        assert holding.add(order_id, "A", OrderSpec("IBM", Side.BUY, OrderType.MARKET, TimeInForce.OPG, D("1")), None, "IBM")
    released = holding.release({"IBM"})
    assert released["IBM"][kind_of(Side.BUY, notional=False)].order_ids == sorted(ids) and len(holding) == 0


# --- the open over columns is the open over routes: exact, and the same rule ------------------


def _orders(draw: st.DrawFn) -> list[RouteOrder]:
    count = draw(st.integers(1, 40))
    orders = []
    for index in range(count):
        shard = draw(st.sampled_from(["account-0", "account-1", "account-10"]))
        counter = draw(st.integers(1, 10**6))
        symbol = draw(st.sampled_from(["IBM", "IBM-C150"]))
        side = draw(st.sampled_from([Side.BUY, Side.SELL]))
        increment = OPT.qty_increment if symbol == "IBM-C150" else IBM.qty_increment
        if symbol == "IBM" and draw(st.booleans()):
            cash = draw(st.integers(1, 10**7)) * fixed.CENT
            # the account shard caps every notional sell (its position, or what its cash needs)
            cap = draw(st.integers(0, 10**6)) * increment if side is Side.SELL else None
            orders.append(opg(f"{shard}-{counter}", side, None, cash, f"A{index % 7}", symbol, cap))
        else:
            orders.append(opg(f"{shard}-{counter}", side, draw(st.integers(1, 10**6)) * increment, None, f"A{index % 7}", symbol))
    return orders


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[RouteOrder], list[tuple[int, int]], int]:
    orders = _orders(draw)
    fills = draw(st.lists(st.tuples(st.integers(1, 1000), st.integers(10_000, 50_000)), min_size=1, max_size=4))  # (per mille, price in cents)
    return orders, fills, draw(st.integers(0, 1))


def _on_tick(cents: int, tick: int) -> int:
    return cents * fixed.CENT // tick * tick


def _play(state: InstrumentState, orders: list[RouteOrder], fills: list[tuple[int, int]], expire: int) -> list[Send]:
    sends: list[Send] = []
    for order in orders:
        sends += run(state, order)
    opened = run(state, OpenMarket([]))
    sends += opened
    for block in [s.message for s in opened if isinstance(s.message, VenueNewOrder)]:
        instrument = state.books[block.spec.symbol].instrument
        tick = instrument.tick_size
        if block.spec.qty is not None:
            left = block.spec.qty // instrument.qty_increment
        else:
            assert block.spec.notional is not None
            left = fixed.qty_for_cash(block.spec.notional, _on_tick(max(p for _, p in fills), tick), instrument.qty_increment, instrument.multiplier) // instrument.qty_increment
        for per_mille, cents in fills:
            qty = left * per_mille // 1000
            left -= qty
            if qty:
                sends += run(state, VenueReport("SIM", block.child_id, VenueEventKind.TRADE, qty * instrument.qty_increment, _on_tick(cents, tick), None, NOW))
        if block.child_id in state.block_children:
            kind = VenueEventKind.EXPIRED if expire else VenueEventKind.CANCELED
            sends += run(state, VenueReport("SIM", block.child_id, kind, 0, None, None, NOW))
    return sends


@settings(max_examples=60, deadline=None)
@given(scenarios())
def test_the_open_over_columns_allocates_exactly_what_the_open_over_routes_does(scenario: tuple[list[RouteOrder], list[tuple[int, int]], int]) -> None:
    orders, fills, expire = scenario
    seen: set[str] = set()
    orders = [o for o in orders if o.order_id not in seen and not seen.add(o.order_id)]  # type: ignore[func-returns-value]
    columns, routes = make_state(), make_state()
    as_routes = [msgspec.structs.replace(o, order_id=o.order_id.replace("account-", "account#")) for o in orders]
    got = _play(columns, orders, fills, expire)
    assert columns.routes == {} or all(r.state is not RouteState.HELD_OPEN for r in columns.routes.values())
    expected = _play(routes, as_routes, fills, expire)

    def renamed(sends: list[Send]) -> list[Send]:
        out = []
        for send in sends:
            message = send.message
            if isinstance(message, OrderUpdate):
                message = msgspec.structs.replace(message, order_id=message.order_id.replace("account#", "account-"))
            out.append(Send(send.kind, send.key, message))
        return out

    assert got == renamed(expected)
    assert columns.done_blocks == routes.done_blocks and columns.residuals == routes.residuals
    # exact: every block's allocations sum to what it filled (and crossed)
    trades = [s.message for s in got if s.kind == ACCOUNT and isinstance(s.message, OrderUpdate) and s.message.kind is VenueEventKind.TRADE]
    asked = {o.order_id: o for o in orders}
    for block in columns.done_blocks:
        mine = [t for t in trades if t.block in (block.block_id, f"{block.block_id}-X")]
        if not block.notional:
            assert sum(t.last_qty for t in mine if t.block == block.block_id) == block.cross + block.fill_qty
            assert sum(t.last_qty for t in mine if t.block != block.block_id) == block.cross
        else:
            assert sum(t.last_qty for t in mine) <= block.fill_qty
            for t in mine:
                notional = asked[t.order_id].spec.notional
                assert notional is not None and t.cash is not None and t.cash <= notional
    for t in trades:
        spec = asked[t.order_id].spec
        if spec.qty is not None:
            assert t.last_qty <= spec.qty


def test_values_at_the_limit_of_the_columns_stay_routes() -> None:
    state = make_state()
    run(state, opg("account-0-1", qty=LIMIT - 1))
    run(state, opg("account-0-2", qty=None, notional=D("1"), cap=LIMIT))
    assert "account-0-1" in state.held_open and list(state.routes) == ["account-0-2"]


def test_a_route_is_never_in_the_columns_and_in_routes_at_once() -> None:
    state = make_state()
    run(state, opg("account-0-1"))
    route = state.held_open.take("account-0-1")
    assert isinstance(route, Route)
    state.routes[route.order_id] = route
    with pytest.raises(AssertionError):
        state.check_invariants()  # eligible, yet a route


def test_rows_beyond_one_pending_list_are_found_canceled_and_released_alike() -> None:
    state = make_state()
    count = 4096 * 2 + 17  # two full flushes and some rows still pending
    for counter in range(1, count + 1):
        state.apply(opg(f"account-0-{counter}", qty=D("1"), account=f"A{counter % 5}"), NOW)  # no invariant check: it flushes
    shard = state.held_open.shards["account-0"]
    assert len(shard.pending) == 17 and shard.size == 4096 * 2
    assert len(state.held_open) == count and "account-0-8200" in state.held_open and f"account-0-{count}" in state.held_open
    assert "account-0-9999" not in state.held_open and len(shard.pending) == 17  # looked up without a flush
    state.apply(opg(f"account-0-{count}"), NOW)  # a pending row's duplicate
    assert state.anomalies == [f"route for account-0-{count} in IBM refused"] and len(state.held_open) == count
    state.apply(CancelRoute(f"account-0-{count - 1}", "A1", "IBM"), NOW)  # a pending row, canceled
    [canceled] = updates(as_updates(state.out.drain()))
    assert (canceled.order_id, canceled.kind) == (f"account-0-{count - 1}", VenueEventKind.CANCELED)
    state.check_invariants()
    assert len(state.held_open) == count - 1 and shard.pending == []
    [block] = [s.message for s in run(state, OpenMarket([])) if isinstance(s.message, VenueNewOrder)]
    assert block.spec.qty == D("1") * (count - 1)
