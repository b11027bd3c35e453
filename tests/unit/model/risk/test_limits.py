"""Portfolio limits parsed (bad input named), and the pure post-order steps."""

from __future__ import annotations

import msgspec
import pytest

from model import fixed
from model.config import Config
from model.enums import Reason
from model.risk import limits
from model.risk.limits import PortfolioLimits, TradingState

D = fixed.parse


def test_limits_parse_money_and_percent() -> None:
    parsed = limits.parse_limits("1000.50", "25", "", "10.5")
    assert parsed == PortfolioLimits(max_var=D("1000.50"), max_concentration=D("0.25"), max_gross=None, max_drawdown=D("0.105"))
    assert parsed.wire() == {"max_var": "1000.5", "max_gross_exposure": None, "max_concentration_pct": "25", "max_drawdown_pct": "10.5", "max_sector_pct": None}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-1",), "max_var: -1 is negative"),
        ((None, "100.01"), "max_concentration_pct: 100.01 % is above 100 %"),
        ((None, None, "1e6"), "max_gross_exposure: '1e6' is not a decimal amount"),
        ((None, None, None, "-5"), "max_drawdown_pct: -5 is negative"),
    ],
)
def test_bad_limits_are_refused_by_name(args: tuple[str | None, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        limits.parse_limits(*args)


def test_a_bad_limit_in_the_configuration_stops_the_start() -> None:
    with pytest.raises(msgspec.ValidationError, match="above 100"):
        msgspec.convert({"portfolio": {"accounts": {"A1": {"max_concentration_pct": "101"}}}}, Config)
    assert msgspec.convert({"portfolio": {"limits": {"max_var": "5000"}}}, Config).portfolio.limits.parsed().max_var == D("5000")


def test_reducing_means_toward_zero_never_past_it() -> None:
    assert limits.reduces(10, 4) and limits.reduces(10, 0) and limits.reduces(-10, -3)
    assert not limits.reduces(10, 11) and not limits.reduces(10, -1) and not limits.reduces(0, 1)


def test_check_order_states_come_first_and_a_reducing_order_passes_any_limit() -> None:
    tight = PortfolioLimits(max_gross=0)
    assert limits.check_order(TradingState.HALTED, 10, 5, {}, 0, 0, tight, None) is Reason.ACCOUNT_HALTED
    assert limits.check_order(TradingState.ACTIVE, 10, 5, {"X": 5}, 100, 100, tight, None) is None
    assert limits.check_order(TradingState.REDUCING, 10, 11, {"X": 11}, 100, 100, PortfolioLimits(), None) is Reason.ACCOUNT_REDUCING
    assert limits.check_order(TradingState.ACTIVE, 10, 11, {"X": 11}, 100, 100, tight, None) is Reason.MAX_GROSS_EXPOSURE
    assert limits.drawdown(90, 100) == D("0.1") and limits.drawdown(110, 100) == 0


def test_the_pairs_conditions_made_once_are_the_conditions_listed_at_each_review() -> None:
    """``PairConditions.of`` (made once per model, read after every fill) lists exactly the
    conditions the plain listing does: the held pairs, in symbol order, formatted alike."""
    import random

    from model import fixed
    from model.risk.alerts import CORRELATION, Condition, PairConditions

    rng = random.Random(5)
    symbols = [f"S{i:02d}" for i in range(30)]
    pairs: dict[str, dict[str, float]] = {}
    for i, a in enumerate(symbols):
        for b in symbols[i + 1 :]:
            if rng.random() < 0.2:
                rho = 0.9 + rng.random() / 10
                pairs.setdefault(a, {})[b] = rho
                pairs.setdefault(b, {})[a] = rho
    threshold = fixed.parse("0.9")
    made = PairConditions(pairs, threshold)
    for _ in range(50):
        held = rng.sample(symbols, rng.randint(0, 12))
        plain = [
            Condition(CORRELATION, f"{a}/{b}", f"{rho:.4f}", fixed.format(threshold))
            for a in sorted(set(held)) for b, rho in sorted(pairs.get(a, {}).items()) if a < b and b in held
        ]  # fmt: skip
        assert made.of(held) == plain
