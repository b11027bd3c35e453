"""Latency histograms: buckets by upper bound, cumulative views."""

from __future__ import annotations

from actors.runtime.histogram import Histogram


def test_observations_fall_in_the_first_bucket_whose_bound_holds_them_and_views_are_cumulative() -> None:
    histogram = Histogram([1000, 10_000])
    for ns in (0, 1_000_000, 1_000_001, 10_000_000, 50_000_000, -5):
        histogram.record(ns)
    assert histogram.counts == [3, 2, 1]  # ≤1 ms (a negative hop counts as 0), ≤10 ms, above
    view = histogram.view()
    assert view["cumulative"] == [3, 5, 6] and view["count"] == 6 and view["le_us"] == [1000, 10_000]
    assert view["sum_us"] == 62_000
