"""A strategy's fills allocated to 1,000 investors: every sum exact after every fill, each
investor within one increment and one cent of its exact share, deals only at flat."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from actors.strategy.investors import InvestorError, InvestorPool
from model import fixed
from model.config import load_setup
from model.risk.history import NS_PER_MINUTE
from model.strategy.backtest import Session
from model.strategy.spec import parse_strategy
from tests.unit.model.strategy.conftest import T0, walk

ROOT = Path(__file__).resolve().parents[4]
P = fixed.parse
INSTRUMENTS = {i.symbol: i for i in load_setup(ROOT / "conf" / "server.toml").instruments}
STRATEGY = """
[strategy]
name = "pooled"
symbols = ["IBM"]
capital = "1000000.00"
[entry]
when = "rsi(14) < 30"
scale_in = 2
[sizing]
mode = "percent_equity"
value = "90"
[exit]
when = "rsi(14) > 60"
[fills]
slippage_bps = 1
fee_per_unit = "0.0035"
fee_min = "1.00"
"""


def test_fills_of_a_strategy_allocated_to_1000_investors_exactly() -> None:
    rng = np.random.default_rng(7)
    spec = parse_strategy(STRATEGY, INSTRUMENTS)
    pool = InvestorPool({"IBM": INSTRUMENTS["IBM"].qty_increment})
    accounts = [f"INV{i:04d}" for i in range(1_000)]
    for account in accounts:
        pool.subscribe(account, int(rng.integers(100, 5_000_000)) * fixed.CENT)
    session = Session(spec, INSTRUMENTS, pool=pool)
    bars = walk(6_000, seed=12)
    redeemed = False
    for n, bar in enumerate(bars):
        if n == 3_000:  # mid-run: 50 leave, 20 arrive, 10 add cash; all wait for flat
            for account in accounts[:50]:
                pool.redeem(account)
            for i in range(20):
                pool.subscribe(f"NEW{i:02d}", 10_000 * fixed.SCALE)
            for account in accounts[100:110]:
                pool.subscribe(account, 777 * fixed.CENT)
        fills_before = len(session.fills)
        weights_before = list(pool.weight)
        held_before = {s: list(h) for s, h in pool.positions.items()}
        session.step(bar.symbol, bar.start, bar.open, bar.high, bar.low, bar.close, bar.volume)
        if n >= 3_000 and not pool.pending and not redeemed:
            redeemed = True
            assert len(pool.accounts) == 970 and pool.accounts[-1] == "NEW19" and len(pool.paid) == 50
            assert not any(session.core.book.positions.values())  # applied only at flat
        for allocation in session.allocations[fills_before:]:
            fill = allocation.fill
            assert int(allocation.qty.sum()) == fill.qty
            booked = (fixed.ceil_cent(fill.qty * fill.price) + fill.fee) if fill.side == "buy" else (fixed.floor_cent(fill.qty * fill.price) - fill.fee)
            assert abs(int(allocation.cash.sum())) == booked
            increment = INSTRUMENTS["IBM"].qty_increment
            weights = weights_before if fill.side == "buy" else held_before.get("IBM", [0] * len(weights_before))
            total = sum(weights)
            for q, w in zip(allocation.qty.tolist()[:200], weights[:200], strict=False):  # within one increment of the exact share
                assert abs(Fraction(q) - Fraction(fill.qty * w, total)) < increment
        assert pool.check(session.core.book) == []
        held_before = {s: list(h) for s, h in pool.positions.items()}
    assert redeemed and len(session.fills) > 40
    assert sum(1 for f in session.fills if f.side == "sell") > 10


def test_an_options_fills_are_allocated_at_their_multiplier() -> None:
    """10 contracts at 7.55 cost 7,550.00 (and a fee of 10 bps of that): the investors' cash
    moves by what the model book's did, and the sums stay exact."""
    option = INSTRUMENTS["AAPL261218C00200000"]
    text = f'''
[strategy]
name = "calls"
symbols = ["{option.symbol}"]
capital = "100000.00"
[entry]
when = "close > 0"
[sizing]
mode = "quantity"
value = "10"
[exit]
when = "bars_held >= 2"
[fills]
fee_bps = 10
'''
    pool = InvestorPool({option.symbol: option.qty_increment})
    pool.subscribe("A", P("60000.00"))
    pool.subscribe("B", P("40000.00"))
    session = Session(parse_strategy(text, INSTRUMENTS), INSTRUMENTS, pool=pool)
    for minute in range(8):
        price = P("7.50") + minute * P("0.05")
        session.step(option.symbol, T0 + minute * NS_PER_MINUTE, price, price, price, price, P("1"))
        assert pool.check(session.core.book) == []
    buy = session.allocations[0]
    assert buy.fill.side == "buy" and buy.fill.price == P("7.55") and buy.qty.tolist() == [P("6"), P("4")]
    assert [fixed.format_cash(-int(c)) for c in buy.cash] == ["4534.53", "3023.02"]  # 7,550.00 and its 7.55 fee, 6 : 4
    assert any(a.fill.side == "sell" for a in session.allocations)


def test_bad_subscriptions_and_redemptions_are_refused() -> None:
    pool = InvestorPool({"IBM": 1000})
    with pytest.raises(InvestorError, match="whole cents"):
        pool.subscribe("A", fixed.CENT // 2)
    with pytest.raises(InvestorError, match="holds nothing"):
        pool.redeem("A")
    assert pool.pending == []
