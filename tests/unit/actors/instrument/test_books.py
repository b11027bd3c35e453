"""Books: quotes from venues consolidated into one best bid and offer."""

from __future__ import annotations

import random

from actors.instrument.core import InstrumentState
from actors.runtime.outputs import GATEWAY
from model.config import VenueSection
from model.enums import SessionState
from model.messages import MarketUpdate, QuoteEvent, SetTradingStatus, VenueQuote, VenueSessionChanged
from tests.unit.actors.instrument.support import IBM, D, make_state, of_type, quote, run


def test_quotes_from_venues_consolidate_to_the_best_bid_and_offer_with_summed_size() -> None:
    state = make_state()
    run(state, quote("A", "149.90", "150.10"))
    sends = run(state, quote("B", "149.90", "150.05", size="50"))
    event = of_type(sends, QuoteEvent)[0].message
    assert (event.bid, event.bid_size, event.ask, event.ask_size) == (D("149.90"), D("150"), D("150.05"), D("50"))
    [update] = state.take_marks()
    assert update.reference == D("149.97") and (update.bid, update.ask) == (D("149.90"), D("150.05"))
    assert of_type(sends, QuoteEvent)[0].kind == GATEWAY


def test_the_consolidated_book_is_the_best_price_each_side_with_the_sizes_of_every_venue_at_it() -> None:
    # the rule written plainly, against the book after each of many quotes from four venues:
    # one-sided and empty quotes, ties at the best price, a venue improving and retreating
    venues = ["A", "B", "C", "D"]
    state = InstrumentState("instrument-0", [IBM], [VenueSection(name=name) for name in venues])
    rng = random.Random(7)
    latest: dict[str, VenueQuote] = {}
    for _ in range(2_000):
        bid = rng.choice([None, *range(14_990_000_000, 15_000_000_001, 2_500_000)])
        ask = rng.choice([None, *range(15_000_000_000, 15_010_000_001, 2_500_000)])
        venue = rng.choice(venues)
        latest[venue] = VenueQuote(venue, "IBM", bid, rng.randrange(1, 5) * 100_000_000, ask, rng.randrange(1, 5) * 100_000_000, 1)
        run(state, latest[venue])
        bids = [(q.bid, q.bid_size) for q in latest.values() if q.bid is not None]
        asks = [(q.ask, q.ask_size) for q in latest.values() if q.ask is not None]
        best_bid = max((price for price, _ in bids), default=None)
        best_ask = min((price for price, _ in asks), default=None)
        book = state.books["IBM"]
        assert (book.bid, book.bid_size) == (best_bid, sum(size for price, size in bids if price == best_bid))
        assert (book.ask, book.ask_size) == (best_ask, sum(size for price, size in asks if price == best_ask))


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
