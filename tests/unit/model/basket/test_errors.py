"""A refusal: the file's problem or every bad row, described in one line (the first rows
with their problem, the numbers of the rest as ranges) and as a JSON answer."""

from __future__ import annotations

import pytest

from model.basket import BadRow, BasketError, number_ranges, parse_basket, refused_rows
from tests.unit.model.basket.support import HEADER, rules


def test_a_long_refusal_describes_the_first_rows_and_lists_the_numbers_of_the_rest() -> None:
    data = "\n".join([HEADER] + [f"A1,c{i},NOPE,buy,1,,,,".replace("NOPE", "IBM" if i in (3, 4) else "NOPE") for i in range(10)]) + "\n"
    with pytest.raises(BasketError) as refused:
        parse_basket(data.encode(), "b.csv", rules(listed=3))
    assert len(refused.value.bad) == 8 and refused.value.unlisted() == "7-11"
    assert str(refused.value).endswith("row 4: unknown symbol 'NOPE'; and rows 7-11")
    assert number_ranges([1, 2, 3, 5, 7, 8]) == "1-3, 5, 7-8"


def test_a_problem_with_the_whole_file_is_its_one_line_and_lists_no_rows() -> None:
    refused = BasketError("b.csv", "not a Parquet file: bad magic")
    assert isinstance(refused, ValueError) and not refused.bad
    assert str(refused) == refused.summary() == refused.describe() == "b.csv: not a Parquet file: bad magic; nothing loaded"
    assert refused_rows(refused) == {"bad_rows": 0, "problems": [], "other_rows": ""}


def test_bad_rows_are_counted_described_in_order_and_the_unlisted_ones_given_as_ranges() -> None:
    bad = [BadRow(2, "invalid_request", "missing side"), BadRow(3, "forbidden", "account 'B9' is not yours"), BadRow(5, "unknown_symbol", "unknown symbol 'X'")]
    assert BasketError("b.csv", bad=bad[:1]).summary() == "b.csv: 1 bad row, nothing loaded"
    refused = BasketError("b.csv", bad=bad, listed=2)
    assert str(refused) == "b.csv: 3 bad rows, nothing loaded: row 2: missing side; row 3: account 'B9' is not yours; and rows 5"
    assert refused_rows(refused) == {
        "bad_rows": 3,
        "problems": [
            {"row": 2, "code": "invalid_request", "problem": "missing side"},
            {"row": 3, "code": "forbidden", "problem": "account 'B9' is not yours"},
        ],
        "other_rows": "5",
    }
    assert BasketError("b.csv", bad=bad).unlisted() == ""


@pytest.mark.parametrize(
    ("numbers", "ranges"),
    [([], ""), ([4], "4"), ([4, 5], "4-5"), ([1, 3], "1, 3"), ([2, 3, 4, 9, 11, 12], "2-4, 9, 11-12")],
)
def test_number_ranges_join_runs_of_consecutive_numbers(numbers: list[int], ranges: str) -> None:
    assert number_ranges(numbers) == ranges
