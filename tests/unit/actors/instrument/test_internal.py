"""The internal book: crossing client orders before a venue, as the instrument actor does it."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.instrument.core import InstrumentState
from actors.instrument.internal import INTERNAL
from actors.runtime.outputs import Send
from model.config import VenueSection
from model.enums import OrderType, Reason, Side, TimeInForce, VenueEventKind
from model.liquidity import MS, LiquidityPolicy
from model.messages import (
    CancelRoute,
    OrderUpdate,
    ReplaceRoute,
    RouteOrder,
    SetLiquidity,
    VenueNewOrder,
    VenueQuote,
    VenueReplace,
    VenueReport,
)
from model.orders import OrderSpec
from tests.unit.actors.instrument.support import IBM, VENUES, D

NOW = 1_000 * MS
ON = LiquidityPolicy(enabled=True)
RESTING = LiquidityPolicy(enabled=True, rest_limit_orders=True)


def state_with(policy: LiquidityPolicy = ON, bid: str = "150.00", ask: str = "150.10") -> InstrumentState:
    state = InstrumentState("instrument-0", [IBM], VENUES)
    turn(state, SetLiquidity(policy), VenueQuote("A", "IBM", D(bid), D("100"), D(ask), D("100"), NOW))
    return state


def turn(state: InstrumentState, *messages: object, now: int = NOW) -> list[Send]:
    """One record's inputs, then the end of its turn, as the shell applies them."""
    for message in messages:
        state.apply(message, now)  # type: ignore[arg-type]
    state.end_turn(now)
    sends = state.out.drain()
    state.check_invariants()
    return sends


def order(order_id: str, account: str, side: Side, qty: str, price: str | None = None, tif: TimeInForce = TimeInForce.DAY) -> RouteOrder:
    order_type = OrderType.LIMIT if price else OrderType.MARKET
    return RouteOrder(order_id, account, OrderSpec("IBM", side, order_type, tif, D(qty), None, D(price) if price else None, None))


def trades(sends: list[Send]) -> list[tuple[str, str, int, int | None, bool]]:
    return [(s.message.order_id, s.message.venue, s.message.last_qty, s.message.last_price, s.message.done)
            for s in sends if isinstance(s.message, OrderUpdate) and s.message.kind is VenueEventKind.TRADE]


def children(sends: list[Send]) -> list[VenueNewOrder]:
    return [s.message for s in sends if isinstance(s.message, VenueNewOrder)]


def test_two_marketable_orders_of_one_batch_cross_at_the_mid_and_nothing_goes_to_a_venue() -> None:
    state = state_with()
    sends = turn(state, order("b1", "A1", Side.BUY, "10"), order("s1", "A2", Side.SELL, "10"))
    assert trades(sends) == [("b1", INTERNAL, D("10"), D("150.05"), True), ("s1", INTERNAL, D("10"), D("150.05"), True)]
    assert {s.key for s in sends if isinstance(s.message, OrderUpdate)} == {"A1", "A2"}  # each to its own account
    assert children(sends) == [] and state.routes == {} and state.internal == {"IBM": []}


def test_what_does_not_cross_goes_to_the_best_venue_for_the_rest_only() -> None:
    state = state_with()
    sends = turn(state, order("b1", "A1", Side.BUY, "10"), order("s1", "A2", Side.SELL, "4"))
    assert trades(sends) == [("b1", INTERNAL, D("4"), D("150.05"), False), ("s1", INTERNAL, D("4"), D("150.05"), True)]
    (child,) = children(sends)
    assert child.spec.qty == D("6")
    fill = VenueReport("A", child.child_id, VenueEventKind.TRADE, D("6"), D("150.10"), None, NOW)
    assert trades(turn(state, fill)) == [("b1", "A", D("6"), D("150.10"), True)]
    assert state.routes == {}


def test_an_account_never_crosses_its_own_order() -> None:
    sends = turn(state_with(), order("b1", "A1", Side.BUY, "10"), order("s1", "A1", Side.SELL, "10"))
    assert trades(sends) == [] and len(children(sends)) == 2


