"""Back-office files: the positions a clearing firm reports, our own exports, and the
comparison of two books of positions. Pure: formats and comparison, no I/O
(``snapshots/files.py`` reads and writes the files with these formats).

Numbers are fixed-point ints (``model.fixed``) in memory and decimal strings in files.
Row numbers are the file's line numbers: the header is row 1; blank lines are skipped
(and still counted, so a row number matches what an editor shows).

Positions file read by :func:`parse_positions` (UTF-8, a BOM is allowed)::

    account,symbol,qty
    A1,IBM,100
    A1,AAPL,0.5            fractional, up to 9 places
    B2,IBM,-20             a short
    B2,MSFT,0              allowed; reconcile treats it as no position
    C3,,                   account C3 exists and holds nothing

Columns may come in any order; other columns (such as ``cost``) are ignored. A row with an
empty symbol *and* an empty qty only declares that its account exists; it is needed for an
account that holds nothing, and harmless beside that account's positions.

Positions export (rows from :func:`position_rows`): ``account,symbol,qty,cost`` with
``cost`` the cash cost of the position to the cent; readable by :func:`parse_positions`.
Allocations export (rows from :func:`allocation_rows`):
``date,block_id,account,order_id,symbol,side,qty,price,cash``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from model import fixed
from model.accounts_file import csv_header_columns
from model.config import numbered_csv_rows

if TYPE_CHECKING:
    from _csv import Reader as CsvReader

POSITIONS_HEADER = ("account", "symbol", "qty", "cost")
ALLOCATIONS_HEADER = ("date", "block_id", "account", "order_id", "symbol", "side", "qty", "price", "cash")
_REQUIRED_COLUMNS = ("account", "symbol", "qty")

Positions = dict[tuple[str, str], int]  # (account, symbol) -> qty; symbol "" declares an account
Book = dict[str, dict[str, int]]  # account -> symbol -> qty
BreakKind = Literal["missing_account", "missing_symbol", "qty_mismatch"]
BookSide = Literal["ours", "theirs"]


class BackOfficeFileError(ValueError):
    """A file refused as a whole; ``problems`` names every bad row (``"row 3: ..."``)."""

    def __init__(self, path: str | Path, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.problems))


class Break(msgspec.Struct, frozen=True, kw_only=True):
    """One difference between our book and theirs.

    ``side`` is the side that lacks the account or symbol (``None`` for ``qty_mismatch``);
    ``ours``/``theirs`` are ``None`` where that side has no position (or for a missing account).
    """

    kind: BreakKind
    account: str
    symbol: str | None
    ours: int | None
    theirs: int | None
    side: BookSide | None


# --- reading -----------------------------------------------------------------------------------


def parse_positions(lines: Iterable[bytes], path: str | Path) -> Positions:
    """Every position in the ``lines`` of a back-office positions file (``path`` names it in
    errors), or :class:`BackOfficeFileError` listing every bad row (bad or missing field,
    empty account, duplicate position)."""
    positions: Positions = {}
    first_row: dict[tuple[str, str], int] = {}
    problems: list[str] = []
    rows = _numbered_rows(csv.reader(_text_lines(lines), strict=True))
    try:
        columns = _header_columns(next(rows, None))
        for number, fields in rows:
            try:
                key, qty = _position_row(fields, columns)
            except ValueError as error:
                problems.append(f"row {number}: {error}")
                continue
            if key in first_row:
                problems.append(f"row {number}: duplicate {_describe(key)} (first on row {first_row[key]})")
                continue
            first_row[key] = number
            positions[key] = qty
    except _Unreadable as error:
        problems.append(str(error))
    if problems:
        raise BackOfficeFileError(path, problems)
    return positions


class _Unreadable(ValueError):
    """A problem after which the rest of the file cannot be read."""


def _text_lines(lines: Iterable[bytes]) -> Iterator[str]:
    """Lines decoded one at a time, so a line that is not UTF-8 is named by its number."""
    for number, line in enumerate(lines, start=1):
        try:
            yield line.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as error:
            raise _Unreadable(f"row {number}: not UTF-8 text ({error.reason}); reading stopped there") from None


def _numbered_rows(reader: CsvReader) -> Iterator[tuple[int, list[str]]]:
    """``(line number where the row starts, stripped fields)``, blank rows skipped."""
    try:
        yield from numbered_csv_rows(reader)
    except csv.Error as error:
        raise _Unreadable(str(error)) from None


def _header_columns(header: tuple[int, list[str]] | None) -> dict[str, int]:
    try:
        return csv_header_columns(header, _REQUIRED_COLUMNS)
    except ValueError as error:
        raise _Unreadable(str(error)) from None


def _position_row(fields: list[str], columns: dict[str, int]) -> tuple[tuple[str, str], int]:
    if any(fields[len(columns) :]):
        raise ValueError(f"{len(fields)} fields but the header names {len(columns)}")
    missing = [name for name in _REQUIRED_COLUMNS if columns[name] >= len(fields)]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    account, symbol, qty = (fields[columns[name]] for name in _REQUIRED_COLUMNS)
    if not account:
        raise ValueError("empty account")
    if not symbol and not qty:
        return (account, ""), 0
    if not symbol:
        raise ValueError("empty symbol (an account that holds nothing leaves both symbol and qty empty)")
    if not qty:
        raise ValueError(f"empty qty for {account} {symbol}")
    try:
        return (account, symbol), fixed.parse(qty)
    except fixed.DecimalFormatError as error:
        raise ValueError(f"qty for {account} {symbol}: {error}") from None


def _describe(key: tuple[str, str]) -> str:
    account, symbol = key
    return f"position {account} {symbol}" if symbol else f"row for account {account} with no positions"


def by_account(positions: Positions) -> Book:
    """``parse_positions``' flat form as ``account -> symbol -> qty``; an account declared with
    no positions maps to ``{}``."""
    book: Book = {}
    for (account, symbol), qty in positions.items():
        held = book.setdefault(account, {})
        if symbol:
            held[symbol] = qty
    return book


# --- comparing ---------------------------------------------------------------------------------


def reconcile(ours: Book, theirs: Book) -> list[Break]:
    """Every break between two books, sorted by ``(account, symbol or "")``. A zero qty counts
    as no position; an account on one side only is one ``missing_account`` break, whatever it
    holds."""
    breaks: list[Break] = []
    for account in sorted(ours.keys() | theirs.keys()):
        if account not in theirs:
            breaks.append(Break(kind="missing_account", account=account, symbol=None, ours=None, theirs=None, side="theirs"))
        elif account not in ours:
            breaks.append(Break(kind="missing_account", account=account, symbol=None, ours=None, theirs=None, side="ours"))
        else:
            breaks.extend(_account_breaks(account, ours[account], theirs[account]))
    return breaks


def _account_breaks(account: str, ours: dict[str, int], theirs: dict[str, int]) -> Iterator[Break]:
    for symbol in sorted(ours.keys() | theirs.keys()):
        our_qty = ours.get(symbol, 0)
        their_qty = theirs.get(symbol, 0)
        if our_qty == their_qty:
            continue
        if their_qty == 0:
            yield Break(kind="missing_symbol", account=account, symbol=symbol, ours=our_qty, theirs=None, side="theirs")
        elif our_qty == 0:
            yield Break(kind="missing_symbol", account=account, symbol=symbol, ours=None, theirs=their_qty, side="ours")
        else:
            yield Break(kind="qty_mismatch", account=account, symbol=symbol, ours=our_qty, theirs=their_qty, side=None)


def format_breaks(breaks: Iterable[Break]) -> str:
    """One line per break, quantities as decimal strings; ``""`` when there are none."""
    return "\n".join(_break_line(item) for item in breaks)


def _break_line(item: Break) -> str:
    if item.kind == "missing_account":
        return f"{item.account}: account missing from {item.side}"
    if item.kind == "missing_symbol":
        held = item.ours if item.side == "theirs" else item.theirs
        holder = "ours" if item.side == "theirs" else "theirs"
        return f"{item.account} {item.symbol}: missing from {item.side} ({holder} {_qty(held)})"
    difference = (item.ours or 0) - (item.theirs or 0)
    return f"{item.account} {item.symbol}: qty mismatch, ours {_qty(item.ours)}, theirs {_qty(item.theirs)} (ours - theirs = {fixed.format(difference)})"


def breaks_to_json(breaks: Iterable[Break]) -> list[dict[str, str | None]]:
    """Breaks as JSON-ready dicts; quantities as decimal strings (``None`` where absent)."""
    return [
        {
            "kind": item.kind,
            "account": item.account,
            "symbol": item.symbol,
            "ours": _qty_or_none(item.ours),
            "theirs": _qty_or_none(item.theirs),
            "side": item.side,
        }
        for item in breaks
    ]


def _qty(value: int | None) -> str:
    return fixed.format(value or 0)


def _qty_or_none(value: int | None) -> str | None:
    return None if value is None else fixed.format(value)


# --- export rows ---------------------------------------------------------------------------------


def position_rows(rows: Iterable[tuple[str, str, int, int]]) -> Iterator[list[str]]:
    """``(account, symbol, qty, cost)`` as the fields of :data:`POSITIONS_HEADER`. A row with
    symbol ``""`` (and zero qty and cost) declares an account holding nothing; ``ValueError``
    for a position without account or symbol. Lazy: a generator streams."""
    return (_position_fields(*row) for row in rows)


def _position_fields(account: str, symbol: str, qty: int, cost: int) -> list[str]:
    if not account:
        raise ValueError(f"position with an empty account: symbol {symbol!r}")
    if not symbol:
        if qty or cost:
            raise ValueError(f"account {account}: a position needs a symbol")
        return [account, "", "", ""]
    return [account, symbol, fixed.format(qty), fixed.format_cash(cost)]


def allocation_rows(rows: Iterable[tuple[str, str, str, str, str, str, int, int, int]]) -> Iterator[list[str]]:
    """``(date, block_id, account, order_id, symbol, side, qty, price, cash)`` as the fields of
    :data:`ALLOCATIONS_HEADER`. Lazy."""
    return (_allocation_fields(*row) for row in rows)


def _allocation_fields(
    date: str, block_id: str, account: str, order_id: str, symbol: str, side: str, qty: int, price: int, cash: int
) -> list[str]:
    return [date, block_id, account, order_id, symbol, side, fixed.format(qty), fixed.format(price), fixed.format_cash(cash)]
