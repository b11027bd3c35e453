"""Journals of shares on account shards, driven by hand: lots moved between accounts with
their cost and acquisition time (one shard, two shards, the lots arriving before or after the
outcome), the hold while prepared, mixed batches, bad input changing nothing, snapshots."""

from __future__ import annotations

from datetime import date
from typing import Any

import msgspec
import pytest

from actors.account.core import AccountSnapshot, AccountState
from actors.runtime.outputs import ACCOUNT, Send
from actors.runtime.router import account_actor
from model import fixed, lots
from model.config import AccountSeed
from model.enums import Reason, Side
from model.messages import (
    JournalEntry,
    JournalLots,
    JournalReply,
    NewOrder,
    RequestJournal,
    RequestRejected,
    SetLotMethod,
    Transfer,
    TransferEvent,
)
from model.routing import shard_of
from model.statements import MoveEntry
from model.transfers import TransferStatus
from tests.unit.actors.account.support import IBM, LIMITS, NOW, REPLY, XYZ, D, only_report, order, run

SHARDS = 2
DAY_1 = date(2023, 5, 2).toordinal()
DAY_2 = date(2024, 1, 15).toordinal()
SETTLED, REJECTED = TransferStatus.SETTLED, TransferStatus.REJECTED


def placed(shard: int, count: int, prefix: str = "S") -> list[str]:
    names = (f"{prefix}{n}" for n in range(10_000))
    return [name for name in names if shard_of(name, SHARDS) == shard][:count]


def entry(source: str, target: str, qty: str, symbol: str = "IBM", named: tuple[tuple[int, str], ...] | None = None) -> JournalEntry:
    picks = None if named is None else tuple((lot_id, D(q)) for lot_id, q in named)
    return JournalEntry(source, target, 0, symbol, D(qty), picks)


def cash_entry(source: str, target: str, amount: str) -> JournalEntry:
    return JournalEntry(source, target, D(amount))


