"""Where a shard's risk model comes from at its start: the configured history file, else the
daily bars the InstrumentActors kept under the data dir when they are enough, else the demo
history. The bars are made here as a running server makes them (``BarWriter``); the
restart is an account shard's shell started on that data dir."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import msgspec
import pytest

from actors.account.actor import AccountActor
from actors.instrument.bars import BarWriter
from model import fixed
from model.calendar import day_start_ns
from model.config import Config, JournalSection, PortfolioSection, ServerSection
from model.messages import MarketUpdate
from model.risk import model as risk_model
from model.risk import stored
from model.risk.history import NS_PER_MINUTE, HistoryError, load_history
from tests.conftest import demo_setup

SETUP = demo_setup()
SECTION = PortfolioSection(window_days=10, min_history_days=4, demo_history_days=30)
FIRST = date(2026, 11, 2).toordinal()
TZ = SETUP.config.open.timezone
Shell = AccountActor.__ray_actor_class__  # type: ignore[attr-defined]  # the class Ray would host, called here directly


def run_days(folder: Path, days: int, symbols: tuple[str, ...] = ("IBM", "AAPL")) -> None:
    """``days`` days of quotes of ``symbols`` (prices moving day to day), then the next day's
    first quote, which closes the last: ``days`` daily bars per symbol."""
    writer = BarWriter(folder, TZ)
    for n in range(days + 1):
        for minute in (600, 601):
            now = day_start_ns(FIRST + n, TZ) + minute * NS_PER_MINUTE
            marks = []
            for k, symbol in enumerate(symbols):
                bid = fixed.parse(str(100 + 10 * k + (n * 7 + k) % 5 + minute - 600))
                marks.append(MarketUpdate(symbol, bid, bid + fixed.CENT * 10, bid, False, now))
            writer.take(marks, [])
    writer.close()


def test_without_a_file_enough_persisted_bars_make_the_history(tmp_path: Path) -> None:
    run_days(tmp_path, SECTION.min_history_days + 1)  # min_history_days returns
    loaded, source = risk_model.choose_history(SECTION, SETUP.instruments, bars=tmp_path)
    assert source == str(tmp_path / stored.DAILY)
    assert loaded.symbols == ("AAPL", "IBM") and len(loaded.days) == SECTION.min_history_days + 1
    assert loaded.closes[:, 1].tolist() == load_history(stored.daily_path(tmp_path, "IBM")).closes[:, 0].tolist()
    model = risk_model.build_model(loaded, SETUP.instruments, SECTION)
    # the instruments the bars lack take the stated fallback: their asset class's (else everyone's) mean
    assert "IBM" not in model.fallbacks and "AAPL" not in model.fallbacks and "SPY" in model.fallbacks


def test_too_few_persisted_bars_leave_the_demo_history(tmp_path: Path) -> None:
    run_days(tmp_path, SECTION.min_history_days)  # one return short
    loaded, source = risk_model.choose_history(SECTION, SETUP.instruments, bars=tmp_path)
    assert source == "demo" and len(loaded.days) == SECTION.demo_history_days
    assert risk_model.choose_history(SECTION, SETUP.instruments, bars=tmp_path / "none")[1] == "demo"


def test_a_configured_history_file_comes_before_persisted_bars(tmp_path: Path) -> None:
    run_days(tmp_path / "bars", SECTION.min_history_days + 1)
    run_days(tmp_path / "file", SECTION.min_history_days + 3, symbols=("IBM",))
    section = msgspec.structs.replace(SECTION, history_file=str(stored.daily_path(tmp_path / "file", "IBM")))
    loaded, source = risk_model.choose_history(section, SETUP.instruments, bars=tmp_path / "bars")
    assert source == section.history_file and loaded.symbols == ("IBM",)


def test_a_persisted_daily_file_with_a_bad_row_stops_the_start_with_its_finding(tmp_path: Path) -> None:
    run_days(tmp_path, SECTION.min_history_days + 1)
    with open(stored.daily_path(tmp_path, "IBM"), "a") as handle:
        handle.write("2026-13-01,IBM,1,1,1,1,0\n")
    with pytest.raises(HistoryError, match=r"(?s)IBM.csv.*row 6: date '2026-13-01'"):
        risk_model.choose_history(SECTION, SETUP.instruments, bars=tmp_path)


def config(data_dir: Path, enabled: bool = True) -> Config:
    conf = SETUP.config
    return msgspec.structs.replace(
        conf,
        server=ServerSection(data_dir=str(data_dir)),
        journal=JournalSection(durability="buffered"),
        portfolio=SECTION,
        bars=msgspec.structs.replace(conf.bars, enabled=enabled),
    )


async def test_a_restarted_shard_makes_its_model_from_the_bars_kept_under_the_data_dir(tmp_path: Path) -> None:
    run_days(tmp_path / "bars", SECTION.min_history_days + 2)
    shard = Shell("account-0", config(tmp_path), SETUP.instruments)
    made = shard.portfolio_model()
    from_bars = risk_model.build_model(stored.read_daily(tmp_path / "bars"), SETUP.instruments, SECTION)  # type: ignore[arg-type]
    assert made.model == from_bars
    off = Shell("account-1", config(tmp_path, enabled=False), SETUP.instruments)  # bars off: none are read either
    demo = risk_model.build_model(risk_model.choose_history(SECTION, SETUP.instruments)[0], SETUP.instruments, SECTION)
    assert off.portfolio_model().model == demo != from_bars
    for actor in (shard, off):
        await actor.close()
        actor.journal.close()


def test_a_negative_model_refresh_is_refused_and_zero_turns_it_off() -> None:
    import pytest

    with pytest.raises(ValueError, match="model_refresh_ms"):
        PortfolioSection(model_refresh_ms=-1)
    assert PortfolioSection(model_refresh_ms=0).model_refresh_ms == 0
