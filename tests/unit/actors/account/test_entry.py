"""Order entry: acceptance, idempotent resends, and the orders the market does not take
(rejected as their first report). Pre-trade risk at its limits: test_risk.py."""

from __future__ import annotations

from actors.runtime.outputs import GATEWAY, INSTRUMENT, Send
from model.enums import ExecType, OrderStatus, OrderType, Reason, Side, TimeInForce, VenueEventKind
from model.messages import ExecutionReport, NewOrder, ReplaceOrder, ReportToAsker, RequestRejected, RouteOrder
from model.orders import OrderSpec
from tests.unit.actors.account.support import NOW, REPLY, D, account, fill, make_state, only_report, order, routed, run, venue_event


def answer_to_asker(sends: list[Send]) -> ExecutionReport:
    """The one report a resend or a reused id gets: to the asking connection's gateway alone."""
    assert len(sends) == 1 and sends[0].kind == GATEWAY and sends[0].key == REPLY.gateway, sends
    message = sends[0].message
    assert isinstance(message, ReportToAsker) and message.reply == REPLY
    return message.report


def test_accepted_limit_buy_reports_new_to_the_asker_and_routes_to_its_instrument() -> None:
    state = make_state()
    sends = run(state, order(qty="1.3", price="150.25"))
    report = only_report(sends)
    assert (report.exec_type, report.status, report.reply) == (ExecType.NEW, OrderStatus.NEW, REPLY)
    assert report.leaves_qty == D("1.3") and report.cum_qty == 0
    routes = [s for s in sends if s.kind == INSTRUMENT]
    assert len(routes) == 1 and routes[0].key == "IBM" and isinstance(routes[0].message, RouteOrder)
    assert account(state).reserved_cash == D("195.33")  # 1.3 × 150.25 = 195.325, held rounded up


def test_order_ids_and_exec_ids_come_from_counters_not_clocks() -> None:
    state = make_state()
    first = only_report(run(state, order("c1")))
    second = only_report(run(state, order("c2")))
    assert (first.order_id, first.exec_id) == ("account-0-1", "account-0-1-1")
    assert second.order_id == "account-0-2"


def test_unknown_account_is_refused_without_change() -> None:
    state = make_state()
    before = state.state_hash()
    command = NewOrder("ZZ", "c1", OrderSpec("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, D("1"), None, D("150"), None), REPLY)
    sends = run(state, command)
    assert isinstance(sends[0].message, RequestRejected) and sends[0].message.code == "forbidden"
    assert len(state.orders) == 0
    assert state.rejected_requests == 1 and before != state.state_hash()  # only the counter moved


def test_resend_with_same_content_gets_the_original_result_and_creates_nothing() -> None:
    state = make_state()
    first = only_report(run(state, order("c1")))
    before = state.state_hash()
    again = answer_to_asker(run(state, order("c1"), now=NOW + 5))
    assert again == first  # the same report, to the byte: ids, exec type, state and time
    assert len(state.orders) == 1 and account(state).reserved_cash == D("1500") and state.state_hash() == before


def test_a_resend_after_fills_gets_the_original_acknowledgement_not_the_current_state() -> None:
    state = make_state()
    first = only_report(run(state, order("c1", qty="10")))
    fill(state, first.order_id, "4", "150.00")
    fill(state, first.order_id, "6", "149.00")
    again = answer_to_asker(run(state, order("c1", qty="10"), now=NOW + 7))
    assert again == first
    assert (again.exec_type, again.status, again.cum_qty, again.leaves_qty, again.avg_price, again.ts) == (
        ExecType.NEW, OrderStatus.NEW, 0, D("10"), None, NOW,
    )
    assert state.orders[first.order_id].status is OrderStatus.FILLED  # the resend changed nothing


def test_a_resend_of_an_order_the_venue_rejected_later_gets_its_new_report() -> None:
    state = make_state()
    first = only_report(run(state, order("c1")))
    venue_event(state, first.order_id, VenueEventKind.REJECTED, "venue_rejected")
    assert answer_to_asker(run(state, order("c1"))) == first and first.exec_type is ExecType.NEW


def test_resend_of_a_rejected_order_gets_the_rejection_again() -> None:
    state = make_state(cash="10.00")
    first = only_report(run(state, order("c1")))
    again = answer_to_asker(run(state, order("c1"), now=NOW + 3))
    assert again == first and (again.exec_type, again.reason) == (ExecType.REJECTED, Reason.INSUFFICIENT_BUYING_POWER.value)


def test_same_client_order_id_with_different_content_is_rejected_and_changes_nothing() -> None:
    state = make_state()
    run(state, order("c1", qty="10"))
    orders_before = state.orders.as_dict()
    reserved_before = account(state).reserved_cash
    report = answer_to_asker(run(state, order("c1", qty="11")))
    assert (report.status, report.reason, report.order_id) == (OrderStatus.REJECTED, Reason.DUPLICATE_CLIENT_ORDER_ID.value, "")
    assert state.orders.as_dict() == orders_before and account(state).reserved_cash == reserved_before


def test_a_new_order_with_the_id_a_replace_gave_is_a_duplicate_even_with_the_old_content() -> None:
    state = make_state()
    order_id = only_report(run(state, order("c1", qty="10"))).order_id
    run(state, ReplaceOrder("A1", "c1", "c2", D("12"), None, None, REPLY))
    venue_event(state, order_id, VenueEventKind.REPLACED)
    report = answer_to_asker(run(state, order("c2", qty="10")))
    assert (report.reason, report.order_id) == (Reason.DUPLICATE_CLIENT_ORDER_ID.value, "")


def test_a_new_order_reusing_a_pending_replace_id_is_a_duplicate_and_changes_nothing() -> None:
    state = make_state()
    run(state, order("c1"))
    run(state, ReplaceOrder("A1", "c1", "c2", D("12"), None, None, REPLY))
    reserved = account(state).reserved_cash
    report = answer_to_asker(run(state, order("c2")))
    assert (report.status, report.reason, report.order_id) == (OrderStatus.REJECTED, Reason.DUPLICATE_CLIENT_ORDER_ID.value, "")
    assert account(state).reserved_cash == reserved and len(state.orders) == 1


def test_a_limit_order_on_a_mutual_fund_is_rejected_at_once_and_nothing_is_held_or_routed() -> None:
    state = make_state()
    sends = run(state, order("f1", symbol="VFIAX", qty="2", price="450.00"))
    report = only_report(sends)
    assert (report.exec_type, report.status, report.reason) == (ExecType.REJECTED, OrderStatus.REJECTED, Reason.UNSUPPORTED.value)
    assert report.reply == REPLY and not routed(sends) and account(state).reserved_cash == 0
    market = only_report(run(state, order("f2", symbol="VFIAX", qty="2", price=None, order_type=OrderType.MARKET)))
    assert market.exec_type is ExecType.NEW
