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
warmed with every bar the strategy saw on paper (no decision is taken while warming). Its
model book belongs to its investors (``children.py``): the live account named at the
promotion is the first, with the strategy's capital; others subscribe and redeem. Each
order the strategy places (the parent) is split pro rata to the investors' shares into one
child order per investor, a ``NewOrder`` of the investor's account to the shard that owns
it (every pre-trade check applies to each investor), booked there like any fill; the model
book's fill is the sum of its children's.

Guarantees:

* Deterministic: the same inputs give the same state, sends and ``state_hash``. A child's
  client order id is ``strategy:NAME-N-K`` (N the core's order counter, K the investor's
  number, both journaled state), a redemption's sale ``strategy:NAME-rK-S``, so a replay
  after a crash sends the same ids in the same batches — and the shard, which keeps one
  order per client order id, would answer a repeat without a second order.
* Exact: after every input, for every symbol Σ investors' positions = the model book's,
  and Σ investors' cash (committed + what their children booked) = the model book's cash
  (``check_invariants``); each investor's figures are what its account booked for its
  children, to the increment and the cent.
* A child refused by its investor's risk is recorded and never sent again: that investor
  takes no part in this order, and the parent ends when every child has ended. A parent
  with no fill whose children were all refused is a rejection of the strategy's order:
  the rule strategy waits for its entry condition to turn false, and ``[strategies]
  max_rejections`` in a row stop it (``engine.py``).
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
from actors.strategy.children import CANCELED, FILLED, REJECTED, WORKING, Child, Investor, Parent, child_id, redemption_id, split
from model import fixed
from model.enums import ExecType, OrderStatus
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
from model.risk.history import NS_PER_MINUTE, BarBuilder
from model.risk.history import _Open as OpenBar
from model.strategy.backtest import Session
from model.strategy.engine import DEFAULT_MAX_REJECTIONS, Fill, StrategyCore
from model.strategy.spec import StrategyError, StrategySpec, parse_strategy

BACKTEST, PAPER, LIVE = "backtest", "paper", "live"
NEXT_MODE = {BACKTEST: PAPER, PAPER: LIVE}
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")

# An event of a strategy, as kept in its log and its snapshot (lists of plain values):
#   ["bar", symbol, start, open, high, low, close, volume]   a closed minute it stepped
#   ["run", 0|1]                                              stopped / started
#   ["promote", mode, account]                                 to paper, or to live
#   ["fill", client_order_id, qty, price, ts, done]            a child's fill (done: the child ended)
#   ["reject", client_order_id, reason]                        a child refused by its account
#   ["end", client_order_id]                                   a child canceled or expired
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


class Hosted:
    """One strategy: its spec, mode, session and event log; live, its investors and orders."""

    def __init__(self, name: str, text: str, spec: StrategySpec, instruments: Mapping[str, Instrument], max_rejections: int) -> None:
        self.name = name
        self.text = text
        self.spec = spec
        self.instruments = instruments
        self.max_rejections = max_rejections
        self.mode = BACKTEST
        self.running = False
        self.account: str | None = None  # the live account named at the promotion: the first investor
        self.events: list[Event] = []
        self.session: Session | None = None  # paper
        self.core: StrategyCore | None = None  # the session's, or the live one
        self.investors: dict[str, Investor] = {}  # live: account → investor, in number order (a working child's: its account's)
        self.next_investor = 1  # K of the next new investor
        self.leaving: list[str] = []  # the accounts of redeeming investors whose sales wait for their working children
        self.parents: dict[int, Parent] = {}  # order id → a live order whose children still work
        self.redemptions: dict[int, list[Child]] = {}  # investor number → its redemption's sales
        self.children = 0  # children sent
        self.refused = 0  # children refused by their investor's account (its risk)
        self.last_refused: list[list[str]] = []  # the latest few: [client order id, reason]

    @property
    def bars(self) -> list[Event]:
        """The bars it stepped (its events of kind ``bar``), to warm a live core's indicators."""
        return [event for event in self.events if event[0] == "bar"]

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
        if self.mode == LIVE:
            view["investors"] = [investor.view() for investor in self.investors.values()]
            view["children"] = self.children
            view["working_children"] = [child.view() for parent in self.parents.values() for child in parent.children if child.state == WORKING]
            view["redeeming"] = [child.view() for sales in self.redemptions.values() for child in sales]
            view["refused"] = self.refused
            view["last_refused"] = self.last_refused
        return view


