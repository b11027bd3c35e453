"""Cancels and replaces in flight: what a client may still ask, and what each answer means."""

from __future__ import annotations

import msgspec
import pytest

from actors.runtime.outputs import Send
from model.enums import ExecType, OrderStatus, OrderType, Reason, VenueEventKind
from model.messages import (
    CancelAll,
    CancelAllDone,
    CancelOrder,
    CancelRoute,
    ReplaceOrder,
    ReplaceRoute,
    Reply,
    RequestRejected,
    SetKill,
)
from tests.unit.actors.account.support import REPLY, D, account, fill, make_state, only_report, order, reports, run, venue_event

CANCEL_ASKER = Reply("gateway-0", 1, b"8")
REPLACE_ASKER = Reply("gateway-0", 1, b"9")


def refusals(sends: list[Send]) -> list[RequestRejected]:
    return [s.message for s in sends if isinstance(s.message, RequestRejected)]


def cancels(sends: list[Send]) -> list[str]:
    return [s.message.order_id for s in sends if isinstance(s.message, CancelRoute)]


def test_a_fill_that_ends_an_order_answers_its_cancel_too_late_and_a_late_refusal_changes_nothing() -> None:
    """The InstrumentActor forgets the route with the fill, so the venue's own refusal of the
    cancel, if it sends one, never reaches the shard: the fill answers the cancel here, after
    its report, and nothing stays in flight."""
    state = make_state()
    order_id = only_report(run(state, order())).order_id
    run(state, CancelOrder("A1", "c1", CANCEL_ASKER))
    sends = fill(state, order_id, "10", "150")
    assert only_report(sends).status is OrderStatus.FILLED
    [refused] = refusals(sends)
    assert (refused.reply, refused.code, refused.message) == (CANCEL_ASKER, "cancel_rejected", Reason.TOO_LATE_TO_CANCEL.value)
    assert [type(s.message).__name__ for s in sends if s.kind == "gateway"][-1] == "RequestRejected"  # after the fill's report
    record = state.orders.peek(order_id)
    assert record is not None and record.pending.value == "none" and record.cancel_reply is None
    before = state.state_hash()
    assert venue_event(state, order_id, VenueEventKind.CANCEL_REJECTED, Reason.TOO_LATE_TO_CANCEL.value) == []
    assert state.anomalies == [] and state.state_hash() == before


def test_a_partial_fill_leaves_the_cancel_in_flight() -> None:
    state = make_state()
    order_id = only_report(run(state, order())).order_id
    run(state, CancelOrder("A1", "c1", CANCEL_ASKER))
    assert refusals(fill(state, order_id, "4", "150")) == []
    report = only_report(venue_event(state, order_id, VenueEventKind.CANCELED))
    assert (report.status, report.reply) == (OrderStatus.CANCELED, CANCEL_ASKER)


def test_an_expiry_answers_the_pending_cancel_and_a_late_refusal_changes_nothing() -> None:
    state = make_state()
    order_id = only_report(run(state, order())).order_id
    run(state, CancelOrder("A1", "c1", CANCEL_ASKER))
    report = only_report(venue_event(state, order_id, VenueEventKind.EXPIRED, Reason.END_OF_DAY.value))
    assert (report.status, report.reply) == (OrderStatus.EXPIRED, CANCEL_ASKER)
    before = state.state_hash()
    assert venue_event(state, order_id, VenueEventKind.CANCEL_REJECTED, Reason.TOO_LATE_TO_CANCEL.value) == []
    assert state.anomalies == [] and state.state_hash() == before


def test_cancel_all_skips_an_order_whose_cancel_is_in_flight_but_cancels_one_being_replaced() -> None:
    state = make_state()
    first = only_report(run(state, order("c1"))).order_id
    second = only_report(run(state, order("c2"))).order_id
    run(state, CancelOrder("A1", "c1", CANCEL_ASKER))
    run(state, ReplaceOrder("A1", "c2", "c3", D("12"), None, None, REPLACE_ASKER))
    sends = run(state, CancelAll("A1", None, REPLY))
    assert cancels(sends) == [second] and first != second
    assert [s.message.requested for s in sends if isinstance(s.message, CancelAllDone)] == [1]


