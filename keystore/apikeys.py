"""API keys: a user's further credentials, each with fewer powers than the user may have.

A key has an id (public: it is what a login names as ``key``), a secret (generated here,
``secrets.token_urlsafe``, answered once by ``keys create`` and ``keys rotate``, then never
again), the user it logs in as, the scopes it holds (``model/permissions.py``: its session's
permissions are ``effective(role, key scopes)``), the addresses it may log in from (an
allow-list of networks; empty: any), an expiry, a label, and its times (created, rotated,
revoked).

Everything of a key — its secret and its metadata — is one entry of a sealed store
(``SecretStore``, purpose ``api-keys``, the file ``[secrets] api_keys_file``): the file holds
no plaintext, and an entry edited, swapped or dropped outside brokerd does not authenticate,
so who a key belongs to and what it may do are as tamper-evident as its secret.

Which scopes a key may hold: only scopes in which its user's role holds at least one
permission (``permissions.usable_scopes``); a scope the role cannot use is refused when the
key is created, so a key never seems to promise what its session will not have.

Guarantees:
- A revoked key keeps its record (who, when) but loses its secret: nothing can log in as it,
  and it cannot be rotated back to life.
- The secret never appears in a listing, an error, a ``repr`` or a log line.
- Changes are atomic (the store's file is replaced whole, under its writers' lock).
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from keystore.masterkey import load_master_key
from keystore.store import SecretStore, StoreError
from model import permissions
from model.config import Config, User
from model.permissions import Scope

PURPOSE = "api-keys"
SECRET_BYTES = 32  # token_urlsafe(32): 256 bits, 43 characters
ID_PREFIX = "k"
MAX_LABEL = 100
MAX_ALLOW = 64  # networks in one allow-list
DAY_MS = 86_400_000
_RELATIVE = re.compile(r"\+(\d{1,5})([dh])")


class KeyRefused(ValueError):
    """A key cannot be created or changed as asked; the message (one line) says why."""


class ApiKey(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One API key as the store holds it (``secret`` empty once revoked)."""

    key_id: str
    user: str
    tenant: str
    scopes: tuple[str, ...]
    allow: tuple[str, ...]
    expires_ms: int
    label: str
    created: str
    rotated: str
    revoked: str = ""
    secret: str = ""
    generation: int = 0  # one more at each rotation: the sessions of an older secret are closed

    def __repr__(self) -> str:
        return f"ApiKey({self.key_id!r}, user={self.user!r}, scopes={self.scopes!r})"

    def public(self) -> dict[str, Any]:
        """What a listing shows: everything but the secret."""
        return {
            "key_id": self.key_id,
            "user": self.user,
            "tenant": self.tenant,
            "scopes": list(self.scopes),
            "allow": list(self.allow),
            "expires": iso(self.expires_ms),
            "label": self.label,
            "created": self.created,
            "rotated": self.rotated,
            "revoked": self.revoked or None,
        }

    def scope_set(self) -> frozenset[Scope]:
        return frozenset(Scope(scope) for scope in self.scopes)


def iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms // 1000))


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


# --- what a key may be given ------------------------------------------------------------------------


def parse_scopes(text: str | None, role_name: str) -> tuple[str, ...]:
    """``read,trade`` → the scopes, in the table's order; each must be one the role can use."""
    if not text:
        raise KeyRefused("a key needs --scopes (a comma-separated list of read, trade, transfer, admin)")
    wanted = {part.strip() for part in text.split(",") if part.strip()}
    unknown = sorted(wanted - {scope.value for scope in Scope})
    if unknown or not wanted:
        raise KeyRefused(f"unknown scope {', '.join(unknown) or text}; scopes: {', '.join(scope.value for scope in Scope)}")
    usable = permissions.usable_scopes(role_name)
    beyond = [scope.value for scope in Scope if scope.value in wanted and scope not in usable]
    if beyond:
        can = ", ".join(scope.value for scope in Scope if scope in usable)
        raise KeyRefused(f"role {permissions.role(role_name).name} has no permission of scope {', '.join(beyond)}; its keys may hold: {can}")
    return tuple(scope.value for scope in Scope if scope.value in wanted)


def parse_allow(text: str | None) -> tuple[str, ...]:
    """``10.0.0.0/8,192.0.2.7`` → the networks, normalised (``192.0.2.7/32``); none: any address."""
    if not text:
        return ()
    networks = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            networks.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError:
            raise KeyRefused(f"--allow: {part[:60]!r} is not an address or a network (CIDR, e.g. 10.0.0.0/8)") from None
    if len(networks) > MAX_ALLOW:
        raise KeyRefused(f"--allow: at most {MAX_ALLOW} networks")
    return tuple(dict.fromkeys(networks))