REFUSED_SHOWN = 20  # the children refused most recently, in ``list``


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
        self.orders: dict[str, tuple[Hosted, Child]] = {}  # a working child's client order id → (strategy, child)
        self.refused: list[str] = []  # commands refused (the shell checks them first: none expected)
        self.anomalies: list[str] = []
        self.orders_sent = 0  # children sent (a replay counts them again): the crash point ``strategy.before_send``

    # --- the operator's commands ---------------------------------------------------------------

    def check_create(self, command: CreateStrategy) -> StrategySpec:
        """The spec of a strategy ``command`` may create, or ``StrategyError`` / ``ValueError``.

        Guarantees: the file names no code (``parse_strategy`` refuses ``strategy.python``
        here), and its core is built once now as every promotion builds it, so what could
        fail at a promotion fails here, before the file reaches the journal."""
        if not NAME.fullmatch(command.name):
            raise ValueError(f"a strategy's name is 1 to 40 letters, digits, '_', '-' or '.', starting with a letter or digit: {command.name!r}")
        if command.name in self.strategies:
            raise ValueError(f"strategy {command.name} exists already")
        spec = parse_strategy(command.text, self.instruments, command.name)
        StrategyCore(spec, self.instruments, max_rejections=self.max_rejections)
        return spec

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

    def check_promote(self, command: PromoteStrategy, account_cash: int | None = None) -> tuple[Hosted, str]:
        """The strategy and its next mode, or ``ValueError``. Live, the account named is the
        first investor with the strategy's capital: with ``account_cash`` (its cash now), the
        capital must be within it."""
        hosted = self.get(command.name)
        mode = NEXT_MODE.get(hosted.mode)
        if mode is None:
            raise ValueError(f"strategy {hosted.name} is live already")
        if mode == LIVE and not command.account:
            raise ValueError(f"strategy {hosted.name} goes live trading an account: name it")
        if mode == PAPER and command.account:
            raise ValueError(f"strategy {hosted.name} goes to paper first, with no account")
        if mode == LIVE and account_cash is not None and hosted.spec.capital > account_cash:
            raise ValueError(f"{command.account} has {fixed.format_cash(account_cash)} in cash: not enough for strategy {hosted.name}'s capital of {fixed.format_cash(hosted.spec.capital)}")
        return hosted, mode

    def _promote(self, command: PromoteStrategy, now: int) -> None:
        try:
            hosted, mode = self.check_promote(command)
        except ValueError as refused:
            self.refused.append(str(refused))
            return
        self._event(hosted, ["promote", mode, command.account])

    def check_investor(self, name: str, account: str, amount: int | None, account_cash: int | None = None) -> Hosted:
        """The live strategy an investor's command is for, or ``ValueError``. A subscription
        (``amount``) is whole cents and, with ``account_cash`` (the account's cash now, which
        the shell reads from its shard), within it once added to what the investor has in the
        strategy still unspent; a redemption names an investor who is not leaving already."""
        hosted = self.get(name)
        if hosted.mode != LIVE:
            raise ValueError(f"strategy {name} is not live: investors subscribe to a live strategy")
        investor = hosted.investors.get(account)
        if amount is not None:
            if amount <= 0 or amount % fixed.CENT:
                raise ValueError(f"a subscription is a positive amount in whole cents, not {fixed.format(amount)}")
            if investor is not None and investor.redeeming:
                raise ValueError(f"{account} is redeeming its share of strategy {name}: subscribe again once it has left")
            unspent = max(investor.cash, 0) if investor is not None else 0
            if account_cash is not None and amount + unspent > account_cash:
                raise ValueError(
                    f"{account} has {fixed.format_cash(account_cash)} in cash: not enough for {fixed.format_cash(amount)} more"
                    + (f" beside the {fixed.format_cash(unspent)} it has in strategy {name} unspent" if unspent else "")
                )
        elif investor is None:
            raise ValueError(f"{account} holds nothing in strategy {name}")
        elif investor.redeeming:
            raise ValueError(f"{account} is redeeming its share of strategy {name} already")
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
        """A child's report, from its investor's shard: a fill, a refusal or an end.

        Guarantees: a report is taken as a child's only when it is of the child's account
        and has the child's terms (``Child.spec``); a report of another order under its id
        (the prefix is refused from clients at every entry; an order placed with it before
        that, a replace) is ignored, an anomaly when the account is the child's, and never
        booked into the model book."""
        found = self.orders.get(report.client_order_id)
        if found is None:
            return  # not one of ours (another account's id with the prefix), or ended already
        child = found[1]
        if report.account != child.account:
            return
        if report.spec != child.spec():
            self.anomalies.append(f"a report of {report.order_id} under child {child.client_order_id}'s id without its terms: ignored")
            return
        hosted = found[0]
        exec_type = report.exec_type
        if exec_type is ExecType.TRADE and report.last_qty > 0 and report.last_price is not None:
            done = report.leaves_qty == 0 or report.status in _ENDED
            self._event(hosted, ["fill", child.client_order_id, report.last_qty, report.last_price, report.ts, int(done)])
        elif exec_type is ExecType.REJECTED:
            self._event(hosted, ["reject", child.client_order_id, report.reason or "rejected"])
        elif exec_type in (ExecType.CANCELED, ExecType.EXPIRED) or report.status in _ENDED:
            self._event(hosted, ["end", child.client_order_id])

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
        elif kind in ("reject", "end"):
            found = self.orders.get(event[1])
            if found is not None:
                child = found[1]
                if kind == "reject":
                    child.state, child.reason = REJECTED, event[2]
                    hosted.refused += 1
                    hosted.last_refused = [*hosted.last_refused[1 - REFUSED_SHOWN :], [child.client_order_id, event[2]]]
                else:
                    child.state = CANCELED
                self._ended(hosted, child)
        elif kind == "subscribe":
            self._add_investor(hosted, event[1], event[2])
        elif kind == "redeem":
            investor = hosted.investors[event[1]]
            investor.redeeming = True
            hosted.leaving.append(investor.account)
            self._redemptions(hosted)
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
            hosted.core = core
            hosted.account = account
            self._add_investor(hosted, account, hosted.spec.capital)
        hosted.mode = mode
        self._watch(hosted)

    # --- investors -----------------------------------------------------------------------------

    def _add_investor(self, hosted: Hosted, account: str, amount: int) -> None:
        """A subscription: the amount committed (it stays in the account) and the model
        book's cash grown by it; a new investor takes part from the next order on."""
        assert hosted.core is not None
        investor = hosted.investors.get(account)
        if investor is None:
            investor = hosted.investors[account] = Investor(hosted.next_investor, account)
            hosted.next_investor += 1
        investor.committed += amount
        hosted.core.book.deposit(amount)

    def _redemptions(self, hosted: Hosted) -> None:
        """Each redeeming investor with no child of a parent working: its sales sent, one
        market order per symbol it holds (``strategy:NAME-rK-S``); one who holds nothing (or
        whose sales all ended) leaves."""
        for account in list(hosted.leaving):
            investor = hosted.investors[account]
            if any(child.investor == investor.number and child.state == WORKING for parent in hosted.parents.values() for child in parent.children):
                continue  # its part of a working order ends first
            hosted.leaving.remove(account)
            sales = []
            for index, symbol in enumerate(hosted.spec.symbols):
                held = investor.positions.get(symbol, 0)
                if held > 0:
                    sales.append(Child(redemption_id(hosted.name, investor.number, index), 0, investor.number, investor.account, symbol, "sell", held))
            if not sales:
                self._leave(hosted, investor)
                continue
            hosted.redemptions[investor.number] = sales
            for child in sales:
                self._send_child(hosted, child)

    def _leave(self, hosted: Hosted, investor: Investor) -> None:
        """A redeemed investor leaves: its cash (and whatever its sales did not sell) leaves
        the model book; both are in its account already."""
        assert hosted.core is not None
        del hosted.investors[investor.account]
        hosted.redemptions.pop(investor.number, None)
        hosted.core.book.withdraw(investor.cash, investor.positions)

    # --- bars and orders -----------------------------------------------------------------------

    def _bar(self, hosted: Hosted, event: Event) -> None:
        _, symbol, start, o, h, l, c, v = event  # noqa: E741
        if hosted.mode == PAPER:
            assert hosted.session is not None
            hosted.session.step(symbol, start, o, h, l, c, v)
            return
        core = hosted.core
        assert core is not None
        if hosted.spec.bar_minutes > 1:
            core.before_minute(symbol, start)
            self._send_placed(hosted, core)
        for parent in list(hosted.parents.values()):  # a limit order unfilled after its minutes: canceled
            if parent.order.symbol == symbol and parent.order.limit:
                parent.left -= 1
                if parent.left <= 0:
                    self._cancel(parent)
        core.minute(symbol, start, o, h, l, c, v)
        self._send_placed(hosted, core)

    def _send_placed(self, hosted: Hosted, core: StrategyCore) -> None:
        """Each order the strategy placed, split into its children (``children.split``) and
        sent; one no investor can take part in is the strategy's rejection at once."""
        for order in core.take_placed():
            taking = [investor for investor in hosted.investors.values() if not investor.redeeming]
            qtys = split(order, taking, self.instruments[order.symbol], core.book.marks, self.instruments, self._spending(hosted))
            price = order.limit or core.book.marks.get(order.symbol, 0)
            children = [
                Child(child_id(hosted.name, order.id, investor.number), order.id, investor.number, investor.account, order.symbol, order.side, qty, price, order.limit)
                for investor, qty in zip(taking, qtys, strict=True)
                if qty > 0
            ]
            if not children:
                core.reject(order.id, order.symbol, "no investor can take part")
                continue
            hosted.parents[order.id] = Parent(order, children, order.bars)
            for child in children:
                self._send_child(hosted, child)

    def _spending(self, hosted: Hosted) -> dict[int, int]:
        """Per investor number, the most its working buys may still spend (at their price)."""
        spending: dict[int, int] = {}
        for parent in hosted.parents.values():
            for child in parent.children:
                if child.state == WORKING and child.side == "buy":
                    value = (child.qty - child.filled) * child.price * self.instruments[child.symbol].multiplier
                    spending[child.investor] = spending.get(child.investor, 0) + fixed.ceil_cent(value)
        return spending

    def _send_child(self, hosted: Hosted, child: Child) -> None:
        self.orders[child.client_order_id] = (hosted, child)
        self.out.to(ACCOUNT, child.account, NewOrder(child.account, child.client_order_id, child.spec()))
        hosted.children += 1
        self.orders_sent += 1

    def _cancel(self, parent: Parent) -> None:
        for child in parent.children:
            if child.state == WORKING and not child.cancel_sent:
                child.cancel_sent = True
                self.out.to(ACCOUNT, child.account, CancelOrder(child.account, child.client_order_id))

    def _cancel_live(self, hosted: Hosted) -> None:
        """A live strategy stopped: its working orders' children are canceled (their ends come
        back); a redemption's sales go on."""
        for parent in hosted.parents.values():
            self._cancel(parent)

    # --- children's reports --------------------------------------------------------------------

    def _fill(self, hosted: Hosted, event: Event) -> None:
        """A child's fill: booked for its investor as its account books it, and into the model
        book (a part of the parent's fill, or a redemption's sale)."""
        _, cid, qty, price, ts, done = event
        found = self.orders.get(cid)
        core = hosted.core
        if found is None or core is None:
            return
        child = found[1]
        investor = hosted.investors[child.account]
        multiplier = self.instruments[child.symbol].multiplier
        cash = child.book(qty, price, multiplier)
        held = investor.positions.get(child.symbol, 0)
        if child.side == "buy":
            investor.positions[child.symbol] = held + qty
            investor.booked -= cash
        else:
            investor.positions[child.symbol] = held - qty
            investor.booked += cash
        fill = Fill(child.parent, child.symbol, child.side, qty, price, 0, ts)
        if child.parent:
            parent = hosted.parents[child.parent]
            parent.last = fill
            core.fill(fill, done=False, cash=cash)
        else:
            core.book.book(fill, multiplier, cash)
        if done or child.filled >= child.qty:
            child.state = FILLED
            self._ended(hosted, child)

    def _ended(self, hosted: Hosted, child: Child) -> None:
        """A child ended: its parent ends once every child has, a redemption once every sale
        has; a redemption waiting for this investor's children may start."""
        self.orders.pop(child.client_order_id, None)
        if child.parent:
            parent = hosted.parents[child.parent]
            parent.working -= 1
            if not parent.working:
                del hosted.parents[child.parent]
                self._end_parent(hosted, parent)
        else:
            sales = hosted.redemptions[child.investor]
            if all(sale.state != WORKING for sale in sales):
                self._leave(hosted, hosted.investors[child.account])
        if hosted.leaving:
            self._redemptions(hosted)

    def _end_parent(self, hosted: Hosted, parent: Parent) -> None:
        """Every child ended: the strategy's order ends filled (a fill and no child canceled:
        the refused investors took no part), expired (canceled, a part filled or none), or
        rejected (every child refused)."""
        core = hosted.core
        assert core is not None
        order, states = parent.order, {child.state for child in parent.children}
        if parent.last is not None and CANCELED not in states:
            core.filled(parent.last)
        elif states == {REJECTED}:
            core.reject(order.id, order.symbol, parent.children[0].reason)
        else:
            core.expire(order.id, order.symbol)

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
        applied again, what they send dropped (the snapshot's outbox holds it).

        Guarantees: a strategy a version before this one accepted and this one refuses (a file
        naming a Python class, more indicators or deeper conditions than this version reads)
        is not loaded — said among the anomalies, nothing of it run — as a replay of its
        creation refuses it (``_create``): the actor starts, and restores what it replays."""
        for record in state.strategies:
            try:
                spec = parse_strategy(record.text, self.instruments, record.name)
            except StrategyError as refused:
                self.anomalies.append(f"strategy {record.name} is not loaded: this version refuses its file ({refused}); its events are not applied")
                continue
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
            if hosted.mode == LIVE:  # its investors, working children and refusals
                digest.update(msgspec.msgpack.encode(hosted.status()))
        return digest.hexdigest()

    def check_invariants(self) -> None:
        for hosted in self.strategies.values():
            core = hosted.core
            if core is None:
                continue
            if any(qty < 0 for qty in core.book.positions.values()):
                raise AssertionError(f"strategy {hosted.name}: a negative position")
            if hosted.mode == LIVE:
                self._check_live(hosted, core)
        for cid, (_, child) in self.orders.items():
            if child.state != WORKING or child.client_order_id != cid:
                raise AssertionError(f"child {cid} indexed but not working")

    def _check_live(self, hosted: Hosted, core: StrategyCore) -> None:
        """Σ investors = the model book, to the increment and the cent; every working child indexed."""
        name = hosted.name
        cash = sum(investor.cash for investor in hosted.investors.values())
        if cash != core.book.cash:
            raise AssertionError(f"strategy {name}: investors' cash {fixed.format(cash)} != the model book's {fixed.format(core.book.cash)}")
        for symbol in hosted.spec.symbols:
            held = [investor.positions.get(symbol, 0) for investor in hosted.investors.values()]
            if sum(held) != core.book.positions.get(symbol, 0) or any(qty < 0 for qty in held):
                raise AssertionError(f"strategy {name}: investors' {symbol} {[fixed.format(q) for q in held]} != the model book's {fixed.format(core.book.positions.get(symbol, 0))}")
        for order_id, parent in hosted.parents.items():
            if core.working.get(parent.order.symbol) is not parent.order or order_id != parent.order.id:
                raise AssertionError(f"strategy {name}: order {order_id} has children but does not work")
            if parent.working != sum(child.state == WORKING for child in parent.children):
                raise AssertionError(f"strategy {name}: order {order_id}'s count of working children is off")
        children = [child for parent in hosted.parents.values() for child in parent.children] + [sale for sales in hosted.redemptions.values() for sale in sales]
        for child in children:
            indexed = self.orders.get(child.client_order_id)
            if child.filled > child.qty or (child.state == WORKING and (indexed is None or indexed[1] is not child)):
                raise AssertionError(f"strategy {name}: child {child.client_order_id} overfilled or not indexed")
            investor = hosted.investors.get(child.account)
            if child.state == WORKING and (investor is None or investor.number != child.investor):
                raise AssertionError(f"strategy {name}: working child {child.client_order_id} is not its account's investor's")

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