def test_a_kill_under_a_replace_in_flight_cancels_the_order_that_replace_makes() -> None:
    state = make_state()
    order_id = only_report(run(state, order("c1"))).order_id
    run(state, ReplaceOrder("A1", "c1", "c2", D("12"), None, None, REPLACE_ASKER))
    assert cancels(run(state, SetKill("A1", True))) == [order_id]
    assert [r.code for r in refusals(run(state, CancelOrder("A1", "c1", CANCEL_ASKER)))] == [Reason.PENDING_REQUEST.value]
    old, new = reports(venue_event(state, order_id, VenueEventKind.REPLACED))
    assert (old.status, new.status, new.client_order_id, new.reply) == (OrderStatus.REPLACED, OrderStatus.NEW, "c2", REPLACE_ASKER)
    # the kill's cancel is still in flight, now for the successor: a client cancel waits for it
    assert [r.code for r in refusals(run(state, CancelOrder("A1", "c2", CANCEL_ASKER)))] == [Reason.PENDING_REQUEST.value]
    assert cancels(run(state, CancelAll("A1", None, REPLY))) == []
    canceled = only_report(venue_event(state, new.order_id, VenueEventKind.CANCELED, Reason.USER_CANCELED.value))
    assert (canceled.exec_type, canceled.status, canceled.reply) == (ExecType.CANCELED, OrderStatus.CANCELED, None)
    assert state.accounts["A1"].reserved_cash == 0


def test_a_kill_whose_cancel_reaches_the_instrument_after_the_replace_cancels_the_successor() -> None:
    """The instrument confirmed the replace (and keyed the child by the new id) before the
    kill's cancel of the old id reached it: it answers that cancel too late. The successor
    inherited the kill's cancel; the shard now sends it for the successor, so the order the
    kill meant to stop is stopped and does not stay cancel-in-flight for ever."""
    state = make_state()
    order_id = only_report(run(state, order("c1"))).order_id
    run(state, ReplaceOrder("A1", "c1", "c2", D("12"), None, None, REPLACE_ASKER))
    assert cancels(run(state, SetKill("A1", True))) == [order_id]
    _, new = reports(venue_event(state, order_id, VenueEventKind.REPLACED))
    sends = venue_event(state, order_id, VenueEventKind.CANCEL_REJECTED, Reason.TOO_LATE_TO_CANCEL.value)
    assert cancels(sends) == [new.order_id] and refusals(sends) == [] and state.anomalies == []
    canceled = only_report(venue_event(state, new.order_id, VenueEventKind.CANCELED, Reason.USER_CANCELED.value))
    assert (canceled.status, state.accounts["A1"].reserved_cash) == (OrderStatus.CANCELED, 0)
    state.check_invariants()


def test_a_client_cancel_refused_after_its_order_was_replaced_sends_nothing_more() -> None:
    state = make_state()
    order_id = only_report(run(state, order("c1"))).order_id
    run(state, ReplaceOrder("A1", "c1", "c2", D("12"), None, None, REPLACE_ASKER))
    reports(venue_event(state, order_id, VenueEventKind.REPLACED))
    assert cancels(venue_event(state, order_id, VenueEventKind.CANCEL_REJECTED, Reason.TOO_LATE_TO_CANCEL.value)) == []


def test_a_refused_cancel_under_a_replace_leaves_the_replace_in_flight_until_its_own_answer() -> None:
    state = make_state()
    order_id = only_report(run(state, order("c1"))).order_id
    run(state, ReplaceOrder("A1", "c1", "c2", D("12"), None, None, REPLACE_ASKER))
    run(state, SetKill("A1", True))
    assert refusals(venue_event(state, order_id, VenueEventKind.CANCEL_REJECTED, Reason.TOO_LATE_TO_CANCEL.value)) == []
    assert [r.code for r in refusals(run(state, CancelOrder("A1", "c1", CANCEL_ASKER)))] == [Reason.PENDING_REQUEST.value]
    [refused] = refusals(venue_event(state, order_id, VenueEventKind.REPLACE_REJECTED, "venue said no"))
    assert (refused.reply, refused.code, refused.message) == (REPLACE_ASKER, "replace_rejected", "venue said no")
    assert cancels(run(state, CancelOrder("A1", "c1", CANCEL_ASKER))) == [order_id]


