"""Portfolio risk in the account shard: each account's limits and trading state, and the
post-order check (``model/risk/limits.py``) an order passes after ``risk.first_failure``'s.

The shard holds, as state (snapshot and hash): the risk model and the configuration's
limits it was journaled (``SetPortfolioModel``), the operator's limits per account and per
group (``SetPortfolioLimits``), each account's trading state (``SetAccountTradingState``,
or ``reducing`` when a check finds its portfolio over a limit) and high-water mark of
equity. Every one of them comes from a journaled input, so replay decides as live did.

Guarantees: an account with no portfolio limit and state ``active`` costs an order two
dict lookups; an order is checked on the account's positions plus every open order plus
itself, at the marks its record holds; an order that reduces risk is never refused by a
limit (only by ``halted``).
"""

from __future__ import annotations

from typing import Any

import msgspec

from actors.account.books import Bookkeeping
from actors.account.records import AccountRecord, OrderRecord
from model import fixed
from model.enums import Reason, Side
from model.instruments import Instrument
from model.messages.risk import PortfolioConfig, SetAccountTradingState, SetPortfolioLimits, SetPortfolioModel
from model.risk import limits as checks
from model.risk.limits import PortfolioLimits, RiskModel, TradingState

_NO_LIMITS = PortfolioLimits()
_ACTIVE = TradingState.ACTIVE


class PortfolioState(msgspec.Struct):
    """The shard's portfolio-risk state, as its snapshot holds it."""

    model: RiskModel | None = None
    config: PortfolioConfig = PortfolioConfig()
    account_limits: dict[str, PortfolioLimits] = msgspec.field(default_factory=dict)  # the operator's
    group_limits: dict[str, PortfolioLimits] = msgspec.field(default_factory=dict)  # the operator's
    states: dict[str, str] = msgspec.field(default_factory=dict)  # account → a state other than active
    high_water: dict[str, int] = msgspec.field(default_factory=dict)  # account → its highest equity seen


class Portfolio(Bookkeeping):
    """The portfolio checks and the inputs that set what they decide with."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.portfolio = PortfolioState()

    # --- inputs --------------------------------------------------------------------------------

    def _set_portfolio_model(self, command: SetPortfolioModel, now: int) -> None:
        self.portfolio.model, self.portfolio.config = command.model, command.config

    def _set_portfolio_limits(self, command: SetPortfolioLimits, now: int) -> None:
        if command.account:
            if command.account not in self.accounts:
                return  # another shard's: the supervisor checked the account exists
            table, key = self.portfolio.account_limits, command.account
        else:
            table, key = self.portfolio.group_limits, command.group
        if command.clear:
            table.pop(key, None)
        else:
            table[key] = command.limits

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
        account, group and default limits — each setting from the first that sets it."""
        book = self.portfolio
        config = book.config
        if not config.checks:
            return _NO_LIMITS
        chosen = config.default
        for layer in (config.groups.get(account.group), config.accounts.get(account.account), book.group_limits.get(account.group), book.account_limits.get(account.account)):
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
        """Positions plus the leaves of every open order (buys added, sells taken off)."""
        qty = {symbol: position.qty for symbol, position in account.positions.items() if position.qty}
        for order_id in set(account.orders.values()):
            order = self.orders.peek(order_id)
            if order is None or not order.status.is_open:
                continue
            leaves = _leaves(order, self.instruments.get(order.spec.symbol), self.price_of)
            if leaves:
                symbol = order.spec.symbol
                qty[symbol] = qty.get(symbol, 0) + (leaves if order.spec.side is Side.BUY else -leaves)
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
        state = self.trading_state(account.account)
        limits = self.portfolio_limits(account)
        if state is _ACTIVE and not limits.any():
            return None
        if state is TradingState.HALTED:
            return Reason.ACCOUNT_HALTED
        qty = self.projected_qty(account)
        symbol = order.spec.symbol
        before = qty.get(symbol, 0)
        delta = _leaves(order, instrument, self.price_of)
        after = before + (delta if order.spec.side is Side.BUY else -delta)
        equity = self.equity(account)
        high_water = max(self.portfolio.high_water.get(account.account, 0), equity)
        self.portfolio.high_water[account.account] = high_water
        model = self.portfolio.model
        if state is _ACTIVE and checks.breach(self.exposures(qty), equity, high_water, limits, model) is not None:
            state = TradingState.REDUCING
            self._put_state(account.account, state)
        qty[symbol] = after
        return checks.check_order(state, before, after, self.exposures(qty), equity, high_water, limits, model)


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
