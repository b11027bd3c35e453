"""Login checks: an HMAC-SHA256 signature over ``ts:nonce:login``, a time window, and each
nonce once per key. (The gateway's answers and lock-outs around them: test_access.py.)"""

from __future__ import annotations

import hashlib
import hmac

import pytest

from model.config import User
from server.gateway.auth import Authenticator, LoginRefused, signature

WINDOW_MS = 30_000
NOW = 1_763_700_000_000
TRADER = User(key="trader1", secret="trader1-secret", accounts=["A1"])
ADMIN = User(key="admin", secret="admin-secret", role="admin")


def authenticator() -> Authenticator:
    return Authenticator([TRADER, ADMIN], WINDOW_MS)


def log_in(auth: Authenticator, user: User = TRADER, nonce: str = "n1", ts: int = NOW, now: int = NOW, secret: str | None = None) -> User:
    return auth.login(user.key, ts, nonce, signature(secret or user.secret, ts, nonce), now)


def refused(auth: Authenticator, **login: object) -> str:
    with pytest.raises(LoginRefused) as refusal:
        log_in(auth, **login)  # type: ignore[arg-type]
    return str(refusal.value)


def test_the_signature_is_hmac_sha256_of_ts_nonce_and_login_as_hex() -> None:
    expected = hmac.new(b"s3cret", b"1700000000000:abc:login", hashlib.sha256).hexdigest()
    assert signature("s3cret", 1_700_000_000_000, "abc") == expected


def test_a_good_login_is_the_user_of_the_key() -> None:
    auth = authenticator()
    assert log_in(auth) is TRADER
    assert log_in(auth, ADMIN) is ADMIN


@pytest.mark.parametrize(("offset", "accepted"), [(-WINDOW_MS, True), (WINDOW_MS, True), (-WINDOW_MS - 1, False), (WINDOW_MS + 1, False)])
def test_ts_must_be_within_the_window_of_server_time_either_way(offset: int, accepted: bool) -> None:
    auth = authenticator()
    if accepted:
        assert log_in(auth, ts=NOW + offset) is TRADER
    else:
        assert refused(auth, ts=NOW + offset) == "ts is more than 30 s from server time"


@pytest.mark.parametrize(("nonce", "accepted"), [("", False), ("x", True), ("x" * 128, True), ("x" * 129, False)])
def test_a_nonce_is_1_to_128_characters(nonce: str, accepted: bool) -> None:
    auth = authenticator()
    if accepted:
        assert log_in(auth, nonce=nonce) is TRADER
    else:
        assert refused(auth, nonce=nonce) == "nonce must be 1 to 128 characters"


def test_an_unknown_key_and_a_wrong_secret_get_the_same_words() -> None:
    auth = authenticator()
    stranger = User(key="mallory", secret="guess")
    assert refused(auth, secret="guess") == refused(auth, user=stranger) == "bad key or signature"


def test_a_nonce_is_accepted_once_per_key_and_a_refused_login_spends_none() -> None:
    auth = authenticator()
    assert refused(auth, nonce="n1", secret="guess") == "bad key or signature"
    assert log_in(auth, nonce="n1") is TRADER  # the refused attempt did not use up n1
    assert refused(auth, nonce="n1", ts=NOW + 1, now=NOW + 1) == "nonce already used"
    assert log_in(auth, ADMIN, nonce="n1") is ADMIN  # another key's nonces are its own


def test_nonces_older_than_two_windows_are_forgotten_once_many_are_held() -> None:
    auth = authenticator()
    for index in range(1024):
        log_in(auth, nonce=f"n{index}")
    later = NOW + WINDOW_MS  # still within two windows of the first logins
    assert refused(auth, nonce="n0", ts=later, now=later) == "nonce already used"
    much_later = NOW + 2 * WINDOW_MS + 1
    assert log_in(auth, nonce="n0", ts=much_later, now=much_later) is TRADER
    assert len(auth.seen) == 1
