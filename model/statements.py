"""Account statements and the yearly gains report: pure, from what an account shard's books
hold (its trades, cash movements, security moves and closed lots) and its balances now.

A statement covers the local dates ``first`` to ``last`` (inclusive, in the market's time
zone, ``[open] timezone``): the cash and positions at the start of ``first`` and at the end
of ``last``, and every trade, cash movement, security move and closed lot in between.

Balances at a moment are the balances now less every entry booked since: each entry says
exactly what it changed (a trade its cash and quantity, a settled transfer its cash, a move
its quantity), so walking back from the live state is exact, and the statement agrees with
``get_account`` by construction. The accounting identity of a statement holds exactly:
opening cash − bought + sold + cash in − cash out = closing cash, and per symbol opening
quantity + bought − sold + moved in − moved out = closing quantity
(:meth:`Statement.check`).

Formats: :func:`statement_json` (the client op and the admin command's ``.json`` file) and
:func:`statement_csv_rows` (one CSV, a ``section`` column naming each row's part);
:func:`gains_rows` (the yearly report, one row per closed lot, 1099-B-like).

Guarantees:
- Amounts are the exact fixed-point ints the books hold, written as decimal strings; no
  float anywhere.
- Entries are listed in booking order (time, then the order the books hold them).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import msgspec

from model import fixed
from model.calendar import day_start_ns, parse_iso_day, trading_day

NS_PER_SECOND = 1_000_000_000

STATEMENT_CSV_HEADER = (
    "section",
    "time",
    "reference",
    "symbol",
    "side",
    "qty",
    "price",
    "amount",
    "cost",
    "acquired",
    "disallowed",
    "gain",
    "term",
    "description",
)
GAINS_HEADER = (
    "account",
    "description",
    "symbol",
    "qty",
    "acquired",
    "sold",
    "proceeds",
    "cost",
    "wash_sale_disallowed",
    "gain",
    "term",
    "lot_id",
    "order_id",
)


class TradeEntry(NamedTuple):
    """One fill: ``cash`` is what was booked for it (≥ 0: paid for a buy, received for a sell)."""

    ts: int
    order_id: str
    symbol: str
    side: str  # "buy" | "sell"
    qty: int
    price: int
    cash: int


class CashEntry(NamedTuple):
    """A cash movement that changed the account's cash at ``ts``: ``amount`` signed (in > 0)."""

    ts: int
    reference: str  # the transfer's id
    kind: str  # deposit, withdrawal, journal_in, journal_out
    amount: int
    description: str = ""


class MoveEntry(NamedTuple):
    """Shares moved in or out without a trade (a securities journal): ``qty`` signed (in > 0)."""

    ts: int
    reference: str
    symbol: str
    qty: int
    description: str = ""


class GainEntry(NamedTuple):
    """One closed lot (or part of one). ``qty`` negative: a short lot covered."""

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
    order_id: str


class Balances(msgspec.Struct, frozen=True):
    cash: int
    positions: dict[str, int]  # nonzero quantities by symbol


class Statement(msgspec.Struct, frozen=True):
    account: str
    owner: str
    tenant: str
    first: date
    last: date
    timezone: str
    opening: Balances
    closing: Balances
    trades: list[TradeEntry]
    cash: list[CashEntry]
    moves: list[MoveEntry]
    gains: list[GainEntry]

    def check(self) -> list[str]:
        """What does not add up (nothing, for a statement of a consistent book)."""
        problems = []
        cash = self.opening.cash
        cash += sum(t.cash if t.side == "sell" else -t.cash for t in self.trades)
        cash += sum(c.amount for c in self.cash)
        if cash != self.closing.cash:
            problems.append(f"cash: opening + entries = {cash}, closing {self.closing.cash}")
        qty = dict(self.opening.positions)
        for t in self.trades:
            qty[t.symbol] = qty.get(t.symbol, 0) + (t.qty if t.side == "buy" else -t.qty)
        for m in self.moves:
            qty[m.symbol] = qty.get(m.symbol, 0) + m.qty
        if {s: q for s, q in qty.items() if q} != self.closing.positions:
            problems.append(f"positions: opening + entries = {qty}, closing {self.closing.positions}")
        return problems


def day_bounds(first: date, last: date, timezone: str) -> tuple[int, int]:
    """[start of ``first``, start of the day after ``last``) in ns since the epoch, local time."""
    return day_start_ns(first.toordinal(), timezone), day_start_ns(last.toordinal() + 1, timezone)


def parse_day(text: str) -> date:
    """``YYYY-MM-DD`` or ``ValueError`` with the words a client gets."""
    try:
        return parse_iso_day(text)
    except ValueError:
        raise ValueError(f"not a date (YYYY-MM-DD): {text[:20]!r}") from None


