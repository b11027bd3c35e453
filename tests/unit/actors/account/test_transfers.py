"""Cash movements on account shards, driven by hand: deposits, withdrawals and their holds,
decisions, idempotency keys, and journals (one shard, across shards, all or nothing)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from actors.account.core import AccountSnapshot, AccountState
from actors.runtime.outputs import ACCOUNT, GATEWAY, Send
from actors.runtime.router import account_actor
from model import fixed
from model.config import AccountSeed
from model.enums import Reason
from model.messages import (
    DecideTransfer,
    JournalEntry,
    JournalReply,
    NewOrder,
    QueryTransfers,
    RequestJournal,
    RequestRejected,
    RequestTransfer,
    Transfer,
    TransferEvent,
    TransfersReply,
    TransferToAsker,
)
from model.routing import shard_of
from model.transfers import MAX_CASH, Decision, TransferKind, TransferStatus
from tests.unit.actors.account.support import IBM, LIMITS, NOW, REPLY, D, make_state, only_report, order, run

DEPOSIT, WITHDRAWAL = TransferKind.DEPOSIT, TransferKind.WITHDRAWAL
SHARDS = 2


def ask(kind: TransferKind, amount: str, key: str = "k1", account: str = "A1") -> RequestTransfer:
    return RequestTransfer(account, kind, D(amount), key, "trader1", REPLY)


def event(sends: list[Send]) -> Transfer:
    [send] = [s for s in sends if isinstance(s.message, TransferEvent)]
    assert send.kind == GATEWAY
    return send.message.transfer


def refusal(sends: list[Send]) -> RequestRejected:
    [send] = sends
    assert isinstance(send.message, RequestRejected), sends
    return send.message


def books(state: AccountState) -> bytes:
    """Everything a refused request must leave as it was: accounts, orders, transfers."""
    return msgspec.msgpack.encode((state.accounts, list(state.orders.encoded()))) + state.transfers_state()


def cash(state: AccountState, account: str = "A1") -> int:
    return state.accounts[account].cash


def decide(state: AccountState, transfer_id: str, decision: Decision, reason: str | None = None) -> list[Send]:
    return run(state, DecideTransfer(transfer_id, decision, reason, "cashier1"))


# --- deposits ---------------------------------------------------------------------------------


def test_a_deposit_is_pending_until_settled_then_credited() -> None:
    state = make_state()
    made = event(run(state, ask(DEPOSIT, "250.50")))
    assert (made.status, made.amount, made.held, cash(state)) == (TransferStatus.PENDING, D("250.50"), 0, D("100000"))
    assert made.transfer_id == "account-0-t1" and made.asker == "trader1" and made.idempotency_key == "k1"
    settled = event(decide(state, made.transfer_id, Decision.SETTLE))
    assert (settled.status, settled.decided_by, cash(state)) == (TransferStatus.SETTLED, "cashier1", D("100250.50"))
    assert state.accounts["A1"].buying_power == D("100250.50")


def test_a_rejected_deposit_credits_nothing() -> None:
    state = make_state()
    made = event(run(state, ask(DEPOSIT, "10.00")))
    rejected = event(decide(state, made.transfer_id, Decision.REJECT, "returned"))
    assert (rejected.status, rejected.reason, cash(state)) == (TransferStatus.REJECTED, "returned", D("100000"))


# --- withdrawals and their holds ----------------------------------------------------------------


def test_a_withdrawal_holds_its_cash_at_once_and_settling_debits_it() -> None:
    state = make_state()
    made = event(run(state, ask(WITHDRAWAL, "40000.00")))
    assert made.held == D("40000") and state.accounts["A1"].buying_power == D("60000") and cash(state) == D("100000")
    settled = event(decide(state, made.transfer_id, Decision.SETTLE))
    assert settled.status is TransferStatus.SETTLED and settled.held == 0
    assert (cash(state), state.accounts["A1"].reserved_cash) == (D("60000"), 0)


@pytest.mark.parametrize("decision", [Decision.CANCEL, Decision.REJECT])
def test_a_canceled_or_rejected_withdrawal_releases_its_hold(decision: Decision) -> None:
    state = make_state()
    made = event(run(state, ask(WITHDRAWAL, "40000.00")))
    ended = event(decide(state, made.transfer_id, decision))
    assert ended.status is decision.status
    assert (cash(state), state.accounts["A1"].buying_power) == (D("100000"), D("100000"))


def test_held_cash_cannot_be_spent_by_an_order() -> None:
    state = make_state()
    run(state, ask(WITHDRAWAL, "99000.00"))
    report = only_report(run(state, order("c1", qty="10", price="150.00")))  # 1,500.00 > 1,000.00 left
    assert report.reason == Reason.INSUFFICIENT_BUYING_POWER.value


def test_a_withdrawal_may_not_exceed_cash_less_open_buy_orders() -> None:
    state = make_state()
    only_report(run(state, order("c1", qty="100", price="150.00")))  # holds 15,000.00
    before = books(state)
    refused = refusal(run(state, ask(WITHDRAWAL, "85000.01")))
    assert refused.code == "insufficient_funds" and "85000.01" in refused.message
    assert books(state) == before
    assert event(run(state, ask(WITHDRAWAL, "85000.00", key="k2"))).held == D("85000")
    assert state.accounts["A1"].buying_power == 0


# --- bad input: a clear refusal, nothing changed ------------------------------------------------


@pytest.mark.parametrize("kind", [DEPOSIT, WITHDRAWAL])
@pytest.mark.parametrize("amount", [-fixed.CENT, 0, D("1.001"), D("0.000000001"), MAX_CASH + 1, 10**30])
def test_a_bad_amount_is_refused_invalid_amount(kind: TransferKind, amount: int) -> None:
    state = make_state()
    before = books(state)
    refused = refusal(run(state, RequestTransfer("A1", kind, amount, "k1", "trader1", REPLY)))
    assert refused.code == "invalid_amount"
    assert books(state) == before


def test_an_unknown_account_is_refused() -> None:
    state = make_state()
    before = books(state)
    assert refusal(run(state, ask(DEPOSIT, "1.00", account="ZZ"))).code == "forbidden"
    assert books(state) == before


def test_a_repeat_with_the_same_key_and_content_gets_the_original_answer() -> None:
    state = make_state()
    made = event(run(state, ask(WITHDRAWAL, "10.00")))
    decide(state, made.transfer_id, Decision.SETTLE)
    before = books(state)
    [send] = run(state, ask(WITHDRAWAL, "10.00"))
    assert isinstance(send.message, TransferToAsker) and send.key == REPLY.gateway
    assert send.message.transfer == made  # as first answered: pending, holding
    assert books(state) == before


@pytest.mark.parametrize("changed", [ask(DEPOSIT, "10.00"), ask(WITHDRAWAL, "10.01")])
def test_a_reused_key_with_other_content_is_refused(changed: RequestTransfer) -> None:
    state = make_state()
    event(run(state, ask(WITHDRAWAL, "10.00")))
    before = books(state)
    refused = refusal(run(state, changed))
    assert refused.code == "duplicate_idempotency_key"
    assert books(state) == before


def test_the_same_key_on_another_account_is_another_request() -> None:
    state = make_state()
    state.open_account(AccountSeed("A2", "trader1", D("10")))
    event(run(state, ask(DEPOSIT, "1.00")))
    assert event(run(state, ask(DEPOSIT, "2.00", account="A2"))).account == "A2"


@pytest.mark.parametrize(
    ("transfer_id", "decision", "code"),
    [
        ("account-0-t99", Decision.SETTLE, "unknown_transfer"),
        ("account-0-t1", Decision.CANCEL, "not_cancelable"),  # a deposit is rejected, not canceled
    ],
)
def test_a_decision_that_does_not_apply_changes_nothing(transfer_id: str, decision: Decision, code: str) -> None:
    state = make_state()
    run(state, ask(DEPOSIT, "5.00"))
    before = books(state)
    assert state.decision_problem(transfer_id, decision) is not None
    assert state.decision_problem(transfer_id, decision)[0] == code  # type: ignore[index]
    assert decide(state, transfer_id, decision) == []
    assert books(state) == before


def test_settling_a_settled_transfer_changes_nothing() -> None:
    state = make_state()
    made = event(run(state, ask(DEPOSIT, "5.00")))
    decide(state, made.transfer_id, Decision.SETTLE)
    before = books(state)
    assert state.decision_problem(made.transfer_id, Decision.SETTLE) == ("not_pending", f"transfer {made.transfer_id} is settled, not pending")
    assert decide(state, made.transfer_id, Decision.SETTLE) == [] and decide(state, made.transfer_id, Decision.REJECT) == []
    assert books(state) == before


def test_a_deposit_that_would_overflow_the_cash_is_not_settled() -> None:
    state = make_state(cash=fixed.format(MAX_CASH - fixed.SCALE))
    made = event(run(state, ask(DEPOSIT, "2.00")))
    assert state.decision_problem(made.transfer_id, Decision.SETTLE)[0] == "cash_limit"  # type: ignore[index]
    assert decide(state, made.transfer_id, Decision.SETTLE) == []


# --- reads ------------------------------------------------------------------------------------


def test_get_transfers_lists_an_accounts_records_in_order_filtered_by_status() -> None:
    state = make_state()
    first = event(run(state, ask(DEPOSIT, "1.00", key="a")))
    event(run(state, ask(WITHDRAWAL, "2.00", key="b")))
    decide(state, first.transfer_id, Decision.SETTLE)
    [send] = run(state, QueryTransfers("A1", REPLY))
    assert isinstance(send.message, TransfersReply) and [t.idempotency_key for t in send.message.transfers] == ["a", "b"]
    [send] = run(state, QueryTransfers("A1", REPLY, TransferStatus.PENDING))
    assert isinstance(send.message, TransfersReply) and [t.idempotency_key for t in send.message.transfers] == ["b"]
    assert [t.transfer_id for t in state.transfers_between("A1", NOW, NOW + 1)] == [first.transfer_id]
    assert state.transfers_between("A1", NOW + 1, NOW + 2) == []


# --- journals ---------------------------------------------------------------------------------


def placed(shard: int, count: int, prefix: str = "J") -> list[str]:
    """``count`` account names that ``shard_of`` places on ``shard`` of ``SHARDS``."""
    names = (f"{prefix}{n}" for n in range(10_000))
    return [name for name in names if shard_of(name, SHARDS) == shard][:count]


class Cluster:
    """Two shards whose messages to each other are delivered by hand, in order."""

    def __init__(self, cash: str = "1000.00") -> None:
        self.shards = [AccountState(account_actor(index), [IBM], LIMITS) for index in range(SHARDS)]
        self.a0, self.b0 = placed(0, 2)  # owner "alice", on shard 0
        self.a1, self.b1 = placed(1, 2)  # the same owner, on shard 1
        (self.other,) = placed(1, 1, "O")  # another owner's, on shard 1
        (self.foreign,) = placed(1, 1, "F")  # another tenant's, on shard 1
        for name in (self.a0, self.b0, self.a1, self.b1):
            self.shard_of(name).open_account(AccountSeed(name, "alice", D(cash)))
        self.shard_of(self.other).open_account(AccountSeed(self.other, "bob", D(cash)))
        self.shard_of(self.foreign).open_account(AccountSeed(self.foreign, "alice", D(cash), tenant="acme"))
        self.to_gateway: list[Send] = []

    def shard_of(self, account: str) -> AccountState:
        return self.shards[shard_of(account, SHARDS)]

    def send(self, account: str, message: Any, deliver: bool = True) -> None:
        self._apply(self.shard_of(account), message)
        if deliver:
            self.pump()

    def _apply(self, shard: AccountState, message: Any) -> None:
        shard.apply(message, NOW)
        shard.check_invariants()
        for send in shard.out.drain():
            (self.pending if send.kind == ACCOUNT else self.to_gateway).append(send)

    pending: list[Send] = []

    def pump(self) -> None:
        while self.pending:
            send = self.pending.pop(0)
            self._apply(self.shard_of(send.key), send.message)

    def journal(self, *entries: tuple[str, str, str], key: str = "j1", across: bool = False) -> JournalReply:
        self.to_gateway = []
        self.pending = []
        request = RequestJournal(key, [JournalEntry(a, b, D(amount)) for a, b, amount in entries], "alice", across, SHARDS, REPLY)
        self.send(entries[0][0], request)
        answers = [s.message for s in self.to_gateway if not isinstance(s.message, TransferEvent)]
        assert len(answers) == 1, answers
        answer = answers[0]
        assert isinstance(answer, JournalReply), answer
        return answer

    def cash(self, account: str) -> int:
        return self.shard_of(account).accounts[account].cash

    def books(self) -> list[bytes]:
        return [books(shard) for shard in self.shards]


def test_a_journal_between_two_accounts_of_one_shard_is_booked_at_once() -> None:
    world = Cluster()
    answer = world.journal((world.a0, world.b0, "100.00"))
    assert (answer.status, answer.reason) == (TransferStatus.SETTLED, None)
    assert (world.cash(world.a0), world.cash(world.b0)) == (D("900"), D("1100"))
    legs = [s.message.transfer for s in world.to_gateway if isinstance(s.message, TransferEvent)]
    assert sorted((leg.account, leg.from_account, leg.to_account, leg.status.value) for leg in legs) == sorted(
        [(world.a0, world.a0, world.b0, "settled"), (world.b0, world.a0, world.b0, "settled")]
    )


def test_a_batch_across_shards_is_booked_everywhere() -> None:
    world = Cluster()
    answer = world.journal((world.a0, world.a1, "100.00"), (world.b1, world.b0, "25.50"), (world.a0, world.b1, "0.01"))
    assert answer.status is TransferStatus.SETTLED and len(answer.entries) == 3
    assert [world.cash(a) for a in (world.a0, world.b0, world.a1, world.b1)] == [D("899.99"), D("1025.50"), D("1100"), D("974.51")]
    for shard in world.shards:
        assert not shard.journal_legs and all(a.reserved_cash == 0 for a in shard.accounts.values())


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("unknown", "unknown_account"),
        ("foreign", "unknown_account"),  # another tenant's account: as if there were none
        ("other", "across_owners"),
        ("too_much", "insufficient_funds"),
    ],
)
def test_a_batch_with_one_bad_leg_on_another_shard_changes_nothing(bad: str, reason: str) -> None:
    world = Cluster()
    before = world.books()
    target = {"unknown": placed(1, 1, "NOBODY")[0], "foreign": world.foreign, "other": world.other}.get(bad, world.b1)
    amount = "5000.00" if bad == "too_much" else "1.00"
    source = world.a1 if bad == "too_much" else world.a0
    answer = world.journal((world.a0, world.b0, "10.00"), (source, target, amount))
    assert (answer.status, answer.reason) == (TransferStatus.REJECTED, reason), answer
    assert answer.message
    assert world.books()[1] == before[1]  # the other shard: nothing at all
    assert all(world.cash(a) == D("1000") for a in (world.a0, world.b0, world.a1, world.b1))
    for shard in world.shards:
        assert not shard.journal_legs and shard.transfers == {}
        assert all(account.reserved_cash == 0 for account in shard.accounts.values())


def test_a_journal_across_owners_passes_with_the_permission() -> None:
    world = Cluster()
    answer = world.journal((world.a0, world.other, "1.00"), across=True)
    assert answer.status is TransferStatus.SETTLED and world.cash(world.other) == D("1001")


def test_a_bad_journal_request_is_refused_before_anything_is_recorded() -> None:
    world = Cluster()
    before = world.books()
    for entries, code in (
        ([JournalEntry(world.a0, world.a0, D("1"))], "same_account"),
        ([JournalEntry(world.a0, world.b0, D("1")), JournalEntry(world.a1, world.b1, D("0.001"))], "invalid_amount"),
        ([JournalEntry(world.a0, world.b0, 0)], "invalid_amount"),
        ([JournalEntry(world.a0, world.b0, -D("1"))], "invalid_amount"),
    ):
        world.to_gateway = []
        world.send(world.a0, RequestJournal("k", entries, "alice", False, SHARDS, REPLY))
        [send] = world.to_gateway
        assert isinstance(send.message, RequestRejected) and send.message.code == code, send
    assert world.books() == before


def test_a_journal_repeated_with_its_key_is_answered_again_and_booked_once() -> None:
    world = Cluster()
    first = world.journal((world.a0, world.a1, "10.00"))
    again = world.journal((world.a0, world.a1, "10.00"))
    assert (again.journal_id, again.status) == (first.journal_id, TransferStatus.SETTLED)
    assert world.cash(world.a1) == D("1010")
    world.to_gateway = []
    world.send(world.a0, RequestJournal("j1", [JournalEntry(world.a0, world.a1, D("11"))], "alice", False, SHARDS, REPLY))
    [send] = world.to_gateway
    assert isinstance(send.message, RequestRejected) and send.message.code == "duplicate_idempotency_key"


def test_a_batch_in_flight_holds_its_debits_and_is_answered_pending_to_a_repeat() -> None:
    world = Cluster()
    request = RequestJournal("j1", [JournalEntry(world.a1, world.a0, D("600"))], "alice", False, SHARDS, REPLY)
    coordinator = world.shard_of(world.a1)
    world.pending = []
    world.send(world.a1, request, deliver=False)  # prepared at the coordinator: the prepare to shard 0 not yet delivered
    assert coordinator.accounts[world.a1].buying_power == D("400")
    refused = only_report(run(coordinator, NewOrder(world.a1, "c1", order(qty="10", price="150.00").spec, REPLY)))
    assert refused.reason == Reason.INSUFFICIENT_BUYING_POWER.value  # 1,500.00 > 400.00 not held
    world.to_gateway = []
    world._apply(coordinator, request)
    [send] = world.to_gateway
    assert isinstance(send.message, JournalReply) and send.message.status is TransferStatus.PENDING
    world.pump()
    assert (world.cash(world.a1), world.cash(world.a0)) == (D("400"), D("1600"))


# --- snapshots --------------------------------------------------------------------------------


def test_transfers_survive_a_snapshot_and_count_in_the_hash() -> None:
    world = Cluster()
    world.journal((world.a0, world.a1, "10.00"))
    state = world.shards[0]
    run(state, RequestTransfer(world.b0, WITHDRAWAL, D("5"), "w", "alice", REPLY))
    hashed = state.state_hash()
    encoded = msgspec.msgpack.encode(state.snapshot())
    restored = AccountState.restore(msgspec.msgpack.decode(encoded, type=AccountSnapshot))
    assert restored.state_hash() == hashed
    restored.check_invariants()
    assert restored.transfers_of(world.b0)[0].held == D("5")
    run(state, DecideTransfer(state.transfers_of(world.b0)[0].transfer_id, Decision.CANCEL, None, "x"))
    assert state.state_hash() != hashed


def test_a_snapshot_from_before_transfers_still_loads() -> None:
    state = make_state()
    older = msgspec.msgpack.decode(msgspec.msgpack.encode(state.snapshot()))
    del older["transfers"]
    restored = AccountState.restore(msgspec.msgpack.decode(msgspec.msgpack.encode(older), type=AccountSnapshot))
    assert restored.transfers == {} and restored.state_hash() == state.state_hash()
    event(run(restored, ask(DEPOSIT, "1.00")))
