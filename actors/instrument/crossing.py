"""Internal crossing, the pure rules: when the consolidated quote allows a cross, at what
price, and which resting orders an incoming one meets first. No state, no I/O.

Prices are fixed-point ints (``model.fixed``). The rule for the price of a cross:

* the *window* is what neither party's limit nor the NBBO forbids: from the higher of the
  best bid and the seller's limit up to the lower of the best offer and the buyer's limit,
  narrowed inward to whole ticks (up at the bottom, down at the top);
* the *target* is the policy's: ``mid`` — the midpoint ``(bid + ask) / 2`` rounded **down**
  to the tick — or the best ``bid`` or ``ask``;
* the price is the target moved into the window; an empty window: no cross.

Guarantees: a price this module gives is a whole number of ticks with ``bid ≤ price ≤
ask`` (never through a protected quote) and within both orders' limits; a stale, one-sided
or crossed NBBO (and a locked one unless the policy allows it) gives no price at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from model.liquidity import LiquidityPolicy
from model.messages import VenueQuote

# why a symbol did not cross (``InstrumentState.cross_skips`` counts them)
NO_NBBO = "no_nbbo"
CROSSED_MARKET = "crossed_market"
LOCKED_MARKET = "locked_market"
STALE_QUOTE = "stale_quote"


class Nbbo(NamedTuple):
    bid: int
    ask: int


def nbbo_for_crossing(
    bid: int | None, ask: int | None, quotes: Iterable[VenueQuote], now: int, policy: LiquidityPolicy
) -> Nbbo | str:
    """The NBBO a cross may price from, or why there is none: one side missing, the market
    crossed (bid above ask), locked (bid = ask) unless ``cross_locked``, or stale — a quote
    setting the best bid or offer older than ``max_quote_age_ns`` at ``now``."""
    if bid is None or ask is None:
        return NO_NBBO
    if bid > ask:
        return CROSSED_MARKET
    if bid == ask and not policy.cross_locked:
        return LOCKED_MARKET
    if stale(bid, ask, quotes, now, policy):
        return STALE_QUOTE
    return Nbbo(bid, ask)


def stale(bid: int, ask: int, quotes: Iterable[VenueQuote], now: int, policy: LiquidityPolicy) -> bool:
    """Whether a quote setting the best bid ``bid`` or the best offer ``ask`` is older than
    ``max_quote_age_ns`` at ``now``."""
    oldest = now - policy.max_quote_age_ns
    for quote in quotes:
        if (quote.bid == bid or quote.ask == ask) and quote.ts < oldest:
            return True
    return False


def cross_price(nbbo: Nbbo, tick: int, rule: str, buy_limit: int | None, sell_limit: int | None) -> int | None:
    """The price a buyer with ``buy_limit`` and a seller with ``sell_limit`` (``None``: a
    market order) cross at under ``nbbo``, or ``None`` when no price is allowed."""
    low = nbbo.bid if sell_limit is None else max(nbbo.bid, sell_limit)
    high = nbbo.ask if buy_limit is None else min(nbbo.ask, buy_limit)
    low = -((-low) // tick) * tick  # up to the tick: never below the bid or the seller's limit
    high = high - high % tick  # down to the tick: never above the ask or the buyer's limit
    if low > high:
        return None
    if rule == "bid":
        target = nbbo.bid
    elif rule == "ask":
        target = nbbo.ask
    else:
        mid = (nbbo.bid + nbbo.ask) // 2
        target = mid - mid % tick
    return min(max(target, low), high)


def marketable(buy: bool, limit: int | None, nbbo: Nbbo) -> bool:
    """Whether an order would trade at once against the NBBO: a market order, a buy limited
    at or above the best offer, a sell at or below the best bid."""
    if limit is None:
        return True
    return limit >= nbbo.ask if buy else limit <= nbbo.bid


def priority(buy: bool, limit: int | None) -> int:
    """A resting order's price rank, lower first: the highest buy, the lowest sell, and a
    market order ahead of any limit. Ties keep their arrival order (the sort is stable)."""
    if limit is None:
        return -(1 << 62)
    return -limit if buy else limit
