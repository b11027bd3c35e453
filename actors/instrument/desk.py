"""The market-making desk's quoting rules, pure: what two-sided quotes the firm wants in a
symbol, which working quotes a refresh keeps, and its inventory and P&L from its fills.

The knobs follow Hummingbot's pure market making: a spread each side of the consolidated
mid, order levels further out, a refresh tolerance, inventory skew toward a target
position; and the desk's own limits: a maximum position and a maximum loss per day, after
which it quotes nothing. No state of its own beyond ``DeskBook``; no I/O; fixed-point ints
(``model.fixed``), bps as ints.

Guarantees:

* **Never through its limits.** The bids ``refresh`` places, added to the desk's position
  and to what every working bid may still buy (those being canceled too, until they have
  ended), never take it above ``max_position``; the asks likewise never below
  ``-max_position``. Once its loss of the day reaches ``max_loss`` (fills at
  their prices, the position marked at the mid) it wants no quote at all until the next
  day's ``start_day`` and an operator's start.
* **Never through the market.** A bid is below the best offer, an ask above the best bid,
  each a whole number of ticks (bids rounded down, asks up).
* **Skew the stated way.** Above its target position the desk bids less and offers more
  (sizes), and moves both prices down by ``skew_bps`` at the edge of ``skew_range``
  (price); below its target, the reverse.
"""

from __future__ import annotations

from typing import NamedTuple

import msgspec

from model import fixed
from model.desk import BPS, DeskParams

__all__ = ["BPS", "DeskBook", "DeskParams", "Quote", "Working", "check_loss", "loss_of_day", "on_fill", "refresh", "start_day", "value_raw", "wanted"]


class DeskBook(msgspec.Struct, array_like=True):
    """What the desk holds in one symbol: its position and cash from its fills (Σ ± qty ×
    price, exact: at 10^-18, kept as two 64-bit halves so the book encodes to msgpack —
    ``cash_raw``), the day it counts its loss from and the value then (halves too), and why
    it stopped (``""``: quoting)."""

    position: int = 0
    cash_nanos: int = 0
    cash_subnanos: int = 0
    day: str = ""
    day_start_nanos: int = 0
    day_start_subnanos: int = 0
    stopped: str = "stopped"  # "", "stopped" (an operator's stop, or never started), "max_loss", "refused" (the shard refused a quote)

    @property
    def cash_raw(self) -> int:
        return fixed.join_raw(self.cash_nanos, self.cash_subnanos)

    @cash_raw.setter
    def cash_raw(self, raw: int) -> None:
        self.cash_nanos, self.cash_subnanos = fixed.split_raw(raw)

    @property
    def day_start_raw(self) -> int:
        return fixed.join_raw(self.day_start_nanos, self.day_start_subnanos)

    @day_start_raw.setter
    def day_start_raw(self, raw: int) -> None:
        self.day_start_nanos, self.day_start_subnanos = fixed.split_raw(raw)


class Quote(NamedTuple):
    buy: bool
    level: int
    price: int
    qty: int


class Working(NamedTuple):
    """A quote of the desk's working now: its id, side, price and what is left of it."""

    quote_id: str
    buy: bool
    level: int
    price: int
    leaves: int


def value_raw(book: DeskBook, mark: int) -> int:
    """Cash plus the position at ``mark``, raw (10^-18)."""
    return book.cash_raw + book.position * mark


def start_day(book: DeskBook, day: str, mark: int) -> None:
    """A new trading day: the loss counts from the value now. A desk stopped for its loss
    stays stopped (an operator starts it again)."""
    if book.day != day:
        book.day = day
        book.day_start_raw = value_raw(book, mark)


