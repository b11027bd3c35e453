"""A strategy file (TOML) read and checked whole, before anything starts.

::

    [strategy]
    name = "rsi-dip"
    symbols = ["IBM"]
    bar = "1m"                    # 1m 5m 15m 30m 1h
    capital = "100000.00"         # starting cash of its model book (backtest, paper)
    # python = "package.module:Class"   # instead of [entry]/[exit]: a class with the callbacks
                                        # (the backtest command line only: see ``parse_strategy``)

    [entry]
    when = "rsi(14) < 30 and close > sma(50)"
    order = "market"              # or "limit": close − limit_offset_bps, rounded down to the tick
    limit_offset_bps = 0
    limit_bars = 1                # a limit order not filled within this many bars is cancelled
    scale_in = 1                  # the position is built in up to this many orders ...
    scale_in_bars = 1             # ... at least this many bars apart, each while `when` holds

    [sizing]
    mode = "notional"             # "quantity" (units), "notional" (cash) or "percent_equity"
    value = "10000.00"            # of the whole position; each scale-in order is 1/scale_in of it

    [exit]
    when = "rsi(14) > 70"         # optional
    order = "market"              # or "limit": close + limit_offset_bps, rounded up to the tick
    limit_offset_bps = 0
    stop_loss_pct = "2"           # optional: exit when a bar closes at or below entry × (1 − 2 %)
    take_profit_pct = "4"         # optional: ... at or above entry × (1 + 4 %)
    trailing_stop_pct = "3"       # optional: ... at or below the highest close since entry × (1 − 3 %)

    [fills]                       # the simulated venue of backtest and paper modes
    slippage_bps = 1              # a market buy fills at the next bar's open + 1 bp (rounded up
                                  # to the tick), a sell at open − 1 bp (rounded down)
    fee_per_unit = "0.005"
    fee_bps = 0
    fee_min = "1.00"

Every finding is a ``StrategyError`` (all of them at once, each naming its key): an unknown
key, an unknown symbol, an unknown indicator or a bad expression (with its column), a
percentage out of range, a quantity off the instrument's increment, a sizing rule that could
exceed buying power (quantity × reference price, or the notional, times the symbols, above
the capital; percentages of equity above 100 % together).

Guarantees: a ``StrategySpec`` exists only for a file with no finding; every amount in it
is fixed-point (``model/fixed.py``), never a float; a file names code (``strategy.python``)
only where its reader allows it — the backtest's command line, over the operator's own
file — never in a file the server reads.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import msgspec

from model import fixed
from model.instruments import Instrument
from model.strategy.expr import ExpressionError, Frame, Registry, compile_condition

BAR_SIZES = {"1m": 1, "5m": 5, "15m": 15, "30m": 30, "1h": 60}  # minutes
MAX_BPS = 10_000
PYTHON_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*")  # module:Class


class StrategyError(ValueError):
    """A strategy file that cannot be used: every finding."""

    def __init__(self, source: str, findings: list[str]) -> None:
        self.findings = findings
        super().__init__(f"{source}: strategy not loaded ({len(findings)} problem(s)):\n  " + "\n  ".join(findings))


class _Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    pass


class StrategySection(_Section, frozen=True):
    name: str
    symbols: list[str]
    bar: str = "1m"
    capital: str = "100000.00"
    python: str = ""


class EntrySection(_Section, frozen=True):
    when: str = ""
    order: Literal["market", "limit"] = "market"
    limit_offset_bps: int = 0
    limit_bars: int = 1
    scale_in: int = 1
    scale_in_bars: int = 1


class SizingSection(_Section, frozen=True):
    mode: Literal["quantity", "notional", "percent_equity"] = "notional"
    value: str = "10000.00"


class ExitSection(_Section, frozen=True):
    when: str = ""
    order: Literal["market", "limit"] = "market"
    limit_offset_bps: int = 0
    limit_bars: int = 1
    stop_loss_pct: str = ""
    take_profit_pct: str = ""
    trailing_stop_pct: str = ""


class FillsSection(_Section, frozen=True):
    slippage_bps: int = 0
    fee_per_unit: str = "0"
    fee_bps: int = 0
    fee_min: str = "0"


class StrategyFile(_Section, frozen=True):
    strategy: StrategySection
    entry: EntrySection = EntrySection()
    sizing: SizingSection = SizingSection()
    exit: ExitSection = ExitSection()
    fills: FillsSection = FillsSection()


class Fills(msgspec.Struct, frozen=True):
    """The simulated venue's fill model (backtest and paper), fixed-point."""

    slippage_bps: int = 0
    fee_per_unit: int = 0
    fee_bps: int = 0
    fee_min: int = 0


