"""Who a connection is and what it may touch: login and authorisation.

A login passes three gates in order: the failed-login backoff (``admission.LoginThrottle``,
checked before any signature is computed), the signature (``auth.Authenticator``) and the
user's connection cap (``admission.ConnectionCaps``). A logged-in connection may touch the
accounts its user names and every account of its groups; an admin, every account.
Time is passed in.
"""

from __future__ import annotations

import math
from collections.abc import Hashable

import structlog

from model.config import Setup, User
from server.gateway import protocol
from server.gateway.admission import ConnectionCaps, login_throttle
from server.gateway.auth import Authenticator, LoginRefused
from server.gateway.connection import Connection
from server.gateway.protocol import Login
from server.gateway.validation import Invalid

log = structlog.get_logger("gateway")


def authorise(conn: Connection, account: str) -> None:
    """Raise ``Invalid`` (``forbidden``) unless ``conn`` may touch ``account``."""
    if account not in conn.accounts:
        raise Invalid("forbidden", f"account {account!r} is not yours")


class Access:
    """Logins and the accounts each user trades for, on one gateway.

    Guarantees: a login refused by the backoff computes no signature and counts nothing; a
    refused login changes nothing on the connection; every admitted address and user is
    released exactly once (``release``), so the caps never drift."""

    def __init__(self, setup: Setup) -> None:
        self.config = setup.config.gateway
        self.all_accounts = frozenset(seed.account for seed in setup.accounts)
        self.groups: dict[str, set[str]] = {}  # group → its accounts (an advisor trades for whole groups)
        for seed in setup.accounts:
            if seed.group:
                self.groups.setdefault(seed.group, set()).add(seed.account)
        self.auth = Authenticator(setup.users, self.config.login_window_ms)
        self.throttle = login_throttle(self.config)
        self.caps = ConnectionCaps(self.config.max_connections_per_address, self.config.max_connections_per_user)

    def admit(self, address: str) -> bool:
        """A new connection from ``address``: False when the address has its cap already."""
        return self.caps.admit_address(address)

    def release(self, conn: Connection) -> None:
        """``conn`` is gone: its address and user count one connection less."""
        self.caps.release_address(conn.address)
        if conn.user is not None:
            self.caps.release_user(conn.user.key)
        self.throttle.forget(("connection", conn.conn_id))

    def login(self, conn: Connection, request: Login, request_id: bytes, now_ms: int, wall_ms: int) -> bool:
        """Answer ``request`` on ``conn``; True when the connection is now logged in.
        ``now_ms`` is monotonic time (the backoff), ``wall_ms`` the epoch time the login's
        ``ts`` is checked against."""
        if conn.user is not None:
            conn.send(protocol.error("invalid_request", "already logged in", request_id))
            return False
        config = self.config
        keys: list[tuple[Hashable, int]] = [
            (("connection", conn.conn_id), config.login_failures_per_connection),
            (("address", conn.address), config.login_failures_per_address),
        ]
        if request.key in self.auth.users:  # unknown keys are not remembered: they cannot fill the table
            keys.append((("user", request.key), config.login_failures_per_user))
        wait_ms = self.throttle.retry_after_ms((key for key, _ in keys), now_ms)
        if wait_ms > 0:  # refused unchecked: no signature is computed and nothing is counted
            message = f"too many failed logins; retry in {math.ceil(wait_ms / 1000)} s"
            conn.send(protocol.encode({"type": "error", "code": "rate_limited", "message": message, "retry_after_ms": wait_ms}, request_id))
            return False
        try:
            user = self.auth.login(request.key, request.ts, request.nonce, request.sig, wall_ms)
        except LoginRefused as refused:
            self.throttle.failed(keys, now_ms)
            log.info("login refused", conn=conn.conn_id, address=conn.address, key=request.key[:64], reason=str(refused))
            conn.send(protocol.error("not_authenticated", str(refused), request_id))
            return False
        if not self.caps.admit_user(user.key):
            message = f"{user.key} already has {config.max_connections_per_user} connections; close one first"
            conn.send(protocol.error("too_many_connections", message, request_id))
            return False
        self.throttle.forget(("connection", conn.conn_id))
        self.throttle.forget(("user", user.key))
        conn.user = user
        conn.accounts = self.all_accounts if user.role == "admin" else self.accounts_of(user)
        accounts = sorted(conn.accounts) if user.role != "admin" else []
        conn.send(protocol.encode({"type": "login", "ok": True, "role": user.role, "accounts": accounts}, request_id))
        log.info("login", user=user.key, role=user.role, conn=conn.conn_id)
        return True

    def add_accounts(self, accounts: list[tuple[str, str]]) -> None:
        """Accounts opened at run time (account, group): admins see them at once; a trader
        or advisor logging in after this gets those of its groups."""
        self.all_accounts = self.all_accounts | {account for account, _ in accounts}
        for account, group in accounts:
            if group:
                self.groups.setdefault(group, set()).add(account)

    def accounts_of(self, user: User) -> frozenset[str]:
        """The accounts a user trades for: those named, and every account of its groups."""
        accounts = set(user.accounts)
        for group in user.groups:
            accounts |= self.groups.get(group, set())
        return frozenset(accounts)
