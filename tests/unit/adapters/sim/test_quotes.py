"""The market maker's quote model, shared by the sim venue and the FIX market-maker simulator."""

from __future__ import annotations

import random

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.sim.quotes import (
    MAX_CATCH_UP_TICKS,
    MID_FLOOR_TICKS,
    Book,
    catch_up,
    crosses,
    draw_quote,
    move_mid,
    next_quote,
    random_walk,
    round_to_tick,
    starting_mid,
    uniform,
)
from model import fixed
from model.config import SimSection
from model.enums import Side

TICK = fixed.parse("0.01")
INTERVAL = 100 * 1_000_000


class Shape(msgspec.Struct, frozen=True):
    spread_bps: int = 10
    volatility_bps: int = 5
    quote_size: int = 500


def test_a_symbol_walks_the_same_in_every_run_and_independently_of_the_others() -> None:
    def walk(seed: int, symbol: str) -> list[Book]:
        book, generator = Book(mid=fixed.parse("150")), random_walk(seed, symbol)
        books = []
        for _ in range(50):
            next_quote(book, generator, TICK, Shape())
            books.append(msgspec.structs.replace(book))
        return books

    assert walk(7, "IBM") == walk(7, "IBM")
    assert walk(7, "IBM") != walk(8, "IBM")
    assert walk(7, "IBM") != walk(7, "AAPL")


def test_the_quote_straddles_the_mid_by_half_the_spread_on_the_tick() -> None:
    book = Book(mid=fixed.parse("150"))
    draw_quote(book, random_walk(7, "IBM"), TICK, Shape(spread_bps=10))
    assert (book.bid, book.ask) == (fixed.parse("149.92"), fixed.parse("150.08"))  # 150 × 5 bps = 0.075 → 0.08


def test_the_half_spread_is_at_least_one_tick_and_the_bid_at_least_one_tick() -> None:
    book = Book(mid=2 * TICK)
    draw_quote(book, random_walk(7, "X"), TICK, Shape(spread_bps=0))
    assert (book.bid, book.ask) == (TICK, 3 * TICK)
    low = Book(mid=TICK)
    draw_quote(low, random_walk(7, "X"), TICK, Shape(spread_bps=0))
    assert low.bid == TICK < low.ask


