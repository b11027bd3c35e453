"""The strategy actor's pure core: every strategy of the server, each a ``StrategyCore``
(``model/strategy/engine.py``) in one of three modes, fed the server's quotes.

Inputs (each journaled by the shell before it is applied, ``actors/runtime/host.py``):

* the operator's commands (``model/messages/strategies.py``): create (in backtest mode,
  stopped), start and stop, promote (backtest → paper → live, the live account named),
  subscribe and redeem (investors of a live strategy);
* the InstrumentActors' marks (``MarketUpdate``): one ``BarBuilder`` makes minute bars of
  the symbols some strategy watches from their consolidated mid, exactly as the bars files
  are recorded, and each closed minute steps every running strategy of its symbol;
* the account shards' ``ExecutionReport`` of the live orders (their client order ids start
  with ``strategy:``).

Modes. *Backtest*: created and checked, fed nothing here (``server/backtest.py`` runs it
over a file). *Paper*: a ``backtest.Session`` — the core and the simulated venue, the same
code as a backtest — fed the bars. *Live*: a fresh ``StrategyCore`` whose indicators are
warmed with every bar the strategy saw on paper (no decision is taken while warming), its
orders sent as ``NewOrder`` of the live account to the account shard that owns it (every
pre-trade check applies), its fills those the shard reports. Its model book starts empty:
the live account subscribes the strategy's capital at the promotion, investors subscribe
and redeem beside it, and each fill is allocated to them (``investors.py``).

Guarantees:

* Deterministic: the same inputs give the same state, sends and ``state_hash``. A live
  order's client order id is ``strategy:NAME-N``, N the core's order counter, so a replay
  after a crash sends the same ids in the same batches — and the shard, which keeps one
  order per client order id, would answer a repeat without a second order.
* A live order rejected by risk is not placed again by the core: the rule strategy waits
  for its entry condition to turn false, and ``[strategies] max_rejections`` in a row stop
  it (``engine.py``).
* Snapshots are the inputs each strategy took (its events) and the open minute of each
  symbol: ``restore`` replays the events into fresh sessions, muted (what they sent is in
  the snapshot's outbox), and reaches the same state.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import msgspec

from actors.runtime.outputs import ACCOUNT, Dispatcher, Outputs
from actors.strategy.investors import InvestorError, InvestorPool
from model import fixed
from model.enums import ExecType, OrderStatus, OrderType, Side, TimeInForce
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
from model.messages.strategies import STRATEGY_ORDER_PREFIX
from model.orders import OrderSpec
from model.risk.history import NS_PER_MINUTE, BarBuilder
from model.risk.history import _Open as OpenBar
from model.strategy.backtest import Session
from model.strategy.engine import DEFAULT_MAX_REJECTIONS, Fill, Order, StrategyCore
from model.strategy.spec import StrategyError, StrategySpec, parse_strategy

BACKTEST, PAPER, LIVE = "backtest", "paper", "live"
NEXT_MODE = {BACKTEST: PAPER, PAPER: LIVE}
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")

# An event of a strategy, as kept in its log and its snapshot (lists of plain values):
#   ["bar", symbol, start, open, high, low, close, volume]   a closed minute it stepped
#   ["run", 0|1]                                              stopped / started
#   ["promote", mode, account]                                 to paper, or to live
#   ["fill", order_id, qty, price, ts, done]                   a live fill (done: the order ended)
#   ["reject", order_id, reason]                               a live order refused
#   ["end", order_id]                                          a live order canceled or expired
#   ["subscribe", account, amount] / ["redeem", account]       investors of a live strategy
Event = list[Any]


class StrategyRecord(msgspec.Struct, array_like=True):
    """One strategy in a snapshot: its file's text and every event it took, in order."""

    name: str
    text: str
    events: list[Event]


class StrategySnapshot(msgspec.Struct):
    kind: ClassVar[str] = "strategy"

    instruments: list[Instrument]
    max_rejections: int
    timezone: str
    strategies: list[StrategyRecord]
    minutes: list[tuple[str, int, int, int, int, int, int]]  # each symbol's open minute: symbol, start, o, h, l, c, v


class LiveOrder(msgspec.Struct):
    """A live order at the account shard: the strategy's order, its client order id, the
    minutes a limit order still works before the strategy cancels it."""

    order: Order
    client_order_id: str
    left: int
    filled: int = 0
    cancel_sent: bool = False


