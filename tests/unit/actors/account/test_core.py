from __future__ import annotations

from typing import Any

import msgspec
import pytest

from actors.account.core import AccountState
from actors.account.risk import RiskLimits
from actors.runtime.outputs import DROP_COPY, GATEWAY, INSTRUMENT, Send
from model import fixed
from model.config import AccountSeed
from model.enums import AssetClass, ExecType, OrderStatus, OrderType, Reason, Side, TimeInForce, VenueEventKind
from model.instruments import Instrument
from model.messages import (
    AccountReply,
    CancelAll,
    CancelAllDone,
    CancelOrder,
    CancelRoute,
    ExecutionReport,
    MarketUpdate,
    NewOrder,
    OpenMarket,
    OrdersReply,
    OrderUpdate,
    QueryAccount,
    QueryOrders,
    ReplaceOrder,
    ReplaceRoute,
    Reply,
    ReportToAsker,
    RequestRejected,
    RouteOrder,
    SetTradingStatus,
)
from model.orders import OrderSpec

D = fixed.parse
NOW = 1_700_000_000_000_000_000
IBM = Instrument("IBM", AssetClass.EQUITY, D("0.01"), D("0.000001"), D("150"))
XYZ = Instrument("XYZ", AssetClass.EQUITY, D("0.01"), fixed.SCALE, D("25"))
OPT = Instrument("OPT", AssetClass.OPTION, D("0.05"), fixed.SCALE, D("7.50"), multiplier=100)
FUND = Instrument("VFIAX", AssetClass.MUTUAL_FUND, D("0.01"), D("0.001"), D("450"))
LIMITS = RiskLimits(max_order_qty=D("1000"), max_order_notional=D("100000"), price_band=D("0.10"), market_collar=D("0.05"))
REPLY = Reply("gateway-0", 1, b"7")


def make_state(cash: str = "100000.00", allow_short: bool = False, limits: RiskLimits = LIMITS) -> AccountState:
    state = AccountState("account-0", [IBM, XYZ, OPT, FUND], limits)
    state.open_account(AccountSeed("A1", "trader1", D(cash), allow_short))
    return state


def order(
    cloid: str = "c1",
    side: Side = Side.BUY,
    qty: str | None = "10",
    price: str | None = "150.00",
    order_type: OrderType = OrderType.LIMIT,
    symbol: str = "IBM",
    tif: TimeInForce = TimeInForce.DAY,
    notional: str | None = None,
    stop_price: str | None = None,
) -> NewOrder:
    spec = OrderSpec(
        symbol, side, order_type, tif,
        D(qty) if qty else None, D(notional) if notional else None,
        D(price) if price else None, D(stop_price) if stop_price else None,
    )
    return NewOrder("A1", cloid, spec, REPLY)


def run(state: AccountState, message: Any, now: int = NOW) -> list[Send]:
    state.apply(message, now)
    sends = state.out.drain()
    state.check_invariants()
    return sends


def reports(sends: list[Send]) -> list[ExecutionReport]:
    """The reports for the traders (each fill is also copied to the drop copy)."""
    return [s.message for s in sends if isinstance(s.message, ExecutionReport) and s.kind == GATEWAY]


def test_every_fill_and_only_fills_go_to_the_drop_copy() -> None:
    state = make_state()
    sends = run(state, order())
    assert not [s for s in sends if s.kind == DROP_COPY]
    order_id = only_report(sends).order_id
    assert not [s for s in venue_event(state, order_id, VenueEventKind.ACCEPTED) if s.kind == DROP_COPY]
    sends = fill(state, order_id, "4", "149.5")
    copies = [s.message for s in sends if s.kind == DROP_COPY]
    assert copies == reports(sends) and copies[0].exec_type is ExecType.TRADE


def only_report(sends: list[Send]) -> ExecutionReport:
    found = reports(sends)
    assert len(found) == 1, sends
    return found[0]


def fill(state: AccountState, order_id: str, qty: str, price: str, done: bool = False) -> list[Send]:
    return run(state, OrderUpdate(order_id, "A1", VenueEventKind.TRADE, D(qty), D(price), None, "SIM", NOW, done))


def venue_event(state: AccountState, order_id: str, kind: VenueEventKind, reason: str | None = None) -> list[Send]:
    return run(state, OrderUpdate(order_id, "A1", kind, 0, None, reason, "SIM", NOW))


