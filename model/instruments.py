"""Reference data for one tradable instrument, and the checks every order's numbers must pass
against it: on the tick, on the increment, and the price fields its order type takes.

The gateway, the account's replace, the sim venue and the FIX market maker each refuse a bad
number in their own words (an error message, a reject reason, a FIX text); what counts as bad
is decided here, once.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

import msgspec

from model import fixed
from model.enums import AssetClass, OrderType


class Instrument(msgspec.Struct, frozen=True):
    """An instrument as the whole system sees it. Prices and sizes are fixed-point ints.

    ``qty_increment`` is the smallest tradable quantity step: the fractional increment
    where the instrument trades fractionally, one whole unit (share, contract) otherwise.
    Options trade whole contracts and cost ``qty × price × multiplier``.
    """

    symbol: str
    asset_class: AssetClass
    tick_size: int
    qty_increment: int
    reference_price: int
    multiplier: int = 1
    description: str = ""
    sector: str = ""  # what portfolio concentration by sector groups it in; "": its asset class

    @property
    def sector_name(self) -> str:
        """Its sector, or its asset class's name when none was given."""
        return self.sector or self.asset_class.value

    @property
    def fractional(self) -> bool:
        return self.qty_increment < fixed.SCALE

    def price_on_tick(self, price: int) -> bool:
        """Whether ``price`` is a whole number of ticks. Says nothing about its sign: whether
        a price must be positive is each caller's first check."""
        return price % self.tick_size == 0

    def qty_on_increment(self, qty: int) -> bool:
        """Whether ``qty`` is a whole number of increments (whole units unless fractional).
        Says nothing about its sign, like ``price_on_tick``."""
        return qty % self.qty_increment == 0


class PriceField(StrEnum):
    """The two price fields an order may carry, by their wire names."""

    PRICE = "price"
    STOP_PRICE = "stop_price"


class PriceFieldMismatch(NamedTuple):
    """A price field that does not fit the order type: ``missing`` when the type needs it and
    it is absent, otherwise the type takes none and it is given."""

    field: PriceField
    missing: bool

    def describe(self, order_type: OrderType) -> str:
        """``a limit order needs price``, ``a market order takes no stop_price``."""
        return f"a {order_type.value} order {'needs' if self.missing else 'takes no'} {self.field.value}"


def price_fields_for_type(order_type: OrderType, price: int | None, stop_price: int | None = None) -> PriceFieldMismatch | None:
    """The first of ``price`` and ``stop_price`` whose presence does not fit ``order_type``
    (limit and stop limit need a price, stop and stop limit a stop price, and no type takes
    one it does not need), or ``None`` when both fit. Values are not looked at: their sign
    and tick are ``Instrument``'s checks."""
    if order_type.has_price != (price is not None):
        return PriceFieldMismatch(PriceField.PRICE, order_type.has_price)
    if order_type.has_stop != (stop_price is not None):
        return PriceFieldMismatch(PriceField.STOP_PRICE, order_type.has_stop)
    return None


class InstrumentSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One ``[[instruments]]`` table of ``conf/instruments.toml``; decimals as strings."""

    symbol: str
    asset_class: AssetClass
    tick_size: str
    reference_price: str
    fractional_increment: str | None = None
    multiplier: int = 1
    description: str = ""
    sector: str = ""  # optional; "" (the default): the asset class

    def build(self) -> Instrument:
        tick = fixed.parse(self.tick_size)
        increment = fixed.parse(self.fractional_increment) if self.fractional_increment else fixed.SCALE
        reference = fixed.parse(self.reference_price)
        if tick <= 0 or increment <= 0 or increment > fixed.SCALE or self.multiplier <= 0:
            raise ValueError(f"{self.symbol}: tick, increment and multiplier must be positive")
        if self.asset_class is AssetClass.OPTION and increment != fixed.SCALE:
            raise ValueError(f"{self.symbol}: options trade whole contracts")
        if reference <= 0 or reference % tick:
            raise ValueError(f"{self.symbol}: reference_price must be a positive multiple of the tick")
        return Instrument(
            symbol=self.symbol,
            asset_class=self.asset_class,
            tick_size=tick,
            qty_increment=increment,
            reference_price=reference,
            multiplier=self.multiplier,
            description=self.description,
            sector=self.sector.strip(),
        )
