"""An account shard sends each account's execution reports to the gateways serving it
(``actors/account/gateways.py``): every gateway until one announces, then only those — none
for an account nobody follows; and counts every report it makes (``/metrics``)."""

from __future__ import annotations

import msgspec

from actors.account.core import AccountSnapshot, AccountState
from actors.runtime.outputs import ALL, DROP_COPY, GATEWAY, STRATEGY, Send
from model.audit import AuditKind
from model.config import AccountSeed
from model.enums import ExecType, Reason
from model.messages import ExecutionReport, GatewayServes
from model.messages.strategies import STRATEGY_ORDER_PREFIX
from tests.unit.actors.account.support import D, fill, make_state, order, reports, run


def destinations(sends: list[Send]) -> list[tuple[str, str]]:
    """Where each trader's report went: (gateway key, account), in order."""
    return [(s.key, s.message.account) for s in sends if s.kind == GATEWAY and isinstance(s.message, ExecutionReport)]


def two_accounts() -> AccountState:
    state = make_state()
    state.open_account(AccountSeed("A2", "trader2", D("100000.00")))
    return state


def test_until_a_gateway_announces_every_report_goes_to_every_gateway() -> None:
    state = make_state()
    assert destinations(run(state, order("c1"))) == [(ALL, "A1")]


def test_a_report_goes_only_to_the_gateway_serving_its_account_and_to_its_askers() -> None:
    state = two_accounts()
    run(state, GatewayServes("gateway-0", reset=True))
    run(state, GatewayServes("gateway-1", reset=True))
    run(state, GatewayServes("gateway-1", follows=["A1"]))
    order_id = reports(run(state, order("c1")))[0].order_id  # asked on gateway-0 (REPLY): its answer goes there
    assert sorted(destinations(run(state, order("c2")))) == [("gateway-0", "A1"), ("gateway-1", "A1")]
    assert destinations(fill(state, order_id, "1", "150.00")) == [("gateway-1", "A1")]  # a fill: no asker, its server only
    a2 = order("c3")
    a2 = msgspec.structs.replace(a2, account="A2")
    assert destinations(run(state, a2)) == [("gateway-0", "A2")]  # nobody serves A2: only the asker's answer


def test_a_drop_a_reset_and_everything_change_the_destinations() -> None:
    state = two_accounts()
    run(state, GatewayServes("gateway-1", follows=["A1"]))
    run(state, GatewayServes("gateway-2", follows=["A1"]))
    order_id = reports(run(state, order("c1")))[0].order_id
    assert sorted(destinations(fill(state, order_id, "1", "150.00"))) == [("gateway-1", "A1"), ("gateway-2", "A1")]
    run(state, GatewayServes("gateway-2", drops=["A1"]))
    assert destinations(fill(state, order_id, "1", "150.00")) == [("gateway-1", "A1")]
    run(state, GatewayServes("gateway-3", everything=True))
    assert sorted(destinations(fill(state, order_id, "1", "150.00"))) == [("gateway-1", "A1"), ("gateway-3", "A1")]
    run(state, GatewayServes("gateway-1", reset=True))
    assert destinations(fill(state, order_id, "1", "150.00")) == [("gateway-3", "A1")]
    run(state, GatewayServes("gateway-3", everything=False))
    assert destinations(fill(state, order_id, "1", "150.00")) == []


def test_the_table_survives_a_snapshot() -> None:
    state = two_accounts()
    run(state, GatewayServes("gateway-1", follows=["A1", "A2"]))
    run(state, GatewayServes("gateway-0", everything=True))
    restored = AccountState.restore(msgspec.msgpack.decode(msgspec.msgpack.encode(state.snapshot()), type=AccountSnapshot))
    order_id = reports(run(restored, order("c1")))[0].order_id
    assert sorted(destinations(fill(restored, order_id, "1", "150.00"))) == [("gateway-0", "A1"), ("gateway-1", "A1")]
    untouched = AccountState.restore(msgspec.msgpack.decode(msgspec.msgpack.encode(make_state().snapshot()), type=AccountSnapshot))
    assert not untouched.gateway_routes.routed


