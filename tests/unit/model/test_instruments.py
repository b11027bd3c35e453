from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from model import fixed
from model.enums import AssetClass, OrderType
import msgspec

from model.instruments import Instrument, InstrumentSpec, PriceField, PriceFieldMismatch, price_fields_for_type

WHOLE = Instrument("IBM", AssetClass.EQUITY, fixed.parse("0.01"), fixed.SCALE, fixed.parse("150"))
FRACTIONAL = Instrument("AAPL", AssetClass.EQUITY, fixed.parse("0.01"), fixed.parse("0.000001"), fixed.parse("190.50"))
ODD_LOT = Instrument("ODD", AssetClass.ETF, fixed.parse("0.05"), fixed.parse("0.3"), fixed.parse("20"))


@pytest.mark.parametrize(
    ("check", "instrument", "value", "expected"),
    [
        # a price is on the tick when it is a whole number of ticks
        (Instrument.price_on_tick, WHOLE, "150.25", True),
        (Instrument.price_on_tick, WHOLE, "150.255", False),
        (Instrument.price_on_tick, WHOLE, "0.01", True),
        (Instrument.price_on_tick, WHOLE, "0.000000001", False),
        (Instrument.price_on_tick, ODD_LOT, "19.95", True),
        (Instrument.price_on_tick, ODD_LOT, "19.97", False),
        (Instrument.price_on_tick, ODD_LOT, "0", True),
        (Instrument.price_on_tick, ODD_LOT, "-0.05", True),
        # a qty is on the increment when it is a whole number of increments
        (Instrument.qty_on_increment, WHOLE, "3", True),
        (Instrument.qty_on_increment, WHOLE, "1.5", False),
        (Instrument.qty_on_increment, FRACTIONAL, "0.000001", True),
        (Instrument.qty_on_increment, FRACTIONAL, "0.0000001", False),
        (Instrument.qty_on_increment, ODD_LOT, "0.9", True),
        (Instrument.qty_on_increment, ODD_LOT, "1", False),
    ],
)
def test_a_price_or_qty_fits_when_it_is_a_whole_number_of_ticks_or_increments(
    check: Callable[[Instrument, int], bool], instrument: Instrument, value: str, expected: bool
) -> None:
    assert check(instrument, fixed.parse(value)) is expected


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_the_checks_agree_with_exact_division(value: int) -> None:
    assert ODD_LOT.price_on_tick(value) == fixed.is_multiple(value, ODD_LOT.tick_size)
    assert ODD_LOT.qty_on_increment(value) == fixed.is_multiple(value, ODD_LOT.qty_increment)


def test_instruments_built_from_the_reference_file_have_the_same_checks() -> None:
    spec = InstrumentSpec("AAPL", AssetClass.EQUITY, tick_size="0.01", reference_price="190.50", fractional_increment="0.000001")
    built = spec.build()
    assert built.qty_on_increment(fixed.parse("0.000001")) and not built.qty_on_increment(1)
    assert built.price_on_tick(built.reference_price)


@pytest.mark.parametrize(
    ("order_type", "price", "stop_price", "mismatch"),
    [
        (OrderType.MARKET, None, None, None),
        (OrderType.LIMIT, 1, None, None),
        (OrderType.STOP, None, 1, None),
        (OrderType.STOP_LIMIT, 1, 1, None),
        (OrderType.MARKET, 1, None, PriceFieldMismatch(PriceField.PRICE, missing=False)),
        (OrderType.LIMIT, None, None, PriceFieldMismatch(PriceField.PRICE, missing=True)),
        (OrderType.MARKET, None, 1, PriceFieldMismatch(PriceField.STOP_PRICE, missing=False)),
        (OrderType.STOP, None, None, PriceFieldMismatch(PriceField.STOP_PRICE, missing=True)),
        (OrderType.STOP_LIMIT, None, None, PriceFieldMismatch(PriceField.PRICE, missing=True)),  # the price is named first
        (OrderType.LIMIT, 1, 1, PriceFieldMismatch(PriceField.STOP_PRICE, missing=False)),
    ],
)
def test_price_fields_for_type_names_the_first_field_that_does_not_fit(
    order_type: OrderType, price: int | None, stop_price: int | None, mismatch: PriceFieldMismatch | None
) -> None:
    assert price_fields_for_type(order_type, price, stop_price) == mismatch


def test_a_mismatch_describes_itself_in_the_words_clients_get() -> None:
    assert PriceFieldMismatch(PriceField.PRICE, missing=True).describe(OrderType.LIMIT) == "a limit order needs price"
    assert PriceFieldMismatch(PriceField.STOP_PRICE, missing=False).describe(OrderType.MARKET) == "a market order takes no stop_price"


def test_an_instrument_s_sector_is_optional_and_defaults_to_its_asset_class() -> None:
    plain = InstrumentSpec("AAPL", AssetClass.EQUITY, tick_size="0.01", reference_price="190.50").build()
    assert (plain.sector, plain.sector_name) == ("", "equity")
    tech = msgspec.toml.decode(b'symbol = "AAPL"\nasset_class = "equity"\ntick_size = "0.01"\nreference_price = "190.50"\nsector = "technology"\n', type=InstrumentSpec).build()
    assert tech.sector_name == "technology"
