"""Reading a basket file: a CSV or Parquet file's known columns as trimmed text, each row
numbered by where it stands in the file, and a file that is not a basket refused whole."""

from __future__ import annotations

import io
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from model import fixed
from model.basket import BasketError, is_parquet, parse_basket
from model.basket.table import Table, _as_text, _csv_row_numbers, _header, csv_table, parquet_table
from model.enums import TimeInForce
from tests.unit.model.basket.support import HEADER, D, base_columns, parquet, refusal, rules


def test_columns_come_in_any_order_unknown_ones_are_ignored_and_cells_are_trimmed() -> None:
    data = "\ufeffnote,tif, qty ,side,symbol,client_order_id,account\r\nhi, day , 1.5 ,buy,IBM, c1 ,A1\r\n\r\n".encode()
    orders = parse_basket(data, "b.csv", rules()).orders()
    assert (orders.accounts, orders.client_order_ids, orders.qty, orders.tifs) == (["A1"], ["c1"], [D("1.5")], [TimeInForce.DAY])



def test_every_bad_row_is_named_by_the_line_it_starts_on_blank_lines_and_quoted_newlines_counted() -> None:
    refused = refusal(
        "A1,c1,IBM,buy,1,,,,",
        "",
        'A1,"c\n2",IBM,buy,1,,,,',  # a newline inside quotes: not printable, and two lines long
        "A1,c3,NOPE,buy,1,,,,",
        "A1,c1,IBM,buy,1,,,,",
        "A1,c5,IBM,buy,1,,,",
    )
    assert [(bad.row, bad.problem) for bad in refused.bad] == [
        (4, "client_order_id must be 1 to 16 printable characters"),
        (6, "unknown symbol 'NOPE'"),
        (7, "account A1 has client_order_id 'c1' on row 2 already"),
        (8, "8 fields but the header names 9"),
    ]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "row 1: no header (the file is empty)"),
        (b"account,client_order_id,symbol,qty\nA1,c1,IBM,1\n", "row 1: header lacks side"),
        (b"account,client_order_id,symbol,side\nA1,c1,IBM,buy\n", "row 1: header has neither qty nor notional"),
        (b"account,client_order_id,symbol,side,qty,qty\n", "row 1: column 'qty' appears twice in the header"),
        (HEADER.encode() + b"\nA1,c1,IBM,buy,1,,,,\nA1,c\xff,IBM,buy,1,,,,\n", "row 3: not UTF-8"),
    ],
    ids=["empty", "missing-column", "no-size-column", "column-twice", "not-utf8"],
)
def test_a_file_that_is_not_a_basket_is_refused_with_its_problem(data: bytes, problem: str) -> None:
    with pytest.raises(BasketError) as refused:
        parse_basket(data, "b.csv", rules())
    assert problem in refused.value.problem and not refused.value.bad


def test_parquet_decimal_integer_and_string_columns_read_exactly() -> None:
    columns = base_columns(3)
    columns["qty"] = pa.array([Decimal("0.123456000000000000"), None, Decimal("2")], pa.decimal128(38, 18))
    columns["notional"] = pa.array([None, "10.50", None])
    columns["limit_price"] = pa.array([None, None, 150], pa.int64())
    columns["type"] = pa.array(["market", "market", "limit"]).dictionary_encode()
    orders = parse_basket(parquet(columns), "b.parquet", rules(), parquet=True).orders()
    assert orders.qty == [123_456_000, None, 2 * fixed.SCALE]
    assert orders.notional == [None, D("10.50"), None] and orders.price == [None, None, D("150")]


def test_parquet_rows_are_numbered_from_one_and_a_decimal_finer_than_nine_places_is_a_bad_row() -> None:
    columns = base_columns(2)
    columns["qty"] = pa.array([Decimal("1.0000000001"), Decimal("1")], pa.decimal128(20, 10))
    with pytest.raises(BasketError) as refused:
        parse_basket(parquet(columns), "b.parquet", rules(), parquet=True)
    assert [(bad.row, bad.problem) for bad in refused.value.bad] == [
        (1, "qty must be a decimal string with at most 9 places, not '1.0000000001'")
    ]


@pytest.mark.parametrize("kind", [pa.float64(), pa.float32()])
def test_a_float_column_is_refused_whole(kind: pa.DataType) -> None:
    columns = base_columns(1)
    columns["qty"] = pa.array([0.1], kind)
    with pytest.raises(BasketError) as refused:
        parse_basket(parquet(columns), "b.parquet", rules(), parquet=True)
    assert "column qty holds binary floats" in refused.value.problem


