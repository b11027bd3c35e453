from __future__ import annotations

import json
import os
import pickle
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from model import fixed
from model.backoffice import (
    ALLOCATIONS_HEADER,
    BackOfficeFileError,
    Book,
    Break,
    breaks_to_json,
    by_account,
    format_breaks,
    parse_positions,
    position_rows,
    reconcile,
)
from snapshots.files import read_positions, write_allocations_csv, write_positions_csv


def D(text: str) -> int:
    return fixed.parse(text)


def write(tmp_path: Path, text: str, name: str = "positions.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refused_rows(path: Path) -> list[str]:
    with pytest.raises(BackOfficeFileError) as refused:
        read_positions(path)
    return refused.value.problems


# --- read_positions ------------------------------------------------------------------------------


def test_a_good_file_reads_fractional_negative_and_zero_quantities(tmp_path: Path) -> None:
    path = write(tmp_path, "account,symbol,qty\nA1,IBM,100\nA1,AAPL,0.5\nB2,IBM,-20\nB2,MSFT,0\nB2,TINY,0.000000001\n")
    assert read_positions(path) == {
        ("A1", "IBM"): D("100"),
        ("A1", "AAPL"): 500_000_000,
        ("B2", "IBM"): D("-20"),
        ("B2", "MSFT"): 0,
        ("B2", "TINY"): 1,
    }


def test_a_row_with_empty_symbol_and_qty_declares_an_account_holding_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, "account,symbol,qty\nC3,,\nA1,IBM,1\nA1,,\n")
    positions = read_positions(path)
    assert positions == {("C3", ""): 0, ("A1", "IBM"): D("1"), ("A1", ""): 0}
    assert by_account(positions) == {"C3": {}, "A1": {"IBM": D("1")}}


def test_columns_may_come_in_any_order_and_extra_columns_are_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, "qty,note,symbol,account,cost\n2.5,hello,IBM,A1,300.00\n")
    assert read_positions(path) == {("A1", "IBM"): D("2.5")}


def test_blank_lines_are_skipped_and_do_not_shift_row_numbers(tmp_path: Path) -> None:
    path = write(tmp_path, "account,symbol,qty\nA1,IBM,1\n\nA1,IBM,x\n\n\n")
    assert refused_rows(path) == ["row 4: qty for A1 IBM: not a decimal number with at most 9 places: 'x'"]
    assert read_positions(write(tmp_path, "account,symbol,qty\nA1,IBM,1\n\n\n", "ok.csv")) == {("A1", "IBM"): D("1")}


def test_a_quoted_field_may_span_lines_and_row_numbers_follow_the_lines(tmp_path: Path) -> None:
    path = write(tmp_path, 'account,symbol,qty,note\nA1,IBM,1,"two\nlines"\nA1,MSFT,x,\n')
    assert refused_rows(path) == ["row 4: qty for A1 MSFT: not a decimal number with at most 9 places: 'x'"]


def test_a_byte_order_mark_and_windows_line_endings_are_read(tmp_path: Path) -> None:
    path = tmp_path / "positions.csv"
    path.write_bytes(b"\xef\xbb\xbfaccount,symbol,qty\r\nA1,IBM,3\r\n")
    assert read_positions(path) == {("A1", "IBM"): D("3")}


