"""The simulated market maker (``adapters/sim/venue.py``): quotes, matching, lifecycle, purity."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.base import VenueAdapter, VenueEvent
from adapters.sim.orders import SimReason
from adapters.sim.quotes import MAX_CATCH_UP_TICKS, next_quote
from adapters.sim.venue import SimVenue
from model import fixed
from model.config import SimSection
from model.enums import AssetClass, OrderType, Reason, SessionState, Side, TimeInForce, VenueEventKind
from model.instruments import Instrument
from model.messages import VenueNewOrder, VenueQuote, VenueReplace, VenueReport, VenueSessionChanged
from model.orders import OrderSpec

SCALE = fixed.SCALE
T0 = 1_763_700_000 * 10**9
INTERVAL = 100 * 1_000_000  # the default quote_interval_ms in ns

WHOLE = Instrument("IBM", AssetClass.EQUITY, fixed.parse("0.01"), SCALE, fixed.parse("150"))
FRACTIONAL = Instrument("AAPL", AssetClass.EQUITY, fixed.parse("0.01"), fixed.parse("0.000001"), fixed.parse("190.50"))
ODD_LOT = Instrument("ODD", AssetClass.ETF, fixed.parse("0.05"), fixed.parse("0.3"), fixed.parse("20"))
OPTION = Instrument("IBM C150", AssetClass.OPTION, fixed.parse("0.01"), SCALE, fixed.parse("2.50"), multiplier=100)
INSTRUMENTS = [WHOLE, FRACTIONAL, ODD_LOT, OPTION]
BY_SYMBOL = {instrument.symbol: instrument for instrument in INSTRUMENTS}

CALM = SimSection(volatility_bps=0, quote_size=100)  # the mid stays put; sizes 50..150 units


# --- helpers ------------------------------------------------------------------------------


def started(config: SimSection = CALM, symbols: list[str] | None = None) -> tuple[SimVenue, list[VenueEvent]]:
    venue = SimVenue("SIM", INSTRUMENTS, config, symbols)
    return venue, venue.start(T0)


def order(
    child_id: str,
    side: Side = Side.BUY,
    *,
    symbol: str = "IBM",
    order_type: OrderType = OrderType.MARKET,
    tif: TimeInForce = TimeInForce.DAY,
    qty: str | None = None,
    notional: str | None = None,
    price: str | None = None,
    qty_cap: str | None = None,
) -> VenueNewOrder:
    def number(text: str | None) -> int | None:
        return None if text is None else fixed.parse(text)

    return VenueNewOrder(
        child_id=child_id,
        spec=OrderSpec(symbol, side, order_type, tif, number(qty), number(notional), number(price)),
        qty_cap=number(qty_cap),
    )


def quotes(events: list[VenueEvent], symbol: str = "IBM") -> list[VenueQuote]:
    return [event for event in events if isinstance(event, VenueQuote) and event.symbol == symbol]


def last_quote(events: list[VenueEvent], symbol: str = "IBM") -> VenueQuote:
    return quotes(events, symbol)[-1]


def reports(events: list[VenueEvent], kind: VenueEventKind | None = None) -> list[VenueReport]:
    return [event for event in events if isinstance(event, VenueReport) and (kind is None or event.kind is kind)]


def trades(events: list[VenueEvent]) -> list[VenueReport]:
    return reports(events, VenueEventKind.TRADE)


def kinds(events: list[VenueEvent]) -> list[VenueEventKind]:
    return [report.kind for report in reports(events)]


def tick(venue: SimVenue) -> list[VenueEvent]:
    wakeup = venue.next_wakeup()
    assert wakeup is not None
    return venue.advance(wakeup)


def units(text: str) -> int:
    return fixed.parse(text)


def filled_value(fills: list[VenueReport], multiplier: int = 1) -> int:
    total = 0
    for fill in fills:
        assert fill.last_price is not None
        total += fixed.raw_value(fill.last_qty, fill.last_price, multiplier)
    return total


# --- quotes and time ----------------------------------------------------------------------


def test_start_announces_the_session_then_a_two_sided_quote_per_symbol() -> None:
    venue, events = started()
    assert events[0] == VenueSessionChanged(venue="SIM", state=SessionState.OPEN, ts=T0)
    symbols = [event.symbol if isinstance(event, VenueQuote) else None for event in events[1:]]
    assert symbols == [instrument.symbol for instrument in INSTRUMENTS]
    for quote in quotes(events, "IBM") + quotes(events, "AAPL"):
        assert quote.bid is not None and quote.ask is not None
        assert quote.bid < quote.ask
        assert quote.ts == T0 and quote.venue == "SIM"
        assert 50 * SCALE <= quote.bid_size <= 150 * SCALE and quote.bid_size % SCALE == 0
        assert 50 * SCALE <= quote.ask_size <= 150 * SCALE and quote.ask_size % SCALE == 0


def test_the_quote_is_centred_on_the_reference_price_with_the_configured_spread() -> None:
    _, events = started(SimSection(spread_bps=20, volatility_bps=0))
    quote = last_quote(events)
    # half-spread: 150 × 20 / 20000 = 0.15, already on the tick
    assert (quote.bid, quote.ask) == (units("149.85"), units("150.15"))


def test_the_half_spread_is_never_less_than_one_tick() -> None:
    _, events = started(SimSection(spread_bps=0, volatility_bps=0))
    quote = last_quote(events)
    assert (quote.bid, quote.ask) == (units("149.99"), units("150.01"))


def test_quotes_refresh_every_interval_and_next_wakeup_names_the_next_tick() -> None:
    venue, _ = started()
    assert venue.next_wakeup() == T0 + INTERVAL
    assert venue.advance(T0 + INTERVAL - 1) == []
    events = venue.advance(T0 + INTERVAL)
    assert len(quotes(events)) == 1
    assert venue.next_wakeup() == T0 + 2 * INTERVAL


def test_the_mid_moves_in_whole_ticks_and_never_below_its_floor() -> None:
    cheap = Instrument("PENNY", AssetClass.EQUITY, fixed.parse("0.01"), SCALE, fixed.parse("0.12"))
    venue = SimVenue("SIM", [cheap], SimSection(volatility_bps=5000, spread_bps=0))
    events = venue.start(T0)
    for _ in range(200):
        events += tick(venue)
    mids = [(quote.bid or 0) + (quote.ask or 0) for quote in quotes(events, "PENNY")]
    assert len(set(mids)) > 1
    for quote in quotes(events, "PENNY"):
        assert quote.bid is not None and quote.ask is not None
        assert quote.bid % cheap.tick_size == 0 and quote.ask % cheap.tick_size == 0
        assert quote.bid >= 9 * cheap.tick_size  # mid ≥ 10 ticks, half-spread 1 tick
    venue.check_invariants()


def test_advance_after_a_long_pause_runs_a_bounded_number_of_ticks() -> None:
    venue, _ = started()
    events = venue.advance(T0 + 100_000 * INTERVAL)
    assert len(quotes(events)) == MAX_CATCH_UP_TICKS
    assert venue.next_wakeup() == T0 + 100_001 * INTERVAL


def test_the_sim_venue_is_a_venue_adapter() -> None:
    adapter: VenueAdapter = SimVenue("SIM", INSTRUMENTS, CALM)  # mypy checks the protocol here
    assert adapter.name == "SIM"


def test_nothing_is_scheduled_before_start() -> None:
    venue = SimVenue("SIM", INSTRUMENTS, CALM)
    assert venue.next_wakeup() is None
    assert venue.advance(T0) == []
    assert kinds(venue.submit(order("c1", qty="1"), T0)) == [VenueEventKind.REJECTED]


def test_starting_twice_is_a_programming_error() -> None:
    venue, _ = started()
    with pytest.raises(RuntimeError):
        venue.start(T0)


def test_a_venue_limited_to_some_symbols_quotes_and_trades_only_those() -> None:
    venue, events = started(symbols=["AAPL"])
    assert [quote.symbol for quote in quotes(events, "AAPL")] == ["AAPL"]
    assert quotes(events, "IBM") == []
    rejected = venue.submit(order("c1", qty="1"), T0)
    assert reports(rejected)[0].reason == SimReason.UNKNOWN_SYMBOL.value


def test_a_symbol_without_reference_data_is_a_configuration_error() -> None:
    with pytest.raises(ValueError):
        SimVenue("SIM", INSTRUMENTS, CALM, symbols=["MSFT"])


def test_a_mutual_fund_is_never_quoted_or_traded_it_fills_only_at_its_nav() -> None:
    fund = Instrument("VFIAX", AssetClass.MUTUAL_FUND, fixed.parse("0.01"), fixed.parse("0.001"), fixed.parse("450"))
    venue = SimVenue("SIM", [*INSTRUMENTS, fund], CALM)
    events = venue.start(T0) + venue.advance(T0 + 3 * INTERVAL)
    assert quotes(events, "VFIAX") == [] and quotes(events, "IBM")
    rejected = venue.submit(order("f1", symbol="VFIAX", qty="1"), T0 + 3 * INTERVAL)
    assert reports(rejected)[0].reason == SimReason.UNKNOWN_SYMBOL.value
    with pytest.raises(ValueError, match="mutual funds"):
        SimVenue("SIM", [*INSTRUMENTS, fund], CALM, symbols=["VFIAX"])


# --- market orders ----------------------------------------------------------------------------


def test_market_buy_within_displayed_size_fills_at_the_ask_and_is_done() -> None:
    venue, start = started()
    ask = last_quote(start)
    events = venue.submit(order("c1", qty="10"), T0 + 1)
    assert kinds(events) == [VenueEventKind.ACCEPTED, VenueEventKind.TRADE]
    fill = trades(events)[0]
    assert (fill.last_qty, fill.last_price, fill.done, fill.ts) == (10 * SCALE, ask.ask, True, T0 + 1)
    assert venue.open_orders() == []


def test_market_sell_fills_at_the_bid() -> None:
    venue, start = started()
    fill = trades(venue.submit(order("c1", Side.SELL, qty="10"), T0))[0]
    assert fill.last_price == last_quote(start).bid


def test_market_buy_larger_than_displayed_size_fills_partially_then_rest_on_next_tick() -> None:
    venue, start = started()
    displayed = last_quote(start).ask_size
    events = venue.submit(order("c1", qty="200"), T0)
    first = trades(events)
    assert [fill.last_qty for fill in first] == [displayed]
    assert not first[0].done
    assert venue.open_orders() == ["c1"]

    later = tick(venue)
    second = trades(later)
    assert second[0].last_qty == min(200 * SCALE - displayed, last_quote(later).ask_size)
    total = displayed + sum(fill.last_qty for fill in second)
    while total < 200 * SCALE:
        more = trades(tick(venue))
        total += sum(fill.last_qty for fill in more)
        second += more
    assert total == 200 * SCALE
    assert second[-1].done and not any(fill.done for fill in second[:-1])
    assert venue.open_orders() == []


def test_fills_consume_displayed_size_until_the_next_tick() -> None:
    venue, start = started()
    displayed = last_quote(start).ask_size
    venue.submit(order("c1", qty=fixed.format(displayed - 5 * SCALE)), T0)
    second = trades(venue.submit(order("c2", qty="20"), T0))
    assert [fill.last_qty for fill in second] == [5 * SCALE]
    assert trades(venue.submit(order("c3", qty="1"), T0)) == []


def test_resting_orders_are_filled_in_arrival_order() -> None:
    venue, start = started()
    venue.submit(order("drain", qty=fixed.format(last_quote(start).ask_size)), T0)
    venue.submit(order("first", qty="400"), T0)
    venue.submit(order("second", qty="1"), T0)
    events = tick(venue)
    assert [fill.child_id for fill in trades(events)] == ["first"]  # first takes all 50..150


class _Counting(SimVenue):
    """The sim venue, counting the resting orders a tick tries to trade."""

    tried = 0

    def _fill_resting(self, child: Any, now: int) -> list[VenueEvent]:
        self.tried += 1
        return super()._fill_resting(child, now)


def test_a_tick_passes_over_orders_on_a_used_up_side_without_trying_each() -> None:
    venue = _Counting("SIM", INSTRUMENTS, CALM)
    venue.start(T0)
    for n in range(2000):  # a flood of market buys of 1, far beyond the displayed ask
        venue.submit(order(f"b{n}", qty="1"), T0)
    resting = len(venue.open_orders())
    assert resting > 1500
    filled = trades(tick(venue))
    # the ask (50..150 units) fills that many buys; every buy after it is passed over
    assert 50 <= len(filled) <= 150 and len(venue.open_orders()) == resting - len(filled)
    assert venue.tried == len(filled)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from([Side.BUY, Side.SELL]), st.integers(1, 80), st.one_of(st.none(), st.integers(-3, 3))), min_size=1, max_size=60),
       st.integers(1, 4))
def test_a_tick_trades_exactly_as_trying_every_resting_order_in_turn(orders: list[tuple[Side, int, int | None]], ticks: int) -> None:
    """The tick's short cut (``_fill_queue``) against the plain rule: every resting order,
    in time priority, trades what the quote lets it."""
    fast, _ = started()
    plain, _ = started()
    for n, (side, qty, offset) in enumerate(orders):
        price = None if offset is None else fixed.format(fixed.parse("150") + offset * fixed.parse("0.05"))
        new = order(f"c{n}", side, qty=str(qty), order_type=OrderType.MARKET if price is None else OrderType.LIMIT, price=price)
        assert fast.submit(new, T0) == plain.submit(new, T0)

    def plain_tick(venue: SimVenue, now: int) -> list[VenueEvent]:
        events: list[VenueEvent] = []
        for symbol, book in venue._books.items():
            next_quote(book, venue._random[symbol], venue._instruments[symbol].tick_size, venue._config)
            events.append(venue._quote(symbol, book, now))
        for queue in venue._queues.values():
            for child_id in list(queue):
                events.extend(venue._fill_resting(venue._orders[child_id], now))
        return events

    for k in range(ticks):
        now = T0 + (k + 1) * INTERVAL
        fast_events = fast.advance(now)
        plain._next_tick = now + INTERVAL
        assert fast_events == plain_tick(plain, now)
        assert fast.state_hash() == plain.state_hash()


# --- limit orders -----------------------------------------------------------------------------


def test_marketable_limit_buy_fills_at_the_ask_not_at_its_limit() -> None:
    venue, start = started()
    ask = last_quote(start).ask
    assert ask is not None
    limit = fixed.format(ask + units("1"))
    fill = trades(venue.submit(order("c1", order_type=OrderType.LIMIT, qty="5", price=limit), T0))[0]
    assert fill.last_price == ask


def test_limit_buy_below_the_ask_rests_then_fills_when_the_quote_crosses_it() -> None:
    venue, start = started(SimSection(volatility_bps=50, quote_size=100))
    first = last_quote(start)
    assert first.bid is not None
    limit = first.bid - units("0.50")
    events = venue.submit(order("c1", order_type=OrderType.LIMIT, qty="1", price=fixed.format(limit)), T0)
    assert kinds(events) == [VenueEventKind.ACCEPTED]
    for _ in range(2_000):
        events = tick(venue)
        quote = last_quote(events)
        assert quote.ask is not None
        if quote.ask <= limit:
            fill = trades(events)[0]
            assert (fill.last_price, fill.last_qty, fill.done) == (quote.ask, SCALE, True)
            return
        assert trades(events) == []
    pytest.fail("the quote never crossed the limit")


def test_limit_buy_is_never_filled_above_its_price() -> None:
    venue, start = started(SimSection(volatility_bps=40, quote_size=3))
    mid = (last_quote(start).bid or 0) + units("0.08")
    limits = {f"c{offset}": mid + offset * units("0.10") for offset in range(-5, 6)}
    for child_id, limit in limits.items():
        venue.submit(order(child_id, order_type=OrderType.LIMIT, qty="30", price=fixed.format(limit)), T0)
    events: list[VenueEvent] = []
    for _ in range(300):
        events += tick(venue)
    fills = trades(events)
    assert fills
    for fill in fills:
        assert fill.last_price is not None and fill.last_price <= limits[fill.child_id]


def test_limit_sell_is_never_filled_below_its_price() -> None:
    venue, start = started(SimSection(volatility_bps=40, quote_size=3))
    limit = (last_quote(start).ask or 0) + units("0.30")
    venue.submit(order("c1", Side.SELL, order_type=OrderType.LIMIT, qty="50", price=fixed.format(limit)), T0)
    events: list[VenueEvent] = []
    for _ in range(300):
        events += tick(venue)
    fills = trades(events)
    assert fills
    assert all(fill.last_price is not None and fill.last_price >= limit for fill in fills)


# --- IOC and FOK ------------------------------------------------------------------------------


def test_ioc_remainder_is_canceled_after_a_partial_fill() -> None:
    venue, start = started()
    displayed = last_quote(start).ask_size
    events = venue.submit(order("c1", tif=TimeInForce.IOC, qty="500"), T0)
    assert kinds(events) == [VenueEventKind.ACCEPTED, VenueEventKind.TRADE, VenueEventKind.CANCELED]
    assert trades(events)[0].last_qty == displayed
    assert reports(events)[-1].reason == Reason.IOC_REMAINDER.value
    assert venue.open_orders() == []


def test_ioc_that_fills_completely_is_not_canceled() -> None:
    venue, _ = started()
    events = venue.submit(order("c1", tif=TimeInForce.IOC, qty="5"), T0)
    assert kinds(events) == [VenueEventKind.ACCEPTED, VenueEventKind.TRADE]
    assert trades(events)[0].done


def test_fok_larger_than_displayed_size_is_canceled_without_any_trade() -> None:
    venue, start = started()
    displayed = last_quote(start).ask_size
    events = venue.submit(order("c1", tif=TimeInForce.FOK, qty=fixed.format(displayed + SCALE)), T0)
    assert kinds(events) == [VenueEventKind.ACCEPTED, VenueEventKind.CANCELED]
    assert reports(events)[-1].reason == Reason.FOK_NOT_FILLED.value
    # the displayed size is untouched: all of it can still be taken
    assert trades(venue.submit(order("c2", qty=fixed.format(displayed)), T0))[0].last_qty == displayed


def test_fok_within_displayed_size_fills_completely() -> None:
    venue, start = started()
    displayed = last_quote(start).ask_size
    events = venue.submit(order("c1", tif=TimeInForce.FOK, qty=fixed.format(displayed)), T0)
    assert kinds(events) == [VenueEventKind.ACCEPTED, VenueEventKind.TRADE]
    fill = trades(events)[0]
    assert fill.last_qty == displayed and fill.done


@pytest.mark.parametrize(
    ("tif", "qty", "limit"),
    [
        (TimeInForce.IOC, "5", lambda quote: (quote.bid or 0) - units("1")),
        (TimeInForce.FOK, "1", lambda quote: (quote.ask or 0) - units("0.01")),
    ],
)
def test_an_ioc_or_fok_buy_limit_below_the_ask_is_canceled_without_a_trade(tif: TimeInForce, qty: str, limit: Callable[[VenueQuote], int]) -> None:
    venue, start = started()
    price = fixed.format(limit(last_quote(start)))
    events = venue.submit(order("c1", order_type=OrderType.LIMIT, tif=tif, qty=qty, price=price), T0)
    assert kinds(events) == [VenueEventKind.ACCEPTED, VenueEventKind.CANCELED]


# --- notional orders and quantities -----------------------------------------------------------


def test_notional_buy_never_costs_more_than_its_notional_and_its_fill_is_done() -> None:
    venue, start = started()
    ask = last_quote(start, "AAPL").ask
    assert ask is not None
    events = venue.submit(order("c1", symbol="AAPL", notional="1000.00"), T0)
    (fill,) = trades(events)
    assert fill.done and fill.last_price == ask
    assert fill.last_qty == fixed.qty_for_cash(units("1000"), ask, FRACTIONAL.qty_increment)
    value = filled_value([fill])
    assert value <= units("1000") * SCALE
    # one more increment would have cost more than the notional
    assert fixed.raw_value(fill.last_qty + FRACTIONAL.qty_increment, ask) > units("1000") * SCALE
    assert fixed.buy_cost(fill.last_qty, ask) <= units("1000")


def test_notional_buy_of_whole_shares_stops_when_another_share_does_not_fit() -> None:
    venue, start = started()
    ask = last_quote(start).ask
    assert ask is not None
    (fill,) = trades(venue.submit(order("c1", notional="1000"), T0))
    assert fill.last_qty == 6 * SCALE and fill.done  # 6 × 150.08 ≤ 1000 < 7 × 150.08


def test_notional_buy_larger_than_displayed_size_continues_on_later_ticks() -> None:
    venue, start = started(SimSection(volatility_bps=5, quote_size=100))
    events = venue.submit(order("c1", symbol="AAPL", notional="50000"), T0)
    fills = trades(events)
    assert fills[0].last_qty == last_quote(start, "AAPL").ask_size and not fills[0].done
    while not fills[-1].done:
        fills += trades(tick(venue))
    assert filled_value(fills) <= units("50000") * SCALE
    last_price = fills[-1].last_price
    assert last_price is not None
    left = units("50000") * SCALE - filled_value(fills)
    assert fixed.raw_value(FRACTIONAL.qty_increment, last_price) > left  # not one more increment fits
    assert venue.open_orders() == []


def test_notional_sell_stops_at_its_qty_cap() -> None:
    venue, _ = started()
    events = venue.submit(order("c1", Side.SELL, symbol="AAPL", notional="5000", qty_cap="2.5"), T0)
    (fill,) = trades(events)
    assert fill.last_qty == units("2.5") and fill.done


def test_notional_sell_without_a_reachable_cap_sells_only_its_value() -> None:
    venue, start = started()
    bid = last_quote(start, "AAPL").bid
    assert bid is not None
    (fill,) = trades(venue.submit(order("c1", Side.SELL, symbol="AAPL", notional="500", qty_cap="100"), T0))
    assert fill.last_qty == fixed.qty_for_cash(units("500"), bid, FRACTIONAL.qty_increment) and fill.done
    assert filled_value([fill]) <= units("500") * SCALE


def test_notional_smaller_than_one_increment_is_rejected() -> None:
    venue, _ = started()
    events = venue.submit(order("c1", notional="100"), T0)  # one IBM share costs ~150
    assert kinds(events) == [VenueEventKind.REJECTED]
    assert reports(events)[0].reason == SimReason.NOTIONAL_TOO_SMALL.value


def test_fractional_quantities_trade_to_the_sixth_decimal() -> None:
    venue, _ = started()
    (fill,) = trades(venue.submit(order("c1", symbol="AAPL", qty="0.123456"), T0))
    assert fill.last_qty == units("0.123456") and fill.done


def test_fills_are_whole_increments_even_when_the_displayed_size_is_not() -> None:
    venue, start = started()
    displayed = last_quote(start, "ODD").ask_size
    events = venue.submit(order("c1", symbol="ODD", qty="300"), T0)  # 1000 increments of 0.3
    (fill,) = trades(events)
    assert fill.last_qty == fixed.floor_to(displayed, ODD_LOT.qty_increment)
    assert fill.last_qty % ODD_LOT.qty_increment == 0


def test_option_notional_counts_the_multiplier() -> None:
    venue, start = started()
    ask = last_quote(start, "IBM C150").ask
    assert ask is not None
    (fill,) = trades(venue.submit(order("c1", symbol="IBM C150", notional="1000"), T0))
    assert fill.last_qty == fixed.qty_for_cash(units("1000"), ask, SCALE, multiplier=100)
    assert fill.last_qty == 3 * SCALE  # 3 × 2.51 × 100 = 753 ≤ 1000 < 1004
    assert filled_value([fill], multiplier=100) <= units("1000") * SCALE


def test_option_contracts_must_be_whole() -> None:
    venue, _ = started()
    events = venue.submit(order("c1", symbol="IBM C150", qty="0.5"), T0)
    assert reports(events)[0].reason == SimReason.QTY_NOT_ON_INCREMENT.value


# --- cancel and replace ---------------------------------------------------------------------


def resting_limit(venue: SimVenue, child_id: str, qty: str = "10", tif: TimeInForce = TimeInForce.DAY) -> None:
    events = venue.submit(order(child_id, order_type=OrderType.LIMIT, tif=tif, qty=qty, price="100.00"), T0)
    assert kinds(events) == [VenueEventKind.ACCEPTED]


def test_cancel_of_a_working_order_is_acknowledged_and_it_never_fills() -> None:
    venue, _ = started()
    resting_limit(venue, "c1")
    events = venue.cancel("c1", T0 + 5)
    assert events == [
        VenueReport("SIM", "c1", VenueEventKind.CANCELED, 0, None, Reason.USER_CANCELED.value, T0 + 5)
    ]
    assert venue.open_orders() == []


def test_cancel_of_a_filled_or_unknown_order_is_too_late() -> None:
    venue, _ = started()
    venue.submit(order("filled", qty="1"), T0)
    for child_id in ("filled", "never-seen"):
        (report,) = reports(venue.cancel(child_id, T0))
        assert report.kind is VenueEventKind.CANCEL_REJECTED
        assert report.reason == Reason.TOO_LATE_TO_CANCEL.value


def test_cancel_twice_is_too_late_the_second_time() -> None:
    venue, _ = started()
    resting_limit(venue, "c1")
    venue.cancel("c1", T0)
    assert kinds(venue.cancel("c1", T0)) == [VenueEventKind.CANCEL_REJECTED]


def test_replace_up_lets_a_market_order_fill_more() -> None:
    venue, start = started()
    displayed = last_quote(start).ask_size
    venue.submit(order("c1", qty="300"), T0)
    events = venue.replace(VenueReplace("c1", qty=400 * SCALE, price=None), T0)
    assert kinds(events) == [VenueEventKind.REPLACED]  # the displayed size is used up
    assert reports(events)[0].last_qty == 0
    total = displayed
    while "c1" in venue.open_orders():
        total += sum(fill.last_qty for fill in trades(tick(venue)))
    assert total == 400 * SCALE


def test_replace_down_to_what_has_filled_plus_a_little_finishes_sooner() -> None:
    venue, start = started()
    displayed = last_quote(start).ask_size
    venue.submit(order("c1", qty="1000"), T0)
    venue.replace(VenueReplace("c1", qty=displayed + SCALE, price=None), T0)
    (fill,) = trades(tick(venue))
    assert fill.last_qty == SCALE and fill.done


def test_replace_below_what_has_filled_is_rejected() -> None:
    venue, start = started()
    displayed = last_quote(start).ask_size
    venue.submit(order("c1", qty="1000"), T0)
    before = venue.state_hash()
    events = venue.replace(VenueReplace("c1", qty=displayed, price=None), T0)
    assert kinds(events) == [VenueEventKind.REPLACE_REJECTED]
    assert reports(events)[0].reason == SimReason.QTY_NOT_ABOVE_FILLED.value
    assert venue.state_hash() == before


def test_replace_making_a_limit_marketable_trades_at_once() -> None:
    venue, start = started()
    resting_limit(venue, "c1")
    ask = last_quote(start).ask
    assert ask is not None
    events = venue.replace(VenueReplace("c1", qty=10 * SCALE, price=ask), T0)
    assert kinds(events) == [VenueEventKind.REPLACED, VenueEventKind.TRADE]
    assert trades(events)[0].done and trades(events)[0].last_price == ask


@pytest.mark.parametrize(
    ("qty", "price", "reason"),
    [
        ("10", "100.001", SimReason.PRICE_NOT_ON_TICK.value),
        ("10", None, SimReason.INVALID_PRICE.value),
        ("10.5", "100.00", SimReason.QTY_NOT_ON_INCREMENT.value),
        ("0", "100.00", SimReason.INVALID_QUANTITY.value),
    ],
)
def test_replace_with_bad_numbers_is_rejected(qty: str, price: str | None, reason: str) -> None:
    venue, _ = started()
    resting_limit(venue, "c1")
    request = VenueReplace("c1", qty=units(qty), price=None if price is None else units(price))
    (report,) = reports(venue.replace(request, T0))
    assert (report.kind, report.reason) == (VenueEventKind.REPLACE_REJECTED, reason)


def test_replace_of_a_notional_order_is_unsupported() -> None:
    venue, _ = started()
    venue.submit(order("c1", order_type=OrderType.LIMIT, notional="1000", price="100.00"), T0)
    (report,) = reports(venue.replace(VenueReplace("c1", qty=SCALE, price=units("100")), T0))
    assert (report.kind, report.reason) == (VenueEventKind.REPLACE_REJECTED, Reason.UNSUPPORTED.value)


def test_replace_of_a_finished_order_is_too_late() -> None:
    venue, _ = started()
    venue.submit(order("c1", qty="1"), T0)
    (report,) = reports(venue.replace(VenueReplace("c1", qty=2 * SCALE, price=None), T0))
    assert report.reason == Reason.TOO_LATE_TO_CANCEL.value


def test_replace_that_raises_the_qty_loses_time_priority() -> None:
    venue, start = started()
    venue.submit(order("drain", qty=fixed.format(last_quote(start).ask_size)), T0)
    venue.submit(order("first", qty="400"), T0)
    venue.submit(order("second", qty="400"), T0)
    venue.replace(VenueReplace("first", qty=500 * SCALE, price=None), T0)
    assert venue.open_orders() == ["second", "first"]
    assert [fill.child_id for fill in trades(tick(venue))] == ["second"]


# --- session ----------------------------------------------------------------------------------


def test_session_close_expires_day_orders_but_keeps_gtc() -> None:
    venue, _ = started()
    resting_limit(venue, "day")
    resting_limit(venue, "gtc", tif=TimeInForce.GTC)
    events = venue.set_session(SessionState.CLOSED, T0 + 7)
    assert events[0] == VenueSessionChanged("SIM", SessionState.CLOSED, T0 + 7)
    assert [(r.child_id, r.kind, r.reason) for r in reports(events)] == [
        ("day", VenueEventKind.EXPIRED, Reason.END_OF_DAY.value)
    ]
    assert venue.open_orders() == ["gtc"]


def test_a_closed_session_rejects_orders_and_does_not_fill_resting_ones_until_it_reopens() -> None:
    venue, _ = started()
    venue.submit(order("gtc", tif=TimeInForce.GTC, qty="1000"), T0)
    venue.set_session(SessionState.CLOSED, T0)
    assert reports(venue.submit(order("c2", qty="1"), T0))[0].reason == Reason.MARKET_CLOSED.value
    assert trades(tick(venue)) == []  # quotes keep coming, fills do not
    venue.set_session(SessionState.OPEN, T0 + 2 * INTERVAL)
    assert [fill.child_id for fill in trades(tick(venue))] == ["gtc"]


def test_orders_are_rejected_while_pre_open() -> None:
    venue, events = started(SimSection(start_state=SessionState.PRE_OPEN))
    assert events[0].state is SessionState.PRE_OPEN  # type: ignore[union-attr]
    (report,) = reports(venue.submit(order("c1", qty="1"), T0))
    assert (report.kind, report.reason) == (VenueEventKind.REJECTED, Reason.MARKET_CLOSED.value)


def test_setting_the_same_session_state_again_changes_nothing() -> None:
    venue, _ = started()
    assert venue.set_session(SessionState.OPEN, T0) == []


def test_a_session_with_a_length_closes_by_itself_and_expires_day_orders() -> None:
    venue, _ = started(SimSection(volatility_bps=0, quote_size=100, session_length_s=1))
    resting_limit(venue, "day")
    close = T0 + 10**9
    assert venue.next_wakeup() == T0 + INTERVAL
    events = venue.advance(close)
    changes = [event for event in events if isinstance(event, VenueSessionChanged)]
    assert changes == [VenueSessionChanged("SIM", SessionState.CLOSED, close)]
    assert events.index(changes[0]) > events.index(quotes(events)[-1])  # the tick at the close runs first
    assert len(quotes(events)) == 10
    assert kinds(events) == [VenueEventKind.EXPIRED]
    assert venue.next_wakeup() == close + INTERVAL


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (order("x", symbol="MSFT", qty="1"), SimReason.UNKNOWN_SYMBOL.value),
        (order("x", order_type=OrderType.STOP, qty="1"), Reason.UNSUPPORTED.value),
        (order("x", order_type=OrderType.STOP_LIMIT, qty="1", price="150.00"), Reason.UNSUPPORTED.value),
        (order("x", tif=TimeInForce.OPG, qty="1"), Reason.UNSUPPORTED.value),
        (order("x", qty="1", notional="100"), SimReason.INVALID_QUANTITY.value),
        (order("x"), SimReason.INVALID_QUANTITY.value),
        (order("x", qty="0"), SimReason.INVALID_QUANTITY.value),
        (order("x", qty="-1"), SimReason.INVALID_QUANTITY.value),
        (order("x", notional="0"), SimReason.INVALID_QUANTITY.value),
        (order("x", notional="-5"), SimReason.INVALID_QUANTITY.value),
        (order("x", qty="1.5"), SimReason.QTY_NOT_ON_INCREMENT.value),
        (order("x", symbol="AAPL", qty="0.0000001"), SimReason.QTY_NOT_ON_INCREMENT.value),
        (order("x", order_type=OrderType.LIMIT, qty="1"), SimReason.INVALID_PRICE.value),
        (order("x", qty="1", price="150.00"), SimReason.INVALID_PRICE.value),
        (order("x", order_type=OrderType.LIMIT, qty="1", price="0"), SimReason.INVALID_PRICE.value),
        (order("x", order_type=OrderType.LIMIT, qty="1", price="-150.00"), SimReason.INVALID_PRICE.value),
        (order("x", order_type=OrderType.LIMIT, qty="1", price="150.005"), SimReason.PRICE_NOT_ON_TICK.value),
        (order("x", Side.SELL, notional="1000", qty_cap="0"), SimReason.INVALID_QTY_CAP.value),
        (order("x", Side.SELL, notional="1000", qty_cap="1.5"), SimReason.INVALID_QTY_CAP.value),
    ],
)
def test_bad_input_is_rejected_with_a_reason_and_changes_nothing(bad: VenueNewOrder, reason: str) -> None:
    venue, _ = started()
    before = venue.state_hash()
    events = venue.submit(bad, T0)
    assert events == [VenueReport("SIM", "x", VenueEventKind.REJECTED, 0, None, reason, T0)]
    assert venue.state_hash() == before
    assert venue.open_orders() == []


def test_a_duplicate_child_id_is_rejected_even_after_the_first_finished() -> None:
    venue, _ = started()
    venue.submit(order("c1", qty="1"), T0)
    (report,) = reports(venue.submit(order("c1", qty="1"), T0))
    assert (report.kind, report.reason) == (VenueEventKind.REJECTED, SimReason.DUPLICATE_CHILD_ID.value)


def test_a_rejected_child_id_may_be_used_again() -> None:
    venue, _ = started()
    venue.submit(order("c1", qty="1.5"), T0)
    assert kinds(venue.submit(order("c1", qty="1"), T0))[0] is VenueEventKind.ACCEPTED


# --- determinism --------------------------------------------------------------------------------


def scripted_session(venue: SimVenue) -> list[VenueEvent]:
    """A fixed mix of everything the venue does."""
    events = venue.start(T0)
    events += venue.submit(order("m1", qty="400"), T0 + 1)
    events += venue.submit(order("l1", Side.SELL, order_type=OrderType.LIMIT, qty="3", price="150.30"), T0 + 2)
    events += venue.submit(order("n1", symbol="AAPL", notional="25000.00"), T0 + 3)
    events += venue.submit(order("g1", symbol="ODD", order_type=OrderType.LIMIT, tif=TimeInForce.GTC, qty="3", price="19.90"), T0 + 4)
    for step in range(1, 40):
        events += venue.advance(T0 + step * INTERVAL)
        if step == 10:
            events += venue.replace(VenueReplace("l1", qty=6 * SCALE, price=units("150.20")), T0 + step * INTERVAL)
        if step == 20:
            events += venue.cancel("m1", T0 + step * INTERVAL)
    events += venue.set_session(SessionState.CLOSED, T0 + 40 * INTERVAL)
    return events


def test_two_venues_with_the_same_seed_and_inputs_produce_identical_events_and_state() -> None:
    config = SimSection(seed=42, volatility_bps=10, quote_size=200)
    first, second = SimVenue("SIM", INSTRUMENTS, config), SimVenue("SIM", INSTRUMENTS, config)
    first_events, second_events = scripted_session(first), scripted_session(second)
    assert msgspec.msgpack.encode(first_events) == msgspec.msgpack.encode(second_events)
    assert first.state_hash() == second.state_hash()
    assert trades(first_events)


def test_a_different_seed_gives_a_different_market() -> None:
    first = SimVenue("SIM", INSTRUMENTS, SimSection(seed=1))
    second = SimVenue("SIM", INSTRUMENTS, SimSection(seed=2))
    assert scripted_session(first) != scripted_session(second)
    assert first.state_hash() != second.state_hash()


def test_the_state_hash_changes_with_the_state() -> None:
    venue, _ = started()
    before = venue.state_hash()
    resting_limit(venue, "c1")
    assert venue.state_hash() != before


_HASH_SCRIPT = """
from adapters.sim.venue import SimVenue
from model.config import SimSection
from tests.unit.adapters.sim.test_venue import INSTRUMENTS, scripted_session
venue = SimVenue("SIM", INSTRUMENTS, SimSection(seed=3))
scripted_session(venue)
print(venue.state_hash())
"""


def test_the_state_hash_does_not_depend_on_python_hash_randomisation() -> None:
    root = Path(__file__).resolve().parents[4]
    hashes = set()
    for hash_seed in ("1", "2"):
        environment = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(root)}
        result = subprocess.run(
            [sys.executable, "-c", _HASH_SCRIPT], cwd=root, env=environment, capture_output=True, text=True, check=True
        )
        hashes.add(result.stdout.strip())
    assert len(hashes) == 1


# --- properties -------------------------------------------------------------------------------


class _Sent(msgspec.Struct):
    """What the test knows about a child it sent, and what the venue reported for it."""

    request: VenueNewOrder
    cum_qty: int = 0
    value_raw: int = 0
    finished: bool = False


_SYMBOLS = ["IBM", "AAPL", "ODD", "IBM C150"]

_submit = st.tuples(
    st.just("submit"),
    st.sampled_from(_SYMBOLS),
    st.sampled_from(list(Side)),
    st.sampled_from([OrderType.MARKET, OrderType.LIMIT, OrderType.LIMIT]),
    st.sampled_from([TimeInForce.DAY, TimeInForce.DAY, TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK]),
    st.one_of(st.tuples(st.just("qty"), st.integers(1, 400)), st.tuples(st.just("notional"), st.integers(1, 60_000))),
    st.integers(-20, 20),  # limit price: this many times 5 ticks from the mid
    st.one_of(st.none(), st.integers(1, 200)),  # qty_cap in increments
)
_cancel = st.tuples(st.just("cancel"), st.integers(0, 30))
_replace = st.tuples(st.just("replace"), st.integers(0, 30), st.integers(1, 600), st.integers(-20, 20))
_advance = st.tuples(st.just("advance"), st.integers(1, 450))  # ms
_session = st.tuples(st.just("session"), st.sampled_from([SessionState.OPEN, SessionState.OPEN, SessionState.CLOSED, SessionState.PRE_OPEN]))
_operations = st.builds(
    lambda opening, rest: opening + rest,  # some orders first, so cancels and replaces find some
    st.lists(_submit, min_size=2, max_size=10),
    st.lists(st.one_of(*[_submit] * 3, _cancel, _replace, _replace, *[_advance] * 3, _session), max_size=80),
)


class _Checker:
    """Drives a venue with generated operations and checks every event it returns against
    an independent account of each child: what was asked, what has filled."""

    def __init__(self) -> None:
        self.venue = SimVenue("SIM", INSTRUMENTS, SimSection(seed=11, volatility_bps=30, quote_size=40))
        self.now = T0
        self.sent: dict[str, _Sent] = {}
        self.quote: dict[str, VenueQuote] = {}
        self.displayed: dict[tuple[str, Side], int] = {}  # what is left of the quote's sizes
        self.replacing: VenueReplace | None = None
        self.observe(self.venue.start(T0))

    def run(self, operation: tuple[Any, ...]) -> None:
        kind = operation[0]
        if kind == "submit":
            self.observe(self.venue.submit(self.new_order(*operation[1:]), self.now))
        elif kind == "cancel":
            self.observe(self.venue.cancel(self.pick(operation[1]), self.now))
        elif kind == "replace":
            self.replacing = self.replacement(*operation[1:])
            self.observe(self.venue.replace(self.replacing, self.now))
        elif kind == "advance":
            self.now += operation[1] * 1_000_000
            self.observe(self.venue.advance(self.now))
        else:
            self.observe(self.venue.set_session(operation[1], self.now))
        self.venue.check_invariants()
        working = sorted(child_id for child_id, sent in self.sent.items() if not sent.finished)
        assert sorted(self.venue.open_orders()) == working

    def pick(self, index: int) -> str:
        """Mostly a working child; now and then a finished one (which must be refused)."""
        working = [child_id for child_id, sent in self.sent.items() if not sent.finished]
        ids = working if working and index % 5 else list(self.sent)
        return ids[index % len(ids)] if ids else "none"

    def limit_price(self, symbol: str, offset: int) -> int:
        quote, tick_size = self.quote[symbol], BY_SYMBOL[symbol].tick_size
        mid = ((quote.bid or 0) + (quote.ask or 0)) // 2
        return max(tick_size, fixed.floor_to(mid, tick_size) + offset * 5 * tick_size)

    def new_order(
        self,
        symbol: str,
        side: Side,
        order_type: OrderType,
        tif: TimeInForce,
        amount: tuple[str, int],
        offset: int,
        cap: int | None,
    ) -> VenueNewOrder:
        increment = BY_SYMBOL[symbol].qty_increment
        what, size = amount
        request = VenueNewOrder(
            child_id=f"c{len(self.sent)}",
            spec=OrderSpec(
                symbol,
                side,
                order_type,
                tif,
                qty=size * increment if what == "qty" else None,
                notional=size * SCALE if what == "notional" else None,
                price=self.limit_price(symbol, offset) if order_type is OrderType.LIMIT else None,
            ),
            qty_cap=None if cap is None else cap * increment,
        )
        self.sent[request.child_id] = _Sent(request)
        return request

    def replacement(self, index: int, size: int, offset: int) -> VenueReplace:
        child_id = self.pick(index)
        sent = self.sent.get(child_id)
        if sent is None:
            return VenueReplace(child_id, SCALE, None)
        request = sent.request.spec
        price = self.limit_price(request.symbol, offset) if request.order_type is OrderType.LIMIT else None
        return VenueReplace(child_id, size * BY_SYMBOL[request.symbol].qty_increment, price)

    def observe(self, events: list[VenueEvent]) -> None:
        for event in events:
            assert event.ts == self.now
            assert not any(isinstance(value, float) for value in msgspec.structs.astuple(event))
            if isinstance(event, VenueQuote):
                self.quote[event.symbol] = event
                self.displayed[event.symbol, Side.BUY] = event.ask_size
                self.displayed[event.symbol, Side.SELL] = event.bid_size
            elif isinstance(event, VenueReport):
                self.check_report(event)

    def check_report(self, report: VenueReport) -> None:
        if report.kind in (VenueEventKind.CANCEL_REJECTED, VenueEventKind.REPLACE_REJECTED):
            return
        sent = self.sent[report.child_id]
        assert not sent.finished, f"{report.child_id}: {report.kind} after it finished"
        if report.kind is VenueEventKind.REJECTED:
            del self.sent[report.child_id]
        elif report.kind is VenueEventKind.TRADE:
            self.check_trade(sent, report)
        elif report.kind is VenueEventKind.REPLACED:
            assert self.replacing is not None and self.replacing.child_id == report.child_id
            assert self.replacing.qty > sent.cum_qty
            spec = msgspec.structs.replace(sent.request.spec, qty=self.replacing.qty, price=self.replacing.price)
            sent.request = msgspec.structs.replace(sent.request, spec=spec)
        elif report.kind is VenueEventKind.EXPIRED:
            assert sent.request.spec.tif is TimeInForce.DAY and report.reason == Reason.END_OF_DAY.value
            sent.finished = True
        else:
            assert report.kind in (VenueEventKind.ACCEPTED, VenueEventKind.CANCELED)
            sent.finished = report.kind is VenueEventKind.CANCELED

    def check_trade(self, sent: _Sent, trade: VenueReport) -> None:
        request, instrument = sent.request.spec, BY_SYMBOL[sent.request.spec.symbol]
        quote = self.quote[request.symbol]
        price = quote.ask if request.side is Side.BUY else quote.bid
        assert price is not None and trade.last_price == price
        assert trade.last_qty > 0 and trade.last_qty % instrument.qty_increment == 0
        self.displayed[request.symbol, request.side] -= trade.last_qty
        assert self.displayed[request.symbol, request.side] >= 0
        if request.price is not None:
            assert price <= request.price if request.side is Side.BUY else price >= request.price
        sent.cum_qty += trade.last_qty
        sent.value_raw += fixed.raw_value(trade.last_qty, price, instrument.multiplier)
        limits = [limit for limit in (request.qty, sent.request.qty_cap) if limit is not None]
        assert all(sent.cum_qty <= limit for limit in limits)
        if request.notional is not None:
            assert sent.value_raw <= request.notional * SCALE
        else:
            assert trade.done == (sent.cum_qty == min(limits))
        sent.finished = trade.done


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_operations)
def test_random_order_flow_never_overfills_never_trades_through_a_limit_and_never_exceeds_a_notional(
    operations: list[tuple[Any, ...]],
) -> None:
    checker = _Checker()
    for operation in operations:
        checker.run(operation)