def test_a_stale_or_crossed_nbbo_routes_as_today_and_counts_why() -> None:
    state = state_with()
    late = NOW + 3_000 * MS  # the quote is 3 s old: past max_quote_age
    sends = turn(state, order("b1", "A1", Side.BUY, "10"), order("s1", "A2", Side.SELL, "10"), now=late)
    assert trades(sends) == [] and len(children(sends)) == 2
    assert state.crossing_stats["IBM:stale_quote"] == 2
    crossed = state_with()
    turn(crossed, VenueQuote("B", "IBM", D("150.20"), D("100"), D("150.30"), D("100"), NOW))  # B's bid above A's ask
    sends = turn(crossed, order("b1", "A1", Side.BUY, "10"), order("s1", "A2", Side.SELL, "10"))
    assert trades(sends) == [] and crossed.crossing_stats["IBM:crossed_market"] == 2


def test_crossing_off_for_the_symbol_or_its_asset_class_routes_as_today() -> None:
    for policy in (LiquidityPolicy(enabled=True, off_symbols=("IBM",)), LiquidityPolicy(enabled=True, off_asset_classes=("equity",)), LiquidityPolicy()):
        sends = turn(state_with(policy), order("b1", "A1", Side.BUY, "10"), order("s1", "A2", Side.SELL, "10"))
        assert trades(sends) == [] and len(children(sends)) == 2


def test_a_resting_limit_order_crosses_an_incoming_market_order_at_its_limit_bound_price() -> None:
    state = state_with(RESTING)
    assert children(turn(state, order("s1", "A2", Side.SELL, "10", "150.08"))) == []  # rests: not marketable
    sends = turn(state, order("b1", "A1", Side.BUY, "3"))
    assert trades(sends) == [("s1", INTERNAL, D("3"), D("150.08"), False), ("b1", INTERNAL, D("3"), D("150.08"), True)]
    assert [r.order_id for r in state.internal["IBM"]] == ["s1"]


def test_price_then_time_priority_among_resting_orders() -> None:
    state = state_with(RESTING)
    turn(state, order("s1", "A2", Side.SELL, "5", "150.08"), order("s2", "A3", Side.SELL, "5", "150.06"), order("s3", "A4", Side.SELL, "5", "150.06"))
    sends = turn(state, order("b1", "A1", Side.BUY, "12"))
    assert [(t[0], t[2]) for t in trades(sends) if t[0] != "b1"] == [("s2", D("5")), ("s3", D("5")), ("s1", D("2"))]
    assert [t[3] for t in trades(sends)] == [D("150.06")] * 4 + [D("150.08")] * 2


def test_a_resting_order_goes_to_a_venue_when_the_market_comes_to_it() -> None:
    state = state_with(RESTING)
    turn(state, order("b1", "A1", Side.BUY, "10", "150.05"))
    (child,) = children(turn(state, VenueQuote("A", "IBM", D("149.95"), D("100"), D("150.04"), D("100"), NOW)))
    assert child.spec.qty == D("10") and state.internal["IBM"] == [] and state.routes["b1"].venue == "A"


def test_a_locked_nbbo_that_may_not_be_crossed_sends_what_it_comes_to_to_a_venue_uncrossed() -> None:
    """``cross_locked`` off: a locked market stops crossing, not routing — a resting order it
    makes marketable goes on as at any market that comes to it; a stale one leaves it resting."""
    state = state_with(RESTING)
    turn(state, order("b1", "A1", Side.BUY, "10", "150.05"), order("s1", "A2", Side.SELL, "4", "150.09"))
    sends = turn(state, VenueQuote("A", "IBM", D("150.05"), D("100"), D("150.05"), D("100"), NOW))  # locked at b1's limit
    (child,) = children(sends)
    assert trades(sends) == [] and (child.spec.side, child.spec.qty) == (Side.BUY, D("10"))
    assert state.routes["b1"].venue == "A" and [r.order_id for r in state.internal["IBM"]] == ["s1"]
    state = state_with(RESTING)
    turn(state, order("b1", "A1", Side.BUY, "10", "150.05"))
    late = NOW + 3_000 * MS  # the locking quote's time is past max_quote_age by then
    assert children(turn(state, VenueQuote("A", "IBM", D("150.05"), D("100"), D("150.05"), D("100"), NOW), now=late)) == []
    assert [r.order_id for r in state.internal["IBM"]] == ["b1"]


