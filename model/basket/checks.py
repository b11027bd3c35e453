"""Basket files: many orders in one CSV or Parquet file (``admin orders load FILE``, the
``load_orders`` request), checked whole and turned into columns for the account shards.

A basket holds one order per row. Columns, by name (any order, unknown ones ignored):
``account``, ``client_order_id``, ``symbol``, ``side`` (buy/sell), ``qty`` or ``notional``
(exactly one per row), ``type`` (market/limit; default market), ``limit_price`` (a limit
order's; a market order takes none), ``tif`` (day/gtc/ioc/fok/opg; default opg). Every row
passes exactly the checks a ``new_order`` passes at the gateway
(``server/gateway/validation.py``: the same rules, error codes and words), and its account
must be one the loading user trades for.

The checks run over columns (pyarrow compute and numpy), each distinct account, symbol and
word looked up once; decimals become fixed-point ints (``model.fixed``, units of 10^-9) by
exact decimal arithmetic — strings checked against the grammar ``fixed.parse`` takes, then
read as 128-bit decimals — never through a binary float. A float column is refused.

Guarantees:
- All or nothing: a file with any bad row is refused with every bad row's number (CSV: the
  line the row starts on, the header being row 1; Parquet: rows counted from 1) and the
  first problem of each, and nothing is built from it.
- A basket that passes holds no two rows with the same ``(account, client_order_id)``,
  and each row's numbers are exactly those of its text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import NamedTuple

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from model import fixed
from model.enums import OrderType, Side, TimeInForce
from model.instruments import Instrument
from model.messages.bulk import OrderColumns

TEXT_COLUMNS = ("account", "client_order_id", "symbol", "side", "type", "tif")
DECIMAL_COLUMNS = ("qty", "notional", "limit_price")
COLUMNS = TEXT_COLUMNS + DECIMAL_COLUMNS
REQUIRED = ("account", "client_order_id", "symbol", "side")
ORDER_TYPES = (OrderType.MARKET, OrderType.LIMIT)  # a basket's orders; stops are placed one by one
TIFS = tuple(TimeInForce)
DEFAULT_TYPE = OrderType.MARKET
DEFAULT_TIF = TimeInForce.OPG  # baskets are mostly orders for the open
NOTIONAL_TIFS = (TimeInForce.DAY, TimeInForce.IOC, TimeInForce.OPG)  # as the gateway's ``new_order``

# What ``fixed.parse`` accepts, for RE2: no exponent, no '+', no blanks, at most nine places.
_DECIMAL = r"^-?[0-9]{1,18}(\.[0-9]{1,9})?$"
_DECIMAL_TYPE = pa.decimal128(27, fixed.DECIMALS)  # 18 whole digits and 9 places, exactly
_PRINTABLE_ASCII = r"^[\x20-\x7e]*$"
_INVALID = "invalid_request"


def is_parquet(name: str) -> bool:
    """A basket file is Parquet when its name ends in ``.parquet``; CSV otherwise."""
    return name.lower().endswith(".parquet")


class BadRow(NamedTuple):
    """One bad row: its number, the error code a ``new_order`` would get for the same
    problem (``invalid_request``, ``unknown_symbol``, ``forbidden``) and the problem."""

    row: int
    code: str
    problem: str


class BasketError(ValueError):
    """A basket refused whole: ``problem`` for the file as a whole (no header, not UTF-8,
    too many rows, a float column), or ``bad``, every bad row in row order."""

    def __init__(self, source: str, problem: str = "", bad: list[BadRow] | None = None, listed: int = 1000) -> None:
        self.source = source
        self.problem = problem
        self.bad = bad or []
        self.listed = listed
        super().__init__(self.describe())

    def summary(self) -> str:
        """One line: the file and what is wrong with it."""
        if self.problem:
            return f"{self.source}: {self.problem}; nothing loaded"
        rows = "1 bad row" if len(self.bad) == 1 else f"{len(self.bad)} bad rows"
        return f"{self.source}: {rows}, nothing loaded"

    def describe(self) -> str:
        """The summary, then each of the first ``listed`` bad rows with its problem, then the
        numbers of the rest (as ranges)."""
        if self.problem or not self.bad:
            return self.summary()
        shown = "; ".join(f"row {bad.row}: {bad.problem}" for bad in self.bad[: self.listed])
        rest = self.unlisted()
        return f"{self.summary()}: {shown}" + (f"; and rows {rest}" if rest else "")

    def unlisted(self) -> str:
        """The numbers of the bad rows beyond the first ``listed``, as ranges (``7, 9-12``)."""
        return number_ranges([bad.row for bad in self.bad[self.listed :]])


def refused_rows(refused: BasketError) -> dict[str, object]:
    """A refusal's bad rows for a JSON answer: how many, the first ``listed`` with their code
    and problem, and the numbers of the rest."""
    return {
        "bad_rows": len(refused.bad),
        "problems": [{"row": bad.row, "code": bad.code, "problem": bad.problem} for bad in refused.bad[: refused.listed]],
        "other_rows": refused.unlisted(),
    }


def number_ranges(numbers: list[int]) -> str:
    """Ascending numbers as ``1, 3-5, 9``."""
    parts: list[str] = []
    start = previous = None
    for number in numbers:
        if previous is not None and number == previous + 1:
            previous = number
            continue
        if start is not None:
            parts.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = number
    if start is not None:
        parts.append(str(start) if start == previous else f"{start}-{previous}")
    return ", ".join(parts)


@dataclass(frozen=True)
class BasketRules:
    """What a basket is checked against: the instruments, the accounts the loading user may
    trade for (``accounts``; ``refusal`` says why another account is refused), and the limits."""

    instruments: Mapping[str, Instrument]
    accounts: Collection[str]
    refusal: Callable[[str], str]
    max_rows: int
    max_id_length: int
    errors_listed: int = 1000


class Basket:
    """A checked basket: its orders in file order, as columns (numpy object arrays, so any
    subset of rows is gathered at once), and each row's account as a code into
    ``account_names`` (its distinct accounts)."""

    def __init__(self, columns: dict[str, np.ndarray], account_codes: np.ndarray, account_names: list[str]) -> None:
        self.columns = columns
        self.account_codes = account_codes
        self.account_names = account_names

    def __len__(self) -> int:
        return len(self.account_codes)

    def orders(self, rows: np.ndarray | None = None) -> OrderColumns:
        """The orders of ``rows`` (indexes, in the order given; ``None``: all)."""
        picked = self.columns if rows is None else {name: values[rows] for name, values in self.columns.items()}
        return OrderColumns(**{name: values.tolist() for name, values in picked.items()})

    def chunks(self, shard_of: Callable[[str], str], size: int) -> list[tuple[str, OrderColumns]]:
        """The orders split by the shard that owns their account (``shard_of``), each shard's
        in file order, in chunks of at most ``size``: ``(shard, orders)``, shard by shard."""
        shards = [shard_of(account) for account in self.account_names]
        names = sorted(set(shards))
        code_of = {name: code for code, name in enumerate(names)}
        shard_codes = np.array([code_of[shard] for shard in shards] or [0], dtype=np.int64)[self.account_codes]
        found: list[tuple[str, OrderColumns]] = []
        for code, name in enumerate(names):
            rows = np.flatnonzero(shard_codes == code)
            for start in range(0, len(rows), size):
                found.append((name, self.orders(rows[start : start + size])))
        return found


_CHUNKS_ENCODER = msgspec.msgpack.Encoder()
_CHUNKS_DECODER = msgspec.msgpack.Decoder(list[tuple[str, OrderColumns]])


def encode_chunks(chunks: list[tuple[str, OrderColumns]]) -> bytes:
    """``Basket.chunks`` as bytes, to hand them to another process (msgpack: far quicker than a pickle)."""
    return _CHUNKS_ENCODER.encode(chunks)


def decode_chunks(data: bytes) -> list[tuple[str, OrderColumns]]:
    return _CHUNKS_DECODER.decode(data)


def parse_basket(data: bytes, source: str, rules: BasketRules, parquet: bool = False) -> Basket:
    """The checked basket of a CSV (UTF-8, header row) or Parquet file's bytes, or
    ``BasketError`` naming every bad row (``source`` names the file in it)."""
    table = _parquet_table(data, source) if parquet else _csv_table(data, source)
    if table.rows > rules.max_rows:
        raise BasketError(source, f"{table.rows:,} orders, more than the {rules.max_rows:,} a basket may hold ([basket] max_rows)")
    checks = _Checks(table, rules)
    basket = checks.run()
    if table.bad or checks.bad_rows:
        bad = sorted(table.bad + [BadRow(table.row_number(index), code, problem) for index, code, problem in checks.bad_rows])
        raise BasketError(source, bad=bad, listed=rules.errors_listed)
    return basket


# --- reading: every column we know, as text ------------------------------------------------------


class _Table:
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
        end = data.find(b"\n", position)
        raw = data[position:] if end < 0 else data[position:end]
        if raw.strip(b"\r"):
            break
        if end < 0:
            raise BasketError(source, f"row 1: no header (the file is empty); expected {','.join(REQUIRED)},qty|notional")
        position, line = end + 1, line + 1
    try:
        written = next(csv.reader([raw.decode("utf-8").rstrip("\r")]))
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


def _check_header(names: set[str], source: str, where: str) -> None:
    missing = [name for name in REQUIRED if name not in names]
    if missing:
        raise BasketError(source, f"{where}header lacks {', '.join(missing)} (expected {','.join(REQUIRED)},qty|notional)")
    if "qty" not in names and "notional" not in names:
        raise BasketError(source, f"{where}header has neither qty nor notional")


def _csv_table(data: bytes, source: str) -> _Table:
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
    return _Table(columns, table.num_rows, lambda: _csv_row_numbers(data, header_line, table.num_rows))


def _csv_row_numbers(data: bytes, header_line: int, rows: int) -> np.ndarray:
    """The line each data row starts on, as pyarrow counts rows (empty lines skipped). Without
    quotes every line is one row; with them, the standard reader says where rows start."""
    if b'"' not in data:
        raw = np.frombuffer(data, dtype=np.uint8)
        ends = np.flatnonzero(raw == ord("\n"))
        if not len(raw) or raw[-1] != ord("\n"):
            ends = np.append(ends, len(raw))
        starts = np.concatenate(([0], ends[:-1] + 1))
        lengths = ends - starts
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


def _csv_table_numbered(data: bytes, source: str, header_line: int, names: list[str], failure: str) -> _Table:
    """The slow, exact way: the standard library's reader, row by row with its line number.
    Rows with the wrong number of fields are bad rows; the rest are read as by pyarrow."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
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
                    bad.append(BadRow(start, _INVALID, f"{len(fields)} fields but the header names {len(names)}"))
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
    return _Table(columns, len(numbers), lambda: numbered, bad)


