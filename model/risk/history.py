"""Price history: one-minute and daily OHLCV bars built from quotes and trades, history files
(CSV or Parquet) read and checked whole, and a deterministic demo history.

A history file has one row per symbol and day: ``date,symbol,open,high,low,close,volume``
(``date`` as ``YYYY-MM-DD``, prices and volume decimal). It is checked whole before anything
is kept: a bad row, a duplicate, rows out of order, a gap in a symbol's days (a day the
file has for another symbol, between the symbol's first and last) or a price that is not
positive — each named with its row number (1 = the first data row) — and nothing is loaded.

Guarantees: ``load_history`` returns a ``History`` only for a file with no finding; the
same file gives the same arrays; ``demo_history`` gives the same bars for the same
instruments, days and seed on every machine (Python's ``random.Random``, seeded per symbol).
"""

from __future__ import annotations

import csv
import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from model import fixed
from model.calendar import LocalDays

NS_PER_MINUTE = 60 * 1_000_000_000
COLUMNS = ("date", "symbol", "open", "high", "low", "close", "volume")


class Bar(msgspec.Struct, frozen=True, array_like=True):
    """One OHLCV bar of a symbol, fixed-point (``model/fixed.py``): ``start`` is the minute's
    first ns for a minute bar, the local day's ordinal (``model.calendar.trading_day``) for
    a daily one."""

    symbol: str
    start: int
    open: int
    high: int
    low: int
    close: int
    volume: int = 0


@dataclass(slots=True)
class _Open:
    start: int
    open: int
    high: int
    low: int
    close: int
    volume: int = 0

    def take(self, price: int, qty: int) -> None:
        """One more price (every quote's mid comes here, twice: its minute and its day)."""
        if price > self.high:
            self.high = price
        elif price < self.low:  # not above the high, so at most the high: low <= high holds
            self.low = price
        self.close = price
        if qty:
            self.volume += qty


