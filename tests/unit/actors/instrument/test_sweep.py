"""Splitting an order across venues: the pure plan, and the instrument actor working a
split order's children — fills aggregated, cancel and replace fanned out, a venue's end."""

from __future__ import annotations

from actors.instrument.core import InstrumentState
from actors.instrument.sweep import Leg, VenueQuoteView, plan
from actors.runtime.outputs import Send
from model import fixed
from model.config import VenueSection
from model.enums import OrderType, Reason, Side, TimeInForce, VenueEventKind
from model.liquidity import LiquidityPolicy
from model.messages import (
    AdminCancelAll,
    CancelRoute,
    OrderUpdate,
    ReplaceRoute,
    RouteOrder,
    SetLiquidity,
    VenueCancel,
    VenueCancelAll,
    VenueNewOrder,
    VenueQuote,
    VenueReport,
)
from model.orders import OrderSpec
from tests.unit.actors.instrument.support import IBM, D

SPLIT = LiquidityPolicy(split=True)


def view(venue: str, price: str, size: str, rank: int, fee: str = "0", rebate: str = "0") -> VenueQuoteView:
    return VenueQuoteView(venue, D(price), D(size), D(fee), D(rebate), rank)


def test_a_sweep_takes_each_venue_s_size_at_its_price_best_first_and_sends_the_rest_with_the_best() -> None:
    quotes = [view("A", "150.02", "100", 0), view("B", "150.01", "50", 1), view("C", "150.03", "30", 2)]
    assert plan(True, None, D("250"), quotes, "send") == [Leg("B", D("120"), None), Leg("A", D("100"), D("150.02")), Leg("C", D("30"), D("150.03"))]
    assert plan(True, None, D("250"), quotes, "rest") == [Leg("B", D("50"), D("150.01")), Leg("A", D("100"), D("150.02")), Leg("C", D("30"), D("150.03")), Leg("A", D("70"), None)]


def test_no_split_when_the_best_venue_shows_enough_or_past_the_limit() -> None:
    quotes = [view("A", "150.02", "100", 0), view("B", "150.01", "50", 1)]
    assert plan(True, None, D("40"), quotes, "send") is None
    assert plan(True, D("150.01"), D("80"), quotes, "send") is None  # A is past the limit: one venue left
    assert plan(False, None, D("80"), [view("A", "149.99", "100", 0)], "send") is None


def test_fees_and_rebates_enter_the_comparison() -> None:
    quotes = [view("A", "150.01", "50", 0, fee="0.003"), view("B", "150.012", "50", 1)]  # A's 150.013 net is worse
    assert [leg.venue for leg in plan(True, None, D("100"), quotes, "send") or []] == ["B", "A"]
    sells = [view("A", "149.99", "50", 0, rebate="0.002"), view("B", "149.99", "50", 1, rebate="0.003")]
    assert (plan(False, None, D("120"), sells, "rest") or [])[-1] == Leg("B", D("20"), None)  # the rest rests where the rebate is best


# --- the instrument actor ------------------------------------------------------------------------------------

VENUES3 = [VenueSection(name="A"), VenueSection(name="B"), VenueSection(name="C")]


def state3(policy: LiquidityPolicy = SPLIT) -> InstrumentState:
    state = InstrumentState("instrument-0", [IBM], VENUES3)
    run(state, SetLiquidity(policy))
    for venue, ask, size in (("A", "150.02", "100"), ("B", "150.01", "50"), ("C", "150.03", "30")):
        run(state, VenueQuote(venue, "IBM", D("149.90"), D("100"), D(ask), D(size), 1))
    return state


def run(state: InstrumentState, message: object) -> list[Send]:
    state.apply(message, 1)  # type: ignore[arg-type]
    state.end_turn(1)
    sends = state.out.drain()
    state.check_invariants()
    return sends


def buy(order_id: str, qty: str, tif: TimeInForce = TimeInForce.DAY, price: str | None = None) -> RouteOrder:
    order_type = OrderType.LIMIT if price else OrderType.MARKET
    return RouteOrder(order_id, "A1", OrderSpec("IBM", Side.BUY, order_type, tif, D(qty), None, D(price) if price else None, None))


def updates(sends: list[Send]) -> list[OrderUpdate]:
    return [s.message for s in sends if isinstance(s.message, OrderUpdate)]


def children(sends: list[Send]) -> list[tuple[str, VenueNewOrder]]:
    return [(s.key, s.message) for s in sends if isinstance(s.message, VenueNewOrder)]


