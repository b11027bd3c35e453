"""``admin nav``: a fund's NAV as typed, or a ``symbol,nav`` CSV file, as ``StrikeNav``
commands. Pure: the caller reads the file.

Guarantees: a file strikes all its funds or none: every bad row is named (``row N: ...``,
the header is row 1) and nothing is returned; a NAV is exact (``model.fixed``), positive
and a multiple of the fund's tick.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path

from model import fixed
from model.admin_commands import AdminError
from model.config import numbered_csv_rows
from model.enums import AssetClass
from model.instruments import Instrument
from model.messages import StrikeNav


def strike(instruments: Mapping[str, Instrument], symbol: str, text: str) -> StrikeNav:
    """The strike of ``symbol`` at the NAV ``text``, or ``AdminError`` saying what is wrong."""
    instrument = instruments.get(symbol)
    if instrument is None or instrument.asset_class is not AssetClass.MUTUAL_FUND:
        raise AdminError(f"{symbol} is not a mutual fund")
    try:
        nav = fixed.parse(text)
    except ValueError as error:
        raise AdminError(f"bad NAV {text!r}: {error}") from None
    if nav <= 0 or not instrument.price_on_tick(nav):
        raise AdminError(f"{symbol}: NAV must be a positive multiple of the tick {fixed.format(instrument.tick_size)}, not {text}")
    return StrikeNav(symbol, nav)


def nav_file(text: str, path: str | Path, instruments: Mapping[str, Instrument]) -> list[StrikeNav]:
    """Every strike of a NAV file's ``text`` (header ``symbol,nav``; ``path`` names it in
    errors), or ``AdminError`` naming every bad row."""
    strikes, problems, seen = [], [], set()
    try:
        rows = numbered_csv_rows(csv.reader(io.StringIO(text, newline=""), strict=True))
        header = next(rows, None)
        if header is None or header[1] != ["symbol", "nav"]:
            raise AdminError(f"{path}: row 1: the header must be symbol,nav")
        for number, row in rows:
            try:
                if len(row) != 2:
                    raise AdminError(f"expected symbol,nav, got {len(row)} fields")
                if row[0] in seen:
                    raise AdminError(f"{row[0]} appears twice")
                strikes.append(strike(instruments, row[0], row[1]))
                seen.add(row[0])
            except AdminError as problem:
                problems.append(f"row {number}: {problem}")
    except csv.Error as error:
        problems.append(str(error))
    if problems:
        raise AdminError(f"{path}: nothing struck; " + "; ".join(problems))
    if not strikes:
        raise AdminError(f"{path}: no NAVs in the file")
    return strikes
