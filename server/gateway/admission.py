"""Who may knock: failed-login backoff and connection caps. Pure: time is passed in.

A login is checked against three keys at once — the connection, its source address and
the user key it names (known keys only, so random keys cannot grow the table) — and each
key counts its own failures. Once a key has failed its allowance, every further failure
locks it for a delay that doubles, up to a maximum; while any of a login's keys is locked
the login is refused without being checked (no HMAC is computed, nothing is counted).

Beside it, the lockout (:class:`Lockout`): too many failures of one key or from one address
within a window lock it for a fixed, longer time, until it ends or an operator lifts it.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Hashable, Iterable

from model.config import GatewaySection


class _Strikes:
    __slots__ = ("failures", "last_ms", "until_ms")

    def __init__(self) -> None:
        self.failures = 0
        self.last_ms = 0
        self.until_ms = 0


class LoginThrottle:
    """Failed logins per key, each key with its own allowance.

    Guarantees:
    - a key that failed ``allowance`` times within ``memory_ms`` of each failure is locked
      ``backoff_ms`` after the last of them, then ``2 ×``, ``4 ×``… per further failure, never
      more than ``backoff_max_ms``;
    - ``retry_after_ms`` is 0 for a key that never failed, or whose failures are older than
      ``memory_ms`` (its count starts again);
    - the table holds at most ``max_keys`` keys: beyond that the least recently failed key
      is forgotten first.
    """

    def __init__(self, backoff_ms: int, backoff_max_ms: int, memory_ms: int, max_keys: int) -> None:
        self.backoff_ms = backoff_ms
        self.backoff_max_ms = backoff_max_ms
        self.memory_ms = memory_ms
        self.max_keys = max_keys
        self.strikes: dict[Hashable, _Strikes] = {}  # insertion order = least recently failed first

    def retry_after_ms(self, keys: Iterable[Hashable], now_ms: int) -> int:
        """How long the longest lock among ``keys`` still lasts (0: not throttled)."""
        wait = 0
        for key in keys:
            strikes = self.strikes.get(key)
            if strikes is not None:
                wait = max(wait, strikes.until_ms - now_ms)
        return wait

    def failed(self, keys: Iterable[tuple[Hashable, int]], now_ms: int) -> None:
        """Count one failure against each ``(key, allowance)``."""
        for key, allowance in keys:
            strikes = self.strikes.pop(key, None) or _Strikes()
            if now_ms - strikes.last_ms > self.memory_ms:
                strikes.failures = 0
            strikes.failures += 1
            strikes.last_ms = now_ms
            beyond = strikes.failures - allowance
            if beyond >= 0:
                strikes.until_ms = now_ms + min(self.backoff_ms << min(beyond, 32), self.backoff_max_ms)
            self.strikes[key] = strikes  # re-inserted: most recently failed last
        while len(self.strikes) > self.max_keys:
            del self.strikes[next(iter(self.strikes))]

    def forget(self, key: Hashable) -> None:
        """A successful login clears its connection's and its user's count; a closed
        connection's key is dropped."""
        self.strikes.pop(key, None)


class Lockout:
    """Beside the backoff, a longer stop: a key that fails ``limit`` times within ``window_ms``
    is locked for ``lockout_ms`` from its last failure, whatever the backoff says; a login
    naming a locked key (or from a locked address) is refused unchecked.

    Guarantees:
    - a key is locked exactly when its last ``limit`` failures all fall within ``window_ms``;
      the lock ends ``lockout_ms`` after the failure that set it, or when ``lift`` ends it;
    - a success clears its key's count (never its address's: one good login among many bad
      ones from an address does not excuse them);
    - the table holds at most ``max_keys`` keys (the least recently failed forgotten first),
      so failures naming random keys cannot grow it.
    """

    def __init__(self, window_ms: int, lockout_ms: int, max_keys: int) -> None:
        self.window_ms = window_ms
        self.lockout_ms = lockout_ms
        self.max_keys = max_keys
        self.failures: dict[Hashable, deque[int]] = {}  # insertion order = least recently failed first
        self.until: dict[Hashable, int] = {}

    def retry_after_ms(self, keys: Iterable[Hashable], now_ms: int) -> int:
        """How long the longest lock among ``keys`` still lasts (0: none is locked)."""
        wait = 0
        for key in keys:
            until = self.until.get(key)
            if until is not None:
                if until <= now_ms:
                    del self.until[key]
                else:
                    wait = max(wait, until - now_ms)
        return wait

    def failed(self, keys: Iterable[tuple[Hashable, int]], now_ms: int) -> None:
        """Count one failure against each ``(key, limit)``."""
        for key, limit in keys:
            times = self.failures.pop(key, None) or deque(maxlen=limit)
            times.append(now_ms)
            self.failures[key] = times
            if len(times) >= limit and now_ms - times[0] <= self.window_ms:
                self.until[key] = now_ms + self.lockout_ms
                times.clear()  # counted afresh once the lock ends
        while len(self.failures) > self.max_keys:
            del self.failures[next(iter(self.failures))]

    def succeeded(self, key: Hashable) -> None:
        self.failures.pop(key, None)

    def lift(self, key: Hashable) -> bool:
        """End ``key``'s lock and forget its failures; False when it was not locked."""
        self.failures.pop(key, None)
        return self.until.pop(key, None) is not None

    def locked(self, now_ms: int) -> list[tuple[Hashable, int]]:
        """Every key locked now, with the milliseconds its lock still lasts."""
        return [(key, until - now_ms) for key, until in self.until.items() if until > now_ms]


class ConnectionCaps:
    """Open connections per source address and logged-in connections per user.

    Guarantees: ``admit`` and ``release`` pair up, so a count never drifts; a key whose count
    returns to 0 is removed (the tables hold only keys with open connections)."""

    def __init__(self, per_address: int, per_user: int) -> None:
        self.per_address = per_address
        self.per_user = per_user
        self.addresses: Counter[str] = Counter()
        self.users: Counter[str] = Counter()

    def admit_address(self, address: str) -> bool:
        if self.addresses[address] >= self.per_address:  # a Counter look-up inserts nothing
            return False
        self.addresses[address] += 1
        return True

    def release_address(self, address: str) -> None:
        _decrement(self.addresses, address)

    def admit_user(self, user: str) -> bool:
        if self.users[user] >= self.per_user:
            return False
        self.users[user] += 1
        return True

    def release_user(self, user: str) -> None:
        _decrement(self.users, user)


def _decrement(counts: Counter[str], key: str) -> None:
    counts[key] -= 1
    if counts[key] <= 0:
        del counts[key]


def lockout(config: GatewaySection) -> Lockout:
    return Lockout(config.lockout_window_ms, config.lockout_ms, config.login_throttle_max_keys)


def login_throttle(config: GatewaySection) -> LoginThrottle:
    return LoginThrottle(config.login_backoff_ms, config.login_backoff_max_ms, config.login_failure_memory_ms, config.login_throttle_max_keys)
