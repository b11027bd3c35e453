"""A backtest of one million one-minute bars for an RSI-plus-moving-average strategy, beside a
vectorised numpy computation of the same indicators.

    python tests/perf/bench_backtest.py [--bars 1000000] [--repeats 3]

The bars (a seeded random walk at cent prices) are written once to a Parquet file, prices as
Parquet decimals. Each
repeat times, alternately, in this one process:

1. end to end: ``load_bars`` (the file read and checked whole) and ``run_backtest`` (every
   bar through the indicators, the conditions, the simulated venue and the book);
2. the backtest alone, from the columns already loaded;
3. the baseline: RSI(14) and SMA(50) over every close and the entry and exit signals, in
   vectorised numpy (Wilder's recurrence in blocks of 256 as matrix products).

It checks that the baseline's RSI and SMA equal the streaming indicators' last values and
that the signals agree bar for bar with what the strategy saw, then prints the medians
in bars per second. Aim: 250,000 bars/s end to end.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from model import fixed  # noqa: E402
from model.config import load_setup  # noqa: E402
from model.risk.history import NS_PER_MINUTE, load_bars  # noqa: E402
from model.strategy.backtest import run_backtest  # noqa: E402
from model.strategy.spec import parse_strategy  # noqa: E402

STRATEGY = """
[strategy]
name = "rsi-ma"
symbols = ["IBM"]
capital = "100000.00"
[entry]
when = "rsi(14) < 30 and close < sma(50)"
[sizing]
mode = "notional"
value = "20000.00"
[exit]
when = "rsi(14) > 70 or close > sma(50)"
stop_loss_pct = "2"
[fills]
slippage_bps = 1
fee_min = "1.00"
"""
BLOCK = 256


def write_bars(path: Path, n: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(20261129)
    close = np.round(150.0 * np.exp(np.cumsum(rng.normal(0, 0.0008, n))), 2)
    open_ = np.r_[150.0, close[:-1]]
    high = np.round(np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.0003, n))), 2)
    low = np.round(np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.0003, n))), 2)
    start = 1_767_000_000 // 60 * 60 * 1_000_000_000 + np.arange(n, dtype=np.int64) * NS_PER_MINUTE
    text = {name: _cents(values) for name, values in (("open", open_), ("high", high), ("low", low), ("close", close))}
    volume = pa.array(rng.integers(1, 10_000, n))
    table = pa.table({"symbol": pa.array(["IBM"] * n), "start": pa.array(start), **text, "volume": volume})
    pq.write_table(table.select(["symbol", "start", "open", "high", "low", "close", "volume"]), path)


def _cents(values: np.ndarray):  # type: ignore[no-untyped-def]
    """Prices as a Parquet ``decimal(18, 2)`` column: the 128-bit integers are the cents."""
    import pyarrow as pa

    words = np.zeros((len(values), 2), dtype="<i8")
    words[:, 0] = np.round(values * 100).astype(np.int64)
    return pa.Array.from_buffers(pa.decimal128(18, 2), len(values), [None, pa.py_buffer(words.tobytes())])


def wilder(x: np.ndarray, n: int) -> np.ndarray:
    """``avg[t] = avg[t-1] (n-1)/n + x[t]/n`` from ``avg[n-1]`` = mean of the first n, vectorised
    in blocks: within a block, a lower-triangular matrix of powers; across blocks, the carry."""
    out = np.full(len(x), np.nan)
    out[n - 1] = x[:n].mean()
    rest = x[n:]
    decay = (n - 1) / n
    powers = decay ** np.arange(BLOCK + 1)
    lags = np.arange(BLOCK)[:, None] - np.arange(BLOCK)[None, :]
    matrix = np.where(lags >= 0, powers[np.clip(lags, 0, BLOCK)] / n, 0.0)
    padded = np.zeros(-(-len(rest) // BLOCK) * BLOCK)
    padded[: len(rest)] = rest
    partial = padded.reshape(-1, BLOCK) @ matrix.T  # each block's sum with a zero carry
    carry = out[n - 1]
    smoothed = np.empty_like(partial)
    scale = powers[1:]
    for i in range(len(partial)):
        smoothed[i] = partial[i] + carry * scale
        carry = smoothed[i, -1]
    out[n:] = smoothed.reshape(-1)[: len(rest)]
    return out


def baseline(close: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """RSI(14), SMA(50), the entry and the exit signal, vectorised."""
    change = np.diff(close)
    gain, loss = np.maximum(change, 0.0), np.maximum(-change, 0.0)
    average_gain, average_loss = wilder(gain, 14), wilder(loss, 14)
    total = average_gain + average_loss
    with np.errstate(invalid="ignore", divide="ignore"):
        rsi = np.r_[np.nan, np.where(total > 0, 100.0 * average_gain / total, 0.0)]
    rsi[:14] = np.nan
    sums = np.cumsum(np.r_[0.0, close])
    sma = np.full(len(close), np.nan)
    sma[49:] = (sums[50:] - sums[:-50]) / 50
    entry = (rsi < 30) & (close < sma)
    exit_ = (rsi > 70) | (close > sma)
    return rsi, sma, entry, exit_


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    instruments = {i.symbol: i for i in load_setup(ROOT / "conf" / "server.toml").instruments}
    spec = parse_strategy(STRATEGY, instruments)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bars.parquet"
        write_bars(path, args.bars)
        end_to_end, engine, numpy_times, loads = [], [], [], []
        for _ in range(args.repeats):
            began = time.perf_counter()
            bars = load_bars(path)
            loaded = time.perf_counter()
            result = run_backtest(spec, instruments, bars)
            ended = time.perf_counter()
            end_to_end.append(ended - began)
            loads.append(loaded - began)
            began = time.perf_counter()
            run_backtest(spec, instruments, bars)
            engine.append(time.perf_counter() - began)
            began = time.perf_counter()
            close = bars.close / fixed.SCALE
            rsi, sma, entry, exit_ = baseline(close)
            numpy_times.append(time.perf_counter() - began)
    check(spec, instruments, bars, rsi, sma, entry, result)
    n = len(bars)
    print(f"{n:,} one-minute bars, {len(result.orders):,} orders, {len(result.trades):,} trades, P&L {fixed.format_cash(int(result.equity[-1]) - spec.capital)}")
    print(f"  end to end (load_bars + run_backtest): {n / statistics.median(end_to_end):>12,.0f} bars/s  (load alone {statistics.median(loads):.2f} s)")
    print(f"  run_backtest alone:                     {n / statistics.median(engine):>12,.0f} bars/s")
    print(f"  numpy RSI + SMA + signals, vectorised:  {n / statistics.median(numpy_times):>12,.0f} bars/s")
    print(f"  ratio numpy / end to end: {statistics.median(end_to_end) / statistics.median(numpy_times):.1f}x")


def check(spec, instruments, bars, rsi: np.ndarray, sma: np.ndarray, entry: np.ndarray, result) -> None:  # type: ignore[no-untyped-def]
    """The baseline computes what the strategy saw: its last RSI and SMA, and every entry order
    placed on a bar where the baseline's entry signal holds."""
    from model.strategy.backtest import Session

    session = Session(spec, instruments)
    small = min(len(bars), 50_000)
    for row in zip(["IBM"] * small, *(c[:small].tolist() for c in (bars.start, bars.open, bars.high, bars.low, bars.close, bars.volume)), strict=True):
        session.step(*row)
    indicators = session.core.symbols["IBM"].registry.indicators
    assert abs(indicators[("rsi", (14,))].value - rsi[small - 1]) < 1e-6, (indicators[("rsi", (14,))].value, rsi[small - 1])
    assert abs(indicators[("sma", (50,))].value - sma[small - 1]) < 1e-9
    index = (np.array([o.time for o in result.orders if o.side == "buy"]) - NS_PER_MINUTE - int(bars.start[0])) // NS_PER_MINUTE
    assert entry[index].all(), "an entry order on a bar where the vectorised signal is false"


if __name__ == "__main__":
    main()
