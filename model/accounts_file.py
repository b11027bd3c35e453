"""The accounts file (``accounts.csv``, and the uploads of ``accounts load``): CSV rows to
``AccountSeed``s, every bad row reported at once. Pure apart from ``load_accounts``, which
reads the file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from model import fixed
from model.errors import ConfigError
from model.instruments import Instrument
from model.permissions import DEFAULT_TENANT

if TYPE_CHECKING:
    from _csv import Reader as CsvReader


class AccountSeed(msgspec.Struct, frozen=True):
    """An account to open at start: its cash, whether it may sell short, the positions it
    starts with (``(symbol, qty)``, qty negative only if ``allow_short``), the group it
    belongs to (an advisor's book, say; ``""`` for none) and the tenant (firm) that owns it
    (``model/permissions.DEFAULT_TENANT`` when the file names none). A group belongs to its
    accounts' tenant: two tenants' groups of the same name are two groups."""

    account: str
    owner: str
    cash: int
    allow_short: bool = False
    positions: tuple[tuple[str, int], ...] = ()
    group: str = ""
    tenant: str = DEFAULT_TENANT
    # What a position cost and when it was acquired, where the file says (``SYMBOL:QTY:COST:DATE``):
    # ``(symbol, total cost, the local date's proleptic ordinal or 0 for the load time)``
    basis: tuple[tuple[str, int, int], ...] = ()


def load_accounts(path: str | Path) -> list[AccountSeed]:
    """Read an accounts file (see :func:`parse_accounts_csv`); any bad row fails the whole file."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: {error}") from error
    return parse_accounts_csv(text, str(path))


_ACCOUNT_COLUMNS = ("account", "owner", "cash")
_TRUE = ("true", "yes", "1")
_FALSE = ("false", "no", "0", "")


def parse_accounts_csv(text: str, source: str, tenant: str | None = None) -> list[AccountSeed]:
    """Accounts from CSV text, ``source`` naming it in errors. Columns (header first, any order,
    others ignored): ``account,owner,cash`` and optionally ``allow_short`` (true/false/yes/no/1/0,
    default false), ``positions`` (``SYMBOL:QTY`` pairs joined by ``;``, e.g. ``IBM:10;AAPL:0.5``; a position
    may add its total cost and acquisition date, ``SYMBOL:QTY:COST[:YYYY-MM-DD]``, e.g.
    ``IBM:10:1400.00:2024-03-01``, else it costs the reference price's value, acquired when loaded)
    ``group`` and ``tenant`` (empty or absent: the default tenant; letters, digits, ``_.-``). Row numbers are line numbers (header: row 1; blank lines skipped but counted).
    Every bad row and every repeated account id is reported, in one :class:`ConfigError`; a
    cash, quantity or cost past ``fixed.LARGEST`` (what a message or a lot holds) is a bad row.
    Symbols, and the cost of a position at its reference price, are not checked here
    (:func:`check_account_symbols`). ``tenant``: the accounts are loaded
    for that tenant (``accounts load`` by a tenant's admin): a row without one is its, a row
    naming another tenant is bad."""
    seeds: list[AccountSeed] = []
    errors: list[str] = []
    first_row: dict[str, int] = {}
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), strict=True)
    try:
        rows = numbered_csv_rows(reader)
        try:
            columns = csv_header_columns(next(rows, None), _ACCOUNT_COLUMNS)
        except ValueError as error:
            raise ConfigError(f"{source}: {error}") from None
        for number, fields in rows:
            cells = {name: fields[index] if index < len(fields) else None for name, index in columns.items()}
            try:
                if any(fields[len(columns) :]):
                    raise ValueError(f"{len(fields)} fields but the header names {len(columns)}")
                seeds.append(_account_seed(cells, tenant))
            except ValueError as error:
                errors.append(f"row {number}: {error}")
            account = cells["account"]
            if account and account in first_row:
                errors.append(f"row {number}: duplicate account {account} (first on row {first_row[account]})")
            elif account:
                first_row[account] = number
    except csv.Error as error:
        errors.append(str(error))
    if errors:
        raise ConfigError(f"{source}: " + "; ".join(errors))
    return seeds


def numbered_csv_rows(reader: CsvReader) -> Iterator[tuple[int, list[str]]]:
    """``(line number where the row starts, stripped fields)``, blank rows skipped."""
    start = 1
    while True:
        try:
            fields = next(reader, None)
        except csv.Error as error:
            raise csv.Error(f"row {start}: {error}; reading stopped there") from None
        if fields is None:
            return
        if any(field.strip() for field in fields):
            yield start, [field.strip() for field in fields]
        start = reader.line_num + 1


def csv_header_columns(header: tuple[int, list[str]] | None, required: tuple[str, ...]) -> dict[str, int]:
    """Each column name of a CSV file's header row (``(line number, fields)``, ``None`` for an
    empty file) → its index. Raises ``ValueError`` naming the row for an empty file, a name
    given twice or a ``required`` one missing."""
    expected = ",".join(required)
    if header is None:
        raise ValueError(f"row 1: no header (the file is empty); expected {expected}")
    number, names = header
    columns: dict[str, int] = {}
    for index, name in enumerate(names):
        if name in columns:
            raise ValueError(f"row {number}: column {name!r} appears twice in the header")
        columns[name] = index
    missing = [name for name in required if name not in columns]
    if missing:
        raise ValueError(f"row {number}: header lacks {', '.join(missing)} (expected {expected})")
    return columns