def loss_of_day(book: DeskBook, mark: int) -> int:
    """The day's loss so far in money (SCALE), rounded toward a loss; negative: a gain."""
    return -((value_raw(book, mark) - book.day_start_raw) // fixed.SCALE)


def on_fill(book: DeskBook, params: DeskParams, buy: bool, qty: int, price: int, mark: int) -> None:
    """A fill of one of the desk's quotes; past its loss limit the desk stops."""
    book.position += qty if buy else -qty
    book.cash_raw += -qty * price if buy else qty * price
    check_loss(book, params, mark)


def check_loss(book: DeskBook, params: DeskParams, mark: int) -> bool:
    """Whether the desk is over its loss of the day at ``mark`` (then it stops)."""
    if params.max_loss and loss_of_day(book, mark) >= params.max_loss:
        book.stopped = "max_loss"
        return True
    return False


def wanted(params: DeskParams, book: DeskBook, bid: int | None, ask: int | None, tick: int, increment: int) -> list[Quote]:
    """The quotes the desk wants now around the NBBO's mid, nearest level first, bids then
    asks, each side's total within what its position leaves of ``max_position``; none while
    stopped, over its loss, or without a two-sided, uncrossed NBBO."""
    if book.stopped or bid is None or ask is None or bid >= ask:
        return []
    mid = (bid + ask) // 2
    if check_loss(book, params, mid):
        return []
    over = book.position - params.target_position
    skew = 0 if not params.skew_range else max(-params.skew_range, min(params.skew_range, over))
    # sizes: Hummingbot's inventory skew, a multiplier from 0 to 2 on each side (as a fraction of skew_range)
    bid_weight = params.skew_range - skew if params.skew_range else 1
    ask_weight = params.skew_range + skew if params.skew_range else 1
    scale = params.skew_range or 1
    # prices: both move against the inventory, up to skew_bps at the edge of the range
    center = mid - mid * params.skew_bps * skew // (BPS * scale)
    room_buy = params.max_position - book.position
    room_sell = params.max_position + book.position
    quotes: list[Quote] = []
    for buy, weight, room in ((True, bid_weight, room_buy), (False, ask_weight, room_sell)):
        for level in range(params.levels):
            distance = params.spread_bps + level * params.level_spread_bps
            size = (params.size + level * params.level_size_step) * weight // scale
            size = fixed.floor_to(min(size, room), increment) if room > 0 else 0
            if size <= 0:
                break
            if buy:
                price = fixed.floor_to(center - center * distance // BPS, tick)
                price = min(price, fixed.floor_to(ask - tick, tick))  # never at or through the offer
            else:
                price = fixed.ceil_to(center + center * distance // BPS, tick)
                price = max(price, fixed.ceil_to(bid + tick, tick))
            if price <= 0:
                break
            quotes.append(Quote(buy, level, price, size))
            room -= size
    return quotes


def refresh(
    params: DeskParams, book: DeskBook, working: list[Working], quotes: list[Quote], mid: int, increment: int, ending: list[Working] | tuple[()] = ()
) -> tuple[list[str], list[Quote]]:
    """What to cancel and what to place. A working quote stays when a quote is wanted on
    its side and level within ``refresh_tolerance_bps`` of the mid from its price and no
    larger than wanted (it keeps its priority); every other is canceled. A wanted quote
    without one staying is placed for at most what the side's limit leaves — counting the
    position and every working quote's leaves, the canceled ones (``ending``: asked to
    cancel before, not yet ended) included until they end — so the rest of it waits for
    the cancels to end."""
    tolerance = mid * params.refresh_tolerance_bps // BPS
    wanted_at = {(q.buy, q.level): q for q in quotes}
    cancel: list[str] = []
    kept: set[tuple[bool, int]] = set()
    for work in working:
        want = wanted_at.get((work.buy, work.level))
        if want is not None and (work.buy, work.level) not in kept and abs(want.price - work.price) <= tolerance and work.leaves <= want.qty:
            kept.add((work.buy, work.level))
        else:
            cancel.append(work.quote_id)
    exposure = {
        True: book.position + sum(w.leaves for w in (*working, *ending) if w.buy),
        False: -book.position + sum(w.leaves for w in (*working, *ending) if not w.buy),
    }
    place: list[Quote] = []
    for quote in quotes:
        if (quote.buy, quote.level) in kept:
            continue
        qty = fixed.floor_to(min(quote.qty, params.max_position - exposure[quote.buy]), increment)
        if qty <= 0:
            continue
        exposure[quote.buy] += qty
        place.append(quote._replace(qty=qty))
    return cancel, place
