"""Builds the adapter a ``[[venues]]`` table names by its ``kind``, or the one a snapshot holds."""

from __future__ import annotations

from typing import Union

import msgspec

from adapters.base import VenueAdapter
from adapters.fix.children import FixSnapshot
from adapters.sim.venue import SimSnapshot, SimVenue
from model.config import Config, VenueSection
from model.enums import AssetClass
from model.instruments import Instrument


def build_adapter(venue: VenueSection, config: Config, instruments: list[Instrument]) -> VenueAdapter:
    # a mutual fund is never routed (it fills at the NAV struck), so no venue trades or quotes it
    traded = [i for i in instruments if venue.trades(i.symbol) and i.asset_class is not AssetClass.MUTUAL_FUND]
    if venue.kind == "sim":
        sim = config.sim if venue.sim_seed is None else msgspec.structs.replace(config.sim, seed=venue.sim_seed)
        return SimVenue(venue.name, traded, sim)
    if venue.kind == "fix":
        from adapters.fix.venue import FixVenue

        return FixVenue(venue.name, traded, cancel_on_disconnect=venue.cancel_on_disconnect)
    raise ValueError(f"venue {venue.name}: unknown kind {venue.kind!r} (known: sim, fix)")


AdapterSnapshot = Union[SimSnapshot, FixSnapshot]  # what ``VenueAdapter.snapshot`` gives, tagged by kind


def restore_adapter(state: AdapterSnapshot) -> VenueAdapter:
    """The adapter ``state`` describes (``VenueAdapter.snapshot``)."""
    if isinstance(state, SimSnapshot):
        return SimVenue.restore(state)
    from adapters.fix.venue import FixVenue  # quickfix: only where a FIX venue is

    return FixVenue.restore(state)
