"""Risk measures on arrays (numpy): returns, historical and parametric VaR and expected
shortfall, EWMA volatility and covariance, correlation, concentration, exposure, leverage and
drawdown — for one portfolio or many at once (one row each).

Every measure is a loss, positive money (the currency unit as a float): VaR at level ``α`` is
the loss the portfolio's one-day P&L falls below with probability ``1 − α``. Conventions,
stated once:

* **Historical.** The window's daily returns applied to today's exposures give one P&L per
  day; VaR is minus the ``1 − α`` quantile of them, interpolated linearly between order
  statistics (numpy's default ``linear`` method); ES is minus the mean of the P&Ls at or
  below that quantile.
* **Parametric.** Variance–covariance, zero mean: ``σ = √(eᵀ Σ e)`` with ``Σ`` the EWMA
  covariance of the returns (``λ``, RiskMetrics 0.94 by default, weights normalised over the
  window); VaR ``= z_α σ``, ES ``= σ φ(z_α) / (1 − α)``.
* **Fallback.** A symbol with fewer than ``min_days`` returns in the window gets, on the days
  it lacks, the mean return of its asset class's symbols that have them, or of every symbol
  that has them; ``fallbacks`` names each symbol so filled and with what — never a zero.

Guarantees: pure functions of their arguments; the same arrays give the same floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

_NORMAL = NormalDist()


def simple_returns(closes: np.ndarray) -> np.ndarray:
    """Day-on-day returns of ``closes`` (days × symbols): one row fewer; ``nan`` where either
    close is missing."""
    return closes[1:] / closes[:-1] - 1.0


@dataclass(frozen=True)
class ReturnsWindow:
    """The last ``window`` days of returns of each symbol, gaps filled (module docstring)."""

    symbols: tuple[str, ...]
    returns: np.ndarray  # window × symbols, no nan
    fallbacks: dict[str, str]  # symbol → what filled its missing days ("asset class equity", "all symbols")


def returns_window(closes: np.ndarray, symbols: tuple[str, ...], classes: dict[str, str], window: int, min_days: int) -> ReturnsWindow:
    """The window of returns the measures use, with the stated fallback for a symbol with
    fewer than ``min_days`` returns in it. A window where no symbol has ``min_days`` returns
    is refused: there is nothing to fall back on."""
    returns = simple_returns(closes)[-window:]
    have = ~np.isnan(returns)
    enough = have.sum(axis=0) >= min_days
    if not enough.any():
        raise ValueError(f"no symbol has {min_days} days of returns in the last {window}: the history is too short")
    filled = returns.copy()
    fallbacks: dict[str, str] = {}
    everyone = _mean_of(returns, enough)
    for j in np.flatnonzero(~enough):
        symbol = symbols[j]
        peers = enough & np.array([classes.get(s) == classes.get(symbol) for s in symbols])
        if peers.any():
            proxy, fallbacks[symbol] = _mean_of(returns, peers), f"asset class {classes.get(symbol)}"
        else:
            proxy, fallbacks[symbol] = everyone, "all symbols"
        column = filled[:, j]  # a view: written in place
        # too little history: its own returns are not enough to trust, the proxy replaces all
        column[:] = proxy
    # a symbol with enough days may still miss a few at the window's start: its class's day
    for j in np.flatnonzero(enough & ~have.all(axis=0)):
        missing = np.isnan(filled[:, j])
        filled[missing, j] = everyone[missing]
    return ReturnsWindow(symbols, np.nan_to_num(filled, nan=0.0), fallbacks)


def _mean_of(returns: np.ndarray, columns: np.ndarray) -> np.ndarray:
    chosen = returns[:, columns]
    count = (~np.isnan(chosen)).sum(axis=1)
    total = np.nansum(chosen, axis=1)
    return np.divide(total, count, out=np.zeros(len(returns)), where=count > 0)


def pnl_scenarios(exposures: np.ndarray, returns: np.ndarray) -> np.ndarray:
    """One P&L per day of the window for each portfolio: exposures (portfolios × symbols,
    money) times the returns (days × symbols) → portfolios × days."""
    return exposures @ returns.T


def historical_var_es(pnl: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """VaR and ES of each row of ``pnl`` (portfolios × days) at ``level`` (0.95, 0.99):
    minus the ``1 − level`` quantile, linearly interpolated, and minus the mean of the P&Ls
    at or below it. Computed with one partial sort per row set (``np.partition``), not a
    full sort."""
    pnl = np.atleast_2d(pnl)
    days = pnl.shape[1]
    position = (1.0 - level) * (days - 1)
    low = int(np.floor(position))
    high = min(low + 1, days - 1)
    part = np.partition(pnl, (low, high), axis=1)
    weight = position - low
    quantile = part[:, low] * (1.0 - weight) + part[:, high] * weight
    tail = pnl <= quantile[:, None]
    es = -(np.where(tail, pnl, 0.0).sum(axis=1) / np.maximum(tail.sum(axis=1), 1))
    return -quantile, es


def ewma_covariance(returns: np.ndarray, lam: float) -> np.ndarray:
    """The EWMA covariance (zero mean) of the window's returns, the latest day weighted most:
    ``Σ = Σ_t w_t r_t r_tᵀ`` with ``w_t ∝ λ^(T−1−t)``, the weights summing to one."""
    days = returns.shape[0]
    weights = lam ** np.arange(days - 1, -1, -1, dtype=np.float64)
    weights /= weights.sum()
    return (returns * weights[:, None]).T @ returns


def ewma_volatility(returns: np.ndarray, lam: float) -> np.ndarray:
    """Each symbol's EWMA daily volatility: the square root of the covariance's diagonal,
    computed without the whole matrix."""
    days = returns.shape[0]
    weights = lam ** np.arange(days - 1, -1, -1, dtype=np.float64)
    weights /= weights.sum()
    return np.sqrt(weights @ (returns * returns))


def parametric_var_es(exposures: np.ndarray, covariance: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Variance–covariance VaR and ES of each row of ``exposures`` (module docstring)."""
    exposures = np.atleast_2d(exposures)
    sigma = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", exposures, covariance, exposures, optimize=True), 0.0))
    z = _NORMAL.inv_cdf(level)
    return z * sigma, sigma * _NORMAL.pdf(z) / (1.0 - level)


