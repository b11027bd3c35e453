"""Orders held for the open, in columns: no Python object per order while they wait.

An InstrumentActor may hold millions of market orders for the open. As ``Route`` objects
they cost about 340 bytes each; here an order is one row of a few numpy columns (33
bytes): its counter, account, symbol, side, kind, amount and cap. The rows are grouped by
the account shard that routed them — an order id is the shard's name and its counter
(``account-0-17``) — and kept in counter order within a shard, so an order is found by a
binary search (a cancel or replace before the open), and the rows of a symbol come out in
order id order for the open without building a string per order to sort.

Which orders are held here (``eligible``): market orders for the open, for a quantity or a
cash amount below 2^62 (so every column is int64 without overflow whatever the configured
limits), whose order id is ``<name>-<n>-<counter>`` (``[^-]+-[0-9]+`` then a counter
without leading zeros below 10^18). Anything else held for the open — a limit for the open,
an order id of another form, a value too large — stays a ``Route`` as before. Which way an
order is kept is a function of the order alone, so a live actor and one rebuilt from a
snapshot and its journal keep every order the same way.

An order is *thawed* back into a ``Route`` only when something touches it: a cancel, a
replace (after which, still held and eligible, it is frozen again under its new id), an
operator's cancel-all, or the open itself (which never builds the ``Route``: it reads the
columns straight into the blocks).

Guarantees:

* A row round-trips exactly: ``thaw`` gives the ``Route`` the actor would have built for
  the ``RouteOrder`` (same order id, interned account, the book's symbol string, the spec
  and the cap), and ``columns``/``restore`` give back the same rows.
* Rows of one symbol are released in the order of their order ids as strings (what the
  allocation's tie rule, lower order id first, is defined on): within a shard, by the
  counter's decimal digits; between shards, by ``name-``, and no eligible name followed by
  ``-`` is a prefix of another (each has exactly one ``-``), so that order is the strings'.
* Sums are exact Python ints (``exact_sum``), never an int64 that could wrap.
"""

from __future__ import annotations

import re
import sys
from bisect import bisect_left
from typing import NamedTuple

import msgspec
import numpy as np
from numpy.typing import NDArray

from actors.instrument.records import Route
from model.enums import OrderType, Side, TimeInForce
from model.orders import OrderSpec
from model.routes import RouteState

LIMIT = 2**62  # an amount or cap at or above this stays a Route (sums of 2^31 of them fit in a Python int, not int64)
_MAX_COUNTER = 10**18  # lexicographic keys ``counter × 10^(18 − digits)`` then fit in int64
_ORDER_ID = re.compile(r"([^-]+-[0-9]+)-([1-9][0-9]{0,17})")
_SELL, _NOTIONAL = 1, 2  # bits of the ``flags`` column
_SELL_SIDE = Side.SELL
_MARKET, _OPG, _HELD_OPEN = OrderType.MARKET, TimeInForce.OPG, RouteState.HELD_OPEN
_PENDING = 4096  # rows gathered in a list before they go into the arrays (one numpy call, not six per row)
_GROWTH = 1.25  # capacity grows by a quarter: at most a fifth of a shard's columns unused
_POW10 = np.array([10**k for k in range(19)], dtype=np.int64)

Int64s = NDArray[np.int64]


def parse_order_id(order_id: str) -> tuple[str, int] | None:
    """``("account-0", 17)`` for ``"account-0-17"``; ``None`` for an id of another form."""
    match = _ORDER_ID.fullmatch(order_id)
    return None if match is None else (match.group(1), int(match.group(2)))


def _counter(digits: str) -> int | None:
    """The counter of an id whose shard name is known good (the fast path of ``parse_order_id``)."""
    if digits.isascii() and digits.isdigit() and digits[0] != "0" and len(digits) <= 18:
        return int(digits)
    return None


def eligible(order_id: str, spec: OrderSpec, qty_cap: int | None) -> tuple[str, int] | None:
    """The order's shard name and counter when it is held in columns, else ``None``."""
    return parse_order_id(order_id) if _holdable(spec, qty_cap) else None