class Hosted:
    """One strategy: its spec, mode, session and event log."""

    def __init__(self, name: str, text: str, spec: StrategySpec, instruments: Mapping[str, Instrument], max_rejections: int) -> None:
        self.name = name
        self.text = text
        self.spec = spec
        self.instruments = instruments
        self.max_rejections = max_rejections
        self.mode = BACKTEST
        self.running = False
        self.account: str | None = None
        self.events: list[Event] = []
        self.bars: list[Event] = []  # the bars it stepped, to warm a live core's indicators
        self.session: Session | None = None  # paper
        self.core: StrategyCore | None = None  # the session's, or the live one
        self.pool: InvestorPool | None = None  # live
        self.allocations = 0  # fills allocated to investors
        self.live: dict[int, LiveOrder] = {}  # order id → the live order working at the shard

    def status(self) -> dict[str, Any]:
        core = self.core
        view: dict[str, Any] = {"name": self.name, "mode": self.mode, "running": self.running, "account": self.account, "symbols": list(self.spec.symbols)}
        if core is not None:
            view.update(
                cash=fixed.format_cash(core.book.cash),
                positions={symbol: fixed.format(qty) for symbol, qty in core.book.positions.items() if qty},
                orders=len(core.orders),
                fills=len(core.fills),
                working=[f"{order.side} {fixed.format(order.qty)} {order.symbol}" for order in core.working.values()],
                stopped=core.stopped,
                bars=len(self.bars),
            )
        if self.pool is not None:
            view["investors"] = {account: fixed.format_cash(cash) for account, cash in zip(self.pool.accounts, self.pool.cash, strict=True)}
            view["pending"] = [[kind, account, fixed.format_cash(cash)] for kind, account, cash in self.pool.pending]
            view["allocations"] = self.allocations
        return view


def client_order_id(name: str, order_id: int) -> str:
    return f"{STRATEGY_ORDER_PREFIX}{name}-{order_id}"


