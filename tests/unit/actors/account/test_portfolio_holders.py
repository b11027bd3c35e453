"""The index of the watched accounts each mark reviews (``Portfolio._holders``): the shard that
never stopped reviews the same accounts as one restored from its snapshot, whatever came
between — otherwise the two raise different alerts, keep different high-water marks and
send different batches, and a restart breaks replay equality and the hops' sequence numbers."""

from __future__ import annotations

import random

import msgspec
import pytest

from actors.account.core import AccountSnapshot, AccountState
from model.config import AccountSeed
from model.enums import OrderType, Side, TimeInForce, VenueEventKind
from model.messages import AllocationFills, MarketUpdate, NewOrder, OrderUpdate, SetPortfolioLimits, SetPortfolioModel
from model.messages.risk import PortfolioConfig, RiskAlert
from model.orders import OrderSpec
from model.risk.limits import PortfolioLimits, RiskModel
from tests.unit.actors.account.support import NOW, REPLY, D, fill, make_state, only_report, order, run

PRICES = {"IBM": "150", "XYZ": "25"}


def mark(symbol: str, price: str) -> MarketUpdate:
    return MarketUpdate(symbol, D(price) - D("0.01"), D(price) + D("0.01"), D(price), False, NOW)


def restored(state: AccountState) -> AccountState:
    return AccountState.restore(msgspec.msgpack.decode(msgspec.msgpack.encode(state.snapshot()), type=AccountSnapshot))


def alerts(sends: list) -> list[tuple[str, str, str, str]]:  # type: ignore[type-arg]
    return [(s.message.account, s.message.kind, s.message.subject, s.message.state) for s in sends if isinstance(s.message, RiskAlert)]


def test_a_fill_in_a_new_symbol_is_reviewed_on_its_marks_as_after_a_restart() -> None:
    live = make_state()
    run(live, SetPortfolioModel(None, PortfolioConfig(drawdown_alert=D("0.001"))))  # every account watched
    run(live, mark("XYZ", "25"))  # the index made: A1 holds nothing yet
    order_id = only_report(run(live, order("c1", symbol="XYZ", qty="1000", price="25.00"))).order_id
    fill(live, order_id, "1000", "25.00", done=True)  # A1 now holds 25,000.00 of XYZ
    again = restored(live)
    assert again.state_hash() == live.state_hash()
    assert alerts(run(live, mark("XYZ", "10"))) == alerts(run(again, mark("XYZ", "10"))) == [("A1", "drawdown", "", "raised")]
    assert again.state_hash() == live.state_hash()


def test_an_allocation_in_a_new_symbol_is_reviewed_on_its_marks_as_after_a_restart() -> None:
    live = make_state()
    live.open_account(AccountSeed("B1", "trader2", D("100000.00")))
    run(live, SetPortfolioModel(None, PortfolioConfig(drawdown_alert=D("0.001"))))
    run(live, mark("XYZ", "25"))
    ids = []
    for account in ("A1", "B1"):
        spec = OrderSpec("XYZ", Side.BUY, OrderType.MARKET, TimeInForce.OPG, D("1000"))
        ids.append(only_report(run(live, NewOrder(account, f"opg-{account}", spec, REPLY))).order_id)
    run(live, AllocationFills("B-XYZ", "XYZ", "SIM", D("25.00"), ids, ["A1", "B1"], [D("1000")] * 2, [D("25000.00")] * 2, [True, True], NOW))
    again = restored(live)
    expected = [("A1", "drawdown", "", "raised"), ("B1", "drawdown", "", "raised")]
    assert alerts(run(live, mark("XYZ", "10"))) == alerts(run(again, mark("XYZ", "10"))) == expected
    assert again.state_hash() == live.state_hash()