def _holdable(spec: OrderSpec, qty_cap: int | None) -> bool:
    """The terms a row holds exactly: a market order for the open, one amount below ``LIMIT``."""
    if spec.order_type is not _MARKET or spec.tif is not _OPG or spec.price is not None or spec.stop_price is not None:
        return False
    amount = spec.qty if spec.notional is None else (spec.notional if spec.qty is None else None)
    return amount is not None and 0 < amount < LIMIT and (qty_cap is None or 0 <= qty_cap < LIMIT)


def exact_sum(values: Int64s) -> int:
    """The sum of non-negative int64 values below 2^62 as a Python int (exact for < 2^31 values)."""
    return (int((values >> 32).sum()) << 32) + int((values & 0xFFFFFFFF).sum())


def lexicographic_order(counters: Int64s) -> NDArray[np.intp]:
    """The permutation that sorts positive counters as their decimal strings sort ("10" < "9")."""
    digits = np.searchsorted(_POW10, counters, side="right")  # 1..18
    key = counters * _POW10[18 - digits]  # the digits left-aligned: "9" → 9·10^17, "10" → 10^17
    return np.lexsort((digits, key))  # a prefix sorts first: "1" < "10"


class ShardColumns(msgspec.Struct, array_like=True, gc=False):
    """One shard's held rows in a snapshot: little-endian columns, in counter order."""

    name: str
    counter: bytes  # int64
    account: bytes  # int32: index into ``HeldColumns.accounts``
    symbol: bytes  # int32: index into ``HeldColumns.symbols``
    flags: bytes  # uint8: 1 sell, 2 notional
    amount: bytes  # int64: qty, or cash for a notional order
    cap: bytes  # int64: the notional sell's qty cap, -1 none


class HeldColumns(msgspec.Struct, array_like=True, gc=False):
    """Every order an InstrumentActor holds in columns, as its snapshot writes them."""

    accounts: list[str]
    symbols: list[str]
    shards: list[ShardColumns]


class Released(NamedTuple):
    """One kind (side, quantity or notional) of one symbol's rows, taken out for the open, in
    order id order: the columns a block's ``Constituents`` are made of."""

    order_ids: list[str]
    accounts: list[str]
    amount: list[int]  # qty, or cash for notional orders
    cap: list[int]  # -1: none


def kind_of(side: Side, notional: bool) -> int:
    """The ``flags`` of a row of ``side`` and kind: the key of ``release``'s answer."""
    return (_SELL if side is Side.SELL else 0) | (_NOTIONAL if notional else 0)


_COLUMNS = (("counter", np.int64), ("account", np.int32), ("symbol", np.int32), ("flags", np.uint8), ("amount", np.int64), ("cap", np.int64))


