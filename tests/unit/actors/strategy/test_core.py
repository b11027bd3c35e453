"""The strategy actor's core: files refused whole, paper over the server's marks giving the
backtest's orders, live orders with ids drawn from the state, reports booked and allocated,
no resubmitting after a risk rejection, and snapshots and replays that reach the same state."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import msgspec
import numpy as np
import pytest

from actors.runtime.outputs import ACCOUNT
from actors.strategy.core import LIVE, PAPER, StrategyRecord, StrategySnapshot, StrategyState
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
INCREMENT = P("0.000001")  # IBM's

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
        (("rsi(14) < 30", " + ".join(["close"] * 1_200) + " < 30"), "more than 2000 tokens"),  # would overflow the stack on every bar
        (("rsi(14) < 30", "(" * 200 + "rsi(14) < 30" + ")" * 200), "nested more than 20 deep"),
        (('capital = "100000.00"', 'capital = "20000000000.00"'), "strategy.capital: not a decimal number of at most"),  # its state_hash would overflow
    ],
)
def test_a_bad_file_is_refused_and_nothing_is_created(instruments: list[Instrument], change: tuple[str, str], expected: str) -> None:
    core = new_core(instruments)
    with pytest.raises(ValueError, match=expected):
        core.check_create(CreateStrategy("bad", RULES.replace(*change)))
    feed(core, [CreateStrategy("bad", RULES.replace(*change))])
    assert core.strategies == {} and core.refused


def test_a_file_naming_code_is_refused_and_nothing_is_imported_or_journaled(instruments: list[Instrument]) -> None:
    """A file the server reads names no class: refused at the check, before the journal, and
    never imported (the module named here would fail every promotion and every restore)."""
    text = EVERY_BAR.replace('[entry]\nwhen = "close > 0"\n', "").replace('capital = "100000.00"', 'capital = "100000.00"\npython = "no_such_module_here:Strategy"')
    core = new_core(instruments)
    with pytest.raises(ValueError, match="cannot name code"):
        core.check_create(CreateStrategy("coded", text))
    feed(core, [CreateStrategy("coded", text), PromoteStrategy("coded")])
    assert core.strategies == {} and "cannot name code" in core.refused[0]
    assert StrategyState.restore(core.snapshot()).strategies == {}


def test_a_snapshot_holding_a_strategy_this_version_refuses_restores_without_it(instruments: list[Instrument]) -> None:
    """A version before this one took a file naming a class: its snapshot still restores —
    the actor starts — with that strategy not loaded and said so, as a replay of its creation
    refuses it; the others load."""
    coded = EVERY_BAR.replace('[entry]\nwhen = "close > 0"\n', "").replace('capital = "100000.00"', 'capital = "100000.00"\npython = "no_such_module_here:Strategy"')
    core = new_core(instruments)
    feed(core, [CreateStrategy("plain", EVERY_BAR)])
    older = msgspec.structs.replace(core.snapshot(), strategies=[*core.snapshot().strategies, StrategyRecord("coded", coded, [])])
    restored = StrategyState.restore(older)
    assert list(restored.strategies) == ["plain"]
    assert len(restored.anomalies) == 1 and "strategy coded is not loaded" in restored.anomalies[0]


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
    assert isinstance(order, NewOrder) and order.client_order_id == "strategy:s-1-1" and order.spec.side is Side.BUY and order.spec.qty == P("10")
    assert feed(core, minute_marks(2, 1)) == []  # one working order per symbol: nothing more
    feed(core, [report(order, ExecType.NEW, OrderStatus.NEW, leaves=order.spec.qty)])
    feed(core, [report(order, ExecType.TRADE, OrderStatus.PARTIALLY_FILLED, P("4"), P("150.01"), leaves=P("6"))])
    hosted = core.strategies["s"]
    assert hosted.core is not None and hosted.core.book.positions["IBM"] == P("4") and "IBM" in hosted.core.working
    feed(core, [report(order, ExecType.TRADE, OrderStatus.FILLED, P("6"), P("150.02"), leaves=0)])
    assert hosted.core.book.positions["IBM"] == P("10") and not hosted.core.working and not core.orders
    sends = feed(core, minute_marks(3, 2))  # held a bar: the exit
    sell = sends[0].message
    assert isinstance(sell, NewOrder) and sell.client_order_id == "strategy:s-2-1" and sell.spec.side is Side.SELL and sell.spec.qty == P("10")
    core.check_invariants()


def test_a_report_under_a_childs_id_without_its_terms_is_not_the_childs(instruments: list[Instrument]) -> None:
    """An order of the investor's account that carries a child's client order id (placed
    with it before the prefix was refused at the gateway) is not the child: its reports
    are ignored — nothing booked, no child ended — and the child's own are booked."""
    core = live_core(instruments)
    order = feed(core, minute_marks(0, 2))[0].message
    hosted = core.strategies["s"]
    assert hosted.core is not None
    other = msgspec.structs.replace(order, spec=msgspec.structs.replace(order.spec, qty=P("1")))
    feed(core, [report(other, ExecType.TRADE, OrderStatus.FILLED, P("1"), P("140.00"), leaves=0)])
    feed(core, [report(other, ExecType.CANCELED, OrderStatus.CANCELED, leaves=0)])
    assert hosted.core.book.positions.get("IBM", 0) == 0 and hosted.core.fills == [] and order.client_order_id in core.orders
    assert len(core.anomalies) == 2 and "without its terms" in core.anomalies[0]
    feed(core, [report(order, ExecType.TRADE, OrderStatus.FILLED, P("10"), P("150.01"), leaves=0)])
    assert hosted.core.book.positions["IBM"] == P("10") and hosted.investors["ACC-1"].positions["IBM"] == P("10")
    core.check_invariants()


