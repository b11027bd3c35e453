"""Who a connection is and what it may touch: login and authorisation.

A login passes three gates in order: the failed-login backoff (``admission.LoginThrottle``,
checked before any signature is computed), the signature (``auth.Authenticator``) and the
user's connection cap (``admission.ConnectionCaps``). A login becomes a ``Session``: the
role's permissions less those of scopes the credential lacks (``model/permissions.py``,
``effective``), and the accounts within the role's reach — those the user names and every
account of its groups (trader, advisor, viewer), every account of its tenant (cashier,
compliance, operator, tenant admin), every account (platform operator). Every account,
group and user belongs to one tenant; a group is a tenant's (two tenants' groups of one
name are two groups). Time is passed in.

Guarantees:
- A session never reaches an account of another tenant unless its role spans tenants.
- An account outside a session's reach is answered exactly like an account that does not
  exist (:func:`out_of_reach`): whether another tenant has it does not leak.
"""

from __future__ import annotations

import math
from collections.abc import Hashable

import structlog

from model import permissions
from model.config import Setup, User
from model.permissions import ALL_SCOPES, Reach
from server.gateway import protocol
from server.gateway.admission import ConnectionCaps, login_throttle
from server.gateway.auth import Authenticator, LoginRefused
from server.gateway.connection import Connection, Session
from server.gateway.protocol import Login
from server.gateway.validation import Invalid

log = structlog.get_logger("gateway")


# (account, group, tenant): an account as the gateway learns it
AccountEntry = tuple[str, str, str]


def authorise(conn: Connection, account: str) -> None:
    """Raise ``Invalid`` (``forbidden``) unless ``account`` is within ``conn``'s reach."""
    if account not in conn.accounts:
        raise Invalid("forbidden", out_of_reach(conn, account))


def out_of_reach(conn: Connection, account: str) -> str:
    """Why ``conn`` may not touch ``account``: the same words whether it exists in another
    tenant or nowhere. A session that reaches only its own accounts hears "not yours"; one
    that reaches a whole tenant hears what the account shard says of an account it lacks."""
    if conn.session is not None and conn.session.reach is Reach.OWN:
        return f"account {account!r} is not yours"
    return f"unknown account {account}"


def permit(conn: Connection, needed: str, what: str) -> None:
    """Raise ``Invalid`` (``forbidden``) unless the session holds the permission ``needed``."""
    session = conn.session
    if session is None or needed not in session.permissions:
        raise Invalid("forbidden", forbidden_message(session, needed, what))


def forbidden_message(session: Session | None, needed: str, what: str) -> str:
    if session is None:
        return f"{what} needs the {needed} permission"
    lacking = "its scopes lack" if needed in permissions.role(session.role).permissions else "the role lacks"
    return f"{what} needs the {needed} permission ({session.role}: {lacking} it)"


class Access:
    """Logins and the accounts each user trades for, on one gateway.

    Guarantees: a login refused by the backoff computes no signature and counts nothing; a
    refused login changes nothing on the connection; every admitted address and user is
    released exactly once (``release``), so the caps never drift."""

    def __init__(self, setup: Setup) -> None:
        self.config = setup.config.gateway
        self.all_accounts: frozenset[str] = frozenset()
        self.tenant_of: dict[str, str] = {}  # account → its tenant
        self.tenants: dict[str, frozenset[str]] = {}  # tenant → its accounts
        self.groups: dict[tuple[str, str], set[str]] = {}  # (tenant, group) → its accounts (an advisor trades for whole groups)
        self.add_accounts([(seed.account, seed.group, seed.tenant) for seed in setup.accounts])
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
        conn.session = session = self.session_of(user)
        conn.accounts = self.reach_of(user, session)
        accounts = sorted(conn.accounts) if session.reach is Reach.OWN else []
        scopes = sorted(scope.value for scope in session.scopes)
        answer = {"type": "login", "ok": True, "role": session.role, "tenant": session.tenant, "scopes": scopes, "accounts": accounts}
        conn.send(protocol.encode(answer, request_id))
        log.info("login", user=user.key, role=session.role, tenant=session.tenant, conn=conn.conn_id)
        return True

    @staticmethod
    def session_of(user: User) -> Session:
        """What ``user`` may do: a users-file login holds every scope (an API key holding
        fewer passes its own scopes here: ``effective`` is the one place they meet the role)."""
        role = permissions.role(user.role)
        scopes = ALL_SCOPES
        return Session(role.name, user.tenant, scopes, permissions.effective(role.name, scopes), role.reach)

    def add_accounts(self, accounts: list[AccountEntry]) -> None:
        """Accounts opened at run time (account, group, tenant): sessions see them once
        ``reach_of`` is asked again (``Gateway.add_accounts`` asks it for every connection)."""
        tenants = {tenant: set(members) for tenant, members in self.tenants.items()}
        for account, group, tenant in accounts:
            self.tenant_of[account] = tenant
            tenants.setdefault(tenant, set()).add(account)
            if group:
                self.groups.setdefault((tenant, group), set()).add(account)
        self.tenants = {tenant: frozenset(members) for tenant, members in tenants.items()}
        self.all_accounts = frozenset(self.tenant_of)

    def reach_of(self, user: User, session: Session) -> frozenset[str]:
        """The accounts ``user`` may touch in ``session``: every account (platform), its
        tenant's, or those it names and every account of its groups, all of its own tenant."""
        if session.reach is Reach.PLATFORM:
            return self.all_accounts
        if session.reach is Reach.TENANT:
            return self.tenants.get(session.tenant, frozenset())
        accounts = {account for account in user.accounts if self.tenant_of.get(account) == session.tenant}
        for group in user.groups:
            accounts |= self.groups.get((session.tenant, group), set())
        return frozenset(accounts)
