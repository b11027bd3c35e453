"""The trading day of a moment is its local date in the market's time zone, not its UTC date."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from model.calendar import NS_PER_SECOND, trading_day


def ns(year: int, month: int, day: int, hour: int, minute: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()) * NS_PER_SECOND


def test_the_trading_day_is_the_ordinal_of_the_local_date() -> None:
    assert trading_day(ns(2025, 3, 14, 15), "America/New_York") == date(2025, 3, 14).toordinal()


@pytest.mark.parametrize(
    ("moment", "zone", "local_date"),
    [
        (ns(2025, 3, 14, 3), "America/New_York", date(2025, 3, 13)),  # 23:00 the evening before in New York
        (ns(2025, 3, 14, 23, 30), "Asia/Tokyo", date(2025, 3, 15)),  # 08:30 the next morning in Tokyo
        (ns(2025, 3, 14, 23, 30), "UTC", date(2025, 3, 14)),
    ],
)
def test_a_moment_near_midnight_utc_belongs_to_the_local_day_of_the_market(moment: int, zone: str, local_date: date) -> None:
    assert trading_day(moment, zone) == local_date.toordinal()


def test_the_tokyo_open_at_midnight_utc_and_the_next_morning_are_different_trading_days() -> None:
    # 09:00 JST is 00:00 UTC: the open and an order at 23:00 UTC the same UTC day fall on two local days
    opened = trading_day(ns(2025, 3, 14, 0), "Asia/Tokyo")
    next_morning = trading_day(ns(2025, 3, 14, 23), "Asia/Tokyo")
    assert next_morning == opened + 1


def test_daylight_saving_moves_the_local_midnight() -> None:
    # New York is UTC-5 in winter and UTC-4 in summer: 04:30 UTC is 23:30 the day before in
    # winter and 00:30 the same day in summer
    assert trading_day(ns(2025, 1, 15, 4, 30), "America/New_York") == date(2025, 1, 14).toordinal()
    assert trading_day(ns(2025, 7, 15, 4, 30), "America/New_York") == date(2025, 7, 15).toordinal()


def test_sub_second_parts_of_a_moment_do_not_change_its_day() -> None:
    moment = ns(2025, 3, 14, 4)
    assert trading_day(moment + NS_PER_SECOND - 1, "America/New_York") == trading_day(moment, "America/New_York")
