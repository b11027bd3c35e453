"""The InstrumentActor shell's bar writer: its symbols' consolidated quotes (the mid of each
mark) and trades into ``model.risk.history.BarBuilder``, the bars it closes appended under
the data dir (``model/risk/stored.py`` says where and how).

Bars are derived output, not state: nothing of them is journaled or snapshotted, and only
live turns feed the writer, after their journal commit (a replay at a restart publishes
nothing to it). What the files already hold is never written again, whatever is fed:

- per symbol, the writer knows the end of the last minute written (read back from the day's
  minute file at the symbol's first price after a start) and drops every price before it:
  that price is in a bar already written, so feeding the same inputs twice writes each bar
  once;
- a daily bar is written when the day's first later price closes it; a day the server
  stopped in before then is made from the day's minute file (``stored.day_of``: what the
  builder would have made of the same prices) at the symbol's first price after the restart:
  written when that price is of a later day, else the open daily bar the day goes on from.

So a crash loses at most each symbol's open minute (and that part of its day); a clean stop
(``close``) writes the open minutes, and a restart within one of those minutes drops the
rest of it.

Guarantees: per symbol, minute rows in ascending ``start`` and daily rows in ascending
date, each minute and each day at most once; time is the inputs' ``now`` (the turn's),
never a clock read here; a failed write is logged and loses only the bars of that write.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import structlog

from model.calendar import trading_day
from model.messages import MarketUpdate
from model.risk import stored
from model.risk.history import NS_PER_MINUTE, Bar, BarBuilder, HistoryError

log = structlog.get_logger("bars")

Trade = tuple[str, int, int, int]  # symbol, price, quantity, now (the core's ``trades_out``)


class BarWriter:
    """One InstrumentActor's bars: fed with each live record's marks and trades (``take``)."""

    def __init__(self, folder: Path, timezone: str, actor: str = "") -> None:
        self.folder = folder
        self.timezone = timezone
        self.actor = actor
        self.builder = BarBuilder(timezone)
        self.covered: dict[str, int] = {}  # symbol → the first ns not in a minute written
        self.last_day: dict[str, int] = {}  # symbol → the last day (ordinal) written, 0: none
        self.pending: dict[str, Bar] = {}  # symbol → the daily bar of the last day its minute files hold, not yet settled
        self.written = 0  # bars written since the start (status)

    def take(self, marks: Iterable[MarketUpdate], trades: Iterable[Trade]) -> int:
        """One record's trades, then its marks (the books as the record left them); returns
        the bars written. Prices already in written bars are dropped (module docstring)."""
        builder = self.builder
        closed: list[Bar] = []
        for symbol, price, qty, now in trades:
            if self._fresh(symbol, now):
                closed += builder.trade(symbol, price, qty, now)
        for mark in marks:
            if self._fresh(mark.symbol, mark.ts):
                closed += builder.quote(mark.symbol, mark.bid, mark.ask, mark.ts)
        return self._write(closed) if closed else 0

    def close(self) -> int:
        """A clean stop: every open minute written. The open days are not: the day goes on
        after a restart, from its minute files."""
        minutes = [bar for bar in self.builder.close() if bar.start >= NS_PER_MINUTE]
        return self._write(minutes)

    def _fresh(self, symbol: str, now: int) -> bool:
        """Whether a price at ``now`` is in no bar written yet. A symbol's first price since
        the start reads what its files hold first (``_resume``); its first fresh price then
        settles the day the files left open (``pending``)."""
        covered = self.covered.get(symbol)
        if covered is None:
            covered = self._resume(symbol)
        day = self.builder.local_days.day(now)
        if now < covered or day <= self.last_day[symbol]:
            return False
        pending = self.pending.pop(symbol, None)
        if pending is not None:
            if pending.start == day:
                self.builder.resume_day(pending)  # the day goes on from what its minutes hold
            else:
                self._write([pending])  # a later day: the files' last day is over
        return True

    def _resume(self, symbol: str) -> int:
        """What ``symbol``'s files hold: the days after its last daily bar that have minute
        files are days the server stopped in before they closed. Each but the last is over
        (a later one has prices): its daily bar is written now, from its minutes. The last
        waits in ``pending`` for the symbol's next fresh price, which says whether it goes
        on or is over. Returns the first ns after the last minute written."""
        covered = last = 0
        try:
            daily = stored.daily_path(self.folder, symbol)
            last = stored.last_daily(daily) or 0
            days = [day for day in stored.minute_days(self.folder, symbol) if day > last]
            for day in days:
                minutes = stored.read_minutes(stored.minute_path(self.folder, symbol, day))
                if not minutes:
                    continue
                covered = minutes[-1].start + NS_PER_MINUTE
                bar = stored.day_of(minutes, day)
                if day == days[-1]:
                    self.pending[symbol] = bar
                else:
                    stored.append_daily(daily, [bar])
                    self.written += 1
                    last = day
        except (OSError, HistoryError) as failure:
            # the bars are derived output: a folder that cannot be read stops none of the
            # actor's work; its bars go on from here (a minute or a day may be written twice)
            log.warning("bars not resumed", actor=self.actor, symbol=symbol, error=str(failure))
        self.covered[symbol], self.last_day[symbol] = covered, last
        return covered

    def _write(self, bars: list[Bar]) -> int:
        """Closed bars appended, one write per file, each only when later than what its file
        holds (``covered``, ``last_day``)."""
        minutes: dict[Path, list[Bar]] = {}
        days: dict[Path, list[Bar]] = {}
        for bar in bars:
            symbol = bar.symbol
            if bar.start >= NS_PER_MINUTE:  # a minute bar (its start in ns), else a day's ordinal
                if bar.start < self.covered[symbol]:
                    continue
                self.covered[symbol] = bar.start + NS_PER_MINUTE
                path = stored.minute_path(self.folder, symbol, trading_day(bar.start, self.timezone))
                minutes.setdefault(path, []).append(bar)
            elif bar.start > self.last_day[symbol]:
                self.last_day[symbol] = bar.start
                days.setdefault(stored.daily_path(self.folder, symbol), []).append(bar)
        written = 0
        # the minutes first: a day's bar is never on disk without the minutes it was made of
        for groups, append in ((minutes, stored.append_minutes), (days, stored.append_daily)):
            for path, rows in groups.items():
                try:
                    append(path, rows)
                    written += len(rows)
                except OSError as failure:
                    log.warning("bars not written", actor=self.actor, path=str(path), bars=len(rows), error=str(failure))
        self.written += written
        return written
