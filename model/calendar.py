"""Trading days: which local calendar day a moment belongs to, in the market's time zone.

The open happens once per *local* day of the market (``[open] timezone``), not per UTC day:
in Tokyo the 09:00 open is 00:00 UTC, so an order placed before the next morning's open
would fall on the same UTC day as the last open and be taken for late.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

NS_PER_SECOND = 1_000_000_000


@lru_cache(maxsize=16)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=256)
def trading_day(ts_ns: int, timezone: str) -> int:
    """The proleptic Gregorian ordinal of the local date of ``ts_ns`` (ns since the epoch)
    in ``timezone``. Pure and deterministic (given the same tz database). Remembered: every
    order of a turn asks it for the turn's one time (a basket's chunk: thousands of times)."""
    return _local(ts_ns, timezone).date().toordinal()


def _local(ts_ns: int, timezone: str) -> datetime:
    """The local time of ``ts_ns`` in ``timezone``, to the second."""
    return datetime.fromtimestamp(ts_ns // NS_PER_SECOND, _zone(timezone))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def day_start_ns(day: int, timezone: str) -> int:
    """The first ns of the local date ``day`` (a proleptic ordinal, as ``trading_day`` gives)
    in ``timezone``: its inverse, for the bounds of a range of local dates."""
    start = datetime.combine(date.fromordinal(day), time(0), tzinfo=_zone(timezone))
    return (start - _EPOCH) // timedelta(microseconds=1) * 1000


class LocalDays:
    """``trading_day`` for a stream of times in one zone (every quote an InstrumentActor
    takes asks the day of its own time): the last answer's day is kept with its bounds, so a
    time within them is answered by two comparisons.

    Guarantees: ``day(ts_ns) == trading_day(ts_ns, timezone)`` for every time. A day is kept
    only when the zone's offset from UTC is the same at its first and its last second, so
    its local date is the whole of ``[start, end)`` (no zone's offset changes and changes
    back within a day: the closest two changes of any zone are days apart). A day whose
    offset changes is remembered as such, and each of its times asked of ``trading_day``
    (about 1.2 µs; working its bounds out again each time would cost seven times that)."""

    __slots__ = ("timezone", "_day", "_start", "_end", "_changing")

    def __init__(self, timezone: str) -> None:
        self.timezone = timezone
        self._day = 0
        self._start = self._end = 0  # empty: nothing kept yet
        self._changing = (0, 0)  # the bounds of the last day seen whose offset changes in it

    def day(self, ts_ns: int) -> int:
        if self._start <= ts_ns < self._end:
            return self._day
        day = trading_day(ts_ns, self.timezone)
        changing_start, changing_end = self._changing
        if changing_start <= ts_ns < changing_end:
            return day
        start, end = day_start_ns(day, self.timezone), day_start_ns(day + 1, self.timezone)
        if start <= ts_ns < end:
            if _offset(start, self.timezone) == _offset(end - 1, self.timezone):
                self._day, self._start, self._end = day, start, end
            else:
                self._changing = (start, end)
        return day


def _offset(ts_ns: int, timezone: str) -> timedelta | None:
    return _local(ts_ns, timezone).utcoffset()


def parse_iso_day(text: str) -> date:
    """A date written exactly ``YYYY-MM-DD`` (``date.fromisoformat`` alone also takes
    ``20250102`` and other forms), or ``ValueError``; each caller words its own refusal."""
    if len(text) != 10:
        raise ValueError(text)
    return date.fromisoformat(text)
