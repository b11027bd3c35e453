"""The risk model a shard's pre-trade checks use, made once at its start from the history:
every instrument's column of returns (the stated fallback where the history is short or
has none), their EWMA covariance, and the VaR level's z.

Guarantees: pure; the same history, instruments and settings give the same model, which
the shard journals (``SetPortfolioModel``) so replay never depends on the file again."""

from __future__ import annotations

from pathlib import Path
from statistics import NormalDist

import numpy as np

from model import fixed
from model.config import PortfolioSection
from model.instruments import Instrument
from model.messages.risk import PortfolioConfig
from model.risk import history, measures, stored
from model.risk.history import History
from model.risk.limits import RiskModel


def columns_for(loaded: History, symbols: list[str]) -> np.ndarray:
    """The closes of ``symbols`` in that order (``nan`` for a symbol the history lacks)."""
    closes = np.full((len(loaded.days), len(symbols)), np.nan)
    for j, symbol in enumerate(symbols):
        if symbol in loaded.symbols:
            closes[:, j] = loaded.column(symbol)
    return closes


def window_of(loaded: History, instruments: list[Instrument], section: PortfolioSection) -> measures.ReturnsWindow:
    symbols = sorted(instrument.symbol for instrument in instruments)
    classes = {instrument.symbol: instrument.asset_class.value for instrument in instruments}
    return measures.returns_window(columns_for(loaded, symbols), tuple(symbols), classes, section.window_days, section.min_history_days)


def build_model(loaded: History, instruments: list[Instrument], section: PortfolioSection) -> RiskModel:
    window = window_of(loaded, instruments, section)
    lam = fixed.parse(section.ewma_lambda) / fixed.SCALE
    level = fixed.parse(section.var_level_pct) / (100 * fixed.SCALE)
    covariance = measures.ewma_covariance(window.returns, lam)
    long_variance = (window.returns * window.returns).mean(axis=0)
    return RiskModel(
        list(window.symbols),
        [float(x) for x in covariance.ravel()],
        level,
        NormalDist().inv_cdf(level),
        dict(window.fallbacks),
        [float(x) for x in long_variance],
    )


def load_or_demo(section: PortfolioSection, instruments: list[Instrument], root: Path | None = None, bars: Path | None = None) -> History:
    """The history the risk model is made from (``choose_history``), without saying which."""
    return choose_history(section, instruments, root, bars)[0]


def choose_history(section: PortfolioSection, instruments: list[Instrument], root: Path | None = None, bars: Path | None = None) -> tuple[History, str]:
    """The history and where it came from, the first of: the configured history file
    (relative to ``root``); the daily bars persisted under ``bars`` (``model/risk/stored.py``)
    when they are enough (``enough_history``); the demo history of the instruments.
    Raises ``HistoryError`` for a bad history file or a bad persisted daily file."""
    if section.history_file:
        path = Path(section.history_file)
        return history.load_history(path if path.is_absolute() or root is None else root / path), str(path)
    if bars is not None:
        persisted = stored.read_daily(bars)
        if persisted is not None and enough_history(persisted, instruments, section):
            return persisted, str(bars / stored.DAILY)
    prices = {i.symbol: (i.reference_price, i.asset_class.value) for i in instruments}
    return history.history_of(history.demo_history(prices, section.demo_history_days, section.demo_history_seed)), "demo"


def enough_history(loaded: History, instruments: list[Instrument], section: PortfolioSection) -> bool:
    """Whether a model can be made from ``loaded``: at least one instrument has
    ``min_history_days`` returns (so ``min_history_days`` + 1 daily bars) in the last
    ``window_days`` — what ``measures.returns_window`` asks before it refuses a window. The
    instruments with fewer then take the stated fallback (their asset class's mean return)."""
    symbols = sorted(instrument.symbol for instrument in instruments)
    returns = measures.simple_returns(columns_for(loaded, symbols))[-section.window_days :]
    return bool(((~np.isnan(returns)).sum(axis=0) >= section.min_history_days).any())


def portfolio_config(section: PortfolioSection) -> PortfolioConfig:
    return PortfolioConfig(
        checks=section.checks,
        default=section.limits.parsed(),
        groups={name: limits.parsed() for name, limits in sorted(section.groups.items())},
        accounts={name: limits.parsed() for name, limits in sorted(section.accounts.items())},
        correlation_alert=_fraction(section.correlation_alert),
        volatility_jump=_fraction(section.volatility_jump_pct, percent=True),
        drawdown_alert=_fraction(section.drawdown_alert_pct, percent=True),
    )


def _fraction(text: str, percent: bool = False) -> int | None:
    """A threshold as a fraction at scale 10^-9 (a percent divided by 100); ``""``: off."""
    if not text:
        return None
    value = fixed.parse(text)
    return value // 100 if percent else value