def test_a_resting_order_cancels_and_replaces_here_and_a_replace_loses_its_time_priority() -> None:
    state = state_with(RESTING)
    turn(state, order("s1", "A2", Side.SELL, "5", "150.08"), order("s2", "A3", Side.SELL, "5", "150.08"))
    replaced = turn(state, ReplaceRoute("s1", "s1r", "A2", "IBM", D("6"), D("150.08"), None))
    assert [s.message.kind for s in replaced] == [VenueEventKind.REPLACED]
    assert [r.order_id for r in state.internal["IBM"]] == ["s2", "s1r"]
    canceled = turn(state, CancelRoute("s2", "A3", "IBM"))
    assert [s.message.kind for s in canceled] == [VenueEventKind.CANCELED]
    assert [r.order_id for r in state.internal["IBM"]] == ["s1r"]


def test_a_replace_to_no_more_than_has_crossed_is_refused_and_changes_nothing() -> None:
    """The shard asked before it heard of the crosses: a replace to 5 or 6 of an order 6 of
    whose 10 have crossed would leave it holding less than it has filled."""
    for qty in ("5", "6"):
        state = state_with(RESTING)
        turn(state, order("b1", "A1", Side.BUY, "10", "150.05"))
        turn(state, order("s1", "A2", Side.SELL, "6"))  # 6 of b1 cross
        sends = turn(state, ReplaceRoute("b1", "b1r", "A1", "IBM", D(qty), D("150.05"), None))
        assert [(s.message.order_id, s.message.kind, s.message.reason) for s in sends] == [
            ("b1", VenueEventKind.REPLACE_REJECTED, Reason.TOO_LATE_TO_CANCEL.value)]
        route = state.routes["b1"]
        assert "b1r" not in state.routes and (route.spec.qty, route.cum_qty) == (D("10"), D("6"))
        assert [r.order_id for r in state.internal["IBM"]] == ["b1"]
        assert trades(turn(state, order("s2", "A3", Side.SELL, "3"))) == [  # the 4 left still cross
            ("b1", INTERNAL, D("3"), D("150.05"), False), ("s2", INTERNAL, D("3"), D("150.05"), True)]


def test_a_replace_at_the_venue_asks_for_the_quantity_that_did_not_cross() -> None:
    state = state_with()
    (child,) = children(turn(state, order("b1", "A1", Side.BUY, "10", "150.10"), order("s1", "A2", Side.SELL, "4")))
    replace = [s.message for s in turn(state, ReplaceRoute("b1", "b1r", "A1", "IBM", D("8"), D("150.10"), None))]
    assert replace == [VenueReplace(child.child_id, D("4"), D("150.10"))]  # 8 in all, 4 of them crossed


_RESTS = order("b1", "A1", Side.BUY, "10", "150.05")


@pytest.mark.parametrize(("policy", "before", "message", "now"), [
    pytest.param(ON, (), order("b1", "A1", Side.BUY, "10", "150.10"), NOW, id="end-of-turn"),  # marketable, nothing crosses
    pytest.param(RESTING, (_RESTS,), VenueQuote("A", "IBM", D("149.95"), D("100"), D("150.04"), D("100"), NOW), NOW, id="market-comes-to-it"),
    pytest.param(RESTING, (_RESTS,), SetLiquidity(LiquidityPolicy()), NOW, id="crossing-off"),
    pytest.param(RESTING, (_RESTS,), ReplaceRoute("b1", "b2", "A1", "IBM", D("10"), D("150.06"), None), NOW + 3_000 * MS, id="replaced-on-a-stale-quote"),
])
def test_an_order_of_the_internal_book_no_venue_takes_is_rejected_and_leaves_the_book_once(
    policy: LiquidityPolicy, before: tuple[RouteOrder, ...], message: object, now: int
) -> None:
    """A venue for market orders only: a limit order leaving the internal book finds no venue
    and is rejected (``no_venue``), as it would be with crossing off. It leaves the book once:
    a second removal raised, and every replay of the record would raise again."""
    state = InstrumentState("instrument-0", [IBM], [VenueSection(name="A", order_types=["market"])])
    turn(state, SetLiquidity(policy), VenueQuote("A", "IBM", D("150.00"), D("100"), D("150.10"), D("100"), NOW))
    turn(state, *before)
    sends = turn(state, message, now=now)
    (end,) = [s.message for s in sends if isinstance(s.message, OrderUpdate) and s.message.kind is not VenueEventKind.REPLACED]
    assert (end.kind, end.reason) == (VenueEventKind.REJECTED, Reason.NO_VENUE.value)
    assert children(sends) == [] and state.routes == {} and state.internal["IBM"] == []


