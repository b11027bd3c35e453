"""Statements on an account shard: an account's entries gathered from its books into the
types of ``model/statements.py``, the ``get_statement`` query, and the rows of the yearly
gains report.

An account's entries, each stamped with the time it changed the account:

- **trades**: every fill of its ``Books`` trades ledger (``model/lots.py``), the cash booked
  for it and its quantity;
- **cash movements**: its transfer records that moved cash (``transfers.py``): a settled
  deposit is +amount and a settled withdrawal −amount, at the time they were settled
  (``updated_ts``); a journal leg is + (credit) or − (debit), at the time it was booked.
  Pending, rejected and canceled transfers moved no cash (a withdrawal's hold is not a
  movement) and are not entries;
- **security moves**: shares moved in or out without a trade (``Transfers.security_moves``);
- **realized**: every closing of its ledger (a lot or part of one closed by a sale or a cover).

Balances now are the account's cash and its nonzero positions. Every cash and quantity
change of an account is one of these entries (``AccountState.check_invariants``: cash is
the opening cash plus what orders booked plus what settled transfers moved), so walking
back from now is exact.

Guarantees:
- Read only: a statement changes nothing but, when refused, the shard's count of refused
  requests (as every refused query does).
- A statement holds at most ``max_rows`` entries: counted in the ledgers' columns before a
  single entry is made, and refused ``statement_too_large`` above.
- The balances at the end of the period are now's less what came after, summed in the
  ledgers' columns (exact ints), so the cost of a statement grows with its own entries and
  the size of the ledgers, not with an entry object per fill since.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import date

import numpy as np

from actors.account.books import Bookkeeping
from actors.account.records import AccountRecord
from actors.account.transfers import Transfers
from actors.runtime.outputs import GATEWAY
from model import lots
from model.lots import Books
from model.messages import QueryStatement, StatementReply
from model.statements import (
    FIRST_DAY,
    LAST_DAY,
    Balances,
    CashEntry,
    GainEntry,
    MoveEntry,
    Statement,
    TradeEntry,
    build,
    day_bounds,
    gains_rows,
)
from model.transfers import TransferKind, TransferStatus

STATEMENT_TOO_LARGE = "statement_too_large"
_SETTLED = TransferStatus.SETTLED


class StatementRefused(ValueError):
    """A statement that cannot be made: ``code`` is the reason code the client gets."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Statements(Bookkeeping, Transfers):
    """Statements of the shard's accounts (see the module)."""

    # --- the entries of an account ------------------------------------------------------------

    def cash_entries(self, account: str) -> list[CashEntry]:
        """The cash movements of ``account``: its settled transfers of cash, signed, at the time
        each moved the cash, in the order they were made (its journals of shares are
        ``Transfers.security_moves``)."""
        entries = []
        for record in self.transfers_of(account, _SETTLED):
            if record.symbol is not None:
                continue  # a journal of shares moves no cash: ``security_moves``
            if record.kind is TransferKind.DEPOSIT:
                entries.append(CashEntry(record.updated_ts, record.transfer_id, "deposit", record.amount))
            elif record.kind is TransferKind.WITHDRAWAL:
                entries.append(CashEntry(record.updated_ts, record.transfer_id, "withdrawal", -record.amount))
            elif record.to_account == account:
                entries.append(CashEntry(record.updated_ts, record.transfer_id, "journal_in", record.amount, f"journal {record.journal_id} from {record.from_account}"))
            else:
                entries.append(CashEntry(record.updated_ts, record.transfer_id, "journal_out", -record.amount, f"journal {record.journal_id} to {record.to_account}"))
        return entries

    @staticmethod
    def balances_now(record: AccountRecord) -> Balances:
        return Balances(record.cash, {symbol: position.qty for symbol, position in sorted(record.positions.items()) if position.qty})

    # --- a statement ----------------------------------------------------------------------------

    def statement(self, account: str, from_day: int, to_day: int, max_rows: int) -> Statement:
        """The statement of ``account`` for the local dates ``from_day`` to ``to_day``
        (proleptic ordinals, both included), or ``StatementRefused``: an unknown account
        (``forbidden``, as every query of one), dates that are not a period
        (``invalid_request``), more than ``max_rows`` entries (``statement_too_large``)."""
        record = self.accounts.get(account)
        if record is None:
            raise StatementRefused("forbidden", f"unknown account {account}")
        if not FIRST_DAY.toordinal() <= from_day <= to_day <= LAST_DAY.toordinal():
            raise StatementRefused("invalid_request", "from and to must be dates, from no later than to")
        timezone = self.limits.open_timezone
        first, last = date.fromordinal(from_day), date.fromordinal(to_day)
        start, end = day_bounds(first, last, timezone)
        books = self._books(record)
        trades, closings = lots.trades_array(books), lots.closings_array(books)
        in_trades = (trades["ts"] >= start) & (trades["ts"] < end)
        in_gains = (closings["sold"] >= start) & (closings["sold"] < end)
        cash, moves = self.cash_entries(account), self.security_moves(account)
        period_cash = [entry for entry in cash if start <= entry.ts < end]
        period_moves = [entry for entry in moves if start <= entry.ts < end]
        rows = int(np.count_nonzero(in_trades)) + int(np.count_nonzero(in_gains)) + len(period_cash) + len(period_moves)
        if rows > max_rows:
            message = f"the statement of {account} from {first.isoformat()} to {last.isoformat()} holds {rows} entries, more than the {max_rows} one may: ask for a shorter period"
            raise StatementRefused(STATEMENT_TOO_LARGE, message)
        at_end = _balances_at_end(
            books,
            self.balances_now(record),
            trades[trades["ts"] >= end],
            [entry for entry in cash if entry.ts >= end],
            [entry for entry in moves if entry.ts >= end],
        )
        period_trades, period_gains = trade_entries(books, trades[in_trades]), gain_entries(books, closings[in_gains])
        del trades, closings, in_trades, in_gains  # views of the ledgers: released before they next grow
        # ``now`` given as the balances at the end: walking back over the period's entries gives the opening
        return build(account, record.owner, record.tenant, first, last, timezone, at_end, period_trades, period_cash, period_moves, period_gains)

    def _query_statement(self, command: QueryStatement, now: int) -> None:
        try:
            statement = self.statement(command.account, command.from_day, command.to_day, command.max_rows)
        except StatementRefused as refused:
            self._refuse(command.reply, refused.code, str(refused))
            return
        self.out.to(GATEWAY, command.reply.gateway, StatementReply(command.reply, statement))

    # --- the yearly gains report -----------------------------------------------------------------------

    def gains_report(self, year: int, accounts: Iterable[str] | None = None) -> Iterator[list[str]]:
        """The rows of the gains report of ``year`` (``model.statements.GAINS_HEADER``) for
        ``accounts`` here (None: every account here), account by account in the order the
        shard holds them, each account's closings in the order booked."""
        timezone = self.limits.open_timezone
        start, end = day_bounds(date(year, 1, 1), date(year, 12, 31), timezone)
        wanted = None if accounts is None else set(accounts)
        for name, record in self.accounts.items():
            if wanted is not None and name not in wanted:
                continue
            books = self._books(record)
            closings = lots.closings_array(books)
            chosen = gain_entries(books, closings[(closings["sold"] >= start) & (closings["sold"] < end)])
            del closings
            yield from gains_rows(name, chosen, year, timezone)


