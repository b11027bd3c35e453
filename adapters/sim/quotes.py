"""The market maker's quote model, shared by the sim venue (``adapters/sim/venue.py``) and the
FIX market-maker simulator (``adapters/fix/simulator/``).

Per symbol the market maker keeps a mid price that takes a random walk, one step per *tick*,
and shows a two-sided quote around it: a half-spread of at least one tick each side, and a
size each side drawn in whole units. What each of them does with the quote (fills against
it, sends it over FIX) is theirs; how the quote moves is decided here, once.

Guarantees:

* **Pure and seeded.** Randomness comes only from the ``random.Random`` given, made by
  ``random_walk(seed, symbol)``: the same seed, symbol and calls give the same quotes, in
  any process.
* **Exact.** Every number is a fixed-point ``int`` (``model.fixed``); the mid and both
  prices stay on the tick, the mid never below ``MID_FLOOR_TICKS`` ticks, the bid never
  below one tick, and the bid always under the ask.
"""

from __future__ import annotations

import random
from typing import Protocol

import msgspec

from model import fixed
from model.enums import Side

BASIS_POINTS = 10_000

# Model constants of the market maker itself (not venue rules, so not in conf/):
MID_FLOOR_TICKS = 10  # the random walk never takes the mid below ten ticks
MAX_CATCH_UP_TICKS = 10  # after a long pause a market maker runs at most this many ticks, skips the rest


class QuoteShape(Protocol):
    """What shapes the quotes: ``[sim]`` in server.toml, ``[quotes]`` in the simulator's file."""

    @property
    def spread_bps(self) -> int:
        """The full spread around the mid; half of it each side, at least one tick."""

    @property
    def volatility_bps(self) -> int:
        """Each tick moves the mid by a whole number of bps in ±volatility_bps."""

    @property
    def quote_size(self) -> int:
        """Whole units; each side's size is drawn from [quote_size/2, 3·quote_size/2]."""


class Book(msgspec.Struct, array_like=True):
    """The market maker's current quote in one symbol. The sim venue shrinks the sizes as
    fills consume them; the next tick draws them afresh."""

    mid: int
    bid: int = 0
    ask: int = 0
    bid_size: int = 0
    ask_size: int = 0

    def price_for(self, side: Side) -> int:
        """The price an order on ``side`` trades at: the ask for a buy, the bid for a sell."""
        return self.ask if side is Side.BUY else self.bid

    def size_for(self, side: Side) -> int:
        """The size shown to an order on ``side``: the ask's for a buy, the bid's for a sell."""
        return self.ask_size if side is Side.BUY else self.bid_size

    def take(self, side: Side, qty: int) -> None:
        """A fill of ``qty`` to an order on ``side`` consumes that much of the size shown."""
        if side is Side.BUY:
            self.ask_size -= qty
        else:
            self.bid_size -= qty


def random_walk(seed: int, symbol: str) -> random.Random:
    """The generator of one symbol's walk and sizes: one per symbol, so adding a symbol
    leaves the others' markets as they were."""
    return random.Random(f"{seed}:{symbol}")


def starting_mid(price: int, tick: int) -> int:
    """Where the walk starts: ``price`` floored to the tick, kept above the floor."""
    return max(fixed.floor_to(price, tick), MID_FLOOR_TICKS * tick)


def move_mid(book: Book, generator: random.Random, tick: int, shape: QuoteShape) -> None:
    """One random-walk step of a whole number of bps in ±volatility_bps, rounded to the
    tick, floored at ``MID_FLOOR_TICKS`` ticks."""
    volatility = shape.volatility_bps
    step_bps = uniform(generator, -volatility, volatility)
    step = round_to_tick(book.mid * step_bps, BASIS_POINTS, tick)
    book.mid = max(book.mid + step, MID_FLOOR_TICKS * tick)


def draw_quote(book: Book, generator: random.Random, tick: int, shape: QuoteShape) -> None:
    """Bid and ask around the mid with a half-spread of at least one tick (the bid never
    below one tick); sizes in whole units drawn from [quote_size/2, 3·quote_size/2]."""
    half_spread = max(tick, round_to_tick(book.mid * shape.spread_bps, 2 * BASIS_POINTS, tick))
    book.bid = max(tick, book.mid - half_spread)
    book.ask = book.mid + half_spread
    low = max(1, shape.quote_size // 2)
    high = max(low, 3 * shape.quote_size // 2)
    book.bid_size = uniform(generator, low, high) * fixed.SCALE
    book.ask_size = uniform(generator, low, high) * fixed.SCALE


def next_quote(book: Book, generator: random.Random, tick: int, shape: QuoteShape) -> None:
    """One tick: the mid takes its step, then a fresh quote is drawn around it."""
    move_mid(book, generator, tick, shape)
    draw_quote(book, generator, tick, shape)


def uniform(generator: random.Random, low: int, high: int) -> int:
    """An integer drawn uniformly from ``[low, high]``: ``low`` plus the first draw of ``k``
    random bits (``generator.getrandbits(k)``, ``k`` the bit length of the width
    ``high - low + 1``) that falls below the width. ``ValueError`` for an empty range
    (``high < low``), as ``randint`` gives.

    It makes the very draws ``generator.randint(low, high)`` makes on CPython 3.2 and later
    (``randrange``'s ``_randbelow_with_getrandbits``), so markets seeded before it came are
    unchanged (a test compares the two); and the rule being written here, a later Python's
    ``randint`` cannot change them (the seeding and the bits stay ``random.Random``'s). At a
    third of the cost: ``randint`` checks its arguments and makes two more calls a draw, and
    the sim venue draws three a quote, 10,000 quotes a second in the benchmarks."""
    width = high - low + 1
    if width < 1:
        raise ValueError(f"empty range [{low}, {high}]")
    bits = width.bit_length()
    drawn = generator.getrandbits(bits)
    while drawn >= width:
        drawn = generator.getrandbits(bits)
    return low + drawn


def catch_up(next_tick: int, now: int, interval: int) -> int:
    """When the next tick is due after a pause: unchanged while at most
    ``MAX_CATCH_UP_TICKS`` are due by ``now``, else moved on so that only the latest
    ``MAX_CATCH_UP_TICKS`` run (the market does not replay minutes of ticks at once)."""
    due = (now - next_tick) // interval + 1
    if due > MAX_CATCH_UP_TICKS:
        return next_tick + (due - MAX_CATCH_UP_TICKS) * interval
    return next_tick


def crosses(side: Side, limit: int | None, quote_price: int) -> bool:
    """Whether an order on ``side`` with ``limit`` (``None``: market) may trade at
    ``quote_price``: a buy at or below its limit, a sell at or above it."""
    if limit is None:
        return True
    return quote_price <= limit if side is Side.BUY else quote_price >= limit


def round_to_tick(numerator: int, denominator: int, tick: int) -> int:
    """``numerator / denominator`` rounded to the nearest multiple of ``tick``, halves away from zero."""
    unit = denominator * tick
    ticks = (2 * abs(numerator) + unit) // (2 * unit)
    return ticks * tick if numerator >= 0 else -ticks * tick