class World:
    """Two shards whose messages to each other are delivered by hand. Accounts ``a0``, ``b0``
    (shard 0) and ``a1``, ``b1`` (shard 1) of owner alice each hold 100 IBM in two lots:
    60 bought on DAY_1 for 6,000.00 and 40 on DAY_2 for 6,000.00 (ids 1 and 2); ``empty0`` and
    ``empty1`` hold nothing; ``shorty`` may sell short; ``foreign`` is another tenant's."""

    def __init__(self) -> None:
        self.shards = [AccountState(account_actor(index), [IBM, XYZ], LIMITS) for index in range(SHARDS)]
        self.a0, self.b0, self.empty0 = placed(0, 3)
        self.a1, self.b1, self.empty1 = placed(1, 3)
        (self.shorty,) = placed(1, 1, "SH")
        (self.foreign,) = placed(1, 1, "F")
        for name in (self.a0, self.b0, self.a1, self.b1):
            self.open(name)
        for name in (self.empty0, self.empty1):
            self.shard_of(name).open_account(AccountSeed(name, "alice", D("1000")))
        self.shard_of(self.shorty).open_account(AccountSeed(self.shorty, "alice", D("1000"), True, (("IBM", D("10")),)))
        self.shard_of(self.foreign).open_account(AccountSeed(self.foreign, "alice", D("1000"), tenant="acme"))
        self.to_gateway: list[Send] = []
        self.pending: list[Send] = []

    def open(self, name: str) -> None:
        """60 IBM from DAY_1 at 6,000.00, then 40 IBM from DAY_2 at 6,000.00 (two lots)."""
        shard = self.shard_of(name)
        shard.open_account(AccountSeed(name, "alice", D("1000"), positions=(("IBM", D("60")),), basis=(("IBM", D("6000"), DAY_1),)))
        account = shard.accounts[name]
        cost = shard._open_lots(account, "IBM", D("40"), D("6000"), DAY_2, NOW)
        account.positions["IBM"].qty += D("40")
        account.positions["IBM"].cost += cost * fixed.SCALE
        account.initial_positions["IBM"] += D("40")

    def shard_of(self, account: str) -> AccountState:
        return self.shards[shard_of(account, SHARDS)]

    def apply(self, shard: AccountState, message: Any) -> None:
        shard.apply(message, NOW)
        shard.check_invariants()
        for send in shard.out.drain():
            (self.pending if send.kind == ACCOUNT else self.to_gateway).append(send)

    def pump(self, lots_first: bool = False) -> None:
        while self.pending:
            lots_sent = [s for s in self.pending if isinstance(s.message, JournalLots)]
            send = lots_sent[0] if lots_first and lots_sent else self.pending[0]
            self.pending.remove(send)
            self.apply(self.shard_of(send.key), send.message)

    def journal(self, *entries: JournalEntry, key: str = "j1", lots_first: bool = False) -> JournalReply:
        self.to_gateway, self.pending = [], []
        self.apply(self.shard_of(entries[0].from_account), RequestJournal(key, list(entries), "alice", False, SHARDS, REPLY))
        self.pump(lots_first)
        answers = [s.message for s in self.to_gateway if not isinstance(s.message, TransferEvent)]
        assert len(answers) == 1, answers
        assert isinstance(answers[0], JournalReply), answers
        return answers[0]

    def refused(self, *entries: JournalEntry, key: str = "bad") -> RequestRejected:
        self.to_gateway, self.pending = [], []
        self.apply(self.shard_of(entries[0].from_account), RequestJournal(key, list(entries), "alice", False, SHARDS, REPLY))
        [send] = self.to_gateway
        assert isinstance(send.message, RequestRejected), send
        assert not self.pending
        return send.message

    def legs(self) -> list[Transfer]:
        return [s.message.transfer for s in self.to_gateway if isinstance(s.message, TransferEvent)]

    def lots(self, account: str, symbol: str = "IBM") -> list[tuple[int, int, int, int]]:
        books = self.shard_of(account).accounts[account].books
        assert books is not None
        return [(lot.lot_id, lot.qty, lot.cost, lot.acquired) for lot in lots.open_lots(books, symbol)]

    def position(self, account: str, symbol: str = "IBM") -> tuple[int, int]:
        position = self.shard_of(account).accounts[account].positions.get(symbol)
        return (0, 0) if position is None else (position.qty, position.cost // fixed.SCALE)

    def state(self) -> list[bytes]:
        return [msgspec.msgpack.encode((shard.accounts, list(shard.orders.encoded()))) + shard.transfers_state() for shard in self.shards]


def day(ordinal: int) -> int:
    return lots.day_start_ns(ordinal, LIMITS.open_timezone)


def test_shares_between_two_accounts_of_one_shard_keep_cost_and_acquisition() -> None:
    world = World()
    answer = world.journal(entry(world.a0, world.empty0, "70"))
    assert (answer.status, answer.reason) == (SETTLED, None)
    # first opened first (the account's method): all of lot 1, 10 of lot 2 (a quarter of its cost)
    assert world.lots(world.empty0) == [(1, D("60"), D("6000"), day(DAY_1)), (2, D("10"), D("1500"), day(DAY_2))]
    assert world.lots(world.a0) == [(2, D("30"), D("4500"), day(DAY_2))]
    assert world.position(world.empty0) == (D("70"), D("7500")) and world.position(world.a0) == (D("30"), D("4500"))
    books = world.shard_of(world.a0).accounts[world.a0].books
    assert books is not None and not books.closings  # not a sale: nothing closed, nothing realized
    debit, credit = sorted(world.legs(), key=lambda leg: not leg.transfer_id.endswith("debit"))
    assert (debit.account, debit.symbol, debit.qty, debit.status, debit.held_qty) == (world.a0, "IBM", D("70"), SETTLED, 0)
    assert [(lot.lot_id, lot.qty) for lot in debit.lots or []] == [(1, D("60")), (2, D("10"))]
    assert [(lot.lot_id, lot.cost, lot.acquired) for lot in credit.lots or []] == [(1, D("6000"), day(DAY_1)), (2, D("1500"), day(DAY_2))]
    assert world.shard_of(world.a0).accounts[world.a0].cash == D("1000")  # no cash moved


@pytest.mark.parametrize("lots_first", [False, True])
def test_a_batch_of_shares_across_shards_is_booked_everywhere(lots_first: bool) -> None:
    world = World()
    # coordinated by shard 0; b0's credit (at the coordinator) waits for lots from shard 1
    answer = world.journal(entry(world.a0, world.a1, "10"), entry(world.b1, world.b0, "65"), entry(world.a0, world.empty1, "5"), lots_first=lots_first)
    assert answer.status is SETTLED, answer
    assert world.position(world.a0) == (D("85"), D("10500"))  # 15 of its lot 1 (100.00 a share) left
    assert world.position(world.a1) == (D("110"), D("13000"))
    assert world.position(world.empty1) == (D("5"), D("500"))
    assert world.position(world.b1) == (D("35"), D("5250")) and world.position(world.b0) == (D("165"), D("18750"))
    # b0 held lots 1 (DAY_1) and 2 (DAY_2); b1's lot 1 (60 of DAY_1) and 5 of its lot 2 come in order of acquisition
    assert world.lots(world.b0) == [
        (1, D("60"), D("6000"), day(DAY_1)),
        (3, D("60"), D("6000"), day(DAY_1)),
        (2, D("40"), D("6000"), day(DAY_2)),
        (4, D("5"), D("750"), day(DAY_2)),
    ]
    for shard in world.shards:
        assert not shard.journal_legs and not shard.journal_awaiting
        assert all(not account.reserved_qty for account in shard.accounts.values())


def test_a_mixed_batch_moves_cash_and_shares_together() -> None:
    world = World()
    answer = world.journal(cash_entry(world.a1, world.a0, "600.00"), entry(world.a0, world.a1, "6"))
    assert answer.status is SETTLED
    assert world.shard_of(world.a0).accounts[world.a0].cash == D("1600")
    assert world.position(world.a1) == (D("106"), D("12600"))


def test_the_source_accounts_lot_method_chooses_the_lots() -> None:
    world = World()
    run(world.shard_of(world.a0), SetLotMethod(world.a0, "lifo"))
    world.journal(entry(world.a0, world.b0, "50"))
    assert world.lots(world.a0) == [(1, D("50"), D("5000"), day(DAY_1))]


def test_named_lots_go_first_and_what_they_lack_comes_first_opened_first() -> None:
    world = World()
    answer = world.journal(entry(world.a0, world.a1, "45", named=((2, "40"),)))
    assert answer.status is SETTLED
    assert world.lots(world.a0) == [(1, D("55"), D("5500"), day(DAY_1))]
    # lot 2 (named) arrives as 3, 5 of lot 1 as 4, each in order of acquisition
    assert world.lots(world.a1) == [
        (1, D("60"), D("6000"), day(DAY_1)),
        (4, D("5"), D("500"), day(DAY_1)),
        (2, D("40"), D("6000"), day(DAY_2)),
        (3, D("40"), D("6000"), day(DAY_2)),
    ]


def test_a_debit_of_shares_is_held_while_prepared_so_no_order_sells_it() -> None:
    world = World()
    coordinator = world.shard_of(world.a0)
    world.to_gateway, world.pending = [], []
    world.apply(coordinator, RequestJournal("j1", [entry(world.a0, world.a1, "80")], "alice", False, SHARDS, REPLY))  # the prepare to shard 1 not delivered
    account = coordinator.accounts[world.a0]
    assert account.reserved_qty == {"IBM": D("80")} and account.available_qty("IBM") == D("20")
    refused = only_report(run(coordinator, NewOrder(world.a0, "s1", order(side=Side.SELL, qty="21", price="150.00").spec, REPLY)))
    assert refused.reason == Reason.INSUFFICIENT_POSITION.value
    only_report(run(coordinator, NewOrder(world.a0, "s2", order(side=Side.SELL, qty="20", price="150.00").spec, REPLY)))  # 20 free
    world.pump()
    assert world.position(world.a0)[0] == D("20") and account.reserved_qty == {"IBM": D("20")}  # the open sell's hold alone


def test_open_sell_orders_hold_shares_a_journal_cannot_take() -> None:
    world = World()
    shard = world.shard_of(world.a1)
    only_report(run(shard, NewOrder(world.a1, "s1", order(side=Side.SELL, qty="30", price="150.00").spec, REPLY)))
    before = world.state()
    answer = world.journal(entry(world.a0, world.b0, "1"), entry(world.a1, world.b1, "71"))
    assert (answer.status, answer.reason) == (REJECTED, "insufficient_position"), answer
    assert "70" in answer.message
    assert world.state()[1] == before[1]
    assert world.journal(entry(world.a1, world.b1, "70"), key="j2").status is SETTLED


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("too_many", "insufficient_position"),
        ("unknown_lot", "unknown_lot"),
        ("lot_too_small", "lot_qty_exceeded"),
        ("foreign", "unknown_account"),  # another tenant's account: as if there were none
        ("short", "short_account"),
        ("unknown_account", "unknown_account"),
    ],
)
def test_a_batch_with_one_bad_leg_of_shares_on_another_shard_changes_nothing(bad: str, reason: str) -> None:
    world = World()
    before = world.state()
    bad_entry = {
        "too_many": entry(world.a1, world.b1, "100.000001"),
        "unknown_lot": entry(world.a1, world.b1, "1", named=((9, "1"),)),
        "lot_too_small": entry(world.a1, world.b1, "41", named=((2, "41"),)),
        "foreign": entry(world.a0, world.foreign, "1"),
        "short": entry(world.shorty, world.b1, "1"),
        "unknown_account": entry(world.a0, placed(1, 1, "NOBODY")[0], "1"),
    }[bad]
    answer = world.journal(cash_entry(world.a0, world.b0, "10.00"), entry(world.a0, world.b0, "5"), bad_entry)
    assert (answer.status, answer.reason) == (REJECTED, reason), answer
    assert answer.message
    assert world.state()[1] == before[1]  # the other shard: nothing at all
    for shard in world.shards:
        assert not shard.journal_legs and shard.transfers == {}
        assert all(not account.reserved_qty and not account.reserved_cash for account in shard.accounts.values())
    assert world.position(world.a0) == (D("100"), D("12000")) and world.position(world.b0) == (D("100"), D("12000"))


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        (lambda w: entry(w.a0, w.b0, "1", symbol="NOPE"), "unknown_symbol"),
        (lambda w: entry(w.a0, w.b0, "0"), "invalid_qty"),
        (lambda w: entry(w.a0, w.b0, "-1"), "invalid_qty"),
        (lambda w: entry(w.a0, w.b0, "0.5", symbol="XYZ"), "invalid_qty"),  # whole units only
        (lambda w: entry(w.a0, w.b0, "0.0000001"), "invalid_qty"),  # IBM's increment is 0.000001
        (lambda w: JournalEntry(w.a0, w.b0, D("1"), "IBM", D("1")), "invalid_qty"),  # cash and shares in one entry
        (lambda w: entry(w.a0, w.a0, "1"), "same_account"),
        (lambda w: entry(w.a0, w.b0, "1", named=((1, "2"),)), "invalid_lots"),  # names more than the qty
        (lambda w: entry(w.a0, w.b0, "2", named=((1, "1"), (1, "1"))), "invalid_lots"),
        (lambda w: entry(w.a0, w.b0, "2", named=((1, "0"),)), "invalid_lots"),
    ],
)
def test_a_bad_entry_of_shares_is_refused_before_anything_is_recorded(bad: Any, code: str) -> None:
    world = World()
    before = world.state()
    refused = world.refused(cash_entry(world.a0, world.b0, "1.00"), bad(world))
    assert refused.code == code and refused.message.startswith("entry 2: "), refused
    assert world.state() == before


