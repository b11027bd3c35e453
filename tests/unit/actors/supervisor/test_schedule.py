"""The open schedule (``actors/supervisor/schedule.py``)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from actors.supervisor.schedule import open_due


def test_the_scheduled_open_comes_once_per_weekday_after_its_local_time() -> None:
    def at(text: str) -> float:
        return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("America/New_York")).timestamp()

    assert open_due("", "America/New_York", "", at("2026-11-23T10:00")) is None  # no time configured
    assert open_due("09:30", "America/New_York", "", at("2026-11-23T09:29")) is None  # Monday, too early
    assert open_due("09:30", "America/New_York", "", at("2026-11-23T09:30")) == "2026-11-23"
    assert open_due("09:30", "America/New_York", "2026-11-23", at("2026-11-23T15:00")) is None  # done today
    assert open_due("09:30", "America/New_York", "2026-11-23", at("2026-11-24T09:31")) == "2026-11-24"
    assert open_due("09:30", "America/New_York", "", at("2026-11-21T10:00")) is None  # Saturday


def test_a_sunday_after_the_time_is_not_due_and_monday_before_it_is_not_either() -> None:
    def at(text: str) -> float:
        return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("Europe/London")).timestamp()

    assert open_due("08:00", "Europe/London", "", at("2026-11-22T12:00")) is None  # Sunday
    assert open_due("08:00", "Europe/London", "2026-11-20", at("2026-11-23T07:59")) is None
    assert open_due("08:00", "Europe/London", "2026-11-20", at("2026-11-23T08:00")) == "2026-11-23"
