"""Pre-trade risk: pure functions of an order, its account, the instrument and the market.

Each check returns the ``Reason`` that rejects the order, or ``None``. The checks run in
the order of ``first_failure`` so the reported reason is deterministic. The last two are
not risk but what the market takes (a fund takes no limit order, the open takes no order
after it): they are decided here because an order's first report must already be its
only rejection, never ``new`` followed by ``rejected``.
"""

from __future__ import annotations

import msgspec

from actors.account.limits import RiskLimits as RiskLimits  # re-exported: where the checks take them from
from actors.account.records import AccountRecord, OrderRecord
from model import fixed
from model.calendar import trading_day
from model.enums import AssetClass, OrderType, Reason, Side, TimeInForce
from model.instruments import Instrument


class MarketView(msgspec.Struct):
    """What the shard knows of a symbol's market: consolidated quote, trading status, and
    the local trading day (``model.calendar.trading_day`` in ``[open] timezone``) of the
    symbol's last open as it passed this shard (-1: never) — from a journaled input, so
    replay decides late orders exactly as live did."""

    bid: int | None = None
    ask: int | None = None
    reference: int = 0
    halted: bool = False
    opened_day: int = -1


# members read on every order, bound once (model/enums.py says why)
_BUY, _SELL = Side.BUY, Side.SELL
_FUND = AssetClass.MUTUAL_FUND
_MARKET = OrderType.MARKET
_OPG = TimeInForce.OPG


def reference_price(instrument: Instrument, market: MarketView | None) -> int:
    if market is not None and market.reference > 0:
        return market.reference
    return instrument.reference_price


def estimate_price(order: OrderRecord, instrument: Instrument, market: MarketView | None, limits: RiskLimits) -> int:
    """The worst price the order is expected to trade at: its limit, or for market and stop
    orders the touch (or reference) moved against the order by the market collar."""
    if order.spec.order_type.has_price and order.spec.price is not None:
        return order.spec.price
    reference = reference_price(instrument, market)
    if order.spec.side is _BUY:
        touch = market.ask if market and market.ask else reference
        touch = max(touch, order.spec.stop_price or 0)
        return fixed.ceil_to(touch + fixed.mul(touch, limits.market_collar), instrument.tick_size)
    touch = market.bid if market and market.bid else reference
    if order.spec.stop_price is not None:
        touch = min(touch, order.spec.stop_price)
    return max(instrument.tick_size, fixed.floor_to(touch - fixed.mul(touch, limits.market_collar), instrument.tick_size))


def cash_to_reserve(order: OrderRecord, instrument: Instrument, estimate: int) -> int:
    """Cash a buy must still hold so that every remaining fill at ``estimate`` is paid for."""
    if order.spec.side is not _BUY or not order.status.is_open:
        return 0
    if order.spec.notional is not None:
        return max(0, order.spec.notional - order.booked_cash)
    assert order.spec.qty is not None
    leaves = order.spec.qty - order.cum_qty
    return max(0, fixed.ceil_cent(order.cum_value + leaves * estimate * instrument.multiplier) - order.booked_cash)


def qty_to_reserve(order: OrderRecord) -> int:
    """Shares a sell must still hold: its leaves, or for a notional sell its cap."""
    if order.spec.side is not _SELL or not order.status.is_open:
        return 0
    if order.spec.notional is not None:
        return max(0, (order.qty_cap or 0) - order.cum_qty)
    assert order.spec.qty is not None
    return order.spec.qty - order.cum_qty


def check_size(order: OrderRecord, instrument: Instrument, estimate: int, limits: RiskLimits) -> Reason | None:
    if order.spec.qty is not None:
        if order.spec.qty > limits.max_order_qty:
            return Reason.MAX_ORDER_SIZE
        value = order.spec.qty * estimate * instrument.multiplier // fixed.SCALE
    else:
        assert order.spec.notional is not None
        value = order.spec.notional
    if value > limits.max_order_notional:
        return Reason.MAX_ORDER_NOTIONAL
    return None


def check_price_band(order: OrderRecord, instrument: Instrument, market: MarketView | None, limits: RiskLimits) -> Reason | None:
    if order.spec.price is None and order.spec.stop_price is None:
        return None  # a market order: no price to hold against the band
    reference = reference_price(instrument, market)
    band = fixed.mul(reference, limits.price_band)
    for price in (order.spec.price, order.spec.stop_price):
        if price is not None and abs(price - reference) > band:
            return Reason.PRICE_OUT_OF_BAND
    return None