@dataclass
class BarBuilder:
    """Minute and daily bars of each symbol from its consolidated quotes (the mid prices the
    bar, no volume) and trades (price and quantity). Pure: time arrives with every call.

    Guarantees: a bar is returned once, when the first price of a later period arrives or
    at ``close``; a period with no price has no bar (no bar is invented)."""

    timezone: str = "America/New_York"
    minutes: dict[str, _Open] = field(default_factory=dict)
    days: dict[str, _Open] = field(default_factory=dict)
    local_days: LocalDays = field(init=False, repr=False, compare=False)  # each price's day, remembered

    def __post_init__(self) -> None:
        self.local_days = LocalDays(self.timezone)

    def quote(self, symbol: str, bid: int | None, ask: int | None, now: int) -> list[Bar]:
        if not bid or not ask or bid <= 0 or ask <= 0:
            return []  # a one-sided or empty quote has no mid: it prices nothing
        return self._take(symbol, (bid + ask) // 2, 0, now)

    def trade(self, symbol: str, price: int, qty: int, now: int) -> list[Bar]:
        if price <= 0 or qty <= 0:
            return []
        return self._take(symbol, price, qty, now)

    def resume_day(self, bar: Bar) -> None:
        """Take ``bar`` (a daily bar: ``start`` a day's ordinal) as its symbol's open daily bar:
        the day so far, as kept before a restart; the day's later prices go on from it."""
        self.days[bar.symbol] = _Open(bar.start, bar.open, bar.high, bar.low, bar.close, bar.volume)

    def close(self) -> list[Bar]:
        """Every open bar, closed (at the end of a session or a stop)."""
        closed = [_bar(symbol, bar) for symbol, bar in self.minutes.items()]
        closed += [_bar(symbol, bar) for symbol, bar in self.days.items()]
        self.minutes, self.days = {}, {}
        return closed

    def _take(self, symbol: str, price: int, qty: int, now: int) -> list[Bar]:
        closed: list[Bar] = []
        _into(self.minutes, symbol, now - now % NS_PER_MINUTE, price, qty, closed)
        _into(self.days, symbol, self.local_days.day(now), price, qty, closed)
        return closed


def _into(bars: dict[str, _Open], symbol: str, start: int, price: int, qty: int, closed: list[Bar]) -> None:
    """A price into ``symbol``'s open bar of the period ``start``; the bar of an earlier
    period is closed (into ``closed``) and a new one opened."""
    bar = bars.get(symbol)
    if bar is None or bar.start != start:
        if bar is not None:
            closed.append(_bar(symbol, bar))
        bars[symbol] = _Open(start, price, price, price, price, qty)
    else:
        bar.take(price, qty)


def _bar(symbol: str, bar: _Open) -> Bar:
    return Bar(symbol, bar.start, bar.open, bar.high, bar.low, bar.close, bar.volume)


def write_daily_csv(path: Path, bars: list[Bar]) -> None:
    """Daily bars as a history file ``load_history`` reads (sorted by date, then symbol)."""
    rows = sorted(bars, key=lambda bar: (bar.start, bar.symbol))
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for bar in rows:
            day = date.fromordinal(bar.start).isoformat()
            writer.writerow([day, bar.symbol, *(fixed.format(v) for v in (bar.open, bar.high, bar.low, bar.close, bar.volume))])


def append_bars_csv(path: Path, bars: list[Bar]) -> None:
    """Closed bars appended to ``path`` (written with a header when new): where bars persist."""
    new = not path.exists()
    with open(path, "a", newline="") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(("symbol", "start", "open", "high", "low", "close", "volume"))
        for bar in bars:
            writer.writerow([bar.symbol, bar.start, *(fixed.format(v) for v in (bar.open, bar.high, bar.low, bar.close, bar.volume))])


class HistoryError(ValueError):
    """A history file that cannot be loaded: every finding, each naming its row."""

    def __init__(self, source: str, findings: list[str]) -> None:
        self.findings = findings
        shown = findings[:20]
        more = f"\n  ... and {len(findings) - len(shown)} more" if len(findings) > len(shown) else ""
        super().__init__(f"{source}: history not loaded ({len(findings)} problem(s)):\n  " + "\n  ".join(shown) + more)


@dataclass(frozen=True)
class History:
    """Daily closes: ``closes[day, symbol]`` (float, ``nan`` where a symbol has no bar yet:
    before its first day), the days as ordinals and the symbols in column order."""

    days: np.ndarray  # int64 ordinals, ascending
    symbols: tuple[str, ...]
    closes: np.ndarray  # float64, len(days) × len(symbols)

    def column(self, symbol: str) -> np.ndarray:
        return self.closes[:, self.symbols.index(symbol)]


def load_history(path: str | Path) -> History:
    """A CSV or Parquet (by its suffix) history file, checked whole (module docstring)."""
    path = Path(path)
    if path.suffix.lower() in (".parquet", ".pq"):
        rows = _parquet_rows(path)
    else:
        with open(path, newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None or tuple(h.strip() for h in header) != COLUMNS:
                raise HistoryError(str(path), [f"header must be {','.join(COLUMNS)}, found {header!r}"])
            rows = [list(row) for row in reader if row]  # a blank line is no row
    return parse_rows(rows, str(path))


def _parquet_rows(path: Path) -> list[list[str]]:
    import pyarrow.parquet as pq  # a dependency already (basket files); read only for .parquet

    table = pq.read_table(path)
    if tuple(table.column_names) != COLUMNS:
        raise HistoryError(str(path), [f"columns must be {','.join(COLUMNS)}, found {','.join(table.column_names)}"])
    columns = [table.column(name).to_pylist() for name in COLUMNS]
    return [["" if value is None else str(value) for value in row] for row in zip(*columns)]


def parse_rows(rows: list[list[str]], source: str = "history") -> History:
    """Rows of ``COLUMNS`` as strings (row 1 = ``rows[0]``) checked and turned into a ``History``."""
    findings: list[str] = []
    parsed: list[tuple[int, str, float]] = []  # (day, symbol, close)
    last_day: dict[str, int] = {}
    seen: set[tuple[int, str]] = set()
    for number, row in enumerate(rows, start=1):
        problem, day, symbol, close = _parse_row(row)
        if problem:
            findings.append(f"row {number}: {problem}")
            continue
        if (day, symbol) in seen:
            findings.append(f"row {number}: duplicate {symbol} {date.fromordinal(day)}")
            continue
        if symbol in last_day and day < last_day[symbol]:
            findings.append(f"row {number}: {symbol} {date.fromordinal(day)} after {date.fromordinal(last_day[symbol])}: rows out of order")
            continue
        seen.add((day, symbol))
        last_day[symbol] = day
        parsed.append((day, symbol, close))
    if not parsed and not findings:
        findings.append("no rows")
    if findings:
        raise HistoryError(source, findings)
    days = sorted({day for day, _, _ in parsed})
    symbols = tuple(sorted(last_day))
    day_index = {day: i for i, day in enumerate(days)}
    column = {symbol: j for j, symbol in enumerate(symbols)}
    closes = np.full((len(days), len(symbols)), np.nan)
    rownum = np.zeros((len(days), len(symbols)), dtype=np.int64)
    for number, (day, symbol, close) in enumerate(parsed, start=1):
        closes[day_index[day], column[symbol]] = close
        rownum[day_index[day], column[symbol]] = number
    findings = _gaps(closes, rownum, days, symbols)
    if findings:
        raise HistoryError(source, findings)
    return History(np.asarray(days, dtype=np.int64), symbols, closes)


def _gaps(closes: np.ndarray, rownum: np.ndarray, days: list[int], symbols: tuple[str, ...]) -> list[str]:
    """A day the file has (for any symbol) missing between a symbol's first and last day."""
    findings = []
    present = ~np.isnan(closes)
    for j, symbol in enumerate(symbols):
        have = np.flatnonzero(present[:, j])
        inside = np.arange(have[0], have[-1] + 1)
        missing = inside[~present[inside, j]]
        for i in missing[:5]:
            before = rownum[i - 1, j] if present[i - 1, j] else rownum[have[have < i][-1], j]
            findings.append(f"row {before + 1}: {symbol} has no bar for {date.fromordinal(days[i])} (a gap in its days)")
        if len(missing) > 5:
            findings.append(f"{symbol}: {len(missing) - 5} more missing days")
    return findings


def _parse_row(row: list[str]) -> tuple[str, int, str, float]:
    if len(row) != len(COLUMNS):
        return f"expected {len(COLUMNS)} fields, found {len(row)}", 0, "", 0.0
    text_day, symbol, *numbers = (cell.strip() for cell in row)
    try:
        day = date.fromisoformat(text_day).toordinal()
    except ValueError:
        return f"date {text_day!r} is not YYYY-MM-DD", 0, "", 0.0
    if not symbol:
        return "symbol is empty", 0, "", 0.0
    values = []
    for name, text in zip(COLUMNS[2:], numbers):
        try:
            value = Decimal(text)
        except InvalidOperation:
            return f"{name} {text!r} is not a number", 0, "", 0.0
        if not value.is_finite():
            return f"{name} {text!r} is not a number", 0, "", 0.0
        values.append(value)
    open_, high, low, close, volume = values
    if min(open_, high, low, close) <= 0:
        return f"{symbol}: prices must be positive (open {open_}, high {high}, low {low}, close {close})", 0, "", 0.0
    if volume < 0:
        return f"{symbol}: volume {volume} is negative", 0, "", 0.0
    if high < max(open_, close, low) or low > min(open_, close):
        return f"{symbol}: high {high} / low {low} do not bound open {open_} and close {close}", 0, "", 0.0
    return "", day, symbol, float(close)


def demo_history(prices: dict[str, tuple[int, str]], days: int, seed: int = 1, end: date = date(2026, 11, 27)) -> list[Bar]:
    """``days`` weekdays of daily bars ending at ``end`` for each symbol of ``prices``
    (symbol → (reference price, fixed-point; asset class)): a seeded random walk around a
    common market factor, so the demo symbols are correlated, ending near the reference
    price. The same arguments give the same bars everywhere."""
    calendar: list[int] = []
    day = end
    while len(calendar) < days:
        if day.weekday() < 5:
            calendar.append(day.toordinal())
        day -= timedelta(days=1)
    calendar.reverse()
    market = random.Random(f"{seed}:market")
    factor = [market.gauss(0.0, 0.009) for _ in calendar]
    bars: list[Bar] = []
    for symbol, (reference, asset_class) in sorted(prices.items()):
        rng = random.Random(f"{seed}:{symbol}")
        beta = {"etf": 1.0, "option": 3.0}.get(asset_class, 0.8 + 0.4 * rng.random())
        idio = {"etf": 0.002, "option": 0.03, "mutual_fund": 0.001}.get(asset_class, 0.008 + 0.01 * rng.random())
        moves = [beta * f + rng.gauss(0.0, idio) for f in factor]
        level = reference / fixed.SCALE / math.exp(sum(moves))  # ends at the reference price
        for ordinal, move in zip(calendar, moves):
            open_ = level
            level *= math.exp(move)
            high, low = max(open_, level) * (1 + abs(rng.gauss(0, idio / 2))), min(open_, level) * (1 - abs(rng.gauss(0, idio / 2)))
            volume = fixed.SCALE * rng.randrange(10_000, 1_000_000)
            bars.append(Bar(symbol, ordinal, _price(open_), _price(high), _price(low), _price(level), volume))
    return bars


def _price(value: float) -> int:
    """A demo price to the cent, fixed-point (at least one cent)."""
    return max(fixed.CENT, round(value * 100) * fixed.CENT)


def history_of(bars: list[Bar]) -> History:
    """``demo_history``'s bars as the ``History`` their file would load to: the same days,
    symbols and closes (a close's float is its exact decimal's, as ``float(Decimal(text))``
    gives), without writing the bars out as text and parsing them back — every account
    shard builds it at its start (150,000 bars for 500 symbols: 3.4 s that way, on a slow
    machine). Those bars pass ``parse_rows``' checks by construction (positive prices, highs
    and lows that bound them, every weekday for every symbol); a test holds the two equal."""
    if not bars:
        raise HistoryError("demo history", ["no rows"])  # no instruments: refused as their empty file would be
    days = sorted({bar.start for bar in bars})
    symbols = tuple(sorted({bar.symbol for bar in bars}))
    day_index = {day: i for i, day in enumerate(days)}
    column = {symbol: j for j, symbol in enumerate(symbols)}
    closes = np.full((len(days), len(symbols)), np.nan)
    for bar in bars:
        closes[day_index[bar.start], column[bar.symbol]] = bar.close / fixed.SCALE  # int / int: correctly rounded
    return History(np.asarray(days, dtype=np.int64), symbols, closes)


MINUTE_COLUMNS = ("symbol", "start", "open", "high", "low", "close", "volume")  # as ``append_bars_csv`` writes


@dataclass(frozen=True)
class BarColumns:
    """Minute bars in columns, in file order (ascending ``start``): ``symbol[i]`` indexes
    ``symbols``; prices and volume fixed-point int64, ``start`` the minute's first ns."""

    symbols: tuple[str, ...]
    symbol: np.ndarray
    start: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return len(self.start)

    def bars(self) -> list[Bar]:
        """Every row as a ``Bar`` (for small files and tests; the backtest reads the columns)."""
        names = [self.symbols[i] for i in self.symbol.tolist()]
        rows = zip(names, *(column.tolist() for column in (self.start, self.open, self.high, self.low, self.close, self.volume)))
        return [Bar(*row) for row in rows]


def load_bars(path: str | Path, max_gap_minutes: int = 1) -> BarColumns:
    """A file of minute bars (CSV as ``append_bars_csv`` writes it, or Parquet with the same
    columns), checked whole in columns; ``HistoryError`` naming every bad row otherwise.

    Findings: a price or volume that is not a decimal ``fixed.parse`` takes, a price not
    positive, high/low not bounding open and close, a ``start`` not on a minute, rows not in
    ascending ``start`` (unsorted), a symbol's minute twice, and a gap: two bars of a symbol
    on the same UTC day more than ``max_gap_minutes`` apart (0: gaps allowed).

    Guarantees: decimals become 10^-9 units exactly (128-bit decimals, never a float); the
    same file gives the same columns."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from model.basket.checks import _fixed  # the one exact decimal-column reader

    path = Path(path)
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            table = pq.read_table(path)  # decimal and integer columns are read as they are, others as text
            floats = [name for name in table.column_names if pa.types.is_floating(table.column(name).type)]
            if floats:
                raise HistoryError(str(path), [f"column {name} is not a decimal: binary floats are not the decimals meant (write a Parquet decimal or text)" for name in floats])
            table = pa.table({name: _parquet_column(table.column(name).combine_chunks()) for name in table.column_names})
        else:
            table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(MINUTE_COLUMNS, pa.string()), strings_can_be_null=False))
    except (pa.ArrowInvalid, KeyError, OSError) as error:
        raise HistoryError(str(path), [f"cannot read it: {error}"]) from None
    if tuple(table.column_names) != MINUTE_COLUMNS:
        raise HistoryError(str(path), [f"columns must be {','.join(MINUTE_COLUMNS)}, found {','.join(table.column_names)}"])
    if table.num_rows == 0:
        raise HistoryError(str(path), ["no rows"])
    text = {name: _trimmed(table.column(name).combine_chunks()) for name in MINUTE_COLUMNS}
    findings: list[tuple[int, str]] = []

    def find(mask: np.ndarray, problem: str) -> None:
        findings.extend((int(i), problem) for i in np.flatnonzero(mask)[:20])

    if pa.types.is_integer(text["start"].type):
        starts = text["start"].cast(pa.int64()).to_numpy(zero_copy_only=False)
    else:
        starts = pc.cast(pc.if_else(pc.match_substring_regex(text["start"], r"^[0-9]{1,19}$"), text["start"], "-1"), pa.int64(), safe=False).to_numpy()
    find(starts < 0, "start is not a whole number of ns")
    values = {}
    for name in MINUTE_COLUMNS[2:]:
        if pa.types.is_decimal(text[name].type) or pa.types.is_integer(text[name].type):  # Parquet: exact already
            values[name] = _decimal_units(text[name], find, name)
            continue
        column = _fixed(text[name])
        find(~(column.readable & column.fits), f"{name} is not a decimal with at most {fixed.DECIMALS} places")
        values[name] = column.value
    open_, high, low, close, volume = (values[name] for name in MINUTE_COLUMNS[2:])
    find(np.minimum(np.minimum(open_, close), low) <= 0, "prices must be positive")
    find((high < np.maximum(np.maximum(open_, close), low)) | (low > np.minimum(open_, close)), "high/low do not bound open and close")
    find(volume < 0, "volume is negative")
    find((starts >= 0) & (starts % NS_PER_MINUTE != 0), "start is not on a minute")
    find(np.r_[False, starts[1:] < starts[:-1]], "rows out of order (start before the row above): bars must be sorted by start")
    encoded = pc.dictionary_encode(text["symbol"])
    symbols = tuple(encoded.dictionary.to_pylist())
    symbol = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    find(symbol == (symbols.index("") if "" in symbols else -1), "symbol is empty")
    order = np.argsort(symbol, kind="stable") if len(symbols) > 1 else np.arange(len(symbol))  # each symbol's rows together, in file order
    back = np.empty_like(order)
    back[order] = np.arange(len(order))
    ordered = starts[order]
    same = symbol[order][1:] == symbol[order][:-1]
    step = np.diff(ordered)
    find(np.r_[False, same & (step == 0)][back], "the symbol's minute twice (duplicate)")
    if max_gap_minutes > 0:
        days = ordered // (1440 * NS_PER_MINUTE)
        gap = same & (days[1:] == days[:-1]) & (step > max_gap_minutes * NS_PER_MINUTE)
        find(np.r_[False, gap][back], f"a gap: more than {max_gap_minutes} minute(s) after the symbol's bar before, on the same day")
    if findings:
        raise HistoryError(str(path), [f"row {i + 1}: {problem}" for i, problem in sorted(findings)])
    return BarColumns(symbols, symbol, starts, open_, high, low, close, volume)


def _parquet_column(column: Any) -> Any:
    """A Parquet column as ``load_bars`` reads it: integers and decimals kept, anything else
    but floats (refused before) as text."""
    import pyarrow as pa

    kind = column.type
    if pa.types.is_integer(kind) or pa.types.is_decimal(kind) or pa.types.is_string(kind):
        return column
    return column.cast(pa.string())


def _trimmed(column: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.utf8_trim_whitespace(column) if pa.types.is_string(column.type) else column


def _decimal_units(column: Any, find: Any, name: str) -> np.ndarray:
    """A decimal column's values in 10^-9 units, exactly: cast to nine places (refused if that
    would round), then the 128-bit integers read whole."""
    import pyarrow as pa

    try:
        if pa.types.is_integer(column.type):
            column = column.cast(pa.decimal128(19, 0))
        nine = column.cast(pa.decimal128(38, fixed.DECIMALS))
    except pa.ArrowInvalid:
        find(np.ones(len(column), dtype=bool), f"{name} has more than {fixed.DECIMALS} places or does not fit")
        return np.zeros(len(column), dtype=np.int64)
    words = np.frombuffer(nine.buffers()[1], dtype="<i8").reshape(-1, 2)[nine.offset : nine.offset + len(nine)]
    low, high = words[:, 0], words[:, 1]
    fits = high == (low >> 63)
    valid = np.ones(len(column), dtype=bool) if nine.null_count == 0 else ~np.asarray(nine.is_null())
    find(~(fits & valid), f"{name} is empty or does not fit")
    return np.where(fits & valid, low, 0)
