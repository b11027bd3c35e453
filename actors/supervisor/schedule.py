"""The open schedule: when the configured ``[open] at`` is due. Pure (the clock is an argument)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


def open_due(at: str, timezone: str, last_day: str, now_s: float) -> str | None:
    """Today's local date (``timezone``) when ``at`` (``HH:MM``) has passed on a weekday and
    today's scheduled open (``last_day``, the date of the last one) has not happened yet;
    else ``None``. An empty ``at`` schedules nothing. Holidays are the operator's: leave
    ``[open] at`` empty and use ``admin open``."""
    if not at:
        return None
    local = datetime.fromtimestamp(now_s, ZoneInfo(timezone))
    hours, minutes = (int(part) for part in at.split(":"))
    if local.weekday() >= 5 or (local.hour, local.minute) < (hours, minutes):
        return None
    day = local.date().isoformat()
    return None if day == last_day else day
