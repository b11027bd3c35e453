"""The shard's portfolio checks: limits on the portfolio as it would be after the order
(open orders counted), trading states, the automatic move to reducing, replay and snapshots."""

from __future__ import annotations

import msgspec
import pytest

from actors.account.core import AccountSnapshot, AccountState
from model.enums import OrderStatus, OrderType, Reason, Side, VenueEventKind
from model.messages import CancelOrder, MarketUpdate, ReplaceOrder, SetAccountTradingState, SetPortfolioLimits, SetPortfolioModel
from model.messages.risk import PortfolioConfig, RiskAlert
from model.risk.limits import PortfolioLimits, RiskModel, TradingState
from tests.unit.actors.account.support import NOW, REPLY, D, account, fill, make_state, only_report, order, run, venue_event


def limited(**limits: int) -> AccountState:
    state = make_state()
    run(state, SetPortfolioLimits(account="A1", limits=PortfolioLimits(**limits)))
    return state


def outcome(state: AccountState, cloid: str, qty: str, side: Side = Side.BUY) -> str:
    report = only_report(run(state, order(cloid, side=side, qty=qty, price="150.00")))
    return report.reason or report.status.value


@pytest.mark.parametrize(
    ("limits", "reason"),
    [
        ({"max_gross": D("1500")}, Reason.MAX_GROSS_EXPOSURE),
        ({"max_concentration": D("0.015")}, Reason.MAX_CONCENTRATION),  # 1.5 % of 100,000.00 of equity
    ],
)
@pytest.mark.parametrize(("qty", "passes"), [("9.999999", True), ("10", True), ("10.000001", False)])
def test_a_limit_checked_below_at_and_above_it(limits: dict[str, int], reason: Reason, qty: str, passes: bool) -> None:
    # IBM marks at 150.00 (no quote: its reference), so 10 shares are exactly the limit
    assert outcome(limited(**limits), "c1", qty) == ("new" if passes else reason.value)


@pytest.mark.parametrize("limits", [{"max_gross": D("1500")}, {"max_concentration": D("0.015")}])
def test_ten_pieces_are_rejected_where_the_whole_order_is(limits: dict[str, int]) -> None:
    whole = limited(**limits)
    assert outcome(whole, "w", "10.00001") != "new"
    pieces = limited(**limits)
    results = [outcome(pieces, f"p{i}", "1.000001") for i in range(10)]
    assert results[:9] == ["new"] * 9 and results[9] != "new"  # the tenth crosses, as the whole did
    fits = limited(**limits)
    assert [outcome(fits, f"f{i}", "1") for i in range(10)] == ["new"] * 10
    assert outcome(fits, "f10", "0.000001") != "new"


def test_max_var_uses_the_journaled_model() -> None:
    model = RiskModel(["IBM", "XYZ", "OPT", "VFIAX"], [0.0001] + [0.0] * 15, 0.99, 2.0)  # IBM: 1 % a day; z = 2
    state = make_state()
    run(state, SetPortfolioModel(model, PortfolioConfig(default=PortfolioLimits(max_var=D("30.01")))))
    assert outcome(state, "c1", "10") == "new"  # VaR 2 × 1 % × 1,500.00 = 30.00
    assert outcome(state, "c2", "0.01") == Reason.MAX_VAR.value  # 30.03
    run(state, SetPortfolioModel(model, PortfolioConfig(checks=False, default=PortfolioLimits(max_var=D("30.01")))))
    assert outcome(state, "c3", "0.01") == "new"  # the checks switched off


def test_trading_states_reducing_and_halted() -> None:
    state = make_state()
    order_id = only_report(run(state, order("c1", qty="10", price="150.00"))).order_id
    fill(state, order_id, "10", "150.00", done=True)
    run(state, SetAccountTradingState("A1", "reducing"))
    assert outcome(state, "b", "1") == Reason.ACCOUNT_REDUCING.value
    assert outcome(state, "s", "4", Side.SELL) == "new"  # reduces: allowed
    assert outcome(state, "s2", "7", Side.SELL) == Reason.INSUFFICIENT_POSITION.value  # the earlier checks first
    run(state, SetAccountTradingState("A1", "halted"))
    assert outcome(state, "s3", "1", Side.SELL) == Reason.ACCOUNT_HALTED.value
    run(state, SetAccountTradingState("A1", "active"))
    assert outcome(state, "b2", "1") == "new"


