"""Fixed-point numbers: every quantity, price and cash amount is an ``int`` in units of 10^-9.

One scale for everything (``SCALE`` = 10^9, "nano units"):

* ``"1.3"`` shares is ``1_300_000_000``; ``"150.25"`` dollars is ``150_250_000_000``.
* Cash is *booked* in whole cents (multiples of ``CENT``): the cost of a trade is
  ``qty × price × multiplier`` rounded to the cent — **up** for the buyer's debit and
  **down** for the seller's credit, so the broker never hands out a fraction of a cent
  it did not receive, and a notional buy (a whole-cent amount) never costs more than it.

No binary float is ever produced or accepted: decimal strings in, decimal strings out.
"""

from __future__ import annotations

import re

SCALE = 10**9
DECIMALS = 9
CENT = SCALE // 100
LARGEST = 2**63 - 1  # the largest value a message, a record or a journal holds: a signed 64-bit integer (msgpack's, numpy's)

_DECIMAL = re.compile(r"(-?)([0-9]{1,18})(?:\.([0-9]{1,9}))?")  # fullmatch: no trailing newline, ASCII digits only


class DecimalFormatError(ValueError):
    """A decimal string that is not a plain decimal with at most nine places."""


def parse(text: str) -> int:
    """``"1.30"`` → ``1_300_000_000``. Rejects exponents, blanks, '+', more than 9 places."""
    match = _DECIMAL.fullmatch(text)
    if match is None:
        raise DecimalFormatError(f"not a decimal number with at most {DECIMALS} places: {text[:64]!r}")
    sign, whole, frac = match.groups()
    value = int(whole) * SCALE + (int(frac.ljust(DECIMALS, "0")) if frac else 0)
    return -value if sign else value


class DecimalRangeError(DecimalFormatError):
    """A decimal string whose value, in units of 10^-9, does not fit a signed 64-bit integer."""


def parse_bounded(text: str) -> int:
    """``parse`` for a number from outside — a client's frame, a FIX field, a file: also
    refused (``DecimalRangeError``) when its units do not fit a signed 64-bit integer
    (``LARGEST``, 9223372036.854775807), which nothing downstream could encode."""
    value = parse(text)
    if not -LARGEST - 1 <= value <= LARGEST:
        raise DecimalRangeError(f"not a decimal number of at most {format(LARGEST)}: {text[:64]!r}")
    return value


def format(value: int, min_places: int = 0) -> str:
    """``1_300_000_000`` → ``"1.3"``; trailing zeros dropped, at least ``min_places`` kept."""
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), SCALE)
    digits = f"{frac:09d}".rstrip("0")
    if len(digits) < min_places:
        digits = digits.ljust(min_places, "0")
    return f"{sign}{whole}.{digits}" if digits else f"{sign}{whole}"


def format_cash(value: int) -> str:
    """Cash with exactly two places: ``100_000 * SCALE`` → ``"100000.00"``."""
    return format(value, min_places=2)


def is_multiple(value: int, increment: int) -> bool:
    return increment > 0 and value % increment == 0


def floor_to(value: int, increment: int) -> int:
    """Largest multiple of ``increment`` that is ≤ ``value`` (for value ≥ 0)."""
    return value - value % increment


def ceil_to(value: int, increment: int) -> int:
    """Smallest multiple of ``increment`` that is ≥ ``value`` (for value ≥ 0)."""
    return -((-value) // increment) * increment


def mul(a: int, b: int) -> int:
    """Exact product of two fixed-point values, truncated toward zero to 10^-9."""
    product = a * b
    return product // SCALE if product >= 0 else -((-product) // SCALE)


def raw_value(qty: int, price: int, multiplier: int = 1) -> int:
    """``qty × price × multiplier`` at scale 10^-18 (no rounding at all)."""
    return qty * price * multiplier


def ceil_cent(raw: int) -> int:
    """A raw 10^-18 value rounded **up** to the cent, as a 10^-9 amount (what a buyer pays)."""
    return -((-raw) // (CENT * SCALE)) * CENT


def floor_cent(raw: int) -> int:
    """A raw 10^-18 value rounded **down** to the cent, as a 10^-9 amount (what a seller gets)."""
    return (raw // (CENT * SCALE)) * CENT


def buy_cost(qty: int, price: int, multiplier: int = 1) -> int:
    """What a buyer pays: the exact value rounded **up** to the cent."""
    return ceil_cent(raw_value(qty, price, multiplier))


def sell_proceeds(qty: int, price: int, multiplier: int = 1) -> int:
    """What a seller receives: the exact value rounded **down** to the cent."""
    return floor_cent(raw_value(qty, price, multiplier))


def split_raw(raw: int) -> tuple[int, int]:
    """A raw 10^-18 value as two halves that each fit msgpack's 64-bit integers."""
    return divmod(raw, SCALE)


def join_raw(nanos: int, subnanos: int) -> int:
    return nanos * SCALE + subnanos


def qty_for_cash(cash: int, price: int, increment: int, multiplier: int = 1) -> int:
    """Most quantity, in whole ``increment``s, whose exact value at ``price`` fits in ``cash``."""
    if price <= 0:
        return 0
    exact = cash * SCALE // (price * multiplier)
    return floor_to(exact, increment)
