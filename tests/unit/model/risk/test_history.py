"""Bars from quotes and trades; history files checked whole (row numbers, nothing loaded);
the demo history the same on every run."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from model import fixed
from model.calendar import LocalDays
from model.risk import history
from model.risk.history import NS_PER_MINUTE, Bar, BarBuilder, HistoryError

P = fixed.parse
DAY0 = 1_764_600_000 * 1_000_000_000  # a weekday, mid-session in New York


def test_bars_from_quotes_and_trades_close_once_per_period() -> None:
    builder = BarBuilder()
    assert builder.quote("IBM", P("99"), P("101"), DAY0) == []
    assert builder.trade("IBM", P("102"), P("5"), DAY0 + 1) == []
    assert builder.quote("IBM", None, P("101"), DAY0 + 2) == []  # one-sided: no mid, no price
    assert builder.quote("IBM", P("97"), P("99"), DAY0 + 3) == []
    closed = builder.trade("IBM", P("103"), P("1"), DAY0 + NS_PER_MINUTE)
    minute = DAY0 // NS_PER_MINUTE * NS_PER_MINUTE
    assert closed == [Bar("IBM", minute, P("100"), P("102"), P("98"), P("98"), P("5"))]
    rest = builder.close()
    assert Bar("IBM", minute + NS_PER_MINUTE, P("103"), P("103"), P("103"), P("103"), P("1")) in rest
    daily = [bar for bar in rest if bar.start < 10**7]
    assert daily and daily[0].open == P("100") and daily[0].high == P("103") and daily[0].volume == P("6")
    assert builder.close() == []


def test_bars_hold_each_period_s_first_highest_lowest_and_last_price_and_its_volume() -> None:
    """Thousands of prices of two symbols, in time order over a few minutes and two days,
    against each period's bar worked out plainly from the prices in it."""
    rng = random.Random(5)
    builder = BarBuilder()
    closed: list[Bar] = []
    seen: list[tuple[str, int, int, int]] = []  # symbol, time, price, qty
    now = DAY0
    for n in range(4_000):
        now += 13 * 3_600 * 1_000_000_000 if n % 1_000 == 999 else rng.choice((1, 1_000, 7_000_000_000))
        symbol = rng.choice(("IBM", "AAPL"))
        price, qty = P("100") + rng.randint(-500, 500) * P("0.01"), rng.choice((0, 0, P("1"), P("2.5")))
        closed += builder.trade(symbol, price, qty, now) if qty else builder.quote(symbol, price - P("0.01"), price + P("0.01"), now)
        seen.append((symbol, now, price, qty))
    closed += builder.close()
    minute_bars = sorted((bar for bar in closed if bar.start >= NS_PER_MINUTE), key=lambda bar: (bar.symbol, bar.start))
    periods: dict[tuple[str, int], list[tuple[int, int]]] = {}
    for symbol, at, price, qty in seen:
        periods.setdefault((symbol, at - at % NS_PER_MINUTE), []).append((price, qty))
    plain = [
        Bar(symbol, start, prices[0][0], max(p for p, _ in prices), min(p for p, _ in prices), prices[-1][0], sum(q for _, q in prices))
        for (symbol, start), prices in sorted(periods.items())
    ]
    assert minute_bars == plain
    days = LocalDays(builder.timezone)
    daily: dict[tuple[str, int], list[Bar]] = {}
    for bar in minute_bars:
        daily.setdefault((bar.symbol, days.day(bar.start)), []).append(bar)
    plain_days = [
        Bar(symbol, day, bars[0].open, max(b.high for b in bars), min(b.low for b in bars), bars[-1].close, sum(b.volume for b in bars))
        for (symbol, day), bars in sorted(daily.items())
    ]
    assert sorted((bar for bar in closed if bar.start < NS_PER_MINUTE), key=lambda bar: (bar.symbol, bar.start)) == plain_days
    assert len(plain_days) >= 6  # two symbols, three days or more