def account(state: AccountState):  # type: ignore[no-untyped-def]
    return state.accounts["A1"]


# --- acceptance and routing -----------------------------------------------------------------


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
    assert state.orders == {}
    assert state.rejected_requests == 1 and before != state.state_hash()  # only the counter moved


# --- risk at the limits -----------------------------------------------------------------------


@pytest.mark.parametrize(("qty", "accepted"), [("999", True), ("1000", True), ("1001", False)])
def test_max_order_qty_at_limit_minus_one_limit_and_plus_one(qty: str, accepted: bool) -> None:
    state = make_state(cash="1000000.00")
    report = only_report(run(state, order(qty=qty, price="25.00", symbol="XYZ")))
    assert report.status is (OrderStatus.NEW if accepted else OrderStatus.REJECTED)
    if not accepted:
        assert report.reason == Reason.MAX_ORDER_SIZE.value


@pytest.mark.parametrize(("notional", "accepted"), [("99999.99", True), ("100000.00", True), ("100000.01", False)])
def test_max_order_notional_at_limit_minus_one_limit_and_plus_one(notional: str, accepted: bool) -> None:
    state = make_state(cash="1000000.00")
    report = only_report(run(state, order(qty=None, price=None, order_type=OrderType.MARKET, notional=notional)))
    assert report.status is (OrderStatus.NEW if accepted else OrderStatus.REJECTED)
    if not accepted:
        assert report.reason == Reason.MAX_ORDER_NOTIONAL.value


@pytest.mark.parametrize(
    ("price", "accepted"),
    [("165.00", True), ("165.01", False), ("135.00", True), ("134.99", False), ("164.99", True)],
)
def test_price_band_is_ten_percent_of_the_reference(price: str, accepted: bool) -> None:
    state = make_state(cash="1000000.00")
    report = only_report(run(state, order(qty="1", price=price)))
    assert report.status is (OrderStatus.NEW if accepted else OrderStatus.REJECTED)
    if not accepted:
        assert report.reason == Reason.PRICE_OUT_OF_BAND.value


def test_price_band_follows_the_consolidated_quote() -> None:
    state = make_state(cash="1000000.00")
    run(state, MarketUpdate("IBM", D("159.99"), D("160.01"), D("160.00"), False, NOW))
    assert only_report(run(state, order("c1", qty="1", price="176.00"))).status is OrderStatus.NEW
    assert only_report(run(state, order("c2", qty="1", price="176.01"))).reason == Reason.PRICE_OUT_OF_BAND.value


@pytest.mark.parametrize(("cash", "accepted"), [("1500.01", True), ("1500.00", True), ("1499.99", False)])
def test_buying_power_at_limit_minus_one_limit_and_plus_one(cash: str, accepted: bool) -> None:
    state = make_state(cash=cash)
    report = only_report(run(state, order(qty="10", price="150.00")))
    assert report.status is (OrderStatus.NEW if accepted else OrderStatus.REJECTED)
    if not accepted:
        assert report.reason == Reason.INSUFFICIENT_BUYING_POWER.value
        assert account(state).reserved_cash == 0


def test_reservations_reduce_buying_power_for_the_next_order() -> None:
    state = make_state(cash="3000.00")
    assert only_report(run(state, order("c1", qty="10", price="150.00"))).status is OrderStatus.NEW
    assert only_report(run(state, order("c2", qty="10", price="150.00"))).status is OrderStatus.NEW
    third = only_report(run(state, order("c3", qty="0.000001", price="150.00")))
    assert third.reason == Reason.INSUFFICIENT_BUYING_POWER.value


def test_market_buy_reserves_at_the_ask_plus_the_collar() -> None:
    state = make_state()
    run(state, MarketUpdate("IBM", D("149.90"), D("150.10"), D("150.00"), False, NOW))
    run(state, order(qty="10", price=None, order_type=OrderType.MARKET))
    assert account(state).reserved_cash == D("1576.10")  # 10 × ceil_tick(150.10 × 1.05 = 157.605)


def seed_position(state: AccountState, qty: str, price: str = "150.00") -> None:
    routed = run(state, order("seed", qty=qty, price=price))
    fill(state, only_report(routed).order_id, qty, price)


