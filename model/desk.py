"""The market-making desk's terms as they travel and are journaled: ``DeskParams`` (one
symbol's quoting knobs), ``DeskSetup`` (the ``[desk]`` section as an InstrumentActor
journals it), and the one check every way of setting them goes through (the configuration,
``admin desk tune``).

Quantities and money are fixed-point ints (``model.fixed``), bps ints. The pure quoting
rules are ``actors/instrument/desk.py``; their wiring into the InstrumentActor
``actors/instrument/quoting.py`` (docs/liquidity.md#the-market-making-desk).
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from model import fixed

BPS = 10_000

# the knobs ``desk tune`` takes, and how each is written: a decimal (quantity or money) or whole bps
DECIMAL_KNOBS = ("size", "level_size_step", "target_position", "skew_range", "max_position", "max_loss")
BPS_KNOBS = ("spread_bps", "level_spread_bps", "refresh_tolerance_bps", "skew_bps")
COUNT_KNOBS = ("levels",)
KNOBS = (*DECIMAL_KNOBS, *BPS_KNOBS, *COUNT_KNOBS)


class DeskParams(msgspec.Struct, frozen=True):
    """One symbol's quoting terms. Quantities and money are fixed-point ints."""

    symbol: str
    size: int  # each level's quantity at the target position
    spread_bps: int = 10  # a level-1 quote's distance from the mid
    levels: int = 1
    level_spread_bps: int = 5  # each further level: this much further out
    level_size_step: int = 0  # each further level: this much larger
    refresh_tolerance_bps: int = 2  # a working quote this close to where it is wanted stays (keeps its priority)
    target_position: int = 0
    skew_range: int = 0  # position − target at which one side's size reaches 0 (the other's doubles); 0: no skew
    skew_bps: int = 0  # how far both prices move down (long) or up (short) at the edge of the range
    max_position: int = 0  # |position| never quoted past this
    max_loss: int = 0  # money per day (SCALE); a loss of this much pulls every quote (0: no limit)


class DeskSetup(msgspec.Struct, frozen=True, array_like=True):
    """``[desk]`` as an InstrumentActor decides with it: the desk's account, whether it
    quotes at venues too, the time zone its trading day is counted in, and the configured
    params of each of the actor's symbols the desk quotes (in symbol order)."""

    account: str
    at_venues: bool
    timezone: str
    params: tuple[DeskParams, ...] = ()


def check(params: DeskParams, max_levels: int) -> DeskParams:
    """``params`` if they are a desk's possible terms, else ``ValueError`` saying which knob
    is wrong and why."""
    problems = []
    if params.size <= 0:
        problems.append("size must be more than 0")
    if not 1 <= params.levels <= max_levels:
        problems.append(f"levels must be 1 to {max_levels}")
    if params.spread_bps < 1 or params.spread_bps >= BPS:
        problems.append(f"spread_bps must be 1 to {BPS - 1}")
    if params.level_spread_bps < 0 or params.refresh_tolerance_bps < 0 or params.skew_bps < 0:
        problems.append("level_spread_bps, refresh_tolerance_bps and skew_bps must be 0 or more")
    if params.spread_bps + (params.levels - 1) * params.level_spread_bps >= BPS or params.skew_bps >= BPS:
        problems.append(f"the farthest level and skew_bps must stay under {BPS} bps")
    if params.level_size_step < 0 or params.skew_range < 0 or params.max_loss < 0:
        problems.append("level_size_step, skew_range and max_loss must be 0 or more")
    if params.max_position <= 0:
        problems.append("max_position must be more than 0")
    elif abs(params.target_position) > params.max_position:
        problems.append("target_position must be within max_position either way")
    if problems:
        raise ValueError(f"desk {params.symbol}: " + "; ".join(problems))
    return params


def tuned(params: DeskParams, pairs: Sequence[str], max_levels: int) -> DeskParams:
    """``params`` with each ``key=value`` of ``pairs`` changed, checked whole (``check``), or
    ``ValueError`` naming the first bad pair or knob: nothing changes unless all are good."""
    if not pairs:
        raise ValueError(f"desk tune {params.symbol}: give at least one key=value; keys: {', '.join(KNOBS)}")
    changes: dict[str, int] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in KNOBS:
            raise ValueError(f"desk tune: {pair!r} is not key=value with a key of {', '.join(KNOBS)}")
        if key in changes:
            raise ValueError(f"desk tune: {key} given twice")
        changes[key] = _knob(key, value)
    return check(msgspec.structs.replace(params, **changes), max_levels)


def _knob(key: str, value: str) -> int:
    if key in DECIMAL_KNOBS:
        try:
            return fixed.parse(value)
        except ValueError:
            raise ValueError(f"desk tune: {key}={value!r} is not a decimal number") from None
    if not value.isascii() or not value.isdigit() or len(value) > 9:
        raise ValueError(f"desk tune: {key}={value!r} is not a whole number of {'levels' if key == 'levels' else 'bps'}")
    return int(value)


def view(params: DeskParams) -> dict[str, str | int]:
    """The knobs as an operator reads them: decimals as strings, bps and levels as ints."""
    return {key: fixed.format(getattr(params, key)) if key in DECIMAL_KNOBS else getattr(params, key) for key in KNOBS}
