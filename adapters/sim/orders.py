"""The sim venue's child orders: what it keeps of one, what it refuses, and how much one may
still trade. Pure functions of a child, its instrument and a price; the venue
(``adapters/sim/venue.py``) owns the state and the quotes.

A refusal is a reason string, shared ones from ``model.enums.Reason`` and the sim's own from
``SimReason``; what is on the tick or the increment is the instrument's to say
(``model.instruments``).
"""

from __future__ import annotations

from enum import StrEnum

import msgspec

from model import fixed
from model.enums import OrderType, Reason, TimeInForce
from model.instruments import Instrument, price_fields_for_type
from model.messages import VenueNewOrder, VenueReplace
from model.orders import OrderSpec

_TYPES_TRADED = (OrderType.MARKET, OrderType.LIMIT)  # read on every order, bound once (model/enums.py)
_OPG = TimeInForce.OPG


class SimReason(StrEnum):
    """Reasons only this venue gives; the shared ones are ``model.enums.Reason``."""

    UNKNOWN_SYMBOL = "unknown_symbol"
    DUPLICATE_CHILD_ID = "duplicate_child_id"
    INVALID_QUANTITY = "invalid_quantity"  # not exactly one of qty / notional, or not > 0
    QTY_NOT_ON_INCREMENT = "qty_not_on_increment"
    INVALID_QTY_CAP = "invalid_qty_cap"  # not > 0 or not a multiple of the increment
    INVALID_PRICE = "invalid_price"  # limit without a price, market with one, or not > 0
    PRICE_NOT_ON_TICK = "price_not_on_tick"
    NOTIONAL_TOO_SMALL = "notional_too_small"
    QTY_NOT_ABOVE_FILLED = "qty_not_above_filled"


class Child(msgspec.Struct, array_like=True):
    """A child order as the venue works it: its terms (``spec``, the very ``OrderSpec`` its
    ``VenueNewOrder`` carried; an accepted replace makes a new one) and what has filled.
    ``value_raw`` is Σ qty × price × multiplier of its fills (10^-18), kept as two halves
    that each fit msgpack's 64-bit integers (the venue's snapshot is msgpack)."""

    child_id: str
    spec: OrderSpec
    qty_cap: int | None
    cum_qty: int = 0
    value_nanos: int = 0
    value_subnanos: int = 0

    @property
    def value_raw(self) -> int:
        return fixed.join_raw(self.value_nanos, self.value_subnanos)

    @value_raw.setter
    def value_raw(self, value: int) -> None:
        self.value_nanos, self.value_subnanos = fixed.split_raw(value)

    @classmethod
    def of(cls, order: VenueNewOrder) -> Child:
        """The child a ``VenueNewOrder`` asks for, nothing filled yet."""
        return cls(order.child_id, order.spec, order.qty_cap)

    def replaced(self, qty: int, price: int | None) -> None:
        """The venue accepted a replace to ``qty`` at ``price``."""
        self.spec = msgspec.structs.replace(self.spec, qty=qty, price=price)


def order_problem(child: Child, instrument: Instrument) -> str | None:
    """Why the venue cannot take ``child`` whatever the market does: a type or time in force
    it does not trade (market and limit, not for the open), then its quantity, then its
    price; ``None`` when it can."""
    spec = child.spec
    if spec.order_type not in _TYPES_TRADED or spec.tif is _OPG:
        return Reason.UNSUPPORTED.value
    return _quantity_problem(child, instrument) or _price_problem(spec.order_type, spec.price, instrument)


def replace_problem(child: Child, request: VenueReplace, instrument: Instrument) -> str | None:
    """Why ``request`` cannot replace the working ``child``: only a qty order can be
    replaced, to a qty on the increment above what has filled, at a price its type takes."""
    if child.spec.qty is None:
        return Reason.UNSUPPORTED.value
    if request.qty <= 0:
        return SimReason.INVALID_QUANTITY.value
    if not instrument.qty_on_increment(request.qty):
        return SimReason.QTY_NOT_ON_INCREMENT.value
    if request.qty <= child.cum_qty:
        return SimReason.QTY_NOT_ABOVE_FILLED.value
    return _price_problem(child.spec.order_type, request.price, instrument)


def loses_priority(child: Child, request: VenueReplace) -> bool:
    """A replace that raises the qty or moves the price goes to the back of the queue."""
    qty = child.spec.qty
    return qty is None or request.qty > qty or request.price != child.spec.price


def room(child: Child, price: int, instrument: Instrument) -> int:
    """How much more ``child`` may trade at ``price``: what is left of ``qty`` and of
    ``qty_cap``, and for a notional order the whole increments its remaining cash buys at
    ``price`` — whichever is least. Zero means the order is done."""
    notional = child.spec.notional
    limits = [limit - child.cum_qty for limit in (child.spec.qty, child.qty_cap) if limit is not None]
    if notional is not None:
        cash = (notional * fixed.SCALE - child.value_raw) // fixed.SCALE
        limits.append(fixed.qty_for_cash(cash, price, instrument.qty_increment, instrument.multiplier))
    return min(limits)


def _quantity_problem(child: Child, instrument: Instrument) -> str | None:
    qty, notional, qty_cap = child.spec.qty, child.spec.notional, child.qty_cap
    if (qty is None) == (notional is None):
        return SimReason.INVALID_QUANTITY.value
    if (qty is not None and qty <= 0) or (notional is not None and notional <= 0):
        return SimReason.INVALID_QUANTITY.value
    if qty is not None and not instrument.qty_on_increment(qty):
        return SimReason.QTY_NOT_ON_INCREMENT.value
    if qty_cap is not None and not (qty_cap > 0 and instrument.qty_on_increment(qty_cap)):
        return SimReason.INVALID_QTY_CAP.value
    return None


def _price_problem(order_type: OrderType, price: int | None, instrument: Instrument) -> str | None:
    """A price its type does not take (a limit needs one, a market has none) or not > 0;
    then off the tick."""
    if price_fields_for_type(order_type, price) is not None or (price is not None and price <= 0):
        return SimReason.INVALID_PRICE.value
    if price is not None and not instrument.price_on_tick(price):
        return SimReason.PRICE_NOT_ON_TICK.value
    return None
