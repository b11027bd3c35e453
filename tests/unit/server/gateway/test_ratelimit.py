from __future__ import annotations

from server.gateway.ratelimit import TokenBucket

SECOND = 1_000_000_000


def test_a_burst_is_allowed_then_requests_wait_for_the_refill() -> None:
    bucket = TokenBucket(rate=10, burst=5)
    assert all(bucket.take(1, 0) for _ in range(5))
    assert not bucket.take(1, 0)
    assert bucket.take(1, SECOND // 10)  # one token back after 0.1 s at 10/s
    assert not bucket.take(1, SECOND // 10)


def test_a_refused_take_spends_nothing() -> None:
    bucket = TokenBucket(rate=10, burst=5)
    assert not bucket.take(6, 0)
    assert bucket.take(5, 0)


def test_tokens_never_exceed_the_burst() -> None:
    bucket = TokenBucket(rate=1000, burst=3)
    bucket.take(1, 0)
    assert bucket.take(3, 100 * SECOND)
    assert not bucket.take(1, 100 * SECOND)
