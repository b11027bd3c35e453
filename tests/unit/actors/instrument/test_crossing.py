"""The pure rules of internal crossing: the NBBO a cross may use, the price, priority."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from actors.instrument import crossing
from actors.instrument.crossing import Nbbo, cross_price, nbbo_for_crossing
from model import fixed
from model.liquidity import MS, LiquidityPolicy
from model.messages import VenueQuote

D = fixed.parse
TICK = D("0.01")
POLICY = LiquidityPolicy(enabled=True)


def q(venue: str, bid: str | None, ask: str | None, ts: int) -> VenueQuote:
    return VenueQuote(venue, "IBM", D(bid) if bid else None, D("100"), D(ask) if ask else None, D("100"), ts)


def test_the_mid_rounded_down_to_the_tick() -> None:
    assert cross_price(Nbbo(D("150.00"), D("150.10")), TICK, "mid", None, None) == D("150.05")
    assert cross_price(Nbbo(D("150.00"), D("150.01")), TICK, "mid", None, None) == D("150.00")
    assert cross_price(Nbbo(D("150.00"), D("150.03")), TICK, "mid", None, None) == D("150.01")


def test_the_rule_may_name_a_side_of_the_nbbo() -> None:
    nbbo = Nbbo(D("150.00"), D("150.10"))
    assert cross_price(nbbo, TICK, "bid", None, None) == D("150.00")
    assert cross_price(nbbo, TICK, "ask", None, None) == D("150.10")


def test_limits_move_the_price_into_their_window_or_forbid_it() -> None:
    nbbo = Nbbo(D("150.00"), D("150.10"))
    assert cross_price(nbbo, TICK, "mid", D("150.02"), None) == D("150.02")  # the buyer pays no more than its limit
    assert cross_price(nbbo, TICK, "mid", None, D("150.08")) == D("150.08")  # the seller gets no less than its
    assert cross_price(nbbo, TICK, "mid", D("150.02"), D("150.03")) is None
    assert cross_price(nbbo, TICK, "mid", D("149.00"), None) is None  # below the bid: a trade through it


def test_a_one_sided_crossed_locked_or_stale_nbbo_stops_crossing_and_says_why() -> None:
    now = 10_000 * MS
    fresh = [q("A", "150.00", "150.10", now)]
    assert nbbo_for_crossing(D("150.00"), D("150.10"), fresh, now, POLICY) == Nbbo(D("150.00"), D("150.10"))
    assert nbbo_for_crossing(None, D("150.10"), fresh, now, POLICY) == crossing.NO_NBBO
    assert nbbo_for_crossing(D("150.20"), D("150.10"), fresh, now, POLICY) == crossing.CROSSED_MARKET
    assert nbbo_for_crossing(D("150.10"), D("150.10"), fresh, now, POLICY) == crossing.LOCKED_MARKET
    locked_ok = LiquidityPolicy(enabled=True, cross_locked=True)
    assert nbbo_for_crossing(D("150.10"), D("150.10"), fresh, now, locked_ok) == Nbbo(D("150.10"), D("150.10"))
    old = [q("A", "150.00", "150.20", now - 3000 * MS), q("B", "149.90", "150.10", now)]  # A sets the best bid, 3 s old
    assert nbbo_for_crossing(D("150.00"), D("150.10"), old, now, POLICY) == crossing.STALE_QUOTE
    behind = [q("A", "149.00", "151.00", now - 3000 * MS), q("B", "150.00", "150.10", now)]  # an old quote off the best is no matter
    assert nbbo_for_crossing(D("150.00"), D("150.10"), behind, now, POLICY) == Nbbo(D("150.00"), D("150.10"))


def test_priority_puts_market_orders_then_the_best_price_first() -> None:
    sells = sorted([(D("150.05"), "late"), (None, "mkt"), (D("150.01"), "best")], key=lambda s: crossing.priority(False, s[0]))
    assert [name for _, name in sells] == ["mkt", "best", "late"]
    buys = sorted([(D("150.01"), "low"), (D("150.05"), "high")], key=lambda s: crossing.priority(True, s[0]))
    assert [name for _, name in buys] == ["high", "low"]


_prices = st.integers(min_value=1, max_value=1_000_000)  # in units of 0.0001: quotes off the tick too


@settings(max_examples=500, deadline=None)
@given(
    bid=_prices, width=st.integers(min_value=-500, max_value=500), tick_units=st.sampled_from([1, 100, 500]),
    rule=st.sampled_from(["mid", "bid", "ask"]), buy=st.none() | _prices, sell=st.none() | _prices,
    locked=st.booleans(),
)
def test_no_cross_ever_trades_through_the_nbbo_or_a_limit(bid: int, width: int, tick_units: int, rule: str, buy: int | None,
                                                          sell: int | None, locked: bool) -> None:
    unit = fixed.SCALE // 10_000
    tick = tick_units * unit
    bid_p, ask_p = bid * unit, (bid + width) * unit
    policy = LiquidityPolicy(enabled=True, price=rule, cross_locked=locked)
    nbbo = nbbo_for_crossing(bid_p, ask_p, [VenueQuote("A", "IBM", bid_p, 1, ask_p, 1, 0)], 0, policy)
    if isinstance(nbbo, str):
        assert bid_p > ask_p or (bid_p == ask_p and not locked)
        return
    buy_limit = None if buy is None else buy * unit
    sell_limit = None if sell is None else sell * unit
    price = cross_price(nbbo, tick, rule, buy_limit, sell_limit)
    if price is None:
        return
    assert bid_p <= price <= ask_p  # never through a protected quote
    assert price % tick == 0
    assert buy_limit is None or price <= buy_limit
    assert sell_limit is None or price >= sell_limit