def test_with_one_gateway_an_account_nobody_follows_gets_no_report_but_every_report_is_counted() -> None:
    state = two_accounts()
    run(state, GatewayServes("gateway-0", reset=True))  # the one gateway started: nobody follows anything
    unasked = msgspec.structs.replace(order("c1"), reply=None)  # a basket's order: no asker
    assert destinations(run(state, unasked)) == []
    refused = msgspec.structs.replace(order("c2", qty="100000000"), reply=None)
    assert destinations(run(state, refused)) == []
    run(state, GatewayServes("gateway-0", follows=["A1"]))  # a session of A1's logged in
    order_id = reports(run(state, msgspec.structs.replace(order("c3"), reply=None)))[0].order_id
    assert destinations(fill(state, order_id, "1", "150.00")) == [("gateway-0", "A1")]
    assert state.reports_made == {ExecType.NEW: 2, ExecType.REJECTED: 1, ExecType.TRADE: 1}
    assert state.rejects_made == {Reason.MAX_ORDER_SIZE.value: 1}
    hashed = state.state_hash()
    state.reports_made.clear()  # what the shell does once it has rebuilt its book
    assert state.state_hash() == hashed  # the counts are not state


def test_a_report_nobody_takes_is_not_made_and_the_order_changes_the_same() -> None:
    """No session follows the account, nobody asked, no drop copy and no strategy actor
    (``Outputs.nowhere``): the report is counted, not made. Beside it a shard where every
    report is wanted (a firehose gateway, a drop copy): the same orders, the same exec ids
    (the fill's audit record carries the id its report would have), the same state."""
    quiet, loud = two_accounts(), two_accounts()
    quiet.out.nowhere = frozenset({DROP_COPY, STRATEGY})
    for state in (quiet, loud):
        state.out.audit = True
        run(state, GatewayServes("gateway-0", reset=True))
    run(loud, GatewayServes("gateway-1", everything=True))
    built: list[str] = []  # the reports quiet builds (sent nowhere, they would look the same)
    execution = quiet._execution
    quiet._execution = lambda order, *args, **kwargs: built.append(order.order_id) or execution(order, *args, **kwargs)  # type: ignore[method-assign]
    unasked = msgspec.structs.replace(order("c1"), reply=None)  # a basket's order: no asker
    assert made(run(quiet, unasked)) == []
    assert made(run(loud, unasked)) == [(GATEWAY, "gateway-1", "account-0-1-1")]
    order_id = quiet.accounts["A1"].orders["c1"]
    assert made(fill(quiet, order_id, "1", "150.00")) == []
    assert made(fill(loud, order_id, "1", "150.00")) == [(GATEWAY, "gateway-1", f"{order_id}-2"), (DROP_COPY, ALL, f"{order_id}-2")]
    assert built == []
    events = [event for state in (quiet, loud) for event in state.out.take_events() if event.kind == AuditKind.FILL]
    assert [event.body.exec_id for event in events] == [f"{order_id}-2"] * 2
    assert quiet.reports_made == loud.reports_made == {ExecType.NEW: 1, ExecType.TRADE: 1}
    for state in (quiet, loud):
        run(state, GatewayServes("gateway-1", everything=False))  # the same routing table again
    assert quiet.state_hash() == loud.state_hash()
    run(quiet, GatewayServes("gateway-0", follows=["A1"]))  # a session of A1's logged in: reports again
    assert made(fill(quiet, order_id, "1", "150.00")) == [(GATEWAY, "gateway-0", f"{order_id}-3")]
    asked = msgspec.structs.replace(order("c2"), account="A2")  # asked by a session: its answer is made whoever follows
    assert [where for _, where, _ in made(run(quiet, asked))] == ["gateway-0"]


def test_a_strategy_s_order_is_reported_to_its_actor_when_nobody_else_takes_it() -> None:
    state = make_state()
    state.out.nowhere = frozenset({DROP_COPY})  # the strategy actor runs; no drop copy
    run(state, GatewayServes("gateway-0", reset=True))
    strategy_order = msgspec.structs.replace(order(f"{STRATEGY_ORDER_PREFIX}s1-1"), reply=None)
    assert [kind for kind, _, _ in made(run(state, strategy_order))] == [STRATEGY]
    state.out.nowhere = frozenset({DROP_COPY, STRATEGY})  # without it, nobody takes it
    assert made(run(state, msgspec.structs.replace(order(f"{STRATEGY_ORDER_PREFIX}s1-2"), reply=None))) == []


def made(sends: list[Send]) -> list[tuple[str, str, str]]:
    """The execution reports among ``sends``: (kind, key, exec id), in order."""
    return [(s.kind, s.key, s.message.exec_id) for s in sends if isinstance(s.message, ExecutionReport)]