def test_an_account_over_a_limit_moves_to_reducing_and_can_still_sell() -> None:
    state = make_state()
    order_id = only_report(run(state, order("c1", qty="10", price="150.00"))).order_id
    fill(state, order_id, "10", "150.00", done=True)
    run(state, SetPortfolioLimits(account="A1", limits=PortfolioLimits(max_gross=D("1000"))))
    assert outcome(state, "b", "1") == Reason.ACCOUNT_REDUCING.value
    assert state.trading_state("A1").value == "reducing"
    assert outcome(state, "s", "5", Side.SELL) == "new"
    run(state, SetPortfolioLimits(account="A1", clear=True))
    assert outcome(state, "b2", "1") == Reason.ACCOUNT_REDUCING.value  # stays until the operator says active


def test_drawdown_from_the_high_water_mark() -> None:
    state = make_state(cash="1000.00")
    order_id = only_report(run(state, order("c1", qty="6", price="150.00"))).order_id
    fill(state, order_id, "6", "150.00", done=True)  # equity 1,000.00: 100.00 cash + 900.00 of IBM
    run(state, SetPortfolioLimits(account="A1", limits=PortfolioLimits(max_drawdown=D("0.10"))))
    assert outcome(state, "b", "0.1") == "new"  # sets the high-water mark at 1,000.00
    run(state, MarketUpdate("IBM", D("134.99"), D("135.01"), D("135.00"), False, NOW))  # equity 910.00: 9 % down
    run(state, order("x", side=Side.SELL, qty="0.1", price="135.00"))  # cancels nothing: reduces
    assert outcome(state, "b2", "0.01") != Reason.MAX_DRAWDOWN.value
    run(state, MarketUpdate("IBM", D("129.99"), D("130.01"), D("130.00"), False, NOW))  # 880.00: 12 % down
    report = only_report(run(state, order("b3", qty="0.01", price="130.00")))
    assert report.reason == Reason.ACCOUNT_REDUCING.value and state.trading_state("A1").value == "reducing"


def test_limits_and_states_replay_and_survive_a_snapshot() -> None:
    def scenario() -> AccountState:
        state = limited(max_gross=D("1500"))
        run(state, SetPortfolioLimits(group="G", limits=PortfolioLimits(max_var=D("5"))))
        outcome(state, "c1", "9")
        outcome(state, "c2", "2")
        run(state, SetAccountTradingState("A1", "reducing"))
        return state

    state = scenario()
    assert state.state_hash() == scenario().state_hash()
    restored = AccountState.restore(msgspec.msgpack.decode(msgspec.msgpack.encode(state.snapshot()), type=AccountSnapshot))
    assert restored.state_hash() == state.state_hash()
    assert restored.portfolio.account_limits["A1"].max_gross == D("1500") and restored.trading_state("A1").value == "reducing"
    assert account(restored).orders and restored.orders.peek(account(restored).orders["c1"]).status is OrderStatus.NEW  # type: ignore[union-attr]


# --- alerts ----------------------------------------------------------------------------------


def quote(price: str) -> MarketUpdate:
    return MarketUpdate("IBM", D(price) - D("0.01"), D(price) + D("0.01"), D(price), False, NOW)


def risk_alerts(sends: list) -> list[tuple[str, str, str, str]]:  # type: ignore[type-arg]
    return [(s.message.kind, s.message.subject, s.message.state, s.message.trading_state) for s in sends if isinstance(s.message, RiskAlert)]


def holding_ibm(**limits: int) -> AccountState:
    state = make_state()
    order_id = only_report(run(state, order("c1", qty="10", price="150.00"))).order_id
    fill(state, order_id, "10", "150.00", done=True)  # 1,500.00 of IBM
    run(state, SetPortfolioLimits(account="A1", limits=PortfolioLimits(**limits)))
    return state


def test_a_mark_over_a_limit_raises_one_alert_moves_to_reducing_and_clears_below_it() -> None:
    state = holding_ibm(max_gross=D("2000"))
    assert risk_alerts(run(state, quote("190"))) == []  # 1,900.00: under
    assert risk_alerts(run(state, quote("210"))) == [("limit", "max_gross_exposure", "raised", "reducing")]
    assert state.trading_state("A1") is TradingState.REDUCING  # a mark alone moved it (no order)
    assert risk_alerts(run(state, quote("220"))) == []  # still over: not again on every quote
    assert risk_alerts(run(state, quote("200"))) == [("limit", "max_gross_exposure", "cleared", "reducing")]  # equal passes
    run(state, SetAccountTradingState("A1", "active"))
    assert risk_alerts(run(state, quote("201"))) == [("limit", "max_gross_exposure", "raised", "reducing")]  # armed again


