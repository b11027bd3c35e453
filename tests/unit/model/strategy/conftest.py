from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model import fixed
from model.config import load_setup
from model.instruments import Instrument
from model.risk.history import NS_PER_MINUTE, Bar, BarColumns

ROOT = Path(__file__).resolve().parents[4]
T0 = 1_767_000_000 // 60 * 60 * 1_000_000_000  # a minute, ns


@pytest.fixture(scope="session")
def instruments() -> dict[str, Instrument]:
    return {i.symbol: i for i in load_setup(ROOT / "conf" / "server.toml").instruments}


def walk(n: int, seed: int = 1, start: float = 150.0, sigma: float = 0.001, symbol: str = "IBM") -> list[Bar]:
    """``n`` consecutive minute bars of a random walk at cent prices."""
    rng = np.random.default_rng(seed)
    close = np.round(start * np.exp(np.cumsum(rng.normal(0, sigma, n))), 2)
    open_ = np.r_[round(start, 2), close[:-1]]
    high = np.round(np.maximum(open_, close) * (1 + np.abs(rng.normal(0, sigma / 2, n))), 2)
    low = np.round(np.minimum(open_, close) * (1 - np.abs(rng.normal(0, sigma / 2, n))), 2)
    cents = [[int(round(x * 100)) * fixed.CENT for x in column] for column in (open_, high, low, close)]
    return [Bar(symbol, T0 + i * NS_PER_MINUTE, o, h, l, c, 100 * fixed.SCALE) for i, (o, h, l, c) in enumerate(zip(*cents, strict=False))]  # noqa: E741


def columns(bars: list[Bar]) -> BarColumns:
    symbols = tuple(sorted({bar.symbol for bar in bars}))
    return BarColumns(
        symbols,
        np.array([symbols.index(bar.symbol) for bar in bars], dtype=np.int64),
        *(np.array([getattr(bar, name) for bar in bars], dtype=np.int64) for name in ("start", "open", "high", "low", "close", "volume")),
    )