# --- cancel, expire, reject ------------------------------------------------------------------------


def test_cancel_is_sent_to_the_instrument_and_confirmed_canceled_to_the_asker() -> None:
    state = make_state()
    order_id = only_report(run(state, order())).order_id
    cancel_reply = Reply("gateway-0", 1, b"8")
    sends = run(state, CancelOrder("A1", "c1", cancel_reply))
    assert [type(s.message) for s in sends] == [CancelRoute]
    report = only_report(venue_event(state, order_id, VenueEventKind.CANCELED, Reason.USER_CANCELED.value))
    assert (report.exec_type, report.status, report.reply) == (ExecType.CANCELED, OrderStatus.CANCELED, cancel_reply)
    assert account(state).reserved_cash == 0


def test_cancel_of_unknown_or_finished_order_gets_an_error() -> None:
    state = make_state()
    sends = run(state, CancelOrder("A1", "nope", REPLY))
    assert isinstance(sends[0].message, RequestRejected) and sends[0].message.code == "unknown_order"
    order_id = only_report(run(state, order())).order_id
    fill(state, order_id, "10", "150")
    sends = run(state, CancelOrder("A1", "c1", REPLY))
    assert isinstance(sends[0].message, RequestRejected) and sends[0].message.code == "order_not_open"


def test_second_cancel_while_one_is_pending_is_refused() -> None:
    state = make_state()
    run(state, order())
    run(state, CancelOrder("A1", "c1", REPLY))
    sends = run(state, CancelOrder("A1", "c1", REPLY))
    assert isinstance(sends[0].message, RequestRejected) and sends[0].message.code == Reason.PENDING_REQUEST.value


def test_cancel_rejected_by_the_venue_tells_the_asker_and_keeps_the_order() -> None:
    state = make_state()
    order_id = only_report(run(state, order())).order_id
    run(state, CancelOrder("A1", "c1", REPLY))
    sends = venue_event(state, order_id, VenueEventKind.CANCEL_REJECTED, Reason.TOO_LATE_TO_CANCEL.value)
    assert isinstance(sends[0].message, RequestRejected) and sends[0].message.code == "cancel_rejected"
    assert state.orders[order_id].status is OrderStatus.NEW and not state.orders[order_id].pending.has_cancel


def test_cancel_all_cancels_every_open_order_of_the_account_in_the_symbol() -> None:
    state = make_state()
    run(state, order("c1"))
    run(state, order("c2", symbol="XYZ", price="25.00"))
    sends = run(state, CancelAll("A1", "IBM", REPLY))
    cancels = [s.message for s in sends if isinstance(s.message, CancelRoute)]
    done = [s.message for s in sends if isinstance(s.message, CancelAllDone)]
    assert [c.symbol for c in cancels] == ["IBM"] and done[0].requested == 1


def test_replace_continues_the_order_under_the_new_client_order_id() -> None:
    state = make_state()
    order_id = only_report(run(state, order(qty="10", price="150.00"))).order_id
    fill(state, order_id, "4", "150.00")
    replace_reply = Reply("gateway-0", 1, b"9")
    sends = run(state, ReplaceOrder("A1", "c1", "c2", D("12"), D("149.00"), None, replace_reply))
    route = next(s.message for s in sends if isinstance(s.message, ReplaceRoute))
    assert route.qty == D("12")
    found = reports(venue_event(state, order_id, VenueEventKind.REPLACED))
    old, new = found
    assert (old.status, old.client_order_id) == (OrderStatus.REPLACED, "c1")
    assert (new.exec_type, new.status, new.client_order_id, new.reply) == (ExecType.REPLACED, OrderStatus.PARTIALLY_FILLED, "c2", replace_reply)
    assert (new.cum_qty, new.leaves_qty) == (D("4"), D("8"))
    assert account(state).reserved_cash == D("1192")  # 8 × 149.00
    last = only_report(fill(state, route.new_order_id, "8", "149.00"))
    assert last.status is OrderStatus.FILLED and account(state).reserved_cash == 0