@pytest.mark.parametrize(("qty", "accepted"), [("4.999999", True), ("5", True), ("5.000001", False)])
def test_sell_at_position_minus_one_increment_position_and_plus_one(qty: str, accepted: bool) -> None:
    state = make_state()
    seed_position(state, "5")
    report = only_report(run(state, order("s1", side=Side.SELL, qty=qty)))
    assert report.status is (OrderStatus.NEW if accepted else OrderStatus.REJECTED)
    if not accepted:
        assert report.reason == Reason.INSUFFICIENT_POSITION.value


def test_shares_held_by_an_open_sell_cannot_be_sold_twice() -> None:
    state = make_state()
    seed_position(state, "5")
    assert only_report(run(state, order("s1", side=Side.SELL, qty="3"))).status is OrderStatus.NEW
    assert only_report(run(state, order("s2", side=Side.SELL, qty="2.000001"))).reason == Reason.INSUFFICIENT_POSITION.value
    assert only_report(run(state, order("s3", side=Side.SELL, qty="2"))).status is OrderStatus.NEW


def test_short_sale_is_allowed_only_where_the_account_allows_it() -> None:
    assert only_report(run(make_state(), order(side=Side.SELL, qty="1"))).reason == Reason.INSUFFICIENT_POSITION.value
    assert only_report(run(make_state(allow_short=True), order(side=Side.SELL, qty="1"))).status is OrderStatus.NEW


def test_halted_symbol_rejects_new_orders_until_resumed() -> None:
    state = make_state()
    run(state, SetTradingStatus("IBM", True))
    assert only_report(run(state, order("c1"))).reason == Reason.HALTED.value
    run(state, SetTradingStatus("IBM", False))
    assert only_report(run(state, order("c2"))).status is OrderStatus.NEW


# --- idempotency -----------------------------------------------------------------------------------


def answer_to_asker(sends: list[Send]) -> ExecutionReport:
    """The one report a resend or a reused id gets: to the asking connection's gateway alone."""
    assert len(sends) == 1 and sends[0].kind == GATEWAY and sends[0].key == REPLY.gateway, sends
    message = sends[0].message
    assert isinstance(message, ReportToAsker) and message.reply == REPLY
    return message.report


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
    orders_before = dict(state.orders)
    reserved_before = account(state).reserved_cash
    report = answer_to_asker(run(state, order("c1", qty="11")))
    assert (report.status, report.reason, report.order_id) == (OrderStatus.REJECTED, Reason.DUPLICATE_CLIENT_ORDER_ID.value, "")
    assert state.orders == orders_before and account(state).reserved_cash == reserved_before


def test_a_new_order_with_the_id_a_replace_gave_is_a_duplicate_even_with_the_old_content() -> None:
    state = make_state()
    order_id = only_report(run(state, order("c1", qty="10"))).order_id
    run(state, ReplaceOrder("A1", "c1", "c2", D("12"), None, None, REPLY))
    venue_event(state, order_id, VenueEventKind.REPLACED)
    report = answer_to_asker(run(state, order("c2", qty="10")))
    assert (report.reason, report.order_id) == (Reason.DUPLICATE_CLIENT_ORDER_ID.value, "")


# --- fills --------------------------------------------------------------------------------------------


def test_partial_then_full_fill_moves_cash_position_and_releases_the_reservation() -> None:
    state = make_state()
    order_id = only_report(run(state, order(qty="10", price="150.00"))).order_id
    first = only_report(fill(state, order_id, "4", "149.50"))
    assert (first.exec_type, first.status, first.cum_qty, first.leaves_qty) == (ExecType.TRADE, OrderStatus.PARTIALLY_FILLED, D("4"), D("6"))
    assert account(state).cash == D("100000") - D("598")
    assert account(state).reserved_cash == D("900")
    last = only_report(fill(state, order_id, "6", "150.00"))
    assert (last.status, last.leaves_qty, last.avg_price) == (OrderStatus.FILLED, 0, D("149.8"))
    assert account(state).cash == D("100000") - D("1498")
    assert account(state).reserved_cash == 0
    assert account(state).positions["IBM"].qty == D("10")


def test_fractional_buy_books_cash_rounded_up_to_the_cent_on_the_cumulative_value() -> None:
    state = make_state()
    order_id = only_report(run(state, order(qty="0.6", price="150.25"))).order_id
    fill(state, order_id, "0.3", "150.25")  # 45.075 → 45.08
    assert account(state).cash == D("100000") - D("45.08")
    fill(state, order_id, "0.3", "150.25")  # cumulative 90.15 exactly → total 90.15, not 90.16
    assert account(state).cash == D("100000") - D("90.15")


