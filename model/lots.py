"""Tax lots: the arithmetic of opening, closing and wash-sale adjusting an account's lots.

Pure (no I/O, no clock): every call carries the time it books at. One account's books are
a :class:`Books` record — its lot method, a counter of lot ids, its open lots per symbol, and
two append-only ledgers, its trades and its closings. Rows are packed (``struct``, fixed
size, little-endian) in a ``bytearray`` each, never an object per lot: an account shard
holds millions of fills at the open, each opening a lot. Queries read a ledger whole with
``numpy.frombuffer`` and the matching structured dtype (``LOT_DTYPE``, ``CLOSING_DTYPE``,
``TRADE_DTYPE``).

Units and signs (``model/fixed.py``: every amount an ``int`` at 10^-9):

- A lot's ``cost`` is the cash booked for the fill that opened it (whole cents), plus any
  wash-sale loss carried into it; a short lot has a negative ``qty`` and ``cost`` = minus
  the cash received when it was opened.
- A closing's ``proceeds`` is its part of the cash booked by the closing fill (for a short
  lot covered by a buy: minus the cash paid); its ``cost`` is its part of the lot's cost;
  ``gain`` = proceeds − cost + disallowed. Every split of money over parts is
  ``total × part // whole`` for every part but the last, which gets the remainder, so the
  parts sum to the total exactly.

Guarantees:
- The open lots of a symbol sum to the position's quantity and all have its sign.
- Cost is conserved: Σ open-lot cost + Σ closed cost ≡ ``Books.opened_cost`` modulo 2^64 (Σ
  the cost of every lot as opened, wash-sale adjustments included, less lots moved out).
  It is a lifetime total (closing never lowers it), which round trips grow without bound
  (some $18.4B of purchases, or $9.2B of short sales, pass what msgpack encodes, and would
  fail every snapshot and ``state_hash`` of the shard), so it is kept as a signed 64-bit
  integer that wraps (two's complement, :func:`wrapped`). Only its differences and its
  congruence are ever read: a difference of two readings is wrapped too, and is exact (a
  fill's change is far below 2^63); the check still catches any cost lost or gained that
  is not a multiple of 2^64. A snapshot written before it wrapped holds what msgpack
  encodes, in [-2^63, 2^64): restored as it is (``state_hash`` unchanged), congruent to
  its wrapped value, which its next change gives it.
- For any mark: Σ realized gain + Σ (qty × mark × multiplier − open cost) = market value −
  net cash invested (a wash sale moves a loss from realized to a lot's cost: the sum holds).
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from enum import StrEnum
from typing import NamedTuple

import msgspec
import numpy as np

from model.calendar import day_start_ns as day_start_ns  # re-exported: the lots' callers bound ranges of dates with it
from model.calendar import trading_day
from model.fixed import SCALE

WASH_WINDOW_DAYS = 30  # a loss sale is a wash sale with a purchase of the symbol this many days before or after it


class LotMethod(StrEnum):
    """Which open lots a sale closes."""

    FIFO = "fifo"  # the first opened first
    LIFO = "lifo"  # the last opened first
    HIFO = "hifo"  # the highest cost per share first (ties: the first opened)
    AVERAGE = "average"  # the position's average cost: lots re-averaged, then closed first opened first
    SPECIFIC = "specific"  # the lots the order names, each with a quantity (what they lack: first opened first)


METHODS = tuple(method.value for method in LotMethod)
# the members a closing fill reads, bound once: a member read off its class costs ~70 ns on
# this Python, and a closing read six of them and built one from its value per fill
_FIFO, _LIFO, _HIFO, _AVERAGE, _SPECIFIC = LotMethod.FIFO, LotMethod.LIFO, LotMethod.HIFO, LotMethod.AVERAGE, LotMethod.SPECIFIC
_BY_VALUE = {method.value: method for method in LotMethod}

# --- packed rows ------------------------------------------------------------------------------

LOT = struct.Struct("<qqqqqB")  # lot_id, qty, cost, acquired (ns), adjust (wash loss carried in), flags
LOT_DTYPE = np.dtype([("lot_id", "<i8"), ("qty", "<i8"), ("cost", "<i8"), ("acquired", "<i8"), ("adjust", "<i8"), ("flags", "u1")])
LOT_REPLACEMENT = 1  # a wash sale's replacement lot: never the replacement of a second one

CLOSING = struct.Struct("<qIqqqqqqqIqB")
CLOSING_DTYPE = np.dtype(
    [
        ("lot_id", "<i8"),
        ("symbol", "<u4"),  # an index into ``Books.names``
        ("qty", "<i8"),  # negative: a short lot covered
        ("acquired", "<i8"),
        ("sold", "<i8"),
        ("proceeds", "<i8"),
        ("cost", "<i8"),
        ("disallowed", "<i8"),  # the wash-sale loss disallowed (≥ 0), carried into replacement lots
        ("replaced", "<i8"),  # how much of ``qty`` replacement purchases have matched so far
        ("order_prefix", "<u4"),  # the closing order's id: ``names[order_prefix]-order_n``
        ("order_n", "<i8"),
        ("flags", "u1"),
    ]
)
LONG_TERM, WASH = 1, 2

TRADE = struct.Struct("<qIqIBqqq")
TRADE_DTYPE = np.dtype(
    [
        ("ts", "<i8"),
        ("order_prefix", "<u4"),
        ("order_n", "<i8"),
        ("symbol", "<u4"),
        ("side", "u1"),  # 0 buy, 1 sell
        ("qty", "<i8"),
        ("price", "<i8"),
        ("cash", "<i8"),  # the cash booked for the fill (always ≥ 0)
    ]
)
BUY, SELL = 0, 1
_HALF_RANGE, _RANGE = 2**63, 2**64

assert LOT.size == LOT_DTYPE.itemsize and CLOSING.size == CLOSING_DTYPE.itemsize and TRADE.size == TRADE_DTYPE.itemsize


class Books(msgspec.Struct, array_like=True, gc=False):
    """One account's lots and ledgers (see the module). ``names``: every symbol and order-id
    prefix a row refers to, by index (their insertion order)."""

    method: str = LotMethod.FIFO.value
    next_lot: int = 0
    names: dict[str, int] = msgspec.field(default_factory=dict)
    lots: dict[str, bytearray] = msgspec.field(default_factory=dict)  # symbol → open lots in the order opened
    closings: bytearray = msgspec.field(default_factory=bytearray)
    trades: bytearray = msgspec.field(default_factory=bytearray)
    opened_cost: int = 0  # wrapped to a signed 64-bit integer (see the module): every update through ``wrapped``
    # How many of the last trade rows have not opened their lots yet: a fill that closes
    # nothing, into books that never closed a lot, writes only its trade row (``book_opening``)
    # and its lot is opened from that row when the lots are next read (``book_pending``).
    # Every function here that reads or writes lots, closings, lot ids or ``opened_cost``
    # books the pending rows first; so do ``state_hash`` and snapshots: encoded, it is 0.
    pending: int = 0


class Lot(NamedTuple):
    lot_id: int
    qty: int
    cost: int
    acquired: int
    adjust: int
    flags: int


class Closing(NamedTuple):
    lot_id: int
    symbol: str
    qty: int
    acquired: int
    sold: int
    proceeds: int
    cost: int
    disallowed: int
    gain: int
    long_term: bool
    wash: bool
    order_id: str


class Fill(NamedTuple):
    """One fill as the books take it: ``cash`` is what was booked for it (≥ 0, whole cents)."""

    symbol: str
    buy: bool
    qty: int
    price: int
    cash: int
    now: int
    order_id: str


class LotError(ValueError):
    """A named lot an order may not close; ``code`` is the order's reject reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# --- reading --------------------------------------------------------------------------------