def _parquet_table(data: bytes, source: str) -> _Table:
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
    return _Table(columns, table.num_rows, lambda: np.arange(1, table.num_rows + 1, dtype=np.int64))


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
    elif pa.types.is_integer(kind):
        text = column.cast(pa.string())
    elif pa.types.is_decimal(kind) and name in DECIMAL_COLUMNS:
        text = column.cast(pa.string())
        if kind.scale > 0:  # "1.500" → "1.5", "2.000" → "2": the value, not the column's scale
            text = pc.replace_substring_regex(pc.replace_substring_regex(text, r"(\.[0-9]*?)0+$", r"\1"), r"\.$", "")
    else:
        raise BasketError(source, f"column {name} has type {kind}; expected {'a decimal, an integer or a string' if name in DECIMAL_COLUMNS else 'a string'}")
    return pc.utf8_trim_whitespace(pc.fill_null(text, ""))


# --- checking: the gateway's rules over columns ---------------------------------------------------


def _lookup(column: pa.Array, look: Callable[[str], int]) -> np.ndarray:
    """``look`` of each row's value, each distinct value looked up once."""
    encoded = pc.dictionary_encode(column)
    table = np.array([look(value) for value in encoded.dictionary.to_pylist()] or [0], dtype=np.int64)
    return table[encoded.indices.to_numpy(zero_copy_only=False)]