FIRST_DAY = date(1970, 1, 2)  # the dates a statement may cover: local midnights in ns since the epoch, in any zone
LAST_DAY = date(9999, 12, 30)


def check_period(first: date, last: date, max_days: int) -> None:
    """``ValueError`` (the words a client or operator gets) unless ``first`` ≤ ``last``, both
    within the dates a statement may cover, and the period at most ``max_days`` local dates
    (``[books] statement_max_days``)."""
    if first > last:
        raise ValueError(f"from {first.isoformat()} is after to {last.isoformat()}")
    if first < FIRST_DAY or last > LAST_DAY:
        raise ValueError(f"a statement covers dates from {FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}")
    days = last.toordinal() - first.toordinal() + 1
    if days > max_days:
        raise ValueError(f"a statement covers at most {max_days} days, not {days}: ask for a shorter period")


def build(
    account: str,
    owner: str,
    tenant: str,
    first: date,
    last: date,
    timezone: str,
    now: Balances,
    trades: Iterable[TradeEntry],
    cash: Iterable[CashEntry],
    moves: Iterable[MoveEntry],
    gains: Iterable[GainEntry],
) -> Statement:
    """The statement of ``first``..``last`` from the account's balances ``now`` and every entry
    its books hold (any order within each kind is fine; each is sorted by time, stably)."""
    start, end = day_bounds(first, last, timezone)
    all_trades = sorted(trades, key=lambda t: t.ts)
    all_cash = sorted(cash, key=lambda c: c.ts)
    all_moves = sorted(moves, key=lambda m: m.ts)
    opening = _walk_back(now, all_trades, all_cash, all_moves, start)
    closing = _walk_back(now, all_trades, all_cash, all_moves, end)
    return Statement(
        account,
        owner,
        tenant,
        first,
        last,
        timezone,
        opening,
        closing,
        [t for t in all_trades if start <= t.ts < end],
        [c for c in all_cash if start <= c.ts < end],
        [m for m in all_moves if start <= m.ts < end],
        sorted((g for g in gains if start <= g.sold < end), key=lambda g: g.sold),
    )


def _walk_back(now: Balances, trades: list[TradeEntry], cash: list[CashEntry], moves: list[MoveEntry], moment: int) -> Balances:
    """The balances at ``moment``: ``now`` less every entry at or after it."""
    money = now.cash
    qty = dict(now.positions)
    for t in trades:
        if t.ts >= moment:
            money += t.cash if t.side == "buy" else -t.cash
            qty[t.symbol] = qty.get(t.symbol, 0) - (t.qty if t.side == "buy" else -t.qty)
    for c in cash:
        if c.ts >= moment:
            money -= c.amount
    for m in moves:
        if m.ts >= moment:
            qty[m.symbol] = qty.get(m.symbol, 0) - m.qty
    return Balances(money, {symbol: q for symbol, q in sorted(qty.items()) if q})


# --- formats -------------------------------------------------------------------------------------


