"""Checking a basket: every row passes exactly the checks a ``new_order`` passes at the
gateway (``server/gateway/validation.py``: the same rules, error codes and words), and its
account must be one the loading user trades for. Pre-trade risk (``[risk]``, or the
account's tenant's ``[tenants.NAME.risk]``) is not a file check, as it is not the gateway's:
the account shard checks each row exactly as a ``new_order`` of that account, and its answer
counts the rows it refused by reason.

The checks run over columns (pyarrow compute and numpy), each distinct account, symbol and
word looked up once; decimals become fixed-point ints (``model.fixed``, units of 10^-9) by
exact decimal arithmetic — strings checked against the grammar ``fixed.parse`` takes, then
read as 128-bit decimals — never through a binary float.

Guarantees:
- All or nothing: a file with any bad row is refused with every bad row's number and the
  first problem of each, and nothing is built from it.
- A basket that passes holds no two rows with the same ``(account, client_order_id)``,
  and each row's numbers are exactly those of its text; no client_order_id starts with
  the strategies' reserved prefix (``STRATEGY_ORDER_PREFIX``).
"""

from __future__ import annotations

from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from model import fixed
from model.basket.chunks import Amounts, Basket, Coded, Column, Text
from model.basket.errors import INVALID, BadRow, BasketError
from model.basket.table import DECIMAL_COLUMNS, Table, csv_table, parquet_table
from model.enums import OrderType, Side, TimeInForce
from model.instruments import Instrument
from model.messages.strategies import STRATEGY_ORDER_PREFIX, reserved_id

ORDER_TYPES = (OrderType.MARKET, OrderType.LIMIT)  # a basket's orders; stops are placed one by one
TIFS = tuple(TimeInForce)
DEFAULT_TYPE = OrderType.MARKET
DEFAULT_TIF = TimeInForce.OPG  # baskets are mostly orders for the open
NOTIONAL_TIFS = (TimeInForce.DAY, TimeInForce.IOC, TimeInForce.OPG)  # as the gateway's ``new_order``

# What ``fixed.parse`` accepts, for RE2: no exponent, no '+', no blanks, at most nine places.
SHOWN_CHARS = 64  # how much of a file's value a refusal quotes, as the WebSocket API's errors
_DECIMAL = r"^-?[0-9]{1,18}(\.[0-9]{1,9})?$"
_DECIMAL_TYPE = pa.decimal128(27, fixed.DECIMALS)  # 18 whole digits and 9 places, exactly
_PRINTABLE_ASCII = r"^[\x20-\x7e]*$"
DECIMAL_FIELDS = ("qty", "notional", "price")  # OrderColumns' names of DECIMAL_COLUMNS


@dataclass(frozen=True)
class BasketRules:
    """What a basket is checked against: the instruments, the accounts the loading user may
    trade for (``accounts``; ``refusal`` says why another account is refused), and the limits."""

    instruments: Mapping[str, Instrument]
    accounts: Container[str]  # asked only `in`, once per distinct account of a file (a set, in practice)
    refusal: Callable[[str], str]
    max_rows: int
    max_id_length: int
    errors_listed: int = 1000