def _words(column: pa.Array, members: tuple[str, ...], default: str | None) -> np.ndarray:
    """The index of each row's word in ``members`` (``default`` for an empty cell), -1 for
    any other word, -2 for an empty cell without a default."""
    index = {member: at for at, member in enumerate(members)}
    if default is not None:
        index[""] = index[default]
    return _lookup(column, lambda word: index.get(word, -2 if word == "" else -1))


class _Fixed(NamedTuple):
    given: np.ndarray  # the cell is not empty
    readable: np.ndarray  # ... and a decimal ``fixed.parse`` takes
    fits: np.ndarray  # ... whose 10^-9 units fit an int64 (what every message and record holds)
    value: np.ndarray  # int64 units of 10^-9 (0 where not readable or too large)


def _fixed(column: pa.Array) -> _Fixed:
    """Decimal strings to fixed point: checked against ``fixed.parse``'s grammar, then read as
    128-bit decimals with nine places, whose integers are the 10^-9 units exactly."""
    given = pc.not_equal(column, "").to_numpy(zero_copy_only=False)
    grammar = pc.match_substring_regex(column, _DECIMAL)
    decimals = pc.if_else(grammar, column, "0").cast(_DECIMAL_TYPE)
    words = np.frombuffer(decimals.buffers()[1], dtype="<i8").reshape(-1, 2)[decimals.offset : decimals.offset + len(decimals)]
    low, high = words[:, 0], words[:, 1]
    fits = high == (low >> 63)  # the high word is the low word's sign: the value fits an int64
    readable = grammar.to_numpy(zero_copy_only=False) & given
    return _Fixed(given, readable, fits, np.where(readable & fits, low, 0))