def test_something_that_is_not_parquet_is_refused() -> None:
    with pytest.raises(BasketError) as refused:
        parse_basket(b"account,qty\n", "b.parquet", rules(), parquet=True)
    assert "not a Parquet file" in refused.value.problem


def test_a_file_is_parquet_by_its_name_alone() -> None:
    assert is_parquet("b.parquet") and is_parquet("B.PARQUET")
    assert not is_parquet("b.csv") and not is_parquet("parquet.csv") and not is_parquet("b.parquet.csv")


def test_the_header_is_the_first_non_empty_line_its_names_trimmed_and_as_written() -> None:
    line, names, written = _header(b"\n\r\n account ,client_order_id,symbol,side,qty\nA1,c1,IBM,buy,1\n", "b.csv")
    assert line == 3
    assert names == ["account", "client_order_id", "symbol", "side", "qty"]
    assert written == [" account ", "client_order_id", "symbol", "side", "qty"]


def test_a_csv_reads_the_known_columns_as_trimmed_text_and_an_absent_one_as_empty_cells() -> None:
    table = csv_table(b"\n\naccount,client_order_id,symbol,side,qty,extra\nA1, c1 ,IBM,buy,1,z\n\nA2,c2,IBM,buy,2,z\n", "b.csv")
    assert table.rows == 2 and not table.bad
    assert {name: column.to_pylist() for name, column in table.columns.items()} == {
        "account": ["A1", "A2"],
        "client_order_id": ["c1", "c2"],
        "symbol": ["IBM", "IBM"],
        "side": ["buy", "buy"],
        "qty": ["1", "2"],
    }
    assert table.column("tif").to_pylist() == ["", ""]
    assert [table.row_number(0), table.row_number(1)] == [4, 6]


def test_a_csv_row_of_the_wrong_width_is_a_bad_row_by_its_line_and_the_others_are_still_read() -> None:
    table = csv_table(b"account,client_order_id,symbol,side,qty\nA1,c1,IBM,buy,1,9\nA2,c2,IBM,buy,2\n", "b.csv")
    assert [(bad.row, bad.code, bad.problem) for bad in table.bad] == [(2, "invalid_request", "6 fields but the header names 5")]
    assert table.rows == 1 and table.column("account").to_pylist() == ["A2"] and table.row_number(0) == 3


def test_row_numbers_skip_empty_lines_and_count_a_quoted_newline_as_a_line() -> None:
    assert _csv_row_numbers(b"h\n\na\r\n\r\nb\nc", 1, 3).tolist() == [3, 5, 6]
    assert _csv_row_numbers(b'h\n\na\r\n"x\ny"\nc\n', 1, 3).tolist() == [3, 4, 6]
    assert _csv_row_numbers(b"h\na\nb\nc\n", 1, 2).tolist() == [2, 3]


def test_a_carriage_return_alone_ends_a_line_as_it_does_for_the_csv_reader() -> None:
    """pyarrow's reader (and the standard one) break lines at a lone CR too: rows are numbered
    by those lines, whether a file has quotes or not, and the header is found on them."""
    assert _csv_row_numbers(b"h\ra\r\rb\r\nc\rd", 1, 4).tolist() == [2, 4, 5, 6]
    assert _csv_row_numbers(b'h\r"a"\r\rb\n', 1, 2).tolist() == [2, 4]
    assert _header(b"\r\n\r account ,client_order_id,symbol,side,qty\rA1,c1,IBM,buy,1\r", "b.csv")[:2] == (
        3,
        ["account", "client_order_id", "symbol", "side", "qty"],
    )
    data = (HEADER + "\rA1,c1,IBM,buy,1,,,,\rA1,c2,NOPE,buy,1,,,,\r\n\rA1,c3,IBM,buy,1,,,,\rA1,c4,NOPE,buy,1,,,,").encode()
    with pytest.raises(BasketError) as refused:
        parse_basket(data, "b.csv", rules())
    assert [(bad.row, bad.problem) for bad in refused.value.bad] == [(3, "unknown symbol 'NOPE'"), (6, "unknown symbol 'NOPE'")]
    with pytest.raises(BasketError, match="row 3: not UTF-8"):
        parse_basket(HEADER.encode() + b"\rA1,c1,IBM,buy,1,,,,\rA1,c\xff,IBM,buy,1,,,,\r", "b.csv", rules())


