"""Pre-trade risk: the pure checks one by one, then at their limits through a shard, and the
fixed order in which they run (``first_failure``)."""

from __future__ import annotations

import pytest

from actors.account.records import AccountRecord, OrderRecord, PositionRecord
from actors.account.risk import (
    MarketView,
    RiskLimits,
    cash_to_reserve,
    check_open_passed,
    check_price_band,
    check_size,
    estimate_price,
    first_failure,
    notional_sell_cap,
    qty_to_reserve,
    reference_price,
)
from model.calendar import trading_day
from model.config import OpenSection, RiskSection
from model.enums import OrderStatus, OrderType, Reason, Side, TimeInForce
from model.messages import MarketUpdate, OpenMarket, SetTradingStatus
from model.orders import OrderSpec
from tests.unit.actors.account.support import (
    FUND,
    IBM,
    LIMITS,
    NOW,
    OPT,
    XYZ,
    D,
    account,
    make_state,
    only_report,
    order,
    run,
    seed_position,
)

QUOTE = MarketView(bid=D("149.90"), ask=D("150.10"), reference=D("150.00"))


def record(
    side: Side = Side.BUY,
    order_type: OrderType = OrderType.LIMIT,
    qty: str | None = "10",
    price: str | None = "150.00",
    stop_price: str | None = None,
    notional: str | None = None,
    symbol: str = "IBM",
    tif: TimeInForce = TimeInForce.DAY,
    status: OrderStatus = OrderStatus.NEW,
) -> OrderRecord:
    spec = OrderSpec(
        symbol, side, order_type, tif,
        D(qty) if qty else None, D(notional) if notional else None,
        D(price) if price else None, D(stop_price) if stop_price else None,
    )
    return OrderRecord("account-0-1", "A1", "c1", spec, status, NOW, b"")


def holder(cash: str = "100000.00", allow_short: bool = False, **positions: str) -> AccountRecord:
    held = AccountRecord("A1", "trader1", D(cash), allow_short)
    for symbol, qty in positions.items():
        held.positions[symbol] = PositionRecord(qty=D(qty))
    return held


# --- the pure checks ----------------------------------------------------------------------------


def test_the_reference_is_the_market_s_when_it_has_one_and_the_instrument_s_otherwise() -> None:
    assert reference_price(IBM, None) == reference_price(IBM, MarketView()) == D("150")
    assert reference_price(IBM, QUOTE) == D("150.00") and reference_price(IBM, MarketView(reference=D("151"))) == D("151")


def test_a_limit_order_is_estimated_at_its_limit() -> None:
    assert estimate_price(record(price="140.00"), IBM, QUOTE, LIMITS) == D("140.00")


@pytest.mark.parametrize(
    ("side", "stop_price", "market", "expected"),
    [
        (Side.BUY, None, QUOTE, "157.61"),  # ask 150.10 + 5 % = 157.605, up to the tick
        (Side.BUY, None, None, "157.50"),  # no quote: the reference, 150 + 5 %
        (Side.BUY, "160.00", QUOTE, "168.00"),  # a buy stop above the ask: from the stop
        (Side.SELL, None, QUOTE, "142.40"),  # bid 149.90 − 5 % = 142.405, down to the tick
        (Side.SELL, "140.00", QUOTE, "133.00"),  # a sell stop below the bid: from the stop
    ],
)
def test_market_and_stop_orders_are_estimated_at_the_touch_moved_against_them_by_the_collar(
    side: Side, stop_price: str | None, market: MarketView | None, expected: str
) -> None:
    order_type = OrderType.MARKET if stop_price is None else OrderType.STOP
    assert estimate_price(record(side, order_type, price=None, stop_price=stop_price), IBM, market, LIMITS) == D(expected)


def test_a_sell_estimate_never_falls_below_one_tick() -> None:
    penny = MarketView(bid=D("0.01"), ask=D("0.02"), reference=D("0.01"))
    assert estimate_price(record(Side.SELL, OrderType.MARKET, price=None), IBM, penny, LIMITS) == IBM.tick_size


def test_cash_to_reserve_is_every_remaining_fill_paid_for_rounded_up_to_the_cent() -> None:
    assert cash_to_reserve(record(qty="1.3"), IBM, D("150.25")) == D("195.33")  # 195.325
    partly = record(qty="10", status=OrderStatus.PARTIALLY_FILLED)
    partly.cum_qty, partly.cum_value, partly.booked_cash = D("4"), 4 * D("150") * D("1"), D("600")
    assert cash_to_reserve(partly, IBM, D("150")) == D("900")  # the 6 left
    assert cash_to_reserve(record(qty="2", price="7.50", symbol="OPT"), OPT, D("7.50")) == D("1500")  # × multiplier 100


def test_cash_to_reserve_of_a_notional_buy_is_what_it_has_not_spent_and_nothing_for_a_sell_or_a_closed_order() -> None:
    notional = record(Side.BUY, OrderType.MARKET, qty=None, price=None, notional="100.00")
    notional.booked_cash = D("30.01")
    assert cash_to_reserve(notional, IBM, D("150")) == D("69.99")
    assert cash_to_reserve(record(Side.SELL), IBM, D("150")) == 0
    assert cash_to_reserve(record(status=OrderStatus.FILLED), IBM, D("150")) == 0