def test_an_order_refused_by_the_auto_reducing_raises_the_limit_alert_once() -> None:
    state = holding_ibm()
    run(state, SetPortfolioLimits(account="A1", limits=PortfolioLimits(max_gross=D("1400"))))  # over from the start
    assert state.trading_state("A1") is TradingState.REDUCING  # the new limit found it over
    assert "limit:max_gross_exposure" in state.portfolio.alerts["A1"]
    assert risk_alerts(run(state, order("b", qty="1", price="150.00"))) == []


def test_the_drawdown_alert_follows_the_high_water_mark_on_marks() -> None:
    state = holding_ibm()
    run(state, SetPortfolioModel(None, PortfolioConfig(drawdown_alert=D("0.001"))))  # 0.1 %
    run(state, quote("160"))  # equity 100,100.00: the high-water mark
    assert risk_alerts(run(state, quote("50"))) == [("drawdown", "", "raised", "active")]  # a drawdown alert is no limit
    assert risk_alerts(run(state, quote("40"))) == []
    assert risk_alerts(run(state, quote("160"))) == [("drawdown", "", "cleared", "active")]


def test_correlation_and_volatility_alerts_follow_the_holdings() -> None:
    # IBM and XYZ: correlation 0.95; XYZ's EWMA variance 4× its window's (volatility +100 %)
    covariance = [0.0001, 0.000095 * 2, 0, 0, 0.000095 * 2, 0.0004, 0, 0, 0, 0, 0.0001, 0, 0, 0, 0, 0.0001]
    model = RiskModel(["IBM", "XYZ", "OPT", "VFIAX"], covariance, 0.99, 2.33, {}, [0.0001, 0.0001, 0.0001, 0.0001])
    state = make_state()
    run(state, SetPortfolioModel(model, PortfolioConfig(correlation_alert=D("0.9"), volatility_jump=D("0.5"))))
    ibm = only_report(run(state, order("c1", qty="1", price="150.00"))).order_id
    assert risk_alerts(fill(state, ibm, "1", "150.00", done=True)) == []
    xyz = only_report(run(state, order("c2", symbol="XYZ", qty="1", price="25.00"))).order_id
    assert sorted(risk_alerts(fill(state, xyz, "1", "25.00", done=True))) == [
        ("correlation", "IBM/XYZ", "raised", "active"),
        ("volatility", "XYZ", "raised", "active"),
    ]
    assert risk_alerts(run(state, quote("151"))) == []  # marks do not change them
    sell = only_report(run(state, order("s", side=Side.SELL, symbol="XYZ", qty="1", price="25.00"))).order_id
    assert sorted(risk_alerts(fill(state, sell, "1", "25.00", done=True))) == [
        ("correlation", "IBM/XYZ", "cleared", "active"),
        ("volatility", "XYZ", "cleared", "active"),
    ]


def test_an_allocation_raises_a_correlation_alert_for_an_account_holding_a_partner_and_reviews_no_other() -> None:
    """At the open a fill reviews only the accounts it can change: one holding a symbol the
    filled one correlates with gets its alert; one holding nothing correlated is not reviewed."""
    from model.config import AccountSeed
    from model.enums import OrderType, TimeInForce
    from model.messages import AllocationFills, NewOrder
    from model.orders import OrderSpec

    covariance = [0.0001, 0.000095, 0, 0, 0.000095, 0.0001, 0, 0, 0, 0, 0.0001, 0, 0, 0, 0, 0.0001]  # IBM/XYZ 0.95
    model = RiskModel(["IBM", "XYZ", "OPT", "VFIAX"], covariance, 0.99, 2.33, {}, [0.0001, 0.0001, 0.0001, 0.0001])
    state = make_state()
    state.open_account(AccountSeed("B1", "trader2", D("100000.00")))
    run(state, SetPortfolioModel(model, PortfolioConfig(correlation_alert=D("0.9"))))
    held = only_report(run(state, order("c1", qty="1", price="150.00"))).order_id
    fill(state, held, "1", "150.00", done=True)  # A1 holds IBM, B1 nothing
    ids = []
    for account in ("A1", "B1"):
        spec = OrderSpec("XYZ", Side.BUY, OrderType.MARKET, TimeInForce.OPG, D("1"))
        ids.append(only_report(run(state, NewOrder(account, f"opg-{account}", spec, REPLY))).order_id)
    assert state._may_alert("XYZ", ["A1", "B1"]) == {"A1"}
    raised = risk_alerts(run(state, AllocationFills("B-XYZ", "XYZ", "SIM", D("25.00"), ids, ["A1", "B1"], [D("1"), D("1")], [D("25.00"), D("25.00")], [True, True], NOW)))
    assert raised == [("correlation", "IBM/XYZ", "raised", "active")] and "B1" not in state.portfolio.alerts


