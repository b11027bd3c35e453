"""Login and authorisation: the backoff, the signature window and the caps with time driven
by the test (``Access``), then the same gates through a gateway's frames."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

from keystore.apikeys import KeyStore, open_keys
from keystore.totp import MfaStore, code_at, open_mfa, step_of
from model.config import User
from server.gateway.access import Access, authorise
from server.gateway.auth import signature
from server.gateway.connection import Connection
from server.gateway.protocol import Login
from server.gateway.ratelimit import TokenBucket
from server.gateway.validation import Invalid
from tests.conftest import demo_setup
from tests.unit.server.gateway.harness import NoSocket, connection, keyed_setup, logged_in, login_frame, make_gateway, replies

WALL_MS = 1_700_000_000_000  # the epoch time logins are signed at


def make_access(**limits: int) -> Access:
    setup = demo_setup()
    config = msgspec.structs.replace(setup.config, gateway=msgspec.structs.replace(setup.config.gateway, **limits))
    return Access(msgspec.structs.replace(setup, config=config))


def conn(conn_id: int = 1, address: str = "10.0.0.1") -> Connection:
    return Connection(conn_id, NoSocket(), TokenBucket(10**6, 10**6), 10**6, address=address)  # type: ignore[arg-type]


def login(key: str, nonce: str, secret: str | None = None, ts: int = WALL_MS) -> Login:
    return Login(key=key, ts=ts, nonce=nonce, sig=signature(secret or f"{key}-secret", ts, nonce))


def answers(target: Connection) -> list[dict[str, Any]]:
    frames, target.outgoing = target.outgoing, []
    return [json.loads(frame) for frame in frames]


async def test_a_login_reply_names_the_accounts_of_the_user_and_of_its_groups_and_none_for_an_admin() -> None:
    access = make_access()
    trader, advisor, admin = conn(1), conn(2), conn(3)
    assert access.login(trader, login("trader1", "a"), b"1", 0, WALL_MS)
    assert access.login(advisor, login("advisor1", "b"), b"1", 0, WALL_MS)
    assert access.login(admin, login("admin", "c"), b"1", 0, WALL_MS)
    assert [answers(c)[0]["accounts"] for c in (trader, advisor, admin)] == [["A1", "A2"], ["C1", "C2", "C3"], []]
    assert advisor.accounts == {"C1", "C2", "C3"} and admin.accounts == access.all_accounts
    assert (trader.session and trader.session.role, admin.session and admin.session.role) == ("trader", "platform_operator")


async def test_a_login_asking_for_batch_is_answered_with_it_and_only_an_admitted_one_turns_it_on() -> None:
    access = make_access()
    plain, batching, refused = conn(1), conn(2), conn(3)
    assert access.login(plain, login("trader1", "a"), b"1", 0, WALL_MS)
    asking = login("trader1", "b")
    assert access.login(batching, Login(key=asking.key, ts=asking.ts, nonce=asking.nonce, sig=asking.sig, batch=True), b"1", 0, WALL_MS)
    assert not access.login(refused, Login(key="trader1", ts=WALL_MS, nonce="c", sig="0" * 64, batch=True), b"1", 0, WALL_MS)
    assert ("batch" in answers(plain)[0], answers(batching)[0]["batch"], answers(refused)[0]["code"]) == (False, True, "not_authenticated")
    assert (plain.batch, batching.batch, refused.batch) == (False, True, False)


async def test_an_account_opened_at_run_time_belongs_to_its_group_for_later_logins_and_to_every_admin() -> None:
    access = make_access()
    early = conn(1)
    access.login(early, login("advisor1", "early"), b"1", 0, WALL_MS)
    access.add_accounts([("C9", "ADV1", "default"), ("Z1", "", "default"), ("C8", "ADV1", "firm-b")])
    late, admin = conn(2), conn(3)
    access.login(late, login("advisor1", "late"), b"1", 0, WALL_MS)
    access.login(admin, login("admin", "admin"), b"1", 0, WALL_MS)
    assert "C9" not in early.accounts  # Access fixes a connection's reach at login (the gateway asks again: Gateway.add_accounts)
    assert access.reach_of(early.user, early.session) == late.accounts  # type: ignore[arg-type]
    assert late.accounts == {"C1", "C2", "C3", "C9"}  # not C8: firm-b's group ADV1 is another group
    assert {"C9", "Z1", "C8"} <= admin.accounts and "Z1" not in late.accounts


async def test_authorise_refuses_an_account_that_is_not_the_connection_s() -> None:
    access = make_access()
    trader = conn()
    access.login(trader, login("trader1", "n"), b"1", 0, WALL_MS)
    authorise(trader, "A2")
    with pytest.raises(Invalid) as refused:
        authorise(trader, "B1")
    assert refused.value.code == "forbidden" and "'B1' is not yours" in str(refused.value)


async def test_a_login_signed_outside_the_window_is_refused_and_changes_nothing_on_the_connection() -> None:
    access = make_access(login_window_ms=30_000)
    target = conn()
    assert not access.login(target, login("trader1", "old", ts=WALL_MS - 30_001), b"4", 0, WALL_MS)
    (refused,) = answers(target)
    assert (refused["id"], refused["code"]) == (4, "not_authenticated") and "30 s" in refused["message"]
    assert target.user is None and target.accounts == frozenset()
    assert access.login(target, login("trader1", "edge", ts=WALL_MS - 30_000), b"5", 0, WALL_MS)


async def test_a_locked_connection_is_refused_unchecked_until_its_backoff_has_passed() -> None:
    access = make_access(login_failures_per_connection=2, login_backoff_ms=1_000)
    target = conn()
    for attempt, now_ms in enumerate((0, 100)):
        assert not access.login(target, login("trader1", f"bad{attempt}", secret="guess"), b"1", now_ms, WALL_MS)
    answers(target)
    assert not access.login(target, login("trader1", "good"), b"2", 600, WALL_MS)
    (refused,) = answers(target)
    assert (refused["code"], refused["retry_after_ms"]) == ("rate_limited", 500)
    assert ("trader1", "good") not in access.auth.seen  # refused before the signature was checked
    assert access.login(target, login("trader1", "good"), b"3", 1_100, WALL_MS)  # the lock has passed


async def test_a_second_login_on_a_logged_in_connection_is_refused() -> None:
    access = make_access()
    target = conn()
    access.login(target, login("trader1", "one"), b"1", 0, WALL_MS)
    answers(target)
    assert not access.login(target, login("trader2", "two"), b"2", 0, WALL_MS)
    assert answers(target)[0]["message"] == "already logged in" and target.accounts == {"A1", "A2"}


async def test_release_gives_back_the_address_and_user_slots_exactly_once_each() -> None:
    access = make_access(max_connections_per_address=1, max_connections_per_user=1)
    first = conn(1, "10.0.0.9")
    assert access.admit("10.0.0.9") and not access.admit("10.0.0.9")
    access.login(first, login("trader1", "first"), b"1", 0, WALL_MS)
    second = conn(2, "10.0.0.10")
    assert access.admit("10.0.0.10")
    assert not access.login(second, login("trader1", "second"), b"1", 0, WALL_MS)
    assert answers(second)[0]["code"] == "too_many_connections"
    access.release(first)
    assert access.login(second, login("trader1", "third"), b"1", 0, WALL_MS)
    assert access.admit("10.0.0.9")  # the address slot came back too
    assert access.caps.users == {"trader1": 1} and access.caps.addresses == {"10.0.0.9": 1, "10.0.0.10": 1}


# --- who may knock -----------------------------------------------------------------------------


async def test_after_five_failures_a_connection_is_refused_unchecked_even_with_the_right_signature() -> None:
    gateway, _ = make_gateway()
    conn = connection(gateway, 1)
    for attempt in range(5):
        gateway.on_frame(conn, login_frame(secret="guess", nonce=f"bad{attempt}"))
        assert replies(conn)[0]["code"] == "not_authenticated"
    gateway.on_frame(conn, login_frame(nonce="good"))
    (refused,) = replies(conn)
    assert refused["code"] == "rate_limited" and 0 < refused["retry_after_ms"] <= 1000, refused
    assert ("trader1", "good") not in gateway.access.auth.seen  # never checked: the nonce is still unused
    assert conn.user is None


async def test_failures_from_one_address_lock_that_address_but_no_other() -> None:
    gateway, _ = make_gateway(login_failures_per_address=6)
    for conn_id in range(1, 4):  # two failures each: under the connection's allowance
        conn = connection(gateway, conn_id, address="10.0.0.66")
        for attempt in range(2):
            gateway.on_frame(conn, login_frame(key="nobody", nonce=f"x{conn_id}-{attempt}"))
    conn = connection(gateway, 4, address="10.0.0.66")
    gateway.on_frame(conn, login_frame(nonce="n4"))
    assert replies(conn)[0]["code"] == "rate_limited"
    other = connection(gateway, 5, address="10.0.0.7")
    gateway.on_frame(other, login_frame(nonce="n5"))
    assert replies(other)[0]["ok"] is True


async def test_failures_on_one_user_key_lock_that_key_on_every_connection_but_no_other_key() -> None:
    gateway, _ = make_gateway(login_failures_per_user=4)
    for conn_id in range(1, 5):
        conn = connection(gateway, conn_id, address=f"10.0.1.{conn_id}")
        gateway.on_frame(conn, login_frame(key="trader2", secret="guess", nonce=f"g{conn_id}"))
    target = connection(gateway, 9, address="10.0.2.1")
    gateway.on_frame(target, login_frame(key="trader2", nonce="right"))
    assert replies(target)[0]["code"] == "rate_limited"
    gateway.on_frame(target, login_frame(key="trader1", nonce="other"))
    assert replies(target)[0]["ok"] is True


async def test_a_user_at_its_connection_cap_is_refused_at_login_and_admitted_once_one_closes() -> None:
    gateway, _ = make_gateway(max_connections_per_user=2)
    first, _second = logged_in(gateway, 1), logged_in(gateway, 2)
    third = connection(gateway, 3)
    gateway.on_frame(third, login_frame(nonce="n3"))
    (refused,) = replies(third)
    assert refused["code"] == "too_many_connections" and third.user is None
    gateway._forget(first)
    gateway.on_frame(third, login_frame(nonce="n3b"))
    assert replies(third)[0]["ok"] is True




# --- API keys, the second factor and the lockout -------------------------------------------------------


def keyed_access(folder: Path, **gateway: object) -> tuple[Access, KeyStore, MfaStore]:
    """An ``Access`` over the demo users, with API keys and enrolments sealed in ``folder``;
    the stores to make them (an Access loads the keys when made: make it after the keys)."""
    setup = keyed_setup(folder, **gateway)
    return Access(setup), open_keys(setup.config), open_mfa(setup.config)


def user(key: str) -> User:
    return next(u for u in demo_setup().users if u.key == key)


def totp_login(key: str, nonce: str, code: str | None, secret: str | None = None, ts: int = WALL_MS) -> Login:
    return msgspec.structs.replace(login(key, nonce, secret, ts), totp=code)


async def test_a_key_logs_in_with_its_own_scopes_and_whoami_says_what_it_may_do(tmp_path: Path) -> None:
    _, keys, _ = keyed_access(tmp_path)
    key = keys.create(user("trader1"), ("read",), ("10.0.0.0/8",), WALL_MS + 86_400_000, "dash")
    access = Access(keyed_setup(tmp_path))
    reader = conn(1)
    assert access.login(reader, login(key.key_id, "a", key.secret), b"1", 0, WALL_MS)
    [answer] = answers(reader)
    assert (answer["role"], answer["scopes"], answer["accounts"], answer["key_id"]) == ("trader", ["read"], ["A1", "A2"], key.key_id)
    session = reader.session
    assert session is not None and session.permissions == {"accounts.read", "orders.read", "quotes.read"}
    assert reader.user is not None and reader.user.key == "trader1"
    who = access.whoami(reader)
    assert who == {
        "type": "whoami", "user": "trader1", "tenant": "default", "role": "trader", "key_id": key.key_id, "scopes": ["read"],
        "expires": "2023-11-15T22:13:20Z", "allow": ["10.0.0.0/8"], "mfa": False,
    }  # fmt: skip
    plain = conn(2)
    assert access.login(plain, login("trader1", "b"), b"1", 0, WALL_MS)
    assert access.whoami(plain)["key_id"] is None and access.whoami(plain)["scopes"] == ["admin", "read", "trade", "transfer"]


async def test_a_revoked_an_expired_and_an_out_of_allow_list_key_are_refused_and_counted_by_the_backoff(tmp_path: Path) -> None:
    _, keys, _ = keyed_access(tmp_path)
    revoked = keys.create(user("trader1"), ("trade",), (), WALL_MS + 86_400_000, "")
    keys.revoke(revoked.key_id)
    expired = keys.create(user("trader1"), ("trade",), (), WALL_MS - 1, "")  # made here: the parser refuses a past expiry
    fenced = keys.create(user("trader1"), ("trade",), ("192.0.2.0/24",), WALL_MS + 86_400_000, "")
    access = Access(keyed_setup(tmp_path, login_failures_per_user=1))
    cases = (
        (revoked.key_id, revoked.secret or "x", f"key {revoked.key_id} was revoked at "),
        (expired.key_id, expired.secret, f"key {expired.key_id} expired at "),
        (fenced.key_id, fenced.secret, f"key {fenced.key_id} may not log in from 10.0.0.1"),
    )
    for number, (key_id, secret, problem) in enumerate(cases):
        target = conn(10 + number)
        assert not access.login(target, login(key_id, f"n{number}", secret), b"1", 0, WALL_MS)
        [answer] = answers(target)
        assert answer["code"] == "not_authenticated" and answer["message"].startswith(problem), answer
        assert target.user is None and target.session is None
        assert access.throttle.retry_after_ms([("user", key_id)], 0) == 1_000  # counted: one failure allowed per key here
    inside = conn(20, address="192.0.2.44")
    assert access.login(inside, login(fenced.key_id, "in", fenced.secret), b"1", 2_000, WALL_MS)


async def test_a_key_locked_after_its_failures_is_refused_locked_even_when_right_until_lifted(tmp_path: Path) -> None:
    access, _, _ = keyed_access(tmp_path, lockout_failures_per_key=3, login_failures_per_user=100, login_failures_per_connection=100, login_failures_per_address=100)
    target = conn(1)
    for n in range(3):
        assert not access.login(target, login("trader1", f"bad{n}", "wrong"), b"1", n, WALL_MS)
    answers(target)
    assert not access.login(target, login("trader1", "good"), b"1", 10, WALL_MS)  # the right secret, and still refused
    [answer] = answers(target)
    assert answer["code"] == "locked" and answer["retry_after_ms"] == 900_000 - 8 and "locked after too many failed logins" in answer["message"]
    other = conn(2, address="10.0.0.2")
    assert access.login(other, login("trader2", "t2"), b"1", 10, WALL_MS)  # another key from another address: untouched
    assert access.lockout.lift(("key", "trader1"))
    assert access.login(target, login("trader1", "good2"), b"1", 11, WALL_MS)


async def test_an_address_is_locked_after_its_failures_whatever_key_it_names(tmp_path: Path) -> None:
    access, _, _ = keyed_access(tmp_path, lockout_failures_per_address=4, login_failures_per_connection=100, login_failures_per_address=100)
    for n in range(4):
        access.login(conn(n, address="10.6.6.6"), login(f"nobody{n}", "x", "wrong"), b"1", n, WALL_MS)
    target = conn(9, address="10.6.6.6")
    assert not access.login(target, login("trader1", "fine"), b"1", 5, WALL_MS)
    assert answers(target)[0]["code"] == "locked"
    assert access.login(conn(10, address="10.6.6.7"), login("trader1", "elsewhere"), b"1", 5, WALL_MS)


async def test_an_admin_login_needs_its_enrolled_user_s_code_once_and_an_unenrolled_one_is_refused_when_required(tmp_path: Path) -> None:
    access, _, mfa = keyed_access(tmp_path, require_mfa_for_admin=True, login_failures_per_connection=100, login_failures_per_user=100)
    now_s = WALL_MS / 1000
    target = conn(1)
    assert not access.login(target, login("admin", "a"), b"1", 0, WALL_MS)
    assert answers(target)[0] == {"id": 1, "type": "error", "code": "mfa_required", "message": "admin must be enrolled in MFA before an admin login (admin mfa enroll admin)"}
    assert access.login(conn(2), login("trader1", "t"), b"1", 0, WALL_MS)  # no admin-scope permission: no second factor
    secret, _ = mfa.enroll("admin", "t")
    step = step_of(now_s)
    assert not access.login(target, totp_login("admin", "b", None), b"1", 0, WALL_MS)
    assert answers(target)[0]["code"] == "mfa_required"
    wrong = f"{(int(code_at(secret, step)) + 1) % 1_000_000:06d}"
    assert not access.login(target, totp_login("admin", "c", wrong), b"1", 0, WALL_MS)
    assert answers(target)[0] == {"id": 1, "type": "error", "code": "not_authenticated", "message": "wrong TOTP code"}
    assert access.login(target, totp_login("admin", "d", code_at(secret, step)), b"1", 0, WALL_MS)
    assert target.session is not None and target.session.mfa and access.whoami(target)["mfa"] is True
    again = conn(3)
    assert not access.login(again, totp_login("admin", "e", code_at(secret, step)), b"1", 0, WALL_MS)  # the code replayed
    assert answers(again)[0]["message"].startswith("TOTP code already used")
    assert access.throttle.strikes[("user", "admin")].failures == 1  # the replay counted (the success had cleared the three before it)


async def test_a_key_without_the_admin_scope_of_an_admin_user_needs_no_second_factor(tmp_path: Path) -> None:
    _, keys, mfa = keyed_access(tmp_path)
    mfa.enroll("admin", "t")
    reader = keys.create(user("admin"), ("read",), (), WALL_MS + 86_400_000, "monitoring")
    access = Access(keyed_setup(tmp_path, require_mfa_for_admin=True))
    target = conn(1)
    assert access.login(target, login(reader.key_id, "a", reader.secret), b"1", 0, WALL_MS)
    assert target.session is not None and not any(p.startswith(("server.", "tenant.kill")) for p in target.session.permissions)
