"""Each streaming indicator against TA-Lib (or, for VWAP, which TA-Lib lacks, a vectorised
numpy computation), bar for bar over real-looking minute bars, warm-up included: an
indicator is not ready exactly where the reference has no value (NaN, or before its
lookback), and equal to it after."""

from __future__ import annotations

import math

import numpy as np
import pytest

from model.strategy import indicators as ind
from model.strategy import patterns as pat

talib = pytest.importorskip("talib")

N = 3_000


def _bars(seed: int, n: int = N) -> dict[str, np.ndarray]:
    """A random walk of minute bars at cent prices, with wicks, flat stretches and volume."""
    rng = np.random.default_rng(seed)
    close = np.round(100.0 * np.exp(np.cumsum(rng.normal(0, 0.002, n))), 2)
    open_ = np.round(np.r_[close[0], close[:-1]] * (1 + rng.normal(0, 0.0008, n)), 2)
    flat = rng.random(n) < 0.05  # dojis: open at the close
    open_[flat] = close[flat]
    high = np.round(np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.001, n))), 2)
    low = np.round(np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.001, n))), 2)
    volume = rng.integers(0, 5_000, n).astype(np.float64)
    volume[rng.random(n) < 0.02] = 0.0
    return {"open": open_, "high": high, "low": low, "close": close, "volume": volume}


def _stream(indicator: ind.Indicator, bars: dict[str, np.ndarray], outputs: tuple[str, ...], sessions: np.ndarray | None = None) -> dict[str, np.ndarray]:
    got = {name: np.full(len(bars["close"]), np.nan) for name in outputs}
    for i, (o, h, l, c, v) in enumerate(zip(bars["open"], bars["high"], bars["low"], bars["close"], bars["volume"], strict=False)):  # noqa: E741
        indicator.update(float(o), float(h), float(l), float(c), float(v), int(sessions[i]) if sessions is not None else 0)
        if indicator.ready:
            for name in outputs:
                got[name][i] = indicator.output(name)
    return got


def _same(got: np.ndarray, want: np.ndarray, name: str) -> None:
    assert np.array_equal(np.isnan(got), np.isnan(want)), f"{name}: warm-up differs: first value at {np.argmax(~np.isnan(got))}, reference at {np.argmax(~np.isnan(want))}"
    np.testing.assert_allclose(got[~np.isnan(got)], want[~np.isnan(want)], rtol=1e-9, atol=1e-9, err_msg=name)


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("n", [1, 5, 14, 50])
def test_sma_ema_rsi_atr_match_talib(seed: int, n: int) -> None:
    bars = _bars(seed)
    c, h, l = bars["close"], bars["high"], bars["low"]  # noqa: E741
    _same(_stream(ind.SMA(n), bars, ("value",))["value"], talib.SMA(c, n), f"SMA({n})")
    _same(_stream(ind.EMA(n), bars, ("value",))["value"], talib.EMA(c, n), f"EMA({n})")
    if n > 1:
        _same(_stream(ind.RSI(n), bars, ("value",))["value"], talib.RSI(c, n), f"RSI({n})")
        _same(_stream(ind.ATR(n), bars, ("value",))["value"], talib.ATR(h, l, c, n), f"ATR({n})")


@pytest.mark.parametrize("fast,slow,signal", [(12, 26, 9), (5, 35, 5), (3, 10, 16)])
def test_macd_matches_talib(fast: int, slow: int, signal: int) -> None:
    bars = _bars(3)
    got = _stream(ind.MACD(fast, slow, signal), bars, ("macd", "signal", "hist"))
    want = talib.MACD(bars["close"], fast, slow, signal)
    for name, reference in zip(("macd", "signal", "hist"), want, strict=True):
        _same(got[name], reference, f"MACD.{name}")


@pytest.mark.parametrize("n,k", [(20, 2.0), (5, 1.5)])
def test_bollinger_matches_talib(n: int, k: float) -> None:
    bars = _bars(4)
    got = _stream(ind.Bollinger(n, k), bars, ("upper", "middle", "lower"))
    want = talib.BBANDS(bars["close"], n, k, k, 0)
    for name, reference in zip(("upper", "middle", "lower"), want, strict=True):
        _same(got[name], reference, f"BB.{name}")


@pytest.mark.parametrize("n,slow_k,slow_d", [(5, 3, 3), (14, 3, 5)])
def test_stochastic_matches_talib(n: int, slow_k: int, slow_d: int) -> None:
    bars = _bars(5)
    got = _stream(ind.Stochastic(n, slow_k, slow_d), bars, ("k", "d"))
    want = talib.STOCH(bars["high"], bars["low"], bars["close"], n, slow_k, 0, slow_d, 0)
    for name, reference in zip(("k", "d"), want, strict=True):
        _same(got[name], reference, f"STOCH.{name}")


def test_vwap_matches_numpy_and_restarts_each_session() -> None:
    bars = _bars(6)
    sessions = np.repeat(np.arange(N // 390 + 1), 390)[:N]
    got = _stream(ind.VWAP(), bars, ("value",), sessions)["value"]
    typical = (bars["high"] + bars["low"] + bars["close"]) / 3.0
    want = np.full(N, np.nan)
    for session in np.unique(sessions):
        rows = sessions == session
        weighted = np.cumsum(typical[rows] * bars["volume"][rows])
        volume = np.cumsum(bars["volume"][rows])
        with np.errstate(invalid="ignore", divide="ignore"):
            want[rows] = np.where(volume > 0, weighted / volume, np.nan)
    _same(got, want, "VWAP")


PATTERNS = [
    (pat.Doji, "CDLDOJI"),
    (pat.Engulfing, "CDLENGULFING"),
    (pat.Hammer, "CDLHAMMER"),
    (pat.ShootingStar, "CDLSHOOTINGSTAR"),
    (pat.MorningStar, "CDLMORNINGSTAR"),
    (pat.EveningStar, "CDLEVENINGSTAR"),
]


@pytest.mark.parametrize("cls,name", PATTERNS)
@pytest.mark.parametrize("seed", [7, 8, 9])
def test_patterns_match_talib(cls: type[pat._Candles], name: str, seed: int) -> None:
    bars = _bars(seed, 20_000)
    got = _stream(cls(), bars, ("value",))["value"]
    want = getattr(talib, name)(bars["open"], bars["high"], bars["low"], bars["close"]).astype(np.float64) / 100.0
    lookback = int(np.argmax(~np.isnan(got)))  # the first bar the pattern answers
    assert lookback == cls().warmup - 1
    assert np.all(want[:lookback] == 0)  # TA-Lib writes 0 where it has no answer yet
    np.testing.assert_array_equal(got[lookback:], want[lookback:], err_msg=name)
    assert np.count_nonzero(want) > 0, f"{name}: the data never shows the pattern: the test would prove nothing"


def test_not_ready_until_warm() -> None:
    rsi = ind.RSI(3)
    for price in (1.0, 2.0, 3.0):
        rsi.update(price, price, price, price, 1.0, 0)
        assert not rsi.ready and math.isnan(rsi.value)
    rsi.update(2.0, 2.0, 2.0, 2.0, 1.0, 0)
    assert rsi.ready and rsi.warmup == 4
