"""Reading a basket file: the known columns of a CSV or Parquet file's bytes as trimmed
text, and where each row stands in the file (its number, for the bad rows).

A basket holds one order per row. Columns, by name (any order, unknown ones ignored):
``TEXT_COLUMNS`` and ``DECIMAL_COLUMNS``; ``REQUIRED`` and one of ``qty`` or ``notional``
must be in the header.

Guarantees:
- A file that cannot be read as a basket (no header, a column missing or named twice,
  not UTF-8 — a CSV file, or a Parquet text column —, not Parquet, a float column) raises
  ``BasketError`` with its ``problem``; a CSV row with the wrong number of fields is a bad
  row, numbered by the line it starts on (the header being row 1; a line ends at a line
  feed, a CRLF or a carriage return alone, as pyarrow's reader breaks lines); Parquet rows
  are counted from 1.
- Text is read as written: decimals stay strings (a Parquet decimal or integer written
  out exactly), never a binary float.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from model.basket.errors import INVALID, BadRow, BasketError

TEXT_COLUMNS = ("account", "client_order_id", "symbol", "side", "type", "tif")
DECIMAL_COLUMNS = ("qty", "notional", "limit_price")
COLUMNS = TEXT_COLUMNS + DECIMAL_COLUMNS
REQUIRED = ("account", "client_order_id", "symbol", "side")

# Arrow's buffers from the system allocator, not pyarrow's default mimalloc: mimalloc keeps
# what a thread freed in that thread's heap, out of reach of the one call that gives a
# load's memory back to the kernel (``actors/runtime/heap.py``); glibc's ``malloc_trim``
# reaches every thread's arena. Measured as fast or faster for reading and checking a file.
pa.set_memory_pool(pa.system_memory_pool())


def is_parquet(name: str) -> bool:
    """A basket file is Parquet when its name ends in ``.parquet``; CSV otherwise."""
    return name.lower().endswith(".parquet")


class Table:
    """The known columns of a file as trimmed strings (``""``: not given), and how a row's
    index maps to its number in the file. ``bad``: rows refused while reading (a row with
    the wrong number of fields), already numbered."""

    def __init__(self, columns: dict[str, pa.Array], rows: int, numbers: Callable[[], np.ndarray], bad: list[BadRow] | None = None) -> None:
        self.columns = columns
        self.rows = rows
        self._numbers = numbers
        self._numbered: np.ndarray | None = None
        self.bad = bad or []

    def column(self, name: str) -> pa.Array:
        found = self.columns.get(name)
        return found if found is not None else pa.array([""] * self.rows, pa.string())

    def row_number(self, index: int) -> int:
        """The row's number in the file (only asked for bad rows: it may read the file again)."""
        if self._numbered is None:
            self._numbered = self._numbers()
        return int(self._numbered[index])


def _header(data: bytes, source: str) -> tuple[int, list[str], list[str]]:
    """The header row: its line number (leading empty lines skipped), its names trimmed, and
    as written (what pyarrow's reader calls the columns)."""
    line = 1
    position = 0
    while True:
        end, after = _line_at(data, position)
        raw = data[position:end]
        if raw:
            break
        if after == end:
            raise BasketError(source, f"row 1: no header (the file is empty); expected {','.join(REQUIRED)},qty|notional")
        position, line = after, line + 1
    try:
        written = next(csv.reader([raw.decode("utf-8")]))
    except (UnicodeDecodeError, csv.Error) as error:
        raise BasketError(source, f"row {line}: cannot read the header: {error}") from None
    names = [name.strip() for name in written]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise BasketError(source, f"row {line}: column {name!r} appears twice in the header")
        seen.add(name)
    _check_header(seen, source, f"row {line}: ")
    return line, names, written


