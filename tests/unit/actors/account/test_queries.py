"""Queries: an account's orders, page by page, and its cash and positions."""

from __future__ import annotations

from typing import Any

import pytest

from actors.account.core import AccountState
from model.config import AccountSeed
from model.enums import OrderType, Side, TimeInForce, VenueEventKind
from model.messages import NewOrder, OrdersReply, QueryOrders, ReplaceOrder, RequestRejected
from model.orders import OrderSpec
from tests.unit.actors.account.support import REPLY, D, fill, make_state, only_report, order, run, venue_event


def test_get_orders_lists_each_order_once_and_open_only_filters() -> None:
    state = make_state()
    run(state, order("c1"))
    order_id = only_report(run(state, order("c2"))).order_id
    fill(state, order_id, "10", "150")
    everything = run(state, QueryOrders("A1", False, REPLY))[0].message
    open_only = run(state, QueryOrders("A1", True, REPLY))[0].message
    assert isinstance(everything, OrdersReply) and isinstance(open_only, OrdersReply)
    assert [o.client_order_id for o in everything.orders] == ["c1", "c2"]
    assert [o.client_order_id for o in open_only.orders] == ["c1"]


def test_get_orders_answers_while_a_replace_is_pending() -> None:
    state = make_state()
    run(state, order("c1"))
    run(state, ReplaceOrder("A1", "c1", "c2", D("12"), None, None, REPLY))
    listing = run(state, QueryOrders("A1", False, REPLY))[0].message
    assert isinstance(listing, OrdersReply) and [o.client_order_id for o in listing.orders] == ["c1"]


def page(state: AccountState, cursor: str | None, limit: int, open_only: bool = False) -> OrdersReply:
    [send] = run(state, QueryOrders("A1", open_only, REPLY, cursor, limit))
    assert isinstance(send.message, OrdersReply), send
    return send.message


def every_page(state: AccountState, limit: int, open_only: bool = False, between: Any = None) -> list[str]:
    """The client order ids of every page, following ``next_cursor``; ``between(n)`` runs after page n."""
    listed, cursor, pages = [], None, 0
    while True:
        reply = page(state, cursor, limit, open_only)
        assert len(reply.orders) <= limit
        listed += [o.client_order_id for o in reply.orders]
        pages += 1
        if between is not None:
            between(pages)
        if reply.next_cursor is None:
            return listed
        cursor = reply.next_cursor


def test_pages_list_every_order_once_in_the_order_they_came() -> None:
    state = make_state()
    for index in range(7):
        run(state, order(f"c{index}", qty="1"))
    assert every_page(state, 3) == [f"c{index}" for index in range(7)]
    assert every_page(state, 7) == every_page(state, 100) == [f"c{index}" for index in range(7)]
    last = page(state, None, 7)
    assert last.next_cursor is None  # exactly one page: no empty page after it
    assert [o.client_order_id for o in page(state, None, 0).orders] == [f"c{index}" for index in range(7)]  # 0: all (operator reads)


def test_orders_that_arrive_between_pages_are_listed_once_at_the_end() -> None:
    state = make_state()
    for index in range(5):
        run(state, order(f"c{index}", qty="1"))
    added = iter(range(5, 9))

    def more(pages: int) -> None:
        if pages <= 2:
            for _ in range(2):
                run(state, order(f"c{next(added)}", qty="1"))

    assert every_page(state, 2, between=more) == [f"c{index}" for index in range(9)]


def test_a_replace_confirmed_after_the_pages_passed_it_is_still_listed() -> None:
    state = make_state()
    first_id = only_report(run(state, order("c0", qty="1"))).order_id
    run(state, ReplaceOrder("A1", "c0", "r0", D("2"), None, None, REPLY))  # reserves "r0" right after c0
    for index in range(1, 5):
        run(state, order(f"c{index}", qty="1"))

    def confirm(pages: int) -> None:
        if pages == 2:
            venue_event(state, first_id, VenueEventKind.REPLACED)

    assert every_page(state, 2, between=confirm) == ["c0", "c1", "c2", "c3", "c4", "r0"]


def test_open_only_pages_hold_only_open_orders() -> None:
    state = make_state()
    for index in range(6):
        order_id = only_report(run(state, order(f"c{index}", qty="1"))).order_id
        if index % 2:
            fill(state, order_id, "1", "150.00")
    assert every_page(state, 2, open_only=True) == ["c0", "c2", "c4"]
    assert page(state, None, 3, open_only=True).next_cursor is None


@pytest.mark.parametrize("cursor", ["account-0-99", "nonsense", "account-0-1"])
def test_a_cursor_that_is_not_a_position_in_the_accounts_orders_is_refused(cursor: str) -> None:
    state = make_state()
    state.open_account(AccountSeed("A2", "trader1", D("100.00")))
    run(state, NewOrder("A2", "x1", OrderSpec("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, D("0.1"), None, D("150"), None), REPLY))
    run(state, order("c1", qty="1"))  # account-0-2: the A2 order is account-0-1
    books = (state.orders.as_dict(), {a: r.orders.copy() for a, r in state.accounts.items()})
    [send] = run(state, QueryOrders("A1", False, REPLY, cursor, 10))
    assert isinstance(send.message, RequestRejected) and send.message.code == "invalid_request" and send.key == REPLY.gateway
    assert (state.orders.as_dict(), {a: r.orders.copy() for a, r in state.accounts.items()}) == books