class _Shard:
    """One shard's rows: columns with spare capacity, live rows first ``size``, counters
    strictly increasing. A removed row keeps its place with amount 0 until ``compact``.
    The newest rows wait in ``pending`` (tuples, counters above every row's) until
    ``flush`` puts them into the columns: every method that reads the columns flushes."""

    __slots__ = ("name", "size", "live", "last", "pending", "pending_counters", "counter", "account", "symbol", "flags", "amount", "cap")

    def __init__(self, name: str, capacity: int = 64) -> None:
        self.name = name
        self.size = 0  # rows in the columns
        self.live = 0  # rows not removed, pending ones included
        self.last = 0  # the highest counter (0: none)
        self.pending: list[tuple[int, int, int, int, int, int]] = []
        self.pending_counters: list[int] = []
        self.counter = np.zeros(capacity, np.int64)
        self.account = np.zeros(capacity, np.int32)
        self.symbol = np.zeros(capacity, np.int32)
        self.flags = np.zeros(capacity, np.uint8)
        self.amount = np.zeros(capacity, np.int64)
        self.cap = np.zeros(capacity, np.int64)

    def _reserve(self, wanted: int) -> None:
        capacity = len(self.counter)
        if wanted <= capacity:
            return
        capacity = max(wanted, int(capacity * _GROWTH) + 1)
        for field, dtype in _COLUMNS:
            grown = np.zeros(capacity, dtype)
            grown[: self.size] = getattr(self, field)[: self.size]
            setattr(self, field, grown)

    def add(self, counter: int, account: int, symbol: int, flags: int, amount: int, cap: int) -> bool:
        """A new row in counter order; ``False`` if the counter is held already."""
        if counter > self.last:  # the usual case: an account shard's counters only grow
            self.pending.append((counter, account, symbol, flags, amount, cap))
            self.pending_counters.append(counter)
            self.live += 1
            self.last = counter
            if len(self.pending) >= _PENDING:
                self.flush()
            return True
        self.flush()
        at = int(np.searchsorted(self.counter[: self.size], counter))
        if int(self.counter[at]) == counter:
            if self.amount[at]:
                return False
            self._set(at, (counter, account, symbol, flags, amount, cap))  # a removed row's place
            self.live += 1
            return True
        self._reserve(self.size + 1)
        for field, _dtype in _COLUMNS:
            column = getattr(self, field)
            column[at + 1 : self.size + 1] = column[at : self.size]
        self._set(at, (counter, account, symbol, flags, amount, cap))
        self.size += 1
        self.live += 1
        return True

    def flush(self) -> None:
        """The pending rows into the columns, in one go."""
        if not self.pending:
            return
        rows = np.array(self.pending, dtype=np.int64)
        start, stop = self.size, self.size + len(rows)
        self._reserve(stop)
        for index, (field, _dtype) in enumerate(_COLUMNS):
            getattr(self, field)[start:stop] = rows[:, index]
        self.size = stop
        self.pending, self.pending_counters = [], []

    def _set(self, at: int, row: tuple[int, int, int, int, int, int]) -> None:
        for (field, _dtype), value in zip(_COLUMNS, row, strict=True):
            getattr(self, field)[at] = value

    def holds(self, counter: int) -> bool:
        """Whether ``counter`` is a live row (pending ones included), without a flush."""
        pending = self.pending_counters
        if pending and counter >= pending[0]:
            at = bisect_left(pending, counter)
            return at < len(pending) and pending[at] == counter
        return self.find(counter) is not None

    def find(self, counter: int) -> int | None:
        """The live row of ``counter`` in the columns, or ``None`` (flush first to see pending rows)."""
        at = int(np.searchsorted(self.counter[: self.size], counter))
        if at < self.size and int(self.counter[at]) == counter and self.amount[at]:
            return at
        return None

    def rows(self) -> NDArray[np.intp]:
        self.flush()
        return np.flatnonzero(self.amount[: self.size])

    def remove(self, rows: NDArray[np.intp] | int) -> None:
        self.flush()
        self.amount[rows] = 0
        self.live = int(np.count_nonzero(self.amount[: self.size]))
        if self.live * 2 < self.size:
            self.compact()

    def compact(self) -> None:
        """Drop removed rows and spare capacity."""
        keep = self.rows()
        for field, _dtype in _COLUMNS:
            setattr(self, field, getattr(self, field)[keep].copy())
        self.size = self.live = len(keep)
        self.last = int(self.counter[-1]) if len(keep) else 0