def _account_seed(cells: dict[str, str | None], loading_for: str | None = None) -> AccountSeed:
    missing = [name for name in _ACCOUNT_COLUMNS if cells[name] is None]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    account, owner, cash_text = (cells[name] or "" for name in _ACCOUNT_COLUMNS)
    if not account:
        raise ValueError("empty account id")
    try:
        cash = fixed.parse_bounded(cash_text)
    except fixed.DecimalFormatError as error:
        raise ValueError(f"account {account}: cash: {error}") from None
    if cash < 0 or cash % fixed.CENT:
        raise ValueError(f"account {account}: cash must be a non-negative amount in whole cents, not {cash_text}")
    allow_short_text = (cells.get("allow_short") or "").lower()
    if allow_short_text not in _TRUE + _FALSE:
        raise ValueError(f"account {account}: allow_short must be true or false, not {allow_short_text!r}")
    allow_short = allow_short_text in _TRUE
    positions, basis = _parse_positions(account, cells.get("positions") or "", allow_short)
    tenant = cells.get("tenant") or loading_for or DEFAULT_TENANT
    check_tenant_name(tenant, f"account {account}: tenant")
    if loading_for is not None and tenant != loading_for:
        raise ValueError(f"account {account}: tenant {tenant} is not {loading_for}, the tenant loading the file")
    return AccountSeed(account, owner, cash, allow_short, positions, cells.get("group") or "", tenant, basis)


def check_tenant_name(tenant: str, what: str) -> None:
    """``ValueError`` unless ``tenant`` is 1 to 64 letters, digits, ``_``, ``.`` or ``-``, not
    starting with ``.``: it names the tenant's folders under the import and export dirs."""
    if not (0 < len(tenant) <= 64 and tenant[0] != "." and all(c.isascii() and (c.isalnum() or c in "_.-") for c in tenant)):
        raise ValueError(f"{what} must be 1 to 64 letters, digits, '_', '.' or '-' (not starting with '.'), not {tenant!r}")


def _parse_positions(account: str, text: str, allow_short: bool) -> tuple[tuple[tuple[str, int], ...], tuple[tuple[str, int, int], ...]]:
    """``"IBM:10;AAPL:0.5:90.00:2024-03-01"`` → the positions ``(("IBM", 10 × SCALE), ("AAPL",
    SCALE // 2))`` and the basis of those that give one ``(("AAPL", 90 × SCALE, ordinal),)``."""
    if not text:
        return (), ()
    positions: dict[str, int] = {}
    basis: list[tuple[str, int, int]] = []
    for pair in text.split(";"):
        symbol, colon, rest = (part.strip() for part in pair.partition(":"))
        qty_text, _, basis_text = rest.partition(":")
        if not colon or not symbol or not qty_text:
            raise ValueError(f"account {account}: position {pair.strip()!r} is not SYMBOL:QTY[:COST[:YYYY-MM-DD]]")
        if basis_text:
            basis.append((symbol, *_parse_basis(account, symbol, basis_text)))
        if symbol in positions:
            raise ValueError(f"account {account}: symbol {symbol} appears twice in positions")
        try:
            qty = fixed.parse_bounded(qty_text)
        except fixed.DecimalFormatError as error:
            raise ValueError(f"account {account}: position {symbol}: {error}") from None
        if not qty:  # no lot to hold a cost: the position's cost would never be its lots'
            raise ValueError(f"account {account}: position {symbol}:{qty_text} holds nothing (leave it out)")
        if qty < 0 and not allow_short:
            raise ValueError(f"account {account}: position {symbol}:{qty_text} is short but allow_short is false")
        positions[symbol] = qty
    return tuple(positions.items()), tuple(basis)


def _parse_basis(account: str, symbol: str, text: str) -> tuple[int, int]:
    """``"1400.00:2024-03-01"`` → (the total cost, the date's ordinal; 0 when not given). A
    short position's cost is what its sale brought in, given as a positive amount: stored
    negative, like a short lot's."""
    cost_text, _, day_text = text.partition(":")
    try:
        cost = fixed.parse_bounded(cost_text)
    except fixed.DecimalFormatError as error:
        raise ValueError(f"account {account}: position {symbol}: cost: {error}") from None
    if cost < 0 or cost % fixed.CENT:
        raise ValueError(f"account {account}: position {symbol}: cost must be a non-negative amount in whole cents, not {cost_text}")
    day = 0
    if day_text:
        try:
            day = date.fromisoformat(day_text).toordinal() if len(day_text) == 10 else -1
        except ValueError:
            day = -1
        if day < 0:
            raise ValueError(f"account {account}: position {symbol}: acquired {day_text!r} is not a date YYYY-MM-DD")
    return cost, day


def check_account_symbols(seeds: Iterable[AccountSeed], instruments: Mapping[str, Instrument]) -> None:
    """Raise :class:`ConfigError` naming every account position in a symbol not in
    ``instruments``, and every position without a cost whose value at the instrument's
    reference price (its cost when loaded) does not fit a signed 64-bit integer.

    Guarantees: every position of seeds that pass opens as a lot the account's shard can
    store (its quantity and cost in 64 bits; :func:`parse_accounts_csv` bounds the rest)."""
    problems = []
    for seed in seeds:
        priced = {symbol for symbol, _, _ in seed.basis}
        for symbol, qty in seed.positions:
            instrument = instruments.get(symbol)
            if instrument is None:
                problems.append(f"account {seed.account}: unknown symbol {symbol}")
            elif symbol not in priced and fixed.ceil_cent(abs(qty) * instrument.reference_price * instrument.multiplier) > fixed.LARGEST:
                problems.append(
                    f"account {seed.account}: position {symbol}: {fixed.format(qty)} at the reference price"
                    f" {fixed.format(instrument.reference_price)} costs more than {fixed.format(fixed.LARGEST)}"
                )
    if problems:
        raise ConfigError("; ".join(problems))