class StrategySpec(msgspec.Struct, frozen=True):
    """A checked strategy file. Percentages are fixed-point (``"2"`` is ``2 × 10^9``); 0 = none."""

    name: str
    symbols: tuple[str, ...]
    bar_minutes: int
    capital: int
    python: str
    entry_when: str
    entry_order: str
    entry_offset_bps: int
    entry_limit_bars: int
    scale_in: int
    scale_in_bars: int
    sizing_mode: str
    sizing_value: int
    exit_when: str
    exit_order: str
    exit_offset_bps: int
    exit_limit_bars: int
    stop_loss_pct: int
    take_profit_pct: int
    trailing_stop_pct: int
    fills: Fills
    text: str = ""  # the file as given (journaled with the strategy, so a restart needs no file)


def load_strategy(path: str | Path, instruments: Mapping[str, Instrument], python: bool = False) -> StrategySpec:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise StrategyError(str(path), [f"cannot read it: {error}"]) from None
    return parse_strategy(text, instruments, str(path), python)


def parse_strategy(text: str, instruments: Mapping[str, Instrument], source: str = "strategy", python: bool = False) -> StrategySpec:
    """The text of a strategy file checked whole (module docstring).

    ``python``: whether the file may name a Python class (``strategy.python``), which the
    core imports and runs. Only the backtest's command line allows it, for a file of the
    operator's own; a file the server reads (``admin strategy create``) is refused with it:
    a file must not make the server import and call code.

    Guarantees: whatever the text, a ``StrategySpec`` or a ``StrategyError`` — TOML nested
    deeper than its reader recurses is one too."""
    try:
        return _parse(text, instruments, source, python)
    except RecursionError:
        raise StrategyError(source, ["nested too deeply to read"]) from None


def _parse(text: str, instruments: Mapping[str, Instrument], source: str, python: bool) -> StrategySpec:
    try:
        raw = tomllib.loads(text)
        parsed = msgspec.convert(raw, StrategyFile)
    except tomllib.TOMLDecodeError as error:
        raise StrategyError(source, [f"not TOML: {error}"]) from None
    except msgspec.ValidationError as error:
        raise StrategyError(source, [str(error)]) from None
    findings: list[str] = []
    check = _Checker(findings)
    s, entry, sizing, exit_, fills = parsed.strategy, parsed.entry, parsed.sizing, parsed.exit, parsed.fills
    if not s.name.strip():
        findings.append("strategy.name is empty")
    if not s.symbols:
        findings.append("strategy.symbols is empty")
    for symbol in s.symbols:
        if symbol not in instruments:
            findings.append(f"strategy.symbols: unknown symbol {symbol!r}")
    if len(set(s.symbols)) != len(s.symbols):
        findings.append("strategy.symbols names a symbol twice")
    if s.bar not in BAR_SIZES:
        findings.append(f"strategy.bar {s.bar!r} is not one of {', '.join(BAR_SIZES)}")
    capital = check.amount("strategy.capital", s.capital, positive=True)
    if s.python and (entry.when or exit_.when):
        findings.append("strategy.python and entry.when/exit.when exclude each other: a class decides itself")
    if not s.python:
        if not entry.when:
            findings.append("entry.when is missing (or give strategy.python)")
        frame, registry = Frame(), Registry()  # one symbol's, shared by the entry and the exit as in the core
        for key, condition in (("entry.when", entry.when), ("exit.when", exit_.when)):
            if condition:
                try:
                    compile_condition(condition, frame, registry)
                except ExpressionError as error:
                    findings.append(f"{key}: {error}")
    elif not python:
        findings.append("strategy.python: a strategy file the server reads cannot name code; a Python strategy runs in a backtest only (python -m server.backtest)")
    elif not PYTHON_NAME.fullmatch(s.python):
        findings.append(f"strategy.python {s.python[:64]!r} must be module:Class")
    for key, value, low, high in (
        ("entry.limit_offset_bps", entry.limit_offset_bps, 0, MAX_BPS - 1),
        ("exit.limit_offset_bps", exit_.limit_offset_bps, 0, MAX_BPS),
        ("entry.limit_bars", entry.limit_bars, 1, 10_000),
        ("exit.limit_bars", exit_.limit_bars, 1, 10_000),
        ("entry.scale_in", entry.scale_in, 1, 100),
        ("entry.scale_in_bars", entry.scale_in_bars, 1, 10_000),
        ("fills.slippage_bps", fills.slippage_bps, 0, 1_000),
        ("fills.fee_bps", fills.fee_bps, 0, 1_000),
    ):
        if not low <= value <= high:
            findings.append(f"{key} = {value} is not from {low} to {high}")
    stop = check.percent("exit.stop_loss_pct", exit_.stop_loss_pct, below_100=True)
    target = check.percent("exit.take_profit_pct", exit_.take_profit_pct, below_100=False)
    trailing = check.percent("exit.trailing_stop_pct", exit_.trailing_stop_pct, below_100=True)
    size = check.amount("sizing.value", sizing.value, positive=True)
    fee_per_unit = check.amount("fills.fee_per_unit", fills.fee_per_unit)
    fee_min = check.amount("fills.fee_min", fills.fee_min)
    if not findings:
        _check_sizing(findings, s.symbols, instruments, sizing.mode, size, capital, entry.scale_in)
    if findings:
        raise StrategyError(source, findings)
    return StrategySpec(
        name=s.name,
        symbols=tuple(s.symbols),
        bar_minutes=BAR_SIZES[s.bar],
        capital=capital,
        python=s.python,
        entry_when=entry.when,
        entry_order=entry.order,
        entry_offset_bps=entry.limit_offset_bps,
        entry_limit_bars=entry.limit_bars,
        scale_in=entry.scale_in,
        scale_in_bars=entry.scale_in_bars,
        sizing_mode=sizing.mode,
        sizing_value=size,
        exit_when=exit_.when,
        exit_order=exit_.order,
        exit_offset_bps=exit_.limit_offset_bps,
        exit_limit_bars=exit_.limit_bars,
        stop_loss_pct=stop,
        take_profit_pct=target,
        trailing_stop_pct=trailing,
        fills=Fills(fills.slippage_bps, fee_per_unit, fills.fee_bps, fee_min),
        text=text,
    )