def test_sell_proceeds_round_down_and_position_avg_cost_is_kept() -> None:
    state = make_state()
    seed_position(state, "1", "150.00")
    order_id = only_report(run(state, order("s1", side=Side.SELL, qty="0.3", price="150.25"))).order_id
    fill(state, order_id, "0.3", "150.25")
    assert account(state).cash == D("100000") - D("150") + D("45.07")
    position = account(state).positions["IBM"]
    assert position.qty == D("0.7")
    replies = run(state, QueryAccount("A1", REPLY))
    view = replies[0].message
    assert isinstance(view, AccountReply) and view.positions[0].avg_cost == D("150")


def test_notional_buy_never_books_more_than_its_notional() -> None:
    state = make_state()
    order_id = only_report(run(state, order(qty=None, price=None, order_type=OrderType.MARKET, notional="100.00"))).order_id
    assert account(state).reserved_cash == D("100")
    fill(state, order_id, "0.333333", "150.01")  # 50.003... → 50.01
    last = only_report(fill(state, order_id, "0.333267", "150.02", done=True))  # cumulative 99.9989... → 100.00
    assert last.status is OrderStatus.FILLED
    assert account(state).cash == D("100000") - D("100")
    assert account(state).reserved_cash == 0


def test_notional_fill_that_would_cost_more_than_the_notional_is_refused() -> None:
    state = make_state()
    order_id = only_report(run(state, order(qty=None, price=None, order_type=OrderType.MARKET, notional="100.00"))).order_id
    before = state.state_hash()
    assert fill(state, order_id, "0.7", "150.00") == []  # 105.00 > 100.00
    assert state.anomalies and account(state).cash == D("100000")
    assert before == state.state_hash()


def test_notional_sell_is_capped_at_the_shares_it_needs_and_the_account_holds() -> None:
    state = make_state()
    seed_position(state, "2")
    run(state, MarketUpdate("IBM", D("150.00"), D("150.02"), D("150.01"), False, NOW))
    sends = run(state, order("s1", side=Side.SELL, qty=None, price=None, order_type=OrderType.MARKET, notional="100.00"))
    route = next(s.message for s in sends if isinstance(s.message, RouteOrder))
    # at the collared bid of 142.50 it takes 0.701755 shares to raise 100.00
    assert route.qty_cap == D("0.701755")
    assert account(state).reserved_qty["IBM"] == D("0.701755")


def test_overfill_is_refused_and_recorded() -> None:
    state = make_state()
    order_id = only_report(run(state, order(qty="10"))).order_id
    cash_before = account(state).cash
    assert fill(state, order_id, "10.000001", "150.00") == []
    assert account(state).cash == cash_before and state.anomalies


def test_option_fill_costs_price_times_multiplier() -> None:
    state = make_state()
    order_id = only_report(run(state, order(qty="2", price="7.50", symbol="OPT"))).order_id
    assert account(state).reserved_cash == D("1500")
    fill(state, order_id, "2", "7.45")
    assert account(state).cash == D("100000") - D("1490")
    assert account(state).positions["OPT"].qty == D("2")


# --- cancel, expire, reject --------------------------------------------------------------------------


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


def test_expiry_and_venue_rejection_release_reservations() -> None:
    state = make_state()
    first = only_report(run(state, order("c1"))).order_id
    second = only_report(run(state, order("c2"))).order_id
    assert only_report(venue_event(state, first, VenueEventKind.EXPIRED, Reason.END_OF_DAY.value)).status is OrderStatus.EXPIRED
    assert only_report(venue_event(state, second, VenueEventKind.REJECTED, "market_closed")).status is OrderStatus.REJECTED
    assert account(state).reserved_cash == 0


def test_cancel_all_cancels_every_open_order_of_the_account_in_the_symbol() -> None:
    state = make_state()
    run(state, order("c1"))
    run(state, order("c2", symbol="XYZ", price="25.00"))
    sends = run(state, CancelAll("A1", "IBM", REPLY))
    cancels = [s.message for s in sends if isinstance(s.message, CancelRoute)]
    done = [s.message for s in sends if isinstance(s.message, CancelAllDone)]
    assert [c.symbol for c in cancels] == ["IBM"] and done[0].requested == 1


# --- replace ---------------------------------------------------------------------------------------------


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


