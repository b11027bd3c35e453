"""Values on the FIX wire (``adapters/fix/values.py``): decimals both ways, timestamps."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.fix.tags import SessionRejectReason, Tag
from adapters.fix.values import MAX_WHOLE_UNITS, CodecError, fix_timestamp, from_fix_decimal, in_range, label, to_fix_decimal, utc_date
from model import fixed
from tests.unit.adapters.fix.wire import T0, T0_FIX

# --- decimals -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.3", 300_000_000),
        ("100", 100 * fixed.SCALE),
        ("150.25", 150_250_000_000),
        ("0.000000001", 1),
        ("0023.50", 23_500_000_000),
        (".5", 500_000_000),
        ("5.", 5 * fixed.SCALE),
        ("1.500000000000", 1_500_000_000),
        ("-1", -fixed.SCALE),
    ],
)
def test_fix_decimals_read_exactly(text: str, value: int) -> None:
    assert from_fix_decimal(text) == value


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("1e3", SessionRejectReason.INCORRECT_DATA_FORMAT),
        ("nan", SessionRejectReason.INCORRECT_DATA_FORMAT),
        ("inf", SessionRejectReason.INCORRECT_DATA_FORMAT),
        ("", SessionRejectReason.INCORRECT_DATA_FORMAT),
        (".", SessionRejectReason.INCORRECT_DATA_FORMAT),
        ("+1", SessionRejectReason.INCORRECT_DATA_FORMAT),
        (" 1", SessionRejectReason.INCORRECT_DATA_FORMAT),
        ("1.2.3", SessionRejectReason.INCORRECT_DATA_FORMAT),
        ("1,5", SessionRejectReason.INCORRECT_DATA_FORMAT),
        ("1\n", SessionRejectReason.INCORRECT_DATA_FORMAT),
        ("\u0661\u0662", SessionRejectReason.INCORRECT_DATA_FORMAT),  # Arabic-Indic digits
        ("0.0000000001", SessionRejectReason.VALUE_IS_INCORRECT),
        ("1" * 19, SessionRejectReason.VALUE_IS_INCORRECT),
    ],
)
def test_fix_decimals_refuse_what_is_not_an_exact_nine_place_decimal(text: str, code: SessionRejectReason) -> None:
    with pytest.raises(CodecError) as caught:
        from_fix_decimal(text, Tag.OrderQty)
    assert (caught.value.tag, caught.value.reject_kind, caught.value.code) == (Tag.OrderQty, "session", code)


@given(st.integers(min_value=-(10**18), max_value=10**18))
def test_fixed_to_fix_decimal_and_back_is_identity(value: int) -> None:
    text = to_fix_decimal(value)
    assert from_fix_decimal(text) == value
    assert "e" not in text.lower()


@given(st.integers(min_value=1, max_value=10**18), st.integers(min_value=0, max_value=5))
def test_any_fix_spelling_of_a_value_reads_back_the_same(value: int, padding: int) -> None:
    whole, fraction = fixed.format(value, min_places=1).split(".")
    assert from_fix_decimal("0" * padding + whole + "." + fraction + "0" * padding) == value


def test_transact_time_is_utc_with_milliseconds() -> None:
    assert fix_timestamp(0) == "19700101-00:00:00.000"
    assert fix_timestamp(T0) == T0_FIX


@given(st.lists(st.integers(min_value=0, max_value=4 * 10**18), min_size=1, max_size=20), st.integers(min_value=0, max_value=3 * 10**9))
def test_a_timestamp_is_the_same_whatever_was_formatted_before(instants: list[int], step: int) -> None:
    """The second formatted last is kept: neighbours in one second, across its end, and far apart."""
    for now in [moment for instant in instants for moment in (instant, instant + step, instant + step // 7)]:
        seconds, nanos = divmod(now, 10**9)
        assert fix_timestamp(now) == f"{datetime.fromtimestamp(seconds, tz=UTC):%Y%m%d-%H:%M:%S}.{nanos // 10**6:03d}"


def test_the_trade_date_is_the_utc_date() -> None:
    assert utc_date(T0) == "20251121"
    assert utc_date(0) == "19700101"


# --- errors ------------------------------------------------------------------------------------------


def test_an_error_names_a_tag_by_its_fix_name_when_brokerd_knows_it() -> None:
    assert label(Tag.OrderQty) == "OrderQty(38)"
    assert label(9999) == "tag 9999"


@pytest.mark.parametrize(
    ("value", "zero_ok", "fits"),
    [(1, False, True), (0, True, True), (0, False, False), (-1, True, False), (MAX_WHOLE_UNITS * fixed.SCALE, False, True), (MAX_WHOLE_UNITS * fixed.SCALE + 1, False, False)],
)
def test_a_value_read_is_positive_and_within_the_limit(value: int, zero_ok: bool, fits: bool) -> None:
    if fits:
        assert in_range(value, Tag.LastQty, zero_ok=zero_ok) == value
        return
    with pytest.raises(CodecError) as caught:
        in_range(value, Tag.LastQty, zero_ok=zero_ok)
    assert (caught.value.tag, caught.value.code) == (Tag.LastQty, SessionRejectReason.VALUE_IS_INCORRECT)


def test_a_codec_error_defaults_to_the_other_code_of_its_kind() -> None:
    assert CodecError("x", None, "session").code == SessionRejectReason.OTHER
    assert CodecError("x", None, "business").code == 0
