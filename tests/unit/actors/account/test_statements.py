"""Statements on the shard (``actors/account/statements.py``), driven by hand: an account's
trades, cash movements and closings gathered from its books and transfers, balances walked
back from now, the row cap, refusals that change nothing, and the gains report's rows."""

from __future__ import annotations

from datetime import date

import msgspec

from actors.account.core import AccountState
from actors.account.statements import STATEMENT_TOO_LARGE
from model import fixed
from model.config import AccountSeed
from model.enums import Side
from model.messages import (
    Batch,
    DecideTransfer,
    JournalEntry,
    QueryStatement,
    RequestJournal,
    RequestRejected,
    RequestTransfer,
    StatementReply,
    TransferEvent,
    decode_batch,
    encode_batch,
)
from model.statements import GAINS_HEADER, Balances, Statement, build, day_bounds
from model.transfers import Decision, TransferKind
from tests.unit.actors.account.support import DAY, LIMITS, REPLY, D, make_state, run
from tests.unit.actors.account.test_books import buy, sell

TZ = LIMITS.open_timezone
START = day_bounds(date(2026, 3, 2), date(2026, 3, 2), TZ)[0] + 15 * 3_600 * 1_000_000_000  # Monday 2 March 2026, 15:00 local


def on(day: int) -> int:
    """The 15:00 local of the ``day``-th day after 2 March 2026 (no DST change before the 8th)."""
    return START + day * DAY


def ordinal(day: int) -> int:
    return date(2026, 3, 2).toordinal() + day


def transfer(state: AccountState, kind: TransferKind, amount: str, key: str, now: int, decision: Decision | None = Decision.SETTLE) -> str:
    sends = run(state, RequestTransfer("A1", kind, D(amount), key, "trader1", REPLY), now)
    [made] = [s.message.transfer for s in sends if isinstance(s.message, TransferEvent)]
    if decision is not None:
        run(state, DecideTransfer(made.transfer_id, decision, None, "cashier1"), now)
    return str(made.transfer_id)


def journal(state: AccountState, source: str, target: str, amount: str, key: str, now: int) -> None:
    run(state, RequestJournal(key, [JournalEntry(source, target, D(amount))], "trader1", False, 1, REPLY), now)


def ask(state: AccountState, first: int, last: int, max_rows: int = 10_000, account: str = "A1") -> object:
    (send,) = run(state, QueryStatement(account, REPLY, ordinal(first), ordinal(last), max_rows), on(9))
    return send.message


def busy_state() -> AccountState:
    """A1 over six days: a buy, a settled deposit, a sale, a pending and a rejected withdrawal,
    a journal out to A2 and one in from it, a settled withdrawal, another buy."""
    state = make_state()
    state.open_account(AccountSeed("A2", "trader1", D("500.00")))
    buy(state, "b1", "10", "140.00", on(0))
    transfer(state, TransferKind.DEPOSIT, "250.00", "d1", on(1))
    sell(state, "s1", "4", "150.00", on(2))
    transfer(state, TransferKind.WITHDRAWAL, "10.00", "w1", on(2), decision=None)  # pending: holds, moves nothing
    transfer(state, TransferKind.WITHDRAWAL, "20.00", "w2", on(2), decision=Decision.REJECT)
    journal(state, "A1", "A2", "30.00", "j1", on(3))
    journal(state, "A2", "A1", "5.00", "j2", on(3))
    transfer(state, TransferKind.WITHDRAWAL, "40.00", "w3", on(4))
    buy(state, "b2", "1", "160.00", on(5))
    return state


def test_a_statement_lists_the_periods_entries_and_its_balances_add_up() -> None:
    state = busy_state()
    statement = ask(state, 1, 3)
    assert isinstance(statement, StatementReply)
    s = statement.statement
    assert (s.account, s.owner, s.tenant, s.first, s.last, s.timezone) == ("A1", "trader1", "default", date(2026, 3, 3), date(2026, 3, 5), TZ)
    assert s.opening == Balances(D("100000") - D("1400"), {"IBM": D("10")})
    assert s.closing == Balances(D("100000") - D("1400") + D("250") + D("600") - D("30") + D("5"), {"IBM": D("6")})
    assert [(t.side, t.qty, t.cash) for t in s.trades] == [("sell", D("4"), D("600"))]
    assert [(c.kind, c.amount) for c in s.cash] == [("deposit", D("250")), ("journal_out", D("-30")), ("journal_in", D("5"))]
    assert "to A2" in s.cash[1].description and "from A2" in s.cash[2].description
    assert [(g.qty, g.proceeds, g.cost, g.gain, g.long_term) for g in s.gains] == [(D("4"), D("600"), D("560"), D("40"), False)]
    assert s.check() == [] and s.moves == []


def test_the_statement_equals_the_builder_over_every_entry_from_now() -> None:
    """Balances at the period's end summed in the ledgers' columns give what walking back
    from now over every entry object gives."""
    state = busy_state()
    record = state.accounts["A1"]
    for first, last in ((0, 0), (1, 3), (2, 2), (4, 6), (0, 9), (7, 8)):
        reply = ask(state, first, last)
        assert isinstance(reply, StatementReply)
        whole = state.statement("A1", ordinal(0), ordinal(9), 10_000)
        trades, gains = whole.trades, whole.gains
        oracle = build(
            "A1", "trader1", "default", date.fromordinal(ordinal(first)), date.fromordinal(ordinal(last)), TZ,
            state.balances_now(record), trades, state.cash_entries("A1"), [], gains,
        )
        assert reply.statement == oracle and oracle.check() == [], (first, last)
    everything = ask(state, 0, 9)
    assert isinstance(everything, StatementReply)
    assert everything.statement.opening == Balances(D("100000"), {})
    assert everything.statement.closing == Balances(record.cash, {"IBM": D("7")})


