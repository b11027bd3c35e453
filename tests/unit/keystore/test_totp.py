"""TOTP enrolments (``keystore/totp.py``) on a real sealed file: a code is accepted once,
across a new store object (a restart) as well."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from keystore.masterkey import read_key_file
from keystore.store import SecretStore
from keystore.totp import PERIOD_S, MfaRefused, MfaStore, code_at, step_of
from tests.unit.keystore.support import secrets_in

NOW_S = 1_800_000_015.0


def mfa_store(folder: Path) -> MfaStore:
    if not (folder / "master.key").exists():
        secrets_in(folder)
    return MfaStore(SecretStore(folder / "mfa.json", read_key_file(folder / "master.key"), "totp"), "brokerd-test", 1)


def test_enrolment_answers_a_uri_an_authenticator_reads_and_is_sealed(tmp_path: Path) -> None:
    store = mfa_store(tmp_path)
    secret, uri = store.enroll("admin", "2027-01-01T00:00:00Z")
    parsed = urlparse(uri)
    assert (parsed.scheme, parsed.netloc) == ("otpauth", "totp") and parse_qs(parsed.query)["secret"] == [secret]
    assert parse_qs(parsed.query)["issuer"] == ["brokerd-test"] and store.enrolled("admin") and not store.enrolled("trader1")
    assert secret not in (tmp_path / "mfa.json").read_text()
    with pytest.raises(MfaRefused, match="admin is enrolled already; mfa reset admin first"):
        store.enroll("admin", "2027-01-01T00:00:00Z")
    assert store.reset("admin") and not store.enrolled("admin") and not store.reset("admin")


def test_a_code_is_accepted_once_and_a_replay_or_an_older_step_is_refused_even_after_a_restart(tmp_path: Path) -> None:
    store = mfa_store(tmp_path)
    secret, _ = store.enroll("admin", "t")
    now = step_of(NOW_S)
    assert store.verify("admin", code_at(secret, now), NOW_S) == now
    with pytest.raises(MfaRefused, match="already used") as replay:
        store.verify("admin", code_at(secret, now), NOW_S + 1)
    assert replay.value.code == "not_authenticated"
    restarted = mfa_store(tmp_path)  # a new store object over the same file: the step was persisted
    with pytest.raises(MfaRefused, match="already used"):
        restarted.verify("admin", code_at(secret, now), NOW_S + 2)
    with pytest.raises(MfaRefused, match="already used"):
        restarted.verify("admin", code_at(secret, now - 1), NOW_S + 2)  # within drift, but older than the step used
    assert restarted.verify("admin", code_at(secret, now + 1), NOW_S + PERIOD_S) == now + 1


def test_a_wrong_code_a_malformed_one_and_one_beyond_the_drift_are_refused(tmp_path: Path) -> None:
    store = mfa_store(tmp_path)
    secret, _ = store.enroll("admin", "t")
    now = step_of(NOW_S)
    wrong = f"{(int(code_at(secret, now)) + 1) % 1_000_000:06d}"
    for code, problem in ((wrong, "wrong TOTP code"), ("12345", "6 digits"), ("12345a", "6 digits"), ("١٢٣٤٥٦", "6 digits"), (code_at(secret, now - 2), "wrong TOTP code")):
        with pytest.raises(MfaRefused, match=problem):
            store.verify("admin", code, NOW_S)
    assert store.verify("admin", code_at(secret, now - 1), NOW_S) == now - 1  # one step of drift
    with pytest.raises(MfaRefused, match="not enrolled") as missing:
        store.verify("nobody", "123456", NOW_S)
    assert missing.value.code == "mfa_required"
