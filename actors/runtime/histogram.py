"""A latency histogram with fixed buckets, cumulative since the process started: what
``/metrics`` exposes as a Prometheus histogram (docs/web.md#metrics).

Recording is one ``bisect`` and two additions, cheap enough for once per batch or per
journal commit (never per message)."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from typing import Any


class Histogram:
    """Counts of observations (nanoseconds) per bucket, with their sum.

    Guarantees: ``counts[i]`` is how many observations were at most ``bounds_ns[i]`` and
    above the bound before it; the last count is those above every bound (``+Inf``).
    ``view`` gives cumulative counts, as Prometheus wants them."""

    __slots__ = ("bounds_ns", "counts", "sum_ns")

    def __init__(self, bounds_us: Sequence[int]) -> None:
        self.bounds_ns = [bound * 1_000 for bound in bounds_us]
        self.counts = [0] * (len(self.bounds_ns) + 1)
        self.sum_ns = 0

    def record(self, ns: int) -> None:
        ns = max(ns, 0)  # clocks of two processes: a hop can look negative by a few µs
        self.counts[bisect_left(self.bounds_ns, ns)] += 1
        self.sum_ns += ns

    def view(self) -> dict[str, Any]:
        """``{"le_us": [...], "cumulative": [...], "count": n, "sum_us": s}`` for ``status``
        (whole microseconds: no float on the wire)."""
        running, cumulative = 0, []
        for count in self.counts:
            running += count
            cumulative.append(running)
        return {"le_us": [b // 1_000 for b in self.bounds_ns], "cumulative": cumulative, "count": running, "sum_us": self.sum_ns // 1_000}