def trade_entries(books: Books, rows: np.ndarray) -> list[TradeEntry]:
    """Rows of ``lots.trades_array(books)`` as ``TradeEntry``s (read by columns: one Python
    object per entry, not one per field)."""
    table = lots.names(books)
    sides = ["buy" if side == lots.BUY else "sell" for side in rows["side"].tolist()]
    return [
        TradeEntry(ts, f"{table[prefix]}-{number}", table[symbol], side, qty, price, cash)
        for ts, prefix, number, symbol, side, qty, price, cash in zip(
            rows["ts"].tolist(),
            rows["order_prefix"].tolist(),
            rows["order_n"].tolist(),
            rows["symbol"].tolist(),
            sides,
            rows["qty"].tolist(),
            rows["price"].tolist(),
            rows["cash"].tolist(),
            strict=True,
        )
    ]


def gain_entries(books: Books, rows: np.ndarray) -> list[GainEntry]:
    """Rows of ``lots.closings_array(books)`` as ``GainEntry``s (``lots.closing_rows``, without
    the wash-sale flag a statement does not show apart from the amount disallowed)."""
    return [
        GainEntry(c.lot_id, c.symbol, c.qty, c.acquired, c.sold, c.proceeds, c.cost, c.disallowed, c.gain, c.long_term, c.order_id)
        for c in lots.closing_rows(books, rows)
    ]


def _balances_at_end(books: Books, now: Balances, later: np.ndarray, cash: list[CashEntry], moves: list[MoveEntry]) -> Balances:
    """The balances before the trades ``later`` (rows of the trades ledger), the cash
    movements ``cash`` and the moves ``moves``: ``now`` less what each changed, in exact ints."""
    sells = later["side"] == lots.SELL
    money = now.cash - lots.exact_sum(later["cash"][sells]) + lots.exact_sum(later["cash"][~sells]) - sum(entry.amount for entry in cash)
    qty = dict(now.positions)
    if len(later):
        table = lots.names(books)
        for symbol_id in np.unique(later["symbol"]).tolist():
            mine = later[later["symbol"] == symbol_id]
            mine_sells = mine["side"] == lots.SELL
            bought = lots.exact_sum(mine["qty"][~mine_sells]) - lots.exact_sum(mine["qty"][mine_sells])
            symbol = table[symbol_id]
            qty[symbol] = qty.get(symbol, 0) - bought
    for move in moves:
        qty[move.symbol] = qty.get(move.symbol, 0) - move.qty
    return Balances(money, {symbol: held for symbol, held in sorted(qty.items()) if held})
