"""The books of an account shard: tax lots booked on every fill, the ledgers of trades and
closings, marks and P&L, and the queries ``get_lots`` and ``get_gains``.

The arithmetic is ``model/lots.py``'s; this part ties it to the shard: each account's
``Books`` hang off its ``AccountRecord`` (so they are in snapshots and ``state_hash``), a
fill books its cash, position and lots in one step (``_book_fill``), and a position's cost is
always the sum of its open lots' (``check_books``).
"""

from __future__ import annotations

from datetime import date

import numpy as np

from actors.account import risk
from actors.account.base import ShardBase
from actors.account.records import AccountRecord, OrderRecord, PositionRecord
from actors.runtime.outputs import GATEWAY
from model import fixed, lots
from model.calendar import trading_day
from model.enums import Side
from model.instruments import Instrument
from model.lots import CLOSING, Fill, LotMethod
from model.messages import ClosingRow, GainsReply, LotRow, LotsReply, QueryGains, QueryLots, SetLotMethod

_BUY = Side.BUY
_SCALE = fixed.SCALE
MARK_MID, MARK_LAST = "mid", "last"


class Bookkeeping(ShardBase):
    """Lots, ledgers and P&L of the shard's accounts (see the module)."""

    # --- booking --------------------------------------------------------------------------------

    def _book_fill(self, account: AccountRecord, order: OrderRecord, symbol: str, qty: int, price: int, now: int) -> None:
        """One fill of ``order`` (its ``cum_value`` already grown by it) into its account: the
        cash, booked on the order's cumulative value (rounded up to the cent for a buy, down
        for a sell, so the sum over fills is exact); the position's quantity; its lots, with
        the cash of this fill, and the position's cost made the open lots' again. Remembers
        the price as the symbol's last trade here (the ``last`` mark). One method: what every
        fill at the open runs, in the fewest steps."""
        buy = order.spec.side is _BUY
        booked_before = order.booked_cash
        if buy:
            booked = order.booked_cash = fixed.ceil_cent(order.cum_value)
            cash = booked - booked_before
            account.cash -= cash
        else:
            booked = order.booked_cash = fixed.floor_cent(order.cum_value)
            cash = booked - booked_before
            account.cash += cash
        position = account.positions.get(symbol)
        if position is None:
            position = account.positions[symbol] = PositionRecord()
            self._new_position(account, symbol)
        before = position.qty
        position.qty = before + qty if buy else before - qty
        if before == 0 or (before > 0) == buy:  # closes nothing: nearly every fill at the open
            books = account.books
            # into books that never closed a lot (no wash sale to check), the fill's trade row
            # is all it writes, and its lot's cost is its cash: staged in the shard's columns,
            # filed into the books before anything reads them (``lots.StagedTrades``)
            if (books is None or not books.closings) and self.staged.add(account.account, order.order_id, symbol, buy, qty, price, cash, now):
                position.cost_nanos += cash if buy else -cash  # (what ``book_opening`` returns there)
                self.last_trade[symbol] = price
                return
            # the position's cost is at 10^-18 in two halves; a lot's cost (10^-9) × 10^9 is whole nanos
            position.cost_nanos += lots.book_opening(self._books(account), symbol, buy, qty, price, cash, now, order.order_id, self.limits.open_timezone)
        else:
            books = self._books(account)
            method = LotMethod(order.lot_method) if order.lot_method else None
            if not order.lots:  # (lots named: ``book_fill`` closes them)
                # nearly every sale of part of a position: from the one lot closed first
                changed = lots.book_closing(books, symbol, buy, qty, price, cash, now, order.order_id, self.limits.open_timezone, method, before)
                if changed is not None:
                    position.cost_nanos += changed  # × 10^9 at 10^-18: whole nanos
                    self.last_trade[symbol] = price
                    return
            lots.book_pending(books)  # ``opened_cost`` as of before the fill, every lot opened
            opened_before = books.opened_cost
            fill = Fill(symbol, buy, qty, price, cash, now, order.order_id)
            written = lots.book_fill(books, fill, self.limits.open_timezone, method, order.lots, before)
            closed = sum(CLOSING.unpack_from(books.closings, at * CLOSING.size)[6] for at in written)
            # (``opened_cost`` wraps: the difference of two readings too, exact)
            position.cost_nanos += lots.wrapped(books.opened_cost - opened_before) - closed  # × 10^9 at 10^-18: whole nanos
        self.last_trade[symbol] = price

    def _open_lots(self, account: AccountRecord, symbol: str, qty: int, cost: int | None, acquired_day: int, now: int) -> int:
        """A position brought in as one lot: at ``cost`` (total; None: the reference price's
        value), acquired on ``acquired_day`` (a local date's ordinal; 0: ``now``). Returns its cost."""
        instrument = self.instruments[symbol]
        if cost is not None and qty < 0:
            cost = -abs(cost)  # a short lot's cost is minus what its sale brought in
        if cost is None:
            value = abs(qty) * instrument.reference_price * instrument.multiplier
            cost = fixed.ceil_cent(value) if qty > 0 else -fixed.floor_cent(value)
        acquired = lots.day_start_ns(acquired_day, self.limits.open_timezone) if acquired_day else now
        lots.open_position(self._books(account), symbol, qty, cost, acquired)
        return cost

    def _set_lot_method(self, command: SetLotMethod, now: int) -> None:
        account = self.accounts.get(command.account)
        if account is None or command.method not in lots.METHODS or command.method == LotMethod.SPECIFIC:
            self._anomaly(f"lot method {command.method!r} for account {command.account} refused")
            return
        self._books(account).method = command.method

    def check_specific(self, account: AccountRecord, symbol: str, wanted: tuple[tuple[int, int], ...]) -> str | None:
        """Why an order may not close the lots ``wanted`` (a reject reason), or None."""
        try:
            lots.check_specific(self._books(account), symbol, list(wanted))
        except lots.LotError as error:
            return error.code
        return None

    # --- marks and P&L ------------------------------------------------------------------------------

    def mark(self, instrument: Instrument) -> int:
        """The price a position is marked at: by ``[books] mark``, the mid of the consolidated
        quote or the last trade booked here, each falling back on the other, then on the
        reference price."""
        view = self.markets.get(instrument.symbol)
        mid = (view.bid + view.ask) // 2 if view is not None and view.bid and view.ask else None
        last = self.last_trade.get(instrument.symbol)
        first, second = (last, mid) if self.limits.mark == MARK_LAST else (mid, last)
        for price in (first, second):
            if price:
                return price
        return risk.reference_price(instrument, view)

    def unrealized(self, instrument: Instrument, qty: int, cost: int, mark: int) -> int:
        return qty * mark * instrument.multiplier // _SCALE - cost

    def realized(self, account: AccountRecord, now: int) -> tuple[int, int]:
        """The gains ``account`` realized on ``now``'s local date, and since 1 January of its year."""
        if account.books is None or not account.books.closings:
            return 0, 0  # nothing closed (nor staged: staged fills close nothing), nothing filed for it
        rows = lots.closings_array(self._books(account))
        timezone = self.limits.open_timezone
        today = trading_day(now, timezone)
        year_start = date(date.fromordinal(today).year, 1, 1).toordinal()
        return _gain(rows[rows["sold"] >= lots.day_start_ns(today, timezone)]), _gain(rows[rows["sold"] >= lots.day_start_ns(year_start, timezone)])

    # --- queries ---------------------------------------------------------------------------------------

    def _query_lots(self, command: QueryLots, now: int) -> None:
        account = self.accounts.get(command.account)
        if account is None:
            self._refuse(command.reply, "forbidden", f"unknown account {command.account}")
            return
        books = self._books(account)
        lots.book_pending(books)  # its lots read directly: every one opened
        symbols = [command.symbol] if command.symbol is not None else sorted(books.lots)
        timezone = self.limits.open_timezone
        rows: list[LotRow] = []
        for symbol in symbols:
            instrument = self.instruments.get(symbol)
            if instrument is None:
                self._refuse(command.reply, "unknown_symbol", f"unknown symbol {symbol}")
                return
            mark = self.mark(instrument)
            for lot in lots.open_lots(books, symbol):
                unrealized = self.unrealized(instrument, lot.qty, lot.cost, mark)
                long_term = lots.is_long_term(lot.acquired, now, timezone)
                rows.append(LotRow(symbol, lot.lot_id, lot.qty, lot.cost, lot.acquired, lot.adjust, mark, unrealized, long_term))
        self.out.to(GATEWAY, command.reply.gateway, LotsReply(command.reply, account.account, books.method, rows))

    def _query_gains(self, command: QueryGains, now: int) -> None:
        """One page of the closings whose sale falls on the dates asked, in the order they
        were booked, and the totals of all of them.

        Guarantees: paging with each page's ``next_cursor`` lists every closing of the range
        once (closings are only appended); a cursor that is not a closing of the account is
        refused (``invalid_request``) and nothing is listed."""
        account = self.accounts.get(command.account)
        if account is None:
            self._refuse(command.reply, "forbidden", f"unknown account {command.account}")
            return
        if not 1 <= command.from_day <= command.to_day < date.max.toordinal() or command.limit < 1:
            self._refuse(command.reply, "invalid_request", "from and to must be dates, from no later than to, and limit at least 1")
            return
        books = self._books(account)
        rows = lots.closings_array(books)
        if command.cursor is not None and not 0 <= command.cursor < len(rows):
            self._refuse(command.reply, "invalid_request", f"cursor {command.cursor} is not a position in {account.account}'s gains")
            return
        timezone = self.limits.open_timezone
        start, end = lots.day_start_ns(command.from_day, timezone), lots.day_start_ns(command.to_day + 1, timezone)
        sold = rows["sold"]
        found = np.flatnonzero((sold >= start) & (sold < end))
        chosen = rows[found]
        long_term = (chosen["flags"] & lots.LONG_TERM) != 0
        after = found[found > command.cursor] if command.cursor is not None else found
        page = after[: command.limit]
        next_cursor = int(page[-1]) if len(after) > len(page) else None
        closings = [
            ClosingRow(*closing, cursor=int(at))
            for closing, at in zip(lots.closing_rows(books, rows[page]), page, strict=True)
        ]
        reply = GainsReply(
            command.reply,
            account.account,
            closings,
            next_cursor,
            len(found),
            lots.exact_sum(chosen["proceeds"]),
            lots.exact_sum(chosen["cost"]),
            lots.exact_sum(chosen["disallowed"]),
            _gain(chosen[~long_term]),
            _gain(chosen[long_term]),
        )
        del rows, sold, chosen  # views of the ledger: released before it next grows
        self.out.to(GATEWAY, command.reply.gateway, reply)

    # --- checks ----------------------------------------------------------------------------------------

    def check_books(self, account: AccountRecord) -> None:
        """Each position's quantity is its open lots' and its cost their cost; cost is conserved."""
        books = self._books(account)
        problems = lots.consistency(books, {symbol: position.qty for symbol, position in account.positions.items()})
        for symbol, position in account.positions.items():
            if position.cost != lots.held(books, symbol)[1] * _SCALE:
                problems.append(f"{symbol}: position cost {position.cost} is not its lots' {lots.held(books, symbol)[1]} × 10^9")
        assert not problems, (account.account, problems)


def _gain(rows: np.ndarray) -> int:
    return lots.exact_sum(rows["proceeds"]) - lots.exact_sum(rows["cost"]) + lots.exact_sum(rows["disallowed"])