def test_replace_of_a_notional_order_is_refused() -> None:
    state = make_state()
    run(state, order(qty=None, price=None, order_type=OrderType.MARKET, notional="100.00"))
    sends = run(state, ReplaceOrder("A1", "c1", "c2", D("1"), None, None, REPLY))
    assert isinstance(sends[0].message, RequestRejected)


# --- queries and determinism --------------------------------------------------------------------------------


def test_get_orders_lists_each_order_once_and_open_only_filters() -> None:
    state = make_state()
    run(state, order("c1"))
    order_id = only_report(run(state, order("c2"))).order_id
    fill(state, order_id, "10", "150")
    everything = run(state, QueryOrders("A1", False, REPLY))[0].message
    open_only = run(state, QueryOrders("A1", True, REPLY))[0].message
    assert isinstance(everything, OrdersReply) and isinstance(open_only, OrdersReply)
    assert [o.client_order_id for o in everything.orders] == ["c1", "c2"]
    assert [o.client_order_id for o in open_only.orders] == ["c1"]


def test_replaying_the_same_inputs_gives_the_same_state_hash() -> None:
    def scenario() -> AccountState:
        state = make_state()
        order_id = only_report(run(state, order("c1", qty="0.7", price="150.25"))).order_id
        fill(state, order_id, "0.3", "150.10")
        run(state, order("c2", side=Side.SELL, qty="0.2"))
        run(state, CancelOrder("A1", "c2", REPLY))
        return state

    assert scenario().state_hash() == scenario().state_hash()


def test_gateway_reports_go_to_every_gateway() -> None:
    sends = run(make_state(), order())
    assert [s.key for s in sends if s.kind == GATEWAY] == ["*"]


def test_a_replace_overtaken_by_fills_is_refused_even_if_a_venue_confirms_it() -> None:
    state = make_state()
    order_id = only_report(run(state, order(qty="10"))).order_id
    run(state, ReplaceOrder("A1", "c1", "c2", D("3"), None, None, REPLY))
    fill(state, order_id, "4", "150")
    sends = venue_event(state, order_id, VenueEventKind.REPLACED)
    assert any(isinstance(s.message, RequestRejected) and s.message.code == "replace_rejected" for s in sends)
    assert state.orders[order_id].status is OrderStatus.PARTIALLY_FILLED and state.anomalies
    assert "c2" not in account(state).orders


def test_get_orders_answers_while_a_replace_is_pending() -> None:
    state = make_state()
    run(state, order("c1"))
    run(state, ReplaceOrder("A1", "c1", "c2", D("12"), None, None, REPLY))
    listing = run(state, QueryOrders("A1", False, REPLY))[0].message
    assert isinstance(listing, OrdersReply) and [o.client_order_id for o in listing.orders] == ["c1"]


def test_a_new_order_reusing_a_pending_replace_id_is_a_duplicate_and_changes_nothing() -> None:
    state = make_state()
    run(state, order("c1"))
    run(state, ReplaceOrder("A1", "c1", "c2", D("12"), None, None, REPLY))
    reserved = account(state).reserved_cash
    report = answer_to_asker(run(state, order("c2")))
    assert (report.status, report.reason, report.order_id) == (OrderStatus.REJECTED, Reason.DUPLICATE_CLIENT_ORDER_ID.value, "")
    assert account(state).reserved_cash == reserved and len(state.orders) == 1


# --- orders the market does not take: rejected as the first report ------------------------------------

DAY = 86_400 * 1_000_000_000


def routed(sends: list[Send]) -> list[Send]:
    return [s for s in sends if s.kind == INSTRUMENT and isinstance(s.message, RouteOrder)]


def test_a_limit_order_on_a_mutual_fund_is_rejected_at_once_and_nothing_is_held_or_routed() -> None:
    state = make_state()
    sends = run(state, order("f1", symbol="VFIAX", qty="2", price="450.00"))
    report = only_report(sends)
    assert (report.exec_type, report.status, report.reason) == (ExecType.REJECTED, OrderStatus.REJECTED, Reason.UNSUPPORTED.value)
    assert report.reply == REPLY and not routed(sends) and account(state).reserved_cash == 0
    market = only_report(run(state, order("f2", symbol="VFIAX", qty="2", price=None, order_type=OrderType.MARKET)))
    assert market.exec_type is ExecType.NEW