class StrategyState(Dispatcher):
    """The strategy actor's core (module docstring)."""

    snapshot_type: ClassVar[Any] = StrategySnapshot

    def __init__(self, instruments: list[Instrument], max_rejections: int = DEFAULT_MAX_REJECTIONS, timezone: str = "UTC") -> None:
        self.name = "strategy"
        self.out = Outputs()
        self.instruments = {instrument.symbol: instrument for instrument in instruments}
        self.max_rejections = max_rejections
        self.timezone = timezone
        self.strategies: dict[str, Hosted] = {}
        self.builder = BarBuilder(timezone)
        self.watching: dict[str, list[Hosted]] = {}  # symbol → the running paper and live strategies of it
        self.orders: dict[str, tuple[Hosted, int]] = {}  # live client order id → (strategy, order id)
        self.refused: list[str] = []  # commands refused (the shell checks them first: none expected)
        self.anomalies: list[str] = []
        self.orders_sent = 0  # live orders sent (a replay counts them again): the crash point ``strategy.before_send``

    # --- the operator's commands ---------------------------------------------------------------

    def check_create(self, command: CreateStrategy) -> StrategySpec:
        """The spec of a strategy ``command`` may create, or ``StrategyError`` / ``ValueError``."""
        if not NAME.fullmatch(command.name):
            raise ValueError(f"a strategy's name is 1 to 40 letters, digits, '_', '-' or '.', starting with a letter or digit: {command.name!r}")
        if command.name in self.strategies:
            raise ValueError(f"strategy {command.name} exists already")
        return parse_strategy(command.text, self.instruments, command.name)

    def _create(self, command: CreateStrategy, now: int) -> None:
        try:
            spec = self.check_create(command)
        except (StrategyError, ValueError) as refused:
            self.refused.append(str(refused))
            return
        self.strategies[command.name] = Hosted(command.name, command.text, spec, self.instruments, self.max_rejections)

    def check_run(self, command: RunStrategy) -> Hosted:
        hosted = self.get(command.name)
        if command.running and hosted.mode == BACKTEST:
            raise ValueError(f"strategy {hosted.name} is in backtest mode: promote it to paper to run it here")
        return hosted

    def _run(self, command: RunStrategy, now: int) -> None:
        try:
            hosted = self.check_run(command)
        except ValueError as refused:
            self.refused.append(str(refused))
            return
        if hosted.running != command.running:
            self._event(hosted, ["run", int(command.running)])

    def check_promote(self, command: PromoteStrategy) -> tuple[Hosted, str]:
        hosted = self.get(command.name)
        mode = NEXT_MODE.get(hosted.mode)
        if mode is None:
            raise ValueError(f"strategy {hosted.name} is live already")
        if mode == LIVE and not command.account:
            raise ValueError(f"strategy {hosted.name} goes live trading an account: name it")
        if mode == PAPER and command.account:
            raise ValueError(f"strategy {hosted.name} goes to paper first, with no account")
        return hosted, mode

    def _promote(self, command: PromoteStrategy, now: int) -> None:
        try:
            hosted, mode = self.check_promote(command)
        except ValueError as refused:
            self.refused.append(str(refused))
            return
        self._event(hosted, ["promote", mode, command.account])

    def check_investor(self, name: str, account: str, amount: int | None) -> Hosted:
        hosted = self.get(name)
        if hosted.mode != LIVE or hosted.pool is None:
            raise ValueError(f"strategy {name} is not live: investors subscribe to a live strategy")
        if amount is not None:
            if amount <= 0 or amount % fixed.CENT:
                raise ValueError(f"a subscription is a positive amount in whole cents, not {fixed.format(amount)}")
        else:
            pool = hosted.pool
            if account not in pool.accounts and not any(kind == "subscribe" and who == account for kind, who, _ in pool.pending):
                raise ValueError(f"{account} holds nothing in strategy {name}")
        return hosted

    def _subscribe(self, command: SubscribeStrategy, now: int) -> None:
        try:
            hosted = self.check_investor(command.name, command.account, command.amount)
        except ValueError as refused:
            self.refused.append(str(refused))
            return
        self._event(hosted, ["subscribe", command.account, command.amount])

    def _redeem(self, command: RedeemStrategy, now: int) -> None:
        try:
            hosted = self.check_investor(command.name, command.account, None)
        except ValueError as refused:
            self.refused.append(str(refused))
            return
        self._event(hosted, ["redeem", command.account])

    def get(self, name: str) -> Hosted:
        hosted = self.strategies.get(name)
        if hosted is None:
            raise ValueError(f"unknown strategy {name}")
        return hosted

    # --- quotes and reports --------------------------------------------------------------------

    def _mark(self, mark: MarketUpdate, now: int) -> None:
        """A symbol's consolidated quote: its mid into the minute bars; each closed minute
        steps the running strategies of the symbol."""
        watchers = self.watching.get(mark.symbol)
        if not watchers:
            return
        for bar in self.builder.quote(mark.symbol, mark.bid, mark.ask, mark.ts):
            if bar.start < NS_PER_MINUTE:
                continue  # a daily bar (its start is a day's ordinal): strategies take minutes
            event: Event = ["bar", bar.symbol, bar.start, bar.open, bar.high, bar.low, bar.close, bar.volume]
            for hosted in list(watchers):
                self._event(hosted, event)

    def _report(self, report: ExecutionReport, now: int) -> None:
        """A live order's report: its fills booked (and allocated), its end told to the core."""
        found = self.orders.get(report.client_order_id)
        if found is None:
            return  # not one of ours (another account's id with the prefix)
        hosted, order_id = found
        if report.account != hosted.account:
            return
        live = hosted.live.get(order_id)
        if live is None:
            return  # ended already
        exec_type = report.exec_type
        if exec_type is ExecType.TRADE and report.last_qty > 0 and report.last_price is not None:
            done = report.leaves_qty == 0 or report.status in _ENDED
            self._event(hosted, ["fill", order_id, report.last_qty, report.last_price, report.ts, int(done)])
        elif exec_type is ExecType.REJECTED:
            self._event(hosted, ["reject", order_id, report.reason or "rejected"])
        elif exec_type in (ExecType.CANCELED, ExecType.EXPIRED) or report.status in _ENDED:
            self._event(hosted, ["end", order_id])

    # --- events: the one place a strategy changes ------------------------------------------------

    def _event(self, hosted: Hosted, event: Event) -> None:
        """Log ``event`` and apply it (``restore`` applies the log again, muted)."""
        hosted.events.append(event)
        self._apply_event(hosted, event)

    def _apply_event(self, hosted: Hosted, event: Event) -> None:
        kind = event[0]
        if kind == "bar":
            self._bar(hosted, event)
        elif kind == "run":
            hosted.running = bool(event[1])
            self._watch(hosted)
            if not hosted.running:
                self._cancel_live(hosted)
        elif kind == "promote":
            self._to_mode(hosted, event[1], event[2])
        elif kind == "fill":
            self._fill(hosted, event)
        elif kind == "reject":
            live = hosted.live.pop(event[1], None)
            if live is not None and hosted.core is not None:
                self.orders.pop(live.client_order_id, None)
                hosted.core.reject(live.order.id, live.order.symbol, event[2])
        elif kind == "end":
            live = hosted.live.pop(event[1], None)
            if live is not None and hosted.core is not None:
                self.orders.pop(live.client_order_id, None)
                hosted.core.expire(live.order.id, live.order.symbol)
        elif kind == "subscribe":
            assert hosted.pool is not None
            hosted.pool.subscribe(event[1], event[2])
            self._settle(hosted)
        elif kind == "redeem":
            assert hosted.pool is not None
            hosted.pool.redeem(event[1])
            self._settle(hosted)
        else:
            raise ValueError(f"unknown strategy event {kind!r}")

    def _watch(self, hosted: Hosted) -> None:
        """``watching`` after ``hosted`` started, stopped or changed mode."""
        for symbol in hosted.spec.symbols:
            watchers = self.watching.setdefault(symbol, [])
            if hosted in watchers:
                watchers.remove(hosted)
            if hosted.running and hosted.mode != BACKTEST:
                watchers.append(hosted)
            if not watchers:
                del self.watching[symbol]

    def _to_mode(self, hosted: Hosted, mode: str, account: str | None) -> None:
        if mode == PAPER:
            hosted.session = Session(hosted.spec, self.instruments, max_rejections=hosted.max_rejections)
            hosted.core = hosted.session.core
        elif mode == LIVE:
            assert account is not None
            hosted.session = None
            core = StrategyCore(hosted.spec, self.instruments, max_rejections=hosted.max_rejections)
            core.stopped = "warming"  # the indicators take the bars seen on paper; nothing is decided
            for bar in hosted.bars:
                core.before_minute(bar[1], bar[2])
                core.minute(*bar[1:])
            core.stopped = ""
            core.placed.clear()
            core.book.cash = 0  # the model book is the investors' (the live account's capital first)
            pool = hosted.pool = InvestorPool({symbol: self.instruments[symbol].qty_increment for symbol in hosted.spec.symbols})
            core.after_fill = lambda fill: self._allocate(hosted, fill)
            hosted.core = core
            hosted.account = account
            pool.subscribe(account, hosted.spec.capital)
            self._settle(hosted)
        hosted.mode = mode
        self._watch(hosted)

    def _settle(self, hosted: Hosted) -> None:
        if hosted.pool is not None and hosted.core is not None and hosted.pool.pending:
            hosted.pool.settle(hosted.core.book, bool(hosted.core.working))

    def _allocate(self, hosted: Hosted, fill: Fill) -> None:
        assert hosted.pool is not None
        try:
            hosted.pool.allocate(fill)
            hosted.allocations += 1
        except InvestorError as failure:
            self.anomalies.append(f"{hosted.name}: {failure}")

    def _bar(self, hosted: Hosted, event: Event) -> None:
        _, symbol, start, o, h, l, c, v = event  # noqa: E741
        hosted.bars.append(event)
        if hosted.mode == PAPER:
            assert hosted.session is not None
            hosted.session.step(symbol, start, o, h, l, c, v)
            return
        core = hosted.core
        assert core is not None
        self._settle(hosted)
        if hosted.spec.bar_minutes > 1:
            core.before_minute(symbol, start)
            self._send_placed(hosted, core)
        for live in hosted.live.values():  # a limit order unfilled after its minutes: canceled
            if live.order.symbol == symbol and live.order.limit and not live.cancel_sent:
                live.left -= 1
                if live.left <= 0:
                    self._cancel(hosted, live)
        core.minute(symbol, start, o, h, l, c, v)
        self._send_placed(hosted, core)

    def _send_placed(self, hosted: Hosted, core: StrategyCore) -> None:
        account = hosted.account
        assert account is not None
        for order in core.take_placed():
            cid = client_order_id(hosted.name, order.id)
            hosted.live[order.id] = LiveOrder(order, cid, order.bars)
            self.orders[cid] = (hosted, order.id)
            side = Side.BUY if order.side == "buy" else Side.SELL
            if order.limit:
                spec = OrderSpec(order.symbol, side, OrderType.LIMIT, TimeInForce.DAY, qty=order.qty, price=order.limit)
            else:
                spec = OrderSpec(order.symbol, side, OrderType.MARKET, TimeInForce.DAY, qty=order.qty)
            self.out.to(ACCOUNT, account, NewOrder(account, cid, spec))
            self.orders_sent += 1

    def _cancel(self, hosted: Hosted, live: LiveOrder) -> None:
        assert hosted.account is not None
        live.cancel_sent = True
        self.out.to(ACCOUNT, hosted.account, CancelOrder(hosted.account, live.client_order_id))

    def _cancel_live(self, hosted: Hosted) -> None:
        """A live strategy stopped: its working orders are canceled (their end comes back)."""
        for live in hosted.live.values():
            if not live.cancel_sent:
                self._cancel(hosted, live)

    def _fill(self, hosted: Hosted, event: Event) -> None:
        _, order_id, qty, price, ts, done = event
        live = hosted.live.get(order_id)
        core = hosted.core
        if live is None or core is None:
            return
        order = live.order
        live.filled += qty
        core.fill(Fill(order.id, order.symbol, order.side, qty, price, 0, ts), done=bool(done))
        if done:
            del hosted.live[order_id]
            self.orders.pop(live.client_order_id, None)

    # --- the runtime's protocol ----------------------------------------------------------------

    def status(self) -> list[dict[str, Any]]:
        return [hosted.status() for hosted in self.strategies.values()]

    def snapshot(self) -> StrategySnapshot:
        minutes = [(symbol, bar.start, bar.open, bar.high, bar.low, bar.close, bar.volume) for symbol, bar in sorted(self.builder.minutes.items())]
        records = [StrategyRecord(h.name, h.text, list(h.events)) for h in self.strategies.values()]
        return StrategySnapshot(list(self.instruments.values()), self.max_rejections, self.timezone, records, minutes)

    @classmethod
    def restore(cls, state: StrategySnapshot) -> StrategyState:
        core = cls(state.instruments, state.max_rejections, state.timezone)
        core.load(state)
        return core

    def load(self, state: StrategySnapshot) -> None:
        """This empty core with ``state``'s strategies and open minutes: each strategy's events
        applied again, what they send dropped (the snapshot's outbox holds it)."""
        for record in state.strategies:
            spec = parse_strategy(record.text, self.instruments, record.name)
            hosted = self.strategies[record.name] = Hosted(record.name, record.text, spec, self.instruments, self.max_rejections)
            for event in record.events:
                hosted.events.append(event)
                self._apply_event(hosted, event)
        for symbol, start, o, h, l, c, v in state.minutes:  # noqa: E741
            self.builder.minutes[symbol] = OpenBar(start, o, h, l, c, v)
        self.out = Outputs()

    def state_hash(self) -> str:
        digest = hashlib.sha256(msgspec.msgpack.encode(self.snapshot()))
        for hosted in self.strategies.values():
            digest.update(hosted.core.state_hash().encode() if hosted.core is not None else b"-")
        return digest.hexdigest()

    def check_invariants(self) -> None:
        for hosted in self.strategies.values():
            core = hosted.core
            if core is None:
                continue
            if any(qty < 0 for qty in core.book.positions.values()):
                raise AssertionError(f"strategy {hosted.name}: a negative position")
            for order_id, live in hosted.live.items():
                if self.orders.get(live.client_order_id) != (hosted, order_id):
                    raise AssertionError(f"strategy {hosted.name}: live order {live.client_order_id} not indexed")
            if hosted.pool is not None:
                problems = hosted.pool.check(core.book)
                if problems:
                    raise AssertionError(f"strategy {hosted.name}: {'; '.join(problems)}")
        for cid, (hosted, order_id) in self.orders.items():
            if hosted.live.get(order_id) is None:
                raise AssertionError(f"live order {cid} indexed but not working")

    _handlers: ClassVar[dict[type, Callable[..., None]]] = {
        CreateStrategy: _create,
        RunStrategy: _run,
        PromoteStrategy: _promote,
        SubscribeStrategy: _subscribe,
        RedeemStrategy: _redeem,
        MarketUpdate: _mark,
        ExecutionReport: _report,
    }


_ENDED = frozenset({OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED})
