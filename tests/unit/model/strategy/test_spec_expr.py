"""Strategy files and their conditions: what is accepted, and every refusal named before
anything runs."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from typing import Any

import pytest

from model import fixed
from model.strategy.expr import MAX_DEPTH, MAX_INDICATORS, MAX_TERMS, MAX_TOKENS, ExpressionError, Frame, Registry, compile_condition
from model.strategy.spec import StrategyError, parse_strategy

GOOD = """
[strategy]
name = "dip"
symbols = ["IBM", "AAPL"]
bar = "5m"
capital = "50000.00"

[entry]
when = "rsi(14) < 30 and close < bb(20, 2).lower or crosses_above(ema(12), ema(26))"
order = "limit"
limit_offset_bps = 5
scale_in = 3

[sizing]
mode = "percent_equity"
value = "25"

[exit]
when = "rsi(14) > 70 or macd(12, 26, 9).hist < 0"
stop_loss_pct = "2.5"
take_profit_pct = "4"
trailing_stop_pct = "1.5"

[fills]
slippage_bps = 2
fee_per_unit = "0.005"
fee_min = "1.00"
"""


def test_a_good_file_is_read_exactly(instruments) -> None:
    spec = parse_strategy(GOOD, instruments)
    assert spec.symbols == ("IBM", "AAPL") and spec.bar_minutes == 5 and spec.scale_in == 3
    assert spec.capital == fixed.parse("50000") and spec.sizing_value == 25 * fixed.SCALE
    assert spec.stop_loss_pct == fixed.parse("2.5") and spec.fills.fee_per_unit == fixed.parse("0.005")
    assert isinstance(spec.stop_loss_pct, int) and spec.text == GOOD


@pytest.mark.parametrize(
    "change,finding",
    [
        (('when = "rsi(14) < 30 and close', 'when = "rsx(14) < 30 and close'), "entry.when: column 1: unknown indicator 'rsx'"),
        (('rsi(14) > 70 or', 'rsi(14) > > 70 or'), "exit.when: column 11: expected a number"),
        (('["IBM", "AAPL"]', '["IBM", "NOPE"]'), "unknown symbol 'NOPE'"),
        (('value = "25"', 'value = "60"'), "60 % of equity for each of 2 symbol(s) exceeds 100 %"),
        (('mode = "percent_equity"\nvalue = "25"', 'mode = "notional"\nvalue = "30000.00"'), "30000.00 for each of 2 symbol(s) exceeds the capital 50000.00"),
        (('mode = "percent_equity"\nvalue = "25"', 'mode = "quantity"\nvalue = "210"'), "210 units of each symbol cost 71400.00 at the reference prices, above the capital"),
        (('stop_loss_pct = "2.5"', 'stop_loss_pct = "100"'), "exit.stop_loss_pct = 100 must be below 100"),
        (('bar = "5m"', 'bar = "7m"'), "strategy.bar '7m' is not one of"),
        (('scale_in = 3', 'scale_in = 3\nsize = 2'), "unknown field"),
        (('fee_min = "1.00"', 'fee_min = 1.0'), "Expected `str`, got `float`"),
        (('capital = "50000.00"', 'capital = "5e4"'), "strategy.capital: not a decimal"),
        (('capital = "50000.00"', 'capital = "20000000000.00"'), "strategy.capital: not a decimal number of at most 9223372036.854775807"),
        (('fee_min = "1.00"', 'fee_min = "9223372036.854775808"'), "fills.fee_min: not a decimal number of at most 9223372036.854775807"),
    ],
)
def test_bad_files_are_refused_with_what_is_wrong(instruments, change: tuple[str, str], finding: str) -> None:
    old, new = change
    assert old in GOOD
    with pytest.raises(StrategyError) as refused:
        parse_strategy(GOOD.replace(old, new), instruments, "dip.toml")
    assert finding in str(refused.value), str(refused.value)
    assert "Traceback" not in str(refused.value)


def test_every_finding_at_once(instruments) -> None:
    text = GOOD.replace('"AAPL"]', '"NOPE"]').replace("rsi(14) > 70", "rsi(14) >")
    with pytest.raises(StrategyError) as refused:
        parse_strategy(text, instruments)
    assert len(refused.value.findings) == 2


def test_a_quantity_off_the_increment_is_refused(instruments) -> None:
    text = GOOD.replace('["IBM", "AAPL"]', '["XYZ"]').replace('mode = "percent_equity"\nvalue = "25"', 'mode = "quantity"\nvalue = "10"')
    with pytest.raises(StrategyError, match="off XYZ's increment"):
        parse_strategy(text, instruments)  # 10 shares in 3 orders: 3.33 whole shares


PYTHON = """
[strategy]
name = "coded"
symbols = ["IBM"]
python = "builtins:print"
"""


def test_a_file_naming_code_is_refused_unless_its_reader_allows_it(instruments) -> None:
    with pytest.raises(StrategyError, match="cannot name code"):
        parse_strategy(PYTHON, instruments)  # the server's reading: no code named at all
    assert parse_strategy(PYTHON, instruments, python=True).python == "builtins:print"  # the backtest command line's
    for name in ("os.system", "os:system(1)", ":X", "a..b:C", "a:b:c"):
        with pytest.raises(StrategyError, match="must be module:Class"):
            parse_strategy(PYTHON.replace("builtins:print", name), instruments, python=True)


@pytest.mark.parametrize(
    "text,column,message",
    [
        ("__import__(os).system(1) == 0", 1, "unknown indicator '__import__'"),
        ("close > 'x'", 9, "unexpected character"),
        ("close > sma(20) and", 20, "expected a number"),
        ("rsi(14)", 1, "a condition must compare"),
        ("not close", 1, "'not' takes a condition"),
        ("(close > 1) + 1 > 2", 13, "'+' takes numbers"),
        ("macd().signl > 0", 8, "has outputs macd, signal, hist"),
        ("sma() > 1", 1, "sma() needs its n"),
        ("sma(20, 3) > 1", 1, "takes at most 1 parameter"),
        ("sma(-2) > 1", 5, "whole number from 1"),
        ("close.x > 1", 6, "unexpected '.'"),
        ("rsi > 3", 1, "called with parentheses"),
        ("crosses_above(close) ", 1, "takes 2 argument(s)"),
    ],
)
def test_bad_expressions_name_the_column(text: str, column: int, message: str) -> None:
    with pytest.raises(ExpressionError) as refused:
        compile_condition(text, Frame(), Registry())
    assert refused.value.column == column, str(refused.value)
    assert message in str(refused.value)


def test_precedence_and_arithmetic() -> None:
    frame = Frame()
    frame.close, frame.open = 10.0, 4.0
    registry = Registry()
    assert compile_condition("close - open * 2 == 2", frame, registry).evaluate()
    assert compile_condition("(close - open) / 3 == 2 and not close < open", frame, registry).evaluate()
    assert compile_condition("close > 1 or close / 0 > 1", frame, registry).evaluate()
    assert not compile_condition("close / 0 > 1 or close / 0 <= 1", frame, registry).evaluate()  # NaN compares false
    assert compile_condition("-close < min(open, 3) and max(open, 3) == abs(-4)", frame, registry).evaluate()
    assert compile_condition("close + 1 + 2 - open == 9 and close * 2 * 3 / 4 / 5 == 3", frame, registry).evaluate()  # chains of one level


def test_one_indicator_per_name_and_every_series_updated_despite_short_circuits() -> None:
    frame, registry = Frame(), Registry()
    entry = compile_condition("false and crosses_above(sma(2), sma(3))", frame, registry)
    again = compile_condition("sma(2) > 0", frame, registry)
    assert again.series[0] is entry.series[0]
    series = registry.series()
    assert len(series) == 3  # sma(2), sma(3), the cross
    values = [5.0, 4.0, 3.0, 2.0, 6.0]  # sma(2) crosses above sma(3) on the last bar
    crossed = []
    for x in values:
        frame.close = x
        for s in series:
            s.update(x, x, x, x, 0.0, 0)
        crossed.append(series[2].value)
        assert not entry.evaluate()  # 'false and' never evaluates the cross ...
    assert crossed[-1] == 1.0 and crossed[:-1] == [0.0] * 4  # ... yet it saw every bar


@pytest.mark.parametrize(
    "text,message",
    [
        ("(" * (MAX_DEPTH + 1) + "close > 0" + ")" * (MAX_DEPTH + 1), f"nested more than {MAX_DEPTH} deep"),
        ("(" * 200 + "close > 0" + ")" * 200, f"nested more than {MAX_DEPTH} deep"),
        ("not " * (MAX_DEPTH + 1) + "close > 0", f"nested more than {MAX_DEPTH} deep"),
        ("- " * (MAX_DEPTH + 1) + "close > 0", f"nested more than {MAX_DEPTH} deep"),
        ("abs(" * (MAX_DEPTH + 1) + "close" + ")" * (MAX_DEPTH + 1) + " > 0", f"nested more than {MAX_DEPTH} deep"),
        (" + ".join(["close"] * (MAX_TERMS + 1)) + " > 0", f"more than {MAX_TERMS} terms"),
        (" + ".join(["close"] * 1_200) + " > 0", f"more than {MAX_TOKENS} tokens"),
    ],
)
def test_a_condition_too_deep_or_too_long_is_refused_while_parsed(text: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message) as refused:
        compile_condition(text, Frame(), Registry())
    assert len(str(refused.value)) < 400  # the condition quoted, cut short


def _with_frames_left(frames: int, call: Callable[[], Any]) -> Any:
    """``call()`` with only about ``frames`` frames of Python's stack left."""

    def down(n: int) -> Any:
        return call() if n <= 0 else down(n - 1)

    return down(sys.getrecursionlimit() - len(inspect.stack(0)) - frames)