def test_an_order_for_the_open_after_todays_open_is_rejected_at_once_and_tomorrow_accepted() -> None:
    state = make_state()
    early = run(state, order("o1", tif=TimeInForce.OPG))
    assert only_report(early).exec_type is ExecType.NEW and routed(early)
    run(state, OpenMarket([], open_id=1), now=NOW + 10)
    late = run(state, order("o2", tif=TimeInForce.OPG), now=NOW + 20)
    report = only_report(late)
    assert (report.exec_type, report.reason) == (ExecType.REJECTED, Reason.OPEN_PASSED.value)
    assert not routed(late) and account(state).reserved_cash == D("1500")  # o1's hold only
    assert only_report(run(state, order("o3"), now=NOW + 20)).exec_type is ExecType.NEW  # a day order is not late
    tomorrow = NOW + DAY  # 17:13 in New York the next day
    assert only_report(run(state, order("o4", tif=TimeInForce.OPG), now=tomorrow)).exec_type is ExecType.NEW


def test_the_open_is_once_per_local_day_of_the_market_not_per_utc_day() -> None:
    # Tokyo opens at 09:00 local, 00:00 UTC: the next morning's orders fall on the same UTC
    # day as the last open, yet they are for the next open.
    state = make_state(limits=msgspec.structs.replace(LIMITS, open_timezone="Asia/Tokyo"))
    open_at = 1_700_006_400 * 1_000_000_000  # 2023-11-15 09:00 JST = 00:00 UTC
    run(state, OpenMarket([], open_id=1), now=open_at)
    assert only_report(run(state, order("o1", tif=TimeInForce.OPG), now=open_at + 3600 * 10**9)).reason == Reason.OPEN_PASSED.value
    next_morning = open_at + 23 * 3600 * 10**9  # 08:00 JST on the 16th, 23:00 UTC on the 15th
    assert only_report(run(state, order("o2", tif=TimeInForce.OPG), now=next_morning)).exec_type is ExecType.NEW


def test_late_orders_next_lets_an_order_for_the_open_wait_for_the_next_open() -> None:
    state = make_state(limits=msgspec.structs.replace(LIMITS, reject_late_opg=False))
    run(state, OpenMarket([], open_id=1))
    sends = run(state, order("o1", tif=TimeInForce.OPG))
    assert only_report(sends).exec_type is ExecType.NEW and routed(sends)


def test_the_open_of_some_symbols_or_of_a_halted_one_does_not_make_others_late() -> None:
    state = make_state()
    run(state, OpenMarket(["XYZ"], open_id=1))
    assert only_report(run(state, order("o1", tif=TimeInForce.OPG))).exec_type is ExecType.NEW  # IBM has not opened
    run(state, SetTradingStatus("IBM", True))
    run(state, OpenMarket([], open_id=2))  # IBM halted: it keeps its orders for a later open
    run(state, SetTradingStatus("IBM", False))
    assert only_report(run(state, order("o2", tif=TimeInForce.OPG))).exec_type is ExecType.NEW
    xyz = order("o3", symbol="XYZ", qty="1", price="25.00", tif=TimeInForce.OPG)
    assert only_report(run(state, xyz)).reason == Reason.OPEN_PASSED.value


def test_a_fund_order_for_the_open_waits_for_the_nav_even_after_the_open() -> None:
    state = make_state()
    run(state, OpenMarket([], open_id=1))
    fund = only_report(run(state, order("f1", symbol="VFIAX", qty="1", price=None, order_type=OrderType.MARKET, tif=TimeInForce.OPG)))
    assert fund.exec_type is ExecType.NEW


def test_the_market_checks_come_after_the_risk_checks_in_their_fixed_order() -> None:
    # the reasons an order failing several checks got before (risk in the shard first) stay the same
    state = make_state(cash="10.00")
    run(state, OpenMarket([], open_id=1))
    assert only_report(run(state, order("o1", tif=TimeInForce.OPG))).reason == Reason.INSUFFICIENT_BUYING_POWER.value
    assert only_report(run(state, order("f1", symbol="VFIAX", qty="1", price="450.00"))).reason == Reason.INSUFFICIENT_BUYING_POWER.value
    run(state, SetTradingStatus("VFIAX", True))
    assert only_report(run(state, order("f2", symbol="VFIAX", qty="0.001", price="450.00"))).reason == Reason.HALTED.value