def test_every_bad_row_is_listed_by_its_row_number_and_nothing_is_returned(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "account,symbol,qty\n"  # row 1
        "A1,IBM,10\n"  # row 2: good
        "A1,AAPL\n"  # row 3: missing column
        ",IBM,5\n"  # row 4: empty account
        "A2,,5\n"  # row 5: empty symbol with a qty
        "A2,IBM,1e3\n"  # row 6: bad decimal
        "A2,IBM,0.0000000001\n"  # row 7: ten places
        "A1,IBM,11\n"  # row 8: duplicate of row 2
        "A3,IBM,\n"  # row 9: empty qty
        "A3,IBM,1,surplus\n"  # row 10: more fields than the header
        "C3,,\n"  # row 11: good
        "C3,,\n",  # row 12: duplicate of row 11
    )
    problems = refused_rows(path)
    assert [problem.split(":")[0] for problem in problems] == [f"row {n}" for n in (3, 4, 5, 6, 7, 8, 9, 10, 12)]
    assert problems[0] == "row 3: missing qty"
    assert problems[1] == "row 4: empty account"
    assert problems[2].startswith("row 5: empty symbol")
    assert "not a decimal" in problems[3] and "'1e3'" in problems[3]
    assert problems[5] == "row 8: duplicate position A1 IBM (first on row 2)"
    assert problems[6] == "row 9: empty qty for A3 IBM"
    assert problems[7] == "row 10: 4 fields but the header names 3"
    assert problems[8] == "row 12: duplicate row for account C3 with no positions (first on row 11)"


def test_the_error_message_names_the_file_and_every_bad_row(tmp_path: Path) -> None:
    path = write(tmp_path, "account,symbol,qty\n,IBM,1\nA1,IBM,x\n")
    with pytest.raises(BackOfficeFileError) as refused:
        read_positions(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: row 2: ") and "; row 3: " in message


def test_the_error_survives_pickling_intact(tmp_path: Path) -> None:
    error = BackOfficeFileError("p.csv", ["row 2: empty account"])
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.path, copy.problems, str(copy)) == ("p.csv", ["row 2: empty account"], str(error))


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "row 1: no header (the file is empty); expected account,symbol,qty"),
        ("\n\n", "row 1: no header (the file is empty); expected account,symbol,qty"),
        ("account,symbol\nA1,IBM\n", "row 1: header lacks qty (expected account,symbol,qty)"),
        ("account,symbol,qty,qty\n", "row 1: column 'qty' appears twice in the header"),
    ],
)
def test_a_bad_header_refuses_the_file(tmp_path: Path, text: str, problem: str) -> None:
    assert refused_rows(write(tmp_path, text)) == [problem]


def test_unbalanced_quotes_stop_the_reading_with_a_row_number(tmp_path: Path) -> None:
    path = write(tmp_path, 'account,symbol,qty\nA1,IBM,x\nA1,"IBM,1\nA2,IBM,1\n')
    problems = refused_rows(path)
    assert problems[0].startswith("row 2: ")
    assert problems[1] == "row 3: unexpected end of data; reading stopped there"


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "positions.csv"
    path.write_bytes(b"account,symbol,qty\nA1,IBM,1\nA1,\xff\xfe,1\n")
    assert refused_rows(path) == ["row 3: not UTF-8 text (invalid start byte); reading stopped there"]


# --- reconcile -------------------------------------------------------------------------------------


BOOK: Book = {
    "A1": {"IBM": D("100"), "AAPL": D("0.5")},
    "A2": {"IBM": D("-20"), "MSFT": D("7")},
    "A3": {},
}


def copy(book: Book) -> Book:
    return {account: dict(held) for account, held in book.items()}


def test_identical_books_have_no_breaks() -> None:
    assert reconcile(BOOK, copy(BOOK)) == []


def test_a_zero_quantity_counts_as_no_position() -> None:
    theirs = copy(BOOK)
    theirs["A1"]["MSFT"] = 0
    theirs["A3"]["IBM"] = 0
    assert reconcile(BOOK, theirs) == []


def test_planted_breaks_of_each_kind_are_found_and_only_those() -> None:
    theirs = copy(BOOK)
    del theirs["A3"]  # missing_account, theirs lacks it
    theirs["Z9"] = {"IBM": D("1"), "MSFT": D("2")}  # missing_account, ours lacks it: one break, not two
    del theirs["A1"]["AAPL"]  # missing_symbol, theirs lacks it
    theirs["A2"]["GOOG"] = D("-3")  # missing_symbol, ours lacks it
    theirs["A2"]["IBM"] = D("-20.000000001")  # qty_mismatch
    assert reconcile(BOOK, theirs) == [
        Break(kind="missing_symbol", account="A1", symbol="AAPL", ours=D("0.5"), theirs=None, side="theirs"),
        Break(kind="missing_symbol", account="A2", symbol="GOOG", ours=None, theirs=D("-3"), side="ours"),
        Break(kind="qty_mismatch", account="A2", symbol="IBM", ours=D("-20"), theirs=D("-20.000000001"), side=None),
        Break(kind="missing_account", account="A3", symbol=None, ours=None, theirs=None, side="theirs"),
        Break(kind="missing_account", account="Z9", symbol=None, ours=None, theirs=None, side="ours"),
    ]


