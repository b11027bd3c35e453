"""Books: quotes from venues consolidated into one best bid and offer."""

from __future__ import annotations

from actors.runtime.outputs import GATEWAY
from model.enums import SessionState
from model.messages import MarketUpdate, QuoteEvent, SetTradingStatus, VenueQuote, VenueSessionChanged
from tests.unit.actors.instrument.support import D, make_state, of_type, quote, run


def test_quotes_from_venues_consolidate_to_the_best_bid_and_offer_with_summed_size() -> None:
    state = make_state()
    run(state, quote("A", "149.90", "150.10"))
    sends = run(state, quote("B", "149.90", "150.05", size="50"))
    event = of_type(sends, QuoteEvent)[0].message
    assert (event.bid, event.bid_size, event.ask, event.ask_size) == (D("149.90"), D("150"), D("150.05"), D("50"))
    [update] = state.take_marks()
    assert update.reference == D("149.97") and (update.bid, update.ask) == (D("149.90"), D("150.05"))
    assert of_type(sends, QuoteEvent)[0].kind == GATEWAY


def test_marks_leave_in_no_journaled_batch_and_only_the_latest_per_symbol_is_taken() -> None:
    state = make_state()
    sends = run(state, quote("A", "149.90", "150.10"))
    sends += run(state, quote("A", "149.95", "150.15"))
    assert of_type(sends, MarketUpdate) == []
    [mark] = state.take_marks()
    assert (mark.bid, mark.ask) == (D("149.95"), D("150.15"))
    assert state.take_marks() == []
    assert state.marks(2) == [MarketUpdate("IBM", D("149.95"), D("150.15"), D("150.05"), False, 2)]


def test_current_marks_leave_out_a_book_that_shows_only_the_reference_price() -> None:
    state = make_state()
    assert state.marks(1) == []
    run(state, quote("A", "149.90", "150.10"))
    run(state, VenueSessionChanged("A", SessionState.CLOSED, 1))
    assert state.marks(1) == []  # mid 150.00 is the reference price: a shard without a mark prices there
    run(state, quote("B", "149.90", "150.30"))
    run(state, VenueSessionChanged("B", SessionState.CLOSED, 1))
    assert [(m.bid, m.ask, m.reference) for m in state.marks(1)] == [(None, None, D("150.10"))]


def test_a_closed_venue_leaves_the_book_and_the_quote_is_published_again() -> None:
    state = make_state()
    run(state, quote("A", "149.90", "150.10"))
    run(state, quote("B", "149.95", "150.05"))
    sends = run(state, VenueSessionChanged("B", SessionState.CLOSED, 1))
    event = of_type(sends, QuoteEvent)[0].message
    assert (event.bid, event.ask) == (D("149.90"), D("150.10")) and list(state.books["IBM"].quotes) == ["A"]


def test_a_halt_is_published_to_the_shards_and_a_quote_in_flight_does_not_lift_it() -> None:
    state = make_state()
    run(state, SetTradingStatus("IBM", True))
    [update] = state.take_marks()
    assert update.halted
    run(state, quote("A", "149.90", "150.10"))
    assert state.take_marks()[0].halted


def test_a_quote_for_a_symbol_not_here_changes_nothing() -> None:
    state = make_state()
    before = state.state_hash()
    assert run(state, VenueQuote("A", "MSFT", D("1"), D("1"), D("2"), D("1"), 1)) == []
    assert state.state_hash() == before