class _Checker:
    def __init__(self, findings: list[str]) -> None:
        self.findings = findings

    def amount(self, key: str, text: str, positive: bool = False) -> int:
        """``text`` read as a number from outside (``fixed.parse_bounded``): one whose units
        do not fit a signed 64-bit integer — which no message, journal or ``state_hash``
        could hold — is a finding (``DecimalRangeError``), as is a bad decimal."""
        try:
            value = fixed.parse_bounded(text)
        except fixed.DecimalFormatError as error:  # DecimalRangeError included
            self.findings.append(f"{key}: {error}")
            return 0
        if value < 0 or (positive and value == 0):
            self.findings.append(f"{key} = {text} must be {'above' if positive else 'at least'} 0")
        return value

    def percent(self, key: str, text: str, below_100: bool) -> int:
        if not text:
            return 0
        value = self.amount(key, text, positive=True)
        if below_100 and value >= 100 * fixed.SCALE:
            self.findings.append(f"{key} = {text} must be below 100")
        return value


def _check_sizing(findings: list[str], symbols: list[str], instruments: Mapping[str, Instrument], mode: str, size: int, capital: int, scale_in: int) -> None:
    """A rule that could spend more than the capital when every symbol holds a full position."""
    if mode == "percent_equity":
        if size * len(symbols) > 100 * fixed.SCALE:
            findings.append(f"sizing: {fixed.format(size)} % of equity for each of {len(symbols)} symbol(s) exceeds 100 % of buying power")
        return
    if mode == "notional":
        if size * len(symbols) > capital:
            findings.append(f"sizing: {fixed.format_cash(size)} for each of {len(symbols)} symbol(s) exceeds the capital {fixed.format_cash(capital)}")
        return
    total = 0
    for symbol in symbols:
        instrument = instruments[symbol]
        if size % instrument.qty_increment or (size // scale_in) % instrument.qty_increment:
            findings.append(f"sizing.value {fixed.format(size)} (or its 1/{scale_in} per order) is off {symbol}'s increment {fixed.format(instrument.qty_increment)}")
        total += fixed.buy_cost(size, instrument.reference_price, instrument.multiplier)
    if total > capital:
        findings.append(f"sizing: {fixed.format(size)} units of each symbol cost {fixed.format_cash(total)} at the reference prices, above the capital {fixed.format_cash(capital)}")