def test_pending_rejected_and_canceled_transfers_are_not_cash_entries() -> None:
    state = make_state()
    transfer(state, TransferKind.DEPOSIT, "100.00", "d1", on(0), decision=None)
    transfer(state, TransferKind.DEPOSIT, "100.00", "d2", on(0), decision=Decision.REJECT)
    transfer(state, TransferKind.WITHDRAWAL, "100.00", "w1", on(0), decision=Decision.CANCEL)
    transfer(state, TransferKind.WITHDRAWAL, "100.00", "w2", on(0), decision=None)
    reply = ask(state, 0, 0)
    assert isinstance(reply, StatementReply)
    assert reply.statement.cash == [] and reply.statement.opening == reply.statement.closing == Balances(D("100000"), {})


def test_a_statement_above_the_row_cap_is_refused_and_changes_nothing_else() -> None:
    state = busy_state()
    entries = 1 + 3 + 1  # the sale, three cash movements, one closing
    assert isinstance(ask(state, 1, 3, max_rows=entries), StatementReply)
    before = msgspec.msgpack.encode((state.accounts, list(state.orders.encoded()))) + state.transfers_state()
    refused_before = state.rejected_requests
    refusal = ask(state, 1, 3, max_rows=entries - 1)
    assert isinstance(refusal, RequestRejected) and refusal.code == STATEMENT_TOO_LARGE
    assert "5 entries" in refusal.message and "shorter period" in refusal.message
    assert msgspec.msgpack.encode((state.accounts, list(state.orders.encoded()))) + state.transfers_state() == before
    assert state.rejected_requests == refused_before + 1


def test_an_unknown_account_or_a_period_that_is_not_one_is_refused() -> None:
    state = busy_state()
    unknown = ask(state, 0, 1, account="NOPE")
    assert isinstance(unknown, RequestRejected) and unknown.code == "forbidden"
    backwards = ask(state, 3, 1)
    assert isinstance(backwards, RequestRejected) and backwards.code == "invalid_request"
    (send,) = run(state, QueryStatement("A1", REPLY, 0, 5, 10), on(9))
    assert isinstance(send.message, RequestRejected) and send.message.code == "invalid_request"


def test_a_statement_reply_crosses_a_hop_unchanged() -> None:
    reply = ask(busy_state(), 0, 9)
    assert isinstance(reply, StatementReply)
    again = decode_batch(encode_batch(Batch("account-0", 1, 0, [reply]))).messages[0]
    assert again == reply and isinstance(again.statement, Statement)


def test_a_journal_of_shares_is_a_security_move_on_both_sides_and_no_cash_entry() -> None:
    state = busy_state()  # A1 holds 7 IBM by day 5
    run(state, RequestJournal("s-j", [JournalEntry("A1", "A2", 0, "IBM", D("2"))], "trader1", False, 1, REPLY), on(6))
    for name, qty in (("A1", "-2"), ("A2", "2")):
        [move] = state.security_moves(name)
        assert (move.symbol, move.qty, move.ts) == ("IBM", D(qty), on(6))
        assert all(entry.reference != move.reference for entry in state.cash_entries(name))
        statement = ask(state, 6, 6, account=name)
        assert isinstance(statement, StatementReply) and statement.statement.check() == []
        assert [m.qty for m in statement.statement.moves] == [D(qty)]
    closing = ask(state, 0, 6, account="A2")
    assert isinstance(closing, StatementReply) and closing.statement.closing.positions == {"IBM": D("2")}


def test_the_gains_report_has_a_row_per_lot_closed_in_the_year() -> None:
    state = make_state()
    buy(state, "b1", "5", "140.00", on(0) - 400 * DAY)  # January 2025: long term by March 2026
    buy(state, "b2", "5", "145.00", on(0))
    sell(state, "s1", "7", "150.00", on(1))
    rows = list(state.gains_report(2026))
    assert [row[0] for row in rows] == ["A1", "A1"] and all(len(row) == len(GAINS_HEADER) for row in rows)
    assert [(row[3], row[6], row[7], row[9], row[10]) for row in rows] == [
        ("5", "750.00", "700.00", "50.00", "long"),
        ("2", "300.00", "290.00", "10.00", "short"),
    ]
    assert list(state.gains_report(2025)) == [] and list(state.gains_report(2026, ["A2"])) == []


def test_a_short_sale_covered_is_a_gain_entry_of_negative_qty() -> None:
    state = make_state(allow_short=True)
    sell(state, "s1", "2", "150.00", on(0))
    buy(state, "b1", "2", "140.00", on(1))
    reply = ask(state, 0, 1)
    assert isinstance(reply, StatementReply)
    s = reply.statement
    assert [(g.qty, g.proceeds, g.cost, g.gain) for g in s.gains] == [(D("-2"), D("-280"), D("-300"), D("20"))]
    assert [t.side for t in s.trades] == [Side.SELL.value, Side.BUY.value] and s.check() == []
    assert s.closing == Balances(D("100020"), {}) and fixed.format_cash(s.closing.cash) == "100020.00"
