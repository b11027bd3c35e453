"""The strategy actor's core: files refused whole, paper over the server's marks giving the
backtest's orders, live orders with ids drawn from the state, reports booked and allocated,
no resubmitting after a risk rejection, and snapshots and replays that reach the same state."""

from __future__ import annotations

from pathlib import Path

import msgspec
import numpy as np
import pytest

from actors.runtime.outputs import ACCOUNT
from actors.strategy.core import LIVE, PAPER, StrategySnapshot, StrategyState
from model import fixed
from model.config import load_setup
from model.enums import ExecType, OrderStatus, Side
from model.instruments import Instrument
from model.messages import (
    CancelOrder,
    CreateStrategy,
    ExecutionReport,
    MarketUpdate,
    NewOrder,
    PromoteStrategy,
    RedeemStrategy,
    RunStrategy,
    SubscribeStrategy,
)
from model.risk.history import NS_PER_MINUTE, Bar, BarBuilder, append_bars_csv, load_bars
from model.strategy.backtest import run_backtest
from model.strategy.spec import parse_strategy

ROOT = Path(__file__).resolve().parents[4]
T0 = 1_767_000_000 // 60 * 60 * 1_000_000_000
P = fixed.parse

RULES = """
[strategy]
name = "rsi-ma"
symbols = ["IBM"]
capital = "100000.00"
[entry]
when = "rsi(14) < 30 and close < sma(50)"
scale_in = 2
scale_in_bars = 3
order = "limit"
limit_offset_bps = 3
limit_bars = 3
[sizing]
mode = "notional"
value = "20000.00"
[exit]
when = "rsi(14) > 65"
stop_loss_pct = "1"
trailing_stop_pct = "0.5"
[fills]
slippage_bps = 2
fee_per_unit = "0.005"
fee_min = "1.00"
"""

EVERY_BAR = """
[strategy]
name = "every-bar"
symbols = ["IBM"]
capital = "100000.00"
[entry]
when = "close > 0"
[sizing]
mode = "quantity"
value = "10"
[exit]
when = "bars_held >= 1"
"""


@pytest.fixture(scope="module")
def instruments() -> list[Instrument]:
    return load_setup(ROOT / "conf" / "server.toml").instruments


def stream(n: int, seed: int = 11) -> list[tuple[str, int, int, int]]:
    """``n`` quotes of IBM, a few a minute at random moments (the parity test's stream)."""
    rng = np.random.default_rng(seed)
    quotes, mid, now = [], 150.0, T0
    for _ in range(n):
        now += int(rng.integers(1, 24)) * 1_000_000_000
        mid *= float(np.exp(rng.normal(0, 0.0006)))
        bid = int(round(mid * 100)) * fixed.CENT
        quotes.append(("IBM", bid, bid + fixed.CENT * int(rng.integers(1, 4)), now))
    return quotes


def mark(symbol: str, bid: int, ask: int, now: int) -> MarketUpdate:
    return MarketUpdate(symbol, bid, ask, (bid + ask) // 2, False, now)


def minute_marks(start_minute: int, minutes: int, price: str = "150.00") -> list[MarketUpdate]:
    """Two quotes a minute at a steady price."""
    bid = P(price)
    return [mark("IBM", bid, bid + fixed.CENT, T0 + (start_minute + i) * NS_PER_MINUTE + s * 1_000_000_000) for i in range(minutes) for s in (5, 35)]


def new_core(instruments: list[Instrument]) -> StrategyState:
    return StrategyState(instruments, max_rejections=3)


def feed(core: StrategyState, messages: list, now: int = T0) -> list:
    for message in messages:
        core.apply(message, now)
    return core.out.drain()


def live_core(instruments: list[Instrument], text: str = EVERY_BAR, account: str = "ACC-1") -> StrategyState:
    core = new_core(instruments)
    feed(core, [CreateStrategy("s", text), PromoteStrategy("s"), PromoteStrategy("s", account), RunStrategy("s", True)])
    return core


def report(order: NewOrder, exec_type: ExecType, status: OrderStatus, last_qty: int = 0, price: int | None = None, leaves: int | None = 0, reason: str | None = None) -> ExecutionReport:
    qty = order.spec.qty or 0
    return ExecutionReport(order.account, "account-0-1", order.client_order_id, "x", exec_type, status, order.spec, qty - (leaves or 0), leaves, last_qty, price, price, reason, T0)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (('"IBM"', '"NOPE"'), "unknown symbol"),
        (("rsi(14) < 30", "rsx(14) < 30"), "unknown"),
        (("rsi(14) < 30", "rsi(14) < < 30"), "entry.when"),
    ],
)
def test_a_bad_file_is_refused_and_nothing_is_created(instruments: list[Instrument], change: tuple[str, str], expected: str) -> None:
    core = new_core(instruments)
    with pytest.raises(ValueError, match=expected):
        core.check_create(CreateStrategy("bad", RULES.replace(*change)))
    feed(core, [CreateStrategy("bad", RULES.replace(*change))])
    assert core.strategies == {} and core.refused