def correlation(returns: np.ndarray) -> np.ndarray:
    """The sample correlation matrix of the window's returns (symbols × symbols). A symbol
    whose returns do not move has no correlation: its row and column are ``nan`` (1 on the
    diagonal), never a made-up 0."""
    centred = returns - returns.mean(axis=0)
    scale = np.sqrt((centred * centred).sum(axis=0))
    flat = scale == 0.0
    standard = centred / np.where(flat, 1.0, scale)
    matrix = standard.T @ standard
    matrix[flat, :] = np.nan
    matrix[:, flat] = np.nan
    np.fill_diagonal(matrix, 1.0)
    return np.clip(matrix, -1.0, 1.0, out=matrix, where=~np.isnan(matrix))


def aggregate(owner: np.ndarray, symbol: np.ndarray, value: np.ndarray, owners: int, symbols: int) -> np.ndarray:
    """Exposure rows (owners × symbols) from sparse positions: ``owner[k]`` holds
    ``value[k]`` of ``symbol[k]``; an owner holding a symbol twice (two accounts of a group)
    has their sum."""
    flat = np.bincount(owner.astype(np.int64) * symbols + symbol, weights=value, minlength=owners * symbols)
    return flat.reshape(owners, symbols)


def var_by_owner(
    owner: np.ndarray, symbol: np.ndarray, value: np.ndarray, owners: int, returns: np.ndarray, levels: tuple[float, ...], chunk: int = 8192
) -> dict[float, tuple[np.ndarray, np.ndarray]]:
    """Historical VaR and ES of every owner (account, group) at each level, ``chunk`` owners
    at a time so memory stays ``chunk × (symbols + days)`` floats whatever the count."""
    symbols = returns.shape[1]
    out = {level: (np.empty(owners), np.empty(owners)) for level in levels}
    order = np.argsort(owner, kind="stable")
    owner, symbol, value = owner[order], symbol[order], value[order]
    bounds = np.searchsorted(owner, np.arange(0, owners + chunk, chunk))
    for i, start in enumerate(range(0, owners, chunk)):
        lo, hi = bounds[i], bounds[i + 1]
        count = min(chunk, owners - start)
        rows = aggregate(owner[lo:hi] - start, symbol[lo:hi], value[lo:hi], count, symbols)
        pnl = pnl_scenarios(rows, returns)
        for level in levels:
            var, es = historical_var_es(pnl, level)
            out[level][0][start : start + count] = var
            out[level][1][start : start + count] = es
    return out