def name_id(books: Books, text: str) -> int:
    found = books.names.get(text)
    if found is None:
        found = books.names[text] = len(books.names)
    return found


def names(books: Books) -> list[str]:
    return list(books.names)


def book_pending(books: Books) -> None:
    """Open the lots of the pending trade rows (``Books.pending``), in order: for each, the
    lot ``book_opening`` opens for a fill when it books eagerly — the next lot id, the fill's
    quantity and cash (negative for a sale: a short lot), its time, no adjustment — at the
    end of its symbol's lots, and ``opened_cost`` grown by its cost (wrapped).

    Guarantees: the books are then byte for byte those of booking every fill eagerly
    (``tests/unit/model/test_lots.py`` checks it over any mix of fills, reads and moves).
    Pending rows exist only in books without closings (a fill that closes lots books them
    first), so no wash-sale check is owed for them."""
    count = books.pending
    if not count:
        return
    books.pending = 0
    trades = books.trades
    table = list(books.names)
    by_symbol = books.lots
    next_lot, opened = books.next_lot, books.opened_cost
    pack = LOT.pack
    for now, _, _, symbol_id, side, qty, _, cash in TRADE.iter_unpack(trades[len(trades) - count * TRADE.size :]):
        next_lot += 1
        symbol = table[symbol_id]
        rows = by_symbol.get(symbol)
        if rows is None:
            rows = by_symbol[symbol] = bytearray()
        if side == BUY:
            rows += pack(next_lot, qty, cash, now, 0, 0)
            opened += cash
        else:
            rows += pack(next_lot, -qty, -cash, now, 0, 0)
            opened -= cash
    books.next_lot, books.opened_cost = next_lot, wrapped(opened)


def open_lots(books: Books, symbol: str) -> list[Lot]:
    book_pending(books)
    return [Lot(*row) for row in LOT.iter_unpack(books.lots.get(symbol, b""))]


def held(books: Books, symbol: str) -> tuple[int, int]:
    """The open lots' total quantity and cost in ``symbol``."""
    book_pending(books)
    rows = np.frombuffer(books.lots.get(symbol, b""), dtype=LOT_DTYPE)
    return _exact_sum(rows["qty"]), _exact_sum(rows["cost"])


def closings_array(books: Books) -> np.ndarray:
    book_pending(books)
    return np.frombuffer(books.closings, dtype=CLOSING_DTYPE)


def trades_array(books: Books) -> np.ndarray:
    return np.frombuffer(books.trades, dtype=TRADE_DTYPE)


def closing_rows(books: Books, rows: np.ndarray) -> list[Closing]:
    """Rows of ``closings_array`` as ``Closing``s (gain = proceeds − cost + the wash-sale loss
    disallowed). The columns are read whole (``tolist``), not row by row: a statement or a
    page of gains reads thousands."""
    table = names(books)
    return [
        Closing(lot_id, table[symbol], qty, acquired, sold, proceeds, cost, disallowed, proceeds - cost + disallowed,
                bool(flags & LONG_TERM), bool(flags & WASH), f"{table[prefix]}-{number}")
        for lot_id, symbol, qty, acquired, sold, proceeds, cost, disallowed, prefix, number, flags in zip(
            *(rows[column].tolist() for column in ("lot_id", "symbol", "qty", "acquired", "sold", "proceeds", "cost", "disallowed", "order_prefix", "order_n", "flags")),
            strict=True,
        )
    ]


def realized_by_order(books: Books, order_ids: list[str]) -> dict[str, int]:
    """The gain realized so far by each of ``order_ids`` that closed lots (wash-sale
    disallowed losses added back, as in each closing's ``gain``); orders that closed none are
    left out. One pass over the closings' columns, whatever their number."""
    rows = closings_array(books)  # (books the pending rows)
    if not len(rows) or not order_ids:
        return {}
    wanted: dict[tuple[int, int], str] = {}
    for order_id in order_ids:
        prefix, _, number = order_id.rpartition("-")
        prefix_id = books.names.get(prefix if prefix and number.isdigit() else order_id)
        if prefix_id is not None:
            wanted[(prefix_id, int(number) if prefix and number.isdigit() else 0)] = order_id
    prefixes = np.fromiter((key[0] for key in wanted), dtype=np.int64, count=len(wanted))
    numbers = np.fromiter((key[1] for key in wanted), dtype=np.int64, count=len(wanted))
    mask = np.isin(rows["order_n"], numbers) & np.isin(rows["order_prefix"], prefixes)
    gains: dict[str, int] = {}
    for row in rows[mask]:
        found = wanted.get((int(row["order_prefix"]), int(row["order_n"])))
        if found is not None:
            gains[found] = gains.get(found, 0) + int(row["proceeds"]) - int(row["cost"]) + int(row["disallowed"])
    return gains


