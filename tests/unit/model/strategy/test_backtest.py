"""The backtest: its fill model, no lookahead, an exact book, no resubmitting after a
rejection, the history it refuses, the report; and parity with paper mode over one stream."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from model import fixed
from model.risk.history import NS_PER_MINUTE, Bar, BarBuilder, HistoryError, append_bars_csv, load_bars
from model.strategy.backtest import PaperSession, run_backtest
from model.strategy.engine import Context, Fill, Order
from model.strategy.expr import Frame
from model.strategy.report import report_html, report_json, summary
from model.strategy.spec import parse_strategy

from .conftest import T0, columns, walk

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


OPTION = "AAPL261218C00200000"  # 100 shares a contract
CONTRACTS = """
[strategy]
name = "calls"
symbols = [{symbols}]
capital = "100000.00"
[entry]
when = "close > 0"
[sizing]
mode = "quantity"
value = "{qty}"
[fills]
fee_bps = 10
"""


@pytest.mark.parametrize("symbols", [[OPTION], [OPTION, "IBM"]])
def test_an_options_contracts_are_valued_at_the_multiplier_in_fees_equity_and_the_curve(instruments, symbols: list[str]) -> None:
    """10 contracts at 7.50 are worth 7,500.00, not 75.00: the fee (10 bps of the value), the
    book's equity and the equity curve (single-symbol and several) all count the multiplier."""
    assert instruments[OPTION].multiplier == 100
    contracts = "10" if len(symbols) == 1 else "1"
    spec = parse_strategy(CONTRACTS.format(symbols=", ".join(f'"{s}"' for s in symbols), qty=contracts), instruments)
    price = {OPTION: P("7.50"), "IBM": P("150.00")}
    bars = [Bar(symbol, T0 + i * NS_PER_MINUTE, price[symbol], price[symbol], price[symbol], price[symbol], P("1")) for i in range(4) for symbol in symbols]
    result = run_backtest(spec, instruments, columns(bars))
    qty = P(contracts)
    fill = next(f for f in result.fills if f.symbol == OPTION)
    value = fixed.buy_cost(qty, P("7.50"), 100)
    assert fill.qty == qty and value == (P("7500.00") if len(symbols) == 1 else P("750.00"))
    assert fill.fee == value // 1_000  # 10 bps of the contracts' value
    fees = sum(f.fee for f in result.fills)
    assert int(result.equity[-1]) == spec.capital - fees  # flat prices: the equity is the capital less the fees
    assert result.final_cash == spec.capital - sum(fixed.buy_cost(f.qty, f.price, instruments[f.symbol].multiplier) for f in result.fills) - fees


