"""The second factor at the gateway (``server/gateway/mfa.py``), and on its own the check a
cash-moving op is to call before moving cash (``transfer_check``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from keystore.totp import MfaRefused, code_at, open_mfa, step_of
from model import permissions
from model.permissions import ALL_SCOPES, Reach, Scope
from server.gateway.connection import Session
from server.gateway.mfa import SecondFactor, transfer_check
from tests.unit.server.gateway.harness import keyed_setup

NOW_S = 1_800_000_000.0


def session(role: str, scopes: frozenset[Scope] = ALL_SCOPES) -> Session:
    return Session(role, "default", scopes, permissions.effective(role, scopes), Reach.TENANT)


def test_a_transfer_needs_the_permission_an_enrolled_user_and_a_fresh_code_each_time(tmp_path: Path) -> None:
    setup = keyed_setup(tmp_path, require_mfa_for_admin=False)  # off for logins: a transfer asks whatever it says
    factor = SecondFactor(setup.config)
    cashier = session("cashier")
    with pytest.raises(MfaRefused, match="cashier1 is not enrolled") as refused:
        transfer_check(factor, "cashier1", cashier, "123456", NOW_S)
    assert refused.value.code == "mfa_required"
    secret, _ = open_mfa(setup.config).enroll("cashier1", "t")
    code = code_at(secret, step_of(NOW_S))
    with pytest.raises(MfaRefused, match="needs the cash.transfer permission") as refused:
        transfer_check(factor, "cashier1", session("viewer"), code, NOW_S)
    assert refused.value.code == "forbidden"
    with pytest.raises(MfaRefused, match="needs the cash.transfer permission"):
        transfer_check(factor, "cashier1", session("cashier", frozenset({Scope.READ})), code, NOW_S)  # a read-only key of a cashier
    with pytest.raises(MfaRefused, match="needs its TOTP code"):
        transfer_check(factor, "cashier1", cashier, None, NOW_S)
    transfer_check(factor, "cashier1", cashier, code, NOW_S)
    with pytest.raises(MfaRefused, match="already used"):
        transfer_check(factor, "cashier1", cashier, code, NOW_S)  # the same code moves cash once


def test_a_server_without_its_master_key_refuses_the_second_factor_rather_than_wave_it_through(tmp_path: Path) -> None:
    setup = keyed_setup(tmp_path, require_mfa_for_admin=True)
    open_mfa(setup.config).enroll("admin", "t")
    (tmp_path / "master.key").unlink()
    factor = SecondFactor(setup.config)
    with pytest.raises(MfaRefused, match="MFA is not available on this server") as refused:
        factor.login_check("admin", "platform_operator", session("platform_operator"), "123456", NOW_S)
    assert refused.value.code == "mfa_required"
    assert factor.login_check("trader1", "trader", session("trader"), None, NOW_S) is False  # no admin scope: not asked