def test_replace_refused_by_the_venue_restores_the_original_hold() -> None:
    state = make_state()
    order_id = only_report(run(state, order(qty="10", price="150.00"))).order_id
    run(state, ReplaceOrder("A1", "c1", "c2", D("20"), None, None, REPLY))
    assert account(state).reserved_cash == D("3000")
    sends = venue_event(state, order_id, VenueEventKind.REPLACE_REJECTED, "too_late")
    assert any(isinstance(s.message, RequestRejected) and s.message.code == "replace_rejected" for s in sends)
    assert account(state).reserved_cash == D("1500") and "c2" not in account(state).orders


@pytest.mark.parametrize(
    ("qty", "price", "message"),
    [("4", None, "more than the quantity already filled"), ("10.5", None, None), (None, "150.001", "tick"), (None, None, "needs qty")],
)
def test_bad_replace_is_refused_and_changes_nothing(qty: str | None, price: str | None, message: str | None) -> None:
    state = make_state()
    order_id = only_report(run(state, order(qty="10", symbol="XYZ", price="25.00"))).order_id
    fill(state, order_id, "4", "25.00")
    before = state.state_hash()
    sends = run(state, ReplaceOrder("A1", "c1", "c2", D(qty) if qty else None, D(price) if price else None, None, REPLY))
    assert isinstance(sends[0].message, RequestRejected)
    if message:
        assert message in sends[0].message.message
    assert "c2" not in account(state).orders
    assert state.orders[order_id].pending_replace is None
    assert before != state.state_hash()  # the rejection counter only


REPLACE_ERRORS = [
    # (the order: type, symbol, price, stop_price), the replace's (qty, price, stop_price), the words the client gets
    ((OrderType.LIMIT, "XYZ", "25.00", None), (None, None, "24.00"), "a limit order has no stop_price"),
    ((OrderType.STOP, "XYZ", None, "24.00"), (None, "24.50", None), "a stop order has no price"),
    ((OrderType.MARKET, "XYZ", None, None), (None, "25.00", None), "a market order has no price"),
    ((OrderType.LIMIT, "XYZ", "25.00", None), ("10.5", None, None), "qty must be a multiple of 1 for XYZ"),
    ((OrderType.LIMIT, "IBM", "150.00", None), ("10.0000001", None, None), "qty must be a multiple of 0.000001 for IBM"),
    ((OrderType.LIMIT, "XYZ", "25.00", None), (None, "25.001", None), "price is off the tick of 0.01 for XYZ"),
    ((OrderType.STOP_LIMIT, "XYZ", "25.00", "24.00"), (None, None, "24.005"), "price is off the tick of 0.01 for XYZ"),
]


@pytest.mark.parametrize(("placed", "asked", "words"), REPLACE_ERRORS, ids=[case[2] for case in REPLACE_ERRORS])
def test_a_replace_that_does_not_fit_the_order_type_tick_or_increment_gets_the_exact_words(
    placed: tuple[OrderType, str, str | None, str | None], asked: tuple[str | None, str | None, str | None], words: str
) -> None:
    order_type, symbol, price, stop_price = placed
    state = make_state(allow_short=True)
    run(state, order(qty="10", symbol=symbol, order_type=order_type, price=price, stop_price=stop_price))
    before = msgspec.msgpack.encode((state.orders.as_dict(), state.accounts))
    qty, new_price, new_stop = (D(value) if value else None for value in asked)
    (refused,) = refusals(run(state, ReplaceOrder("A1", "c1", "c2", qty, new_price, new_stop, REPLY)))
    assert (refused.code, refused.message) == ("invalid_request", words)
    assert msgspec.msgpack.encode((state.orders.as_dict(), state.accounts)) == before


def test_replace_of_a_notional_order_is_refused() -> None:
    state = make_state()
    run(state, order(qty=None, price=None, order_type=OrderType.MARKET, notional="100.00"))
    sends = run(state, ReplaceOrder("A1", "c1", "c2", D("1"), None, None, REPLY))
    assert isinstance(sends[0].message, RequestRejected)


