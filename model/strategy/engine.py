"""The strategy core: bars in, orders out; fills in, the model book kept. Pure and the same in
every mode — a backtest (``backtest.py``) feeds it bars from a history file, paper and live
feed it the bars the server's quotes build — so a strategy cannot tell the modes apart.

One minute bar at a time (``minute``): (1) a period of the strategy's bar size that a later
minute ends is closed and decided on; (2) the caller's venue fills working orders against
the minute (``fill`` / ``reject`` / ``expire`` back here); (3) the minute joins its period,
which is decided on at once when it is the period's last minute. *Decided on* means: the
symbol's indicators take the bar, then the strategy's ``on_bar`` runs and may place
orders, each stamped with the bar's end. An order is thus decided from bars that ended
before it and filled no earlier than the next minute: no lookahead, by construction.

The model book is exact: cash in 10^-9 units kept in whole cents (a buy costs
``fixed.buy_cost`` plus its fee, a sale pays ``fixed.sell_proceeds`` minus its fee),
quantities in the instrument's increments, long only (a sale never exceeds the position).

Guarantees: the same inputs give the same orders, fills, book and ``state_hash``; an order is
placed once, with an id drawn from a counter in the state (a replay draws the same ids); a
rejected order is not placed again by the core — the rule strategy waits for its entry
condition to turn false before it tries again, and ``max_rejections`` in a row stop the
strategy (``stopped``).
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec

from model import fixed
from model.instruments import Instrument
from model.risk.history import NS_PER_MINUTE
from model.strategy import indicators as ind
from model.strategy.expr import Compiled, Frame, Registry, compile_condition
from model.strategy.spec import StrategyError, StrategySpec

SCALE = fixed.SCALE
HUNDRED = 100 * SCALE
BPS = 10_000
DEFAULT_MAX_REJECTIONS = 3
NS_PER_DAY = 1440 * NS_PER_MINUTE  # a session, for VWAP: the UTC day


class Order(msgspec.Struct, frozen=True, gc=False):
    """An order the strategy placed. ``limit`` 0 = market. ``time`` = the end of the bar it was
    decided on (ns); ``bars`` = how many minutes a limit order may work before it expires."""

    id: int
    symbol: str
    side: str  # "buy" | "sell"
    qty: int
    limit: int
    time: int
    reason: str
    bars: int = 1


class Fill(msgspec.Struct, frozen=True, gc=False):
    order_id: int
    symbol: str
    side: str
    qty: int
    price: int
    fee: int  # cents, as 10^-9 units
    time: int


class Trade(msgspec.Struct, frozen=True):
    """A round trip: from flat to flat. ``pnl`` is exact cash: proceeds − cost − fees."""

    symbol: str
    opened: int
    closed: int
    qty: int  # the most held
    entry_price: int  # average, rounded to 10^-9
    exit_price: int
    pnl: int
    fees: int


@dataclass
class Book:
    """The strategy's model book: cash and a long position per symbol, exact. ``multipliers``:
    each symbol's contract multiplier (an option's 100), in every value it computes."""

    cash: int
    multipliers: dict[str, int] = field(default_factory=dict)
    positions: dict[str, int] = field(default_factory=dict)
    cost: dict[str, int] = field(default_factory=dict)  # raw 10^-18 cost of the open position
    marks: dict[str, int] = field(default_factory=dict)  # last close
    open_trades: dict[str, list[int]] = field(default_factory=dict)  # opened, max qty, buys raw, sells raw, fees, cash before
    trades: list[Trade] = field(default_factory=list)
    fees: int = 0

    def equity(self) -> int:
        """Cash + every position at its last close × its multiplier (10^-9 units, truncated)."""
        multipliers, marks = self.multipliers, self.marks
        return self.cash + sum(qty * marks.get(symbol, 0) * multipliers[symbol] // SCALE for symbol, qty in self.positions.items() if qty)

    def book(self, fill: Fill, multiplier: int, cash: int | None = None) -> None:
        """``fill`` into the book. ``cash``: what it moved when the venue says so (a live
        account books each order's cumulative value to the cent, so one fill may move a cent
        more or less than its own value rounded); else its value rounded, and its fee."""
        symbol, qty, price = fill.symbol, fill.qty, fill.price
        held = self.positions.get(symbol, 0)
        trade = self.open_trades.get(symbol)
        if trade is None:
            trade = self.open_trades[symbol] = [fill.time, 0, 0, 0, 0, self.cash]
        raw = qty * price * multiplier
        if fill.side == "buy":
            self.cash -= fixed.ceil_cent(raw) + fill.fee if cash is None else cash
            self.positions[symbol] = held + qty
            self.cost[symbol] = self.cost.get(symbol, 0) + raw
            trade[1] = max(trade[1], held + qty)
            trade[2] += qty * price
        else:
            self.cash += fixed.floor_cent(raw) - fill.fee if cash is None else cash
            self._take_out(symbol, held, qty)
            trade[3] += qty * price
        trade[4] += fill.fee
        self.fees += fill.fee
        if self.positions[symbol] == 0:
            opened, most, buys, sells, fees, before = trade
            self.trades.append(Trade(symbol, opened, fill.time, most, buys // most if most else 0, sells // most if most else 0, self.cash - before, fees))
            del self.open_trades[symbol]
            self.cost[symbol] = 0


    def deposit(self, amount: int) -> None:
        """Cash put in (an investor's subscription): an open round trip's P&L leaves it out."""
        self.cash += amount
        for trade in self.open_trades.values():
            trade[5] += amount

    def withdraw(self, amount: int, positions: Mapping[str, int]) -> None:
        """Cash and positions taken out (an investor who left): no fill, no P&L; the cost of
        what stays is the position's pro rata; a position left flat ends its round trip
        unrecorded (what remained of it left with the investor)."""
        self.deposit(-amount)
        for symbol, qty in positions.items():
            held = self.positions.get(symbol, 0)
            if qty and held:
                self._take_out(symbol, held, qty)
                if held == qty:
                    self.open_trades.pop(symbol, None)

    def _take_out(self, symbol: str, held: int, qty: int) -> None:
        """``qty`` of the ``held`` position sold or withdrawn: the cost of what stays is the
        position's pro rata (none of nothing)."""
        self.cost[symbol] = self.cost.get(symbol, 0) * (held - qty) // held if held else 0
        self.positions[symbol] = held - qty


class Context:
    """What a strategy sees and does: the book, its indicators, orders. Orders go to ``placed``;
    the core hands them to the mode's venue."""

    def __init__(self, core: StrategyCore) -> None:
        self._core = core

    @property
    def now(self) -> int:
        return self._core.now

    @property
    def book(self) -> Book:
        """The model book (read it; only fills change it)."""
        return self._core.book

    @property
    def cash(self) -> int:
        return self._core.book.cash

    def equity(self) -> int:
        return self._core.book.equity()

    def position(self, symbol: str) -> int:
        return self._core.book.positions.get(symbol, 0)

    def mark(self, symbol: str) -> int:
        """The symbol's last close (fixed-point)."""
        return self._core.book.marks.get(symbol, 0)

    def cost(self, symbol: str) -> int:
        """What the open position cost, raw (10^-18: quantity × average price × multiplier)."""
        return self._core.book.cost.get(symbol, 0)

    @property
    def orders(self) -> Mapping[str, Order]:
        """The working order of each symbol that has one (read only)."""
        return self._core.working

    def working(self, symbol: str) -> Order | None:
        """The order working for ``symbol``, if any (one at a time per symbol)."""
        return self._core.working.get(symbol)

    def indicator(self, symbol: str, text: str) -> ind.Indicator:
        """An indicator of ``symbol`` named as in a condition (``"rsi(14)"``), updated every bar;
        only while starting (``on_start``)."""
        state = self._core.symbols[symbol]
        compiled = compile_condition(f"({text}) == 0", state.frame, state.registry)
        return compiled.series[0]

    def condition(self, symbol: str, text: str) -> Compiled:
        state = self._core.symbols[symbol]
        return compile_condition(text, state.frame, state.registry)

    def buy(self, symbol: str, qty: int, limit: int = 0, reason: str = "", bars: int = 1) -> Order | None:
        return self._core.place(symbol, "buy", qty, limit, reason, bars)

    def sell(self, symbol: str, qty: int, limit: int = 0, reason: str = "", bars: int = 1) -> Order | None:
        return self._core.place(symbol, "sell", min(qty, self.position(symbol)), limit, reason, bars)

    def instrument(self, symbol: str) -> Instrument:
        return self._core.instruments[symbol]


class Strategy(Protocol):
    """The callbacks a strategy has, a file's (``RuleStrategy``) or a Python class's."""

    def on_start(self, ctx: Context) -> None: ...

    def on_bar(self, ctx: Context, symbol: str, bar: Frame) -> None: ...

    def on_fill(self, ctx: Context, fill: Fill) -> None: ...

    def on_reject(self, ctx: Context, order: Order, reason: str) -> None: ...

    def on_expire(self, ctx: Context, order: Order) -> None: ...


class _Symbol:
    """One symbol's state in the core: its period being built, indicators, frame."""

    __slots__ = ("frame", "registry", "series", "period", "o", "h", "l", "c", "v")

    def __init__(self) -> None:
        self.frame = Frame()
        self.registry = Registry()
        self.series: list[ind.Indicator] = []
        self.period = -1
        self.o = self.h = self.l = self.c = self.v = 0


class StrategyCore:
    """The pure core (module docstring)."""

    def __init__(self, spec: StrategySpec, instruments: Mapping[str, Instrument], strategy: Strategy | None = None, max_rejections: int = DEFAULT_MAX_REJECTIONS) -> None:
        self.spec = spec
        self.instruments = {symbol: instruments[symbol] for symbol in spec.symbols}
        self.period_ns = spec.bar_minutes * NS_PER_MINUTE
        self.book = Book(spec.capital, {symbol: instrument.multiplier for symbol, instrument in self.instruments.items()})
        self.symbols = {symbol: _Symbol() for symbol in spec.symbols}
        self.working: dict[str, Order] = {}
        self.orders: list[Order] = []  # every order placed, in order (the journal of decisions)
        self.fills: list[Fill] = []  # every fill booked, in order
        self.after_fill: Callable[[Fill], None] | None = None  # told of each fill once booked (investors)
        self.placed: list[Order] = []  # placed since the caller last took them
        self.next_id = 1
        self.now = 0
        self.rejections = 0
        self.max_rejections = max_rejections
        self.stopped = ""
        self.ctx = Context(self)
        if self.period_ns == NS_PER_MINUTE:  # the bar is the period: each minute decided at once
            self.minute = self._minute  # type: ignore[method-assign]
        self.strategy: Strategy = strategy if strategy is not None else build_strategy(spec)
        self.strategy.on_start(self.ctx)
        for state in self.symbols.values():
            state.series = state.registry.series()

    # -- inputs
    def _minute(self, symbol: str, start: int, o: int, h: int, l: int, c: int, v: int) -> None:  # noqa: E741
        """``minute`` for one-minute bars: the minute is the period, decided at once."""
        self.book.marks[symbol] = c
        self._decide(symbol, self.symbols[symbol], start, o, h, l, c, v)

    def minute(self, symbol: str, start: int, o: int, h: int, l: int, c: int, v: int) -> None:  # noqa: E741
        """A closed minute bar: steps (1) and (3) of the module docstring; the caller's venue
        runs step (2) between ``before_minute`` and this for a bar size above one minute."""
        state = self.symbols[symbol]
        self.book.marks[symbol] = c
        period = start - start % self.period_ns
        if state.period != period:
            if state.period >= 0:
                self._close(symbol, state)
            state.period, state.o, state.h, state.l, state.c, state.v = period, o, h, l, c, v
        else:
            state.h, state.l, state.c, state.v = max(state.h, h), min(state.l, l), c, state.v + v
        if start + NS_PER_MINUTE >= period + self.period_ns:
            self._close(symbol, state)

    def before_minute(self, symbol: str, start: int) -> None:
        """Step (1): a minute of a later period closes the one being built (a period whose last
        minute never came), before the venue fills against the new minute."""
        state = self.symbols[symbol]
        if state.period >= 0 and start - start % self.period_ns != state.period:
            self._close(symbol, state)

    def fill(self, fill: Fill, done: bool = True, cash: int | None = None) -> None:
        """A fill of the working order, booked (``cash``: what it moved, ``Book.book``). The
        simulated venue fills an order whole, once; live, an order may fill in parts: each is
        booked, and the order ends (``on_fill``) with the part that is ``done`` or by
        ``filled``; an order ended after a part without being filled is ``expire``d."""
        order = self.working.get(fill.symbol)
        if order is None or order.id != fill.order_id:
            raise ValueError(f"fill for order {fill.order_id}, which is not working")
        self.now = fill.time
        self.book.book(fill, self.instruments[fill.symbol].multiplier, cash)
        self.fills.append(fill)
        if self.after_fill is not None:
            self.after_fill(fill)
        if done:
            self.filled(fill)

    def filled(self, last: Fill) -> None:
        """The working order ``last`` is a part of ends filled, every part booked already:
        ``on_fill`` with ``last``."""
        order = self.working.get(last.symbol)
        if order is None or order.id != last.order_id:
            raise ValueError(f"order {last.order_id} is not working")
        del self.working[last.symbol]
        self.rejections = 0
        self.strategy.on_fill(self.ctx, last)

    def reject(self, order_id: int, symbol: str, reason: str) -> None:
        order = self.working.pop(symbol, None)
        if order is None or order.id != order_id:
            return  # not ours or already ended: answered once
        self.rejections += 1
        if self.rejections >= self.max_rejections:
            self.stopped = f"{self.rejections} orders rejected in a row (last: {reason})"
        self.strategy.on_reject(self.ctx, order, reason)

    def expire(self, order_id: int, symbol: str) -> None:
        order = self.working.pop(symbol, None)
        if order is not None and order.id == order_id:
            self.strategy.on_expire(self.ctx, order)

    def take_placed(self) -> list[Order]:
        placed, self.placed = self.placed, []
        return placed

    # -- inside
    def _close(self, symbol: str, state: _Symbol) -> None:
        period, state.period = state.period, -1
        self._decide(symbol, state, period, state.o, state.h, state.l, state.c, state.v)

    def _decide(self, symbol: str, state: _Symbol, period: int, o: int, h: int, l: int, c: int, v: int) -> None:  # noqa: E741
        fo, fh, fl, fc, fv = o / SCALE, h / SCALE, l / SCALE, c / SCALE, v / SCALE
        session = period // NS_PER_DAY
        for series in state.series:
            series.update(fo, fh, fl, fc, fv, session)
        frame = state.frame
        frame.open, frame.high, frame.low, frame.close, frame.volume = fo, fh, fl, fc, fv
        frame.position = self.book.positions.get(symbol, 0) / SCALE
        self.now = period + self.period_ns
        if not self.stopped:
            self.strategy.on_bar(self.ctx, symbol, frame)

    def place(self, symbol: str, side: str, qty: int, limit: int, reason: str, bars: int) -> Order | None:
        if self.stopped or qty <= 0 or symbol in self.working:
            return None
        instrument = self.instruments[symbol]
        qty = fixed.floor_to(qty, instrument.qty_increment)
        if qty <= 0 or (limit and limit % instrument.tick_size):
            return None
        order = Order(self.next_id, symbol, side, qty, limit, self.now, reason, bars)
        self.next_id += 1
        self.working[symbol] = order
        self.orders.append(order)
        self.placed.append(order)
        return order

    def state_hash(self) -> str:
        encoded = msgspec.msgpack.encode([self.book.cash, sorted(self.book.positions.items()), self.orders, self.book.trades, self.next_id, self.stopped])
        return hashlib.sha256(encoded).hexdigest()


CALLBACKS = ("on_start", "on_bar", "on_fill", "on_reject", "on_expire")  # ``Strategy``'s


def build_strategy(spec: StrategySpec) -> Strategy:
    """The strategy a spec names: its rules, or its Python class (``module:Class``, which only
    a spec the backtest's command line read may name: ``spec.parse_strategy``)."""
    if not spec.python:
        return RuleStrategy(spec)
    return python_class(spec)(spec)  # type: ignore[no-any-return]


def python_class(spec: StrategySpec, source: str = "strategy") -> Any:
    """The class ``spec.python`` names, imported, or ``StrategyError``: a module that cannot be
    imported (whatever importing it raised), no such class, or one without the callbacks."""
    module, _, name = spec.python.partition(":")
    try:
        cls = getattr(importlib.import_module(module), name)
    except Exception as error:  # importing runs the module's code: anything it raises is the finding
        raise StrategyError(source, [f"strategy.python {spec.python!r} cannot be imported: {type(error).__name__}: {error}"]) from None
    missing = [callback for callback in CALLBACKS if not callable(getattr(cls, callback, None))]
    if not isinstance(cls, type) or missing:
        raise StrategyError(source, [f"strategy.python {spec.python!r} is not a class with {', '.join(missing or CALLBACKS)}"])
    return cls


def round_to_tick(price: int, tick: int, up: bool) -> int:
    """The stated rule for a price derived from a float or a percentage: a buy's price rounds
    down to the tick, a sell's up — never a worse price than the exact one."""
    return fixed.ceil_to(price, tick) if up else max(tick, fixed.floor_to(price, tick))


class _Held:
    """A rule strategy's state of one symbol."""

    __slots__ = ("entry", "exit", "orders_in", "since_entry", "held", "highest", "armed")

    def __init__(self, entry: Compiled, exit_: Compiled | None) -> None:
        self.entry, self.exit = entry, exit_
        self.orders_in = 0  # entry orders filled in the current position
        self.since_entry = 1 << 30  # bars since the last entry order
        self.held = 0  # bars held
        self.highest = 0  # highest close since entry
        self.armed = True  # False after a rejection, until the entry condition is false


class RuleStrategy:
    """A strategy file's rules (``spec.py``) as the callbacks."""

    def __init__(self, spec: StrategySpec) -> None:
        self.spec = spec
        self.state: dict[str, _Held] = {}
        self.book: Book | None = None
        self.working: Mapping[str, Order] = {}

    def on_start(self, ctx: Context) -> None:
        self.book = ctx.book
        self.working = ctx.orders
        for symbol in self.spec.symbols:
            exit_ = ctx.condition(symbol, self.spec.exit_when) if self.spec.exit_when else None
            self.state[symbol] = _Held(ctx.condition(symbol, self.spec.entry_when), exit_)

    @property
    def entry(self) -> dict[str, Compiled]:
        return {symbol: held.entry for symbol, held in self.state.items()}

    def on_bar(self, ctx: Context, symbol: str, bar: Frame) -> None:
        spec, state, book = self.spec, self.state[symbol], self.book
        assert book is not None
        state.since_entry += 1
        position = book.positions.get(symbol, 0)
        close = book.marks[symbol]
        if position:
            state.held += 1
            if close > state.highest:
                state.highest = close
        bar.bars_held = float(state.held)
        if symbol in self.working:
            return
        entry = state.entry
        if not entry.ready():
            return
        if position:
            exit_ = state.exit
            if self._protect(ctx, symbol, state, position, close) or (exit_ is not None and exit_.ready() and exit_.evaluate()):
                self._sell(ctx, symbol, position, close, "exit")
                return
        if not entry.evaluate():
            state.armed = True
            return
        if not state.armed or state.orders_in >= spec.scale_in:
            return
        if position and state.since_entry < spec.scale_in_bars:
            return
        self._buy(ctx, symbol, state, close)

    def _protect(self, ctx: Context, symbol: str, state: _Held, position: int, close: int) -> bool:
        """The stop-loss, profit target and trailing stop, on the bar's close (stated rule)."""
        spec = self.spec
        if not (spec.stop_loss_pct or spec.take_profit_pct or spec.trailing_stop_pct):
            return False
        cost = ctx.cost(symbol)  # raw: qty × average price × multiplier
        value = position * close * ctx.instrument(symbol).multiplier * HUNDRED
        if spec.stop_loss_pct and value <= cost * (HUNDRED - spec.stop_loss_pct):
            return True
        if spec.take_profit_pct and value >= cost * (HUNDRED + spec.take_profit_pct):
            return True
        return bool(spec.trailing_stop_pct and close * HUNDRED <= state.highest * (HUNDRED - spec.trailing_stop_pct))

    def _sell(self, ctx: Context, symbol: str, qty: int, close: int, reason: str) -> None:
        spec = self.spec
        limit = 0
        if spec.exit_order == "limit":
            limit = round_to_tick(close * (BPS + spec.exit_offset_bps) // BPS, ctx.instrument(symbol).tick_size, up=True)
        ctx.sell(symbol, qty, limit, reason, spec.exit_limit_bars)

    def _buy(self, ctx: Context, symbol: str, state: _Held, close: int) -> None:
        spec, instrument = self.spec, ctx.instrument(symbol)
        if spec.entry_order == "limit":
            limit = round_to_tick(close * (BPS - spec.entry_offset_bps) // BPS, instrument.tick_size, up=False)
            price = limit
        else:
            limit = 0
            price = round_to_tick(close * (BPS + spec.fills.slippage_bps) // BPS, instrument.tick_size, up=True)
        if spec.sizing_mode == "quantity":
            total = spec.sizing_value
        else:
            cash = spec.sizing_value if spec.sizing_mode == "notional" else ctx.equity() * spec.sizing_value // HUNDRED
            total = fixed.qty_for_cash(cash, price, instrument.qty_increment, instrument.multiplier)
        qty = fixed.floor_to(total // spec.scale_in, instrument.qty_increment)
        affordable = fixed.qty_for_cash(max(ctx.cash - _fee(spec, qty, price, instrument.multiplier), 0), price, instrument.qty_increment, instrument.multiplier)
        qty = min(qty, affordable)  # never more than the cash buys at the price it expects
        if ctx.buy(symbol, qty, limit, "entry", spec.entry_limit_bars) is not None:
            state.since_entry = 0

    def on_fill(self, ctx: Context, fill: Fill) -> None:
        state = self.state[fill.symbol]
        if fill.side == "buy":
            if state.orders_in == 0:
                state.held, state.highest = 0, fill.price
            state.orders_in += 1
        elif ctx.position(fill.symbol) == 0:
            state.orders_in, state.held, state.highest = 0, 0, 0

    def on_reject(self, ctx: Context, order: Order, reason: str) -> None:
        if order.side == "buy":
            self.state[order.symbol].armed = False  # no new entry until the condition turns false

    def on_expire(self, ctx: Context, order: Order) -> None:
        pass


def _fee(spec: StrategySpec, qty: int, price: int, multiplier: int) -> int:
    return fee(spec.fills.fee_per_unit, spec.fills.fee_bps, spec.fills.fee_min, qty, price, multiplier)


def fee(per_unit: int, bps: int, minimum: int, qty: int, price: int, multiplier: int) -> int:
    """A fill's fee: per unit (a contract is a unit) plus basis points of the value
    (quantity × price × multiplier), rounded up to the cent, at least ``minimum`` (all exact)."""
    raw = qty * per_unit + qty * price * multiplier * bps // BPS
    return max(minimum, fixed.ceil_cent(raw)) if raw or minimum else 0