def iso_time(ts: int, timezone: str) -> str:
    """A booking time as local ISO 8601 with its offset, to the microsecond."""
    return datetime.fromtimestamp(ts // NS_PER_SECOND, ZoneInfo(timezone)).replace(microsecond=(ts % NS_PER_SECOND) // 1000).isoformat()


def iso_day(ts: int, timezone: str) -> str:
    return date.fromordinal(trading_day(ts, timezone)).isoformat()


def _balances(balances: Balances) -> dict[str, Any]:
    return {
        "cash": fixed.format_cash(balances.cash),
        "positions": [{"symbol": symbol, "qty": fixed.format(qty)} for symbol, qty in balances.positions.items()],
    }


def _gain(g: GainEntry, timezone: str) -> dict[str, Any]:
    return {
        "lot_id": g.lot_id,
        "symbol": g.symbol,
        "qty": fixed.format(g.qty),
        "acquired": iso_day(g.acquired, timezone),
        "sold": iso_day(g.sold, timezone),
        "proceeds": fixed.format_cash(g.proceeds),
        "cost": fixed.format_cash(g.cost),
        "wash_sale_disallowed": fixed.format_cash(g.disallowed),
        "gain": fixed.format_cash(g.gain),
        "term": "long" if g.long_term else "short",
        "order_id": g.order_id,
    }


def totals(statement: Statement) -> dict[str, int]:
    """The period's sums, as ints."""
    sums = dict.fromkeys(("bought", "sold", "cash_in", "cash_out", "realized_short", "realized_long", "wash_sale_disallowed"), 0)
    for t in statement.trades:
        sums["bought" if t.side == "buy" else "sold"] += t.cash
    for c in statement.cash:
        sums["cash_in" if c.amount > 0 else "cash_out"] += abs(c.amount)
    for g in statement.gains:
        sums["realized_long" if g.long_term else "realized_short"] += g.gain
        sums["wash_sale_disallowed"] += g.disallowed
    return sums


def statement_json(statement: Statement) -> dict[str, Any]:
    """The statement as the client op returns it and the admin command's ``.json`` file holds it."""
    tz = statement.timezone
    return {
        "account": statement.account,
        "owner": statement.owner,
        "tenant": statement.tenant,
        "from": statement.first.isoformat(),
        "to": statement.last.isoformat(),
        "timezone": tz,
        "opening": _balances(statement.opening),
        "closing": _balances(statement.closing),
        "trades": [
            {
                "time": iso_time(t.ts, tz),
                "order_id": t.order_id,
                "symbol": t.symbol,
                "side": t.side,
                "qty": fixed.format(t.qty),
                "price": fixed.format(t.price),
                "amount": fixed.format_cash(t.cash if t.side == "sell" else -t.cash),
            }
            for t in statement.trades
        ],
        "cash_movements": [
            {"time": iso_time(c.ts, tz), "transfer_id": c.reference, "kind": c.kind, "amount": fixed.format_cash(c.amount), "description": c.description}
            for c in statement.cash
        ],
        "security_moves": [
            {"time": iso_time(m.ts, tz), "reference": m.reference, "symbol": m.symbol, "qty": fixed.format(m.qty), "description": m.description}
            for m in statement.moves
        ],
        "realized": [_gain(g, tz) for g in statement.gains],
        "totals": {name: fixed.format_cash(value) for name, value in totals(statement).items()},
    }


def statement_csv_rows(statement: Statement) -> Iterator[list[str]]:
    """The statement as CSV rows under :data:`STATEMENT_CSV_HEADER`: opening and closing
    balances (``opening_cash``, ``opening_position``, ...), then every trade, cash movement,
    security move and realized gain, then the totals."""
    tz = statement.timezone
    width = len(STATEMENT_CSV_HEADER)

    def row(**cells: str) -> list[str]:
        out = [""] * width
        for name, value in cells.items():
            out[STATEMENT_CSV_HEADER.index(name)] = value
        return out

    first, last = statement.first.isoformat(), statement.last.isoformat()
    yield row(section="opening_cash", time=first, amount=fixed.format_cash(statement.opening.cash))
    for symbol, qty in statement.opening.positions.items():
        yield row(section="opening_position", time=first, symbol=symbol, qty=fixed.format(qty))
    for t in statement.trades:
        amount = fixed.format_cash(t.cash if t.side == "sell" else -t.cash)
        yield row(section="trade", time=iso_time(t.ts, tz), reference=t.order_id, symbol=t.symbol, side=t.side, qty=fixed.format(t.qty), price=fixed.format(t.price), amount=amount)
    for c in statement.cash:
        yield row(section="cash", time=iso_time(c.ts, tz), reference=c.reference, side=c.kind, amount=fixed.format_cash(c.amount), description=c.description)
    for m in statement.moves:
        yield row(section="security_move", time=iso_time(m.ts, tz), reference=m.reference, symbol=m.symbol, qty=fixed.format(m.qty), description=m.description)
    for g in statement.gains:
        yield row(
            section="realized",
            time=iso_day(g.sold, tz),
            reference=g.order_id,
            symbol=g.symbol,
            qty=fixed.format(g.qty),
            amount=fixed.format_cash(g.proceeds),
            cost=fixed.format_cash(g.cost),
            acquired=iso_day(g.acquired, tz),
            disallowed=fixed.format_cash(g.disallowed),
            gain=fixed.format_cash(g.gain),
            term="long" if g.long_term else "short",
            description=f"lot {g.lot_id}",
        )
    yield row(section="closing_cash", time=last, amount=fixed.format_cash(statement.closing.cash))
    for symbol, qty in statement.closing.positions.items():
        yield row(section="closing_position", time=last, symbol=symbol, qty=fixed.format(qty))
    for name, value in totals(statement).items():
        yield row(section="total", description=name, amount=fixed.format_cash(value))


def gains_rows(account: str, gains: Iterable[GainEntry], year: int, timezone: str) -> Iterator[list[str]]:
    """One row per lot closed in ``year`` (by the local date it was sold), under :data:`GAINS_HEADER`."""
    for g in gains:
        sold = iso_day(g.sold, timezone)
        if int(sold[:4]) != year:
            continue
        qty = fixed.format(abs(g.qty))
        description = f"{qty} {g.symbol}" + (" (short)" if g.qty < 0 else "")
        yield [
            account,
            description,
            g.symbol,
            fixed.format(g.qty),
            iso_day(g.acquired, timezone),
            sold,
            fixed.format_cash(g.proceeds),
            fixed.format_cash(g.cost),
            fixed.format_cash(g.disallowed),
            fixed.format_cash(g.gain),
            "long" if g.long_term else "short",
            str(g.lot_id),
            g.order_id,
        ]