def test_an_order_crossed_in_part_that_no_venue_takes_is_canceled_for_the_rest() -> None:
    """Its account keeps the crossed fills: a partly filled order can be canceled there, not
    rejected (the lifecycle has no rejection after a fill)."""
    state = InstrumentState("instrument-0", [IBM], [VenueSection(name="A", order_types=["market"])])
    turn(state, SetLiquidity(ON), VenueQuote("A", "IBM", D("150.00"), D("100"), D("150.10"), D("100"), NOW))
    sends = turn(state, order("b1", "A1", Side.BUY, "10", "150.10"), order("s1", "A2", Side.SELL, "4", "150.00"))
    assert trades(sends) == [("b1", INTERNAL, D("4"), D("150.05"), False), ("s1", INTERNAL, D("4"), D("150.05"), True)]
    (end,) = [s.message for s in sends if isinstance(s.message, OrderUpdate) and s.message.kind is not VenueEventKind.TRADE]
    assert (end.order_id, end.kind, end.reason) == ("b1", VenueEventKind.CANCELED, Reason.NO_VENUE.value)
    assert children(sends) == [] and state.routes == {} and state.internal["IBM"] == []


def test_an_order_crossed_in_part_whose_child_the_venue_rejects_is_canceled_for_the_rest() -> None:
    state = InstrumentState("instrument-0", [IBM], VENUES)
    turn(state, SetLiquidity(ON), VenueQuote("A", "IBM", D("150.00"), D("100"), D("150.10"), D("100"), NOW))
    sends = turn(state, order("b1", "A1", Side.BUY, "10", "150.10"), order("s1", "A2", Side.SELL, "4", "150.00"))
    ((venue, child),) = [(s.key, s.message) for s in sends if isinstance(s.message, VenueNewOrder)]
    rejected = turn(state, VenueReport(venue, child.child_id, VenueEventKind.REJECTED, 0, None, "venue says no", NOW, done=True))
    (end,) = [s.message for s in rejected if isinstance(s.message, OrderUpdate)]
    assert (end.order_id, end.kind, end.reason) == ("b1", VenueEventKind.CANCELED, "venue says no")
    assert state.routes == {}


def test_turning_crossing_off_sends_resting_orders_to_a_venue() -> None:
    state = state_with(RESTING)
    turn(state, order("s1", "A2", Side.SELL, "5", "150.08"))
    (child,) = children(turn(state, SetLiquidity(LiquidityPolicy())))
    assert child.spec.qty == D("5") and state.internal["IBM"] == []


def test_the_internal_book_survives_a_snapshot_in_order() -> None:
    state = state_with(RESTING)
    turn(state, order("s1", "A2", Side.SELL, "5", "150.08"), order("s2", "A3", Side.SELL, "5", "150.07"))
    turn(state, ReplaceRoute("s1", "s1r", "A2", "IBM", D("5"), D("150.08"), None))
    encoded = msgspec.msgpack.encode(state.snapshot())
    restored = InstrumentState.restore(msgspec.msgpack.decode(encoded, type=InstrumentState.snapshot_type))
    restored.check_invariants()
    assert restored.state_hash() == state.state_hash() and restored.policy == RESTING
    assert [r.order_id for r in restored.internal["IBM"]] == ["s2", "s1r"]
    market = order("b1", "A1", Side.BUY, "8")
    assert turn(restored, market) == turn(state, market) and restored.state_hash() == state.state_hash()