def test_a_position_zeroed_on_one_side_is_a_missing_symbol() -> None:
    theirs = copy(BOOK)
    theirs["A1"]["IBM"] = 0
    assert reconcile(BOOK, theirs) == [Break(kind="missing_symbol", account="A1", symbol="IBM", ours=D("100"), theirs=None, side="theirs")]


def test_an_account_holding_nothing_still_counts_as_present() -> None:
    assert reconcile({"A3": {}}, {"A3": {"IBM": 0}}) == []
    assert reconcile({"A3": {}}, {}) == [Break(kind="missing_account", account="A3", symbol=None, ours=None, theirs=None, side="theirs")]


def test_breaks_are_sorted_by_account_then_symbol() -> None:
    ours: Book = {"B": {"Z": D("1"), "A": D("1")}, "A": {"M": D("1")}}
    theirs: Book = {"B": {}, "A": {}}
    assert [(item.account, item.symbol) for item in reconcile(ours, theirs)] == [("A", "M"), ("B", "A"), ("B", "Z")]


books = st.dictionaries(
    st.text("ABC123", min_size=1, max_size=3),
    st.dictionaries(st.text("XYZ", min_size=1, max_size=3), st.integers(-(10**18), 10**18), max_size=5),
    max_size=6,
)


@given(books)
def test_a_book_reconciled_against_itself_has_no_breaks(book: Book) -> None:
    assert reconcile(book, copy(book)) == []


@given(books, st.data())
def test_changing_one_nonzero_quantity_yields_exactly_one_qty_mismatch(book: Book, data: st.DataObject) -> None:
    held = [(account, symbol) for account, symbols in book.items() for symbol, qty in symbols.items() if qty]
    if not held:
        return
    account, symbol = data.draw(st.sampled_from(held))
    change = data.draw(st.integers(-(10**9), 10**9).filter(lambda n: n != 0 and n != -book[account][symbol]))
    theirs = copy(book)
    theirs[account][symbol] += change
    assert reconcile(book, theirs) == [
        Break(kind="qty_mismatch", account=account, symbol=symbol, ours=book[account][symbol], theirs=theirs[account][symbol], side=None)
    ]


# --- format_breaks / breaks_to_json ---------------------------------------------------------------


PLANTED = [
    Break(kind="missing_symbol", account="A1", symbol="AAPL", ours=D("0.5"), theirs=None, side="theirs"),
    Break(kind="missing_symbol", account="A2", symbol="GOOG", ours=None, theirs=D("-3"), side="ours"),
    Break(kind="qty_mismatch", account="A2", symbol="IBM", ours=D("-20"), theirs=D("-20.000000001"), side=None),
    Break(kind="missing_account", account="A3", symbol=None, ours=None, theirs=None, side="theirs"),
]


def test_breaks_format_as_one_line_each_with_decimal_strings() -> None:
    assert format_breaks(PLANTED).splitlines() == [
        "A1 AAPL: missing from theirs (ours 0.5)",
        "A2 GOOG: missing from ours (theirs -3)",
        "A2 IBM: qty mismatch, ours -20, theirs -20.000000001 (ours - theirs = 0.000000001)",
        "A3: account missing from theirs",
    ]
    assert format_breaks([]) == ""


