"""The FIX market maker's core beside the sim venue: one quote model, so with the same seed and
shape the two markets quote the same prices and sizes, tick after tick. (The core's orders,
sessions and market data: tests/integration/test_fix_mmsim.py.)"""

from __future__ import annotations

from adapters.fix.simulator.config import load_settings
from adapters.fix.simulator.core import MarketMaker
from adapters.sim.venue import SimVenue
from model.config import SimSection
from model.messages import VenueQuote
from tests.conftest import ROOT

T0 = 1_700_000_000 * 1_000_000_000
INTERVAL = 100 * 1_000_000


def test_the_simulator_and_the_sim_venue_quote_alike() -> None:
    settings = load_settings(ROOT / "conf" / "fix" / "mmsim.toml", symbols=["IBM"], seed=11, quote_interval_ms=100)
    maker = MarketMaker(settings, "T", T0)
    shape = settings.quotes
    sim_section = SimSection(seed=11, spread_bps=shape.spread_bps, volatility_bps=shape.volatility_bps, quote_size=shape.quote_size)
    venue = SimVenue("SIM", settings.instruments(), sim_section)
    started = [event for event in venue.start(T0) if isinstance(event, VenueQuote)]
    pairs = [(maker.quote("IBM"), started[0])]
    for tick in range(1, 50):
        maker.advance(T0 + tick * INTERVAL)
        (quote,) = [event for event in venue.advance(T0 + tick * INTERVAL) if isinstance(event, VenueQuote)]
        pairs.append((maker.quote("IBM"), quote))
    assert [(a.bid, a.ask, a.bid_size, a.ask_size) for a, _ in pairs] == [(b.bid, b.ask, b.bid_size, b.ask_size) for _, b in pairs]
    assert len({a.bid for a, _ in pairs}) > 1  # the walk moved