def _exact_sum(column: np.ndarray) -> int:
    """Σ of an int64 column, exactly: numpy's sum wraps past 2^63, so a column whose sum
    could reach it is summed in Python ints."""
    if not len(column):
        return 0
    bound = max(abs(int(column.max())), abs(int(column.min())))
    if bound * len(column) < 2**63:
        return int(column.sum())
    return sum(column.tolist())


def exact_sum(column: np.ndarray) -> int:
    return _exact_sum(column)


def wrapped(value: int) -> int:
    """``value`` as a signed 64-bit integer, wrapping (two's complement: the one in [-2^63,
    2^63) congruent to it modulo 2^64): what ``Books.opened_cost`` and every difference of
    two readings of it are kept as (see the module)."""
    if -_HALF_RANGE <= value < _HALF_RANGE:
        return value
    return (value + _HALF_RANGE) % _RANGE - _HALF_RANGE


# --- dates ------------------------------------------------------------------------------------


_DAY_NS = 86_400 * 1_000_000_000
# How far apart two instants are sure to be on local dates less or more than a number of days
# apart: a local day is 23 to 25 hours long, so a margin of two days covers every time zone's
# shifts. Within the margins the dates are computed (``trading_day``: a datetime each).
_SURELY_SHORT_NS = 363 * _DAY_NS  # sooner than this after buying, never past the anniversary
_SURELY_LONG_NS = 368 * _DAY_NS  # later than this, always past it (an anniversary is at most 366 days on)
_SURELY_WITHIN_NS = (WASH_WINDOW_DAYS - 2) * _DAY_NS
_SURELY_OUTSIDE_NS = (WASH_WINDOW_DAYS + 2) * _DAY_NS


def is_long_term(acquired: int, sold: int, timezone: str) -> bool:
    """Held more than one year: sold the day after the anniversary of the acquisition or later
    (local dates; bought on 29 February, the anniversary is 28 February)."""
    held_ns = sold - acquired
    if held_ns < _SURELY_SHORT_NS:
        return False
    if held_ns > _SURELY_LONG_NS:
        return True
    bought = date.fromordinal(trading_day(acquired, timezone))
    try:
        anniversary = bought.replace(year=bought.year + 1)
    except ValueError:
        anniversary = date(bought.year + 1, 2, 28)
    return trading_day(sold, timezone) > anniversary.toordinal()


def _within_wash_window(a: int, b: int, timezone: str) -> bool:
    """Whether the local dates of ``a`` and ``b`` are at most ``WASH_WINDOW_DAYS`` apart."""
    gap = abs(a - b)
    if gap < _SURELY_WITHIN_NS:
        return True
    if gap > _SURELY_OUTSIDE_NS:
        return False
    return abs(trading_day(a, timezone) - trading_day(b, timezone)) <= WASH_WINDOW_DAYS


# --- booking ------------------------------------------------------------------------------------


