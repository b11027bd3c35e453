"""Firm-wide risk of a large book, beside a bare numpy computation of the same matrices.

    python tests/perf/bench_risk.py [--accounts 100000] [--symbols 500] [--days 250] [--per-account 20] [--repeats 3]

Each repeat times, alternately, in this one process:

1. ``model.risk.measures.book_figures``: every account's historical VaR and ES at 95 % and
   99 % (sparse positions aggregated in chunks), the firm's historical and parametric (EWMA)
   VaR and ES, and the correlation matrix of the symbols held;
2. the baseline: the same matrices the plainest way numpy offers — a dense account ×
   symbol matrix per chunk (``np.add.at``), ``@`` the returns, ``np.percentile`` per level
   and a tail mean for ES, the firm's sums, the EWMA covariance, and ``np.corrcoef``.

Both are checked to agree, then the medians and the ratio are printed. The data are seeded
(numpy ``default_rng``): the same on every run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from model.risk import measures  # noqa: E402

LEVELS = (0.95, 0.99)
LAMBDA = 0.94
CHUNK = 8192


def book(accounts: int, symbols: int, days: int, per_account: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(20261129)
    market = rng.normal(0, 0.01, days)
    returns = market[:, None] * rng.uniform(0.5, 1.5, symbols) + rng.normal(0, 0.015, (days, symbols))
    owner = np.repeat(np.arange(accounts), per_account)
    symbol = rng.integers(0, symbols, accounts * per_account)
    value = rng.lognormal(8, 1, accounts * per_account) * np.where(rng.random(accounts * per_account) < 0.1, -1, 1)
    return owner, symbol, value, returns


def baseline(owner: np.ndarray, symbol: np.ndarray, value: np.ndarray, accounts: int, returns: np.ndarray) -> dict[float, np.ndarray]:
    symbols = returns.shape[1]
    out = {level: np.empty(accounts) for level in LEVELS}
    for start in range(0, accounts, CHUNK):
        rows = min(CHUNK, accounts - start)
        chosen = (owner >= start) & (owner < start + rows)
        dense = np.zeros((rows, symbols))
        np.add.at(dense, (owner[chosen] - start, symbol[chosen]), value[chosen])
        pnl = dense @ returns.T
        for level in LEVELS:
            q = np.percentile(pnl, (1 - level) * 100, axis=1)
            tail = pnl <= q[:, None]
            _es = -(pnl * tail).sum(axis=1) / tail.sum(axis=1)
            out[level][start : start + rows] = -q
    firm = np.zeros(symbols)
    np.add.at(firm, symbol, value)
    firm_pnl = returns @ firm
    for level in LEVELS:
        np.percentile(firm_pnl, (1 - level) * 100)
    weights = LAMBDA ** np.arange(len(returns) - 1, -1, -1.0)
    weights /= weights.sum()
    covariance = (returns * weights[:, None]).T @ returns
    float(np.sqrt(firm @ covariance @ firm))
    held = np.unique(symbol)
    np.corrcoef(returns[:, held], rowvar=False)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--days", type=int, default=250)
    parser.add_argument("--per-account", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    owner, symbol, value, returns = book(args.accounts, args.symbols, args.days, args.per_account)
    print(f"book: {args.accounts:,} accounts × {args.symbols} symbols × {args.days} days, {len(value):,} positions")
    ours, bare = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        figures = measures.book_figures(owner, symbol, value, args.accounts, returns, LEVELS, LAMBDA, CHUNK)
        ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        expected = baseline(owner, symbol, value, args.accounts, returns)
        bare.append(time.perf_counter() - t0)
    for level in LEVELS:
        np.testing.assert_allclose(figures.owner_var[level][0], expected[level], rtol=1e-9)
    ours_s, bare_s = statistics.median(ours), statistics.median(bare)
    print(f"firm VaR 95% {figures.firm_var[0.95][0]:,.0f}  99% {figures.firm_var[0.99][0]:,.0f}  parametric 99% {figures.firm_parametric[0.99][0]:,.0f}")
    print(f"book_figures (every account's VaR/ES, firm VaR/ES, correlation): {ours_s:.3f} s (runs {', '.join(f'{t:.3f}' for t in ours)})")
    print(f"bare numpy, same matrices:                                        {bare_s:.3f} s (runs {', '.join(f'{t:.3f}' for t in bare)})")
    print(f"ratio book_figures ÷ bare numpy: {ours_s / bare_s:.2f}")


if __name__ == "__main__":
    main()
