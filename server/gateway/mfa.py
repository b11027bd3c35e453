"""The second factor where the gateway asks for it: at an admin-scope login, and before a
withdrawal or a journal moves cash (``transfer_check``).

The enrolments live in the sealed ``[secrets] mfa_file`` (``keystore/totp.py``), read at each
check rather than kept here: an enrolment or reset made through any gateway, or with the
server down, counts at once on every gateway, and the once-only time step is checked and
written under the file's lock. A check therefore costs one verified read and one fsynced write
of that small file on the gateway's event loop: admin logins and transfers are rare.

Guarantees:
- A login whose session would hold an admin-scope permission (``permissions.admin_scoped``)
  passes only with a code accepted by the user's enrolment; without an enrolment it passes only
  while ``[gateway] require_mfa_for_admin`` is off.
- :func:`transfer_check` passes only a session holding ``cash.transfer`` with a fresh code of
  its enrolled user, whatever ``require_mfa_for_admin`` says.
- A refusal is ``MfaRefused`` with the protocol's code and a message that holds no secret;
  a server without a usable master key refuses (and logs why), it never waves a login through.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from keystore.masterkey import MasterKeyError
from keystore.store import StoreError
from keystore.totp import MfaRefused, MfaStore, NotEnrolled, mfa_path, open_mfa
from model import permissions
from model.config import Config
from server.gateway.connection import Session

log = structlog.get_logger("gateway")

TRANSFER = "cash.transfer"


class SecondFactor:
    """The gateway's view of the enrolments (``opener`` opens the store; tests pass theirs)."""

    def __init__(self, config: Config, opener: Callable[[Config], MfaStore] = open_mfa) -> None:
        self.config = config
        self.required = config.gateway.require_mfa_for_admin
        self.opener = opener
        self.path = mfa_path(config)

    def _store(self) -> MfaStore:
        try:
            return self.opener(self.config)
        except (MasterKeyError, StoreError) as problem:
            log.error("MFA store unusable", reason=str(problem))
            raise MfaRefused("MFA is not available on this server; ask its operator", "mfa_required") from None

    def enrolled(self, user: str) -> bool:
        if not self.path.exists():
            return False
        try:
            return self._store().enrolled(user)
        except StoreError as problem:
            log.error("MFA store unusable", reason=str(problem))
            raise MfaRefused("MFA is not available on this server; ask its operator", "mfa_required") from None

    def verify(self, user: str, code: str | None, now_s: float) -> None:
        """``code`` accepted once for ``user``'s enrolment, or ``MfaRefused`` (``NotEnrolled``
        when there is none). One verified read and one write of the store when a code is given."""
        if not code:
            if not self.enrolled(user):
                raise NotEnrolled(f"{user} is not enrolled in MFA", "mfa_required")
            raise MfaRefused(f"{user} is enrolled in MFA: the login needs its TOTP code (totp)", "mfa_required")
        if not self.path.exists():
            raise NotEnrolled(f"{user} is not enrolled in MFA", "mfa_required")
        try:
            self._store().verify(user, code, now_s)
        except StoreError as problem:
            log.error("MFA store unusable", reason=str(problem))
            raise MfaRefused("MFA is not available on this server; ask its operator", "mfa_required") from None

    def login_check(self, user: str, role: str, session: Session, code: str | None, now_s: float) -> bool:
        """At login: whether a code was required and accepted (False: none was needed).
        Raises ``MfaRefused``."""
        if not permissions.admin_scoped(role, session.scopes):
            return False
        try:
            self.verify(user, code, now_s)
        except NotEnrolled:
            if self.required:
                raise MfaRefused(f"{user} must be enrolled in MFA before an admin login (admin mfa enroll {user})", "mfa_required") from None
            return False
        return True


def transfer_check(second_factor: SecondFactor, user: str, session: Session, code: str | None, now_s: float) -> None:
    """Before cash moves: the session holds ``cash.transfer`` and ``code`` is a fresh TOTP
    code of its enrolled user (the code is then spent). Raises ``MfaRefused`` (``forbidden``,
    ``mfa_required`` or ``not_authenticated``). The gateway calls it for a ``withdrawal`` and a
    ``journal``, after every other check of the request (``Gateway._second_factor``)."""
    if TRANSFER not in session.permissions:
        raise MfaRefused(f"moving cash needs the {TRANSFER} permission", "forbidden")
    try:
        second_factor.verify(user, code, now_s)
    except NotEnrolled:
        raise MfaRefused(f"moving cash needs MFA: {user} is not enrolled (admin mfa enroll {user})", "mfa_required") from None