def _not_utf8(*values: bytes) -> pa.Array:
    """A string column holding ``values`` as they are: pyarrow checks nothing it is given so."""
    offsets = np.cumsum([0, *(len(value) for value in values)]).astype(np.int32)
    return pa.Array.from_buffers(pa.string(), len(values), [None, pa.py_buffer(offsets.tobytes()), pa.py_buffer(b"".join(values))])


@pytest.mark.parametrize(
    ("name", "values", "problem"),
    [
        ("account", (b"A1", b"\xffA1"), "row 2: column account is not UTF-8 (invalid start byte)"),
        ("account", (b"A\xff1", b"A1"), "row 1: column account is not UTF-8 (invalid start byte)"),  # inside: trimming reads past it
        ("symbol", (b"IBM", b"IB\xc3"), "row 2: column symbol is not UTF-8 (unexpected end of data)"),
        ("qty", (b"1", b"1\xe2\x82"), "row 2: column qty is not UTF-8 (unexpected end of data)"),
    ],
    ids=["leading", "inside", "cut-short", "qty"],
)
def test_a_parquet_text_column_that_is_not_utf8_is_refused_with_its_first_such_row(name: str, values: tuple[bytes, ...], problem: str) -> None:
    columns = {**base_columns(2), "qty": pa.array(["1", "1"])}
    columns[name] = _not_utf8(*values)
    with pytest.raises(BasketError) as refused:
        parse_basket(parquet(columns), "b.parquet", rules(), parquet=True)
    assert refused.value.problem == problem and not refused.value.bad


def test_a_table_numbers_its_rows_only_when_asked_and_only_once() -> None:
    asked: list[int] = []

    def numbers() -> np.ndarray:
        asked.append(1)
        return np.array([5, 9], dtype=np.int64)

    table = Table({}, 2, numbers)
    assert not asked
    assert [table.row_number(1), table.row_number(0)] == [9, 5] and len(asked) == 1


def test_parquet_decimals_lose_only_their_trailing_zeros_and_integers_are_written_out() -> None:
    decimals = pa.array([Decimal("1.500"), Decimal("2.000"), None, Decimal("0.010")], pa.decimal128(10, 3))
    assert _as_text("qty", decimals, "b.parquet").to_pylist() == ["1.5", "2", "", "0.01"]
    assert _as_text("limit_price", pa.array([5, None, -3]), "b.parquet").to_pylist() == ["5", "", "-3"]
    assert _as_text("symbol", pa.array([" IBM ", None]), "b.parquet").to_pylist() == ["IBM", ""]


@pytest.mark.parametrize(
    ("name", "column", "problem"),
    [
        ("account", pa.array([Decimal("1")], pa.decimal128(5, 0)), "column account has type decimal128(5, 0); expected a string"),
        ("qty", pa.array([True]), "column qty has type bool; expected a decimal, an integer or a string"),
        ("qty", pa.array([1.5], pa.float64()), "column qty holds binary floats (double)"),
    ],
    ids=["decimal-account", "bool-qty", "float-qty"],
)
def test_a_parquet_column_of_another_type_is_refused_by_name(name: str, column: pa.Array, problem: str) -> None:
    with pytest.raises(BasketError) as refused:
        _as_text(name, column, "b.parquet")
    assert refused.value.problem.startswith(problem)


def test_a_parquet_file_without_a_required_column_or_with_one_twice_is_refused() -> None:
    columns = base_columns(1)
    del columns["side"]
    columns["qty"] = pa.array(["1"])
    with pytest.raises(BasketError) as refused:
        parquet_table(parquet(columns), "b.parquet")
    assert refused.value.problem.startswith("header lacks side")
    names = [*base_columns(1), "qty", "qty"]
    twice = pa.Table.from_arrays([pa.array(["A1"]), pa.array(["c1"]), pa.array(["IBM"]), pa.array(["buy"]), pa.array(["1"]), pa.array(["2"])], names=names)
    sink = io.BytesIO()
    pq.write_table(twice, sink)
    with pytest.raises(BasketError) as refused:
        parquet_table(sink.getvalue(), "b.parquet")
    assert refused.value.problem == "column 'qty' appears twice"


def test_parquet_rows_are_read_whole_and_numbered_from_one() -> None:
    columns = base_columns(3)
    columns["qty"] = pa.array([1, 2, 3])
    table = parquet_table(parquet(columns), "b.parquet")
    assert table.rows == 3 and table.column("qty").to_pylist() == ["1", "2", "3"] and table.column("tif").to_pylist() == ["", "", ""]
    assert [table.row_number(index) for index in range(3)] == [1, 2, 3]