def test_a_repeat_with_its_key_is_answered_again_and_moves_nothing_twice() -> None:
    world = World()
    first = world.journal(entry(world.a0, world.a1, "10"))
    again = world.journal(entry(world.a0, world.a1, "10"))
    assert (again.journal_id, again.status) == (first.journal_id, SETTLED)
    assert world.position(world.a1)[0] == D("110")
    assert world.refused(entry(world.a0, world.a1, "11"), key="j1").code == "duplicate_idempotency_key"
    assert world.refused(entry(world.a0, world.a1, "10", named=((1, "10"),)), key="j1").code == "duplicate_idempotency_key"


def test_security_moves_list_each_move_signed_with_the_other_account() -> None:
    world = World()
    world.journal(entry(world.a0, world.a1, "10"))
    [out] = world.shard_of(world.a0).security_moves(world.a0)
    [into] = world.shard_of(world.a1).security_moves(world.a1)
    assert isinstance(out, MoveEntry) and (out.ts, out.symbol, out.qty) == (NOW, "IBM", -D("10"))
    assert into.qty == D("10") and world.a0 in into.description and world.a1 in out.description
    assert out.reference.endswith("-1-debit") and into.reference.endswith("-1-credit")
    assert world.shard_of(world.a0).transfers_between(world.a0, 0, 2 * NOW) == []  # a statement's cash lists no shares
    assert world.shard_of(world.a0).transfer_cash(world.a0) == 0


