"""The adapter a ``[[venues]]`` table names: its kind, its symbols (never a mutual fund,
which fills only at the NAV struck), and its settings."""

from __future__ import annotations

import pytest

from adapters.factory import build_adapter
from adapters.fix.venue import FixVenue
from adapters.sim.venue import SimVenue
from model import fixed
from model.config import VenueSection
from model.enums import AssetClass, OrderType, SessionState, Side, TimeInForce, VenueEventKind
from model.messages import VenueNewOrder, VenueQuote, VenueReport
from model.orders import OrderSpec
from tests.conftest import demo_setup

SETUP = demo_setup()
T0 = 1_763_700_000 * 10**9


def quoted(adapter: object) -> set[str]:
    assert isinstance(adapter, SimVenue)
    return {event.symbol for event in adapter.start(T0) if isinstance(event, VenueQuote)}


def test_no_venue_adapter_is_given_a_mutual_fund() -> None:
    venue = SETUP.config.venues[0]
    assert "VFIAX" in {i.symbol for i in SETUP.instruments} and venue.trades("VFIAX")
    symbols = quoted(build_adapter(venue, SETUP.config, SETUP.instruments))
    assert "IBM" in symbols and "VFIAX" not in symbols


def test_a_sim_venue_quotes_every_symbol_it_trades_and_no_other() -> None:
    everything = build_adapter(VenueSection(name="SIM"), SETUP.config, SETUP.instruments)
    funds = {i.symbol for i in SETUP.instruments if i.asset_class is AssetClass.MUTUAL_FUND}
    assert quoted(everything) == {i.symbol for i in SETUP.instruments} - funds
    assert quoted(build_adapter(VenueSection(name="SIM2", symbols=["IBM", "XYZ"]), SETUP.config, SETUP.instruments)) == {"IBM", "XYZ"}


def test_a_sim_venue_draws_from_the_configured_seed() -> None:
    venue = VenueSection(name="SIM", symbols=["IBM"])
    first, again = (build_adapter(venue, SETUP.config, SETUP.instruments) for _ in range(2))
    assert isinstance(first, SimVenue) and isinstance(again, SimVenue)
    assert first.start(T0) == again.start(T0)
    assert first.advance(T0 + 10**10) == again.advance(T0 + 10**10)


@pytest.mark.parametrize("cancel_on_disconnect", [True, False])
def test_a_fix_venue_is_named_by_its_table_and_takes_its_cancel_on_disconnect(cancel_on_disconnect: bool) -> None:
    venue = VenueSection(name="MM1", kind="fix", session_config="unused.cfg", cancel_on_disconnect=cancel_on_disconnect)
    adapter = build_adapter(venue, SETUP.config, SETUP.instruments)
    assert isinstance(adapter, FixVenue) and adapter.name == "MM1"
    adapter.set_session(SessionState.OPEN, T0)
    order = VenueNewOrder("child-1", OrderSpec("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, fixed.SCALE, None, fixed.parse("140"), None))
    assert adapter.submit(order, T0) == []
    closed = [event for event in adapter.set_session(SessionState.CLOSED, T0) if isinstance(event, VenueReport)]
    assert [(event.child_id, event.kind) for event in closed] == ([("child-1", VenueEventKind.CANCELED)] if cancel_on_disconnect else [])


def test_an_unknown_kind_is_refused_naming_the_venue_and_the_kinds() -> None:
    with pytest.raises(ValueError, match="^venue X: unknown kind 'carrier-pigeon' \\(known: sim, fix\\)$"):
        build_adapter(VenueSection(name="X", kind="carrier-pigeon"), SETUP.config, SETUP.instruments)
