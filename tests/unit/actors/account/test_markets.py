"""Markets: the open as it passes the shard, and the orders for the open it makes late."""

from __future__ import annotations

import msgspec

from actors.account.core import AccountState
from model.enums import ExecType, OrderStatus, OrderType, Reason, TimeInForce
from model.messages import OpenMarket, SetTradingStatus
from tests.unit.actors.account.support import DAY, LIMITS, NOW, D, account, make_state, only_report, order, routed, run


def test_an_order_for_the_open_after_todays_open_is_rejected_at_once_and_tomorrow_accepted() -> None:
    state = make_state()
    early = run(state, order("o1", tif=TimeInForce.OPG))
    assert only_report(early).exec_type is ExecType.NEW and routed(early)
    run(state, OpenMarket([], open_id=1), now=NOW + 10)
    late = run(state, order("o2", tif=TimeInForce.OPG), now=NOW + 20)
    report = only_report(late)
    assert (report.exec_type, report.reason) == (ExecType.REJECTED, Reason.OPEN_PASSED.value)
    assert not routed(late) and account(state).reserved_cash == D("1500")  # o1's hold only
    assert only_report(run(state, order("o3"), now=NOW + 20)).exec_type is ExecType.NEW  # a day order is not late
    tomorrow = NOW + DAY  # 17:13 in New York the next day
    assert only_report(run(state, order("o4", tif=TimeInForce.OPG), now=tomorrow)).exec_type is ExecType.NEW


def test_the_open_is_once_per_local_day_of_the_market_not_per_utc_day() -> None:
    # Tokyo opens at 09:00 local, 00:00 UTC: the next morning's orders fall on the same UTC
    # day as the last open, yet they are for the next open.
    state = make_state(limits=msgspec.structs.replace(LIMITS, open_timezone="Asia/Tokyo"))
    open_at = 1_700_006_400 * 1_000_000_000  # 2023-11-15 09:00 JST = 00:00 UTC
    run(state, OpenMarket([], open_id=1), now=open_at)
    assert only_report(run(state, order("o1", tif=TimeInForce.OPG), now=open_at + 3600 * 10**9)).reason == Reason.OPEN_PASSED.value
    next_morning = open_at + 23 * 3600 * 10**9  # 08:00 JST on the 16th, 23:00 UTC on the 15th
    assert only_report(run(state, order("o2", tif=TimeInForce.OPG), now=next_morning)).exec_type is ExecType.NEW


def test_late_orders_next_lets_an_order_for_the_open_wait_for_the_next_open() -> None:
    state = make_state(limits=msgspec.structs.replace(LIMITS, reject_late_opg=False))
    run(state, OpenMarket([], open_id=1))
    sends = run(state, order("o1", tif=TimeInForce.OPG))
    assert only_report(sends).exec_type is ExecType.NEW and routed(sends)


def test_the_open_of_some_symbols_or_of_a_halted_one_does_not_make_others_late() -> None:
    state = make_state()
    run(state, OpenMarket(["XYZ"], open_id=1))
    assert only_report(run(state, order("o1", tif=TimeInForce.OPG))).exec_type is ExecType.NEW  # IBM has not opened
    run(state, SetTradingStatus("IBM", True))
    run(state, OpenMarket([], open_id=2))  # IBM halted: it keeps its orders for a later open
    run(state, SetTradingStatus("IBM", False))
    assert only_report(run(state, order("o2", tif=TimeInForce.OPG))).exec_type is ExecType.NEW
    xyz = order("o3", symbol="XYZ", qty="1", price="25.00", tif=TimeInForce.OPG)
    assert only_report(run(state, xyz)).reason == Reason.OPEN_PASSED.value


def test_a_fund_order_for_the_open_waits_for_the_nav_even_after_the_open() -> None:
    state = make_state()
    run(state, OpenMarket([], open_id=1))
    fund = only_report(run(state, order("f1", symbol="VFIAX", qty="1", price=None, order_type=OrderType.MARKET, tif=TimeInForce.OPG)))
    assert fund.exec_type is ExecType.NEW


def test_the_open_is_an_input_so_replay_rejects_the_same_late_orders() -> None:
    def scenario() -> AccountState:
        state = make_state()
        run(state, order("o1", tif=TimeInForce.OPG))
        run(state, OpenMarket([], open_id=1), now=NOW + 10)
        run(state, order("o2", tif=TimeInForce.OPG), now=NOW + 20)
        return state

    first, second = scenario(), scenario()
    assert first.state_hash() == second.state_hash()
    assert [o.status for o in first.orders.values()] == [OrderStatus.NEW, OrderStatus.REJECTED]