def test_breaks_as_json_carry_decimal_strings() -> None:
    document = breaks_to_json(PLANTED)
    assert json.loads(json.dumps(document)) == document
    assert document[0] == {"kind": "missing_symbol", "account": "A1", "symbol": "AAPL", "ours": "0.5", "theirs": None, "side": "theirs"}
    assert document[2]["theirs"] == "-20.000000001" and document[2]["side"] is None
    assert document[3] == {"kind": "missing_account", "account": "A3", "symbol": None, "ours": None, "theirs": None, "side": "theirs"}


# --- writers ---------------------------------------------------------------------------------------


def export_rows(book: Book) -> Iterator[tuple[str, str, int, int]]:
    for account, held in book.items():
        if not held:
            yield account, "", 0, 0
        for symbol, qty in held.items():
            yield account, symbol, qty, fixed.buy_cost(abs(qty), D("150.25"))


def test_a_positions_export_reconciles_against_itself_with_no_breaks(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    assert write_positions_csv(path, export_rows(BOOK)) == 5
    assert reconcile(BOOK, by_account(read_positions(path))) == []


def test_the_positions_export_is_plain_decimal_text(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    write_positions_csv(path, [("A1", "AAPL", D("0.5"), D("75.13")), ("B2", "IBM", D("-20"), D("-3005")), ("C3", "", 0, 0)])
    assert path.read_text() == "account,symbol,qty,cost\nA1,AAPL,0.5,75.13\nB2,IBM,-20,-3005.00\nC3,,,\n"


@given(books)
def test_any_book_survives_export_and_read_back(tmp_path_factory: pytest.TempPathFactory, book: Book) -> None:
    path = tmp_path_factory.mktemp("export") / "positions.csv"
    write_positions_csv(path, export_rows(book))
    assert reconcile(book, by_account(read_positions(path))) == []


def test_the_allocations_export_writes_decimal_strings(tmp_path: Path) -> None:
    path = tmp_path / "allocations.csv"
    rows = [("2024-05-01", "BLK1", "A1", "O7", "IBM", "buy", D("33.333333333"), D("150.25"), D("5008.34"))]
    assert write_allocations_csv(path, rows) == 1
    assert path.read_text().splitlines() == [",".join(ALLOCATIONS_HEADER), "2024-05-01,BLK1,A1,O7,IBM,buy,33.333333333,150.25,5008.34"]


def test_writers_stream_a_generator_of_many_rows(tmp_path: Path) -> None:
    path = tmp_path / "positions.csv"
    rows = ((f"A{n % 1000}", f"S{n}", n, n * fixed.CENT) for n in range(1, 100_001))
    assert write_positions_csv(path, rows) == 100_000
    assert len(read_positions(path)) == 100_000


def test_a_position_without_account_or_symbol_is_not_exported(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    with pytest.raises(ValueError, match="empty account"):
        write_positions_csv(path, [("", "IBM", D("1"), 0)])
    with pytest.raises(ValueError, match="needs a symbol"):
        write_positions_csv(path, [("A1", "", D("1"), 0)])
    assert os.listdir(tmp_path) == []


# --- pure: lines in, rows out ----------------------------------------------------------------------


def test_positions_parse_from_lines_without_a_file() -> None:
    lines = [b"\xef\xbb\xbfaccount,symbol,qty\n", b"A1,IBM,1.5\n", b"C3,,\n"]
    assert parse_positions(lines, "memory") == {("A1", "IBM"): D("1.5"), ("C3", ""): 0}
    with pytest.raises(BackOfficeFileError) as refused:
        parse_positions([b"account,symbol,qty\n", b",IBM,1\n"], "memory")
    assert str(refused.value) == "memory: row 2: empty account"


def test_position_rows_are_decimal_strings_and_lazy() -> None:
    assert list(position_rows([("A1", "IBM", D("2"), D("300.5")), ("C3", "", 0, 0)])) == [["A1", "IBM", "2", "300.50"], ["C3", "", "", ""]]
    rows = position_rows([("", "IBM", D("1"), 0)])  # nothing checked until read
    with pytest.raises(ValueError, match="empty account"):
        next(rows)
