"""The trading day of a moment is its local date in the market's time zone, not its UTC date."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

import pytest

from model.calendar import NS_PER_SECOND, LocalDays, day_start_ns, trading_day


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


@pytest.mark.parametrize(
    "zone",
    [
        "America/New_York",
        "Asia/Tokyo",
        "UTC",
        "America/Sao_Paulo",  # until 2019 its clocks went back from midnight to 23:00 of the day before
        "America/Santiago",  # clock changes at midnight
        "America/Havana",  # clock changes at 00:00 and 01:00
        "Australia/Lord_Howe",  # half-hour changes
    ],
)
def test_local_days_answer_as_trading_day_in_order_and_shuffled(zone: str) -> None:
    # every 29 min 13 s through 2018 and 2019 (each zone's clock changes of both years), then
    # a sample of the same moments shuffled, so the kept day is left both ways
    start, end = ns(2018, 1, 1, 0), ns(2020, 1, 1, 0)
    moments = list(range(start, end, 1753 * NS_PER_SECOND))
    days = LocalDays(zone)
    assert [days.day(moment) for moment in moments] == [trading_day(moment, zone) for moment in moments]
    random.Random(3).shuffle(moments)
    sample = moments[:10_000]
    assert [days.day(moment) for moment in sample] == [trading_day(moment, zone) for moment in sample]
    # the last nanosecond before each local midnight of the two years, and the first of it
    first = trading_day(start, zone)
    for day in range(first, first + 730):
        for edge in (day_start_ns(day, zone) - 1, day_start_ns(day, zone)):
            assert days.day(edge) == trading_day(edge, zone)


def test_local_days_answer_as_trading_day_where_a_local_date_comes_back() -> None:
    # St. John's put its clocks back at 00:01 until 2011: on 2006-10-29 the local date went
    # from the 28th to the 29th for a minute, back to the 28th for an hour, then to the 29th
    zone = "America/St_Johns"
    utc = [ns(2006, 10, 29, 4), ns(2006, 10, 29, 2, 40), ns(2006, 10, 29, 2, 30), ns(2006, 10, 29, 3, 10), ns(2006, 10, 29, 3, 40), ns(2006, 10, 28, 12)]
    assert [trading_day(moment, zone) - date(2006, 10, 28).toordinal() for moment in utc] == [1, 0, 1, 0, 1, 0]
    for order in (utc, utc[::-1], sorted(utc)):
        days = LocalDays(zone)
        assert [days.day(moment) for moment in order] == [trading_day(moment, zone) for moment in order]


def test_local_days_answer_every_time_of_a_day_with_a_clock_change() -> None:
    # New York's spring and autumn days of 2025, minute by minute, with a time of the day
    # before or after between each (the kept day and the changing day taken in turn)
    zone = "America/New_York"
    days = LocalDays(zone)
    for changed in (date(2025, 3, 9), date(2025, 11, 2)):
        first = day_start_ns(changed.toordinal(), zone)
        for minute in range(0, 25 * 60, 7):
            moment = first + minute * 60 * NS_PER_SECOND
            for asked in (moment, first - 3_600 * NS_PER_SECOND, moment + 1):
                assert days.day(asked) == trading_day(asked, zone)