def test_a_strategy_gone_live_starts_with_the_indicators_of_its_paper_bars_and_decides_nothing_on_them(instruments: list[Instrument]) -> None:
    """Promoted from paper, the live core is warmed with every bar seen on paper: nothing is
    sent for them, and its first live bar is decided on indicators already full — where a
    strategy promoted straight through paper waits for its average to fill."""
    text = EVERY_BAR.replace('when = "close > 0"', 'when = "close > sma(5)"')
    rising = [f"{150 + minute}.00" for minute in range(8)]
    warmed, cold = new_core(instruments), new_core(instruments)
    feed(warmed, [CreateStrategy("s", text), PromoteStrategy("s"), RunStrategy("s", True)])
    for minute in range(6):
        feed(warmed, minute_marks(minute, 1, rising[minute]))
    assert len(warmed.strategies["s"].bars) == 5  # five minutes closed on paper
    assert feed(warmed, [PromoteStrategy("s", "ACC-1")]) == []  # warming decides nothing
    feed(cold, [CreateStrategy("s", text), PromoteStrategy("s"), PromoteStrategy("s", "ACC-1"), RunStrategy("s", True)])
    feed(cold, minute_marks(5, 1, rising[5]))
    for core in (warmed, cold):
        assert core.strategies["s"].mode == LIVE
    sends = feed(warmed, minute_marks(6, 1, rising[6]))  # minute 5 closes above the average of five
    assert [(m.client_order_id, m.spec.side) for _, _, m in sends] == [("strategy:s-1-1", Side.BUY)]
    assert feed(cold, minute_marks(6, 1, rising[6])) == []  # one bar: no average of five yet
    warmed.check_invariants()


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
    assert hosted.core is not None and not hosted.core.working and not hosted.parents


