"""Portfolio limits and trading states: the post-order check as pure functions returning a
``Reason``, on fixed-point inputs (floats only inside the VaR).

The portfolio an order is checked on is the account as it would be after the order *and
every open order of it* filled at the marks: positions plus open buys' leaves minus open
sells' leaves plus this order. So ten pieces of an order meet the limit exactly where the
whole order would (each piece counts the ones before it).

The checks, in this fixed order (after ``actors/account/risk.first_failure``'s own):

1. the account's trading state ``halted`` → ``account_halted``;
2. an order that reduces risk passes (it takes its symbol's projected quantity toward zero
   without crossing it): a reducing account or an account over a limit must be able to get
   out;
3. state ``reducing`` → ``account_reducing``;
4. drawdown from the high-water mark above ``max_drawdown`` → ``max_drawdown``;
5. gross exposure after the order above ``max_gross`` → ``max_gross_exposure``;
6. the largest single position after the order above ``max_concentration`` of equity →
   ``max_concentration``; the largest sector's gross exposure (a long and a short both
   count) above ``max_sector`` of equity → ``max_sector_concentration``;
7. the one-day parametric VaR after the order (EWMA variance–covariance at the model's
   level) above ``max_var`` → ``max_var``.

A limit *equal* to the figure passes: each is a maximum.

Guarantees: pure; every input is a journaled one (positions, orders, marks, the model the
shard journaled at its start), so replay gives the same answer.
"""

from __future__ import annotations

import math
from enum import StrEnum

import msgspec

from model import fixed
from model.enums import Reason

HUNDRED = 100 * fixed.SCALE


class TradingState(StrEnum):
    ACTIVE = "active"
    REDUCING = "reducing"  # only orders that reduce risk
    HALTED = "halted"  # no order


