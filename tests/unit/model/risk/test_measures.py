"""The measures against independent computations on fixed data: numpy's percentile and a
plain loop for the historical figures, the closed-form normal for the parametric ones."""

from __future__ import annotations

import math

import numpy as np
import pytest

from model.risk import measures

Z = {0.95: 1.6448536269514722, 0.99: 2.3263478740408408}  # Φ⁻¹, from tables


def _fixed_returns(days: int = 250, symbols: int = 6) -> np.ndarray:
    rng = np.random.default_rng(7)
    market = rng.normal(0, 0.01, days)
    return market[:, None] * rng.uniform(0.5, 1.5, symbols) + rng.normal(0, 0.01, (days, symbols))


@pytest.mark.parametrize("level", [0.95, 0.99])
def test_historical_var_is_numpy_percentile_and_es_the_tail_mean(level: float) -> None:
    returns = _fixed_returns()
    exposures = np.array([[1000.0, -500.0, 250.0, 0.0, 0.0, 3000.0], [0.0, 0.0, 0.0, 0.0, 10_000.0, 0.0], [100.0] * 6])
    var, es = measures.historical_var_es(measures.pnl_scenarios(exposures, returns), level)
    for row in range(len(exposures)):
        pnl = [sum(exposures[row, j] * returns[t, j] for j in range(6)) for t in range(250)]  # a plain loop
        expected_var = -np.percentile(pnl, (1 - level) * 100)
        tail = [p for p in pnl if p <= -expected_var]
        assert var[row] == pytest.approx(expected_var, rel=1e-12)
        assert es[row] == pytest.approx(-sum(tail) / len(tail), rel=1e-12)
        assert es[row] >= var[row] > 0


def test_historical_var_on_a_known_series() -> None:
    pnl = np.arange(-50.0, 50.0)  # 100 days: -50 .. 49
    var, es = measures.historical_var_es(pnl, 0.95)
    # 5th percentile, linear: position 0.05 × 99 = 4.95 → -50 + 4.95
    assert var[0] == pytest.approx(45.05)
    assert es[0] == pytest.approx(-np.mean([-50, -49, -48, -47, -46]))


@pytest.mark.parametrize("level", [0.95, 0.99])
def test_parametric_var_and_es_are_the_closed_form_normal(level: float) -> None:
    returns = _fixed_returns()
    lam = 0.94
    cov = measures.ewma_covariance(returns, lam)
    # independently: the recursive EWMA, started from the first day's outer product and
    # normalised — equal to the normalised weights over the window
    weights = np.array([lam ** (249 - t) for t in range(250)])
    weights /= weights.sum()
    loop = sum(weights[t] * np.outer(returns[t], returns[t]) for t in range(250))
    np.testing.assert_allclose(cov, loop, rtol=1e-12)
    e = np.array([1000.0, -500.0, 250.0, 0.0, 0.0, 3000.0])
    sigma = math.sqrt(e @ loop @ e)
    var, es = measures.parametric_var_es(e, cov, level)
    z = Z[level]
    assert var[0] == pytest.approx(z * sigma, rel=1e-9)
    assert es[0] == pytest.approx(sigma * math.exp(-z * z / 2) / math.sqrt(2 * math.pi) / (1 - level), rel=1e-9)
    np.testing.assert_allclose(measures.ewma_volatility(returns, lam), np.sqrt(np.diag(loop)), rtol=1e-12)


def test_correlation_is_numpy_corrcoef_and_a_flat_symbol_has_none() -> None:
    returns = _fixed_returns()
    np.testing.assert_allclose(measures.correlation(returns), np.corrcoef(returns, rowvar=False), atol=1e-12)
    returns[:, 2] = 0.0
    matrix = measures.correlation(returns)
    assert np.isnan(matrix[2, 0]) and np.isnan(matrix[0, 2]) and matrix[2, 2] == 1.0


def test_var_by_owner_equals_dense_computation_in_chunks() -> None:
    returns = _fixed_returns(60, 8)
    rng = np.random.default_rng(3)
    owner = rng.integers(0, 50, 400)
    symbol = rng.integers(0, 8, 400)
    value = rng.normal(0, 1000, 400)
    dense = np.zeros((50, 8))
    for o, s, v in zip(owner, symbol, value):
        dense[o, s] += v
    out = measures.var_by_owner(owner, symbol, value, 50, returns, (0.95, 0.99), chunk=7)
    for level in (0.95, 0.99):
        pnl = dense @ returns.T
        np.testing.assert_allclose(out[level][0], -np.percentile(pnl, (1 - level) * 100, axis=1), rtol=1e-9)


