"""Allocating a block fill back to the orders it was built from: exact, pro rata, vectorised.

Everything here is an integer count of *units*: the caller converts quantities to increments
of the instrument and cash to whole cents before calling. Nothing is ever a float in a result:
the shares of a block sum exactly to its fill, and its cash shares to its booked cash.

Rounding rule (largest remainder, Hamilton's method): every order first gets the floor of its
exact share ``total × w_i / W``; the units left over then go one each to the orders with the
largest exact remainder ``total × w_i mod W``, lower index first on ties (the caller sorts
orders by order id), so every order ends within one unit of its exact share.

Exactness without overflow: ``total × w_i`` may not fit in int64, and Python ints per order are
too slow. :func:`_divide_product` splits each weight into two 31-bit halves so the quotient
needs only a float64 estimate of a number below 2^32 (off by at most one), and the remainder
is computed in int64 arithmetic that may wrap: its true value lies in ``[-W, 2W)``, which fits
in int64, so the wrapped result is the true one. One vectorised correction makes it exact.

Speed, measured once on the 2-core development machine (numpy 2.4, 1,000,000 orders, weights
up to 10^8, total 10^12): pro_rata ~45 ms; split_qty_block ~80 ms; split_cash_block ~95 ms.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

LIMIT = 2**62  # totals and weight sums must stay below this: 2W then fits in int64
_HALF_BITS = 31  # a weight below 2^62 is two halves below 2^31
_LOW_MASK = (1 << _HALF_BITS) - 1

Units = NDArray[np.int64]


class Split(NamedTuple):
    """A block fill allocated to its orders; the unplaced units belong to the house account."""

    qty: Units  # per order, increments
    cash: Units  # per order, cents
    unplaced_qty: int  # increments no order could take under its cap
    unplaced_cash: int  # cents that go with the unplaced increments


def pro_rata(total: int, weights: Units, caps: Units | None = None) -> tuple[Units, int]:
    """Split ``total`` units over orders pro rata to ``weights``, by largest remainder.

    Each order gets ``floor(total × w_i / W)`` clipped to ``caps_i``; the residual units go one
    each, at most one per order, to orders still below their cap, largest exact remainder
    first, lower index first on ties. Returns ``(shares, unplaced)``: ``sum(shares) +
    unplaced == total`` exactly, ``unplaced`` is what no order could take under its cap
    (always 0 without caps). Deterministic; the inputs are not modified.

    Raises ValueError for a negative total, weight or cap, ``total`` or ``W`` not below 2^62,
    or ``total > 0`` with every weight zero; TypeError for arrays that are not 1-D int64.
    """
    total = _check_total(total)
    weights = _check_units(weights, "weights")
    weight_sum = _exact_sum(weights)
    if weight_sum >= LIMIT:
        raise ValueError(f"sum of weights {weight_sum} is not below 2^62")
    if caps is not None:
        caps = _check_units(caps, "caps")
        if caps.shape != weights.shape:
            raise ValueError(f"caps has shape {caps.shape}, weights {weights.shape}")
    if total == 0:
        return np.zeros_like(weights), 0
    if weight_sum == 0:
        raise ValueError(f"cannot split {total} units over weights that are all zero")

    shares, remainders = _divide_product(total, weights, weight_sum)
    if caps is None:
        eligible = np.ones(shares.shape, dtype=bool)
    else:
        np.minimum(shares, caps, out=shares)
        eligible = shares < caps
    residual = total - int(shares.sum())
    chosen = _largest_remainders(remainders, eligible, residual)
    shares[chosen] += 1
    return shares, residual - int(np.count_nonzero(chosen))


def split_qty_block(fill_qty: int, fill_cash: int, asked_qty: Units) -> Split:
    """Allocate a fill of orders that asked for quantities (``fill_qty <= sum(asked_qty)``).

    ``qty`` is pro rata to ``asked_qty``, capped by it, and never leaves anything unplaced
    (each exact share is at most the integer asked, so is its ceiling). ``cash`` is pro rata
    to ``qty``: every order pays within one cent of its shares at the block's average price.
    """
    fill_qty, fill_cash = _check_fill(fill_qty, fill_cash)
    asked_qty = _check_asked(asked_qty, "asked_qty", fill_qty, "increments")
    if fill_qty == 0:
        return _nothing(asked_qty)
    qty, unplaced_qty = pro_rata(fill_qty, asked_qty, caps=asked_qty)
    cash, _ = pro_rata(fill_cash, qty)
    return Split(qty, cash, unplaced_qty, 0)


def split_cash_block(fill_qty: int, fill_cash: int, asked_cash: Units) -> Split:
    """Allocate a fill of notional orders (``asked_cash`` in cents, ``fill_cash <= sum``).

    ``qty`` is pro rata to ``asked_cash``, each order capped at ``floor(asked_cash_i ×
    fill_qty / fill_cash)``, the most increments its cash buys at the block's average price;
    increments nobody can take are unplaced (house account). ``cash`` is pro rata to ``qty``
    over all ``fill_qty`` increments, the house's included, capped by ``asked_cash``, so
    the house pays for its unplaced increments at the same average price.

    Guarantee: ``cash_i <= asked_cash_i``, and the cash caps never bind. Proof: ``qty_i <=
    cap_i <= asked_cash_i × fill_qty / fill_cash``, so the exact share ``fill_cash × qty_i /
    fill_qty <= asked_cash_i``; largest remainder rounds an exact share at most up to its
    ceiling, which is ``<= asked_cash_i`` because that is an integer.
    """
    fill_qty, fill_cash = _check_fill(fill_qty, fill_cash)
    asked_cash = _check_asked(asked_cash, "asked_cash", fill_cash, "cents")
    if fill_qty == 0:
        return _nothing(asked_cash)
    qty_caps = None if fill_cash == 0 else _affordable_qty(fill_qty, fill_cash, asked_cash)
    qty, unplaced_qty = pro_rata(fill_qty, asked_cash, caps=qty_caps)
    with_house = np.append(qty, np.int64(unplaced_qty))
    cash_caps = np.append(asked_cash, np.int64(fill_cash))
    cash, uncapped_cash = pro_rata(fill_cash, with_house, caps=cash_caps)
    return Split(qty, cash[:-1], unplaced_qty, int(cash[-1]) + uncapped_cash)


def _affordable_qty(fill_qty: int, fill_cash: int, asked_cash: Units) -> Units:
    """``floor(asked_cash_i × fill_qty / fill_cash)``, at most ``fill_qty`` (no order needs more)."""
    quotient, _ = _divide_product(fill_qty, np.minimum(asked_cash, fill_cash), fill_cash)
    return quotient


def _divide_product(multiplier: int, values: Units, divisor: int) -> tuple[Units, Units]:
    """Exact ``divmod(multiplier × v_i, divisor)`` per value, in int64 only.

    Requires ``0 <= multiplier < 2^62``, ``0 <= v_i <= divisor < 2^62``, so every quotient is
    at most ``multiplier``. With ``multiplier = A·D + B``, ``B·2^31 = C·D + E`` (scalars, exact
    Python ints) and ``v = h·2^31 + l``: ``multiplier × v = (A·v + h·C)·D + (h·E + l·B)``, and
    ``(h·E + l·B) / D < h + l < 2^32`` is estimated by float64 to within one.
    """
    whole, part = divmod(multiplier, divisor)
    carried, carried_part = divmod(part << _HALF_BITS, divisor)
    high = values >> _HALF_BITS
    low = values & _LOW_MASK
    estimate = (high.astype(np.float64) * float(carried_part) + low.astype(np.float64) * float(part)) / float(divisor)
    small = np.floor(estimate).astype(np.int64)
    with np.errstate(over="ignore"):  # the products wrap; their sum's true value lies in [-D, 2D)
        remainder = high * np.int64(carried_part) + low * np.int64(part) - small * np.int64(divisor)
    correction = remainder // np.int64(divisor)  # -1, 0 or +1
    small += correction
    remainder -= correction * np.int64(divisor)
    quotient = values * np.int64(whole) + high * np.int64(carried) + small
    return quotient, remainder


def _largest_remainders(remainders: Units, eligible: NDArray[np.bool_], count: int) -> NDArray[np.bool_]:
    """Mask of the ``count`` eligible orders with the largest remainders, lower index first on ties.

    O(n): a partition finds the threshold remainder; all above it are taken, and ties at it
    are taken in index order until ``count`` is reached. All eligible orders if too few.
    """
    if count >= np.count_nonzero(eligible):
        return eligible
    chosen = np.zeros(remainders.shape, dtype=bool)
    if count <= 0:
        return chosen
    candidates = np.flatnonzero(eligible)
    candidate_remainders = remainders[candidates]
    threshold = np.partition(candidate_remainders, -count)[-count]
    above = candidates[candidate_remainders > threshold]
    at_threshold = candidates[candidate_remainders == threshold]
    chosen[above] = True
    chosen[at_threshold[: count - len(above)]] = True
    return chosen


def _exact_sum(values: Units) -> int:
    """Sum of non-negative int64 values as a Python int, exact for fewer than 2^31 of them."""
    high = int((values >> 32).sum())
    low = int((values & 0xFFFFFFFF).sum())
    return (high << 32) + low


def _check_total(total: int) -> int:
    if isinstance(total, bool) or not isinstance(total, int | np.integer):
        raise TypeError(f"total must be an integer count of units, not {type(total).__name__}")
    total = int(total)
    if not 0 <= total < LIMIT:
        raise ValueError(f"total {total} is not in [0, 2^62)")
    return total


def _check_fill(fill_qty: int, fill_cash: int) -> tuple[int, int]:
    fill_qty, fill_cash = _check_total(fill_qty), _check_total(fill_cash)
    if fill_qty == 0 and fill_cash != 0:
        raise ValueError(f"a fill of no quantity cannot book {fill_cash} cents")
    return fill_qty, fill_cash


def _check_units(values: Units, name: str) -> Units:
    if not isinstance(values, np.ndarray) or values.dtype != np.int64 or values.ndim != 1:
        raise TypeError(f"{name} must be a 1-D int64 array")
    if values.size and values.min() < 0:
        raise ValueError(f"{name} has a negative entry at index {int(np.argmin(values))}")
    return values


def _check_asked(asked: Units, name: str, fill: int, unit: str) -> Units:
    """``asked`` checked as units, and the ``fill`` (in ``unit``) within their sum."""
    asked = _check_units(asked, name)
    if fill > _exact_sum(asked):
        raise ValueError(f"fill of {fill} {unit} exceeds the {_exact_sum(asked)} asked")
    return asked


def _nothing(orders: Units) -> Split:
    return Split(np.zeros_like(orders), np.zeros_like(orders), 0, 0)
