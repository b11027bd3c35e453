"""Bars kept under the data dir (``[bars] dir``): where each file lives, how rows are appended
and how they are read back. The InstrumentActor's shell writes them (``actors/instrument/bars.py``);
an account shard reads the daily ones for its risk model (``model/risk/model.py``).

Layout, one writer per file (a symbol lives on one InstrumentActor)::

    daily/SYMBOL.csv                one symbol's daily bars: a history file ``load_history`` reads
    minute/SYMBOL/YYYY-MM-DD.csv    its minute bars of one local trading day: ``load_bars`` reads it

``SYMBOL`` is the symbol percent-encoded where it is not a plain file name (``file_name``).
The daily files are one per symbol so that a day one symbol has no price on is no gap in a
file (``load_history`` refuses a gap across symbols); ``read_daily`` puts them together.

Guarantees: rows are only appended, each file's rows in ascending time; a row cut short by a
crash in the middle of an append (no line end) is never read and is cut off before the
next append (``repair_tail``)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from urllib.parse import quote

import numpy as np

from model import fixed
from model.risk.history import COLUMNS, MINUTE_COLUMNS, Bar, History, HistoryError, parse_rows

DAILY = "daily"
MINUTE = "minute"
SUFFIX = ".csv"


def file_name(symbol: str) -> str:
    """``symbol`` as one file name: percent-encoded outside letters, digits and ``_.-~`` (so
    no ``/`` leaves the folder), and a leading dot encoded too (no hidden file, no ``..``)."""
    name = quote(symbol, safe="")
    return "%2E" + name[1:] if name.startswith(".") else name


def daily_path(folder: Path, symbol: str) -> Path:
    return folder / DAILY / (file_name(symbol) + SUFFIX)


def minute_path(folder: Path, symbol: str, day: int) -> Path:
    """``day``: the local trading day's ordinal (``model.calendar.trading_day``)."""
    return folder / MINUTE / file_name(symbol) / (date.fromordinal(day).isoformat() + SUFFIX)


def minute_days(folder: Path, symbol: str) -> list[int]:
    """The trading days (ordinals, ascending) ``symbol`` has a minute file for."""
    place = folder / MINUTE / file_name(symbol)
    if not place.is_dir():
        return []
    days = []
    for path in place.glob("*" + SUFFIX):
        try:
            days.append(date.fromisoformat(path.stem).toordinal())
        except ValueError:
            continue  # not one of ours: left alone
    return sorted(days)


def _complete_text(path: Path) -> str:
    """The file's text up to its last line end: a row a crash cut short is not read."""
    try:
        with open(path, newline="") as handle:
            text = handle.read()
    except FileNotFoundError:
        return ""
    return text[: text.rfind("\n") + 1]


def repair_tail(path: Path) -> None:
    """Cut a row a crash left without its line end off the file (nothing when it is whole)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    if size == 0:
        return
    with open(path, "rb+") as handle:
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return
        handle.seek(0)
        handle.truncate(handle.read().rfind(b"\n") + 1)


def _rows(path: Path) -> list[list[str]]:
    """The data rows (the header skipped) of the complete lines of ``path``."""
    rows = [row for row in csv.reader(io.StringIO(_complete_text(path), newline="")) if row]
    return rows[1:]


def _format(bar: Bar) -> list[str]:
    return [fixed.format(v) for v in (bar.open, bar.high, bar.low, bar.close, bar.volume)]


def _append(path: Path, header: tuple[str, ...], rows: Iterable[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    repair_tail(path)
    with open(path, "a", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        if handle.tell() == 0:
            writer.writerow(header)
        writer.writerows(rows)


def append_daily(path: Path, bars: list[Bar]) -> None:
    """Daily bars appended as rows of a history file (``date,symbol,open,...``)."""
    _append(path, COLUMNS, ([date.fromordinal(bar.start).isoformat(), bar.symbol, *_format(bar)] for bar in bars))


def append_minutes(path: Path, bars: list[Bar]) -> None:
    """Minute bars appended as ``append_bars_csv`` writes them (``symbol,start,open,...``)."""
    _append(path, MINUTE_COLUMNS, ([bar.symbol, str(bar.start), *_format(bar)] for bar in bars))


def last_daily(path: Path) -> int | None:
    """The day (ordinal) of the daily file's last row, ``None`` without one."""
    rows = _rows(path)
    try:
        return date.fromisoformat(rows[-1][0]).toordinal() if rows else None
    except (ValueError, IndexError):
        raise HistoryError(str(path), [f"row {len(rows)}: not a daily bar: {rows[-1]!r}"]) from None


def read_minutes(path: Path) -> list[Bar]:
    """The minute bars of one file, exactly (decimals to fixed point, never a float). A bar
    whose low is above its open, close or high, or whose high is below them, is refused
    with its row: a bar the ``BarBuilder`` made never is, and the open day resumes from
    these bars (``BarBuilder.resume_day``), which takes ``low <= high`` as given."""
    bars = []
    for number, row in enumerate(_rows(path), start=1):
        try:
            symbol, start, *values = row
            bar = Bar(symbol, int(start), *(fixed.parse(value) for value in values))
        except (ValueError, TypeError):
            raise HistoryError(str(path), [f"row {number}: not a minute bar: {row!r}"]) from None
        if not bar.low <= min(bar.open, bar.close) <= max(bar.open, bar.close) <= bar.high:
            raise HistoryError(str(path), [f"row {number}: not a minute bar (low, open, close, high out of order): {row!r}"])
        bars.append(bar)
    return bars


def day_of(bars: list[Bar], day: int) -> Bar:
    """The daily bar of ``day`` that ``bars`` (one symbol's minute bars of that day, in time
    order) make: the first open, the highest high, the lowest low, the last close, the
    volumes summed — what the ``BarBuilder`` makes of the same prices."""
    return Bar(
        bars[0].symbol,
        day,
        bars[0].open,
        max(bar.high for bar in bars),
        min(bar.low for bar in bars),
        bars[-1].close,
        sum(bar.volume for bar in bars),
    )


def read_daily(folder: Path) -> History | None:
    """Every symbol's daily file under ``folder`` as one ``History`` (``None``: no file).
    Each file is checked as ``load_history`` checks a history file (``HistoryError`` naming
    the file and its rows); the symbols' days are put together, a day a symbol has no bar
    for being ``nan`` in its column (as before its first bar: the measures fill its returns
    there with the day's mean of the symbols that have one, ``measures.returns_window``)."""
    loaded: list[History] = []
    seen: dict[str, str] = {}
    for path in sorted((folder / DAILY).glob("*" + SUFFIX)):
        rows = _rows(path)
        if not rows:
            continue  # a header alone (a crash right after making the file): nothing yet
        history = parse_rows(rows, str(path))
        loaded.append(history)
        for symbol in history.symbols:
            if symbol in seen:
                raise HistoryError(str(path), [f"{symbol} also has bars in {seen[symbol]}"])
            seen[symbol] = str(path)
    if not loaded:
        return None
    days = np.unique(np.concatenate([history.days for history in loaded]))
    symbols = tuple(sorted(seen))
    closes = np.full((len(days), len(symbols)), np.nan)
    for history in loaded:
        at = np.searchsorted(days, history.days)
        for j, symbol in enumerate(history.symbols):
            closes[at, symbols.index(symbol)] = history.closes[:, j]
    return History(days.astype(np.int64), symbols, closes)
