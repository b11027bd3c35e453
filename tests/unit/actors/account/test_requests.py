"""Cancels and replaces in flight: what a client may still ask, and what each answer means."""

from __future__ import annotations

from actors.runtime.outputs import Send
from model.enums import ExecType, OrderStatus, Reason, VenueEventKind
from model.messages import CancelAll, CancelAllDone, CancelOrder, CancelRoute, ReplaceOrder, Reply, RequestRejected, SetKill
from tests.unit.actors.account.test_core import REPLY, D, fill, make_state, only_report, order, reports, run, venue_event

CANCEL_ASKER = Reply("gateway-0", 1, b"8")
REPLACE_ASKER = Reply("gateway-0", 1, b"9")


def refusals(sends: list[Send]) -> list[RequestRejected]:
    return [s.message for s in sends if isinstance(s.message, RequestRejected)]


def cancels(sends: list[Send]) -> list[str]:
    return [s.message.order_id for s in sends if isinstance(s.message, CancelRoute)]


def test_a_fill_that_ends_an_order_leaves_its_cancel_to_be_answered_too_late() -> None:
    state = make_state()
    order_id = only_report(run(state, order())).order_id
    run(state, CancelOrder("A1", "c1", CANCEL_ASKER))
    sends = fill(state, order_id, "10", "150")
    assert only_report(sends).status is OrderStatus.FILLED and refusals(sends) == []
    [refused] = refusals(venue_event(state, order_id, VenueEventKind.CANCEL_REJECTED, Reason.TOO_LATE_TO_CANCEL.value))
    assert (refused.reply, refused.code, refused.message) == (CANCEL_ASKER, "cancel_rejected", Reason.TOO_LATE_TO_CANCEL.value)


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
