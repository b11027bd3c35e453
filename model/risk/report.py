"""What ``admin risk`` shows of one portfolio (an account, a group's sum, every account's):
the measures of ``measures.py`` on today's exposures, as the operator reads them.

Guarantees: pure and read only; money as decimal strings to the cent, shares as percent
strings (``inf`` without equity); a symbol the history lacks counts in the exposures but
not in the VaR (listed in ``unmeasured``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from model import fixed
from model.instruments import Instrument
from model.risk import measures
from model.risk.limits import RiskModel

LEVELS = (0.95, 0.99)


def _money(value: float) -> str:
    return fixed.format(int(round(value * 100)) * fixed.SCALE // 100)


def _pct(fraction: float) -> str:
    if not np.isfinite(fraction):
        return "inf"
    return f"{fraction * 100:.2f}"


def figures(
    exposures: dict[str, int], equity: int, high_water: int, window: measures.ReturnsWindow, model: RiskModel | None, instruments: dict[str, Instrument]
) -> dict[str, Any]:
    symbols = list(window.symbols)
    index = {symbol: j for j, symbol in enumerate(symbols)}
    held = {s: v / fixed.SCALE for s, v in sorted(exposures.items()) if v}
    vector = np.zeros(len(symbols))
    for symbol, value in held.items():
        if symbol in index:
            vector[index[symbol]] = value
    pnl = measures.pnl_scenarios(vector[None, :], window.returns)
    historical = {}
    parametric = {}
    covariance = None
    if model is not None and model.symbols == symbols:
        covariance = np.asarray(model.covariance).reshape(len(symbols), len(symbols))
    for level in LEVELS:
        var, es = measures.historical_var_es(pnl, level)
        historical[f"{level * 100:.0f}"] = {"var": _money(float(var[0])), "es": _money(float(es[0]))}
        if covariance is not None:
            pvar, pes = measures.parametric_var_es(vector, covariance, level)
            parametric[f"{level * 100:.0f}"] = {"var": _money(float(pvar[0])), "es": _money(float(pes[0]))}
    names = sorted(held)
    values = np.array([held[s] for s in names]) if names else np.zeros(0)
    groups = {"asset_class": [instruments[s].asset_class.value if s in instruments else "" for s in names]}
    groups["sector"] = [instruments[s].sector_name if s in instruments else "" for s in names]
    equity_f = equity / fixed.SCALE
    out: dict[str, Any] = {
        "equity": fixed.format(equity),
        "high_water": fixed.format(high_water),
        "historical": historical,
        "parametric": parametric,
    }
    shown = measures.exposure(values[None, :] if names else np.zeros((1, 0)), np.array([equity_f]), np.zeros(len(names), dtype=np.int64), 1 if names else 0)
    out["gross_exposure"] = _money(float(shown.gross[0]))
    out["net_exposure"] = _money(float(shown.net[0]))
    out["leverage"] = "inf" if not np.isfinite(shown.leverage[0]) else f"{float(shown.leverage[0]):.4f}"
    largest = max(names, key=lambda s: (abs(held[s]), s)) if names else None
    out["concentration"] = {"symbol": largest, "pct": _pct(float(shown.largest_position[0]))}
    for name, labels in groups.items():
        totals: dict[str, float] = {}
        for label, value in zip(labels, values):
            totals[label] = totals.get(label, 0.0) + abs(float(value))
        top = max(sorted(totals), key=lambda k: totals[k]) if totals else None
        share = float(measures._share(np.array([totals[top] if top else 0.0]), np.array([equity_f]))[0])
        out[f"concentration_{name}"] = {name: top, "pct": _pct(share)}
    out["drawdown_pct"] = _pct(float(measures.drawdown(np.array([equity_f]), np.array([high_water / fixed.SCALE]))[0]))
    out["exposures"] = {s: _money(v) for s, v in held.items()}
    out["unmeasured"] = [s for s in names if s not in index]
    out["correlation"] = correlation_of([s for s in names if s in index], window, index)
    return out


def correlation_of(symbols: list[str], window: measures.ReturnsWindow, index: dict[str, int]) -> dict[str, Any]:
    """The correlation matrix of ``symbols`` over the window's returns (``measures.correlation``),
    as decimal strings to four places (no float on the wire); a symbol that never moved
    correlates with nothing: ``null`` off the diagonal."""
    if not symbols:
        return {"symbols": [], "matrix": []}
    matrix = measures.correlation(window.returns[:, [index[s] for s in symbols]])
    return {"symbols": symbols, "matrix": [[None if np.isnan(value) else f"{value:.4f}" for value in row] for row in matrix]}
