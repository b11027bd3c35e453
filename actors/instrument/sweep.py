"""Splitting an order across venues (a sweep), the pure plan: which venues, how much at
each, at what price. No state, no I/O; fixed-point ints (``model.fixed``).

Venues are ranked by the price an order that takes their displayed quantity pays net of
the venue's take fee (a buy: ask + fee, lowest first; a sell: bid − fee, highest first),
then by their order in config. Each child takes one venue's displayed size at that venue's
price (a limit at it, so it never pays more there); what the displayed sizes leave goes, by
``remainder``:

* ``send`` — with the best venue's child, which then carries the parent's own terms (its
  limit, or a market order) for its displayed size and the rest;
* ``rest`` — as a child of its own, on the parent's terms, at the venue paying the best
  rebate (the best ranked among equals), where a limit order rests.

Guarantees: the children's quantities sum to the quantity asked; no child's limit is worse
than the parent's; no venue past the parent's limit gets a child; a plan has at least two
children, else there is nothing to split (``None``: route as one child).
"""

from __future__ import annotations

from typing import NamedTuple


class VenueQuoteView(NamedTuple):
    """One venue as a sweep sees it: its displayed price and size on the side taken, its
    fees per share, and its rank in config."""

    venue: str
    price: int
    size: int
    take_fee: int
    rebate: int
    rank: int


class Leg(NamedTuple):
    venue: str
    qty: int
    price: int | None  # the child's limit; None: the parent's terms (a market order, or its own limit)


def plan(buy: bool, limit: int | None, qty: int, quotes: list[VenueQuoteView], remainder: str) -> list[Leg] | None:
    """The children of a sweep of ``qty`` (``limit``: the parent's, ``None`` for a market
    order), or ``None`` when the best venue shows enough alone or there is nothing to split."""
    usable = [q for q in quotes if q.size > 0 and (limit is None or (q.price <= limit if buy else q.price >= limit))]
    if not usable:
        return None
    usable.sort(key=lambda q: ((q.price + q.take_fee) if buy else -(q.price - q.take_fee), q.rank))
    if usable[0].size >= qty:
        return None
    legs: list[Leg] = []
    left = qty
    for quote in usable:
        if left <= 0:
            break
        take = min(quote.size, left)
        legs.append(Leg(quote.venue, take, quote.price))
        left -= take
    if left > 0:
        if remainder == "rest":
            resting = max(quotes, key=lambda q: (q.rebate, -q.rank))
            legs.append(Leg(resting.venue, left, None))
        else:
            best = legs[0]
            legs[0] = Leg(best.venue, best.qty + left, None)
    return legs if len(legs) >= 2 else None
