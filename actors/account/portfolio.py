"""Portfolio risk in the account shard: each account's limits and trading state, and the
post-order check (``model/risk/limits.py``) an order passes after ``risk.first_failure``'s.

The shard holds, as state (snapshot and hash): the risk model and the configuration's
limits it was journaled (``SetPortfolioModel``), the operator's limits per account and per
group (``SetPortfolioLimits``), each account's trading state (``SetAccountTradingState``,
or ``reducing`` when a check finds its portfolio over a limit) and high-water mark of
equity. Every one of them comes from a journaled input, so replay decides as live did.

The shard also keeps, per account, the **open legs**: the leaves of its open orders summed
per symbol (quantity; a notional order's cash left), updated wherever a hold is taken or
released (``ShardBase._open_leg``): the check reads them, never the orders (its cost grows
with the symbols an account trades, not with its orders). Derived state: rebuilt from the
orders at a restore, checked against them by ``check_invariants``.

**Alerts** (``model/risk/alerts.py``): after each input the accounts it concerns are
reviewed — a mark, the watched accounts that hold or trade its symbol; a fill, its account;
a new model or limits, the accounts they touch — and each alert that starts to hold is
raised once (``RiskAlert`` to the gateways), each that stops is cleared; which are raised
is state (``PortfolioState.alerts``: snapshot and hash), so replay and a restart raise none
twice. A mark (or a fill) that takes an account over a limit it was not over moves it to
``reducing``, as the pre-trade check does. *Watched* accounts (reviewed on marks): those
with a portfolio limit, every account when ``drawdown_alert_pct`` is set, and any account
with a limit or drawdown alert raised (a correlation or volatility alert follows the
holdings: a fill reviews it, a mark cannot change it).

Guarantees: an account with no portfolio limit and state ``active`` costs an order two
dict lookups; an order is checked on the account's positions plus every open order plus
itself, at the marks its record holds; an order that reduces risk is never refused by a
limit (only by ``halted``); alerts are decided from journaled inputs only, in an order that
does not depend on the process (accounts sorted).
"""

from __future__ import annotations

from typing import Any

import msgspec

from actors.account.books import Bookkeeping
from actors.account.limits import tenant_of
from actors.account.records import AccountRecord, OrderRecord
from actors.runtime.outputs import ALL, GATEWAY
from model import fixed
from model.enums import Reason, Side, VenueEventKind
from model.instruments import Instrument
from model.messages import (
    AllocationFills,
    CancelAll,
    CancelOrder,
    GatewayServes,
    LoadOrders,
    MarketUpdate,
    Message,
    NewLotOrder,
    NewOrder,
    OpenMarket,
    OrderUpdate,
    QueryAccount,
    QueryGains,
    QueryLots,
    QueryOrders,
    QueryStatement,
    QueryTransfers,
    ReplaceOrder,
    SetKill,
    SetTradingStatus,
    StrikeNav,
)
from model.messages.risk import PortfolioConfig, RiskAlert, SetAccountTradingState, SetPortfolioLimits, SetPortfolioModel
from model.risk import alerts
from model.risk import limits as checks
from model.risk.alerts import Raised
from model.risk.limits import PortfolioLimits, RiskModel, TradingState

_NO_LIMITS = PortfolioLimits()
_ACTIVE = TradingState.ACTIVE
_BUY = Side.BUY
_TRADE = VenueEventKind.TRADE
_SCALE = fixed.SCALE
# inputs that change no holding but through the orders' holds (which ``_open_leg`` follows),
# and no limit: the others (accounts opened, transfers, journals of shares, limits, a model)
# make the index of watched holders be built again when next used
_KEEPS_HOLDERS = frozenset(
    {
        MarketUpdate, OrderUpdate, AllocationFills, NewOrder, NewLotOrder, LoadOrders, CancelOrder, ReplaceOrder, CancelAll, QueryOrders,
        QueryAccount, QueryLots, QueryGains, QueryStatement, QueryTransfers, SetTradingStatus, SetKill, OpenMarket, StrikeNav, SetAccountTradingState,
        GatewayServes,
    }
)  # fmt: skip