def report(venue: str, child_id: str, kind: VenueEventKind, qty: str = "0", price: str | None = None, reason: str | None = None) -> VenueReport:
    return VenueReport(venue, child_id, kind, D(qty), D(price) if price else None, reason, 1)


def test_a_sweep_over_three_venues_fills_at_each_venue_s_price_and_the_order_aggregates_them() -> None:
    state = state3()
    sent = children(run(state, buy("o1", "180")))
    assert [(venue, c.spec.qty, c.spec.order_type, c.spec.price) for venue, c in sent] == [
        ("B", D("50"), OrderType.LIMIT, D("150.01")), ("A", D("100"), OrderType.LIMIT, D("150.02")), ("C", D("30"), OrderType.LIMIT, D("150.03"))]
    got = []
    for venue, child in sent:
        assert child.spec.qty is not None and child.spec.price is not None
        got += updates(run(state, report(venue, child.child_id, VenueEventKind.TRADE, fixed.format(child.spec.qty), fixed.format(child.spec.price))))
    assert [(u.order_id, u.venue, u.last_qty, u.last_price, u.done) for u in got] == [
        ("o1", "B", D("50"), D("150.01"), False), ("o1", "A", D("100"), D("150.02"), False), ("o1", "C", D("30"), D("150.03"), True)]
    assert state.routes == {} and state.children == {}


def test_cancel_fans_out_and_the_order_ends_once_every_child_has() -> None:
    state = state3()
    sent = children(run(state, buy("o1", "180", price="150.03")))
    run(state, report("B", sent[0][1].child_id, VenueEventKind.TRADE, "50", "150.01"))
    cancels = [(s.key, s.message.child_id) for s in run(state, CancelRoute("o1", "A1", "IBM")) if isinstance(s.message, VenueCancel)]
    assert cancels == [("A", sent[1][1].child_id), ("C", sent[2][1].child_id)]  # B's child is filled: nothing to cancel
    assert updates(run(state, report("A", sent[1][1].child_id, VenueEventKind.CANCELED, reason=Reason.USER_CANCELED.value))) == []
    (end,) = updates(run(state, report("C", sent[2][1].child_id, VenueEventKind.CANCELED, reason=Reason.USER_CANCELED.value)))
    assert (end.kind, end.reason) == (VenueEventKind.CANCELED, Reason.USER_CANCELED.value) and state.routes == {}


def test_a_venue_that_drops_mid_sweep_ends_its_child_and_the_order_works_on() -> None:
    state = state3()
    sent = children(run(state, buy("o1", "180", price="150.03")))
    assert updates(run(state, report("A", sent[1][1].child_id, VenueEventKind.CANCELED, reason="venue disconnected"))) == []
    run(state, report("B", sent[0][1].child_id, VenueEventKind.TRADE, "50", "150.01"))
    fill, end = updates(run(state, report("C", sent[2][1].child_id, VenueEventKind.TRADE, "30", "150.03")))
    assert (fill.kind, fill.last_qty, fill.done) == (VenueEventKind.TRADE, D("30"), False)
    # every child has ended: the order ends as the dropped one did, 80 of 180 filled
    assert (end.kind, end.reason, end.venue) == (VenueEventKind.CANCELED, "venue disconnected", "A")
    assert state.routes == {} and state.children == {}


def test_a_replace_fans_out_as_cancels_then_routes_the_new_terms_for_what_is_left() -> None:
    state = state3()
    sent = children(run(state, buy("o1", "180", price="150.03")))
    run(state, report("B", sent[0][1].child_id, VenueEventKind.TRADE, "50", "150.01"))
    out = run(state, ReplaceRoute("o1", "o2", "A1", "IBM", D("120"), D("150.03"), None))
    assert sorted(s.message.child_id for s in out if isinstance(s.message, VenueCancel)) == sorted([sent[1][1].child_id, sent[2][1].child_id])
    run(state, report("A", sent[1][1].child_id, VenueEventKind.CANCELED))
    out = run(state, report("C", sent[2][1].child_id, VenueEventKind.CANCELED))
    assert [(u.order_id, u.kind) for u in updates(out)] == [("o1", VenueEventKind.REPLACED)]
    # 70 left, swept again on the book as it stands: B's 50, then A for 20
    assert [(venue, child.spec.qty) for venue, child in children(out)] == [("B", D("50")), ("A", D("20"))]
    assert state.routes["o2"].cum_qty == D("50") and state.routes["o2"].offset == D("50")


def test_an_operator_s_cancel_all_by_venue_cancels_only_that_venue_s_child() -> None:
    state = state3()
    sent = children(run(state, buy("o1", "180", price="150.03")))
    out = run(state, AdminCancelAll(None, None, "C"))
    assert [(s.key, type(s.message)) for s in out] == [("C", VenueCancelAll)]
    assert sent[2][0] == "C"