def notional_sell_cap(order: OrderRecord, account: AccountRecord, instrument: Instrument, estimate: int) -> int:
    """Shares a notional sell needs at the collared bid: its cash over the price, rounded up to
    the increment, never more than the account holds free."""
    needed = _notional_sell_need(order, instrument, estimate)
    if account.allow_short:
        return needed
    return min(needed, max(0, account.available_qty(order.spec.symbol)))


def _notional_sell_need(order: OrderRecord, instrument: Instrument, estimate: int) -> int:
    assert order.spec.notional is not None
    exact = -((-order.spec.notional * fixed.SCALE) // (estimate * instrument.multiplier))
    return fixed.ceil_to(exact, instrument.qty_increment)


def check_funds(order: OrderRecord, account: AccountRecord, instrument: Instrument, estimate: int, cash: int | None = None) -> Reason | None:
    """``cash``: the buy's ``cash_to_reserve`` at ``estimate``, when the caller has it."""
    if order.spec.side is _BUY:
        if (cash_to_reserve(order, instrument, estimate) if cash is None else cash) > account.buying_power:
            return Reason.INSUFFICIENT_BUYING_POWER
        return None
    if account.allow_short:
        return None
    if order.spec.notional is not None:
        needed = _notional_sell_need(order, instrument, estimate)
        return Reason.INSUFFICIENT_POSITION if needed > account.available_qty(order.spec.symbol) else None
    assert order.spec.qty is not None
    return Reason.INSUFFICIENT_POSITION if order.spec.qty > account.available_qty(order.spec.symbol) else None


def check_supported(order: OrderRecord, instrument: Instrument) -> Reason | None:
    """A mutual fund fills only at the NAV the operator strikes: it takes market orders only."""
    if instrument.asset_class is _FUND and order.spec.order_type is not _MARKET:
        return Reason.UNSUPPORTED
    return None


def check_open_passed(order: OrderRecord, instrument: Instrument, market: MarketView | None, limits: RiskLimits) -> Reason | None:
    """An order for the open that comes after today's open of its symbol (the same local
    trading day as the open passed this shard), when late orders are rejected. A fund has no open: its
    orders wait for the NAV whatever their tif."""
    if order.spec.tif is not _OPG or not limits.reject_late_opg or instrument.asset_class is _FUND:
        return None
    if market is not None and market.opened_day == trading_day(order.created_ts, limits.open_timezone):
        return Reason.OPEN_PASSED
    return None


def first_failure(
    order: OrderRecord,
    account: AccountRecord,
    instrument: Instrument,
    market: MarketView | None,
    limits: RiskLimits,
) -> Reason | None:
    """Run every pre-trade check in a fixed order; the first failure rejects the order.

    Guarantees: the order is fixed (kill switch, halt, size, price band, funds, then what
    the market takes: a fund's order type, the open passed), so an order that fails several
    checks always gets the same reason; the checks read only their arguments (the order's
    ``created_ts`` is its journaled arrival time)."""
    return check(order, account, instrument, market, limits)[0]


def check(
    order: OrderRecord,
    account: AccountRecord,
    instrument: Instrument,
    market: MarketView | None,
    limits: RiskLimits,
) -> tuple[Reason | None, int, int]:
    """``first_failure``, with what the order's hold needs next, each computed once per
    order: the estimated price the checks used (``estimate_price``) and the cash a buy
    holds at it (``cash_to_reserve``; 0 for a sell). Both 0 when the kill switch or a halt
    refused the order first."""
    if account.killed:
        return Reason.ACCOUNT_KILLED, 0, 0
    if market is not None and market.halted:
        return Reason.HALTED, 0, 0
    estimate = estimate_price(order, instrument, market, limits)
    reason = check_size(order, instrument, estimate, limits) or check_price_band(order, instrument, market, limits)
    cash = cash_to_reserve(order, instrument, estimate) if reason is None else 0
    reason = (
        reason
        or check_funds(order, account, instrument, estimate, cash)
        or check_supported(order, instrument)
        or check_open_passed(order, instrument, market, limits)
    )
    return reason, estimate, cash