def test_exposure_concentration_leverage_and_drawdown() -> None:
    exposures = np.array([[6000.0, -2000.0, 2000.0], [0.0, 0.0, 0.0]])
    figures = measures.exposure(exposures, np.array([10_000.0, 0.0]), np.array([0, 0, 1]), 2)
    assert list(figures.gross) == [10_000.0, 0.0] and list(figures.net) == [6000.0, 0.0]
    assert figures.leverage[0] == 1.0 and figures.largest_position[0] == 0.6
    assert figures.largest_group[0] == 0.8 and figures.largest_group_index[0] == 0
    assert figures.leverage[1] == 0.0  # no equity, no exposure: no leverage, not nan
    assert list(measures.drawdown(np.array([90.0, 120.0, 5.0]), np.array([100.0, 110.0, 0.0]))) == [0.1, 0.0, 0.0]


def test_a_symbol_with_too_little_history_falls_back_to_its_asset_class() -> None:
    closes = 100 * np.cumprod(1 + _fixed_returns(31, 3), axis=0)
    closes[:25, 2] = np.nan  # the third symbol: 5 returns only
    window = measures.returns_window(closes, ("A", "B", "C"), {"A": "equity", "B": "etf", "C": "equity"}, 30, 20)
    assert window.fallbacks == {"C": "asset class equity"}
    np.testing.assert_allclose(window.returns[:, 2], window.returns[:, 0])
    assert not np.isnan(window.returns).any() and np.abs(window.returns[:, 2]).sum() > 0
    lonely = measures.returns_window(closes, ("A", "B", "C"), {"A": "equity", "B": "etf", "C": "option"}, 30, 20)
    assert lonely.fallbacks == {"C": "all symbols"}
    with pytest.raises(ValueError, match="too short"):
        measures.returns_window(closes, ("A", "B", "C"), {}, 30, 40)


def test_book_figures_firm_is_the_sum_of_its_accounts() -> None:
    returns = _fixed_returns(100, 5)
    owner, symbol, value = np.array([0, 0, 1, 2]), np.array([0, 1, 1, 3]), np.array([1000.0, 500.0, 500.0, -200.0])
    figures = measures.book_figures(owner, symbol, value, 3, returns, (0.99,), 0.94)
    firm = np.array([1000.0, 1000.0, 0.0, -200.0, 0.0])
    assert figures.firm_var[0.99][0] == pytest.approx(-np.percentile(returns @ firm, 1), rel=1e-12)
    assert list(figures.held) == [0, 1, 3]
    np.testing.assert_allclose(figures.correlation, np.corrcoef(returns[:, [0, 1, 3]], rowvar=False), atol=1e-12)
    assert figures.owner_var[0.99][0][1] == pytest.approx(-np.percentile(returns[:, 1] * 500.0, 1), rel=1e-12)


def test_the_correlation_admin_risk_shows_is_numpys_of_the_held_symbols_as_decimal_strings() -> None:
    from model.risk.report import correlation_of

    rng = np.random.default_rng(3)
    returns = rng.normal(0, 0.01, (250, 3))
    returns[:, 1] = 0.8 * returns[:, 0] + 0.2 * returns[:, 1]
    returns[:, 2] = 0.0  # never moved: correlates with nothing
    window = measures.ReturnsWindow(("A", "B", "C"), returns, {})
    shown = correlation_of(["B", "A", "C"], window, {"A": 0, "B": 1, "C": 2})
    expected = np.corrcoef(returns[:, [1, 0]].T)
    assert shown["symbols"] == ["B", "A", "C"]
    assert [[float(v) for v in row[:2]] for row in shown["matrix"][:2]] == [[round(float(x), 4) for x in row] for row in expected]
    assert shown["matrix"][2] == [None, None, "1.0000"] and shown["matrix"][0][2] is None
    assert correlation_of([], window, {}) == {"symbols": [], "matrix": []}