@pytest.mark.parametrize("quote_size", [1, 2, 500])
def test_sizes_are_whole_units_within_half_and_one_and_a_half_times_the_quote_size(quote_size: int) -> None:
    book, generator = Book(mid=fixed.parse("150")), random_walk(3, "IBM")
    low, high = max(1, quote_size // 2), max(max(1, quote_size // 2), 3 * quote_size // 2)
    for _ in range(200):
        draw_quote(book, generator, TICK, Shape(quote_size=quote_size))
        for size in (book.bid_size, book.ask_size):
            assert size % fixed.SCALE == 0 and low <= size // fixed.SCALE <= high


@given(st.integers(min_value=1, max_value=10**6), st.integers(min_value=0, max_value=500), st.integers(min_value=0, max_value=1000))
def test_the_walk_stays_on_the_tick_and_above_its_floor(seed: int, volatility: int, start_ticks: int) -> None:
    book, generator = Book(mid=starting_mid(start_ticks * TICK, TICK)), random_walk(seed, "IBM")
    for _ in range(30):
        move_mid(book, generator, TICK, Shape(volatility_bps=volatility))
        assert book.mid % TICK == 0 and book.mid >= MID_FLOOR_TICKS * TICK


def test_a_calm_market_does_not_move() -> None:
    book = Book(mid=fixed.parse("150"))
    move_mid(book, random_walk(1, "IBM"), TICK, Shape(volatility_bps=0))
    assert book.mid == fixed.parse("150")


def test_the_walk_starts_at_the_price_floored_to_the_tick_and_above_the_floor() -> None:
    assert starting_mid(fixed.parse("150.257"), TICK) == fixed.parse("150.25")
    assert starting_mid(fixed.parse("0.03"), TICK) == MID_FLOOR_TICKS * TICK


def test_the_sim_section_is_a_quote_shape() -> None:
    book = Book(mid=fixed.parse("150"))
    draw_quote(book, random_walk(7, "IBM"), TICK, SimSection(spread_bps=10))
    assert book.ask - book.bid == fixed.parse("0.16")


def test_a_book_answers_for_each_side_and_a_fill_consumes_what_it_shows() -> None:
    book = Book(mid=10, bid=9, ask=11, bid_size=5, ask_size=7)
    assert (book.price_for(Side.BUY), book.price_for(Side.SELL)) == (11, 9)
    assert (book.size_for(Side.BUY), book.size_for(Side.SELL)) == (7, 5)
    book.take(Side.BUY, 3)
    book.take(Side.SELL, 5)
    assert (book.ask_size, book.bid_size) == (4, 0)


@pytest.mark.parametrize(
    ("side", "limit", "price", "crossing"),
    [
        (Side.BUY, None, 100, True),
        (Side.BUY, 100, 100, True),
        (Side.BUY, 99, 100, False),
        (Side.SELL, None, 100, True),
        (Side.SELL, 100, 100, True),
        (Side.SELL, 101, 100, False),
    ],
)
def test_an_order_crosses_at_or_better_than_its_limit(side: Side, limit: int | None, price: int, crossing: bool) -> None:
    assert crosses(side, limit, price) is crossing


def test_after_a_long_pause_only_the_latest_ticks_are_due() -> None:
    start = 1_000 * INTERVAL
    assert catch_up(start, start - 1, INTERVAL) == start  # not yet due
    assert catch_up(start, start + (MAX_CATCH_UP_TICKS - 1) * INTERVAL, INTERVAL) == start
    now = start + 1_000 * INTERVAL
    moved = catch_up(start, now, INTERVAL)
    assert (now - moved) // INTERVAL + 1 == MAX_CATCH_UP_TICKS


@pytest.mark.parametrize(
    ("numerator", "denominator", "rounded"),
    [(15, 10, 2), (14, 10, 1), (-15, 10, -2), (-14, 10, -1), (0, 10, 0), (25, 10, 3)],
)
def test_round_to_tick_rounds_halves_away_from_zero(numerator: int, denominator: int, rounded: int) -> None:
    assert round_to_tick(numerator, denominator, 1) == rounded


@pytest.mark.parametrize(("low", "high"), [(0, 0), (-5, 5), (1, 1), (0, 7), (0, 8), (250, 750), (10_000, 30_000), (-500, 500), (0, 2**40)])
def test_uniform_draws_what_randint_draws_so_seeded_markets_are_unchanged(low: int, high: int) -> None:
    ours, theirs = random.Random(f"7:{low}:{high}"), random.Random(f"7:{low}:{high}")
    drawn = [uniform(ours, low, high) for _ in range(2_000)]
    assert drawn == [theirs.randint(low, high) for _ in range(2_000)]
    assert ours.getstate() == theirs.getstate()  # the same bits consumed: every later draw the same too
    assert all(low <= value <= high for value in drawn)


def test_uniform_reaches_both_ends_and_every_value_between() -> None:
    generator = random.Random(1)
    assert {uniform(generator, -3, 3) for _ in range(2_000)} == set(range(-3, 4))


def test_a_walk_is_the_one_seeded_with_randint_before_uniform_came() -> None:
    """The quote model as it was written with ``random.Random.randint``: the same books, tick
    after tick (the sim venue's and the simulator's markets, which tests seed, unchanged)."""

    def with_randint(book: Book, generator: random.Random, shape: Shape) -> None:
        step = round_to_tick(book.mid * generator.randint(-shape.volatility_bps, shape.volatility_bps), 10_000, TICK)
        book.mid = max(book.mid + step, MID_FLOOR_TICKS * TICK)
        half_spread = max(TICK, round_to_tick(book.mid * shape.spread_bps, 20_000, TICK))
        book.bid, book.ask = max(TICK, book.mid - half_spread), book.mid + half_spread
        low = max(1, shape.quote_size // 2)
        high = max(low, 3 * shape.quote_size // 2)
        book.bid_size = generator.randint(low, high) * fixed.SCALE
        book.ask_size = generator.randint(low, high) * fixed.SCALE

    for symbol, shape in (("IBM", Shape()), ("AAPL", Shape(spread_bps=3, volatility_bps=40, quote_size=20_000)), ("X", Shape(quote_size=1))):
        ours, theirs = Book(mid=fixed.parse("150")), Book(mid=fixed.parse("150"))
        ours_generator, theirs_generator = random_walk(7, symbol), random_walk(7, symbol)
        for _ in range(500):
            next_quote(ours, ours_generator, TICK, shape)
            with_randint(theirs, theirs_generator, shape)
            assert ours == theirs


def test_uniform_refuses_an_empty_range_as_randint_does() -> None:
    with pytest.raises(ValueError, match="empty range"):
        uniform(random.Random(1), 1, -1)


@pytest.mark.parametrize("field", [{"volatility_bps": -1}, {"spread_bps": -1}, {"quote_size": 0}])
def test_a_sim_section_that_cannot_draw_a_quote_is_refused(field: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="sim:"):
        SimSection(**field)
