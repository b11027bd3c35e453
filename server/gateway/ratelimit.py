"""Token bucket: ``rate`` tokens a second, at most ``burst`` saved up. Integer arithmetic."""

from __future__ import annotations


class TokenBucket:
    def __init__(self, rate: int, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens_ns = burst * 1_000_000_000  # tokens × 10^9, so refill stays integral
        self.last_ns: int | None = None

    def take(self, cost: int, now_ns: int) -> bool:
        """Spend ``cost`` tokens if there are enough; otherwise spend nothing."""
        if self.last_ns is not None:
            elapsed = max(0, now_ns - self.last_ns)
            self.tokens_ns = min(self.burst * 1_000_000_000, self.tokens_ns + elapsed * self.rate)
        self.last_ns = now_ns
        if self.tokens_ns < cost * 1_000_000_000:
            return False
        self.tokens_ns -= cost * 1_000_000_000
        return True