def test_allocations_of_one_turn_review_an_account_once_at_its_end_or_before_its_next_other_input() -> None:
    """Two allocations in one turn: the account's review waits for the end of the turn (one
    alert, raised once); an input of the turn that is not an allocation is applied only after
    the reviews are done, so it reads the account as a review per allocation would leave it."""
    from model.enums import OrderType, TimeInForce
    from model.messages import AllocationFills, NewOrder, QueryAccount
    from model.orders import OrderSpec

    covariance = [0.0001, 0.000095, 0, 0, 0.000095, 0.0001, 0, 0, 0, 0, 0.0001, 0, 0, 0, 0, 0.0001]  # IBM/XYZ 0.95
    model = RiskModel(["IBM", "XYZ", "OPT", "VFIAX"], covariance, 0.99, 2.33, {}, [0.0001, 0.0001, 0.0001, 0.0001])
    state = make_state()
    run(state, SetPortfolioModel(model, PortfolioConfig(correlation_alert=D("0.9"))))
    held = only_report(run(state, order("c1", qty="1", price="150.00"))).order_id
    fill(state, held, "1", "150.00", done=True)  # A1 holds IBM
    ids = []
    for n in range(2):
        spec = OrderSpec("XYZ", Side.BUY, OrderType.MARKET, TimeInForce.OPG, D("1"))
        ids.append(only_report(run(state, NewOrder("A1", f"opg-{n}", spec, REPLY))).order_id)
    for order_id in ids:  # two chunks of one turn: nothing reviewed yet
        state.apply(AllocationFills("B-XYZ", "XYZ", "SIM", D("25.00"), [order_id], ["A1"], [D("1")], [D("25.00")], [True], NOW), NOW)
    assert state.allocated == {"A1"} and "A1" not in state.portfolio.alerts
    state.apply(QueryAccount("A1", REPLY), NOW)  # the turn's next input: the review comes first
    assert state.allocated == set() and "A1" in state.portfolio.alerts
    sends = state.out.drain()
    assert risk_alerts(sends) == [("correlation", "IBM/XYZ", "raised", "active")]
    state.end_turn(NOW)  # nothing left to review: nothing raised twice
    assert risk_alerts(state.out.drain()) == []
    state.check_invariants()


def test_alerts_raised_survive_a_snapshot_and_replay_and_do_not_fire_again() -> None:
    def scenario() -> AccountState:
        state = holding_ibm(max_gross=D("2000"))
        run(state, quote("210"))
        return state

    state = scenario()
    assert state.state_hash() == scenario().state_hash()
    restored = AccountState.restore(msgspec.msgpack.decode(msgspec.msgpack.encode(state.snapshot()), type=AccountSnapshot))
    assert restored.state_hash() == state.state_hash()
    assert risk_alerts(run(restored, quote("215"))) == []  # remembered: no second alert after a restart
    assert risk_alerts(run(restored, quote("150"))) == [("limit", "max_gross_exposure", "cleared", "reducing")]


# --- the open legs -----------------------------------------------------------------------------


def test_open_legs_follow_holds_and_equal_a_recomputation() -> None:
    state = make_state(allow_short=True)
    before = only_report(run(state, order("before", qty="1", price="150.00"))).order_id  # before any limit: no legs kept
    assert state.legs == {}
    run(state, SetPortfolioLimits(account="A1", limits=PortfolioLimits(max_gross=D("10000000"))))  # a limit: its legs, from its orders
    assert state.legs["A1"]["IBM"] == [D("1"), 0, 0]
    run(state, CancelOrder("A1", "before", REPLY))
    venue_event(state, before, VenueEventKind.CANCELED)
    assert state.legs == {}
    a = only_report(run(state, order("a", qty="10", price="150.00"))).order_id
    run(state, order("b", side=Side.SELL, qty="4", price="150.00"))
    run(state, order("n", qty=None, notional="300.00", price=None, order_type=OrderType.MARKET))
    assert state.legs["A1"]["IBM"] == [D("6"), D("300.00"), 0]
    fill(state, a, "3", "150.00")
    assert state.legs["A1"]["IBM"][0] == D("3")  # 7 bought left − 4 sold
    run(state, ReplaceOrder("A1", "a", "a2", D("12"), None, None, REPLY))
    venue_event(state, a, VenueEventKind.REPLACED)
    assert state.legs["A1"]["IBM"][0] == D("5")  # 12 − 3 filled − 4
    restored = AccountState.restore(msgspec.msgpack.decode(msgspec.msgpack.encode(state.snapshot()), type=AccountSnapshot))
    assert restored.legs == state.legs
    # what the check reads: positions plus legs, the notional's cash at the mark (150.00: 2 shares)
    assert state.projected_qty(account(state)) == {"IBM": D("3") + D("5") + D("2")}
    state.legs["A1"]["IBM"][0] += 1
    with pytest.raises(AssertionError):
        state.check_invariants()