def test_the_longest_and_deepest_conditions_accepted_evaluate_in_a_few_frames() -> None:
    frame = Frame()
    frame.close, frame.open = 2.0, 1.0
    terms = MAX_TERMS - 1
    chain = compile_condition(" + ".join(["close"] * terms) + f" == {2 * terms}", frame, Registry())
    product = compile_condition(" * ".join(["close"] * 60) + " / " + " / ".join(["close"] * 59) + " == 2", frame, Registry())
    either = compile_condition(" or ".join(["close < open"] * 90) + " or close > open", frame, Registry())
    deep = compile_condition("(" * MAX_DEPTH + "close - open" + ")" * MAX_DEPTH + " == 1", frame, Registry())
    for condition in (chain, product, either, deep):
        assert _with_frames_left(100, condition.evaluate) is True  # a frame per term would overflow here


def test_toml_nested_too_deeply_is_a_finding_not_a_recursion_error(instruments) -> None:
    for text in ("x = " + "[" * 5_000 + "]" * 5_000, GOOD + "[fills.x]\ny = " + "{a = " * 5_000 + "1" + "}" * 5_000):
        with pytest.raises(StrategyError, match="nested too deeply to read"):
            parse_strategy(text, instruments)


def _smas(first: int, count: int) -> str:
    return " or ".join(f"sma({n}) > 0" for n in range(first, first + count))


def test_a_strategy_has_at_most_max_indicators_over_its_entry_and_exit(instruments) -> None:
    """Distinct indicators and each crosses_* are counted over the entry and the exit
    together (one registry per symbol, as the core builds it); one named twice is one."""
    half = MAX_INDICATORS // 2
    text = GOOD.replace(GOOD[GOOD.index("[entry]\nwhen = ") : GOOD.index("order = ")], f'[entry]\nwhen = "{_smas(1, half)}"\n')
    exit_ = GOOD[GOOD.index("[exit]\nwhen = ") : GOOD.index("stop_loss_pct")]
    assert parse_strategy(text.replace(exit_, f'[exit]\nwhen = "{_smas(1 + half, half)} or {_smas(1, half)}"\n'), instruments)
    with pytest.raises(StrategyError, match=f"exit.when: column [0-9]+: more than {MAX_INDICATORS} indicators"):
        parse_strategy(text.replace(exit_, f'[exit]\nwhen = "{_smas(1 + half, half - 1)} or crosses_above(close, open) or sma(999) > 0"\n'), instruments)
    with pytest.raises(ExpressionError, match=f"more than {MAX_INDICATORS} indicators"):
        compile_condition(_smas(1, MAX_INDICATORS + 1), Frame(), Registry())
