"""The InstrumentActor shell's bar writer on a real folder: marks and trades in, minute and
daily files out, read back by the loaders the rest of the server uses (``load_bars``,
``load_history``); a second writer fed the same inputs (a restart, a replay) writes nothing
twice; a day the server stopped in is written at the restart, as one run would have.
And the shell itself: a record's marks and venue trades reach the files after its commit."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import msgspec
import numpy as np
import pytest

from actors.instrument.bars import BarWriter, Trade
from model import fixed
from model.calendar import day_start_ns
from model.config import BarsSection, Config, JournalSection, ServerSection
from model.enums import OrderType, VenueEventKind
from model.messages import MarketUpdate, VenueQuote, VenueReport, decode_batch
from model.risk import stored
from model.risk.history import NS_PER_MINUTE, Bar, BarBuilder, HistoryError, load_bars, load_history
from tests.conftest import demo_setup
from tests.unit.actors.instrument.test_actor import INSTRUMENTS, Feed, Shell, route, stop

D = fixed.parse
TZ = "UTC"
DAY1 = date(2026, 11, 23).toordinal()  # a Monday
DAYS = [DAY1, DAY1 + 1, DAY1 + 2]
Input = tuple[list[MarketUpdate], list[Trade]]


def at(day: int, minute: int, second: int = 0) -> int:
    return day_start_ns(day, TZ) + minute * NS_PER_MINUTE + second * 1_000_000_000


def mark(symbol: str, bid: str, ask: str, now: int) -> MarketUpdate:
    return MarketUpdate(symbol, D(bid), D(ask), (D(bid) + D(ask)) // 2, False, now)


def session() -> list[Input]:
    """Records of three days: two symbols quoted in a few minutes of each, IBM also traded."""
    records: list[Input] = []
    for n, day in enumerate(DAYS):
        for minute in (600, 601, 603):
            for second in (0, 20, 40):
                step = n * 3 + (minute - 600) + second // 20
                now = at(day, minute, second)
                marks = [mark("IBM", f"{150 + step}.00", f"{150 + step}.20", now), mark("SPY", f"{500 - step}.00", f"{500 - step}.10", now)]
                trades = [("IBM", D(f"{150 + step}.05"), D("10"), now)] if second == 20 else []
                records.append((marks, trades))
    return records


def feed(writer: BarWriter, records: list[Input]) -> None:
    for marks, trades in records:
        writer.take(marks, trades)


def expected(records: list[Input]) -> list[Bar]:
    """What one builder makes of the same prices, every bar closed at the end."""
    builder = BarBuilder(TZ)
    bars: list[Bar] = []
    for marks, trades in records:
        for symbol, price, qty, now in trades:
            bars += builder.trade(symbol, price, qty, now)
        for m in marks:
            bars += builder.quote(m.symbol, m.bid, m.ask, m.ts)
    return bars + builder.close()


def files(folder: Path) -> dict[str, bytes]:
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*.csv"))}


def test_quotes_and_trades_become_minute_files_per_symbol_and_day_and_daily_history_files(tmp_path: Path) -> None:
    records = session()
    writer = BarWriter(tmp_path, TZ)
    feed(writer, records)
    writer.close()
    want = expected(records)
    for symbol in ("IBM", "SPY"):
        for day in DAYS:
            got = load_bars(stored.minute_path(tmp_path, symbol, day), max_gap_minutes=0).bars()
            assert got == [bar for bar in want if bar.symbol == symbol and bar.start >= NS_PER_MINUTE and day_start_ns(day, TZ) <= bar.start < day_start_ns(day + 1, TZ)]
            assert len(got) == 3  # minutes 600, 601 and 603: no bar for the minute without a price
    ibm = stored.read_minutes(stored.minute_path(tmp_path, "IBM", DAY1))
    assert [bar.volume for bar in ibm] == [D("10")] * 3  # the trade's quantity; a quote has none
    daily = load_history(stored.daily_path(tmp_path, "IBM"))
    # the last day is still open at a clean stop: its bar is written when a later day's price closes it
    assert daily.symbols == ("IBM",) and daily.days.tolist() == DAYS[:2]
    want_days = [bar for bar in want if bar.symbol == "IBM" and bar.start < NS_PER_MINUTE][:2]
    assert daily.closes[:, 0].tolist() == [bar.close / fixed.SCALE for bar in want_days]
    both = stored.read_daily(tmp_path)
    assert both is not None and both.symbols == ("IBM", "SPY") and not np.isnan(both.closes).any()


def test_a_second_writer_fed_the_same_inputs_writes_nothing_twice(tmp_path: Path) -> None:
    records = session()
    first = BarWriter(tmp_path, TZ)
    feed(first, records)
    first.close()
    before = files(tmp_path)
    again = BarWriter(tmp_path, TZ)  # a restart whose inputs come again (a replay)
    feed(again, records)
    again.close()
    assert files(tmp_path) == before


def test_a_restart_in_the_middle_of_a_day_writes_the_bars_one_run_would(tmp_path: Path) -> None:
    records = session()
    later = at(DAY1 + 3, 600)
    closing = ([mark("IBM", "160.00", "160.20", later), mark("SPY", "490.00", "490.10", later)], [])
    one = tmp_path / "one"
    writer = BarWriter(one, TZ)
    feed(writer, [*records, closing])
    writer.close()
    two = tmp_path / "two"
    cut = len(records) // 2 + 1  # in the middle of the second day, within a minute
    writer = BarWriter(two, TZ)
    feed(writer, records[:cut])  # a crash: nothing closed, nothing written of the open minute
    restarted = BarWriter(two, TZ)
    feed(restarted, records)  # the journal's inputs again, then what came after
    restarted.close()
    stopped = BarWriter(two, TZ)
    feed(stopped, [closing])  # a clean stop before the day closed, a start the next day
    stopped.close()
    assert files(two) == files(one)
    assert load_history(stored.daily_path(two, "IBM")).days.tolist() == DAYS


def test_a_row_a_crash_cut_short_is_cut_off_before_the_next_append(tmp_path: Path) -> None:
    path = stored.minute_path(tmp_path, "IBM", DAY1)
    first = Bar("IBM", at(DAY1, 600), D("1"), D("2"), D("1"), D("2"), 0)
    stored.append_minutes(path, [first])
    with open(path, "a") as handle:
        handle.write("IBM,1234,1.5")  # no line end: the write a crash interrupted
    assert stored.read_minutes(path) == [first]  # never read
    second = Bar("IBM", at(DAY1, 601), D("2"), D("3"), D("2"), D("3"), 0)
    stored.append_minutes(path, [second])
    assert load_bars(path).bars() == [first, second]


def test_a_minute_bar_whose_low_is_above_its_high_is_refused_with_its_row(tmp_path: Path) -> None:
    """Not a bar the writer makes: the day resumes from these bars, which must hold low <= high."""
    path = stored.minute_path(tmp_path, "IBM", DAY1)
    stored.append_minutes(path, [Bar("IBM", at(DAY1, 600), D("1"), D("2"), D("1"), D("2"), 0)])
    with open(path, "a") as handle:
        handle.write(f"IBM,{at(DAY1, 601)},1.05,1.00,1.10,1.05,0\n")
    with pytest.raises(HistoryError, match="row 2: not a minute bar"):
        stored.read_minutes(path)


def test_a_symbol_that_is_no_plain_file_name_stays_in_its_folder(tmp_path: Path) -> None:
    assert stored.daily_path(tmp_path, "../x").parent == tmp_path / stored.DAILY
    assert stored.daily_path(tmp_path, "../x").name == "%2E.%2Fx.csv"
    assert stored.minute_path(tmp_path, "A/B", DAY1).parent.name == "A%2FB"


def shell_config(data_dir: Path, bars: BarsSection) -> Config:
    setup = demo_setup()
    return msgspec.structs.replace(
        setup.config, server=ServerSection(data_dir=str(data_dir)), journal=JournalSection(durability="buffered"), bars=bars
    )


async def test_the_shell_writes_each_record_s_mid_and_venue_trades_as_bars(tmp_path: Path) -> None:
    actor = Shell("instrument-0", shell_config(tmp_path, BarsSection()), INSTRUMENTS)
    feed = Feed(actor)
    await feed.send("venue-SIM", VenueQuote("SIM", "IBM", D("149.90"), D("10"), D("150.30"), D("10"), 1))
    await feed.send("account-0", route("o1", order_type=OrderType.MARKET))
    child = [m for _, data in actor.outbox.unacked["venue-SIM"] for m in decode_batch(data).messages][-1].child_id
    await feed.send("venue-SIM", VenueReport("SIM", child, VenueEventKind.TRADE, D("10"), D("150.25"), None, 1))
    await stop(actor)  # a clean stop writes the open minutes
    written = [bar for path in sorted((tmp_path / "bars" / stored.MINUTE).rglob("*.csv")) for bar in stored.read_minutes(path)]
    assert [bar.symbol for bar in written] == ["IBM"] * len(written) and written
    assert sum(bar.volume for bar in written) == D("10")  # the trade, once
    prices = {bar.open for bar in written} | {bar.close for bar in written} | {bar.high for bar in written}
    assert D("150.10") in prices and D("150.25") in prices  # the mid and the trade


async def test_with_bars_off_nothing_is_written(tmp_path: Path) -> None:
    actor = Shell("instrument-0", shell_config(tmp_path, BarsSection(enabled=False)), INSTRUMENTS)
    await Feed(actor).send("venue-SIM", VenueQuote("SIM", "IBM", D("149.90"), D("10"), D("150.30"), D("10"), 1))
    await stop(actor)
    assert not (tmp_path / "bars").exists() and actor.state.trades_out is None
