from __future__ import annotations

import decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from model import fixed

decimals = st.decimals(min_value=-10**12, max_value=10**12, places=9, allow_nan=False, allow_infinity=False)


@pytest.mark.parametrize(
    ("text", "value"),
    [("0", 0), ("1", fixed.SCALE), ("0.3", 300_000_000), ("150.25", 150_250_000_000), ("-1.5", -1_500_000_000), ("0.000000001", 1)],
)
def test_parse_reads_plain_decimals_exactly(text: str, value: int) -> None:
    assert fixed.parse(text) == value


@pytest.mark.parametrize("text", ["", "1e3", "+1", "1.", ".5", "1.0000000001", "NaN", "1,5", " 1", "0x10", "1" * 19])
def test_parse_refuses_anything_but_a_plain_decimal_with_nine_places(text: str) -> None:
    with pytest.raises(fixed.DecimalFormatError):
        fixed.parse(text)


@given(decimals)
def test_format_then_parse_round_trips(value: decimal.Decimal) -> None:
    scaled = int(value * fixed.SCALE)
    assert fixed.parse(fixed.format(scaled)) == scaled
    assert decimal.Decimal(fixed.format(scaled)) == decimal.Decimal(scaled) / fixed.SCALE


def test_format_cash_keeps_two_places() -> None:
    assert fixed.format_cash(100_000 * fixed.SCALE) == "100000.00"
    assert fixed.format_cash(fixed.parse("45.075")) == "45.075"


def test_buy_cost_rounds_up_and_sell_proceeds_round_down_to_the_cent() -> None:
    qty, price = fixed.parse("0.3"), fixed.parse("150.25")  # exact value 45.075
    assert fixed.buy_cost(qty, price) == fixed.parse("45.08")
    assert fixed.sell_proceeds(qty, price) == fixed.parse("45.07")


def test_option_cost_includes_the_multiplier() -> None:
    assert fixed.buy_cost(2 * fixed.SCALE, fixed.parse("7.55"), 100) == fixed.parse("1510")


@given(
    cash=st.integers(min_value=1, max_value=10**8).map(lambda cents: cents * fixed.CENT),
    price=st.integers(min_value=1, max_value=10**6).map(lambda cents: cents * fixed.CENT),
    places=st.integers(min_value=0, max_value=6),
)
def test_qty_for_cash_never_costs_more_than_the_cash(cash: int, price: int, places: int) -> None:
    increment = fixed.SCALE // 10**places
    qty = fixed.qty_for_cash(cash, price, increment)
    assert qty % increment == 0
    assert fixed.buy_cost(qty, price) <= cash
    assert fixed.raw_value(qty + increment, price) > cash * fixed.SCALE


def test_floor_and_ceil_to_increment() -> None:
    assert fixed.floor_to(1_234, 100) == 1_200
    assert fixed.ceil_to(1_234, 100) == 1_300
    assert fixed.ceil_to(1_200, 100) == 1_200


@pytest.mark.parametrize("text", ["1\n", "١٢", "1.5\n", " 1", "1 "])
def test_parse_refuses_trailing_newlines_and_non_ascii_digits(text: str) -> None:
    with pytest.raises(ValueError):
        fixed.parse(text)


def test_parse_bounded_takes_what_a_signed_64_bit_integer_holds_and_refuses_one_unit_more() -> None:
    assert fixed.parse_bounded("9223372036.854775807") == fixed.LARGEST == 2**63 - 1
    assert fixed.parse_bounded("-9223372036.854775808") == -(2**63)
    for text in ("9223372036.854775808", "-9223372036.854775809", "999999999999999999"):
        with pytest.raises(fixed.DecimalRangeError, match="at most 9223372036.854775807"):
            fixed.parse_bounded(text)
    with pytest.raises(fixed.DecimalFormatError) as refused:
        fixed.parse_bounded("1e3")
    assert not isinstance(refused.value, fixed.DecimalRangeError)


def test_a_refusal_quotes_at_most_64_characters_of_the_text() -> None:
    with pytest.raises(fixed.DecimalFormatError) as refused:
        fixed.parse("x" * 10_000)
    assert len(str(refused.value)) < 140