def test_modes_go_forward_only_and_live_names_its_account(instruments: list[Instrument]) -> None:
    core = new_core(instruments)
    feed(core, [CreateStrategy("s", RULES)])
    with pytest.raises(ValueError, match="backtest mode"):
        core.check_run(RunStrategy("s", True))
    with pytest.raises(ValueError, match="paper first"):
        core.check_promote(PromoteStrategy("s", "ACC-1"))
    feed(core, [PromoteStrategy("s")])
    with pytest.raises(ValueError, match="name it"):
        core.check_promote(PromoteStrategy("s"))
    feed(core, [PromoteStrategy("s", "ACC-1")])
    assert core.strategies["s"].mode == LIVE
    with pytest.raises(ValueError, match="live already"):
        core.check_promote(PromoteStrategy("s", "ACC-1"))
    with pytest.raises(ValueError, match="exists already"):
        core.check_create(CreateStrategy("s", RULES))


def test_paper_over_the_servers_marks_gives_the_backtests_orders_at_the_same_times(instruments: list[Instrument], tmp_path: Path) -> None:
    """One recorded quote stream: the actor's core on paper, fed it as the InstrumentActors'
    marks, and a backtest of the bars the stream recorded give the same orders and fills."""
    by_symbol = {i.symbol: i for i in instruments}
    spec = parse_strategy(RULES, by_symbol)
    quotes = stream(40_000)
    core = new_core(instruments)
    feed(core, [CreateStrategy("p", RULES), PromoteStrategy("p"), RunStrategy("p", True)])
    recorder = BarBuilder("UTC")
    recorded: list[Bar] = []
    for symbol, bid, ask, at in quotes:
        core.apply(mark(symbol, bid, ask, at), at)
        recorded += [bar for bar in recorder.quote(symbol, bid, ask, at) if bar.start >= NS_PER_MINUTE]
    assert core.out.drain() == []  # paper sends nothing
    path = tmp_path / "stream.csv"
    append_bars_csv(path, recorded)
    backtest = run_backtest(spec, by_symbol, load_bars(path, max_gap_minutes=0))
    paper = core.strategies["p"].core
    assert paper is not None and core.strategies["p"].mode == PAPER
    assert len(backtest.orders) > 20 and any(order.limit for order in backtest.orders)
    assert paper.orders == backtest.orders
    assert paper.fills == backtest.fills
    assert paper.book.cash == backtest.final_cash


def test_a_stopped_strategy_takes_no_bars(instruments: list[Instrument]) -> None:
    core = new_core(instruments)
    feed(core, [CreateStrategy("p", EVERY_BAR), PromoteStrategy("p")])
    feed(core, minute_marks(0, 5))
    assert core.strategies["p"].bars == []
    feed(core, [RunStrategy("p", True), *minute_marks(5, 5)])
    assert len(core.strategies["p"].bars) == 4


def test_live_orders_go_to_the_account_with_ids_from_the_state_and_fills_are_booked(instruments: list[Instrument]) -> None:
    core = live_core(instruments)
    sends = feed(core, minute_marks(0, 2))  # the first minute closes: an entry
    assert [(kind, key) for kind, key, _ in sends] == [(ACCOUNT, "ACC-1")]
    order = sends[0].message
    assert isinstance(order, NewOrder) and order.client_order_id == "strategy:s-1" and order.spec.side is Side.BUY and order.spec.qty == P("10")
    assert feed(core, minute_marks(2, 1)) == []  # one working order per symbol: nothing more
    feed(core, [report(order, ExecType.NEW, OrderStatus.NEW, leaves=order.spec.qty)])
    feed(core, [report(order, ExecType.TRADE, OrderStatus.PARTIALLY_FILLED, P("4"), P("150.01"), leaves=P("6"))])
    hosted = core.strategies["s"]
    assert hosted.core is not None and hosted.core.book.positions["IBM"] == P("4") and "IBM" in hosted.core.working
    feed(core, [report(order, ExecType.TRADE, OrderStatus.FILLED, P("6"), P("150.02"), leaves=0)])
    assert hosted.core.book.positions["IBM"] == P("10") and not hosted.core.working and not core.orders
    sends = feed(core, minute_marks(3, 2))  # held a bar: the exit
    sell = sends[0].message
    assert isinstance(sell, NewOrder) and sell.client_order_id == "strategy:s-2" and sell.spec.side is Side.SELL and sell.spec.qty == P("10")
    core.check_invariants()


def test_a_live_order_rejected_by_risk_is_not_sent_again(instruments: list[Instrument]) -> None:
    core = live_core(instruments)
    sends = feed(core, minute_marks(0, 2))
    order = sends[0].message
    feed(core, [report(order, ExecType.REJECTED, OrderStatus.REJECTED, leaves=0, reason="insufficient_buying_power")])
    # the entry condition holds on every bar: the rule strategy waits for it to turn false
    assert feed(core, minute_marks(2, 30)) == []
    assert core.strategies["s"].core is not None and len(core.strategies["s"].core.orders) == 1