def _line_at(data: bytes, position: int) -> tuple[int, int]:
    """Where the line starting at ``position`` ends and where the next one starts (both
    ``len(data)`` at the end of the file): a line ends at a line feed, a carriage return and
    line feed, or a carriage return alone — as pyarrow's reader and the standard one break
    lines."""
    feed = data.find(b"\n", position)
    end = len(data) if feed < 0 else feed
    carriage = data.find(b"\r", position, end)
    if carriage >= 0:
        end = carriage
    terminator = 2 if data.startswith(b"\r\n", end) else 1 if end < len(data) else 0
    return end, end + terminator


def _line_number(data: bytes, offset: int) -> int:
    """The number of the line ``offset`` is on (from 1), lines broken as by :func:`_line_at`."""
    return data.count(b"\n", 0, offset) + data.count(b"\r", 0, offset) - data.count(b"\r\n", 0, offset) + 1


def _check_header(names: set[str], source: str, where: str) -> None:
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise BasketError(source, f"{where}header lacks {', '.join(missing)} (expected {','.join(REQUIRED)},qty|notional)")
    if "qty" not in names and "notional" not in names:
        raise BasketError(source, f"{where}header has neither qty nor notional")


def csv_table(data: bytes, source: str) -> Table:
    """Read with pyarrow's CSV reader (every known column as text, in parallel blocks). A file
    with a row of the wrong width is read again with the standard library's reader, which
    numbers every row as it goes, so each such row is reported by its line."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    header_line, names, written = _header(data, source)
    known = [name for name in COLUMNS if name in names]
    as_written = dict(zip(names, written, strict=True))
    odd: list[int] = []

    def invalid(row: pacsv.InvalidRow) -> str:
        odd.append(row.actual_columns)
        return "skip"

    try:
        table = pacsv.read_csv(
            pa.BufferReader(data),
            parse_options=pacsv.ParseOptions(invalid_row_handler=invalid, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in written},
                include_columns=[as_written[name] for name in known],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as error:
        return _csv_table_numbered(data, source, header_line, names, str(error))
    if odd:
        return _csv_table_numbered(data, source, header_line, names, "")
    columns = {name: pc.utf8_trim_whitespace(table.column(as_written[name]).combine_chunks()) for name in known}
    rows = table.num_rows
    del table  # the columns as read: the trimmed ones replace them (the numbering keeps only ``data``)
    return Table(columns, rows, lambda: _csv_row_numbers(data, header_line, rows))


def _csv_row_numbers(data: bytes, header_line: int, rows: int) -> np.ndarray:
    """The line each data row starts on, as pyarrow counts rows (empty lines skipped; a line
    ends at a line feed, a carriage return and line feed, or a carriage return alone).
    Without quotes every line is one row; with them, the standard reader (which breaks lines
    the same way) says where rows start."""
    if b'"' not in data:
        raw = np.frombuffer(data, dtype=np.uint8)
        feed = raw == ord("\n")
        lone = raw == ord("\r")  # a carriage return ends a line unless a line feed follows it
        lone[:-1] &= ~feed[1:]
        ends = np.flatnonzero(feed | lone)
        if not len(ends) or ends[-1] != len(raw) - 1:
            ends = np.append(ends, len(raw))
        starts = np.concatenate(([0], ends[:-1] + 1))
        lengths = ends - starts
        # the carriage return of a CRLF: a line's last byte (a lone one would have ended it)
        carriage = (lengths > 0) & (raw[np.maximum(ends - 1, 0)] == ord("\r"))
        nonempty = np.flatnonzero(lengths - carriage > 0) + 1  # line numbers
        return nonempty[nonempty > header_line][:rows]
    reader = csv.reader(io.StringIO(data.decode("utf-8", errors="replace"), newline=""))
    numbers = []
    start = 1
    for fields in reader:
        if fields and start > header_line:
            numbers.append(start)
        start = reader.line_num + 1
    return np.array(numbers[:rows], dtype=np.int64)


def _csv_table_numbered(data: bytes, source: str, header_line: int, names: list[str], failure: str) -> Table:
    """The slow, exact way: the standard library's reader, row by row with its line number.
    Rows with the wrong number of fields are bad rows; the rest are read as by pyarrow."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = _line_number(data, error.start)
        raise BasketError(source, f"row {line}: not UTF-8 ({error.reason} at byte {error.start})") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    positions = {name: names.index(name) for name in COLUMNS if name in names}
    cells: dict[str, list[str]] = {name: [] for name in positions}
    numbers: list[int] = []
    bad: list[BadRow] = []
    start = 1
    try:
        for fields in reader:
            if fields and start > header_line:
                if len(fields) != len(names):
                    bad.append(BadRow(start, INVALID, f"{len(fields)} fields but the header names {len(names)}"))
                else:
                    numbers.append(start)
                    for name, position in positions.items():
                        cells[name].append(fields[position].strip())
            start = reader.line_num + 1
    except csv.Error as error:
        raise BasketError(source, f"row {start}: {error}; reading stopped there") from None
    if not bad and not numbers and failure:
        raise BasketError(source, f"cannot read it as CSV: {failure}")
    columns = {name: pa.array(values, pa.string()) for name, values in cells.items()}
    numbered = np.array(numbers, dtype=np.int64)
    return Table(columns, len(numbers), lambda: numbered, bad)


