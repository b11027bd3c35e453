"""The policy an InstrumentActor routes with: ``[crossing]`` and ``[routing]`` as they travel.

It is journaled (``SetLiquidity``), not read from the configuration at each decision, so a
replay crosses exactly as the live actor did, whatever the configuration says later
(docs/liquidity.md).
"""

from __future__ import annotations

import msgspec

from model.config import CrossingSection, RoutingSection

MS = 1_000_000  # nanoseconds in a millisecond


class LiquidityPolicy(msgspec.Struct, frozen=True, array_like=True):
    """Whether and how orders cross internally, and whether they are split across venues.
    ``max_quote_age_ns``: a best bid or offer older than this (by the input's ``now``) stops
    crossing. ``split``, ``remainder``: ``[routing]``."""

    enabled: bool = False
    price: str = "mid"
    max_quote_age_ns: int = 2000 * MS
    cross_locked: bool = False
    rest_limit_orders: bool = False
    off_symbols: tuple[str, ...] = ()
    off_asset_classes: tuple[str, ...] = ()
    split: bool = False
    remainder: str = "send"

    @classmethod
    def from_config(cls, section: CrossingSection, routing: RoutingSection | None = None) -> LiquidityPolicy:
        routing = routing or RoutingSection()
        return cls(
            section.enabled,
            section.price,
            section.max_quote_age_ms * MS,
            section.cross_locked,
            section.rest_limit_orders,
            tuple(sorted(section.off_symbols)),
            tuple(sorted(section.off_asset_classes)),
            routing.split,
            routing.remainder,
        )

    def covers(self, symbol: str, asset_class: str) -> bool:
        """Whether orders in ``symbol`` (of ``asset_class``) may cross."""
        return self.enabled and symbol not in self.off_symbols and asset_class not in self.off_asset_classes
