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


def test_fills_into_fresh_books_are_staged_filed_per_account_on_a_read_and_whole_before_a_hash() -> None:
    """A fill that closes nothing into books that never closed a lot only stages its trade
    row in the shard's columns (``lots.StagedTrades``); reading an account's books files its
    rows alone, the hash files the rest, and the books are what filing each fill at once makes."""
    staged, order_ids = queued_state()
    staged.apply(fills(order_ids), NOW)
    staged.out.drain()
    unfiled = lambda name: staged.accounts[name].books is None or not staged.accounts[name].books.trades  # noqa: E731
    assert len(staged.staged) == len(ACCOUNTS) and all(unfiled(a) for a in ACCOUNTS)
    assert staged.accounts["V0"].positions["IBM"].qty == D("5")  # cash and positions are booked at once
    staged._books(staged.accounts["V0"])  # a read of one account's books (get_lots, a statement, a closing fill)
    assert not staged.staged.has("V0") and len(staged.staged.by_account()) == len(ACCOUNTS) - 1
    assert not unfiled("V0") and unfiled("V1")
    at_once, _ = queued_state()
    for update in fills(order_ids).updates():
        run(at_once, update)  # check_invariants reads every account's books after each input: nothing stays staged
        assert not at_once.staged.by_account()
    assert staged.state_hash() == at_once.state_hash() and not staged.staged.by_account() and not len(staged.staged)


def test_a_figure_beyond_64_bits_is_booked_at_once_not_staged() -> None:
    from model.lots import StagedTrades

    columns = StagedTrades()
    assert not columns.add("A1", "o1", "IBM", True, 1, 1, 2**63, NOW) and len(columns) == 0
    assert columns.add("A1", "o2", "IBM", False, 3, 4, 5, NOW) and list(columns.take("A1")) == [("o2", "IBM", False, 3, 4, 5, NOW)]


def test_staged_rows_come_back_per_account_in_order_whenever_the_index_is_made() -> None:
    """The index of rows by account is made lazily, over the rows staged since it was last
    made: takes between adds, and a take-all at the end, give each account's rows in the
    order staged, once each — as an index kept at every add would."""
    import random

    from model.lots import StagedTrades

    rng = random.Random(7)
    columns = StagedTrades()
    expected: dict[str, list[str]] = {}
    taken: dict[str, list[str]] = {}
    for n in range(2_000):
        account = f"A{rng.randrange(40)}"
        assert columns.add(account, f"o{n}", "IBM", n % 3 != 0, n + 1, 100, n, NOW)
        expected.setdefault(account, []).append(f"o{n}")
        if rng.random() < 0.02:  # a read of one account's books between fills
            who = f"A{rng.randrange(40)}"
            assert columns.has(who) == (who in expected)
            taken.setdefault(who, []).extend(row[0] for row in columns.take(who))
            expected.pop(who, None)
            assert not columns.has(who)
    for account, rows in columns.take_all():
        taken.setdefault(account, []).extend(row[0] for row in rows)
    assert len(columns) == 0 and not columns.by_account() and not columns.has("A1")
    assert sorted(order for rows in taken.values() for order in rows) == sorted(f"o{n}" for n in range(2_000))
    assert all(rows == sorted(rows, key=lambda order: int(order[1:])) for rows in taken.values())
