"""Account shards' states redistributed over more shards (``actors/reshard/split.py``):
each account on the shard ``shard_of`` names, with everything of its own, byte for byte."""

from __future__ import annotations

import msgspec

from actors.account.core import AccountSnapshot, AccountState
from actors.reshard.split import moved_intact, owner, refusals, split
from actors.runtime.router import account_actor
from model.config import AccountSeed
from model.enums import OrderType, Side, TimeInForce
from model.messages import NewOrder, RequestTransfer
from model.orders import OrderSpec
from model.routing import shard_of
from model.transfers import TransferKind
from tests.unit.actors.account.support import IBM, LIMITS, NOW, REPLY, XYZ, D, run

ACCOUNTS = [f"T{index:02d}" for index in range(1, 21)]


def shards(count: int = 2) -> dict[str, AccountState]:
    """``count`` shards holding ACCOUNTS by ``shard_of``, each account with a position, a
    resting order, a filled one's worth of cash moved, an order for the open and a pending
    deposit."""
    states = {account_actor(i): AccountState(account_actor(i), [IBM, XYZ], LIMITS) for i in range(count)}
    for account in ACCOUNTS:
        state = states[owner(account, count)]
        state.open_account(AccountSeed(account, "trader1", D("100000"), positions=(("IBM", D("7")),)))
        rest = OrderSpec("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.GTC, D("5"), None, D("140.00"), None)
        run(state, NewOrder(account, f"rest-{account}", rest, REPLY))
        opening = OrderSpec("IBM", Side.SELL, OrderType.MARKET, TimeInForce.OPG, D("2"), None, None, None)
        run(state, NewOrder(account, f"open-{account}", opening, REPLY))
        run(state, RequestTransfer(account, TransferKind.DEPOSIT, D("250.25"), f"dep-{account}", "trader1", REPLY))
    return states


def snapshots(states: dict[str, AccountState]) -> dict[str, AccountSnapshot]:
    """Each shard's snapshot as it would be read back: decoded from its own encoding."""
    return {name: msgspec.msgpack.decode(msgspec.msgpack.encode(state.snapshot()), type=AccountSnapshot) for name, state in states.items()}


def test_every_account_goes_to_its_new_shard_with_its_orders_and_transfers_byte_for_byte() -> None:
    before = snapshots(shards())
    after = split(snapshots(shards()), 3)
    assert sorted(after) == ["account-0", "account-1", "account-2"]
    assert moved_intact(before, after, 3) == []
    for name, state in after.items():
        assert {record.account for record in state.accounts} == {a for a in ACCOUNTS if shard_of(a, 3) == int(name[-1])}
        core = AccountState.restore(msgspec.msgpack.decode(msgspec.msgpack.encode(state), type=AccountSnapshot))
        core.check_invariants()
        assert {order.account for order in core.orders.values()} <= {record.account for record in state.accounts}
        assert len(core.orders) == 2 * len(state.accounts)
        assert state.transfers is not None and len(state.transfers.transfers) == len(state.accounts)


def test_old_shards_keep_their_counters_and_a_new_shard_starts_its_own() -> None:
    before = snapshots(shards())
    after = split(snapshots(shards()), 3)
    for name in ("account-0", "account-1"):
        assert after[name].order_counter == before[name].order_counter > 0
        assert after[name].transfers.counter == before[name].transfers.counter > 0  # type: ignore[union-attr]
    new = after["account-2"]
    assert (new.order_counter, new.transfers.counter, new.anomalies) == (0, 0, [])  # type: ignore[union-attr]
    assert (new.instruments, new.limits, new.markets, new.kill_all) == (before["account-0"].instruments, before["account-0"].limits, before["account-0"].markets, before["account-0"].kill_all)
    # an order a moved account enters on its new shard is numbered there: no id made twice
    core = AccountState.restore(msgspec.msgpack.decode(msgspec.msgpack.encode(new), type=AccountSnapshot))
    account = new.accounts[0].account
    run(core, NewOrder(account, "after", OrderSpec("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, D("1"), None, D("140.00"), None), REPLY), NOW)
    assert core.accounts[account].orders["after"] == "account-2-1"


def test_a_lost_or_doubled_account_is_named() -> None:
    before = snapshots(shards())
    after = split(snapshots(shards()), 3)
    lost = msgspec.structs.replace(after["account-2"], accounts=after["account-2"].accounts[1:])
    assert any("differs" in problem for problem in moved_intact(before, {**after, "account-2": lost}, 3))
    doubled = msgspec.structs.replace(after["account-1"], accounts=[*after["account-1"].accounts, after["account-2"].accounts[0]])
    problems = moved_intact(before, {**after, "account-1": doubled}, 3)
    assert any("differs" in problem for problem in problems) and any("is on account-1" in problem for problem in problems)


def test_a_journal_in_flight_is_refused_by_name() -> None:
    states = shards()
    assert refusals(states["account-0"].snapshot()) == []
    states["account-0"].journal_legs["account-1-j3"] = ["account-0-t9"]
    states["account-0"].journal_awaiting["account-1-j4"] = "T01"
    problems = refusals(states["account-0"].snapshot())
    assert any("account-1-j3" in problem for problem in problems) and any("account-1-j4" in problem for problem in problems)