def split(total: int, parts: list[int]) -> list[int]:
    """``total`` over ``parts`` in proportion: ``total × part // whole`` for every part but the
    last, which gets the remainder (the results sum to ``total`` exactly)."""
    if len(parts) == 1:  # (every fill that only closes or only opens: nothing to share)
        return [total]
    whole = sum(parts)
    shares = [total * part // whole for part in parts[:-1]]
    return [*shares, total - sum(shares)]


def _order_ref(books: Books, order_id: str) -> tuple[int, int]:
    prefix, _, number = order_id.rpartition("-")
    if not number.isdigit() or not prefix:
        return name_id(books, order_id), 0
    return name_id(books, sys.intern(prefix)), int(number)


def open_position(books: Books, symbol: str, qty: int, cost: int, acquired: int) -> None:
    """A position brought in (the accounts file): one lot of ``qty`` at ``cost`` (signed like
    a short lot's when ``qty`` < 0), held since ``acquired``."""
    if qty:
        book_pending(books)
        _append_lot(books, symbol, qty, cost, acquired, 0, 0)


def book_fill(
    books: Books,
    fill: Fill,
    timezone: str,
    method: LotMethod | None = None,
    specific: list[list[int]] | None = None,
    position: int | None = None,
) -> list[int]:
    """Book one fill: a trade row; lots of the opposite sign closed (by ``method``, default the
    account's; ``specific``: ``[lot_id, qty]`` pairs the order still wants closed, consumed in
    place); what is left opens a lot. Returns the indexes of the closing rows it wrote.
    ``position``: the symbol's quantity before the fill, if the caller has it (else summed).

    Guarantees: the module's (quantity, cost, value); the cash of the fill is split between
    the lots it closes and the lot it opens by quantity, exactly."""
    book_pending(books)
    order_prefix, order_n = _order_ref(books, order_id=fill.order_id)
    symbol_id = name_id(books, fill.symbol)
    books.trades += TRADE.pack(fill.now, order_prefix, order_n, symbol_id, BUY if fill.buy else SELL, fill.qty, fill.price, fill.cash)
    rows = books.lots.get(fill.symbol)
    closing_qty = 0
    # lots of the other side (a position's lots all have its sign): only then sum them
    if rows and (LOT.unpack_from(rows, 0)[1] < 0) == fill.buy:
        # ``position``: the quantity before the fill, which the open lots sum to (the caller knows it)
        closing_qty = min(fill.qty, abs(held(books, fill.symbol)[0] if position is None else position))
    opening_qty = fill.qty - closing_qty
    parts = [q for q in (closing_qty, opening_qty) if q]
    cash_parts = split(fill.cash, parts)
    written: list[int] = []
    if closing_qty:
        # (an unknown value is refused by ``LotMethod`` as before: books only hold known ones)
        chosen = (_BY_VALUE.get(books.method) or LotMethod(books.method)) if method is None else method
        # a buy covers short lots: its cash is paid, a negative proceeds
        proceeds = -cash_parts[0] if fill.buy else cash_parts[0]
        written = _close(books, fill, symbol_id, closing_qty, proceeds, chosen, specific, (order_prefix, order_n), timezone)
    if opening_qty:
        cost = cash_parts[-1] if fill.buy else -cash_parts[-1]
        index = _append_lot(books, fill.symbol, opening_qty if fill.buy else -opening_qty, cost, fill.now, 0, 0)
        if fill.buy:
            _wash_after(books, fill.symbol, symbol_id, index, timezone)
    return written


class StagedTrades:
    """Fills that closed nothing into books that never closed a lot, held in an account
    shard's columns rather than written at once into each account's ``Books``: the trade
    row such a fill writes is all it writes (its lot waits as ``Books.pending``), and at the
    open, where nearly every fill is one, writing it touches a different account's books per
    fill — most of the booking's cost at scale is fetching those books from memory. Staged,
    a fill appends to a few shard-wide columns, nothing else: the index of rows by account
    is made only when something asks (``has``, ``take``, ``take_all``), over the rows staged
    since it was last made — so each row is indexed once, and at the open, where nothing
    asks until the next snapshot, the fill pays no lookup in a dict of the shard's accounts.

    Guarantees: filing the staged rows writes exactly the bytes ``book_opening`` would have
    written fill by fill (each account's rows in their order; accounts do not share books).
    """

    __slots__ = ("_by_account", "_indexed", "accounts", "order_ids", "symbols", "numbers")

    def __init__(self) -> None:
        self._by_account: dict[str, list[int]] = {}  # account → its rows (numbers), in order: rows below ``_indexed``
        self._indexed = 0  # rows indexed in ``_by_account`` (those after: in the columns only)
        self.accounts: list[str] = []
        self.order_ids: list[str] = []
        self.symbols: list[str] = []
        self.numbers = array("q")  # per row: now, signed qty (a sale's negative), price, cash

    def __len__(self) -> int:
        return len(self.symbols)

    def add(self, account: str, order_id: str, symbol: str, buy: bool, qty: int, price: int, cash: int, now: int) -> bool:
        """Stage one fill; ``False`` (nothing staged) when a figure does not fit 64 bits."""
        try:
            self.numbers.fromlist([now, qty if buy else -qty, price, cash])  # all or nothing
        except OverflowError:
            return False
        self.accounts.append(account)
        self.order_ids.append(order_id)
        self.symbols.append(symbol)
        return True

    def by_account(self) -> dict[str, list[int]]:
        """Every account with rows staged and not taken → its rows (numbers), in order."""
        by_account, accounts = self._by_account, self.accounts
        for row in range(self._indexed, len(accounts)):
            rows = by_account.get(accounts[row])
            if rows is None:
                by_account[accounts[row]] = [row]
            else:
                rows.append(row)
        self._indexed = len(accounts)
        return by_account

    def has(self, account: str) -> bool:
        """Whether ``account`` has rows staged and not taken."""
        return bool(self.accounts) and account in self.by_account()

    def take(self, account: str) -> Iterator[tuple[str, str, bool, int, int, int, int]]:
        """``account``'s rows, in order, as ``(order_id, symbol, buy, qty, price, cash, now)``,
        no longer staged (the columns keep them until ``take_all``)."""
        return self._rows(self.by_account().pop(account, ()))

    def take_all(self) -> Iterator[tuple[str, Iterator[tuple[str, str, bool, int, int, int, int]]]]:
        """Every account with its rows (as ``take``), account after account; then nothing is staged."""
        by_account = self.by_account()
        self._by_account, self._indexed = {}, 0
        for account, rows in by_account.items():
            yield account, self._rows(rows)
        self.accounts, self.order_ids, self.symbols, self.numbers = [], [], [], array("q")

    def peek_all(self, accounts: Iterable[str]) -> Callable[[str], list[tuple[str, str, bool, int, int, int, int]]]:
        """A lookup of each account's staged rows (as ``take`` gives them), taking none: what a
        snapshot writes for an account without filing its rows into the live books. The index
        it builds lives as long as the lookup and holds no object per row (the row numbers
        sorted by account, 4 bytes each, and each account's first): at 5,000,000 rows of
        500,000 accounts some 60 MB with the accounts' numbers, against 230 MB for the lists of
        ``by_account``. ``accounts``: every account that may have rows (the shard's)."""
        indexed, names = self._indexed, self.accounts
        code = {name: number for number, name in enumerate(accounts)}
        codes = np.fromiter((code[name] for name in names[indexed:]), np.int32, len(names) - indexed)
        order = np.argsort(codes, kind="stable").astype(np.int32)  # rows by account, each account's in order
        order += indexed
        bounds = np.zeros(len(code) + 1, np.int64)
        np.cumsum(np.bincount(codes, minlength=len(code)), out=bounds[1:])
        del codes
        earlier = self._by_account  # rows indexed before (not taken yet) come first

        def rows(account: str) -> list[tuple[str, str, bool, int, int, int, int]]:
            number = code.get(account)
            later = order[bounds[number] : bounds[number + 1]].tolist() if number is not None else []
            before = earlier.get(account, ())
            return list(self._rows([*before, *later])) if before or later else []

        return rows

    def _rows(self, rows: Iterable[int]) -> Iterator[tuple[str, str, bool, int, int, int, int]]:
        order_ids, symbols, numbers = self.order_ids, self.symbols, self.numbers
        for row in rows:
            at = 4 * row
            now, signed, price, cash = numbers[at], numbers[at + 1], numbers[at + 2], numbers[at + 3]
            yield order_ids[row], symbols[row], signed > 0, abs(signed), price, cash, now


def _trade_row(books: Books, symbol: str, buy: bool, qty: int, price: int, cash: int, now: int, order_id: str) -> tuple[int, int, int]:
    """The fill's trade row appended, as ``book_fill`` writes it first (the order's and the
    symbol's names get their ids here when new); returns the order's prefix id, its number
    and the symbol's id, for the rows that follow."""
    names = books.names
    prefix, _, number = order_id.rpartition("-")
    # the prefix is the shard's name in nearly every order id: one string object for all the
    # books of the shard, so each lookup matches by identity on a string already in cache
    order_prefix = names.get(sys.intern(prefix)) if prefix and number.isdigit() else None
    if order_prefix is None:
        order_prefix, order_n = _order_ref(books, order_id)
    else:
        order_n = int(number)
    symbol_id = names.get(symbol)
    if symbol_id is None:
        symbol_id = names[symbol] = len(names)
    trades = books.trades  # grown in place: no attribute written back
    trades += TRADE.pack(now, order_prefix, order_n, symbol_id, BUY if buy else SELL, qty, price, cash)
    return order_prefix, order_n, symbol_id


def book_opening(books: Books, symbol: str, buy: bool, qty: int, price: int, cash: int, now: int, order_id: str, timezone: str) -> int:
    """``book_fill`` for a fill that closes no lot (the position was flat or on the fill's
    side): a trade row and one lot of the whole fill, and — a buy into books that have
    closed lots — the wash-sale check. What nearly every fill at the open is, so it takes
    the fewest steps: into books that never closed a lot (no wash sale to check) it writes
    the trade row alone and leaves the lot pending (``Books.pending``, opened by
    ``book_pending`` at the next read); else the same rows as ``book_fill`` would write,
    exactly (``tests/unit/model/test_lots.py`` checks both). Returns the cost the open lots
    gained (signed): the lot's, plus any wash-sale loss carried into it."""
    symbol_id = _trade_row(books, symbol, buy, qty, price, cash, now, order_id)[2]
    cost = cash if buy else -cash
    if not books.closings:
        books.pending += 1
        return cost
    # books that have closed lots have nothing pending: the first closing booked it all
    opened_before = books.opened_cost
    books.next_lot += 1
    rows = books.lots.get(symbol)
    if rows is None:
        rows = books.lots[symbol] = bytearray()
    rows += LOT.pack(books.next_lot, qty if buy else -qty, cost, now, 0, 0)
    books.opened_cost = wrapped(opened_before + cost)
    if buy:
        _wash_after(books, symbol, symbol_id, len(rows) // LOT.size - 1, timezone)
    return wrapped(books.opened_cost - opened_before)


def book_closing(
    books: Books,
    symbol: str,
    buy: bool,
    qty: int,
    price: int,
    cash: int,
    now: int,
    order_id: str,
    timezone: str,
    method: LotMethod | None,
    position: int,
) -> int | None:
    """``book_fill`` for a fill that only closes, from one lot: the lot the method (``method``,
    else the account's) closes first — FIFO the first opened, LIFO the last — holds all of
    it. What nearly every sale of part of a position is, so it takes the fewest steps: no
    ``Fill``, no splits of one part, no sets of one lot. ``position``: the symbol's quantity
    before the fill. Returns what the open lots' cost changed by (signed: the wash-sale loss
    carried into a lot, less the closed cost), or ``None`` when the fill is not such a fill
    — then nothing is written and ``book_fill`` books it.

    Guarantees: the same rows, bytes and ``opened_cost`` as ``book_fill`` would write
    (``tests/unit/model/test_lots.py`` checks both)."""
    book_pending(books)
    chosen = _BY_VALUE.get(books.method) if method is None else method
    if chosen is not _FIFO and chosen is not _LIFO:
        return None  # (an unknown method too: ``book_fill`` refuses it)
    rows = books.lots.get(symbol)
    if not rows or qty > abs(position):
        return None
    index = 0 if chosen is _FIFO else len(rows) // LOT.size - 1
    offset = index * LOT.size
    lot_id, lot_qty, lot_cost, acquired, adjust, flags = LOT.unpack_from(rows, offset)
    size = abs(lot_qty)
    if (lot_qty < 0) != buy or size < qty:
        return None
    # book_fill's steps, in its order (the names get their ids in it): the trade row, then the closing
    order_prefix, order_n, symbol_id = _trade_row(books, symbol, buy, qty, price, cash, now, order_id)
    proceeds = -cash if buy else cash  # a buy covers short lots: its cash is paid, a negative proceeds
    cost = lot_cost if qty == size else lot_cost * qty // size
    signed = qty if lot_qty > 0 else -qty
    opened_before = books.opened_cost
    at = len(books.closings) // CLOSING.size
    term = LONG_TERM if is_long_term(acquired, now, timezone) else 0
    closings = books.closings
    closings += CLOSING.pack(lot_id, symbol_id, signed, acquired, now, proceeds, cost, 0, 0, order_prefix, order_n, term)
    if qty == size:
        del rows[offset : offset + LOT.size]
        if not rows:
            del books.lots[symbol]
    else:
        LOT.pack_into(rows, offset, lot_id, lot_qty - signed, lot_cost - cost, acquired, adjust, flags)
    if signed > 0 and proceeds < cost:  # a loss (``_loss_left``): replacement lots bought before it
        _wash_before(books, symbol, at, timezone, {lot_id})
    return wrapped(books.opened_cost - opened_before) - cost


def _append_lot(books: Books, symbol: str, qty: int, cost: int, acquired: int, adjust: int, flags: int) -> int:
    books.next_lot += 1
    rows = books.lots.setdefault(symbol, bytearray())
    rows += LOT.pack(books.next_lot, qty, cost, acquired, adjust, flags)
    books.opened_cost = wrapped(books.opened_cost + cost)
    return len(rows) // LOT.size - 1


def _order(rows: bytearray, method: LotMethod) -> Iterator[int]:
    """The indexes of the open lots in the order ``method`` closes them."""
    count = len(rows) // LOT.size
    if method is _LIFO:
        return iter(range(count - 1, -1, -1))
    if method is _HIFO:
        table = np.frombuffer(rows, dtype=LOT_DTYPE)
        per_share = [abs(int(cost)) * SCALE // max(abs(int(qty)), 1) for qty, cost in zip(table["qty"], table["cost"], strict=True)]
        return iter(sorted(range(count), key=lambda i: -per_share[i]))
    return iter(range(count))


def _average(rows: bytearray) -> None:
    """Every open lot's cost made the position's average for its quantity (exactly: the
    costs still sum to the same total)."""
    lots = list(LOT.iter_unpack(rows))
    if len(lots) < 2:
        return
    costs = split(sum(lot[2] for lot in lots), [abs(lot[1]) for lot in lots])
    for index, (lot, cost) in enumerate(zip(lots, costs, strict=True)):
        LOT.pack_into(rows, index * LOT.size, lot[0], lot[1], cost, lot[3], lot[4], lot[5])


def _close(
    books: Books,
    fill: Fill,
    symbol_id: int,
    qty: int,
    proceeds: int,
    method: LotMethod,
    specific: list[list[int]] | None,
    order: tuple[int, int],
    timezone: str,
) -> list[int]:
    rows = books.lots[fill.symbol]
    if method is _AVERAGE:
        _average(rows)
    takes: list[tuple[int, int]] = []  # (lot index, qty taken)
    left = qty
    if method is _SPECIFIC and specific:
        ids = np.frombuffer(rows, dtype=LOT_DTYPE)["lot_id"]
        for wanted in specific:
            if not left:
                break
            found = np.flatnonzero(ids == wanted[0])
            if not len(found) or wanted[1] <= 0:
                continue
            index = int(found[0])
            take = min(left, wanted[1], abs(LOT.unpack_from(rows, index * LOT.size)[1]))
            if take:
                takes.append((index, take))
                wanted[1] -= take
                left -= take
        del ids  # a view of ``rows``: while it lives, ``rows`` cannot change size
    if left:
        fallback = _FIFO if method in (_SPECIFIC, _AVERAGE) else method
        if not takes and rows and (fallback is _FIFO or fallback is _LIFO):
            # the lot closed first holds enough (most sales: part of a position): what the
            # loop below takes then, without its bookkeeping
            index = 0 if fallback is _FIFO else len(rows) // LOT.size - 1
            if abs(LOT.unpack_from(rows, index * LOT.size)[1]) >= left:
                takes.append((index, left))
                left = 0
    if left:
        taken = {index: amount for index, amount in takes}
        for index in _order(rows, fallback):
            available = abs(LOT.unpack_from(rows, index * LOT.size)[1]) - taken.get(index, 0)
            take = min(left, available)
            if take > 0:
                takes.append((index, take))
                taken[index] = taken.get(index, 0) + take
                left -= take
            if not left:
                break
    assert not left, (fill.symbol, qty, left)
    shares = split(proceeds, [take for _, take in takes])
    written: list[int] = []
    emptied: set[int] = set()
    closed_ids = {LOT.unpack_from(rows, index * LOT.size)[0] for index, _ in takes}
    for (index, take), part in zip(takes, shares, strict=True):
        lot_id, lot_qty, lot_cost, acquired, adjust, flags = LOT.unpack_from(rows, index * LOT.size)
        size = abs(lot_qty)
        cost = lot_cost if take == size else lot_cost * take // size
        signed = take if lot_qty > 0 else -take
        LOT.pack_into(rows, index * LOT.size, lot_id, lot_qty - signed, lot_cost - cost, acquired, adjust, flags)
        if take == size:
            emptied.add(index)
        term = LONG_TERM if is_long_term(acquired, fill.now, timezone) else 0
        written.append(len(books.closings) // CLOSING.size)
        books.closings += CLOSING.pack(lot_id, symbol_id, signed, acquired, fill.now, part, cost, 0, 0, order[0], order[1], term)
    for index in sorted(emptied, reverse=True):
        del rows[index * LOT.size : (index + 1) * LOT.size]
    if not rows:
        del books.lots[fill.symbol]
    for at in written:
        _wash_before(books, fill.symbol, at, timezone, closed_ids)
    return written


# --- wash sales -----------------------------------------------------------------------------------


def _loss_left(row: tuple[int, ...]) -> tuple[int, int]:
    """A closing's loss (> 0 for a loss of a long lot, else 0) and the quantity of it not yet
    matched by a replacement purchase."""
    qty, proceeds, cost, replaced = row[2], row[5], row[6], row[8]
    if qty <= 0 or proceeds >= cost:
        return 0, 0
    return cost - proceeds, qty - replaced


def _wash(books: Books, symbol: str, closing_at: int, lot_index: int, timezone: str) -> bool:
    """Match the closing at ``closing_at`` with the open lot at ``lot_index`` as its replacement,
    for as much as both have left: that part of the loss is disallowed and carried into the
    replacement shares' cost, and their holding period starts as much earlier as the sold
    lot was held. A lot larger than the match is split (the replacement shares get a new lot
    id, right after it). Returns whether anything matched."""
    offset = closing_at * CLOSING.size
    row = CLOSING.unpack_from(books.closings, offset)
    loss, unmatched = _loss_left(row)
    rows = books.lots[symbol]
    lot_id, lot_qty, lot_cost, acquired, adjust, flags = LOT.unpack_from(rows, lot_index * LOT.size)
    if not loss or unmatched <= 0 or lot_qty <= 0 or flags & LOT_REPLACEMENT:
        return False
    matched = min(unmatched, lot_qty)
    already = row[7]
    # the disallowed loss so far is for ``replaced`` shares: the total for replaced + matched, less it
    disallowed = loss * (row[8] + matched) // row[2] - already
    tacked = acquired - (row[4] - row[3])
    if matched < lot_qty:
        part_cost = lot_cost * matched // lot_qty
        LOT.pack_into(rows, lot_index * LOT.size, lot_id, lot_qty - matched, lot_cost - part_cost, acquired, adjust, flags)
        books.next_lot += 1
        new = LOT.pack(books.next_lot, matched, part_cost + disallowed, tacked, adjust + disallowed, flags | LOT_REPLACEMENT)
        rows[(lot_index + 1) * LOT.size : (lot_index + 1) * LOT.size] = new
    else:
        LOT.pack_into(rows, lot_index * LOT.size, lot_id, lot_qty, lot_cost + disallowed, tacked, adjust + disallowed, flags | LOT_REPLACEMENT)
    books.opened_cost = wrapped(books.opened_cost + disallowed)
    fields = list(row)
    fields[7], fields[8], fields[11] = already + disallowed, row[8] + matched, row[11] | WASH
    CLOSING.pack_into(books.closings, offset, *fields)
    return True


def _wash_before(books: Books, symbol: str, closing_at: int, timezone: str, sold_lots: set[int]) -> None:
    """A loss just realized: open lots of the symbol bought within the window before it
    replace it, the first opened first; not what is left of the lots this sale closed
    (shares of the purchase sold are not its replacement)."""
    rows = books.lots.get(symbol)
    if rows is None:
        return
    sold = CLOSING.unpack_from(books.closings, closing_at * CLOSING.size)[4]
    index = 0
    while index < len(rows) // LOT.size:
        if _loss_left(CLOSING.unpack_from(books.closings, closing_at * CLOSING.size))[1] <= 0:
            return
        lot_id, _, _, acquired, _, _ = LOT.unpack_from(rows, index * LOT.size)
        if lot_id not in sold_lots and _within_wash_window(acquired, sold, timezone):
            _wash(books, symbol, closing_at, index, timezone)
        index += 1


def _wash_after(books: Books, symbol: str, symbol_id: int, lot_index: int, timezone: str) -> None:
    """A lot just bought: the losses of the symbol realized within the window before it, not
    yet fully replaced, take it as their replacement (the earliest first)."""
    if not books.closings:
        return  # nothing ever sold (every account at its first fills): no numpy at all
    now = LOT.unpack_from(books.lots[symbol], lot_index * LOT.size)[3]
    candidates = _recent_losses(books, symbol_id, now, timezone)
    for at in candidates:
        open_rows = books.lots[symbol]
        lot_id = LOT.unpack_from(open_rows, lot_index * LOT.size)[0]
        if not _wash(books, symbol, at, lot_index, timezone):
            break
        # the lot may have been split: what is left of it (not a replacement) keeps its index
        after = LOT.unpack_from(open_rows, lot_index * LOT.size)
        if after[0] != lot_id or after[5] & LOT_REPLACEMENT:
            break


_SCANNED_BACK = 64  # closings read one by one from the newest before the columns pay for themselves


def _recent_losses(books: Books, symbol_id: int, now: int, timezone: str) -> list[int]:
    """The indexes of the closings of ``symbol_id`` sold within the wash-sale window before
    ``now`` with a loss not yet fully replaced, oldest first. Closings are in time order, so
    the window's are a tail: read from the newest while few, else found by bisection and
    filtered in columns (the same rows either way)."""
    closings, size = books.closings, CLOSING.size
    count = len(closings) // size
    found: list[int] = []
    for at in range(count - 1, max(count - _SCANNED_BACK, 0) - 1, -1):
        row = CLOSING.unpack_from(closings, at * size)
        if now - row[4] > _SURELY_OUTSIDE_NS:  # this one and every older one: outside the window
            break
        if row[1] == symbol_id and row[2] > 0 and row[5] < row[6] and row[8] < row[2] and _within_wash_window(row[4], now, timezone):
            found.append(at)
    else:
        if count > _SCANNED_BACK:  # more of the window may lie further back: the columns
            return _recent_losses_in_columns(books, symbol_id, now, timezone)
    found.reverse()
    return found


def _recent_losses_in_columns(books: Books, symbol_id: int, now: int, timezone: str) -> list[int]:
    closings = books.closings
    rows = np.frombuffer(closings, dtype=CLOSING_DTYPE)
    first = int(np.searchsorted(rows["sold"], day_start_ns(trading_day(now, timezone) - WASH_WINDOW_DAYS, timezone), side="left"))
    tail = rows[first:]
    losses = (tail["symbol"] == symbol_id) & (tail["qty"] > 0) & (tail["proceeds"] < tail["cost"]) & (tail["replaced"] < tail["qty"])
    candidates: list[int] = (np.flatnonzero(losses) + first).tolist()
    del rows, tail  # views of the ledger: released before it is written
    return candidates


# --- checks ---------------------------------------------------------------------------------------


def check_specific(books: Books, symbol: str, wanted: list[tuple[int, int]]) -> None:
    """``LotError`` unless every ``(lot_id, qty)`` names a distinct open lot of ``symbol`` in
    these books holding at least ``qty`` (> 0)."""
    book_pending(books)
    rows = np.frombuffer(books.lots.get(symbol, b""), dtype=LOT_DTYPE)
    seen: set[int] = set()
    for lot_id, qty in wanted:
        if lot_id in seen:
            raise LotError("invalid_lots", f"lot {lot_id} named twice")
        seen.add(lot_id)
        found = np.flatnonzero(rows["lot_id"] == lot_id)
        if not len(found):
            raise LotError("unknown_lot", f"no open lot {lot_id} of {symbol} in this account")
        if qty <= 0 or qty > int(rows["qty"][found[0]]):
            raise LotError("lot_qty_exceeded", f"lot {lot_id} holds {int(rows['qty'][found[0]])}, not {qty}")


def consistency(books: Books, positions: dict[str, int]) -> list[str]:
    """What is wrong with ``books`` against the positions ``{symbol: qty}``: empty when the
    open lots sum to each position, all of its sign, and cost is conserved."""
    book_pending(books)
    problems = []
    for symbol in set(books.lots) | {s for s, q in positions.items() if q}:
        rows = np.frombuffer(books.lots.get(symbol, b""), dtype=LOT_DTYPE)
        qty = _exact_sum(rows["qty"])
        if qty != positions.get(symbol, 0):
            problems.append(f"{symbol}: lots hold {qty}, the position {positions.get(symbol, 0)}")
        if len(rows) and not ((rows["qty"] > 0).all() or (rows["qty"] < 0).all()):
            problems.append(f"{symbol}: open lots of both signs or empty")
    open_cost = sum(_exact_sum(np.frombuffer(rows, dtype=LOT_DTYPE)["cost"]) for rows in books.lots.values())
    closed_cost = _exact_sum(closings_array(books)["cost"])
    if (open_cost + closed_cost - books.opened_cost) % _RANGE:  # (an old snapshot's value may be ≥ 2^63: congruent)
        problems.append(f"cost: open {open_cost} + closed {closed_cost} is not opened {books.opened_cost} modulo 2^64")
    return problems


# --- moving lots between accounts (a securities journal) ------------------------------------------
#
# A transfer of shares between accounts is not a sale: nothing is closed and nothing realized.
# The lots leave one account's books whole (or split, exactly) and enter another's with their
# cost, acquisition time and wash-sale adjustment, under the receiving books' own lot ids.


def take_lots(books: Books, symbol: str, qty: int, method: LotMethod, specific: list[tuple[int, int]] | None = None) -> list[Lot]:
    """Remove ``qty`` (> 0) of the long lots of ``symbol`` and return what was removed, one
    ``Lot`` per lot touched (its id in these books, the quantity taken, that part of its
    cost and of its wash-sale adjustment, its acquisition time and flags), in the order
    taken. Which lots: those ``specific`` names (``(lot_id, qty)``, each up to what the lot
    holds; a lot not open is passed over), then by ``method`` (``specific`` and ``average``:
    first opened first, ``average`` after re-averaging the costs, as a sale would).

    Guarantees: the quantities returned sum to ``qty``; a part of a lot gets
    ``cost × part // qty`` of it and the lot keeps the rest, so Σ cost taken + Σ cost left is
    the cost before; ``Books.opened_cost`` drops by the cost taken (nothing is closed, so cost
    stays conserved). ``LotError`` (nothing changed) when the long lots hold less than ``qty``.
    """
    book_pending(books)
    rows = books.lots.get(symbol)
    table = np.frombuffer(rows if rows is not None else b"", dtype=LOT_DTYPE)
    long_qty = _exact_sum(table["qty"]) if len(table) and int(table["qty"][0]) > 0 else 0
    named = {int(lot_id): index for index, lot_id in enumerate(table["lot_id"].tolist())}
    del table  # a view of ``rows``: while it lives, ``rows`` cannot change size
    if qty <= 0 or qty > long_qty or rows is None:
        raise LotError("insufficient_position", f"the long lots of {symbol} hold {long_qty}, not {qty}")
    if method is LotMethod.AVERAGE:
        _average(rows)
    taken: dict[int, int] = {}  # lot index → qty taken, in the order taken
    left = qty
    for lot_id, wanted in specific or ():
        index = named.get(lot_id)
        if index is None or wanted <= 0 or not left:
            continue
        take = min(left, wanted, LOT.unpack_from(rows, index * LOT.size)[1] - taken.get(index, 0))
        if take > 0:
            taken[index] = taken.get(index, 0) + take
            left -= take
    fallback = LotMethod.FIFO if method in (LotMethod.SPECIFIC, LotMethod.AVERAGE) else method
    for index in _order(rows, fallback):
        if not left:
            break
        take = min(left, LOT.unpack_from(rows, index * LOT.size)[1] - taken.get(index, 0))
        if take > 0:
            taken[index] = taken.get(index, 0) + take
            left -= take
    moved: list[Lot] = []
    emptied: list[int] = []
    for index, take in taken.items():
        lot_id, lot_qty, lot_cost, acquired, adjust, flags = LOT.unpack_from(rows, index * LOT.size)
        cost = lot_cost if take == lot_qty else lot_cost * take // lot_qty
        part = adjust if take == lot_qty else adjust * take // lot_qty
        LOT.pack_into(rows, index * LOT.size, lot_id, lot_qty - take, lot_cost - cost, acquired, adjust - part, flags)
        if take == lot_qty:
            emptied.append(index)
        books.opened_cost = wrapped(books.opened_cost - cost)
        moved.append(Lot(lot_id, take, cost, acquired, part, flags))
    for index in sorted(emptied, reverse=True):
        del rows[index * LOT.size : (index + 1) * LOT.size]
    if not rows:
        del books.lots[symbol]
    return moved


def put_lots(books: Books, symbol: str, moved: list[Lot]) -> list[Lot]:
    """Open ``moved`` (lots taken from another account's books by :func:`take_lots`) here,
    each under a new lot id of these books with its quantity, cost, acquisition time,
    adjustment and flags unchanged; returns them as opened. Each goes in the order of
    acquisition among the open lots (after every lot acquired no later), so first-opened-
    first and last-opened-first treat a lot by when it was bought, not when it arrived.
    ``Books.opened_cost`` grows by their cost.

    Guarantees: only long lots, only into books holding no short lot of ``symbol``
    (``LotError`` otherwise, nothing changed): the open lots keep one sign."""
    book_pending(books)
    rows = books.lots.get(symbol)
    if any(lot.qty <= 0 for lot in moved) or (rows and LOT.unpack_from(rows, 0)[1] < 0):
        raise LotError("short_position", f"long lots of {symbol} cannot join a short position")
    rows = books.lots.setdefault(symbol, bytearray())
    opened: list[Lot] = []
    for lot in moved:
        books.next_lot += 1
        new = Lot(books.next_lot, lot.qty, lot.cost, lot.acquired, lot.adjust, lot.flags)
        acquired = np.frombuffer(rows, dtype=LOT_DTYPE)["acquired"]
        at = int(np.flatnonzero(acquired > lot.acquired)[0]) if len(acquired) and int(acquired.max()) > lot.acquired else len(acquired)
        del acquired  # a view of ``rows``: released before it grows
        rows[at * LOT.size : at * LOT.size] = LOT.pack(*new)
        books.opened_cost = wrapped(books.opened_cost + lot.cost)
        opened.append(new)
    return opened
