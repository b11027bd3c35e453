"""Reference data for one tradable instrument."""

from __future__ import annotations

import msgspec

from model import fixed
from model.enums import AssetClass


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

    @property
    def fractional(self) -> bool:
        return self.qty_increment < fixed.SCALE


class InstrumentSpec(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One ``[[instruments]]`` table of ``conf/instruments.toml``; decimals as strings."""

    symbol: str
    asset_class: AssetClass
    tick_size: str
    reference_price: str
    fractional_increment: str | None = None
    multiplier: int = 1
    description: str = ""

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
        )