class PortfolioLimits(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Money limits fixed-point; shares as fractions of equity, scale 10^-9 (0.25 = 25 %).
    ``None``: no limit."""

    max_var: int | None = None
    max_concentration: int | None = None
    max_gross: int | None = None
    max_drawdown: int | None = None
    max_sector: int | None = None

    def any(self) -> bool:
        return any(value is not None for value in (self.max_var, self.max_concentration, self.max_gross, self.max_drawdown, self.max_sector))

    def over(self, base: PortfolioLimits) -> PortfolioLimits:
        """These limits, each one not set taken from ``base``."""
        return PortfolioLimits(*(mine if mine is not None else theirs for mine, theirs in zip(msgspec.structs.astuple(self), msgspec.structs.astuple(base))))

    def wire(self) -> dict[str, str | None]:
        """As decimal strings (money) and percent strings (shares), the way they are given."""
        return {
            "max_var": _money(self.max_var),
            "max_gross_exposure": _money(self.max_gross),
            "max_concentration_pct": _pct(self.max_concentration),
            "max_drawdown_pct": _pct(self.max_drawdown),
            "max_sector_pct": _pct(self.max_sector),
        }


def _money(value: int | None) -> str | None:
    return None if value is None else fixed.format(value)


def _pct(value: int | None) -> str | None:
    return None if value is None else fixed.format(value * 100)


def parse_limits(
    max_var: str | None = None,
    max_concentration_pct: str | None = None,
    max_gross_exposure: str | None = None,
    max_drawdown_pct: str | None = None,
    max_sector_pct: str | None = None,
) -> PortfolioLimits:
    """Limits from their decimal strings (``""``/``None``: not set). Raises ``ValueError``
    naming the limit: not a decimal, negative, or a share above 100 %."""
    return PortfolioLimits(
        max_var=_amount("max_var", max_var),
        max_concentration=_share("max_concentration_pct", max_concentration_pct),
        max_gross=_amount("max_gross_exposure", max_gross_exposure),
        max_drawdown=_share("max_drawdown_pct", max_drawdown_pct),
        max_sector=_share("max_sector_pct", max_sector_pct),
    )


def _amount(name: str, text: str | None) -> int | None:
    if not text:
        return None
    try:
        value = fixed.parse(text)
    except fixed.DecimalFormatError:
        raise ValueError(f"{name}: {text!r} is not a decimal amount") from None
    if value < 0:
        raise ValueError(f"{name}: {text} is negative")
    return value


def _share(name: str, text: str | None) -> int | None:
    value = _amount(name, text)
    if value is None:
        return None
    if value > HUNDRED:
        raise ValueError(f"{name}: {text} % is above 100 %")
    return value // 100


class RiskModel(msgspec.Struct, frozen=True):
    """What the pre-trade VaR needs, fixed at a shard's start from the history and journaled
    (``SetPortfolioModel``): the symbols, their EWMA covariance of daily returns (row-major,
    symbols × symbols), the VaR level's z, and what any fallback filled."""

    symbols: list[str]
    covariance: list[float]
    level: float
    z: float
    fallbacks: dict[str, str] = msgspec.field(default_factory=dict)
    # each symbol's equal-weight variance over the window (zero mean, like the EWMA's): the
    # longer average a volatility alert compares the EWMA volatility with (none in a model
    # journaled before the alerts)
    long_variance: list[float] = msgspec.field(default_factory=list)

    def correlated_pairs(self, threshold: float) -> dict[str, dict[str, float]]:
        """symbol → {other symbol: correlation} of every pair whose EWMA correlation is
        above ``threshold`` (both ways). A symbol that never moves correlates with nothing."""
        n = len(self.symbols)
        cov = self.covariance
        sd = [math.sqrt(cov[i * n + i]) if cov[i * n + i] > 0 else 0.0 for i in range(n)]
        pairs: dict[str, dict[str, float]] = {}
        for i in range(n):
            if not sd[i]:
                continue
            for j in range(i + 1, n):
                if sd[j] and (rho := cov[i * n + j] / (sd[i] * sd[j])) > threshold:
                    pairs.setdefault(self.symbols[i], {})[self.symbols[j]] = rho
                    pairs.setdefault(self.symbols[j], {})[self.symbols[i]] = rho
        return pairs

    def volatility_jumps(self, jump: float) -> dict[str, float]:
        """symbol → how far its EWMA volatility is above its window's (0.5 = 50 %), for the
        symbols where that is above ``jump``."""
        n = len(self.symbols)
        jumps: dict[str, float] = {}
        for i, long in enumerate(self.long_variance[:n]):
            short = self.covariance[i * n + i]
            if long > 0 and (rise := math.sqrt(short / long) - 1.0) > jump:
                jumps[self.symbols[i]] = rise
        return jumps

    def variance(self, exposures: dict[str, int], index: dict[str, int] | None = None) -> float:
        """``eᵀ Σ e`` of the exposures (money as floats), over the symbols held. ``index``:
        symbol → its row, when the caller keeps it (else made here)."""
        if index is None:
            index = {symbol: i for i, symbol in enumerate(self.symbols)}
        n = len(self.symbols)
        held = [(index[s], v / fixed.SCALE) for s, v in sorted(exposures.items()) if v and s in index]
        cov = self.covariance
        total = 0.0
        for i, ei in held:
            row = i * n
            for j, ej in held:
                total += ei * ej * cov[row + j]
        return max(total, 0.0)

    def var(self, exposures: dict[str, int], index: dict[str, int] | None = None) -> float:
        """The one-day parametric VaR of the exposures, in money (a float)."""
        return self.z * math.sqrt(self.variance(exposures, index))


def value_of(qty: int, mark: int, multiplier: int) -> int:
    """The signed exposure of ``qty`` at ``mark``, fixed-point money (exact, truncated)."""
    return qty * mark * multiplier // fixed.SCALE


def reduces(before: int, after: int) -> bool:
    """Whether a symbol's projected quantity going from ``before`` to ``after`` reduces risk:
    toward zero, never past it."""
    return abs(after) <= abs(before) and (after == 0 or (after > 0) == (before > 0))


def drawdown(equity: int, high_water: int) -> int:
    """The fall from the high-water mark as a fraction (scale 10^-9); 0 without a mark."""
    if high_water <= 0 or equity >= high_water:
        return 0
    return (high_water - equity) * fixed.SCALE // high_water


def by_sector(exposures: dict[str, int], sector_of: dict[str, str]) -> dict[str, int]:
    """Each sector's gross exposure (Σ |exposure| of its symbols)."""
    totals: dict[str, int] = {}
    for symbol, value in exposures.items():
        sector = sector_of.get(symbol, "")
        totals[sector] = totals.get(sector, 0) + abs(value)
    return totals


def over_share(amount: int, limit: int, equity: int) -> bool:
    """``amount ÷ equity > limit``, in integers; without equity any amount is over."""
    return bool(amount) and amount * fixed.SCALE > limit * max(equity, 0)


def breach(
    exposures: dict[str, int],
    equity: int,
    high_water: int,
    limits: PortfolioLimits,
    model: RiskModel | None,
    sector_of: dict[str, str] | None = None,
    index: dict[str, int] | None = None,
) -> Reason | None:
    """The first limit (steps 4–7) the portfolio ``exposures`` is over, or ``None``.
    ``sector_of``: each symbol's sector (``Instrument.sector_name``), for ``max_sector``;
    ``index``: the model's rows by symbol, when the caller keeps them."""
    if limits.max_drawdown is not None and drawdown(equity, high_water) > limits.max_drawdown:
        return Reason.MAX_DRAWDOWN
    if limits.max_gross is not None and sum(abs(v) for v in exposures.values()) > limits.max_gross:
        return Reason.MAX_GROSS_EXPOSURE
    if limits.max_concentration is not None and exposures and over_share(max(abs(v) for v in exposures.values()), limits.max_concentration, equity):
        return Reason.MAX_CONCENTRATION
    if limits.max_sector is not None and exposures and sector_of is not None:
        if over_share(max(by_sector(exposures, sector_of).values()), limits.max_sector, equity):
            return Reason.MAX_SECTOR_CONCENTRATION
    if limits.max_var is not None and model is not None and model.var(exposures, index) * fixed.SCALE > limits.max_var:
        return Reason.MAX_VAR
    return None


def check_order(
    state: TradingState,
    before: int,
    after: int,
    exposures_after: dict[str, int],
    equity: int,
    high_water: int,
    limits: PortfolioLimits,
    model: RiskModel | None,
    sector_of: dict[str, str] | None = None,
    index: dict[str, int] | None = None,
) -> Reason | None:
    """Steps 1–7 (module docstring) for an order taking its symbol's projected quantity from
    ``before`` to ``after``; ``exposures_after`` the whole projected portfolio after it."""
    if state is TradingState.HALTED:
        return Reason.ACCOUNT_HALTED
    if reduces(before, after):
        return None
    if state is TradingState.REDUCING:
        return Reason.ACCOUNT_REDUCING
    return breach(exposures_after, equity, high_water, limits, model, sector_of, index)
