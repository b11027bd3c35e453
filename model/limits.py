"""Pre-trade risk limits as the account shards hold them: fixed-point ints, resolved once
from ``[risk]`` and a tenant's ``[tenants.NAME.risk]`` (``model/config.py``). In ``model``
because they travel: a shard journals the limits it starts using (``SetRiskLimits``), so
replay decides every order under the limits it was decided under live."""

from __future__ import annotations

import msgspec

from model.config import BooksSection, Config, OpenSection, RiskSection


class RiskLimits(msgspec.Struct, frozen=True):
    max_order_qty: int
    max_order_notional: int
    price_band: int  # fraction of the reference price, scale 10^-9
    market_collar: int
    reject_late_opg: bool = True  # ``[open] late_orders = "reject"``; False: queue them for the next open
    open_timezone: str = "America/New_York"  # ``[open] timezone``: the open happens once per local day; also the books' dates
    mark: str = "mid"  # ``[books] mark``: the price positions are marked at

    @classmethod
    def from_config(cls, risk: RiskSection, opening: OpenSection | None = None, books: BooksSection | None = None) -> RiskLimits:
        return cls(
            max_order_qty=risk.max_order_qty_fixed,
            max_order_notional=risk.max_order_notional_fixed,
            price_band=risk.price_band_fraction,
            market_collar=risk.market_collar_fraction,
            reject_late_opg=opening is None or opening.late_orders == "reject",
            open_timezone=OpenSection().timezone if opening is None else opening.timezone,
            mark=BooksSection().mark if books is None else books.mark,
        )


def tenant_limits(config: Config) -> dict[str, RiskLimits]:
    """The limits of each tenant ``[tenants]`` names: ``[risk]`` with its overrides. A tenant
    not named has the server's (``RiskLimits.from_config(config.risk, config.open)``)."""
    return {tenant: RiskLimits.from_config(config.risk_of(tenant), config.open, config.books) for tenant in sorted(config.tenants)}