def parquet_table(data: bytes, source: str) -> Table:
    """The known columns of a Parquet file as text: strings as they are, integers and
    decimals written out exactly (a decimal's trailing zeros dropped). A float column is
    refused: its values are binary fractions, not the decimals the sender meant."""
    try:
        parquet = pq.ParquetFile(pa.BufferReader(data))
        schema = parquet.schema_arrow
    except (pa.ArrowException, OSError) as error:
        raise BasketError(source, f"not a Parquet file: {error}") from None
    names = list(schema.names)
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise BasketError(source, f"column {duplicated[0]!r} appears twice")
    _check_header(set(names), source, "")
    known = [name for name in COLUMNS if name in names]
    try:
        table = parquet.read(columns=known)
    except (pa.ArrowException, OSError) as error:
        raise BasketError(source, f"cannot read it: {error}") from None
    columns = {name: _as_text(name, table.column(name).combine_chunks(), source) for name in known}
    rows = table.num_rows
    return Table(columns, rows, lambda: np.arange(1, rows + 1, dtype=np.int64))


def _as_text(name: str, column: pa.Array, source: str) -> pa.Array:
    kind = column.type
    if pa.types.is_dictionary(kind):
        column, kind = column.cast(kind.value_type), kind.value_type
    if pa.types.is_floating(kind):
        raise BasketError(
            source, f"column {name} holds binary floats ({kind}), which are not exact: give it as decimal strings or a Parquet decimal type"
        )
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        text = column.cast(pa.string())
        _check_utf8(name, text, source)
    elif pa.types.is_integer(kind):
        text = column.cast(pa.string())
    elif pa.types.is_decimal(kind) and name in DECIMAL_COLUMNS:
        text = column.cast(pa.string())
        if kind.scale > 0:  # "1.500" → "1.5", "2.000" → "2": the value, not the column's scale
            text = pc.replace_substring_regex(pc.replace_substring_regex(text, r"(\.[0-9]*?)0+$", r"\1"), r"\.$", "")
    else:
        raise BasketError(source, f"column {name} has type {kind}; expected {'a decimal, an integer or a string' if name in DECIMAL_COLUMNS else 'a string'}")
    return pc.utf8_trim_whitespace(pc.fill_null(text, ""))


def _check_utf8(name: str, text: pa.Array, source: str) -> None:
    """``BasketError`` naming the first row of a Parquet text column whose bytes are not
    UTF-8: the Parquet reader does not check them, and pyarrow's text functions fail on some
    (``ArrowInvalid``) and pass others on."""
    try:
        text.validate(full=True)
    except pa.ArrowInvalid as invalid:
        for row, value in enumerate(text.cast(pa.binary()).to_pylist(), start=1):
            try:
                (value or b"").decode("utf-8")
            except UnicodeDecodeError as error:
                raise BasketError(source, f"row {row}: column {name} is not UTF-8 ({error.reason})") from None
        raise BasketError(source, f"column {name} cannot be read as text: {invalid}") from None