def test_qty_to_reserve_is_a_sell_s_leaves_or_a_notional_sell_s_cap() -> None:
    sell = record(Side.SELL, qty="10", status=OrderStatus.PARTIALLY_FILLED)
    sell.cum_qty = D("3")
    assert qty_to_reserve(sell) == D("7")
    notional = record(Side.SELL, OrderType.MARKET, qty=None, price=None, notional="100.00")
    notional.qty_cap, notional.cum_qty = D("2"), D("0.5")
    assert qty_to_reserve(notional) == D("1.5")
    assert qty_to_reserve(record(Side.BUY)) == qty_to_reserve(record(Side.SELL, status=OrderStatus.CANCELED)) == 0


def test_size_counts_the_option_multiplier_in_the_notional() -> None:
    limits = RiskLimits(max_order_qty=D("1000"), max_order_notional=D("1000"), price_band=LIMITS.price_band, market_collar=LIMITS.market_collar)
    assert check_size(record(qty="1", price="7.50", symbol="OPT"), OPT, D("7.50"), limits) is None  # 750
    assert check_size(record(qty="2", price="7.50", symbol="OPT"), OPT, D("7.50"), limits) is Reason.MAX_ORDER_NOTIONAL  # 1,500
    assert check_size(record(qty="1001", price="0.01", symbol="XYZ"), XYZ, D("0.01"), limits) is Reason.MAX_ORDER_SIZE


def test_the_band_applies_to_the_stop_price_too() -> None:
    stop = record(Side.BUY, OrderType.STOP, price=None, stop_price="166.00")
    assert check_price_band(stop, IBM, None, LIMITS) is Reason.PRICE_OUT_OF_BAND
    assert check_price_band(record(Side.BUY, OrderType.MARKET, price=None), IBM, None, LIMITS) is None


def test_a_notional_sell_needs_its_cash_over_the_price_up_to_the_increment_and_at_most_what_is_free() -> None:
    sell = record(Side.SELL, OrderType.MARKET, qty=None, price=None, notional="100.00", symbol="XYZ")
    assert notional_sell_cap(sell, holder(XYZ="10"), XYZ, D("30")) == D("4")  # 3.33… shares, whole units: 4
    assert notional_sell_cap(sell, holder(XYZ="2"), XYZ, D("30")) == D("2")
    assert notional_sell_cap(sell, holder(allow_short=True), XYZ, D("30")) == D("4")
    assert notional_sell_cap(sell, holder(), XYZ, D("30")) == 0


def test_an_order_for_the_open_is_late_only_on_the_local_day_of_the_last_open() -> None:
    opg = record(tif=TimeInForce.OPG)
    today = MarketView(opened_day=trading_day(NOW, LIMITS.open_timezone))
    assert check_open_passed(opg, IBM, today, LIMITS) is Reason.OPEN_PASSED
    assert check_open_passed(opg, IBM, MarketView(opened_day=today.opened_day - 1), LIMITS) is None
    assert check_open_passed(record(tif=TimeInForce.DAY), IBM, today, LIMITS) is None
    queued = RiskLimits(LIMITS.max_order_qty, LIMITS.max_order_notional, LIMITS.price_band, LIMITS.market_collar, reject_late_opg=False)
    assert check_open_passed(opg, IBM, today, queued) is None  # late orders wait for the next open
    fund = record(Side.BUY, OrderType.MARKET, qty="1", price=None, symbol="VFIAX", tif=TimeInForce.OPG)
    assert check_open_passed(fund, FUND, today, LIMITS) is None  # a fund has no open


def test_a_killed_account_is_refused_before_a_halt_and_a_halt_before_every_other_check() -> None:
    oversized = record(qty="5000")
    killed = holder()
    killed.killed = True
    halted = MarketView(halted=True)
    assert first_failure(oversized, killed, IBM, halted, LIMITS) is Reason.ACCOUNT_KILLED
    assert first_failure(oversized, holder(), IBM, halted, LIMITS) is Reason.HALTED
    assert first_failure(oversized, holder(cash="0"), IBM, None, LIMITS) is Reason.MAX_ORDER_SIZE
    assert first_failure(record(price="200.00"), holder(cash="0"), IBM, None, LIMITS) is Reason.PRICE_OUT_OF_BAND
    assert first_failure(record(), holder(cash="0"), IBM, None, LIMITS) is Reason.INSUFFICIENT_BUYING_POWER
    assert first_failure(record(), holder(), IBM, None, LIMITS) is None


def test_limits_come_from_the_risk_and_open_sections() -> None:
    limits = RiskLimits.from_config(RiskSection(max_order_qty="5", price_band_pct="20"), OpenSection(late_orders="next", timezone="Asia/Tokyo"))
    assert (limits.max_order_qty, limits.price_band, limits.reject_late_opg, limits.open_timezone) == (D("5"), D("0.2"), False, "Asia/Tokyo")
    default = RiskLimits.from_config(RiskSection())
    assert (default.reject_late_opg, default.open_timezone) == (True, OpenSection().timezone)
    assert default.market_collar == D("0.05")


# --- at their limits, through a shard ------------------------------------------------------------


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


def test_the_market_checks_come_after_the_risk_checks_in_their_fixed_order() -> None:
    # the reasons an order failing several checks got before (risk in the shard first) stay the same
    state = make_state(cash="10.00")
    run(state, OpenMarket([], open_id=1))
    assert only_report(run(state, order("o1", tif=TimeInForce.OPG))).reason == Reason.INSUFFICIENT_BUYING_POWER.value
    assert only_report(run(state, order("f1", symbol="VFIAX", qty="1", price="450.00"))).reason == Reason.INSUFFICIENT_BUYING_POWER.value
    run(state, SetTradingStatus("VFIAX", True))
    assert only_report(run(state, order("f2", symbol="VFIAX", qty="0.001", price="450.00"))).reason == Reason.HALTED.value