def test_max_rejections_in_a_row_stop_a_live_strategy(instruments: list[Instrument]) -> None:
    core = live_core(instruments, EVERY_BAR.replace('when = "close > 0"', 'when = "close > 150.2"'))
    prices = ["150.00", "150.50"]
    sent = 0
    for minute in range(0, 40):
        sends = feed(core, minute_marks(minute, 1, prices[minute % 2]))
        for _, _, message in sends:
            sent += 1
            feed(core, [report(message, ExecType.REJECTED, OrderStatus.REJECTED, reason="order_too_large")])
    hosted = core.strategies["s"]
    assert hosted.core is not None and "rejected in a row" in hosted.core.stopped
    assert sent == 3  # max_rejections, then nothing


def test_stopping_a_live_strategy_cancels_its_working_order(instruments: list[Instrument]) -> None:
    core = live_core(instruments)
    order = feed(core, minute_marks(0, 2))[0].message
    sends = feed(core, [RunStrategy("s", False)])
    assert [type(message) for _, _, message in sends] == [CancelOrder] and sends[0].message.client_order_id == order.client_order_id
    feed(core, [report(order, ExecType.CANCELED, OrderStatus.CANCELED, leaves=0)])
    hosted = core.strategies["s"]
    assert hosted.core is not None and not hosted.core.working and not hosted.live


def test_live_fills_are_allocated_to_1000_investors_with_exact_sums(instruments: list[Instrument]) -> None:
    core = live_core(instruments, EVERY_BAR.replace('value = "10"', 'value = "500"'))
    feed(core, [SubscribeStrategy("s", f"INV-{i}", P("1000.00") + i * fixed.CENT * 37) for i in range(1000)])
    hosted = core.strategies["s"]
    assert hosted.pool is not None and len(hosted.pool.accounts) == 1001  # the live account's capital first
    minute = 0
    for round_trip in range(6):
        if round_trip == 3:  # between trades (flat): some leave, some join
            feed(core, [RedeemStrategy("s", f"INV-{i}") for i in range(0, 1000, 20)])
            feed(core, [SubscribeStrategy("s", f"NEW-{i}", P("500.00")) for i in range(20)])
        for _ in range(2):
            sends = []
            while not sends:
                sends = feed(core, minute_marks(minute, 1, "150.00"))
                minute += 1
            order = sends[0].message
            price = P("150.03") if order.spec.side is Side.BUY else P("150.07")
            qty, part = order.spec.qty, fixed.floor_to(order.spec.qty // 3, fixed.SCALE)  # a partial fill on the increment
            feed(core, [report(order, ExecType.TRADE, OrderStatus.PARTIALLY_FILLED, part, price, leaves=qty - part)])
            feed(core, [report(order, ExecType.TRADE, OrderStatus.FILLED, qty - part, price + fixed.CENT, leaves=0)])
            core.check_invariants()  # Σ investors' positions and cash = the model book's, exactly
    assert hosted.core is not None and hosted.allocations == 24
    assert len(hosted.pool.accounts) == 1001 - 50 + 20 and not core.anomalies
    assert sum(hosted.pool.cash) == hosted.core.book.cash


def test_a_snapshot_restores_the_same_state_and_the_same_next_sends(instruments: list[Instrument]) -> None:
    core = live_core(instruments, RULES.replace('[sizing]', '[sizing]').replace('order = "limit"', 'order = "market"'))
    feed(core, [CreateStrategy("p", RULES), PromoteStrategy("p"), RunStrategy("p", True)])
    quotes = stream(6_000, seed=5)
    half = len(quotes) // 2
    for symbol, bid, ask, at in quotes[:half]:
        for _, _, message in feed(core, [mark(symbol, bid, ask, at)], at):
            feed(core, [report(message, ExecType.TRADE, OrderStatus.FILLED, message.spec.qty, bid, leaves=0)])
    encoded = msgspec.msgpack.encode(core.snapshot())
    restored = StrategyState.restore(msgspec.msgpack.Decoder(StrategySnapshot).decode(encoded))
    assert restored.state_hash() == core.state_hash() and restored.out.drain() == []
    restored.check_invariants()
    for symbol, bid, ask, at in quotes[half:]:
        one, other = feed(core, [mark(symbol, bid, ask, at)], at), feed(restored, [mark(symbol, bid, ask, at)], at)
        assert one == other
        for _, _, message in one:
            filled = report(message, ExecType.TRADE, OrderStatus.FILLED, message.spec.qty, bid, leaves=0)
            assert feed(core, [filled]) == feed(restored, [filled])
    assert restored.state_hash() == core.state_hash()
    assert core.strategies["s"].core is not None and len(core.strategies["s"].core.orders) > 4