class _Checks:
    """The checks of ``server/gateway/validation.to_new_order``, in its order, over columns.
    Each row keeps its first problem (``bad_rows``: ``(index, code, problem)``)."""

    def __init__(self, table: _Table, rules: BasketRules) -> None:
        self.table = table
        self.rules = rules
        self.rows = table.rows
        self.bad = np.zeros(self.rows, dtype=bool)
        self.bad_rows: list[tuple[int, str, str]] = []
        self.account_names: pa.Array = pa.array([], pa.string())
        self.account_codes = np.zeros(0, dtype=np.int64)

    def fail(self, mask: np.ndarray, code: str, problem: Callable[[int], str]) -> None:
        fresh = np.flatnonzero(mask & ~self.bad)
        self.bad[fresh] = True
        self.bad_rows.extend((int(index), code, problem(int(index))) for index in fresh)

    def text(self, name: str, index: int) -> str:
        value: str = self.table.column(name)[index].as_py()
        return value

    def run(self) -> Basket:
        table, rules = self.table, self.rules
        accounts = table.column("account")
        self._accounts(accounts)
        ids = table.column("client_order_id")
        self._client_order_ids(ids)
        symbols = self._symbols(table.column("symbol"))
        sides = self._word("side", tuple(Side), None)
        order_types = self._word("type", ORDER_TYPES, DEFAULT_TYPE)
        tifs = self._word("tif", TIFS, DEFAULT_TIF)
        qty, notional, price = (self._decimal(name) for name in DECIMAL_COLUMNS)
        instruments = list(rules.instruments.values())
        known = np.maximum(symbols, 0)
        self.fail(qty.given == notional.given, _INVALID, lambda _: "give exactly one of qty or notional")
        self._quantities(qty, known, instruments)
        self._notionals(notional, known, instruments, order_types, tifs)
        self._prices(price, known, instruments, order_types)
        self.fail((tifs == TIFS.index(TimeInForce.FOK)) & ~qty.given, _INVALID, lambda _: "fok orders need qty")
        self._duplicates(accounts, ids)
        if self.bad.any():
            return Basket({}, np.zeros(0, dtype=np.int64), [])
        names = self.account_names.to_pylist()  # one string object per account, shared by its rows
        symbol_names = np.array([instrument.symbol for instrument in instruments] or [""], dtype=object)
        return Basket(
            {
                "accounts": np.array(names or [""], dtype=object)[self.account_codes],
                "client_order_ids": ids.to_numpy(zero_copy_only=False).astype(object),
                "symbols": symbol_names[known],
                "sides": np.array(list(Side), dtype=object)[sides],
                "order_types": np.array(list(ORDER_TYPES), dtype=object)[order_types],
                "tifs": np.array(TIFS, dtype=object)[tifs],
                "qty": _maybe(qty),
                "notional": _maybe(notional),
                "price": _maybe(price),
            },
            self.account_codes,
            names,
        )

    def _accounts(self, accounts: pa.Array) -> None:
        """Each distinct account looked up once, in the set of the loading user's accounts."""
        encoded = pc.dictionary_encode(accounts)
        self.account_names = encoded.dictionary
        self.account_codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        allowed = pc.is_in(encoded.dictionary, value_set=pa.array(list(self.rules.accounts), pa.string())).to_numpy(zero_copy_only=False)
        empty = pc.equal(encoded.dictionary, "").to_numpy(zero_copy_only=False)
        if not len(allowed):
            return
        codes = self.account_codes
        self.fail(empty[codes], _INVALID, lambda _: "missing account")
        self.fail(~allowed[codes], "forbidden", lambda index: self.rules.refusal(self.account_names[codes[index]].as_py()))

    def _client_order_ids(self, ids: pa.Array) -> None:
        longest = self.rules.max_id_length
        lengths = pc.utf8_length(ids).to_numpy(zero_copy_only=False)
        ascii_printable = pc.match_substring_regex(ids, _PRINTABLE_ASCII).to_numpy(zero_copy_only=False)
        printable = ascii_printable.copy()
        for index in np.flatnonzero(~ascii_printable):  # beyond ASCII: Python's own rule, as the gateway
            printable[index] = self.text("client_order_id", int(index)).isprintable()
        problem = f"client_order_id must be 1 to {longest} printable characters"
        self.fail((lengths < 1) | (lengths > longest) | ~printable, _INVALID, lambda _: problem)

    def _symbols(self, symbols: pa.Array) -> np.ndarray:
        order = {symbol: at for at, symbol in enumerate(self.rules.instruments)}
        found = _lookup(symbols, lambda symbol: order.get(symbol, -2 if symbol == "" else -1))
        self.fail(found == -2, _INVALID, lambda _: "missing symbol")
        self.fail(found == -1, "unknown_symbol", lambda index: f"unknown symbol {self.text('symbol', index)!r}")
        return found

    def _word(self, name: str, members: tuple[str, ...], default: str | None) -> np.ndarray:
        found = _words(self.table.column(name), members, default)
        allowed = ", ".join(members)
        self.fail(found == -2, _INVALID, lambda _: f"missing {name}")
        self.fail(found == -1, _INVALID, lambda index: f"{name} must be one of {allowed}, not {self.text(name, index)!r}")
        return np.maximum(found, 0)

    def _decimal(self, name: str) -> _Fixed:
        found = _fixed(self.table.column(name))
        self.fail(
            found.given & ~found.readable,
            _INVALID,
            lambda index: f"{name} must be a decimal string with at most {fixed.DECIMALS} places, not {self.text(name, index)!r}",
        )
        largest = fixed.format(np.iinfo(np.int64).max)
        self.fail(found.readable & ~found.fits, _INVALID, lambda index: f"{name} must be at most {largest}, not {self.text(name, index)!r}")
        return found

    def _quantities(self, qty: _Fixed, symbols: np.ndarray, instruments: list[Instrument]) -> None:
        increments = np.array([i.qty_increment for i in instruments] or [1], dtype=np.int64)[symbols]
        self.fail(qty.given & (qty.value <= 0), _INVALID, lambda _: "qty must be > 0")

        def off_increment(index: int) -> str:
            instrument = instruments[symbols[index]]
            step = fixed.format(instrument.qty_increment)
            whole = "whole units" if not instrument.fractional else f"multiples of {step}"
            return f"qty for {instrument.symbol} must be in {whole}"

        self.fail(qty.given & (qty.value % increments != 0), _INVALID, off_increment)

    def _notionals(self, notional: _Fixed, symbols: np.ndarray, instruments: list[Instrument], order_types: np.ndarray, tifs: np.ndarray) -> None:
        given = notional.given
        self.fail(given & (notional.value <= 0), _INVALID, lambda _: "notional must be > 0")
        self.fail(given & (notional.value % fixed.CENT != 0), _INVALID, lambda _: "notional must be in whole cents")
        market = order_types == ORDER_TYPES.index(OrderType.MARKET)
        tif_ok = np.isin(tifs, [TIFS.index(tif) for tif in NOTIONAL_TIFS])
        self.fail(given & ~(market & tif_ok), _INVALID, lambda _: "notional orders must be market orders with tif day, ioc or opg")
        fractional = np.array([i.fractional for i in instruments] or [True], dtype=bool)[symbols]
        self.fail(
            given & ~fractional,
            _INVALID,
            lambda index: f"{instruments[symbols[index]].symbol} does not trade fractionally; notional orders need fractional shares",
        )

    def _prices(self, price: _Fixed, symbols: np.ndarray, instruments: list[Instrument], order_types: np.ndarray) -> None:
        limit = order_types == ORDER_TYPES.index(OrderType.LIMIT)
        self.fail(limit & ~price.given, _INVALID, lambda _: "a limit order needs limit_price")
        self.fail(~limit & price.given, _INVALID, lambda _: "a market order takes no limit_price")
        self.fail(price.given & (price.value <= 0), _INVALID, lambda _: "limit_price must be > 0")
        ticks = np.array([i.tick_size for i in instruments] or [1], dtype=np.int64)[symbols]

        def off_tick(index: int) -> str:
            instrument = instruments[symbols[index]]
            return f"limit_price is off the tick of {fixed.format(instrument.tick_size)} for {instrument.symbol}"

        self.fail(price.given & (price.value % ticks != 0), _INVALID, off_tick)

    def _duplicates(self, accounts: pa.Array, ids: pa.Array) -> None:
        """A row repeating an earlier row's ``(account, client_order_id)`` (which a shard would
        answer as a resend or refuse as a duplicate) is bad, naming the row it repeats."""
        if not self.rows:
            return
        encoded_ids = pc.dictionary_encode(ids)
        keys = self.account_codes * len(encoded_ids.dictionary) + encoded_ids.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        first_of_row = first[inverse.reshape(-1)]
        repeated = first_of_row != np.arange(self.rows)

        def problem(index: int) -> str:
            earlier = self.table.row_number(int(first_of_row[index]))
            account, order_id = self.text("account", index), self.text("client_order_id", index)
            return f"account {account} has client_order_id {order_id!r} on row {earlier} already"

        self.fail(repeated, _INVALID, problem)


def _maybe(found: _Fixed) -> np.ndarray:
    """The values as Python ints, ``None`` where not given."""
    if not found.given.any():
        return np.full(len(found.given), None, dtype=object)
    values = found.value.astype(object)
    values[~found.given] = None
    return values
