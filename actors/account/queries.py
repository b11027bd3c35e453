"""Queries: an account's orders (paged) and its cash and positions."""

from __future__ import annotations

from actors.account.base import exec_id
from actors.account.books import Bookkeeping
from actors.account.records import PositionRecord
from actors.runtime.outputs import GATEWAY
from model import fixed, lots
from model.messages import AccountReply, ExecutionReport, OrdersReply, Position, QueryAccount, QueryOrders


class Queries(Bookkeeping):
    """Reads that change nothing: an account's orders page by page, its cash and positions."""

    def _query_orders(self, command: QueryOrders, now: int) -> None:
        """One page of the account's orders, each as a report of its current state.

        Guarantees: pages list orders in the order they came into being (``account.orders``
        order: an order is appended when created, a replace's new order when the venue
        confirms it, and no listed order ever moves or leaves), so paging with the
        ``next_cursor`` of each page lists every order exactly once, also while orders
        arrive between pages; each as it was when its page was read. A cursor that is not an
        order of this account is refused (``invalid_request``) and nothing is listed."""
        account = self.accounts.get(command.account)
        if account is None:
            self._refuse(command.reply, "forbidden", f"unknown account {command.account}")
            return
        order_ids = list(account.orders.values())
        start = 0
        if command.cursor is not None:
            after = self.orders.peek(command.cursor)
            if after is None or after.account != account.account:
                self._refuse(command.reply, "invalid_request", f"cursor {command.cursor!r} is not a position in {account.account}'s orders")
                return
            start = order_ids.index(after.order_id) + 1
        views: list[ExecutionReport] = []
        next_cursor: str | None = None
        for position in range(start, len(order_ids)):
            order = self.orders.peek(order_ids[position])  # None: reserved for a replace the venue has not confirmed
            if order is None or (command.open_only and not order.status.is_open):
                continue
            if command.limit and len(views) == command.limit:
                next_cursor = views[-1].order_id  # more may follow
                break
            views.append(self._execution(order, order.last_exec_type, now, exec_id=exec_id(order)))
        books = account.books
        realized = {} if books is None or not books.closings else lots.realized_by_order(books, [view.order_id for view in views])
        self.out.to(GATEWAY, command.reply.gateway, OrdersReply(command.reply, command.account, views, next_cursor, realized))

    def _query_account(self, command: QueryAccount, now: int) -> None:
        account = self.accounts.get(command.account)
        if account is None:
            self._refuse(command.reply, "forbidden", f"unknown account {command.account}")
            return
        positions = []
        for symbol, position in account.positions.items():
            if position.qty:
                instrument = self.instruments[symbol]
                mark = self.mark(instrument)
                cost = position.cost // fixed.SCALE  # the open lots' cash (``books.py``)
                unrealized = self.unrealized(instrument, position.qty, cost, mark)
                positions.append(Position(symbol, position.qty, _avg(position, instrument.multiplier), mark, unrealized))
        today, ytd = self.realized(account, now)
        self.out.to(
            GATEWAY,
            command.reply.gateway,
            AccountReply(command.reply, account.account, account.cash, account.buying_power, positions, today, ytd),
        )

    def open_orders(self, account: str | None) -> int:
        """How many open orders ``account`` (``None``: every account here) has."""
        return sum(1 for order in self.orders.values() if order.status.is_open and (account is None or order.account == account))


def _avg(position: PositionRecord, multiplier: int) -> int:
    """The average cost per unit (per share, not per contract), positive for a short position too."""
    return abs(position.cost) // (abs(position.qty) * multiplier) if position.qty else 0