def test_an_account_without_a_limit_keeps_no_legs_and_a_fill_with_nothing_to_alert_reviews_nothing() -> None:
    """The open's millions of orders and fills pay nothing for the portfolio checks of
    accounts that have no limit: no legs kept, and no review of a fill that cannot change
    an alert."""
    state = make_state()
    sent = only_report(run(state, order("c1", qty="10", price="150.00")))
    assert state.legs == {} and state.leg_of == {}
    assert state._may_alert("IBM", ["A1"]) == set() or state._alert_inputs() != ({}, {})
    fill(state, sent.order_id, "10", "150.00", done=True)
    assert state.portfolio.alerts == {}


def test_concentration_by_sector_is_a_limit_and_a_measure() -> None:
    # IBM and XYZ have no sector: both count as equity; 2 % of 100,000.00 of equity is 2,000.00
    state = limited(max_sector=D("0.02"), max_concentration=D("0.02"))
    assert outcome(state, "c1", "10") == "new"  # 1,500.00 of IBM
    xyz = only_report(run(state, order("x1", symbol="XYZ", qty="20", price="25.00")))
    assert xyz.status.value == "new"  # 2,000.00 of equity: equal passes
    refused = only_report(run(state, order("x2", symbol="XYZ", qty="1", price="25.00")))
    assert refused.reason == Reason.MAX_SECTOR_CONCENTRATION.value  # each position alone is under 2 %
    other = limited(max_concentration=D("0.02"))
    outcome(other, "c1", "10")
    run(other, order("x1", symbol="XYZ", qty="20", price="25.00"))
    assert only_report(run(other, order("x2", symbol="XYZ", qty="1", price="25.00"))).status.value == "new"  # no sector limit


def test_an_account_opened_into_a_limited_group_keeps_its_legs_from_its_first_order() -> None:
    from model.config import AccountSeed
    from model.messages import NewOrder

    state = make_state()
    run(state, SetPortfolioLimits(group="G", limits=PortfolioLimits(max_gross=D("10000000"))))
    state.open_account(AccountSeed("G1", "trader9", D("100000.00"), group="G"))
    run(state, NewOrder("G1", "g1", order("g1", qty="3", price="150.00").spec, REPLY))
    assert state.legs["G1"]["IBM"] == [D("3"), 0, 0]  # and check_invariants (in run) agrees


def test_a_tenant_s_group_limits_are_its_group_s_alone_and_the_platform_s_every_tenant_s() -> None:
    """Two tenants' groups of one name are two groups: limits a tenant sets on its group
    reach no account of another tenant's group of that name, now or opened later; the
    platform operator's (no tenant) reach every tenant's, as every one journaled before did."""
    from model.config import AccountSeed

    state = make_state()
    state.open_account(AccountSeed("FA1", "a", D("100000.00"), group="G", tenant="fa"))
    run(state, SetPortfolioLimits(group="G", tenant="fa", limits=PortfolioLimits(max_gross=D("1"))))
    state.open_account(AccountSeed("FB1", "b", D("100000.00"), group="G", tenant="fb"))  # fb's own G, opened after
    fa, fb = state.accounts["FA1"], state.accounts["FB1"]
    assert state.portfolio_limits(fa).max_gross == D("1") and state.portfolio_limits(fb).max_gross is None
    run(state, SetPortfolioLimits(group="G", limits=PortfolioLimits(max_gross=D("5"))))  # the platform operator's: every G
    assert state.portfolio_limits(fb).max_gross == D("5") and state.portfolio_limits(fa).max_gross == D("1")  # fa's own over it
    restored = AccountState.restore(msgspec.msgpack.decode(msgspec.msgpack.encode(state.snapshot()), type=AccountSnapshot))
    assert restored.state_hash() == state.state_hash()
    assert restored.portfolio_limits(restored.accounts["FA1"]).max_gross == D("1")
    run(state, SetPortfolioLimits(group="G", tenant="fb", clear=True))  # fb clears its own G's: nothing of fa's moves
    assert state.portfolio_limits(fa).max_gross == D("1") and state.portfolio_limits(fb).max_gross == D("5")
