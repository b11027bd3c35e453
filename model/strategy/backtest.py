"""The simulated venue of backtest and paper modes, and the backtest: a history file's minute
bars through the strategy core (``engine.py``).

Fill model (stated; the same in backtest and paper, so the two give the same orders):

* An order placed at a bar's end works from the next minute bar of its symbol on.
* Market: fills whole at that minute's open, moved against the strategy by
  ``slippage_bps`` and rounded to the tick the same way (a buy up, a sell down).
* Limit: fills whole at the open when the open is at or better than the limit, else at the
  limit when the minute trades through or touches it (low ≤ a buy's limit, high ≥ a sell's);
  no slippage. Unfilled after ``order.bars`` minutes, it expires.
* Fee per fill: ``fee_per_unit × qty + fee_bps × value``, rounded up to the cent, at least
  ``fee_min``; a value is quantity × price × the instrument's multiplier, here and in the
  equity curve.
* A buy whose cost and fee exceed the book's cash when it would fill is rejected
  (``insufficient_buying_power``) rather than filled: the book never goes below zero.

Guarantees: nothing a fill uses comes from a bar before the order's (no lookahead); every
order ends once — filled, expired or rejected.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from model import fixed
from model.instruments import Instrument
from model.risk.history import NS_PER_MINUTE, Bar, BarBuilder, BarColumns
from model.strategy.engine import BPS, DEFAULT_MAX_REJECTIONS, Book, Fill, Order, Strategy, StrategyCore, fee, round_to_tick
from model.strategy.spec import Fills, StrategySpec


class SimVenue:
    """Working orders filled against minute bars (module docstring)."""

    def __init__(self, fills: Fills, instruments: Mapping[str, Instrument], cash: Callable[[], int]) -> None:
        self.model = fills
        self.instruments = instruments
        self.cash = cash
        self.working: dict[str, tuple[Order, int]] = {}  # symbol → (order, minutes left)

    def place(self, order: Order) -> None:
        self.working[order.symbol] = (order, order.bars)

    def minute(self, core: StrategyCore, symbol: str, start: int, o: int, h: int, l: int) -> None:  # noqa: E741
        """Fill, reject or age the symbol's working order against this minute; tell ``core``."""
        working = self.working.get(symbol)
        if working is None:
            return
        order, left = working
        price = self._price(order, o, h, l)
        if price is None:
            if left <= 1:
                del self.working[symbol]
                core.expire(order.id, symbol)
            else:
                self.working[symbol] = (order, left - 1)
            return
        del self.working[symbol]
        model = self.model
        multiplier = self.instruments[symbol].multiplier
        charge = fee(model.fee_per_unit, model.fee_bps, model.fee_min, order.qty, price, multiplier)
        if order.side == "buy":
            if fixed.buy_cost(order.qty, price, multiplier) + charge > self.cash():
                core.reject(order.id, symbol, "insufficient_buying_power")
                return
        core.fill(Fill(order.id, symbol, order.side, order.qty, price, charge, start))

    def _price(self, order: Order, o: int, h: int, l: int) -> int | None:  # noqa: E741
        buy = order.side == "buy"
        if not order.limit:
            slip = self.model.slippage_bps
            if not slip:
                return o
            tick = self.instruments[order.symbol].tick_size
            return round_to_tick(o * (BPS + slip) // BPS, tick, up=True) if buy else round_to_tick(o * (BPS - slip) // BPS, tick, up=False)
        limit = order.limit
        if buy:
            return o if o <= limit else (limit if l <= limit else None)
        return o if o >= limit else (limit if h >= limit else None)


@dataclass
class BacktestResult:
    """What a run produced: every order and fill, the trades, the equity after each minute."""

    spec: StrategySpec
    orders: list[Order]
    fills: list[Fill]
    trades: list
    times: np.ndarray  # int64 ns, the end of each minute
    equity: np.ndarray  # int64, 10^-9 units
    exposed: int  # minutes with a position
    final_cash: int
    positions: dict[str, int]
    stopped: str
    bars: int
    recorded: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # symbol → series → values per minute
    closes: dict[str, np.ndarray] = field(default_factory=dict)
    starts: dict[str, np.ndarray] = field(default_factory=dict)


class Pool(Protocol):
    """Investors sharing the model book (``actors/strategy/investors.py``)."""

    pending: list[Any]

    def settle(self, book: Book, working: bool) -> bool: ...

    def allocate(self, fill: Fill, multiplier: int) -> Any: ...


class Session:
    """A strategy core and its simulated venue, stepped one closed minute bar at a time: the one
    code path of backtest (bars from a file) and paper (bars built from live quotes). With a
    ``pool`` of investors the book starts without cash: the investors' subscriptions are its
    cash, and each fill is allocated to them as it is booked."""

    def __init__(
        self, spec: StrategySpec, instruments: Mapping[str, Instrument], strategy: Strategy | None = None, pool: Pool | None = None, max_rejections: int = DEFAULT_MAX_REJECTIONS
    ) -> None:
        self.core = StrategyCore(spec, instruments, strategy, max_rejections)
        self.venue = SimVenue(spec.fills, self.core.instruments, lambda: self.core.book.cash)
        self.fills = self.core.fills
        self.allocations: list[Any] = []
        self.several = spec.bar_minutes > 1
        self.pool = pool
        if pool is not None:
            self.core.book.cash = 0
            multipliers = self.core.book.multipliers
            self.core.after_fill = lambda fill: self.allocations.append(pool.allocate(fill, multipliers[fill.symbol]))

    def step(self, symbol: str, start: int, o: int, h: int, l: int, c: int, v: int) -> None:  # noqa: E741
        core, venue = self.core, self.venue
        if self.pool is not None and self.pool.pending:
            self.pool.settle(core.book, bool(core.working))
        if self.several:
            core.before_minute(symbol, start)
            for order in core.take_placed():
                venue.place(order)
        if symbol in venue.working:
            venue.minute(core, symbol, start, o, h, l)
        core.minute(symbol, start, o, h, l, c, v)
        if core.placed:
            for order in core.take_placed():
                venue.place(order)


class PaperSession(Session):
    """Paper mode's pure part: quotes in (the server's consolidated quotes), minute bars built by
    ``model.risk.history.BarBuilder`` exactly as they are recorded to a bars file, each closed
    minute stepped as in a backtest."""

    def __init__(self, spec: StrategySpec, instruments: Mapping[str, Instrument], strategy: Strategy | None = None, timezone: str = "UTC") -> None:
        super().__init__(spec, instruments, strategy)
        self.builder = BarBuilder(timezone)
        self.symbols = frozenset(spec.symbols)

    def quote(self, symbol: str, bid: int | None, ask: int | None, now: int) -> list[Bar]:
        if symbol not in self.symbols:
            return []
        # the builder closes daily bars too (their start is a day's ordinal, far below a minute in ns): minutes only
        closed = [bar for bar in self.builder.quote(symbol, bid, ask, now) if bar.start >= NS_PER_MINUTE]
        for bar in closed:
            self.step(bar.symbol, bar.start, bar.open, bar.high, bar.low, bar.close, bar.volume)
        return closed


def run_backtest(
    spec: StrategySpec,
    instruments: Mapping[str, Instrument],
    bars: BarColumns,
    strategy: Strategy | None = None,
    record: bool = False,
    max_rejections: int = DEFAULT_MAX_REJECTIONS,
) -> BacktestResult:
    """``bars`` (a checked history: ``model.risk.history.load_bars``) through ``spec``.
    ``record`` keeps each indicator's value per minute for the picture (slower)."""
    missing = [symbol for symbol in spec.symbols if symbol not in bars.symbols]
    if missing:
        raise ValueError(f"the history has no bars for {', '.join(missing)}")
    session = Session(spec, instruments, strategy, max_rejections=max_rejections)
    core, step = session.core, session.step
    wanted = np.isin(np.asarray(bars.symbols, dtype=object)[bars.symbol], list(spec.symbols))
    names = [bars.symbols[i] for i in bars.symbol[wanted].tolist()]
    columns = [column[wanted].tolist() for column in (bars.start, bars.open, bars.high, bars.low, bars.close, bars.volume)]
    n = len(names)
    equity: list[int] = []
    mark = equity.append
    positions, book = core.book.positions, core.book
    exposed = 0
    single = len(spec.symbols) == 1
    multiplier = core.instruments[spec.symbols[0]].multiplier  # the single symbol's
    recorded: dict[str, dict[str, list[float]]] = {symbol: {} for symbol in spec.symbols}
    for symbol, start, o, h, l, c, v in zip(names, *columns, strict=True):  # noqa: E741
        step(symbol, start, o, h, l, c, v)
        held = positions.get(symbol, 0)
        if single:
            if held:
                mark(book.cash + held * c * multiplier // fixed.SCALE)
                exposed += 1
            else:
                mark(book.cash)
        else:
            mark(book.equity())
            if any(positions.values()):
                exposed += 1
        if record:
            _record(recorded[symbol], core, symbol)
    times = np.asarray(columns[0], dtype=np.int64) + NS_PER_MINUTE
    result = BacktestResult(
        spec, core.orders, session.fills, core.book.trades, times, np.asarray(equity, dtype=np.int64), exposed, core.book.cash, dict(core.book.positions), core.stopped, n, recorded
    )
    if record:
        for symbol in spec.symbols:
            index = bars.symbol == bars.symbols.index(symbol)
            result.closes[symbol] = bars.close[index]
            result.starts[symbol] = bars.start[index]
    if not single:  # one equity point per minute: the last row of each minute holds it
        last = np.r_[times[1:] != times[:-1], True]
        result.times, result.equity = times[last], result.equity[last]
    return result


def _record(store: dict[str, list[float]], core: StrategyCore, symbol: str) -> None:
    for (name, args), indicator in core.symbols[symbol].registry.indicators.items():
        for output in indicator.outputs:
            key = f"{name}({', '.join(f'{a:g}' for a in args)})" + ("" if output == "value" else f".{output}")
            store.setdefault(key, []).append(indicator.output(output) if indicator.ready else float("nan"))
