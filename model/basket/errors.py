"""A refused basket: what is wrong with the file as a whole, or every bad row with its
number, the error code a ``new_order`` would get and its first problem."""

from __future__ import annotations

from typing import NamedTuple

INVALID = "invalid_request"


class BadRow(NamedTuple):
    """One bad row: its number, the error code a ``new_order`` would get for the same
    problem (``invalid_request``, ``unknown_symbol``, ``forbidden``) and the problem."""

    row: int
    code: str
    problem: str


class BasketError(ValueError):
    """A basket refused whole: ``problem`` for the file as a whole (no header, not UTF-8,
    too many rows, a float column), or ``bad``, every bad row in row order."""

    def __init__(self, source: str, problem: str = "", bad: list[BadRow] | None = None, listed: int = 1000) -> None:
        self.source = source
        self.problem = problem
        self.bad = bad or []
        self.listed = listed
        super().__init__(self.describe())

    def summary(self) -> str:
        """One line: the file and what is wrong with it."""
        if self.problem:
            return f"{self.source}: {self.problem}; nothing loaded"
        rows = "1 bad row" if len(self.bad) == 1 else f"{len(self.bad)} bad rows"
        return f"{self.source}: {rows}, nothing loaded"

    def describe(self) -> str:
        """The summary, then each of the first ``listed`` bad rows with its problem, then the
        numbers of the rest (as ranges)."""
        if self.problem or not self.bad:
            return self.summary()
        shown = "; ".join(f"row {bad.row}: {bad.problem}" for bad in self.bad[: self.listed])
        rest = self.unlisted()
        return f"{self.summary()}: {shown}" + (f"; and rows {rest}" if rest else "")

    def unlisted(self) -> str:
        """The numbers of the bad rows beyond the first ``listed``, as ranges (``7, 9-12``)."""
        return number_ranges([bad.row for bad in self.bad[self.listed :]])


def refused_rows(refused: BasketError) -> dict[str, object]:
    """A refusal's bad rows for a JSON answer: how many, the first ``listed`` with their code
    and problem, and the numbers of the rest."""
    return {
        "bad_rows": len(refused.bad),
        "problems": [{"row": bad.row, "code": bad.code, "problem": bad.problem} for bad in refused.bad[: refused.listed]],
        "other_rows": refused.unlisted(),
    }


def number_ranges(numbers: list[int]) -> str:
    """Ascending numbers as ``1, 3-5, 9``."""
    parts: list[str] = []
    start = previous = None
    for number in numbers:
        if previous is not None and number == previous + 1:
            previous = number
            continue
        if start is not None:
            parts.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = number
    if start is not None:
        parts.append(str(start) if start == previous else f"{start}-{previous}")
    return ", ".join(parts)