def group_key(tenant: str, group: str) -> str:
    """Where the operator's limits of a group are kept (``PortfolioState.group_limits``): a
    tenant's own group under its tenant and name — two tenants' groups of one name are two
    groups — and every tenant's group of a name (``tenant`` empty: the platform operator's,
    and every one set before groups had a tenant here) under the name alone."""
    return f"{tenant}\x00{group}" if tenant else group


class PortfolioState(msgspec.Struct):
    """The shard's portfolio-risk state, as its snapshot holds it."""

    model: RiskModel | None = None
    config: PortfolioConfig = PortfolioConfig()
    account_limits: dict[str, PortfolioLimits] = msgspec.field(default_factory=dict)  # the operator's
    group_limits: dict[str, PortfolioLimits] = msgspec.field(default_factory=dict)  # the operator's, by ``group_key``
    states: dict[str, str] = msgspec.field(default_factory=dict)  # account → a state other than active
    high_water: dict[str, int] = msgspec.field(default_factory=dict)  # account → its highest equity seen
    alerts: dict[str, dict[str, Raised]] = msgspec.field(default_factory=dict)  # account → its alerts raised, by key


Leg = tuple[int, int, int]  # an open order's leaves: signed quantity, a notional buy's cash left, a notional sell's


class Portfolio(Bookkeeping):
    """The portfolio checks and the inputs that set what they decide with."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.portfolio = PortfolioState()
        # derived state (never in a snapshot or the hash: made again from what is)
        self.legs: dict[str, dict[str, list[int]]] = {}  # account → symbol → Σ of its open orders' ``Leg``
        self.leg_of: dict[str, tuple[str, str, Leg]] = {}  # open order id → (account, symbol, its leg)
        self.holders: dict[str, set[str]] | None = None  # symbol → watched accounts that may hold or trade it (a superset)
        self.alert_inputs: tuple[dict[str, dict[str, float]], dict[str, float]] | None = None  # the model's correlated pairs, volatility jumps
        self.pair_conditions: alerts.PairConditions | None = None  # ... the pairs' conditions, made once per model
        self.to_review: set[str] = set()  # accounts to review after the input (moved to reducing by a check)
        # accounts an allocation filled whose review waits for the end of the turn, or for the
        # turn's next input that is not an allocation (``review_allocated``)
        self.allocated: set[str] = set()
        self.sector_of = {symbol: i.sector_name for symbol, i in self.instruments.items()}  # reference data: its asset class when none
        self.resolved: dict[str, PortfolioLimits] = {}  # account → its limits, resolved (``portfolio_limits``)
        # The accounts with a limit: the only ones whose open legs are kept (only a limit reads
        # them). Made again, with their legs, when a limit or the model changes.
        self.legged: set[str] | None = None
        self.model_index: dict[str, int] | None = None  # the model's symbol → its row

    # --- inputs --------------------------------------------------------------------------------

    def _set_portfolio_model(self, command: SetPortfolioModel, now: int) -> None:
        self.portfolio.model, self.portfolio.config = command.model, command.config
        self.alert_inputs = self.model_index = self.pair_conditions = None
        self._limits_changed()

    def _limits_changed(self) -> None:
        """Limits (or the configuration that defaults them) changed: resolve them again, and
        keep the open legs of the accounts that now have one."""
        self.resolved.clear()
        self.rebuild_legs()

    def _set_portfolio_limits(self, command: SetPortfolioLimits, now: int) -> None:
        if command.account:
            if command.account not in self.accounts:
                return  # another shard's: the supervisor checked the account exists
            table, key = self.portfolio.account_limits, command.account
        else:
            table, key = self.portfolio.group_limits, group_key(command.tenant, command.group)
        if command.clear:
            table.pop(key, None)
        else:
            table[key] = command.limits
        self._limits_changed()

    def _set_account_trading_state(self, command: SetAccountTradingState, now: int) -> None:
        if command.account not in self.accounts:
            self._anomaly(f"trading state for unknown account {command.account}")
            return
        self._put_state(command.account, TradingState(command.state))

    def _put_state(self, account: str, state: TradingState) -> None:
        if state is _ACTIVE:
            self.portfolio.states.pop(account, None)
        else:
            self.portfolio.states[account] = state.value

    # --- what an account decides with ----------------------------------------------------------

    def portfolio_limits(self, account: AccountRecord) -> PortfolioLimits:
        """The operator's limits of the account, over its group's, over the configuration's
        account, group and default limits — each setting from the first that sets it.
        Resolved once per account until the limits or the model change (``resolved``)."""
        chosen = self.resolved.get(account.account)
        if chosen is None:
            chosen = self.resolved[account.account] = self._resolve_limits(account)
        return chosen

    def _resolve_limits(self, account: AccountRecord) -> PortfolioLimits:
        book = self.portfolio
        config = book.config
        if not config.checks:
            return _NO_LIMITS
        chosen = config.default
        group, own = account.group, group_key(tenant_of(account.tenant), account.group)
        for layer in (config.groups.get(group), config.accounts.get(account.account), book.group_limits.get(group), book.group_limits.get(own), book.account_limits.get(account.account)):
            if layer is not None:
                chosen = layer.over(chosen)
        return chosen

    def trading_state(self, account: str) -> TradingState:
        state = self.portfolio.states.get(account)
        return _ACTIVE if state is None else TradingState(state)

    def price_of(self, symbol: str) -> int:
        """The mark the books value a position at (``[books] mark``)."""
        return self.mark(self.instruments[symbol])

    def projected_qty(self, account: AccountRecord) -> dict[str, int]:
        """Positions plus the leaves of every open order (buys added, sells taken off), from
        the account's open legs: O(symbols), whatever its orders. Notional orders' cash left
        is turned into shares at the mark once per symbol and side."""
        qty = {symbol: position.qty for symbol, position in account.positions.items() if position.qty}
        for symbol, (leaves, buy_cash, sell_cash) in self.legs.get(account.account, {}).items():
            if buy_cash or sell_cash:
                instrument = self.instruments.get(symbol)
                price = self.price_of(symbol) if instrument is not None else 0
                if price > 0 and instrument is not None:
                    unit = price * instrument.multiplier
                    leaves += buy_cash * _SCALE // unit - sell_cash * _SCALE // unit
            if leaves:
                qty[symbol] = qty.get(symbol, 0) + leaves
        return qty

    def exposures(self, qty: dict[str, int]) -> dict[str, int]:
        return {s: checks.value_of(q, self.price_of(s), self.instruments[s].multiplier) for s, q in qty.items() if q and s in self.instruments}

    def equity(self, account: AccountRecord) -> int:
        held = {symbol: position.qty for symbol, position in account.positions.items() if position.qty}
        return account.cash + sum(self.exposures(held).values())

    # --- the check -----------------------------------------------------------------------------

    def portfolio_failure(self, account: AccountRecord, order: OrderRecord, instrument: Instrument) -> Reason | None:
        """The portfolio steps of the pre-trade check (``model/risk/limits.py``). An account
        found over a limit before the order moves to ``reducing`` (and stays so until the
        operator sets it ``active``)."""
        name = account.account
        if name not in self.portfolio.states and name not in self._legged():
            return None  # active (``states`` holds only the others), no limit (``_legged``): nearly every order
        state = self.trading_state(name)
        limits = self.portfolio_limits(account)
        if state is TradingState.HALTED:
            return Reason.ACCOUNT_HALTED
        qty = self.projected_qty(account)
        symbol = order.spec.symbol
        before = qty.get(symbol, 0)
        delta = _leaves(order, instrument, self.price_of)
        after = before + (delta if order.spec.side is _BUY else -delta)
        # one mark per symbol, read once for the equity and both portfolios
        prices = {s: self.price_of(s) for s in qty if s in self.instruments}
        if symbol not in prices:
            prices[symbol] = self.price_of(symbol)
        instruments, value_of = self.instruments, checks.value_of
        equity = account.cash + sum(value_of(p.qty, prices[s], instruments[s].multiplier) for s, p in account.positions.items() if p.qty)
        high_water = max(self.portfolio.high_water.get(account.account, 0), equity)
        self.portfolio.high_water[account.account] = high_water
        model = self.portfolio.model
        index = self._model_index() if limits.max_var is not None else None
        sectors = self.sector_of if limits.max_sector is not None else None
        exposures = {s: value_of(q, prices[s], instruments[s].multiplier) for s, q in qty.items() if q and s in prices}
        projected = dict(exposures)
        if after:
            projected[symbol] = value_of(after, prices[symbol], instrument.multiplier)
        else:
            projected.pop(symbol, None)
        if state is _ACTIVE and abs(after) >= abs(before) and not checks.reduces(before, after):
            # The usual order: it adds to its symbol. Then gross, concentration and sector are
            # no lower after it than before, and the drawdown is the same: a portfolio within
            # them after the order was within them before, and only the VaR (a hedge may lower
            # it) needs the portfolio before. The same answers as the steps in order, one
            # pass of the limits fewer.
            reason = checks.breach(projected, equity, high_water, limits, model, sectors, index)
            if reason is None:
                if limits.max_var is None or model is None or model.var(exposures, index) * _SCALE <= limits.max_var:
                    return None
                over_before = True
            else:
                over_before = checks.breach(exposures, equity, high_water, limits, model, sectors, index) is not None
            if not over_before:
                return reason
            self._to_reducing(account.account)
            return Reason.ACCOUNT_REDUCING
        if state is _ACTIVE and checks.breach(exposures, equity, high_water, limits, model, sectors, index) is not None:
            state = TradingState.REDUCING
            self._to_reducing(account.account)
        return checks.check_order(state, before, after, projected, equity, high_water, limits, model, sectors, index)

    def _to_reducing(self, account: str) -> None:
        """Found over a limit as an order is checked: ``reducing``, and its alert once the input is applied."""
        self._put_state(account, TradingState.REDUCING)
        self.to_review.add(account)

    def _model_index(self) -> dict[str, int]:
        index = self.model_index
        if index is None:
            model = self.portfolio.model
            index = self.model_index = {} if model is None else {symbol: i for i, symbol in enumerate(model.symbols)}
        return index


    # --- open legs (the running aggregate the check reads) ------------------------------------

    def _limited(self) -> set[str]:
        return {name for name, record in self.accounts.items() if self.portfolio_limits(record).any()}

    def _legged(self) -> set[str]:
        """The accounts with a limit (whose open legs are kept), made when first needed after
        a change of limits; an account opened since is added as it opens (``account_opened``)."""
        legged = self.legged
        if legged is None:
            legged = self.legged = self._limited()
        return legged

    def account_opened(self, account: AccountRecord) -> None:
        if self.legged is not None and self.portfolio_limits(account).any():
            self.legged.add(account.account)  # (a new account has no order: no leg to rebuild)

    def _open_leg(self, account: AccountRecord, order: OrderRecord) -> None:
        legged = self._legged()
        owner = account.account
        if owner not in legged:
            return  # no limit reads this account's legs: none kept (nearly every account, nearly always)
        new = leg_of(order)
        order_id = order.order_id
        old = self.leg_of.pop(order_id, None)
        if old is None and new is None:
            return
        symbol = order.spec.symbol
        if new is not None:
            self.leg_of[order_id] = (owner, symbol, new)
        if old is not None and new is not None and old[2] == new:
            return
        legs = self.legs.get(owner)
        if legs is None:
            legs = self.legs[owner] = {}
        total = legs.get(symbol)
        if total is None:
            total = legs[symbol] = [0, 0, 0]
            if self.holders is not None:
                self.holders.setdefault(symbol, set()).add(owner)
        if old is not None:
            a, b, c = old[2]
            total[0] -= a
            total[1] -= b
            total[2] -= c
        if new is not None:
            a, b, c = new
            total[0] += a
            total[1] += b
            total[2] += c
        if not (total[0] or total[1] or total[2]):
            del legs[symbol]
            if not legs:
                del self.legs[owner]

    def rebuild_legs(self) -> None:
        """The open legs of the accounts with a limit, from their orders (a restored shard, a
        limit changed)."""
        self.legs, self.leg_of = {}, {}
        self.legged = None
        legged = self._legged()
        if not legged:
            return  # no order to read (a restart of millions of cold orders reads none)
        for _, order in self.orders.items():
            account = self.accounts.get(order.account)
            if account is not None and order.account in legged:
                self._open_leg(account, order)

    def check_legs(self) -> None:
        """The running aggregate equals the sum over the open orders, recomputed."""
        expected: dict[str, dict[str, list[int]]] = {}
        legged = self._limited()
        assert self.legged is None or self.legged == legged, (self.legged, legged)
        for _, order in self.orders.items():
            leg = leg_of(order)
            if leg is None or order.account not in legged:
                continue
            total = expected.setdefault(order.account, {}).setdefault(order.spec.symbol, [0, 0, 0])
            for i in range(3):
                total[i] += leg[i]
        expected = {a: {s: t for s, t in legs.items() if any(t)} for a, legs in expected.items()}
        assert {a: legs for a, legs in expected.items() if legs} == self.legs, (expected, self.legs)

    # --- alerts --------------------------------------------------------------------------------

    def after_input(self, message: Message, now: int) -> None:
        """Review the accounts ``message`` concerns (module docstring)."""
        kind = type(message)
        if kind is MarketUpdate:
            self._review_symbol(message.symbol, now)  # type: ignore[union-attr,arg-type]
        elif kind is OrderUpdate:
            update: OrderUpdate = message  # type: ignore[assignment]
            if update.kind is _TRADE:
                self._review(update.account, now, alerts.ALL_KINDS)
            elif update.account in self.portfolio.alerts:  # an order ended: an alert may clear
                self._review(update.account, now, alerts.MARKED)
        elif kind is AllocationFills:
            fills: AllocationFills = message  # type: ignore[assignment]
            self.allocated.update(self._may_alert(fills.symbol, fills.accounts))
        elif kind not in _KEEPS_HOLDERS:
            self.holders = None
            if kind is SetPortfolioModel:
                for account in list(self.accounts):
                    self._review(account, now, alerts.ALL_KINDS)
            elif kind is SetPortfolioLimits:
                command: SetPortfolioLimits = message  # type: ignore[assignment]
                targets = [command.account] if command.account else [a for a, r in self.accounts.items() if r.group == command.group and (not command.tenant or tenant_of(r.tenant) == command.tenant)]
                for account in targets:
                    self._review(account, now, alerts.MARKED)
        if self.to_review:
            for account in sorted(self.to_review):
                self._review(account, now, alerts.MARKED)
            self.to_review.clear()

    def review_allocated(self, now: int) -> None:
        """Review the accounts the allocations applied since the last call filled, once each,
        in account order. Called at the end of every turn and before any input of the turn
        that is not an allocation, so nothing reads an account between its fills and its
        review that would not also have read it after a review per allocation: at the open a
        turn holds many allocations' chunks, and an account filled in ten symbols is reviewed
        once, not ten times. The same turn replays to the same reviews, at the same ``now``
        (a turn's inputs share it)."""
        allocated = self.allocated
        if allocated:
            self.allocated = set()
            for account in sorted(allocated):
                self._review(account, now, alerts.ALL_KINDS)

    def _may_alert(self, symbol: str, accounts: list[str]) -> set[str]:
        """Of ``accounts`` filled in ``symbol``, those whose alerts the fill can raise or clear:
        every one when ``symbol`` jumped in volatility (or the drawdown alert is on); else
        those with an alert raised or a limit, and those that hold a symbol ``symbol``
        correlates with. Any other's review would find what its last one found, nothing (the
        alerts are reviewed after every input that may change them, and a condition not about
        ``symbol`` is as it was): skipped, on the open's millions of fills."""
        pairs, jumps = self._alert_inputs()
        if symbol in jumps or self.portfolio.config.drawdown_alert is not None:
            return set(accounts)
        legged = self._legged()
        alerted = self.portfolio.alerts
        partners = pairs.get(symbol)
        if not legged and not alerted and not partners:
            return set()
        chosen = set()
        records = self.accounts
        for name in set(accounts):
            if name in legged or name in alerted:
                chosen.add(name)
            elif partners and (record := records.get(name)) is not None:
                if any(position.qty and other in partners for other, position in record.positions.items()):
                    chosen.add(name)
        return chosen

    def watched(self, account: AccountRecord) -> bool:
        """Reviewed on marks: a limit, the drawdown alert on, or an alert a mark can clear
        raised (``alerts.MARKED``: a limit's or the drawdown's). A correlation or volatility
        alert follows the holdings, not the marks: a mark's review of an account with only
        those would find what its last review found — at the open's fills, with a model of
        many correlated pairs, most accounts, each reviewed again on every quote."""
        name = account.account  # ``_legged``: the accounts whose limits are ``any``
        return self.portfolio.config.drawdown_alert is not None or name in self._legged() or self._marked_alert(name)

    def _marked_alert(self, name: str) -> bool:
        raised = self.portfolio.alerts.get(name)
        return raised is not None and any(alert.kind in alerts.MARKED for alert in raised.values())

    def _holders(self) -> dict[str, set[str]]:
        """Symbol → the watched accounts holding it or with orders open in it (``holders``),
        made when first needed after it was dropped.

        Guarantees: a superset of what it would be made from the accounts as they stand —
        what a restored shard makes — whatever the inputs since: an input that changes which
        accounts are watched or what they hold drops it (``_KEEPS_HOLDERS`` lists the others),
        a leg opened adds its symbol (``_open_leg``), a fill's new position its symbol
        (``_new_position``) and an account's first alert its symbols (``_review``). A mark
        reviews the same accounts live and after a restart (tests/unit/actors/account/test_portfolio_holders.py)."""
        holders = self.holders
        if holders is None:
            holders = self.holders = {}
            for name, record in self.accounts.items():
                if self.watched(record):
                    for symbol in (*record.positions, *self.legs.get(name, ())):
                        holders.setdefault(symbol, set()).add(name)
        return holders

    def _new_position(self, account: AccountRecord, symbol: str) -> None:
        holders = self.holders
        if holders is None:
            return
        if self.watched(account):
            holders.setdefault(symbol, set()).add(account.account)

    def _review_symbol(self, symbol: str, now: int) -> None:
        """A mark moved: the watched accounts that hold ``symbol`` or have orders open in it
        (tested exactly here: the index is a superset), in account order."""
        candidates = self._holders().get(symbol)
        if not candidates:
            return
        accounts, legs = self.accounts, self.legs
        chosen = []
        for name in candidates:
            record = accounts.get(name)
            if record is None:
                continue
            position = record.positions.get(symbol)
            if ((position is not None and position.qty) or symbol in legs.get(name, ())) and self.watched(record):
                chosen.append(name)
        for name in sorted(chosen):
            self._review(name, now, alerts.MARKED)

    def _alert_inputs(self) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
        made = self.alert_inputs
        if made is None:
            model, config = self.portfolio.model, self.portfolio.config
            pairs = model.correlated_pairs(config.correlation_alert / _SCALE) if model is not None and config.correlation_alert is not None else {}
            jumps = model.volatility_jumps(config.volatility_jump / _SCALE) if model is not None and config.volatility_jump is not None else {}
            made = self.alert_inputs = (pairs, jumps)
        return made

    def _review(self, name: str, now: int, kinds: frozenset[str]) -> None:
        """Raise and clear ``kinds`` of the account's alerts as its figures stand now; a limit
        newly crossed moves an active account to ``reducing``."""
        account = self.accounts.get(name)
        if account is None:
            return
        book = self.portfolio
        config = book.config
        if name not in book.alerts and config.drawdown_alert is None and name not in self._legged():
            # Nothing raised, no limit (``_legged``: the accounts whose limits are ``any``), no
            # drawdown alert: the steps below would find nothing unless the model's pairs or
            # jumps exist — nearly every fill's review, decided here in a few lookups
            pairs, jumps = self._alert_inputs()
            if not pairs and not jumps:
                return
        found: list[alerts.Condition] = []
        if alerts.LIMIT in kinds:
            limits = self.portfolio_limits(account)
            if limits.any() or config.drawdown_alert is not None:
                equity = self.equity(account)
                high_water = max(book.high_water.get(name, 0), equity)
                book.high_water[name] = high_water
                if limits.any():
                    found += alerts.limit_conditions(self.exposures(self.projected_qty(account)), equity, high_water, limits, book.model, self.sector_of)
                found += alerts.drawdown_condition(equity, high_water, config.drawdown_alert)
        if alerts.CORRELATION in kinds:
            pairs, jumps = self._alert_inputs()
            if pairs or jumps:
                held = [symbol for symbol, position in account.positions.items() if position.qty]
                # a pair needs two symbols held: after a fill of an account holding one
                # symbol no pair can be found, and none is looked for (the same conditions)
                if pairs and config.correlation_alert is not None and len(held) > 1:
                    made = self.pair_conditions
                    if made is None:
                        made = self.pair_conditions = alerts.PairConditions(pairs, config.correlation_alert)
                    found += made.of(held)
                found += alerts.volatility_conditions(held, jumps, config.volatility_jump)
        memory = book.alerts.get(name)
        if not found and not memory:
            return
        if memory is None:
            memory = {}
        raised, cleared = alerts.changes(memory, found, kinds, now)
        if memory:
            book.alerts[name] = memory
        else:
            book.alerts.pop(name, None)
        if raised and self.holders is not None and any(alert.kind in alerts.MARKED for alert in raised):
            # a limit or drawdown alert makes it watched: what it holds, into the index (a
            # superset: already there when it was watched before)
            for symbol in (*account.positions, *self.legs.get(name, ())):
                self.holders.setdefault(symbol, set()).add(name)
        if not raised and not cleared:
            return
        if any(alert.kind == alerts.LIMIT for alert in raised) and self.trading_state(name) is _ACTIVE:
            self._put_state(name, TradingState.REDUCING)
        state = self.trading_state(name).value
        for alert, what in [(a, alerts.CLEARED) for a in cleared] + [(a, alerts.RAISED) for a in raised]:
            self.out.to(GATEWAY, ALL, RiskAlert(name, alert.kind, alert.subject, what, alert.value, alert.threshold, state, now))

    # --- what ``admin risk`` reads (not an input: nothing changes) -----------------------------

    def risk_parts(self, name: str) -> dict[str, Any]:
        """An account's holdings at the marks, equity, limits, state and alerts raised."""
        account = self.accounts[name]
        held = {symbol: position.qty for symbol, position in account.positions.items() if position.qty}
        equity = self.equity(account)
        return {
            "account": name,
            "group": account.group,
            "exposures": self.exposures(held),
            "equity": equity,
            "high_water": max(self.portfolio.high_water.get(name, 0), equity),
            "limits": self.portfolio_limits(account).wire(),
            "trading_state": self.trading_state(name).value,
            "alerts": [
                {"kind": a.kind, "subject": a.subject, "value": a.value, "threshold": a.threshold, "ts": a.ts}
                for a in self.portfolio.alerts.get(name, {}).values()
            ],
        }

def _leaves(order: OrderRecord, instrument: Instrument | None, mark: Any) -> int:
    """The quantity an order may still trade: its leaves, or for a notional order what is
    left of its cash at the symbol's mark (a sell's cap when it has one)."""
    spec = order.spec
    if spec.qty is not None:
        return spec.qty - order.cum_qty
    if spec.side is Side.SELL and order.qty_cap is not None:
        return max(0, order.qty_cap - order.cum_qty)
    if instrument is None or spec.notional is None:
        return 0
    price = mark(spec.symbol)
    if price <= 0:
        return 0
    left = max(0, spec.notional - order.booked_cash)
    return left * fixed.SCALE // (price * instrument.multiplier)




def leg_of(order: OrderRecord) -> Leg | None:
    """What an open order may still trade (``_leaves`` without the mark): ``None`` when it
    has nothing left or is not open."""
    if not order.status.is_open:
        return None
    spec = order.spec
    buy = spec.side is _BUY
    if spec.qty is not None:
        leaves = spec.qty - order.cum_qty
    elif not buy and order.qty_cap is not None:
        leaves = max(0, order.qty_cap - order.cum_qty)
    else:
        cash = max(0, (spec.notional or 0) - order.booked_cash)
        return ((0, cash, 0) if buy else (0, 0, cash)) if cash else None
    if not leaves:
        return None
    return (leaves, 0, 0) if buy else (-leaves, 0, 0)
