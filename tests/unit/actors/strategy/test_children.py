"""The split of a live strategy's order into its investors' children: the open's block
allocation (``allocation.pro_rata``) — whole increments, sums exact, each within one increment
of its exact share, deterministic, capped — and a child's cash booked as its account books it."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from actors.strategy.children import Child, Investor, child_id, redemption_id, split, split_buy, split_sell
from model import fixed
from model.config import load_setup
from model.strategy.engine import Order

ROOT = Path(__file__).resolve().parents[4]
INSTRUMENTS = {i.symbol: i for i in load_setup(ROOT / "conf" / "server.toml").instruments}
P = fixed.parse
UNLIMITED = 1 << 40


@pytest.mark.parametrize("seed", range(6))
def test_a_buy_goes_pro_rata_to_equity_in_whole_increments_with_an_exact_sum(seed: int) -> None:
    rng = np.random.default_rng(seed)
    increment = P("0.001")
    n = int(rng.integers(1, 1_500))
    equity = [int(w) for w in rng.integers(0, 10_000_000, n)]
    equity[0] = max(equity[0], 1)
    qty = int(rng.integers(1, 10**7)) * increment
    shares = split_buy(qty, increment, equity, [UNLIMITED] * n)
    assert sum(shares) == qty and all(share % increment == 0 for share in shares)
    total = sum(equity)
    for share, weight in zip(shares, equity, strict=True):
        exact = Fraction(qty // increment * weight, total)
        assert abs(share // increment - exact) < 1  # within one increment of its exact share
    assert split_buy(qty, increment, equity, [UNLIMITED] * n) == shares  # deterministic


def test_ties_go_to_the_lower_investor_number_and_zero_weights_get_nothing() -> None:
    assert split_buy(P("5"), P("1"), [1, 1, 0, 1], [UNLIMITED] * 4) == [P("2"), P("2"), 0, P("1")]
    assert split_buy(P("5"), P("1"), [0, 0], [UNLIMITED] * 2) == [0, 0]
    assert split_buy(P("5"), P("1"), [], []) == []


def test_a_buy_is_capped_by_what_each_investors_cash_buys_and_the_rest_is_not_ordered() -> None:
    # 3⅓ each; the first's cash buys 1; the residual goes one each to those below their cap
    assert split_buy(P("10"), P("1"), [100, 100, 100], [1, 10, 10]) == [P("1"), P("4"), P("4")]  # 1 not ordered
    assert split_buy(P("10"), P("1"), [100, 100], [2, 3]) == [P("2"), P("3")]  # 5 nobody can take


@pytest.mark.parametrize("seed", range(4))
def test_a_sale_goes_pro_rata_to_holdings_never_more_than_held(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    increment = P("0.000001")
    held = [int(h) * increment for h in rng.integers(0, 50_000_000, 1_000)]
    for qty in (sum(held), sum(held) // 3 // increment * increment, increment):
        shares = split_sell(qty, increment, held)
        assert sum(shares) == qty and all(0 <= s <= h for s, h in zip(shares, held, strict=True))
        for share, h in zip(shares, held, strict=True):
            assert abs(Fraction(share, increment) - Fraction(qty // increment * (h // increment), sum(held) // increment)) < 1
    assert split_sell(sum(held), increment, held) == held  # the whole position: each sells all it holds


def test_split_weights_a_buy_by_equity_at_the_marks_and_caps_it_by_the_cash_left() -> None:
    ibm = INSTRUMENTS["IBM"]
    fresh = Investor(1, "A", committed=P("15000.00"))
    holder = Investor(2, "B", committed=P("30000.00"), booked=-P("15000.00"), positions={"IBM": P("100")})  # 15,000 cash + 100 × 150
    poor = Investor(3, "C", committed=P("30000.00"), booked=-P("29850.00"), positions={"IBM": P("199")})  # 150 cash: one share
    order = Order(1, "IBM", "buy", P("30"), 0, 0, "entry")
    # equity 15,000 : 30,000 : 30,000, so 6 : 12 : 12 of 30; C's cash buys 1; the residual goes
    # one increment each to those below their cap (the open's rule); the rest is not ordered
    assert split(order, [fresh, holder, poor], ibm, {"IBM": P("150")}, INSTRUMENTS, {}) == [P("6.000001"), P("12.000001"), P("1")]
    spent = split(order, [fresh, holder], ibm, {"IBM": P("150")}, INSTRUMENTS, {1: P("14700.00")})  # A's working buys may spend 14,700 more
    assert spent == [P("2"), P("20.000001")]
    sale = Order(2, "IBM", "sell", P("299"), 0, 0, "exit")
    assert split(sale, [fresh, holder, poor], ibm, {"IBM": P("150")}, INSTRUMENTS, {}) == [0, P("100"), P("199")]


def test_a_childs_cash_is_its_cumulative_value_rounded_once_as_the_account_books_it() -> None:
    buy = Child(child_id("s", 1, 2), 1, 2, "A", "IBM", "buy", P("3"))
    cash = [buy.book(P("1"), P("150.003"), 1) for _ in range(3)]
    assert cash == [P("150.01"), P("150.00"), P("150.00")] and sum(cash) == fixed.ceil_cent(3 * P("1") * P("150.003"))
    sale = Child(redemption_id("s", 2, 0), 0, 2, "A", "IBM", "sell", P("3"))
    cash = [sale.book(P("1"), P("150.003"), 1) for _ in range(3)]
    assert cash == [P("150.00"), P("150.00"), P("150.00")] and sum(cash) == fixed.floor_cent(3 * P("1") * P("150.003"))
    assert buy.client_order_id == "strategy:s-1-2" and sale.client_order_id == "strategy:s-r2-0"
