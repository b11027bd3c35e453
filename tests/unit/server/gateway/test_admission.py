"""Login backoff and connection caps, with time driven by the test."""

from __future__ import annotations

from server.gateway.admission import ConnectionCaps, Lockout, LoginThrottle


def throttle(max_keys: int = 100) -> LoginThrottle:
    return LoginThrottle(backoff_ms=1_000, backoff_max_ms=8_000, memory_ms=60_000, max_keys=max_keys)


def test_failures_within_the_allowance_lock_nothing_and_the_last_one_locks_for_the_first_delay() -> None:
    limits = throttle()
    limits.failed([(("conn", 3), 3)], 0)
    assert limits.retry_after_ms([("conn", 3)], 0) == 0
    limits.failed([(("conn", 3), 3)], 10)
    assert limits.retry_after_ms([("conn", 3)], 10) == 0
    limits.failed([(("conn", 3), 3)], 20)  # the third of three allowed: locked from now on
    assert limits.retry_after_ms([("conn", 3)], 20) == 1_000
    assert limits.retry_after_ms([("conn", 3)], 520) == 500
    assert limits.retry_after_ms([("conn", 3)], 1_020) == 0


def test_each_further_failure_doubles_the_delay_up_to_the_maximum() -> None:
    limits = throttle()
    key = ("address", "10.0.0.1")
    now = 0
    waits = []
    for _ in range(7):
        limits.failed([(key, 1)], now)
        wait = limits.retry_after_ms([key], now)
        waits.append(wait)
        now += wait  # the client retries as soon as it may, and fails again
    assert waits == [1_000, 2_000, 4_000, 8_000, 8_000, 8_000, 8_000]


def test_failures_are_forgotten_after_the_memory_without_one() -> None:
    limits = throttle()
    key = ("user", "trader1")
    limits.failed([(key, 2)], 0)
    limits.failed([(key, 2)], 60_001)  # the first is forgotten: this is failure 1 of 2 again
    assert limits.retry_after_ms([key], 60_001) == 0
    limits.failed([(key, 2)], 60_002)
    assert limits.retry_after_ms([key], 60_002) == 1_000


def test_the_longest_lock_among_a_logins_keys_decides_and_other_keys_are_untouched() -> None:
    limits = throttle()
    connection, address, user = ("connection", 1), ("address", "10.0.0.1"), ("user", "trader1")
    for now in range(3):
        limits.failed([(connection, 5), (address, 2), (user, 3)], now)
    assert limits.retry_after_ms([connection], 2) == 0
    assert limits.retry_after_ms([user], 2) == 1_000
    assert limits.retry_after_ms([connection, address, user], 2) == 2_000  # the address failed 3 times, allowed 2
    assert limits.retry_after_ms([("address", "10.0.0.2"), ("user", "trader2")], 2) == 0


def test_forget_clears_a_key_at_once() -> None:
    limits = throttle()
    limits.failed([(("user", "trader1"), 1)], 0)
    assert limits.retry_after_ms([("user", "trader1")], 0) > 0
    limits.forget(("user", "trader1"))
    assert limits.retry_after_ms([("user", "trader1")], 0) == 0
    limits.forget(("user", "never seen"))  # harmless


def test_the_table_is_bounded_and_forgets_the_least_recently_failed_first() -> None:
    limits = throttle(max_keys=3)
    for index, now in enumerate((0, 1, 2)):
        limits.failed([(("address", index), 1)], now)
    limits.failed([(("address", 0), 1)], 3)  # address 0 failed again: now the most recent
    limits.failed([(("address", 9), 1)], 4)
    assert len(limits.strikes) == 3
    assert limits.retry_after_ms([("address", 1)], 4) == 0  # the least recently failed went first
    assert limits.retry_after_ms([("address", 0)], 4) > 0
    assert limits.retry_after_ms([("address", 9)], 4) > 0


def test_connection_caps_admit_up_to_the_cap_and_count_releases() -> None:
    caps = ConnectionCaps(per_address=2, per_user=1)
    assert caps.admit_address("10.0.0.1") and caps.admit_address("10.0.0.1")
    assert not caps.admit_address("10.0.0.1")
    assert caps.admit_address("10.0.0.2")
    caps.release_address("10.0.0.1")
    assert caps.admit_address("10.0.0.1")
    assert caps.admit_user("trader1") and not caps.admit_user("trader1")
    caps.release_user("trader1")
    assert caps.admit_user("trader1")
    for _ in range(2):
        caps.release_address("10.0.0.1")
    caps.release_address("10.0.0.2")
    caps.release_user("trader1")
    assert not caps.addresses and not caps.users  # nothing is kept for keys with no connection


# --- the lockout, beside the backoff ----------------------------------------------------------------


def test_a_key_that_fails_its_limit_within_the_window_is_locked_for_the_lockout_and_then_free() -> None:
    lockout = Lockout(window_ms=10_000, lockout_ms=60_000, max_keys=100)
    key = ("key", "trader1")
    for at in (0, 1_000, 2_000):
        assert lockout.retry_after_ms([key], at) == 0
        lockout.failed([(key, 4)], at)
    lockout.failed([(key, 4)], 3_000)  # the fourth within 10 s
    assert lockout.retry_after_ms([key, ("address", "x")], 3_000) == 60_000
    assert lockout.retry_after_ms([key], 62_999) == 1 and lockout.retry_after_ms([key], 63_000) == 0
    assert lockout.locked(63_000) == []


def test_failures_spread_beyond_the_window_never_lock_and_a_success_clears_the_key_s_count() -> None:
    lockout = Lockout(window_ms=10_000, lockout_ms=60_000, max_keys=100)
    key = ("key", "k1")
    for at in range(0, 100_000, 6_000):  # one every 6 s: never 3 within 10 s
        lockout.failed([(key, 3)], at)
    assert lockout.retry_after_ms([key], 100_000) == 0
    lockout.failed([(key, 3)], 200_000)
    lockout.failed([(key, 3)], 200_001)
    lockout.succeeded(key)
    lockout.failed([(key, 3)], 200_002)
    assert lockout.retry_after_ms([key], 200_002) == 0


def test_a_lock_is_listed_and_lifted_and_the_table_stays_bounded() -> None:
    lockout = Lockout(window_ms=10_000, lockout_ms=60_000, max_keys=3)
    address = ("address", "10.0.0.9")
    lockout.failed([(address, 1)], 5)
    assert lockout.locked(5) == [(address, 60_000)]
    assert lockout.lift(address) and not lockout.lift(address)
    assert lockout.retry_after_ms([address], 6) == 0
    for n in range(10):
        lockout.failed([(("key", f"random{n}"), 5)], n)
    assert len(lockout.failures) == 3
