"""An allocation's fills in columns (``AllocationFills``) book exactly what the same fills as
one ``OrderUpdate`` each book: the same state, the same reports, in the same order."""

from __future__ import annotations

from actors.account.core import AccountState
from model.config import AccountSeed
from model.enums import OrderType, Side, TimeInForce
from model.messages import AllocationFills, ExecutionReport, NewOrder
from model.orders import OrderSpec
from tests.unit.actors.account.support import FUND, IBM, LIMITS, NOW, OPT, REPLY, XYZ, D, reports, routed, run

ACCOUNTS = [f"V{i}" for i in range(6)]


def queued_state() -> tuple[AccountState, list[str]]:
    """Six accounts, each with a buy for the open (a quantity or a notional) or a short sale."""
    state = AccountState("account-0", [IBM, XYZ, OPT, FUND], LIMITS)
    order_ids = []
    for index, account in enumerate(ACCOUNTS):
        state.open_account(AccountSeed(account, "advisor", D("100000.00"), allow_short=True))
        side = Side.SELL if index % 3 == 2 else Side.BUY
        qty, notional = (None, D("1000.00")) if index % 3 == 1 else (D("5"), None)
        spec = OrderSpec("IBM", side, OrderType.MARKET, TimeInForce.OPG, qty, notional)
        [route] = routed(run(state, NewOrder(account, f"c{index}", spec, REPLY)))
        order_ids.append(route.message.order_id)
    return state, order_ids


def fills(order_ids: list[str]) -> AllocationFills:
    qtys = [D("5") if i % 3 != 1 else D("6.5") for i in range(len(order_ids))]
    cash = [D("750.00") if i % 3 != 1 else D("975.00") for i in range(len(order_ids))]
    done = [True, True, True, False, True, True]
    return AllocationFills("instrument-0-7", "IBM", "SIM", D("150.00"), order_ids, list(ACCOUNTS), qtys, cash, done, NOW)


def test_fills_in_columns_book_what_one_update_each_books() -> None:
    columns, order_ids = queued_state()
    one_by_one, same_ids = queued_state()
    assert order_ids == same_ids
    message = fills(order_ids)
    told = reports(run(columns, message))
    told_one_by_one = [report for update in message.updates() for report in reports(run(one_by_one, update))]
    assert told == told_one_by_one and len(told) == len(order_ids)
    assert columns.state_hash() == one_by_one.state_hash()
    assert columns.allocations == one_by_one.allocations == len(order_ids)
    assert columns.anomalies == [] and all(isinstance(r, ExecutionReport) for r in told)


def test_columns_of_unequal_length_change_nothing() -> None:
    state, order_ids = queued_state()
    before = state.state_hash()
    message = fills(order_ids)
    bad = AllocationFills(message.block, "IBM", "SIM", message.price, order_ids, message.accounts, message.qtys[:-1], message.cash, message.done, NOW)
    assert run(state, bad) == []
    assert state.state_hash() == before and "unequal length" in state.anomalies[-1]


def test_an_unknown_order_is_noted_and_the_others_are_booked() -> None:
    state, order_ids = queued_state()
    message = fills(order_ids)
    ids = ["account-0-999", *order_ids[1:]]
    told = reports(run(state, AllocationFills(message.block, "IBM", "SIM", message.price, ids, message.accounts, message.qtys, message.cash, message.done, NOW)))
    assert len(told) == len(order_ids) - 1
    assert state.anomalies == ["allocation fill for unknown order account-0-999 of block instrument-0-7"]