def fill_children(core: StrategyState, sends: list, price: int, parts: int = 1) -> list:
    """Every ``NewOrder`` in ``sends`` filled at ``price``, in ``parts`` on the increment (each a
    cent above the last), as its account's shard reports them; what the core sent meanwhile."""
    sent: list = []
    for _, _, order in sends:
        if not isinstance(order, NewOrder):
            continue
        qty, done, at = order.spec.qty, 0, price
        for part in range(parts):
            last = qty - done if part == parts - 1 else fixed.floor_to(qty // parts, INCREMENT)
            if last <= 0:
                continue
            done += last
            status = OrderStatus.FILLED if done == qty else OrderStatus.PARTIALLY_FILLED
            sent += feed(core, [report(order, ExecType.TRADE, status, last, at, leaves=qty - done)])
            at += fixed.CENT
    return sent


def next_sends(core: StrategyState, minute: int) -> tuple[list, int]:
    """Minutes fed until the strategy sends something: what it sent, and the next minute."""
    sends: list = []
    while not sends:
        sends = feed(core, minute_marks(minute, 1, "150.00"))
        minute += 1
    return sends, minute


def test_a_live_order_is_split_into_one_child_per_investor_and_the_model_books_fill_is_theirs(instruments: list[Instrument]) -> None:
    core = live_core(instruments, EVERY_BAR.replace('value = "10"', 'value = "6"'))
    feed(core, [SubscribeStrategy("s", "B", P("50000.00")), SubscribeStrategy("s", "C", P("150000.00"))])
    sends, minute = next_sends(core, 0)
    assert [(m.account, m.client_order_id, m.spec.side, m.spec.qty) for _, _, m in sends] == [
        ("ACC-1", "strategy:s-1-1", Side.BUY, P("2")),  # 100,000 : 50,000 : 150,000 of 6
        ("B", "strategy:s-1-2", Side.BUY, P("1")),
        ("C", "strategy:s-1-3", Side.BUY, P("3")),
    ]
    hosted = core.strategies["s"]
    assert hosted.core is not None
    fill_children(core, sends[:2], P("150.03"), parts=2)
    assert "IBM" in hosted.core.working  # the parent works until its last child ends
    fill_children(core, sends[2:], P("150.05"))
    core.check_invariants()
    assert not hosted.core.working and hosted.core.book.positions["IBM"] == P("6") == sum(f.qty for f in hosted.core.fills)
    b = hosted.investors["B"]  # 0.5 at 150.03 and 0.5 at 150.04, booked on the child's whole value as its account does
    assert b.positions["IBM"] == P("1") and b.booked == -fixed.ceil_cent(P("0.5") * P("150.03") + P("0.5") * P("150.04"))
    assert hosted.core.book.cash == P("300000.00") + sum(i.booked for i in hosted.investors.values())
    sells, _ = next_sends(core, minute)  # held a bar: each investor sells what it holds
    assert [(m.client_order_id, m.spec.side, m.spec.qty) for _, _, m in sells] == [
        ("strategy:s-2-1", Side.SELL, P("2")),
        ("strategy:s-2-2", Side.SELL, P("1")),
        ("strategy:s-2-3", Side.SELL, P("3")),
    ]
    fill_children(core, sells, P("150.10"))
    core.check_invariants()
    assert not any(hosted.core.book.positions.values()) and all(not any(i.positions.values()) for i in hosted.investors.values())
    assert hosted.status()["investors"][1] == {
        "account": "B", "number": 2, "committed": "50000.00", "positions": {}, "cash_booked": fixed.format_cash(b.booked), "redeeming": False,
    }


def test_a_child_refused_by_its_investors_risk_is_not_resent_and_does_not_stall_the_parent(instruments: list[Instrument]) -> None:
    core = live_core(instruments, EVERY_BAR.replace('value = "10"', 'value = "6"'))
    feed(core, [SubscribeStrategy("s", "B", P("50000.00")), SubscribeStrategy("s", "C", P("150000.00"))])
    sends, minute = next_sends(core, 0)
    refused = sends[1].message
    feed(core, [report(refused, ExecType.REJECTED, OrderStatus.REJECTED, reason="insufficient_buying_power")])
    hosted = core.strategies["s"]
    assert hosted.core is not None and "IBM" in hosted.core.working  # the others still work
    fill_children(core, [sends[0], sends[2]], P("150.02"))
    assert not hosted.core.working and hosted.core.book.positions["IBM"] == P("5") and hosted.core.rejections == 0  # filled: B took no part
    assert "B" in hosted.investors and not hosted.investors["B"].positions.get("IBM") and hosted.refused == 1
    assert hosted.status()["last_refused"] == [["strategy:s-1-2", "insufficient_buying_power"]]
    feed(core, [report(refused, ExecType.REJECTED, OrderStatus.REJECTED, reason="insufficient_buying_power")])  # a late repeat: ignored
    core.check_invariants()
    sells, _ = next_sends(core, minute)  # the exit: only those who hold sell; B's buy was never resent
    assert [m.client_order_id for _, _, m in sells] == ["strategy:s-2-1", "strategy:s-2-3"]
    assert [m.spec.qty for _, _, m in sells] == [P("2"), P("3")]


def test_an_order_every_child_of_which_is_refused_is_the_strategys_rejection(instruments: list[Instrument]) -> None:
    core = live_core(instruments)
    feed(core, [SubscribeStrategy("s", "B", P("50000.00"))])
    sends, _ = next_sends(core, 0)
    for _, _, order in sends:
        feed(core, [report(order, ExecType.REJECTED, OrderStatus.REJECTED, reason="order_too_large")])
    hosted = core.strategies["s"]
    assert hosted.core is not None and not hosted.core.working and hosted.core.rejections == 1 and not hosted.parents
    assert feed(core, minute_marks(10, 30)) == []  # the rule strategy waits for its entry condition to turn false


def test_a_redemption_sells_the_investors_holdings_then_it_leaves_with_its_cash(instruments: list[Instrument]) -> None:
    core = live_core(instruments, EVERY_BAR.replace('value = "10"', 'value = "6"').replace("bars_held >= 1", "bars_held >= 100"))
    feed(core, [SubscribeStrategy("s", "B", P("50000.00")), SubscribeStrategy("s", "C", P("150000.00"))])
    sends, minute = next_sends(core, 0)
    hosted = core.strategies["s"]
    assert hosted.core is not None
    assert feed(core, [RedeemStrategy("s", "C")]) == []  # C's child works: its sale waits for it
    [(_, _, sale)] = fill_children(core, sends, P("150.02"))  # C's last fill ended its child: its redemption's sale went out
    assert (sale.account, sale.client_order_id, sale.spec.side, sale.spec.qty) == ("C", "strategy:s-r3-0", Side.SELL, P("3"))
    with pytest.raises(ValueError, match="redeeming"):
        core.check_investor("s", "C", None)
    with pytest.raises(ValueError, match="redeeming"):
        core.check_investor("s", "C", P("1.00"))
    fill_children(core, [(ACCOUNT, "C", sale)], P("151.00"), parts=3)
    core.check_invariants()
    assert "C" not in hosted.investors and hosted.core.book.positions["IBM"] == P("3")
    assert hosted.core.book.cash == sum(i.cash for i in hosted.investors.values()) == P("150000.00") - fixed.ceil_cent(3 * P("1") * P("150.02"))
    [(_, _, sale)] = feed(core, [RedeemStrategy("s", "B")])
    feed(core, [report(sale, ExecType.REJECTED, OrderStatus.REJECTED, reason="account_killed")])  # it leaves all the same, holding its share
    core.check_invariants()
    assert list(hosted.investors) == ["ACC-1"] and hosted.core.book.positions["IBM"] == P("2")
    feed(core, [SubscribeStrategy("s", "C", P("1000.00"))])  # back, as a new investor: a new number
    assert hosted.investors["C"].number == 4
    with pytest.raises(ValueError, match="holds nothing"):
        core.check_investor("s", "B", None)


def test_a_subscription_is_refused_beyond_the_accounts_cash_less_what_it_has_in_the_strategy_unspent(instruments: list[Instrument]) -> None:
    core = live_core(instruments)
    with pytest.raises(ValueError, match="not enough"):
        core.check_investor("s", "B", P("5000.01"), account_cash=P("5000.00"))
    core.check_investor("s", "B", P("5000.00"), account_cash=P("5000.00"))
    feed(core, [SubscribeStrategy("s", "B", P("3000.00"))])
    with pytest.raises(ValueError, match="beside the 3000.00"):
        core.check_investor("s", "B", P("2000.01"), account_cash=P("5000.00"))
    assert core.strategies["s"].investors["B"].committed == P("3000.00")
    feed(core, [CreateStrategy("p", EVERY_BAR), PromoteStrategy("p")])  # the live account commits the capital
    with pytest.raises(ValueError, match="capital of 100000.00"):
        core.check_promote(PromoteStrategy("p", "X"), account_cash=P("99999.99"))
    core.check_promote(PromoteStrategy("p", "X"), account_cash=P("100000.00"))


def test_a_live_strategys_fills_allocated_to_1000_investors_with_exact_sums(instruments: list[Instrument]) -> None:
    """1,000 investors and the live account: every order split into a child per investor,
    each filled in parts; after each, the children's fills sum to the model book's fill, each
    investor's quantity is its exact pro-rata share (the open's split: within one increment of
    its exact share) and its cash what its account booked; some children refused by risk, some
    investors leave and some join mid-run."""
    core = live_core(instruments, EVERY_BAR.replace('value = "10"', 'value = "500"'))
    feed(core, [SubscribeStrategy("s", f"INV-{i}", P("1000.00") + i * fixed.CENT * 37) for i in range(1000)])
    hosted = core.strategies["s"]
    assert hosted.core is not None and len(hosted.investors) == 1001  # the live account's capital first
    strategy, book = hosted.core, hosted.core.book
    minute, children, refused = 0, 0, 0
    for round_trip in range(4):
        if round_trip == 2:  # between trades: 50 leave (flat: nothing to sell), 20 join
            assert feed(core, [RedeemStrategy("s", f"INV-{i}") for i in range(0, 1000, 20)]) == []
            feed(core, [SubscribeStrategy("s", f"NEW-{i}", P("500.00")) for i in range(20)])
        for _ in range(2):
            before = {i.account: (i.positions.get("IBM", 0), i.booked, i.cash) for i in hosted.investors.values()}
            sends, minute = next_sends(core, minute)
            orders = [m for _, _, m in sends]
            parent = strategy.orders[-1]
            price = P("150.03") if parent.side == "buy" else P("150.07")
            assert sum(o.spec.qty for o in orders) == parent.qty and [o.client_order_id for o in orders] == sorted(
                (o.client_order_id for o in orders), key=lambda cid: int(cid.rsplit("-", 1)[1])
            )
            if parent.side == "buy":  # every investor, pro rata to its equity (all cash when flat)
                assert [o.account for o in orders] == list(before)
                weights = [max(cash, 0) // fixed.CENT for _, _, cash in before.values()]
                for order, weight in zip(orders, weights, strict=True):
                    assert abs(Fraction(order.spec.qty, INCREMENT) - Fraction(parent.qty // INCREMENT * weight, sum(weights))) < 1
            else:  # every holder sells all it holds
                assert [(o.account, o.spec.qty) for o in orders] == [(a, qty) for a, (qty, _, _) in before.items() if qty]
            refusing = {n for n in range(len(orders)) if parent.side == "buy" and round_trip == 1 and n % 97 == 5}
            feed(core, [report(orders[n], ExecType.REJECTED, OrderStatus.REJECTED, reason="insufficient_buying_power") for n in sorted(refusing)])
            kept = [o for n, o in enumerate(orders) if n not in refusing]
            fill_children(core, [(ACCOUNT, o.account, o) for o in kept], price, parts=3)
            core.check_invariants()  # Σ investors' positions and cash = the model book's, exactly
            assert not strategy.working and not hosted.parents
            assert sum(f.qty for f in strategy.fills if f.order_id == parent.id) == sum(o.spec.qty for o in kept)  # the model book's fill: its children's
            for order in kept:  # each investor booked exactly its child: its quantity, and the cash its account booked
                investor, (qty, booked, _) = hosted.investors[order.account], before[order.account]
                assert investor.positions["IBM"] - qty == (order.spec.qty if parent.side == "buy" else -order.spec.qty)
                assert investor.booked - booked == _booked(order.spec.qty, price, parent.side)
            children += len(orders)
            refused += len(refusing)
    assert hosted.children == children and hosted.refused == refused == 11 and len(strategy.orders) == 8
    assert len(hosted.investors) == 1001 - 50 + 20 and not any(book.positions.values()) and sum(i.cash for i in hosted.investors.values()) == book.cash


def _booked(qty: int, price: int, side: str) -> int:
    """What an account books for a child filled as ``fill_children(parts=3)`` fills it."""
    part = fixed.floor_to(qty // 3, INCREMENT)
    value = part * price + part * (price + fixed.CENT) + (qty - 2 * part) * (price + 2 * fixed.CENT)
    return -fixed.ceil_cent(value) if side == "buy" else fixed.floor_cent(value)


def test_a_snapshot_restores_the_same_state_and_the_same_next_sends(instruments: list[Instrument]) -> None:
    """Three investors, one of whom redeems: its sale still works at the snapshot."""
    core = live_core(instruments, RULES.replace('[sizing]', '[sizing]').replace('order = "limit"', 'order = "market"'))
    feed(core, [CreateStrategy("p", RULES), PromoteStrategy("p"), RunStrategy("p", True)])
    feed(core, [SubscribeStrategy("s", "B", P("25000.00")), SubscribeStrategy("s", "C", P("60000.00"))])
    quotes = stream(6_000, seed=5)
    half = len(quotes) // 2
    held: list = []  # C's redemption's sales: left working across the snapshot
    for n, (symbol, bid, ask, at) in enumerate(quotes[:half]):
        sends = feed(core, [mark(symbol, bid, ask, at)], at)
        if n >= half // 2 and not held and core.strategies["s"].investors["C"].positions.get("IBM"):  # C leaves while it holds
            sends += feed(core, [RedeemStrategy("s", "C")])
        while sends:
            _, _, message = sends.pop()
            if message.client_order_id.startswith("strategy:s-r"):
                held.append(message)
                continue
            sends += feed(core, [report(message, ExecType.TRADE, OrderStatus.FILLED, message.spec.qty, bid, leaves=0)])
    hosted = core.strategies["s"]
    assert held and hosted.redemptions and hosted.investors["C"].redeeming
    encoded = msgspec.msgpack.encode(core.snapshot())
    restored = StrategyState.restore(msgspec.msgpack.Decoder(StrategySnapshot).decode(encoded))
    assert restored.state_hash() == core.state_hash() and restored.out.drain() == []
    restored.check_invariants()
    for message in held:
        filled = report(message, ExecType.TRADE, OrderStatus.FILLED, message.spec.qty, P("150.00"), leaves=0)
        assert feed(core, [filled]) == feed(restored, [filled])
    assert "C" not in hosted.investors and "C" not in restored.strategies["s"].investors
    for symbol, bid, ask, at in quotes[half:]:
        one, other = feed(core, [mark(symbol, bid, ask, at)], at), feed(restored, [mark(symbol, bid, ask, at)], at)
        assert one == other
        for _, _, message in one:
            filled = report(message, ExecType.TRADE, OrderStatus.FILLED, message.spec.qty, bid, leaves=0)
            assert feed(core, [filled]) == feed(restored, [filled])
    assert restored.state_hash() == core.state_hash()
    core.check_invariants()
    assert hosted.core is not None and len(hosted.core.orders) > 4 and hosted.children > len(hosted.core.orders) + 1