def _csv(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "h.csv"
    path.write_text("date,symbol,open,high,low,close,volume\n" + "\n".join(rows) + "\n")
    return path


GOOD = [
    "2026-01-05,IBM,100,101,99,100.5,10",
    "2026-01-05,AAPL,200,201,199,200,10",
    "2026-01-06,IBM,100.5,102,100,101,10",
    "2026-01-06,AAPL,200,202,198,201,10",
    "2026-01-07,AAPL,201,203,200,202,10",
]


def test_a_good_file_loads_its_closes(tmp_path: Path) -> None:
    loaded = history.load_history(_csv(tmp_path, GOOD))
    assert loaded.symbols == ("AAPL", "IBM")
    np.testing.assert_array_equal(loaded.column("AAPL"), [200, 201, 202])
    assert np.isnan(loaded.column("IBM")[2])  # after its last day: not a gap, no bar


@pytest.mark.parametrize(
    ("rows", "finding"),
    [
        (GOOD[:2] + ["2026-01-05,IBM,100,101,99,100.5,10"], "row 3: duplicate IBM 2026-01-05"),
        (GOOD[2:4] + GOOD[:2], "row 3: IBM 2026-01-05 after 2026-01-06: rows out of order"),
        (GOOD[:1] + ["2026-01-05,AAPL,200,201,199,0,10"], "row 2: AAPL: prices must be positive"),
        (GOOD[:1] + ["2026-01-05,AAPL,-1,201,199,200,10"], "row 2: AAPL: prices must be positive"),
        (GOOD[:1] + ["2026-01-05,AAPL,200,201,199,abc,10"], "row 2: close 'abc' is not a number"),
        (GOOD[:1] + ["2026-13-05,AAPL,200,201,199,200,10"], "row 2: date '2026-13-05' is not YYYY-MM-DD"),
        (GOOD[:1] + ["2026-01-05,AAPL,200,199,199,200,10"], "row 2: AAPL: high 199 / low 199 do not bound"),
        (["2026-01-05,IBM,100,101,99,100,1", "2026-01-06,AAPL,1,1,1,1,1", "2026-01-07,IBM,100,101,99,100,1"], "row 2: IBM has no bar for 2026-01-06 (a gap"),
    ],
)
def test_a_bad_file_is_refused_whole_with_the_row(tmp_path: Path, rows: list[str], finding: str) -> None:
    with pytest.raises(HistoryError) as refused:
        history.load_history(_csv(tmp_path, rows))
    assert any(f.startswith(finding) for f in refused.value.findings), refused.value.findings
    assert "history not loaded" in str(refused.value)


def test_a_wrong_header_or_no_rows_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("day,symbol,close\n")
    with pytest.raises(HistoryError, match="header must be"):
        history.load_history(path)
    with pytest.raises(HistoryError, match="no rows"):
        history.load_history(_csv(tmp_path, []))


def test_parquet_loads_like_csv_and_is_checked_the_same(tmp_path: Path) -> None:
    columns = list(zip(*(row.split(",") for row in GOOD)))
    table = pa.table({name: list(values) for name, values in zip(history.COLUMNS, columns)})
    pq.write_table(table, tmp_path / "h.parquet")
    loaded = history.load_history(tmp_path / "h.parquet")
    np.testing.assert_array_equal(loaded.closes, history.load_history(_csv(tmp_path, GOOD)).closes, strict=False)
    bad = table.set_column(5, "close", pa.array(["100.5", "200", "0", "201", "202"]))
    pq.write_table(bad, tmp_path / "bad.parquet")
    with pytest.raises(HistoryError, match="row 3: IBM: prices must be positive"):
        history.load_history(tmp_path / "bad.parquet")


def test_demo_history_is_deterministic_ends_at_the_reference_and_round_trips(tmp_path: Path) -> None:
    prices = {"IBM": (P("150"), "equity"), "SPY": (P("560"), "etf")}
    bars = history.demo_history(prices, 30, seed=1)
    assert bars == history.demo_history(prices, 30, seed=1) != history.demo_history(prices, 30, seed=2)
    assert len(bars) == 60 and all(bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high for bar in bars)
    last = {bar.symbol: bar.close for bar in bars}
    assert abs(last["IBM"] - P("150")) <= fixed.CENT and abs(last["SPY"] - P("560")) <= fixed.CENT
    history.write_daily_csv(tmp_path / "d.csv", bars)
    loaded = history.load_history(tmp_path / "d.csv")
    np.testing.assert_array_equal(loaded.closes, history.history_of(bars).closes)
    assert loaded.closes.shape == (30, 2)


def test_the_demo_history_is_what_its_file_loads_to_exactly(tmp_path: Path) -> None:
    # built straight from the bars, it must equal the written file parsed and checked: the
    # same days, symbols and closes to the last bit, for every asset class's walk
    prices = {f"S{index:03d}": (P(f"{3 + index * 7.31:.2f}"), kind) for index, kind in enumerate(["equity", "etf", "option", "mutual_fund"] * 25)}
    bars = history.demo_history(prices, 120, seed=5)
    history.write_daily_csv(tmp_path / "d.csv", bars)
    loaded, built = history.load_history(tmp_path / "d.csv"), history.history_of(bars)
    assert built.symbols == loaded.symbols and len(built.symbols) == 100
    np.testing.assert_array_equal(built.days, loaded.days)
    assert built.closes.tobytes() == loaded.closes.tobytes()
    assert history.history_of(list(reversed(bars))).closes.tobytes() == built.closes.tobytes()  # whatever their order
    with pytest.raises(HistoryError, match="no rows"):
        history.history_of([])  # no instruments: refused, as their empty file would be
