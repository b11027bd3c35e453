"""Execution booking: fills to cash and positions, and the venue's ends of an order."""

from __future__ import annotations

from model.enums import ExecType, OrderStatus, OrderType, Reason, Side, VenueEventKind
from model.messages import AccountReply, MarketUpdate, QueryAccount, RouteOrder
from tests.unit.actors.account.support import NOW, REPLY, D, account, fill, make_state, only_report, order, run, seed_position, venue_event


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


def test_expiry_and_venue_rejection_release_reservations() -> None:
    state = make_state()
    first = only_report(run(state, order("c1"))).order_id
    second = only_report(run(state, order("c2"))).order_id
    assert only_report(venue_event(state, first, VenueEventKind.EXPIRED, Reason.END_OF_DAY.value)).status is OrderStatus.EXPIRED
    assert only_report(venue_event(state, second, VenueEventKind.REJECTED, "market_closed")).status is OrderStatus.REJECTED
    assert account(state).reserved_cash == 0
