"""FIX field values ⇄ brokerd's values, and the error every FIX read or write raises.

Numbers are decimal strings on the wire and ``model.fixed`` ints inside; no float is ever
produced or accepted. Times are ns since the epoch inside and UTCTimestamps with
milliseconds on the wire. Pure: no quickfix.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal

from adapters.fix.tags import BusinessRejectReason, SessionRejectReason, Tag
from model import fixed

MAX_WHOLE_UNITS = 10**9
"""The largest quantity, price or cash amount taken from the wire, in whole units. Far beyond
any real order, and small enough that the value at 10^-9 stays well inside the int64 that
msgpack (journals, hops) can carry: 10^9 × 10^9 = 10^18 < 9.2 × 10^18."""

_MAX_VALUE = MAX_WHOLE_UNITS * fixed.SCALE
NANOS_PER_SECOND = 10**9
_NANOS_PER_MILLI = 10**6


RejectKind = Literal["session", "business"]


class CodecError(ValueError):
    """A message brokerd cannot take (or, from a builder, cannot send), and why.

    ``reject_kind`` says which answer fits: ``"session"`` — malformed for FIX 4.4 or out of
    range (a Reject (3) with RefTagID ``tag`` and SessionRejectReason ``code``); ``"business"``
    — well formed but not something brokerd can act on (a BusinessMessageReject (j) with
    BusinessRejectReason ``code``). Fields FIX 4.4 requires are session errors when missing;
    fields only brokerd needs (ClOrdID on an ExecutionReport, LastPx on a trade) are business
    errors ("conditionally required field missing").
    """

    def __init__(self, reason: str, tag: int | None, reject_kind: RejectKind, code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.tag = tag
        self.reject_kind: RejectKind = reject_kind
        if code is None:
            code = SessionRejectReason.OTHER if reject_kind == "session" else BusinessRejectReason.OTHER
        self.code = int(code)

    def __repr__(self) -> str:
        return f"CodecError({self.reason!r}, tag={self.tag}, {self.reject_kind}, code={self.code})"


def session_error(reason: str, tag: int | None, code: SessionRejectReason) -> CodecError:
    return CodecError(reason, tag, "session", code)


def business_error(reason: str, tag: int | None, code: BusinessRejectReason = BusinessRejectReason.OTHER) -> CodecError:
    return CodecError(reason, tag, "business", code)


def label(tag: int) -> str:
    """A tag as errors name it: ``OrderQty(38)``, or ``tag 9999`` for one brokerd does not know."""
    try:
        return f"{Tag(tag).name}({tag})"
    except ValueError:
        return f"tag {tag}"


# --- decimals -------------------------------------------------------------------------------

# ASCII digits only, matched in full: ``\d`` and ``$`` would also let through other scripts'
# digits and a trailing newline, which ``int()`` and ``fixed.parse`` then accept.
_FIX_FLOAT = re.compile(r"(-?)([0-9]*)(?:\.([0-9]*))?")


def to_fix_decimal(value: int) -> str:
    """A fixed-point value as a FIX decimal: ``1_300_000_000`` → ``"1.3"``."""
    return fixed.format(value)


def from_fix_decimal(text: str, tag: int | None = None) -> int:
    """A FIX float field as a fixed-point value, exactly. Takes what FIX allows — ``"0023.50"``,
    ``".5"``, ``"5."``, trailing zeros past the ninth place — and refuses exponents, signs other
    than a leading ``-``, ``nan``/``inf`` (incorrect data format) and any value that needs more
    than nine decimal places or eighteen digits (value incorrect)."""
    match = _FIX_FLOAT.fullmatch(text)
    if match is None or not (match.group(2) or match.group(3)):
        raise session_error(f"{_where(tag)}not a decimal number: {text!r}", tag, SessionRejectReason.INCORRECT_DATA_FORMAT)
    sign, whole, fraction = match.groups()
    canonical = sign + (whole.lstrip("0") or "0")
    fraction = (fraction or "").rstrip("0")
    if fraction:
        canonical += "." + fraction
    try:
        return fixed.parse(canonical)
    except fixed.DecimalFormatError:
        raise session_error(
            f"{_where(tag)}{text!r} needs more than {fixed.DECIMALS} decimal places or 18 digits",
            tag,
            SessionRejectReason.VALUE_IS_INCORRECT,
        ) from None


def _where(tag: int | None) -> str:
    return f"{label(tag)}: " if tag is not None else ""


def in_range(value: int, tag: int, *, zero_ok: bool) -> int:
    """``value`` read from ``tag`` if it is ≥ 0 (> 0 unless ``zero_ok``) and within
    ``MAX_WHOLE_UNITS``; else a session error (value incorrect)."""
    if value < 0 or (value == 0 and not zero_ok):
        bound = ">= 0" if zero_ok else "> 0"
        raise session_error(f"{label(tag)} must be {bound}, got {to_fix_decimal(value)}", tag, SessionRejectReason.VALUE_IS_INCORRECT)
    if value > _MAX_VALUE:
        raise session_error(
            f"{label(tag)} {to_fix_decimal(value)} is over the limit of {MAX_WHOLE_UNITS}", tag, SessionRejectReason.VALUE_IS_INCORRECT
        )
    return value


# --- times ----------------------------------------------------------------------------------


_last_second: tuple[int, str] = (-1, "")  # the second formatted last: orders and reports come many a second


def fix_timestamp(now: int) -> str:
    """ns since the epoch → a FIX UTCTimestamp with milliseconds, ``20251121-04:40:00.123``.
    The date and time of the last second asked for is kept: formatting it was most of the
    cost (one tuple, replaced whole, so threads may share it)."""
    global _last_second
    seconds, nanos = divmod(now, NANOS_PER_SECOND)
    second, text = _last_second
    if second != seconds:
        text = f"{datetime.fromtimestamp(seconds, tz=UTC):%Y%m%d-%H:%M:%S}"
        _last_second = (seconds, text)
    return f"{text}.{nanos // _NANOS_PER_MILLI:03d}"


def utc_date(now: int) -> str:
    """ns since the epoch → the UTC date as a FIX LocalMktDate, ``20251121``."""
    return f"{datetime.fromtimestamp(now // NANOS_PER_SECOND, tz=UTC).date():%Y%m%d}"