def parse_basket(data: bytes, source: str, rules: BasketRules, parquet: bool = False) -> Basket:
    """The checked basket of a CSV (UTF-8, header row) or Parquet file's bytes, or
    ``BasketError`` naming every bad row (``source`` names the file in it)."""
    table = parquet_table(data, source) if parquet else csv_table(data, source)
    if table.rows > rules.max_rows:
        raise BasketError(source, f"{table.rows:,} orders, more than the {rules.max_rows:,} a basket may hold ([basket] max_rows)")
    checks = _Checks(table, rules)
    basket = checks.run()
    if table.bad or checks.bad_rows:
        bad = sorted(table.bad + [BadRow(table.row_number(index), code, problem) for index, code, problem in checks.bad_rows])
        raise BasketError(source, bad=bad, listed=rules.errors_listed)
    return basket


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

    def __init__(self, table: Table, rules: BasketRules) -> None:
        self.table = table
        self.rules = rules
        self.rows = table.rows
        self.bad = np.zeros(self.rows, dtype=bool)
        self.bad_rows: list[tuple[int, str, str]] = []
        self.account_list: list[str] = []
        self.account_codes = np.zeros(0, dtype=np.int64)

    def fail(self, mask: np.ndarray, code: str, problem: Callable[[int], str]) -> None:
        fresh = np.flatnonzero(mask & ~self.bad)
        self.bad[fresh] = True
        self.bad_rows.extend((int(index), code, problem(int(index))) for index in fresh)

    def text(self, name: str, index: int) -> str:
        value: str = self.table.column(name)[index].as_py()
        return value

    def shown(self, name: str, index: int) -> str:
        """Row ``index``'s ``name`` quoted for a refusal, cut to ``SHOWN_CHARS`` characters."""
        value = repr(self.text(name, index))
        return value if len(value) <= SHOWN_CHARS else value[:SHOWN_CHARS] + "…"

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
        self.fail(qty.given == notional.given, INVALID, lambda _: "give exactly one of qty or notional")
        self._quantities(qty, known, instruments)
        self._notionals(notional, known, instruments, order_types, tifs)
        self._prices(price, known, instruments, order_types)
        self.fail((tifs == TIFS.index(TimeInForce.FOK)) & ~qty.given, INVALID, lambda _: "fok orders need qty")
        self._duplicates(accounts, ids)
        if self.bad.any():
            return Basket(_EMPTY, [])
        names = self.account_list
        return Basket(
            {
                "accounts": Coded.of(self.account_codes.astype(np.int32), names),
                "client_order_ids": Text(ids),
                "symbols": Coded.of(known.astype(np.int32), [instrument.symbol for instrument in instruments]),
                "sides": Coded.of(sides.astype(np.int8), list(Side)),
                "order_types": Coded.of(order_types.astype(np.int8), ORDER_TYPES),
                "tifs": Coded.of(tifs.astype(np.int8), TIFS),
                "qty": Amounts(qty.value, qty.given),
                "notional": Amounts(notional.value, notional.given),
                "price": Amounts(price.value, price.given),
            },
            names,
        )

    def _accounts(self, accounts: pa.Array) -> None:
        """Each distinct account of the file looked up once, in the loading user's accounts
        (a set: the look-ups cost what the file holds, not what the user may reach — an
        operator's reach is every account, a million or more)."""
        encoded = pc.dictionary_encode(accounts)
        self.account_list = encoded.dictionary.to_pylist()  # one string object per account, shared by its rows
        self.account_codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        reach = self.rules.accounts
        allowed = np.fromiter((name in reach for name in self.account_list), dtype=bool, count=len(self.account_list))
        empty = pc.equal(encoded.dictionary, "").to_numpy(zero_copy_only=False)
        if not len(allowed):
            return
        codes = self.account_codes
        self.fail(empty[codes], INVALID, lambda _: "missing account")
        self.fail(~allowed[codes], "forbidden", lambda index: self.rules.refusal(self.account_list[codes[index]]))

    def _client_order_ids(self, ids: pa.Array) -> None:
        longest = self.rules.max_id_length
        lengths = pc.utf8_length(ids).to_numpy(zero_copy_only=False)
        ascii_printable = pc.match_substring_regex(ids, _PRINTABLE_ASCII).to_numpy(zero_copy_only=False)
        printable = ascii_printable.copy()
        for index in np.flatnonzero(~ascii_printable):  # beyond ASCII: Python's own rule, as the gateway
            printable[index] = self.text("client_order_id", int(index)).isprintable()
        problem = f"client_order_id must be 1 to {longest} printable characters"
        self.fail((lengths < 1) | (lengths > longest) | ~printable, INVALID, lambda _: problem)
        reserved = pc.starts_with(ids, STRATEGY_ORDER_PREFIX).fill_null(False).to_numpy(zero_copy_only=False)
        taken = reserved_id()
        self.fail(reserved, INVALID, lambda _: taken)  # as the gateway's ``check_own_client_order_id``

    def _symbols(self, symbols: pa.Array) -> np.ndarray:
        order = {symbol: at for at, symbol in enumerate(self.rules.instruments)}
        found = _lookup(symbols, lambda symbol: order.get(symbol, -2 if symbol == "" else -1))
        self.fail(found == -2, INVALID, lambda _: "missing symbol")
        self.fail(found == -1, "unknown_symbol", lambda index: f"unknown symbol {self.shown('symbol', index)}")
        return found

    def _word(self, name: str, members: tuple[str, ...], default: str | None) -> np.ndarray:
        found = _words(self.table.column(name), members, default)
        allowed = ", ".join(members)
        self.fail(found == -2, INVALID, lambda _: f"missing {name}")
        self.fail(found == -1, INVALID, lambda index: f"{name} must be one of {allowed}, not {self.shown(name, index)}")
        return np.maximum(found, 0)

    def _decimal(self, name: str) -> _Fixed:
        found = _fixed(self.table.column(name))
        self.fail(
            found.given & ~found.readable,
            INVALID,
            lambda index: f"{name} must be a decimal string with at most {fixed.DECIMALS} places, not {self.shown(name, index)}",
        )
        largest = fixed.format(np.iinfo(np.int64).max)
        self.fail(found.readable & ~found.fits, INVALID, lambda index: f"{name} must be at most {largest}, not {self.shown(name, index)}")
        return found

    def _quantities(self, qty: _Fixed, symbols: np.ndarray, instruments: list[Instrument]) -> None:
        increments = np.array([i.qty_increment for i in instruments] or [1], dtype=np.int64)[symbols]
        self.fail(qty.given & (qty.value <= 0), INVALID, lambda _: "qty must be > 0")

        def off_increment(index: int) -> str:
            instrument = instruments[symbols[index]]
            step = fixed.format(instrument.qty_increment)
            whole = "whole units" if not instrument.fractional else f"multiples of {step}"
            return f"qty for {instrument.symbol} must be in {whole}"

        self.fail(qty.given & (qty.value % increments != 0), INVALID, off_increment)

    def _notionals(self, notional: _Fixed, symbols: np.ndarray, instruments: list[Instrument], order_types: np.ndarray, tifs: np.ndarray) -> None:
        given = notional.given
        self.fail(given & (notional.value <= 0), INVALID, lambda _: "notional must be > 0")
        self.fail(given & (notional.value % fixed.CENT != 0), INVALID, lambda _: "notional must be in whole cents")
        market = order_types == ORDER_TYPES.index(OrderType.MARKET)
        tif_ok = np.isin(tifs, [TIFS.index(tif) for tif in NOTIONAL_TIFS])
        self.fail(given & ~(market & tif_ok), INVALID, lambda _: "notional orders must be market orders with tif day, ioc or opg")
        fractional = np.array([i.fractional for i in instruments] or [True], dtype=bool)[symbols]
        self.fail(
            given & ~fractional,
            INVALID,
            lambda index: f"{instruments[symbols[index]].symbol} does not trade fractionally; notional orders need fractional shares",
        )

    def _prices(self, price: _Fixed, symbols: np.ndarray, instruments: list[Instrument], order_types: np.ndarray) -> None:
        limit = order_types == ORDER_TYPES.index(OrderType.LIMIT)
        self.fail(limit & ~price.given, INVALID, lambda _: "a limit order needs limit_price")
        self.fail(~limit & price.given, INVALID, lambda _: "a market order takes no limit_price")
        self.fail(price.given & (price.value <= 0), INVALID, lambda _: "limit_price must be > 0")
        ticks = np.array([i.tick_size for i in instruments] or [1], dtype=np.int64)[symbols]

        def off_tick(index: int) -> str:
            instrument = instruments[symbols[index]]
            return f"limit_price is off the tick of {fixed.format(instrument.tick_size)} for {instrument.symbol}"

        self.fail(price.given & (price.value % ticks != 0), INVALID, off_tick)

    def _duplicates(self, accounts: pa.Array, ids: pa.Array) -> None:
        """A row repeating an earlier row's ``(account, client_order_id)`` (which a shard would
        answer as a resend or refuse as a duplicate) is bad, naming the row it repeats."""
        if not self.rows:
            return
        encoded_ids = pc.dictionary_encode(ids)
        if len(encoded_ids.dictionary) == self.rows:
            return  # every row's id differs from every other's (the usual file): no pair can repeat
        keys = self.account_codes * len(encoded_ids.dictionary) + encoded_ids.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        first_of_row = first[inverse.reshape(-1)]
        repeated = first_of_row != np.arange(self.rows)

        def problem(index: int) -> str:
            earlier = self.table.row_number(int(first_of_row[index]))
            account, order_id = self.text("account", index), self.text("client_order_id", index)
            return f"account {account} has client_order_id {order_id!r} on row {earlier} already"

        self.fail(repeated, INVALID, problem)


_NOTHING = np.zeros(0, dtype=np.int64)
_EMPTY: dict[str, Column] = {
    **{name: Coded.of(_NOTHING, []) for name in ("accounts", "symbols", "sides", "order_types", "tifs")},
    "client_order_ids": Text(pa.array([], pa.string())),
    **{name: Amounts(_NOTHING, np.zeros(0, dtype=bool)) for name in DECIMAL_FIELDS},
}
