"""Books: quotes from venues consolidated into one best bid and offer."""

from __future__ import annotations

from actors.runtime.outputs import ACCOUNT, GATEWAY
from model.enums import SessionState
from model.messages import MarketUpdate, QuoteEvent, SetTradingStatus, VenueQuote, VenueSessionChanged
from tests.unit.actors.instrument.support import D, make_state, of_type, quote, run


def test_quotes_from_venues_consolidate_to_the_best_bid_and_offer_with_summed_size() -> None:
    state = make_state()
    run(state, quote("A", "149.90", "150.10"))
    sends = run(state, quote("B", "149.90", "150.05", size="50"))
    event = of_type(sends, QuoteEvent)[0].message
    assert (event.bid, event.bid_size, event.ask, event.ask_size) == (D("149.90"), D("150"), D("150.05"), D("50"))
    update = of_type(sends, MarketUpdate)[0]
    assert update.kind == ACCOUNT and update.message.reference == D("149.97")
    assert of_type(sends, QuoteEvent)[0].kind == GATEWAY


def test_a_closed_venue_leaves_the_book_and_the_quote_is_published_again() -> None:
    state = make_state()
    run(state, quote("A", "149.90", "150.10"))
    run(state, quote("B", "149.95", "150.05"))
    sends = run(state, VenueSessionChanged("B", SessionState.CLOSED, 1))
    event = of_type(sends, QuoteEvent)[0].message
    assert (event.bid, event.ask) == (D("149.90"), D("150.10")) and list(state.books["IBM"].quotes) == ["A"]


def test_a_halt_is_published_to_the_shards_and_a_quote_in_flight_does_not_lift_it() -> None:
    state = make_state()
    update = of_type(run(state, SetTradingStatus("IBM", True)), MarketUpdate)[0].message
    assert update.halted
    assert of_type(run(state, quote("A", "149.90", "150.10")), MarketUpdate)[0].message.halted


def test_a_quote_for_a_symbol_not_here_changes_nothing() -> None:
    state = make_state()
    before = state.state_hash()
    assert run(state, VenueQuote("A", "MSFT", D("1"), D("1"), D("2"), D("1"), 1)) == []
    assert state.state_hash() == before