def test_a_shard_waiting_for_lots_survives_a_snapshot() -> None:
    world = World()
    world.to_gateway, world.pending = [], []
    world.apply(world.shard_of(world.a0), RequestJournal("j1", [entry(world.a0, world.a1, "10")], "alice", False, SHARDS, REPLY))
    # deliver until shard 1 has the outcome (the lots it waits for still on their way)
    while not any(isinstance(s.message, JournalLots) for s in world.pending):
        send = world.pending.pop(0)
        world.apply(world.shard_of(send.key), send.message)
    outcome = [s for s in world.pending if not isinstance(s.message, JournalLots)]
    for send in outcome:
        world.pending.remove(send)
        world.apply(world.shard_of(send.key), send.message)
    other = world.shards[1]
    assert other.journal_awaiting and other.journal_legs
    hashed = other.state_hash()
    restored = AccountState.restore(msgspec.msgpack.decode(msgspec.msgpack.encode(other.snapshot()), type=AccountSnapshot))
    assert restored.state_hash() == hashed and restored.journal_awaiting == other.journal_awaiting
    restored.check_invariants()
    world.shards[1] = restored
    world.pump()
    assert world.position(world.a1) == (D("110"), D("13000"))
    answers = [s.message for s in world.to_gateway if isinstance(s.message, JournalReply)]
    assert [a.status for a in answers] == [SETTLED]
    assert restored.state_hash() != hashed