def test_splitting_off_routes_one_child_as_today() -> None:
    ((venue, child),) = children(run(state3(LiquidityPolicy()), buy("o1", "180")))
    assert (venue, child.spec.qty) == ("B", D("180"))  # no venue shows 180: the best price


def test_a_split_order_survives_a_snapshot_with_its_children() -> None:
    import msgspec

    state = state3()
    sent = children(run(state, buy("o1", "180", price="150.03")))
    run(state, report("B", sent[0][1].child_id, VenueEventKind.TRADE, "50", "150.01"))
    restored = InstrumentState.restore(msgspec.msgpack.decode(msgspec.msgpack.encode(state.snapshot()), type=InstrumentState.snapshot_type))
    restored.check_invariants()
    assert restored.state_hash() == state.state_hash() and restored.children == state.children
    fill = report("A", sent[1][1].child_id, VenueEventKind.TRADE, "100", "150.02")
    assert run(restored, fill) == run(state, fill)


def test_the_order_ends_as_the_last_child_in_time_to_end_not_the_last_in_the_list() -> None:
    import msgspec

    state = state3()
    sent = children(run(state, buy("o1", "180", price="150.03")))  # children at B, A, C
    run(state, report("B", sent[0][1].child_id, VenueEventKind.TRADE, "50", "150.01"))
    assert updates(run(state, report("C", sent[2][1].child_id, VenueEventKind.CANCELED, reason="venue disconnected"))) == []
    restored = InstrumentState.restore(msgspec.msgpack.decode(msgspec.msgpack.encode(state.snapshot()), type=InstrumentState.snapshot_type))
    hashed = state.state_hash()
    expired = report("A", sent[1][1].child_id, VenueEventKind.EXPIRED, reason=Reason.END_OF_DAY.value)
    (end,) = updates(run(state, expired))
    assert (end.kind, end.reason, end.venue) == (VenueEventKind.EXPIRED, Reason.END_OF_DAY.value, "A")
    assert state.routes == {} and state.children == {}
    # when C ended is in the snapshot and the hash: restored, the order ends the same
    assert restored.state_hash() == hashed and [leg.ended for leg in restored.routes["o1"].legs or ()] == [0, 0, 1]
    assert updates(run(restored, expired)) == [end]


def test_a_snapshot_that_did_not_record_when_children_ended_still_restores() -> None:
    """Children that ended before such a snapshot count as ended before any that end after
    it, and among themselves in list order (as that version had it)."""
    import msgspec

    def restored_without_ends(state: InstrumentState) -> InstrumentState:
        snapshot = msgspec.msgpack.decode(msgspec.msgpack.encode(state.snapshot()))  # plain maps and arrays
        for route in snapshot["routes"]:
            for leg in route[-1] or ():  # a route's last field is its children, each an array whose last field is ``ended``
                del leg[-1]
        core = InstrumentState.restore(msgspec.msgpack.decode(msgspec.msgpack.encode(snapshot), type=InstrumentState.snapshot_type))
        core.check_invariants()
        return core

    state = state3()
    sent = children(run(state, buy("o1", "180", price="150.03")))  # children at B, A, C
    run(state, report("C", sent[2][1].child_id, VenueEventKind.CANCELED, reason="venue disconnected"))
    restored = restored_without_ends(state)
    assert [leg.ended for leg in restored.routes["o1"].legs or ()] == [0, 0, 0]
    run(restored, report("B", sent[0][1].child_id, VenueEventKind.TRADE, "50", "150.01"))
    (end,) = updates(run(restored, report("A", sent[1][1].child_id, VenueEventKind.EXPIRED, reason=Reason.END_OF_DAY.value)))
    assert (end.kind, end.venue) == (VenueEventKind.EXPIRED, "A")  # A ended after the snapshot: the last
    state = state3()
    sent = children(run(state, buy("o1", "180", price="150.03")))
    run(state, report("C", sent[2][1].child_id, VenueEventKind.CANCELED, reason="venue disconnected"))
    run(state, report("A", sent[1][1].child_id, VenueEventKind.EXPIRED, reason=Reason.END_OF_DAY.value))
    restored = restored_without_ends(state)
    (_, end) = updates(run(restored, report("B", sent[0][1].child_id, VenueEventKind.TRADE, "50", "150.01")))
    assert (end.kind, end.venue) == (VenueEventKind.CANCELED, "C")  # both ended before it: list order, C's last