def test_a_replace_overtaken_by_fills_is_refused_even_if_a_venue_confirms_it() -> None:
    state = make_state()
    order_id = only_report(run(state, order(qty="10"))).order_id
    run(state, ReplaceOrder("A1", "c1", "c2", D("3"), None, None, REPLY))
    fill(state, order_id, "4", "150")
    sends = venue_event(state, order_id, VenueEventKind.REPLACED)
    assert any(isinstance(s.message, RequestRejected) and s.message.code == "replace_rejected" for s in sends)
    assert state.orders[order_id].status is OrderStatus.PARTIALLY_FILLED and state.anomalies
    assert "c2" not in account(state).orders


def routes_replaced(sends: list[Send]) -> list[str]:
    return [s.message.order_id for s in sends if isinstance(s.message, ReplaceRoute)]


def test_a_replace_holds_its_new_quantity_at_the_dearer_price_as_the_old_terms_may_still_fill() -> None:
    """10,000.00 of cash, 60 held at 150.00: a replace to 70 at 140.00 would hold 9,800.00 at
    its own price, but until the venue answers the old terms may fill at 150.00 — 50 of them,
    then 20 at 140.00, is 10,300.00. Held at the dearer price it needs 10,500.00: refused."""
    state = make_state(cash="10000.00")
    run(state, order("c1", qty="60", price="150.00"))
    sends = run(state, ReplaceOrder("A1", "c1", "c2", D("70"), D("140.00"), None, REPLACE_ASKER))
    assert routes_replaced(sends) == [] and [r.code for r in refusals(sends)] == [Reason.INSUFFICIENT_BUYING_POWER.value]
    assert account(state).reserved_cash == D("9000.00")
    sends = run(state, ReplaceOrder("A1", "c1", "c3", D("66"), D("140.00"), None, REPLACE_ASKER))  # 9,900.00 at 150.00: fits
    assert len(routes_replaced(sends)) == 1 and account(state).reserved_cash == D("9900.00")


def test_a_killed_account_s_replace_is_refused_and_changes_nothing() -> None:
    """The kill cancels every order; one whose cancel the venue refused works on, and may
    not be made larger — nor changed at all — while the account is killed."""
    state = make_state()
    order_id = only_report(run(state, order("c1", qty="10", price="150.00"))).order_id
    run(state, SetKill("A1", True))
    venue_event(state, order_id, VenueEventKind.CANCEL_REJECTED, Reason.TOO_LATE_TO_CANCEL.value)
    held = account(state).reserved_cash
    sends = run(state, ReplaceOrder("A1", "c1", "c2", D("20"), None, None, REPLACE_ASKER))
    assert routes_replaced(sends) == [] and [r.code for r in refusals(sends)] == [Reason.ACCOUNT_KILLED.value]
    record = state.orders.peek(order_id)
    assert record is not None and record.spec.qty == D("10") and record.pending_replace is None and account(state).reserved_cash == held


def test_a_replace_that_adds_to_an_order_passes_the_portfolio_steps_for_what_it_adds() -> None:
    """The trading state and the portfolio limits see what the replace adds, as a new order
    of that quantity; one that adds nothing passes as the old order did (halted included)."""
    from model.messages import SetAccountTradingState, SetPortfolioLimits
    from model.risk.limits import PortfolioLimits

    state = make_state()
    run(state, order("c1", qty="1", price="150.00"))
    run(state, SetPortfolioLimits(account="A1", limits=PortfolioLimits(max_gross=D("1000.00"))))
    refused = run(state, ReplaceOrder("A1", "c1", "c2", D("100"), None, None, REPLACE_ASKER))  # 15,000.00 of exposure
    assert routes_replaced(refused) == [] and [r.code for r in refusals(refused)] == [Reason.MAX_GROSS_EXPOSURE.value]
    run(state, SetPortfolioLimits(account="A1", clear=True))
    run(state, SetAccountTradingState("A1", "halted"))
    assert [r.code for r in refusals(run(state, ReplaceOrder("A1", "c1", "c2", D("6"), None, None, REPLACE_ASKER)))] == [Reason.ACCOUNT_HALTED.value]
    assert len(routes_replaced(run(state, ReplaceOrder("A1", "c1", "c3", D("1"), D("149.00"), None, REPLACE_ASKER)))) == 1  # adds nothing