def parse_expiry(text: str | None, now_ms: int, default_days: int, max_days: int) -> int:
    """When a key expires (epoch ms): ``+30d``, ``+12h``, an ISO-8601 time (UTC when it names
    no zone), or none: ``default_days`` from now. Never in the past nor beyond ``max_days``."""
    if not text:
        return now_ms + default_days * DAY_MS
    relative = _RELATIVE.fullmatch(text)
    if relative is not None:
        amount, unit = int(relative.group(1)), relative.group(2)
        expires = now_ms + amount * (DAY_MS if unit == "d" else DAY_MS // 24)
    else:
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            raise KeyRefused(f"--expires: {text[:40]!r} is neither +Nd, +Nh nor an ISO-8601 time") from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        expires = int(when.timestamp() * 1000)
    if expires <= now_ms:
        raise KeyRefused(f"--expires: {text} is not in the future")
    if expires > now_ms + max_days * DAY_MS:
        raise KeyRefused(f"--expires: a key lasts at most {max_days} days ([gateway] api_key_max_days)")
    return expires


def parse_label(text: str | None) -> str:
    label = text or ""
    if len(label) > MAX_LABEL or not label.isprintable():
        raise KeyRefused(f"--label: at most {MAX_LABEL} printable characters")
    return label


def address_allowed(allow: Iterable[str], address: str) -> bool:
    """Whether ``address`` is in one of the networks ``allow`` (an empty list allows any).
    An IPv4 address seen as IPv6 (``::ffff:10.1.2.3``) is its IPv4 self."""
    allow = tuple(allow)
    if not allow:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in ipaddress.ip_network(network) for network in allow)


# --- the store --------------------------------------------------------------------------------------


class KeyStore:
    """The API keys, sealed in one file."""

    def __init__(self, store: SecretStore) -> None:
        self.store = store

    def __repr__(self) -> str:
        return f"KeyStore({self.store!r})"

    def load(self) -> dict[str, ApiKey]:
        """Every key (revoked ones too), the file verified whole; ``{}`` without a file."""
        return {name: msgspec.json.decode(value, type=ApiKey) for name, value in self.store.values().items()}

    def get(self, key_id: str) -> ApiKey:
        keys = self.load()
        if key_id not in keys:
            raise KeyRefused(f"unknown key {key_id}")
        return keys[key_id]

    def create(self, user: User, scopes: tuple[str, ...], allow: tuple[str, ...], expires_ms: int, label: str, taken: Iterable[str] = ()) -> ApiKey:
        """A new key for ``user`` (its id never one of ``taken``: the users file's keys)."""
        taken = set(taken)
        while True:
            key_id = ID_PREFIX + secrets.token_hex(8)
            if key_id not in taken:
                break
        now = _now()
        key = ApiKey(key_id, user.key, user.tenant, scopes, allow, expires_ms, label, now, now, "", secrets.token_urlsafe(SECRET_BYTES))

        def put(old: bytes | None) -> bytes:
            if old is not None:  # 64 random bits: never, but never silently
                raise KeyRefused(f"key id {key_id} exists; try again")
            return msgspec.json.encode(key)

        self.store.update(key_id, put)
        return key

    def rotate(self, key_id: str) -> ApiKey:
        """A new secret for a live key; the old one stops working at once."""
        return self._change(key_id, lambda key: msgspec.structs.replace(key, rotated=_now(), secret=secrets.token_urlsafe(SECRET_BYTES), generation=key.generation + 1))

    def revoke(self, key_id: str) -> ApiKey:
        """The key can never log in again; its record stays, without its secret."""
        now = _now()
        return self._change(key_id, lambda key: msgspec.structs.replace(key, rotated=now, revoked=now, secret=""))

    def _change(self, key_id: str, change: Any) -> ApiKey:
        changed: list[ApiKey] = []

        def apply(old: bytes | None) -> bytes:
            if old is None:
                raise KeyRefused(f"unknown key {key_id}")
            key = msgspec.json.decode(old, type=ApiKey)
            if key.revoked:
                raise KeyRefused(f"key {key_id} was revoked at {key.revoked}; create a new one")
            changed.append(change(key))
            return msgspec.json.encode(changed[0])

        self.store.update(key_id, apply)
        return changed[0]


def keys_path(config: Config) -> Path:
    return config.secrets.api_keys_path(config.server.data_dir)


def open_keys(config: Config, environ: Mapping[str, str] = os.environ) -> KeyStore:
    """The key store under the configured master key (``MasterKeyError`` without one)."""
    return KeyStore(SecretStore(keys_path(config), load_master_key(config.secrets, environ), PURPOSE))


def load_keys(config: Config, environ: Mapping[str, str] = os.environ) -> dict[str, ApiKey]:
    """Every key, or ``{}`` when there is no key file yet (then no master key is needed).
    Raises ``MasterKeyError`` or ``StoreError`` (one line) when the file cannot be trusted."""
    if not keys_path(config).exists():
        return {}
    return open_keys(config, environ).load()


__all__ = ["ApiKey", "KeyRefused", "KeyStore", "StoreError", "address_allowed", "load_keys", "open_keys", "parse_allow", "parse_expiry", "parse_scopes"]