def test_orders_fill_at_the_next_minutes_open_with_slippage_fees_and_an_exact_book(instruments) -> None:
    spec = parse_strategy(RULES, instruments)
    bars = walk(20_000, seed=3)
    result = run_backtest(spec, instruments, columns(bars))
    assert len(result.trades) > 20
    by_start = {bar.start: bar for bar in bars}
    cash = spec.capital
    for order, fill in zip(result.orders, result.fills, strict=True):
        assert fill.order_id == order.id and fill.time == order.time  # the order's bar ended where the fill's minute starts
        opening = by_start[fill.time].open
        if order.side == "buy":
            assert fill.price == fixed.ceil_to(opening * 10_002 // 10_000, fixed.CENT)
            cash -= fixed.buy_cost(fill.qty, fill.price) + fill.fee
        else:
            assert fill.price == fixed.floor_to(opening * 9_998 // 10_000, fixed.CENT)
            cash += fixed.sell_proceeds(fill.qty, fill.price) - fill.fee
        assert fill.fee == max(P("1.00"), fixed.ceil_cent(fill.qty * P("0.005")))
    assert cash == result.final_cash and cash % fixed.CENT == 0
    held = result.positions.get("IBM", 0)
    if held == 0:  # every round trip closed: their P&L is the cash made, to the cent
        assert sum(t.pnl for t in result.trades) == result.final_cash - spec.capital
    assert result.equity[-1] == result.final_cash + held * bars[-1].close // fixed.SCALE


def test_no_lookahead_changing_the_future_changes_no_earlier_order(instruments) -> None:
    spec = parse_strategy(RULES, instruments)
    bars = walk(6_000, seed=4)
    whole = run_backtest(spec, instruments, columns(bars)).orders
    cut = bars[3_000].start
    future = walk(3_000, seed=99, start=bars[3_000].open / fixed.SCALE)
    changed = bars[:3_000] + [Bar(b.symbol, bars[3_000 + i].start, b.open, b.high, b.low, b.close, b.volume) for i, b in enumerate(future)]
    other = run_backtest(spec, instruments, columns(changed)).orders
    before = [o for o in whole if o.time <= cut]
    assert before and before == [o for o in other if o.time <= cut]
    assert [o for o in whole if o.time > cut] != [o for o in other if o.time > cut]


def test_limit_orders_fill_on_touch_at_the_limit_or_better_open_and_expire(instruments) -> None:
    text = RULES.replace('scale_in = 2', 'scale_in = 1\norder = "limit"\nlimit_offset_bps = 20\nlimit_bars = 2')
    spec = parse_strategy(text, instruments)
    bars = walk(20_000, seed=5)
    result = run_backtest(spec, instruments, columns(bars))
    by_start = {bar.start: bar for bar in bars}
    fills = {f.order_id: f for f in result.fills}
    buys = [o for o in result.orders if o.side == "buy"]
    assert buys and any(o.id not in fills for o in buys)  # some expired
    for order in buys:
        decided = by_start[order.time - NS_PER_MINUTE]
        assert order.limit == fixed.floor_to(decided.close * 9_980 // 10_000, fixed.CENT)
        fill = fills.get(order.id)
        window = [by_start.get(order.time + k * NS_PER_MINUTE) for k in range(2)]
        if fill is None:
            assert all(bar.low > order.limit for bar in window if bar)
            continue
        bar = by_start[fill.time]
        assert fill.price == min(bar.open, order.limit) and bar.low <= order.limit


def test_a_rejected_order_is_not_sent_again_and_rejections_in_a_row_stop_the_strategy(instruments) -> None:
    class Greedy:
        """Buys more than the cash can pay for on every bar it is allowed to."""

        def __init__(self, spec) -> None:
            self.rejected: list[Order] = []

        def on_start(self, ctx: Context) -> None:
            pass

        def on_bar(self, ctx: Context, symbol: str, bar: Frame) -> None:
            ctx.buy(symbol, 10_000 * fixed.SCALE)

        def on_fill(self, ctx: Context, fill: Fill) -> None:
            raise AssertionError("nothing can fill")

        def on_reject(self, ctx: Context, order: Order, reason: str) -> None:
            self.rejected.append(order)

        def on_expire(self, ctx: Context, order: Order) -> None:
            pass

    spec = parse_strategy(RULES, instruments)
    strategy = Greedy(spec)
    result = run_backtest(spec, instruments, columns(walk(500)), strategy=strategy)
    assert len(result.orders) == 3 == len(strategy.rejected)  # max_rejections, then nothing more
    assert result.stopped.startswith("3 orders rejected in a row (last: insufficient_buying_power)")
    assert result.final_cash == spec.capital


def test_rule_strategy_waits_for_its_condition_to_turn_false_after_a_rejection(instruments) -> None:
    spec = parse_strategy(RULES.replace('scale_in = 2', 'scale_in = 1'), instruments)
    from model.strategy.backtest import Session

    session = Session(spec, instruments)
    bars = walk(3_000, seed=3)
    rejected = 0
    for bar in bars:
        session.step(bar.symbol, bar.start, bar.open, bar.high, bar.low, bar.close, bar.volume)
        working = session.venue.working.get("IBM")
        if working and working[0].side == "buy" and not rejected:
            session.venue.working.pop("IBM")
            session.core.reject(working[0].id, "IBM", "max_order_notional")
            rejected = working[0].id
            entry = session.core.strategy.entry["IBM"]  # type: ignore[attr-defined]
            still = entry.evaluate()
    assert rejected and still
    after = [o for o in session.core.orders if o.id > rejected]
    assert after, "the strategy never traded again"
    # every later order came after a bar on which the entry condition was false: not the next bar
    assert after[0].time > session.core.orders[rejected - 1].time + NS_PER_MINUTE


def test_five_minute_bars_decide_on_each_period_end(instruments) -> None:
    spec = parse_strategy(RULES.replace('capital = "100000.00"', 'capital = "100000.00"\nbar = "5m"'), instruments)
    result = run_backtest(spec, instruments, columns(walk(20_000, seed=6)))
    assert result.orders and all(o.time % (5 * NS_PER_MINUTE) == T0 % (5 * NS_PER_MINUTE) for o in result.orders)


def test_history_with_gaps_unsorted_duplicate_or_bad_rows_is_refused_whole(tmp_path: Path) -> None:
    bars = walk(10)
    cases = {
        "gap": bars[:4] + bars[6:],
        "unsorted": bars[:4] + [bars[5], bars[4]] + bars[6:],
        "duplicate": bars[:5] + [bars[4]] + bars[5:],
        "bad": bars[:3] + [Bar("IBM", bars[3].start, bars[3].open, bars[3].low - fixed.CENT, bars[3].low, bars[3].close)] + bars[4:],
    }
    expected = {"gap": "row 5: a gap", "unsorted": "row 6: rows out of order", "duplicate": "row 6: the symbol's minute twice", "bad": "row 4: high/low do not bound"}
    for name, rows in cases.items():
        path = tmp_path / f"{name}.csv"
        append_bars_csv(path, rows)
        with pytest.raises(HistoryError) as refused:
            load_bars(path)
        assert expected[name] in str(refused.value), str(refused.value)
    text = tmp_path / "text.csv"
    text.write_text("symbol,start,open,high,low,close,volume\nIBM,60000000000,1.5,1.5,1.5,1e2,1\n")
    with pytest.raises(HistoryError, match="row 1: close is not a decimal"):
        load_bars(text)
    assert len(load_bars(tmp_path / "gap.csv", max_gap_minutes=0)) == 8


def test_bars_round_trip_through_csv_and_parquet_exactly(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    bars = walk(100) + [Bar("AAPL", T0 + 200 * NS_PER_MINUTE, P("190.123456789"), P("190.2"), P("190"), P("190.1"), P("0.5"))]
    append_bars_csv(tmp_path / "b.csv", bars)
    assert load_bars(tmp_path / "b.csv").bars() == bars
    table = pa.table({name: [fixed.format(getattr(b, name)) if name not in ("symbol", "start") else getattr(b, name) for b in bars] for name in ("symbol", "start", "open", "high", "low", "close", "volume")})
    pq.write_table(table, tmp_path / "b.parquet")
    assert load_bars(tmp_path / "b.parquet").bars() == bars


def test_report_json_and_html(instruments, tmp_path: Path) -> None:
    spec = parse_strategy(RULES.replace('when = "rsi(14) > 65"', 'when = "rsi(14) > 65 or close > bb(20, 2).upper"'), instruments)
    result = run_backtest(spec, instruments, columns(walk(5_000, seed=3)), record=True)
    figures = summary(result)
    assert figures["trades"] == len(result.trades) > 0
    assert fixed.parse(figures["pnl"]) == (result.equity[-1] - spec.capital) // fixed.CENT * fixed.CENT
    wins = sum(t.pnl > 0 for t in result.trades)
    assert figures["win_rate"] == wins / len(result.trades)
    equity = np.r_[spec.capital, result.equity].astype(float)
    returns = equity[1:] / equity[:-1] - 1
    assert figures["sharpe"] == pytest.approx(returns.mean() / returns.std() * np.sqrt(252 * 390))
    assert 0 < figures["exposure"] < 1 and figures["max_drawdown_pct"] > 0
    body = json.loads(report_json(result))
    assert len(body["trades"]) == len(result.trades) and len(body["equity"]["equity"]) == len(result.equity)
    page = report_html(result)
    assert page.count("<svg") == 3 and "bb(20, 2).upper" in page and "<script" not in page and "http" not in page.replace("http://www.w3.org/2000/svg", "")
    assert page.count("<polygon") == len(result.fills)


def test_paper_and_backtest_give_the_same_orders_at_the_same_times_over_one_stream(instruments, tmp_path: Path) -> None:
    """One recorded quote stream: paper mode builds its bars from the quotes as they come; the
    backtest reads the bars the same stream recorded to a file. Same orders, same times, same fills."""
    spec = parse_strategy(RULES.replace('scale_in = 2', 'scale_in = 2\norder = "limit"\nlimit_offset_bps = 3\nlimit_bars = 3'), instruments)
    rng = np.random.default_rng(11)
    quotes = []
    mid, now = 150.0, T0
    for _ in range(40_000):  # about 5 quotes a minute, at random moments
        now += int(rng.integers(1, 24)) * 1_000_000_000
        mid *= float(np.exp(rng.normal(0, 0.0006)))
        bid = int(round(mid * 100)) * fixed.CENT
        quotes.append(("IBM", bid, bid + fixed.CENT * int(rng.integers(1, 4)), now))
    paper = PaperSession(spec, instruments)
    recorder = BarBuilder("UTC")
    recorded: list[Bar] = []
    for symbol, bid, ask, at in quotes:
        paper.quote(symbol, bid, ask, at)
        recorded += [bar for bar in recorder.quote(symbol, bid, ask, at) if bar.start >= NS_PER_MINUTE]
    path = tmp_path / "stream.csv"
    append_bars_csv(path, recorded)
    backtest = run_backtest(spec, instruments, load_bars(path, max_gap_minutes=0))
    assert len(backtest.orders) > 20 and any(o.limit for o in backtest.orders)
    assert paper.core.orders == backtest.orders
    assert paper.fills == backtest.fills
    assert paper.core.book.cash == backtest.final_cash


def test_parquet_decimal_and_integer_columns_are_read_exactly_and_floats_refused(tmp_path: Path) -> None:
    from decimal import Decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    bars = walk(50)
    prices = {name: pa.array([Decimal(fixed.format(getattr(b, name))) for b in bars], pa.decimal128(18, 2)) for name in ("open", "high", "low", "close")}
    table = pa.table({"symbol": [b.symbol for b in bars], "start": pa.array([b.start for b in bars], pa.int64()), **prices, "volume": pa.array([100] * len(bars), pa.int32())})
    pq.write_table(table, tmp_path / "d.parquet")
    assert load_bars(tmp_path / "d.parquet").bars() == bars
    floats = table.set_column(5, "close", pa.array([b.close / fixed.SCALE for b in bars], pa.float64()))
    pq.write_table(floats, tmp_path / "f.parquet")
    with pytest.raises(HistoryError, match="close is not a decimal"):
        load_bars(tmp_path / "f.parquet")