_side = st.sampled_from([Side.BUY, Side.SELL])
_limit = st.none() | st.integers(min_value=14_980, max_value=15_020)  # cents


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(
    st.one_of(
        st.tuples(st.just("quote"), st.sampled_from(["A", "B"]), st.integers(min_value=14_980, max_value=15_020), st.integers(min_value=-3, max_value=10)),
        st.tuples(st.just("order"), _side, _limit, st.integers(min_value=1, max_value=20)),
    ),
    min_size=1, max_size=30,
), per_turn=st.integers(min_value=1, max_value=4))
def test_no_internal_execution_ever_trades_through_the_nbbo_of_its_moment(steps: list[tuple[object, ...]], per_turn: int) -> None:
    state = state_with(RESTING)
    cent = D("0.01")
    for start in range(0, len(steps), per_turn):
        messages: list[object] = []
        for i, step in enumerate(steps[start:start + per_turn], start):
            if step[0] == "quote":
                _, venue, bid, width = step
                messages.append(VenueQuote(str(venue), "IBM", int(bid) * cent, D("50"), (int(bid) + int(width)) * cent, D("50"), NOW))  # type: ignore[call-overload]
            else:
                _, side, limit, qty = step
                price = None if limit is None else str(fixed_cents(int(limit)))  # type: ignore[call-overload]
                messages.append(order(f"o{i}", f"A{i}", side, str(qty), price))  # type: ignore[arg-type]
        for message in messages:  # the NBBO of each input's moment, checked as it is applied
            state.apply(message, NOW)  # type: ignore[arg-type]
            book = state.books["IBM"]
            for send in state.out.drain():
                update = send.message
                if isinstance(update, OrderUpdate) and update.venue == INTERNAL:
                    assert book.bid is not None and book.ask is not None and update.last_price is not None
                    assert book.bid <= update.last_price <= book.ask
                    assert update.last_price % cent == 0
        state.end_turn(NOW)
        state.out.drain()
        state.check_invariants()
        for routes in state.internal.values():  # what rests at the end of a turn is never marketable
            book = state.books["IBM"]
            for route in routes:
                if route.spec.price is None or book.bid is None or book.ask is None or book.bid > book.ask:  # a locked one too
                    continue
                assert (route.spec.price < book.ask) if route.spec.side is Side.BUY else (route.spec.price > book.bid)


def fixed_cents(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def test_a_halted_symbol_s_resting_orders_neither_cross_nor_route_until_it_resumes() -> None:
    from model.messages import SetTradingStatus

    state = state_with(RESTING)
    turn(state, order("b1", "A1", Side.BUY, "10", "150.05"))
    turn(state, SetTradingStatus("IBM", True))
    assert children(turn(state, VenueQuote("A", "IBM", D("149.95"), D("100"), D("150.04"), D("100"), NOW))) == []
    assert children(turn(state, ReplaceRoute("b1", "b2", "A1", "IBM", D("10"), D("150.06"), None))) == []
    assert [r.order_id for r in state.internal["IBM"]] == ["b2"]
    turn(state, SetTradingStatus("IBM", False))
    (child,) = children(turn(state, VenueQuote("A", "IBM", D("149.95"), D("100"), D("150.04"), D("100"), NOW)))
    assert child.spec.qty == D("10")


def test_a_quote_within_the_turn_moves_the_nbbo_the_next_cross_prices_from() -> None:
    """The NBBO is worked out once per book and input time: a quote in the same record
    must still move it (and make a stale one fresh) for the orders after it."""
    state = state_with()
    late = NOW + 3_000 * MS  # the first quote is stale by now
    sends = turn(
        state,
        order("b1", "A1", Side.BUY, "10"),
        order("s1", "A2", Side.SELL, "10"),  # stale: neither crosses, both go on at the end of the turn
        VenueQuote("A", "IBM", D("151.00"), D("100"), D("151.20"), D("100"), late),
        order("b2", "A3", Side.BUY, "10"),
        order("s2", "A4", Side.SELL, "10"),
        now=late,
    )
    assert trades(sends) == [("b2", INTERNAL, D("10"), D("151.10"), True), ("s2", INTERNAL, D("10"), D("151.10"), True)]
    assert [child.spec.qty for child in children(sends)] == [D("10"), D("10")]
