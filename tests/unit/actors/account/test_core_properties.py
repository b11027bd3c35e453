"""Property: whatever clients and venues do, the shard's books stay consistent."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.account.core import AccountState
from model import fixed
from model.config import AccountSeed
from model.enums import OrderStatus, OrderType, Side, TimeInForce, VenueEventKind
from model.messages import CancelOrder, NewOrder, OrderUpdate, ReplaceOrder, RouteOrder
from model.orders import OrderSpec
from tests.unit.actors.account.support import IBM, LIMITS, OPT, REPLY, XYZ

D = fixed.parse

new_order = st.tuples(
    st.just("new"),
    st.sampled_from(["IBM", "XYZ"]),
    st.sampled_from(Side),
    st.integers(min_value=1, max_value=30),
    st.sampled_from([None, 145, 150, 155]),
    st.booleans(),
    st.sampled_from([TimeInForce.DAY, TimeInForce.OPG]),  # an OPG order waits at rest: kept cold
)
fill = st.tuples(st.just("fill"), st.integers(min_value=0, max_value=50), st.integers(min_value=1, max_value=40), st.integers(min_value=140, max_value=160))
finish = st.tuples(st.just("finish"), st.integers(min_value=0, max_value=50), st.sampled_from([VenueEventKind.CANCELED, VenueEventKind.EXPIRED, VenueEventKind.REJECTED]))
cancel = st.tuples(st.just("cancel"), st.integers(min_value=0, max_value=50))
replace = st.tuples(st.just("replace"), st.integers(min_value=0, max_value=50), st.integers(min_value=1, max_value=40), st.booleans())


steps_strategy = st.lists(new_order | fill | finish | cancel | replace, max_size=60)


def fresh_state() -> AccountState:
    state = AccountState("account-0", [IBM, XYZ, OPT], LIMITS)
    state.open_account(AccountSeed("A1", "t", D("20000")))
    return state


@settings(max_examples=150, deadline=None)
@given(steps=steps_strategy)
def test_books_stay_consistent_under_any_sequence(steps: list[tuple]) -> None:  # type: ignore[type-arg]
    play(fresh_state(), steps, check=True)


def play(state: AccountState, steps: list[tuple], check: bool = False) -> list[object]:  # type: ignore[type-arg]
    """Apply ``steps`` (new orders, fills, venue ends, cancels, replaces); returns every output."""
    routed: list[str] = []
    outputs: list[object] = []
    counter = 0
    for step in steps:
        kind = step[0]
        if kind == "new":
            _, symbol, side, units, price, notional, tif = step
            counter += 1
            tenths = units * fixed.SCALE // 10 if symbol == "IBM" else units * fixed.SCALE
            as_notional = notional and symbol == "IBM" and price is None
            state.apply(NewOrder("A1", f"c{counter}", OrderSpec(symbol, side, OrderType.LIMIT if price else OrderType.MARKET, tif,
                                 None if as_notional else tenths, units * fixed.SCALE * 10 if as_notional else None,
                                 price * fixed.SCALE if price else None, None), REPLY), 1)
        elif routed and kind == "fill":
            order_id = routed[step[1] % len(routed)]
            order = state.orders[order_id]
            state.apply(OrderUpdate(order_id, "A1", VenueEventKind.TRADE, step[2] * fixed.SCALE // 10 if order.spec.symbol == "IBM" else step[2] * fixed.SCALE,
                                    step[3] * fixed.SCALE, None, "SIM", 1, step[2] % 3 == 0), 1)
        elif routed and kind == "finish":
            state.apply(OrderUpdate(routed[step[1] % len(routed)], "A1", step[2], 0, None, "x", "SIM", 1), 1)
        elif routed and kind == "cancel":
            state.apply(CancelOrder("A1", state.orders[routed[step[1] % len(routed)]].client_order_id, REPLY), 1)
        elif routed and kind == "replace":
            order = state.orders[routed[step[1] % len(routed)]]
            counter += 1
            state.apply(ReplaceOrder("A1", order.client_order_id, f"c{counter}", step[2] * (fixed.SCALE if order.spec.symbol == "XYZ" else fixed.SCALE // 10), None, None, REPLY), 1)
            if step[3]:
                state.apply(OrderUpdate(order.order_id, "A1", VenueEventKind.REPLACED, 0, None, None, "SIM", 1), 1)
        for send in state.out.drain():
            outputs.append(send)
            if isinstance(send.message, RouteOrder):
                routed.append(send.message.order_id)
        routed.extend(o.order_id for o in state.orders.values() if o.order_id not in routed and o.status.is_open)
        if not check:
            continue
        state.check_invariants()
        account = state.accounts["A1"]
        assert account.reserved_cash >= 0 and all(q > 0 for q in account.reserved_qty.values())
        for order in state.orders.values():
            if order.spec.side is Side.BUY and order.spec.notional is not None:
                assert order.booked_cash <= order.spec.notional
            if not order.status.is_open:
                assert order.reserved_cash == order.reserved_qty == 0
            if order.status is OrderStatus.FILLED and order.spec.qty is not None:
                assert order.cum_qty == order.spec.qty
    return outputs
