"""Who a connection is and what it may touch: login and authorisation.

A login passes these gates in order: the lockout and the failed-login backoff
(``admission.Lockout``, ``admission.LoginThrottle``, checked before any signature is
computed), the signature (``auth.Authenticator``; for an API key, then its revocation,
expiry and allow-list), the second factor of a session that would hold an admin-scope
permission (``mfa.SecondFactor``) and the user's connection cap (``admission.ConnectionCaps``).
A login becomes a ``Session``: the role's permissions less those of scopes the credential
lacks (``model/permissions.py``, ``effective``; a users-file key holds every scope, an API
key its own), and the accounts within the role's reach — those the user names and every
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
from collections.abc import Callable, Hashable
from dataclasses import replace

import structlog

from keystore import apikeys
from keystore.apikeys import ApiKey, address_allowed, load_keys
from keystore.masterkey import MasterKeyError
from keystore.store import StoreError
from keystore.totp import MfaRefused
from model import permissions
from model.audit import AuditEvent, AuditKind
from model.audit_bodies import Login as LoginRecord
from model.config import Setup, User
from model.permissions import ALL_SCOPES, Reach
from server.gateway import protocol
from server.gateway.admission import ConnectionCaps, lockout, login_throttle
from server.gateway.auth import Authenticator, LoginRefused
from server.gateway.connection import Connection, Session
from server.gateway.mfa import SecondFactor
from server.gateway.protocol import Login
from server.gateway.validation import Invalid

log = structlog.get_logger("gateway")

MAX_NAME_RECORDED = 64  # of a login's key as sent: what the audit record and the log keep of a name nobody knows


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

    A login names a users-file key (every scope) or an API key id (its scopes, allow-list and
    expiry: ``keystore/apikeys.py``); a session that would hold an admin-scope permission also
    passes the second factor (``mfa.SecondFactor``). The API keys are held here, loaded from
    their sealed store at start and again whenever the supervisor says they changed
    (``Gateway.replace_keys``).

    Guarantees: a login refused by the lockout or the backoff computes no signature and counts
    nothing; every other refusal counts against both; a refused login changes nothing on the
    connection; every admitted address and user is released exactly once (``release``), so the
    caps never drift."""

    def __init__(self, setup: Setup, second_factor: SecondFactor | None = None) -> None:
        self.config = setup.config.gateway
        self.all_accounts: frozenset[str] = frozenset()
        self.tenant_of: dict[str, str] = {}  # account → its tenant
        self.tenants: dict[str, frozenset[str]] = {}  # tenant → its accounts
        self.groups: dict[tuple[str, str], set[str]] = {}  # (tenant, group) → its accounts (an advisor trades for whole groups)
        self.add_accounts([(seed.account, seed.group, seed.tenant) for seed in setup.accounts])
        self.auth = Authenticator(setup.users, self.config.login_window_ms)
        self.throttle = login_throttle(self.config)
        self.lockout = lockout(self.config)
        self.caps = ConnectionCaps(self.config.max_connections_per_address, self.config.max_connections_per_user)
        self.second_factor = second_factor or SecondFactor(setup.config)
        self.keys: dict[str, ApiKey] = {}
        self.gateway = ""  # the gateway's name, in its audit records
        # Where each login attempt's audit record goes (the gateway's audit log: its event and
        # time in ns); ``None``: not recorded
        self.audit: Callable[[AuditEvent, int], None] | None = None
        try:
            self.keys = load_keys(setup.config)
        except (MasterKeyError, StoreError) as problem:  # the start check stops the server first; a gateway restarted later refuses keys
            log.error("API keys not loaded: key logins are refused", reason=str(problem))

    def admit(self, address: str) -> bool:
        """A new connection from ``address``: False when the address has its cap already."""
        return self.caps.admit_address(address)

    def release(self, conn: Connection) -> None:
        """``conn`` is gone: its address and user count one connection less."""
        self.caps.release_address(conn.address)
        if conn.user is not None:
            self.caps.release_user(conn.user.key)
        self.throttle.forget(("connection", conn.conn_id))

    def login(self, conn: Connection, request: Login, request_id: bytes, now_ms: int, wall_ms: int, fresh: bool | None = True) -> bool:
        """Answer ``request`` on ``conn``; True when the connection is now logged in.
        ``now_ms`` is monotonic time (the backoff and the lockout), ``wall_ms`` the epoch time
        the login's ``ts``, a key's expiry and a TOTP code are checked against. Each attempt,
        admitted or refused, is one audit record (``audit``; a gateway journals nothing: its
        records are fsynced within ``[audit] sync_ms``, docs/audit.md). ``fresh``: the shared
        nonce authority's answer (``Authenticator.verify``)."""
        outcome, reason = self._login(conn, request, request_id, now_ms, wall_ms, fresh)
        if self.audit is not None:
            self.audit(AuditEvent(AuditKind.LOGIN, self._login_record(conn, request, outcome, reason)), wall_ms * 1_000_000)
        return outcome == "ok"

    def _login_record(self, conn: Connection, request: Login, outcome: str, reason: str) -> LoginRecord:
        """Who tried: the user (for an API key, its user) and the key id; a name nobody
        knows is kept as sent, cut short."""
        key = self.keys.get(request.key) if request.key not in self.auth.users else None
        user, key_id = (key.user, key.key_id) if key is not None else (request.key[:MAX_NAME_RECORDED], "")
        return LoginRecord(user, key_id, conn.address, self.gateway, conn.conn_id, outcome, reason)

    def _login(self, conn: Connection, request: Login, request_id: bytes, now_ms: int, wall_ms: int, fresh: bool | None = True) -> tuple[str, str]:
        """``login``'s answer sent; the outcome (``ok`` or the error code sent) and why."""
        if conn.user is not None:
            conn.send(protocol.error("invalid_request", "already logged in", request_id))
            return "invalid_request", "already logged in"
        config = self.config
        known = request.key in self.auth.users or request.key in self.keys  # unknown keys are not remembered: they cannot fill the tables
        keys: list[tuple[Hashable, int]] = [
            (("connection", conn.conn_id), config.login_failures_per_connection),
            (("address", conn.address), config.login_failures_per_address),
        ]
        locks: list[tuple[Hashable, int]] = [(("address", conn.address), config.lockout_failures_per_address)]
        if known:
            keys.append((("user", request.key), config.login_failures_per_user))
            locks.append((("key", request.key), config.lockout_failures_per_key))
        locked_ms = self.lockout.retry_after_ms((key for key, _ in locks), now_ms)
        if locked_ms > 0:  # refused unchecked, like the backoff's
            message = f"locked after too many failed logins; retry in {math.ceil(locked_ms / 1000)} s"
            conn.send(protocol.encode({"type": "error", "code": "locked", "message": message, "retry_after_ms": locked_ms}, request_id))
            return "locked", message
        wait_ms = self.throttle.retry_after_ms((key for key, _ in keys), now_ms)
        if wait_ms > 0:  # refused unchecked: no signature is computed and nothing is counted
            message = f"too many failed logins; retry in {math.ceil(wait_ms / 1000)} s"
            conn.send(protocol.encode({"type": "error", "code": "rate_limited", "message": message, "retry_after_ms": wait_ms}, request_id))
            return "rate_limited", message
        try:
            user, session = self._authenticate(conn, request, wall_ms, fresh)
        except (LoginRefused, MfaRefused) as refused:
            self.throttle.failed(keys, now_ms)
            self.lockout.failed(locks, now_ms)
            log.info("login refused", conn=conn.conn_id, address=conn.address, key=request.key[:MAX_NAME_RECORDED], reason=str(refused))
            conn.send(protocol.error(refused.code, str(refused), request_id))
            return refused.code, str(refused)
        if not self.caps.admit_user(user.key):
            message = f"{user.key} already has {config.max_connections_per_user} connections; close one first"
            conn.send(protocol.error("too_many_connections", message, request_id))
            return "too_many_connections", message
        self.throttle.forget(("connection", conn.conn_id))
        self.throttle.forget(("user", request.key))
        self.lockout.succeeded(("key", request.key))
        conn.user = user
        conn.session = session
        conn.accounts = self.reach_of(user, session)
        accounts = sorted(conn.accounts) if session.reach is Reach.OWN else []
        scopes = sorted(scope.value for scope in session.scopes)
        answer = {"type": "login", "ok": True, "role": session.role, "tenant": session.tenant, "scopes": scopes, "accounts": accounts, "gateway": self.gateway}
        if session.key_id:
            answer["key_id"] = session.key_id
        if request.batch:
            answer["batch"] = True
            conn.batch = True  # the answer goes in the connection's first array
        conn.send(protocol.encode(answer, request_id))
        log.info("login", user=user.key, key=session.key_id or None, role=session.role, tenant=session.tenant, mfa=session.mfa, conn=conn.conn_id)
        return "ok", ""

    def signed(self, request: Login, wall_ms: int) -> bool:
        """Whether ``request`` is a well-signed login of a known key, its nonce unseen here:
        only those are worth asking the shared nonce authority about (a bad login costs the
        authority nothing)."""
        record = None if request.key in self.auth.users else self.keys.get(request.key)
        if record is None:
            user = self.auth.users.get(request.key)
            secret = user.secret if user is not None else None
        else:
            secret = None if record.revoked else record.secret
        return self.auth.signed(request.key, secret, request.ts, request.nonce, request.sig, wall_ms)

    def _authenticate(self, conn: Connection, request: Login, wall_ms: int, fresh: bool | None = True) -> tuple[User, Session]:
        """The user and session ``request`` logs in as, or ``LoginRefused``/``MfaRefused``."""
        record = None if request.key in self.auth.users else self.keys.get(request.key)
        if record is None:
            user = self.auth.login(request.key, request.ts, request.nonce, request.sig, wall_ms, fresh)
            session = self.session_of(user)
        else:
            if record.revoked:  # its secret is gone: nothing to check a signature against
                raise LoginRefused(f"key {record.key_id} was revoked at {record.revoked}")
            self.auth.verify(record.key_id, record.secret, request.ts, request.nonce, request.sig, wall_ms, fresh)
            found = self.auth.users.get(record.user)
            if found is None or found.tenant != record.tenant:
                raise LoginRefused(f"key {record.key_id}: its user {record.user} is no longer in the users file")
            if record.expires_ms <= wall_ms:
                raise LoginRefused(f"key {record.key_id} expired at {apikeys.iso(record.expires_ms)}")
            if not address_allowed(record.allow, conn.address):
                raise LoginRefused(f"key {record.key_id} may not log in from {conn.address}")
            user = found
            session = self.session_of(user, record)
        if self.second_factor.login_check(user.key, user.role, session, request.totp, wall_ms / 1000):
            session = replace(session, mfa=True)
        return user, session

    @staticmethod
    def session_of(user: User, key: ApiKey | None = None) -> Session:
        """What ``user`` may do: a users-file login holds every scope, an API key its own
        (``effective`` is the one place scopes meet the role)."""
        role = permissions.role(user.role)
        if key is None:
            return Session(role.name, user.tenant, ALL_SCOPES, permissions.effective(role.name, ALL_SCOPES), role.reach)
        scopes = key.scope_set()
        return Session(
            role.name, user.tenant, scopes, permissions.effective(role.name, scopes), role.reach, key.key_id, key.expires_ms, key.allow, key.generation
        )

    def whoami(self, conn: Connection) -> dict[str, object]:
        """The answer to ``whoami``: who the connection is, and what its credential may do."""
        session, user = conn.session, conn.user
        assert session is not None and user is not None
        return {
            "type": "whoami",
            "user": user.key,
            "tenant": session.tenant,
            "role": session.role,
            "key_id": session.key_id or None,
            "scopes": sorted(scope.value for scope in session.scopes),
            "expires": apikeys.iso(session.expires_ms) if session.key_id else None,
            "allow": list(session.allow),
            "mfa": session.mfa,
        }

    def user_within(self, session: Session, name: str) -> bool:
        """Whether a session may manage user ``name``'s keys and MFA: one of its tenant whose
        role does not span tenants (any user, for the platform operator)."""
        if session.platform:
            return True
        user = self.auth.users.get(name)
        return user is not None and user.tenant == session.tenant and permissions.role(user.role).reach is not Reach.PLATFORM

    def key_within(self, session: Session, key_id: str) -> bool:
        """Whether a session may manage ``key_id``: a key it does not know passes (the
        supervisor answers ``unknown key``), a known one only if its user is within reach."""
        key = self.keys.get(key_id)
        return key is None or self.user_within(session, key.user)

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
