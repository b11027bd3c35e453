"""Login: HMAC-SHA256 over ``f"{ts}:{nonce}:login"`` with the user's secret (docs/protocol.md, Login).

``ts`` (ms) must be within the window of server time and a nonce is accepted once per
key within twice that window, so a captured login cannot be replayed. With several
gateways the nonce is also spent at one authority that every gateway asks (the
supervisor, ``actors/supervisor/nonces.py``): ``fresh`` says what it answered, so a login
replayed on another gateway is refused too.
"""

from __future__ import annotations

import hashlib
import hmac

from model.config import User


def signature(secret: str, ts: int, nonce: str) -> str:
    return hmac.new(secret.encode(), f"{ts}:{nonce}:login".encode(), hashlib.sha256).hexdigest()


class LoginRefused(ValueError):
    """A login refused; ``code`` is the protocol's error code for it."""

    def __init__(self, message: str, code: str = "not_authenticated") -> None:
        super().__init__(message)
        self.code = code


class Authenticator:
    """Checks logins. Holds the nonces seen in the last two windows (soft state)."""

    def __init__(self, users: list[User], window_ms: int) -> None:
        self.users = {user.key: user for user in users}
        self.window_ms = window_ms
        self.seen: dict[tuple[str, str], int] = {}

    def login(self, key: str, ts: int, nonce: str, sig: str, now_ms: int, fresh: bool | None = True) -> User:
        """The user, or ``LoginRefused`` naming why (unknown keys and bad signatures alike)."""
        user = self.users.get(key)
        self.verify(key, user.secret if user else None, ts, nonce, sig, now_ms, fresh)
        assert user is not None  # verify refuses a key without a secret
        return user

    def verify(self, key: str, secret: str | None, ts: int, nonce: str, sig: str, now_ms: int, fresh: bool | None = True) -> None:
        """Check a login's signature made with ``secret`` (None: the key is unknown, refused
        after the same work as a bad signature) and spend its nonce; ``LoginRefused`` naming why.
        A users-file key and an API key id are checked alike. ``fresh``: the shared nonce
        authority's answer (several gateways): False, spent already (on another gateway);
        None, it could not be asked."""
        self._forget_old(now_ms)
        if abs(now_ms - ts) > self.window_ms:
            raise LoginRefused(f"ts is more than {self.window_ms // 1000} s from server time")
        if not nonce or len(nonce) > 128:
            raise LoginRefused("nonce must be 1 to 128 characters")
        expected = signature(secret or "\0unknown", ts, nonce)
        if not secret or not sig.isascii() or not hmac.compare_digest(expected, sig):  # (compare_digest takes ASCII text only)
            raise LoginRefused("bad key or signature")
        if (key, nonce) in self.seen or fresh is False:
            raise LoginRefused("nonce already used")
        if fresh is None:
            raise LoginRefused("the login could not be checked now; retry")
        self.seen[(key, nonce)] = now_ms

    def signed(self, key: str, secret: str | None, ts: int, nonce: str, sig: str, now_ms: int) -> bool:
        """Whether a login is well signed, within the window, with a nonce of a good length
        and not seen here: the logins worth asking the shared nonce authority about."""
        if secret is None or abs(now_ms - ts) > self.window_ms or not nonce or len(nonce) > 128 or (key, nonce) in self.seen:
            return False
        return sig.isascii() and hmac.compare_digest(signature(secret, ts, nonce), sig)

    def _forget_old(self, now_ms: int) -> None:
        if len(self.seen) < 1024:
            return
        horizon = now_ms - 2 * self.window_ms
        self.seen = {entry: seen_at for entry, seen_at in self.seen.items() if seen_at >= horizon}