def test_a_correlation_alert_leaves_an_account_out_of_the_index_and_a_limit_puts_it_in() -> None:
    covariance = [0.0001, 0.000095, 0, 0, 0.000095, 0.0001, 0, 0, 0, 0, 0.0001, 0, 0, 0, 0, 0.0001]  # IBM/XYZ 0.95
    model = RiskModel(["IBM", "XYZ", "OPT", "VFIAX"], covariance, 0.99, 2.33, {}, [0.0001, 0.0001, 0.0001, 0.0001])
    live = make_state()
    run(live, SetPortfolioModel(model, PortfolioConfig(correlation_alert=D("0.9"))))  # no limit, no drawdown alert: nobody watched
    ibm = only_report(run(live, order("c1", qty="1", price="150.00"))).order_id
    fill(live, ibm, "1", "150.00", done=True)
    assert live._holders() == {}
    xyz = only_report(run(live, order("c2", symbol="XYZ", qty="1", price="25.00"))).order_id
    assert alerts(fill(live, xyz, "1", "25.00", done=True)) == [("A1", "correlation", "IBM/XYZ", "raised")]
    # a correlation alert follows the holdings, not the marks: no mark reviews A1
    assert live._holders() == restored(live)._holders() == {}
    assert alerts(run(live, mark("XYZ", "10"))) == []
    run(live, SetPortfolioLimits(account="A1", limits=PortfolioLimits(max_gross=D("1000000"))))  # a limit: watched
    assert live._holders() == restored(live)._holders() == {"IBM": {"A1"}, "XYZ": {"A1"}}


@pytest.mark.parametrize("seed", range(6))
def test_after_any_inputs_the_live_index_holds_every_account_a_restored_one_would(seed: int) -> None:
    """Orders, fills, marks, limits set and cleared and the drawdown alert turned on and off,
    at random: after each, every (symbol, account) a restored shard's index holds, the live
    one holds too (the live one may hold more: a mark tests each candidate exactly), and the
    next mark raises and clears the same alerts in both."""
    rng = random.Random(seed)
    live = make_state(cash="1000000.00", allow_short=True)
    live.open_account(AccountSeed("B1", "trader2", D("1000000.00"), True))
    prices = dict(PRICES)
    for step in range(120):
        roll = rng.random()
        symbol = rng.choice(sorted(prices))
        if roll < 0.35:
            side = rng.choice([Side.BUY, Side.SELL])
            account = rng.choice(["A1", "B1"])
            qty = str(rng.randint(1, 50))
            spec = OrderSpec(symbol, side, OrderType.LIMIT, TimeInForce.DAY, D(qty), None, D(prices[symbol] + ".00"))
            report = only_report(run(live, NewOrder(account, f"c{step}", spec, REPLY)))
            if report.status.value == "new" and rng.random() < 0.8:
                run(live, _trade(report.order_id, account, qty, prices[symbol]))
        elif roll < 0.7:
            prices[symbol] = str(max(1, int(prices[symbol]) + rng.randint(-8, 8)))
            run(live, mark(symbol, prices[symbol]))
        elif roll < 0.8:
            drawdown = D("0.001") if rng.random() < 0.6 else None
            run(live, SetPortfolioModel(None, PortfolioConfig(drawdown_alert=drawdown)))
        elif roll < 0.9:
            limits = PortfolioLimits(max_gross=D(str(rng.randint(100, 5000))))
            run(live, SetPortfolioLimits(account=rng.choice(["A1", "B1"]), limits=limits, clear=rng.random() < 0.3))
        else:
            live._holders()  # the index made again from what stands (as a mark would)
        again = restored(live)
        live_index, fresh = live._holders(), again._holders()
        for held, names in fresh.items():
            assert names <= live_index.get(held, set()), (step, held, names, live_index.get(held))
        probe = rng.choice(sorted(prices))
        assert alerts(run(live, mark(probe, prices[probe]))) == alerts(run(again, mark(probe, prices[probe]))), step
        assert again.state_hash() == live.state_hash(), step


def _trade(order_id: str, account: str, qty: str, price: str) -> OrderUpdate:
    return OrderUpdate(order_id, account, VenueEventKind.TRADE, D(qty), D(price + ".00"), None, "SIM", NOW, True)