class OpenHolding:
    """The columns of every order held for the open in one InstrumentActor."""

    def __init__(self) -> None:
        self.accounts: list[str] = []  # index → account (each string interned)
        self.account_index: dict[str, int] = {}
        self.symbols: list[str] = []  # index → symbol (the book's own string)
        self.symbol_index: dict[str, int] = {}
        self.shards: dict[str, _Shard] = {}

    def __len__(self) -> int:
        return sum(shard.live for shard in self.shards.values())

    def __contains__(self, order_id: str) -> bool:
        key = self._key(order_id) if self.shards else None
        return key is not None and key[0] is not None and key[0].holds(key[1])

    def _settle(self) -> None:
        """Every shard's pending rows into its columns (before the columns are read)."""
        for shard in self.shards.values():
            shard.flush()

    # --- in and out ------------------------------------------------------------------------

    def add(self, order_id: str, account: str, spec: OrderSpec, qty_cap: int | None, symbol: str) -> bool | None:
        """Hold the order here if it is ``eligible`` (``symbol``: the book's string):
        ``True``; ``False``: it is not eligible; ``None``: its id is held here already.

        Every order for the open passes here: ``_holdable``, ``_key`` and the shard's append
        are written out inline (a call costs about a tenth of a microsecond)."""
        if spec.order_type is not _MARKET or spec.tif is not _OPG or spec.price is not None or spec.stop_price is not None:
            return False
        amount, notional = spec.qty, spec.notional
        flags = _SELL if spec.side is _SELL_SIDE else 0
        if notional is not None:
            if amount is not None:
                return False
            amount, flags = notional, flags | _NOTIONAL
        if amount is None or not 0 < amount < LIMIT or (qty_cap is not None and not 0 <= qty_cap < LIMIT):
            return False
        name, _, digits = order_id.rpartition("-")
        shard = self.shards.get(name)
        if shard is not None and digits.isascii() and digits.isdigit() and digits[0] != "0" and len(digits) <= 18:
            counter = int(digits)
        elif shard is not None:
            return False
        else:
            key = parse_order_id(order_id)
            if key is None:
                return False
            name, counter = sys.intern(key[0]), key[1]
            shard = self.shards[name] = _Shard(name)
        account_index = self.account_index.get(account)
        if account_index is None:
            account_index = self._account(account)
        symbol_index = self.symbol_index.get(symbol)
        if symbol_index is None:
            symbol_index = self._symbol(symbol)
        cap = -1 if qty_cap is None else qty_cap
        if counter > shard.last:  # the usual case (``_Shard.add``): an account shard's counters only grow
            shard.pending.append((counter, account_index, symbol_index, flags, amount, cap))
            shard.pending_counters.append(counter)
            shard.live += 1
            shard.last = counter
            if len(shard.pending) >= _PENDING:
                shard.flush()
            return True
        return shard.add(counter, account_index, symbol_index, flags, amount, cap) or None

    def take(self, order_id: str) -> Route | None:
        """The order as a ``Route``, no longer held here; ``None`` if it is not held here."""
        found = self._locate(order_id)
        if found is None:
            return None
        shard, row = found
        route = self._thaw(shard, row)
        shard.remove(row)
        return route

    def take_matching(self, account: str | None, symbol: str | None) -> list[Route]:
        """Every order of ``account`` and ``symbol`` (``None``: any) as ``Route``s, in order
        id order within each shard, shards by name; no longer held here."""
        self._settle()
        taken: list[Route] = []
        for name in sorted(self.shards):
            shard = self.shards[name]
            rows = self._matching(shard, account, symbol)
            if len(rows):
                taken.extend(self._thaw(shard, int(row)) for row in rows[lexicographic_order(shard.counter[rows])])
                shard.remove(rows)
        return taken

    def count(self, account: str | None = None, symbol: str | None = None) -> int:
        self._settle()
        return sum(len(self._matching(shard, account, symbol)) for shard in self.shards.values())

    def peek(self, symbol: str) -> list[Route]:
        """The orders of ``symbol`` as ``Route``s, still held here."""
        self._settle()
        routes: list[Route] = []
        for name in sorted(self.shards):
            shard = self.shards[name]
            routes.extend(self._thaw(shard, int(row)) for row in self._matching(shard, None, symbol))
        return routes

    def release(self, symbols: set[str]) -> dict[str, dict[int, Released]]:
        """Take every order of ``symbols`` out for the open: per symbol and kind (``kind_of``),
        in order id order. Each order id and account string is made once, here."""
        self._settle()
        wanted = np.array(sorted(self.symbol_index[s] for s in symbols if s in self.symbol_index), np.int32)
        parts: list[tuple[_Shard, NDArray[np.intp]]] = []
        for name in sorted(self.shards, key=lambda n: n + "-"):  # how ``name-counter`` strings sort
            shard = self.shards[name]
            size = shard.size
            rows = np.flatnonzero((shard.amount[:size] != 0) & np.isin(shard.symbol[:size], wanted))
            if len(rows):
                parts.append((shard, rows[lexicographic_order(shard.counter[rows])]))
        if not parts:
            return {}

        def column(field: str) -> NDArray[np.int64]:
            return np.concatenate([getattr(shard, field)[rows] for shard, rows in parts]).astype(np.int64)

        symbol, flags = column("symbol"), column("flags")
        which = np.concatenate([np.full(len(rows), number, np.int32) for number, (_shard, rows) in enumerate(parts)])
        group = symbol.astype(np.int64) * 4 + flags
        order = np.argsort(group, kind="stable")  # by symbol and kind; order id order kept within each
        group = group[order]
        names = [shard.name for shard, _rows in parts]
        ids = [f"{names[w]}-{c}" for w, c in zip(which[order].tolist(), column("counter")[order].tolist(), strict=True)]
        table = self.accounts
        accounts = [table[a] for a in column("account")[order].tolist()]
        amount, cap = column("amount")[order].tolist(), column("cap")[order].tolist()
        bounds = [0, *(np.flatnonzero(np.diff(group)) + 1).tolist(), len(group)]
        released: dict[str, dict[int, Released]] = {}
        for start, stop in zip(bounds, bounds[1:], strict=False):
            key = int(group[start])
            released.setdefault(self.symbols[key >> 2], {})[key & 3] = Released(ids[start:stop], accounts[start:stop], amount[start:stop], cap[start:stop])
        for shard, rows in parts:
            shard.remove(rows)
        self._drop_empty()
        return released

    # --- snapshots and the hash -----------------------------------------------------------

    def columns(self) -> HeldColumns:
        """The rows as a snapshot writes them (live rows only, shards by name)."""
        self._settle()
        shards = []
        for name in sorted(self.shards):
            shard = self.shards[name]
            rows = shard.rows()
            shards.append(ShardColumns(name, *(_bytes(getattr(shard, field)[rows], dtype) for field, dtype in _COLUMNS)))
        return HeldColumns(list(self.accounts), list(self.symbols), shards)

    @classmethod
    def restore(cls, columns: HeldColumns, symbols: dict[str, str]) -> OpenHolding:
        """The holding ``columns`` describe (``symbols``: each book's own string)."""
        holding = cls()
        intern = sys.intern
        holding.accounts = [intern(account) for account in columns.accounts]
        holding.account_index = {account: index for index, account in enumerate(holding.accounts)}
        holding.symbols = [symbols.get(symbol, symbol) for symbol in columns.symbols]
        holding.symbol_index = {symbol: index for index, symbol in enumerate(holding.symbols)}
        for stored in columns.shards:
            shard = _Shard(intern(stored.name), 0)
            for field, dtype in _COLUMNS:
                setattr(shard, field, np.frombuffer(getattr(stored, field), np.dtype(dtype).newbyteorder("<")).astype(dtype))
            shard.size = len(shard.counter)
            shard.live = int(np.count_nonzero(shard.amount))
            shard.last = int(shard.counter[-1]) if shard.size else 0
            holding.shards[shard.name] = shard
        holding._drop_empty()
        return holding

    def digest(self) -> bytes:
        """The rows in a form independent of how the tables grew: shards by name, accounts
        and symbols by the rank of their strings among those in use (what ``state_hash``
        takes)."""
        self._settle()
        live = [(name, self.shards[name].rows()) for name in sorted(self.shards)]
        live = [(name, rows) for name, rows in live if len(rows)]
        accounts = _in_use(self.accounts, [self.shards[name].account[rows] for name, rows in live])
        symbols = _in_use(self.symbols, [self.shards[name].symbol[rows] for name, rows in live])
        parts: list[object] = [accounts[0], symbols[0]]
        for name, rows in live:
            shard = self.shards[name]
            parts.append(name)
            parts.append(shard.counter[rows].tobytes())
            parts.append(accounts[1][shard.account[rows]].tobytes())
            parts.append(symbols[1][shard.symbol[rows]].tobytes())
            parts.extend(getattr(shard, field)[rows].tobytes() for field in ("flags", "amount", "cap"))
        return msgspec.msgpack.encode(parts)

    def check(self) -> None:
        """Invariants: counters strictly increase in each shard, live counts are right."""
        self._settle()
        for name, shard in self.shards.items():
            assert shard.name == name
            counters = shard.counter[: shard.size]
            assert bool((np.diff(counters) > 0).all()), f"{name}: counters out of order"
            assert shard.live == int(np.count_nonzero(shard.amount[: shard.size])), f"{name}: live count"
            assert shard.last == (int(counters[-1]) if shard.size else 0), f"{name}: last counter"

    # --- inside -----------------------------------------------------------------------------

    def _key(self, order_id: str) -> tuple[_Shard | None, int] | None:
        """The shard (``None``: none yet) and counter of an id of the columns' form, else ``None``."""
        name, _, digits = order_id.rpartition("-")
        shard = self.shards.get(name)
        if shard is not None:  # a name seen before: only the counter is left to check
            counter = _counter(digits)
            return None if counter is None else (shard, counter)
        key = parse_order_id(order_id)
        return None if key is None else (None, key[1])

    def _locate(self, order_id: str) -> tuple[_Shard, int] | None:
        key = self._key(order_id) if self.shards else None
        if key is None or key[0] is None:
            return None
        key[0].flush()
        row = key[0].find(key[1])
        return None if row is None else (key[0], row)

    def _matching(self, shard: _Shard, account: str | None, symbol: str | None) -> NDArray[np.intp]:
        size = shard.size
        mask = shard.amount[:size] != 0
        if account is not None:
            index = self.account_index.get(account)
            if index is None:
                return np.zeros(0, np.intp)
            mask &= shard.account[:size] == index
        if symbol is not None:
            index = self.symbol_index.get(symbol)
            if index is None:
                return np.zeros(0, np.intp)
            mask &= shard.symbol[:size] == index
        return np.flatnonzero(mask)

    def _thaw(self, shard: _Shard, row: int) -> Route:
        flags, amount, cap = int(shard.flags[row]), int(shard.amount[row]), int(shard.cap[row])
        side = Side.SELL if flags & _SELL else Side.BUY
        notional = bool(flags & _NOTIONAL)
        spec = OrderSpec(self.symbols[int(shard.symbol[row])], side, _MARKET, _OPG, None if notional else amount, amount if notional else None)
        return Route(f"{shard.name}-{int(shard.counter[row])}", self.accounts[int(shard.account[row])], spec, None if cap < 0 else cap, _HELD_OPEN)

    def _account(self, account: str) -> int:
        index = self.account_index.get(account)
        if index is None:
            account = sys.intern(account)
            index = self.account_index[account] = len(self.accounts)
            self.accounts.append(account)
        return index

    def _symbol(self, symbol: str) -> int:
        index = self.symbol_index.get(symbol)
        if index is None:
            index = self.symbol_index[symbol] = len(self.symbols)
            self.symbols.append(symbol)
        return index

    def _drop_empty(self) -> None:
        """Shards with no row go; with no row at all, the tables start again."""
        for name in [name for name, shard in self.shards.items() if not shard.live]:
            del self.shards[name]
        if not self.shards:
            self.accounts, self.account_index, self.symbols, self.symbol_index = [], {}, [], {}


def _bytes(values: NDArray[np.generic], dtype: type) -> bytes:
    return values.astype(np.dtype(dtype).newbyteorder("<"), copy=False).tobytes()


def _in_use(strings: list[str], indexes: list[NDArray[np.int32]]) -> tuple[list[str], NDArray[np.int64]]:
    """The strings the rows use, sorted, and each table index's rank among them."""
    used = np.unique(np.concatenate(indexes)) if indexes else np.zeros(0, np.int32)
    names = sorted(strings[i] for i in used.tolist())
    rank = {name: r for r, name in enumerate(names)}
    ranks = np.full(len(strings), -1, np.int64)
    for i in used.tolist():
        ranks[i] = rank[strings[i]]
    return names, ranks
