"""TOTP second factor (RFC 6238, ``pyotp``): enrolments sealed in ``[secrets] mfa_file``.

A user is enrolled by ``admin mfa enroll USER`` (or ``brokerd secrets mfa-enroll USER`` with
the server down, to enrol the first platform operator): a random base32 secret, answered once
with its ``otpauth://`` URI for an authenticator app, then sealed (``SecretStore``, purpose
``totp``). ``admin mfa reset USER`` removes it.

Codes are 6 digits over 30 s time steps (what authenticator apps use); a code of up to
``[gateway] totp_drift_steps`` steps before or after now is accepted, for clock drift.

Guarantees:
- A code is accepted once (RFC 6238 §5.2): each enrolment keeps the last time step accepted,
  and a code of that step or an earlier one is refused. The step is written to the sealed file
  before the code counts (under the file's writers' lock), so it holds across a restart and
  between gateways sharing the file: two logins racing with one code, one wins.
- The secret never appears in an error, a ``repr`` or a log line.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping
from pathlib import Path

import msgspec
import pyotp

from keystore.masterkey import load_master_key
from keystore.store import SecretStore
from model.config import Config

PURPOSE = "totp"
PERIOD_S = 30
DIGITS = 6


class MfaRefused(ValueError):
    """A code was not accepted, or an enrolment cannot change as asked; ``code`` is the
    protocol's error code for it."""

    def __init__(self, message: str, code: str = "not_authenticated") -> None:
        super().__init__(message)
        self.code = code


class NotEnrolled(MfaRefused):
    """The user has no enrolment."""


class _Enrolment(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    secret: str
    enrolled: str
    last_step: int = 0


def step_of(now_s: float) -> int:
    return int(now_s // PERIOD_S)


def code_at(secret: str, step: int) -> str:
    """The code of time step ``step`` (what an authenticator app shows then)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD_S).at(step * PERIOD_S)


class MfaStore:
    """The TOTP enrolments of every user, sealed in one file."""

    def __init__(self, store: SecretStore, issuer: str = "brokerd", drift_steps: int = 1) -> None:
        self.store = store
        self.issuer = issuer
        self.drift_steps = drift_steps

    def __repr__(self) -> str:
        return f"MfaStore({self.store!r})"

    def enrolled(self, user: str) -> bool:
        return self.store.exists() and user in {info.name for info in self.store.list()}

    def enroll(self, user: str, now: str) -> tuple[str, str]:
        """A new secret for ``user`` and its ``otpauth://`` URI; refused if enrolled already."""
        secret = pyotp.random_base32()

        def put(old: bytes | None) -> bytes:
            if old is not None:
                raise MfaRefused(f"{user} is enrolled already; mfa reset {user} first", "admin_failed")
            return msgspec.json.encode(_Enrolment(secret, now))

        self.store.update(user, put)
        uri = pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD_S).provisioning_uri(name=user, issuer_name=self.issuer)
        return secret, uri

    def reset(self, user: str) -> bool:
        """Remove ``user``'s enrolment; False when there was none."""
        if not self.enrolled(user):
            return False
        self.store.remove(user)
        return True

    def verify(self, user: str, code: str, now_s: float) -> int:
        """Accept ``code`` for ``user`` once: the time step it is for, or ``MfaRefused``
        (``NotEnrolled`` when the user has no enrolment)."""
        accepted: list[int] = []

        def check(old: bytes | None) -> bytes:
            if old is None:
                raise NotEnrolled(f"{user} is not enrolled in MFA", "mfa_required")
            if len(code) != DIGITS or not code.isascii() or not code.isdigit():  # ("١٢٣٤٥٦" is digits too)
                raise MfaRefused(f"a TOTP code is {DIGITS} digits")
            enrolment = msgspec.json.decode(old, type=_Enrolment)
            now = step_of(now_s)
            steps = [step for step in range(now - self.drift_steps, now + self.drift_steps + 1) if hmac.compare_digest(code_at(enrolment.secret, step), code)]
            if not steps:
                raise MfaRefused("wrong TOTP code")
            step = max(steps)
            if step <= enrolment.last_step:
                raise MfaRefused("TOTP code already used (RFC 6238: once per time step); wait for the next code")
            accepted.append(step)
            return msgspec.json.encode(msgspec.structs.replace(enrolment, last_step=step))

        self.store.update(user, check)
        return accepted[0]


def mfa_path(config: Config) -> Path:
    return config.secrets.mfa_path(config.server.data_dir)


def open_mfa(config: Config, environ: Mapping[str, str] = os.environ) -> MfaStore:
    """The enrolments under the configured master key (``MasterKeyError`` without one)."""
    store = SecretStore(mfa_path(config), load_master_key(config.secrets, environ), PURPOSE)
    return MfaStore(store, config.gateway.totp_issuer, config.gateway.totp_drift_steps)
