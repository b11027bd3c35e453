"""Per-tenant risk limits at the account shard: an account's orders are checked against its
tenant's limits (``[tenants.NAME.risk]``), resolved once when it opens from its journaled
``OpenAccount`` and kept through a snapshot."""

from __future__ import annotations

import msgspec

from actors.account.core import AccountState
from actors.account.limits import tenant_limits
from actors.account.records import AccountRecord
from actors.account.risk import RiskLimits
from actors.runtime import snapshot
from model.config import Config, RiskSection, TenantRiskSection, TenantSection
from model.enums import ExecType, OrderType, Reason, Side, TimeInForce
from model.messages import NewOrder, OpenAccount, ReplaceOrder, RequestRejected
from model.orders import OrderSpec
from model.permissions import DEFAULT_TENANT
from tests.unit.actors.account.support import FUND, IBM, LIMITS, OPT, REPLY, XYZ, D, only_report, run
from tests.unit.actors.account.test_load_orders import answer, chunk, row

SMALL = RiskLimits(max_order_qty=D("5"), max_order_notional=D("600"), price_band=LIMITS.price_band, market_collar=LIMITS.market_collar)


def two_tenants() -> AccountState:
    """A shard with the server's limits and tenant ``small``'s lower ones; account A1 of the
    default tenant and S1 of ``small``, opened as the journal opens them."""
    state = AccountState("account-0", [IBM, XYZ, OPT, FUND], LIMITS, {"small": SMALL})
    run(state, OpenAccount("A1", "trader1", D("100000")))  # no tenant: one journaled before tenants, the default
    run(state, OpenAccount("S1", "small1", D("100000"), tenant="small"))
    return state


def buy(account: str, cloid: str, qty: str, price: str = "140.00") -> NewOrder:
    return NewOrder(account, cloid, OrderSpec("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, D(qty), None, D(price), None), REPLY)


def test_the_same_order_passes_in_one_tenant_and_is_refused_in_the_tenant_with_a_lower_limit() -> None:
    state = two_tenants()
    assert only_report(run(state, buy("A1", "c1", "10", "140.00"))).exec_type == ExecType.NEW
    refused = only_report(run(state, buy("S1", "c1", "10", "140.00")))
    assert (refused.exec_type, refused.reason) == (ExecType.REJECTED, Reason.MAX_ORDER_SIZE.value)
    assert state.accounts["S1"].reserved_cash == 0  # a refused order holds nothing


def test_a_tenant_s_notional_limit_refuses_with_its_own_reason() -> None:
    state = two_tenants()
    assert only_report(run(state, buy("A1", "c1", "5", "140.00"))).exec_type == ExecType.NEW  # 700.00
    refused = only_report(run(state, buy("S1", "c1", "5", "140.00")))
    assert refused.reason == Reason.MAX_ORDER_NOTIONAL.value
    assert only_report(run(state, buy("S1", "c2", "4", "140.00"))).exec_type == ExecType.NEW  # 560.00: within small's


def test_a_basket_row_is_checked_against_its_account_s_tenant() -> None:
    state = two_tenants()
    done = answer(run(state, chunk(row("c1", "10", account="A1"), row("c1", "10", account="S1"), row("c2", "3", account="S1"))))
    assert (done.accepted, done.already, done.rejected) == (2, 0, {Reason.MAX_ORDER_SIZE.value: 1})
    assert [(o.account, o.reason) for o in state.orders.values()] == [("A1", None), ("S1", Reason.MAX_ORDER_SIZE.value), ("S1", None)]


def test_a_replace_is_checked_against_the_account_s_tenant() -> None:
    state = two_tenants()
    order_id = only_report(run(state, buy("S1", "c1", "4", "140.00"))).order_id
    sends = run(state, ReplaceOrder("S1", "c1", "c2", D("6"), None, None, REPLY))
    assert [s.message.code for s in sends if isinstance(s.message, RequestRejected)] == [Reason.MAX_ORDER_SIZE.value]
    assert state.orders[order_id].pending_replace is None


def test_an_account_s_limits_are_resolved_once_to_its_tenant_s_object() -> None:
    state = two_tenants()
    a1, s1 = state.accounts["A1"], state.accounts["S1"]
    assert (a1.tenant, s1.tenant) == (DEFAULT_TENANT, "small")
    assert a1.limits is state.limits and s1.limits is state.tenant_limits["small"]


def test_a_snapshot_round_trip_keeps_each_account_s_limits_and_decides_the_same() -> None:
    live = two_tenants()
    run(live, buy("S1", "c1", "4"))
    restored = snapshot.load("account-0", AccountState, snapshot.encode(live, {}, ({}, {}))).core
    assert isinstance(restored, AccountState)
    assert restored.state_hash() == live.state_hash()
    assert restored.tenant_limits == {"small": SMALL}
    assert restored.accounts["S1"].limits is restored.tenant_limits["small"] and restored.accounts["A1"].limits is restored.limits
    for state in (live, restored):  # the same next order, the same answer
        assert only_report(run(state, buy("S1", "c2", "6"))).reason == Reason.MAX_ORDER_SIZE.value
    assert restored.state_hash() == live.state_hash()


def test_an_account_saved_before_tenant_limits_gets_its_tenant_s_at_restore() -> None:
    state = two_tenants()
    old = msgspec.structs.replace(state.snapshot(), accounts=[AccountRecord("S1", "small1", D("100000"), tenant="small")])
    restored = AccountState.restore(old)
    assert restored.accounts["S1"].limits is restored.tenant_limits["small"]
    older = msgspec.structs.replace(old, accounts=[AccountRecord("A1", "trader1", D("100000"))], tenant_limits={})
    account = AccountState.restore(older).accounts["A1"]
    assert (account.tenant, account.limits) == (DEFAULT_TENANT, LIMITS)


def test_the_shard_s_table_is_the_config_s_risk_with_each_tenant_s_overrides() -> None:
    config = Config(risk=RiskSection(max_order_qty="100"), tenants={"small": TenantSection(TenantRiskSection(max_order_qty="5"))})
    table = tenant_limits(config)
    assert list(table) == ["small"]
    server = RiskLimits.from_config(config.risk, config.open)
    assert table["small"] == msgspec.structs.replace(server, max_order_qty=D("5"))


def test_replaying_the_same_inputs_gives_the_same_state() -> None:
    first, second = two_tenants(), two_tenants()
    for state in (first, second):
        run(state, buy("S1", "c1", "10"))
        run(state, buy("A1", "c1", "10"))
    assert first.state_hash() == second.state_hash()
