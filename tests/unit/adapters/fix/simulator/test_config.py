"""The market maker's settings: the shipped file loads, the command line overrides top-level
keys, each setting that cannot work is refused by name, and the symbols become instruments."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from adapters.fix.simulator.config import SimulatorSettings, load_settings
from model import fixed
from model.enums import AssetClass
from model.instruments import Instrument
from tests.conftest import ROOT

SHIPPED = ROOT / "conf" / "fix" / "mmsim.toml"
D = fixed.parse


def test_the_shipped_settings_load() -> None:
    settings = load_settings(SHIPPED)
    assert settings.symbols == ["IBM", "AAPL", "MSFT", "SPY", "XYZ"] and not settings.cancel_on_disconnect
    assert settings.quotes.tick_size == "0.01" and settings.orders.price_band_pct == 50


def test_overrides_replace_top_level_keys_and_none_leaves_a_key_alone() -> None:
    settings = load_settings(SHIPPED, symbols=["IBM"], seed=11, latency_ms=None, cancel_on_disconnect=True)
    assert (settings.symbols, settings.seed, settings.latency_ms, settings.cancel_on_disconnect) == (["IBM"], 11, 5, True)


def spoiled(**changes: object) -> SimulatorSettings:
    shipped = load_settings(SHIPPED)
    sections = {"quotes": shipped.quotes, "orders": shipped.orders}
    top = {key: value for key, value in changes.items() if "." not in key}
    for key, value in changes.items():
        if "." in key:
            section, name = key.split(".")
            sections[section] = msgspec.structs.replace(sections[section], **{name: value})  # type: ignore[type-var]
    return msgspec.structs.replace(shipped, **top, **sections)


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"symbols": []}, "symbols: at least one, none blank"),
        ({"symbols": ["IBM", " AAPL"]}, "symbols: at least one, none blank"),
        ({"quote_interval_ms": 0}, "quote_interval_ms must be positive"),
        ({"latency_ms": -1}, "latency_ms and resend_on_logon must not be negative"),
        ({"fill_parts": 0}, "fill_parts must be at least 1"),
        ({"quotes.quote_size": 0}, "quote_size ≥ 1"),
        ({"orders.price_band_pct": 100}, "orders.price_band_pct must be between 0 and 100"),
        ({"quotes.tick_size": "0"}, "quotes.tick_size must be a positive decimal, not '0'"),
        ({"orders.qty_increment": "1e-6"}, "orders.qty_increment must be a positive decimal, not '1e-6'"),
        ({"quotes.start_prices": {"IBM": "-1"}}, "quotes.start_prices.IBM must be a positive decimal, not '-1'"),
    ],
)
def test_a_setting_that_cannot_work_is_refused_by_name(changes: dict[str, object], words: str) -> None:
    with pytest.raises(ValueError) as refused:
        spoiled(**changes).check()
    assert words in str(refused.value)


def test_a_bad_file_is_a_value_error_naming_it(tmp_path: Path) -> None:
    unknown = tmp_path / "unknown.toml"
    unknown.write_text(SHIPPED.read_text() + "\ncolour = 'red'\n")
    with pytest.raises(ValueError, match=f"{unknown}: .*colour"):
        load_settings(unknown)
    with pytest.raises(ValueError, match="missing.toml"):
        load_settings(tmp_path / "missing.toml")
    with pytest.raises(ValueError, match="unknown.toml"):
        load_settings(unknown, nonsense=1)  # an override that is no key


def test_a_checked_file_with_a_bad_value_is_refused_at_load(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(SHIPPED.read_text().replace("fill_parts = 3", "fill_parts = 0"))
    with pytest.raises(ValueError, match="fill_parts must be at least 1"):
        load_settings(path)


def test_the_symbols_are_instruments_with_the_file_s_tick_increment_and_start_prices_in_order() -> None:
    settings = load_settings(SHIPPED, symbols=["XYZ", "NEW"])
    assert settings.instruments() == [
        Instrument("XYZ", AssetClass.EQUITY, D("0.01"), D("0.000001"), D("25.00")),
        Instrument("NEW", AssetClass.EQUITY, D("0.01"), D("0.000001"), D("100.00")),  # the default start price
    ]
    assert settings.start_price("NEW") == D("100")
