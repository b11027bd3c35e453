"""What concerns the shard as a whole: accounts, the kill switch, replay and snapshots."""

from __future__ import annotations

import msgspec
import pytest

from actors.account.core import AccountSnapshot, AccountState
from model.config import AccountSeed
from model.enums import OrderStatus, Reason, Side
from model.lifecycle import InvalidTransition, OrderEvent
from model.messages import CancelOrder, CancelRoute, OpenAccount, QuoteEvent, SetKill
from tests.unit.actors.account.support import NOW, REPLY, D, fill, make_state, only_report, order, run


def test_replaying_the_same_inputs_gives_the_same_state_hash() -> None:
    def scenario() -> AccountState:
        state = make_state()
        order_id = only_report(run(state, order("c1", qty="0.7", price="150.25"))).order_id
        fill(state, order_id, "0.3", "150.10")
        run(state, order("c2", side=Side.SELL, qty="0.2"))
        run(state, CancelOrder("A1", "c2", REPLY))
        return state

    assert scenario().state_hash() == scenario().state_hash()


def test_a_snapshot_of_the_state_restores_the_same_state() -> None:
    state = make_state()
    order_id = only_report(run(state, order("c1", qty="0.7", price="150.25"))).order_id
    fill(state, order_id, "0.3", "150.10")
    run(state, CancelOrder("A1", "c1", REPLY))
    restored = AccountState.restore(msgspec.msgpack.decode(msgspec.msgpack.encode(state.snapshot()), type=AccountSnapshot))
    assert restored.state_hash() == state.state_hash()
    restored.check_invariants()
    assert restored.orders[order_id].pending.has_cancel and restored.orders[order_id].cancel_reply == REPLY


def test_the_kill_switch_cancels_open_orders_refuses_new_ones_and_covers_later_accounts() -> None:
    state = make_state()
    order_id = only_report(run(state, order("c1"))).order_id
    sends = run(state, SetKill("*", True))
    assert [s.message.order_id for s in sends if isinstance(s.message, CancelRoute)] == [order_id]
    assert only_report(run(state, order("c2"))).reason == Reason.ACCOUNT_KILLED.value
    run(state, OpenAccount("A2", "trader2", D("1000")))
    assert state.accounts["A2"].killed
    run(state, SetKill("*", False))
    assert only_report(run(state, order("c3"))).status is OrderStatus.NEW


def test_an_account_opened_twice_is_an_anomaly_and_changes_nothing() -> None:
    state = make_state()
    before = state.state_hash()
    run(state, OpenAccount("A1", "someone", D("5")))
    assert state.state_hash() == before and state.anomalies == ["account A1 opened twice"]
    with pytest.raises(ValueError):
        state.open_account(AccountSeed("A1", "someone", D("5")))


def test_an_event_the_lifecycle_does_not_allow_is_a_broken_invariant() -> None:
    state = make_state()
    order_id = only_report(run(state, order())).order_id
    with pytest.raises(InvalidTransition):
        state._move(state.orders[order_id], OrderEvent.ACCEPT)  # accepted already
    assert state.orders[order_id].status is OrderStatus.NEW


def test_a_message_the_shard_does_not_take_is_refused_by_name_and_changes_nothing() -> None:
    state = make_state()
    run(state, order())
    before = state.state_hash()
    with pytest.raises(TypeError, match="^account-0 does not take QuoteEvent$"):
        state.apply(QuoteEvent("IBM", None, 0, None, 0, NOW), NOW)
    assert state.out.drain() == [] and state.state_hash() == before