def test_the_open_is_an_input_so_replay_rejects_the_same_late_orders() -> None:
    def scenario() -> AccountState:
        state = make_state()
        run(state, order("o1", tif=TimeInForce.OPG))
        run(state, OpenMarket([], open_id=1), now=NOW + 10)
        run(state, order("o2", tif=TimeInForce.OPG), now=NOW + 20)
        return state

    first, second = scenario(), scenario()
    assert first.state_hash() == second.state_hash()
    assert [o.status for o in first.orders.values()] == [OrderStatus.NEW, OrderStatus.REJECTED]


# --- get_orders in pages ------------------------------------------------------------------------------


def page(state: AccountState, cursor: str | None, limit: int, open_only: bool = False) -> OrdersReply:
    [send] = run(state, QueryOrders("A1", open_only, REPLY, cursor, limit))
    assert isinstance(send.message, OrdersReply), send
    return send.message


def every_page(state: AccountState, limit: int, open_only: bool = False, between: Any = None) -> list[str]:
    """The client order ids of every page, following ``next_cursor``; ``between(n)`` runs after page n."""
    listed, cursor, pages = [], None, 0
    while True:
        reply = page(state, cursor, limit, open_only)
        assert len(reply.orders) <= limit
        listed += [o.client_order_id for o in reply.orders]
        pages += 1
        if between is not None:
            between(pages)
        if reply.next_cursor is None:
            return listed
        cursor = reply.next_cursor


def test_pages_list_every_order_once_in_the_order_they_came() -> None:
    state = make_state()
    for index in range(7):
        run(state, order(f"c{index}", qty="1"))
    assert every_page(state, 3) == [f"c{index}" for index in range(7)]
    assert every_page(state, 7) == every_page(state, 100) == [f"c{index}" for index in range(7)]
    last = page(state, None, 7)
    assert last.next_cursor is None  # exactly one page: no empty page after it
    assert [o.client_order_id for o in page(state, None, 0).orders] == [f"c{index}" for index in range(7)]  # 0: all (operator reads)


def test_orders_that_arrive_between_pages_are_listed_once_at_the_end() -> None:
    state = make_state()
    for index in range(5):
        run(state, order(f"c{index}", qty="1"))
    added = iter(range(5, 9))

    def more(pages: int) -> None:
        if pages <= 2:
            for _ in range(2):
                run(state, order(f"c{next(added)}", qty="1"))

    assert every_page(state, 2, between=more) == [f"c{index}" for index in range(9)]


def test_a_replace_confirmed_after_the_pages_passed_it_is_still_listed() -> None:
    state = make_state()
    first_id = only_report(run(state, order("c0", qty="1"))).order_id
    run(state, ReplaceOrder("A1", "c0", "r0", D("2"), None, None, REPLY))  # reserves "r0" right after c0
    for index in range(1, 5):
        run(state, order(f"c{index}", qty="1"))

    def confirm(pages: int) -> None:
        if pages == 2:
            venue_event(state, first_id, VenueEventKind.REPLACED)

    assert every_page(state, 2, between=confirm) == ["c0", "c1", "c2", "c3", "c4", "r0"]


def test_open_only_pages_hold_only_open_orders() -> None:
    state = make_state()
    for index in range(6):
        order_id = only_report(run(state, order(f"c{index}", qty="1"))).order_id
        if index % 2:
            fill(state, order_id, "1", "150.00")
    assert every_page(state, 2, open_only=True) == ["c0", "c2", "c4"]
    assert page(state, None, 3, open_only=True).next_cursor is None


@pytest.mark.parametrize("cursor", ["account-0-99", "nonsense", "account-0-1"])
def test_a_cursor_that_is_not_a_position_in_the_accounts_orders_is_refused(cursor: str) -> None:
    state = make_state()
    state.open_account(AccountSeed("A2", "trader1", D("100.00")))
    run(state, NewOrder("A2", "x1", OrderSpec("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, D("0.1"), None, D("150"), None), REPLY))
    run(state, order("c1", qty="1"))  # account-0-2: the A2 order is account-0-1
    books = (dict(state.orders), {a: r.orders.copy() for a, r in state.accounts.items()})
    [send] = run(state, QueryOrders("A1", False, REPLY, cursor, 10))
    assert isinstance(send.message, RequestRejected) and send.message.code == "invalid_request" and send.key == REPLY.gateway
    assert (dict(state.orders), {a: r.orders.copy() for a, r in state.accounts.items()}) == books