@dataclass(frozen=True)
class Exposure:
    """Exposure figures of each portfolio (arrays, one per row; money as floats, shares as
    fractions of equity)."""

    gross: np.ndarray
    net: np.ndarray
    leverage: np.ndarray  # gross ÷ equity (inf for equity ≤ 0 with exposure)
    largest_position: np.ndarray  # the largest |exposure| of one symbol ÷ equity
    largest_group: np.ndarray  # the largest |exposure| of one asset class or sector ÷ equity
    largest_group_index: np.ndarray


def exposure(exposures: np.ndarray, equity: np.ndarray, group_of: np.ndarray, groups: int) -> Exposure:
    """Gross, net, leverage and concentration of each row of ``exposures``; ``group_of[j]``
    is the sector (or asset class) index of symbol ``j``. A group's share is of its gross
    exposure (a long and a short in one sector both count), over equity."""
    exposures = np.atleast_2d(exposures)
    absolute = np.abs(exposures)
    gross = absolute.sum(axis=1)
    one_hot = np.eye(groups)[group_of] if groups else np.zeros((exposures.shape[1], 0))
    by_group = absolute @ one_hot
    equity = np.asarray(equity, dtype=np.float64)
    share = _share
    return Exposure(
        gross=gross,
        net=exposures.sum(axis=1),
        leverage=share(gross, equity),
        largest_position=share(absolute.max(axis=1, initial=0.0), equity),
        largest_group=share(by_group.max(axis=1, initial=0.0), equity),
        largest_group_index=by_group.argmax(axis=1) if groups else np.zeros(len(exposures), dtype=np.int64),
    )


def _share(amount: np.ndarray, equity: np.ndarray) -> np.ndarray:
    """``amount ÷ equity``; no equity: infinite when there is an amount, else 0."""
    safe = np.where(equity > 0, equity, 1.0)
    return np.where(equity > 0, amount / safe, np.where(amount > 0, np.inf, 0.0))


def drawdown(equity: np.ndarray, high_water: np.ndarray) -> np.ndarray:
    """The fall from the high-water mark as a fraction of it (0 at or above it)."""
    high_water = np.asarray(high_water, dtype=np.float64)
    safe = np.where(high_water > 0, high_water, 1.0)
    return np.where(high_water > 0, np.maximum(high_water - equity, 0.0) / safe, 0.0)


@dataclass(frozen=True)
class BookFigures:
    """The measures of a book of many owners (accounts, or groups) and of their sum (the
    firm), from sparse positions (``aggregate``'s arguments)."""

    owner_var: dict[float, tuple[np.ndarray, np.ndarray]]  # level → (VaR, ES) per owner, historical
    firm_var: dict[float, tuple[float, float]]  # level → (VaR, ES), historical
    firm_parametric: dict[float, tuple[float, float]]  # level → (VaR, ES), EWMA variance–covariance
    correlation: np.ndarray  # of the symbols held by anyone, in ``held`` order
    held: np.ndarray  # symbol indexes held


def book_figures(
    owner: np.ndarray, symbol: np.ndarray, value: np.ndarray, owners: int, returns: np.ndarray, levels: tuple[float, ...], lam: float, chunk: int = 8192
) -> BookFigures:
    """Every owner's historical VaR and ES, the firm's historical and parametric ones, and the
    correlation of the symbols held — the figures ``admin risk`` shows and the benchmark times."""
    symbols = returns.shape[1]
    firm = np.bincount(symbol, weights=value, minlength=symbols)
    firm_pnl = returns @ firm
    covariance = ewma_covariance(returns, lam)
    held = np.flatnonzero(np.bincount(symbol, minlength=symbols))
    firm_var = {}
    firm_parametric = {}
    for level in levels:
        var, es = historical_var_es(firm_pnl, level)
        firm_var[level] = (float(var[0]), float(es[0]))
        pvar, pes = parametric_var_es(firm, covariance, level)
        firm_parametric[level] = (float(pvar[0]), float(pes[0]))
    return BookFigures(
        owner_var=var_by_owner(owner, symbol, value, owners, returns, levels, chunk),
        firm_var=firm_var,
        firm_parametric=firm_parametric,
        correlation=correlation(returns[:, held]),
        held=held,
    )
