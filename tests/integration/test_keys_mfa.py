"""API keys, TOTP and lockouts on one running server (shared by the module's tests): keys made,
rotated and revoked by admin command through the gateway, logins by key with their scopes,
allow-lists and expiries, a revoked key's open connection closed at once, TOTP accepted once,
a locked key, and another tenant's admin kept out of a tenant's keys."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import pytest_asyncio

from keystore.apikeys import open_keys
from keystore.masterkey import write_new_key
from keystore.totp import code_at, step_of
from model import fixed
from model.accounts_file import AccountSeed
from model.config import SecretsSection, User
from server.app import BrokerServer
from server.client.sdk import BrokerClient, LoginError
from tests.conftest import make_setup
from tests.integration.helpers import cloid, connect

pytestmark = pytest.mark.asyncio(loop_scope="session")

FIRM = "firm-b"
USERS = [
    User(key="fb-admin", secret="fb-admin-secret", role="tenant_admin", tenant=FIRM),
    User(key="fb-trader", secret="fb-trader-secret", role="trader", accounts=["F1"], tenant=FIRM),
    User(key="d-admin", secret="d-admin-secret", role="tenant_admin"),
    User(key="mfa-op", secret="mfa-op-secret", role="operator"),
    User(key="lock-me", secret="lock-me-secret", role="trader", accounts=["T01"]),
    User(key="viewer1", secret="viewer1-secret", role="viewer", accounts=["T02"]),
]
EXPIRED: dict[str, str] = {}  # the key made already expired before the start: key_id, secret


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server(ray_cluster: None) -> AsyncIterator[BrokerServer]:
    setup = make_setup(f"t-{uuid.uuid4().hex[:8]}", quote_interval_ms=25)
    data_dir = Path(setup.config.server.data_dir)
    write_new_key(data_dir / "master.key")
    config = msgspec.structs.replace(
        setup.config,
        secrets=SecretsSection(master_key_file=str(data_dir / "master.key"), vault_file=str(data_dir / "vault.json")),
        gateway=msgspec.structs.replace(setup.config.gateway, lockout_failures_per_key=3, require_mfa_for_admin=False),
    )
    accounts = [AccountSeed("F1", "fb", 50_000 * fixed.SCALE, tenant=FIRM)]
    setup = msgspec.structs.replace(setup, config=config, users=[*setup.users, *USERS], accounts=[*setup.accounts, *accounts])
    tester = next(user for user in setup.users if user.key == "tester")
    expired = open_keys(config).create(tester, ("read",), (), int(time.time() * 1000) - 1000, "old")  # the gateways load it at start
    EXPIRED.update(key_id=expired.key_id, secret=expired.secret)
    broker = BrokerServer(setup, "127.0.0.1", 0)
    await broker.start()
    yield broker
    await broker.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def operator(server: BrokerServer) -> AsyncIterator[BrokerClient]:
    async with connect(server.url, "admin", "admin-secret") as client:
        yield client


async def admin(client: BrokerClient, *words: str) -> dict[str, Any]:
    reply: dict[str, Any] = await client.request({"op": "admin", "command": words[0], "args": list(words[1:])}, timeout=30)
    return reply


async def new_key(client: BrokerClient, user: str, *options: str) -> tuple[str, str]:
    reply = await admin(client, "keys", "create", user, *options)
    assert reply["type"] == "admin" and reply["ok"], reply
    return reply["result"]["create"]["key_id"], reply["result"]["secret"]


async def refused_login(server: BrokerServer, key: str, secret: str, totp: str | None = None) -> LoginError:
    with pytest.raises(LoginError) as refused:
        async with BrokerClient(server.url, key, secret, totp=totp):
            pass
    return refused.value


async def closed(client: BrokerClient, seconds: float = 5) -> str:
    """The reason ``client``'s connection ended with, waiting up to ``seconds``."""
    deadline = time.monotonic() + seconds
    while not client.closed and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert client.closed
    with pytest.raises(ConnectionError) as ended:
        await client.request({"op": "whoami"})
    return str(ended.value)


async def test_a_read_key_logs_in_with_its_scopes_reads_and_may_not_trade(server: BrokerServer, operator: BrokerClient) -> None:
    key_id, secret = await new_key(operator, "tester", "--scopes", "read", "--label", "dashboard", "--expires", "+30d")
    async with BrokerClient(server.url, key_id, secret) as reader:
        who = await reader.request({"op": "whoami"})
        assert (who["user"], who["role"], who["key_id"], who["scopes"], who["allow"], who["mfa"]) == ("tester", "trader", key_id, ["read"], [], False)
        assert (await reader.request({"op": "get_account", "account": "T01"}))["type"] == "account"
        refused = await reader.new_order("T01", cloid(), "IBM", "buy", type="market", qty="1")
        assert (refused["code"], refused["message"]) == ("forbidden", "new_order needs the orders.place permission (trader: its scopes lack it)")
    listed = (await admin(operator, "keys", "list", "tester"))["result"]["keys"]
    assert [(k["key_id"], k["scopes"], k["label"]) for k in listed if k["key_id"] == key_id] == [(key_id, ["read"], "dashboard")]
    assert all("secret" not in k for k in listed)


async def test_revoking_a_key_closes_its_open_connection_at_once_and_it_never_logs_in_again(server: BrokerServer, operator: BrokerClient) -> None:
    key_id, secret = await new_key(operator, "tester", "--scopes", "read,trade")
    async with BrokerClient(server.url, key_id, secret) as trader, connect(server.url) as bystander:
        accepted = await trader.new_order("T03", cloid(), "IBM", "buy", type="limit", qty="1", price="140.00")
        assert accepted["type"] == "execution", accepted
        reply = await admin(operator, "keys", "revoke", key_id)
        assert reply["ok"] and reply["result"]["connections_closed"] == 1 and reply["result"]["revoke"]["revoked"], reply
        assert f"1008 (policy violation) api key {key_id} revoked" in await closed(trader, seconds=1)
        assert (await bystander.request({"op": "whoami"}))["user"] == "tester"  # the users-file login of the same user stays
    refused = await refused_login(server, key_id, secret)
    assert refused.code == "not_authenticated" and f"key {key_id} was revoked at" in str(refused)


async def test_rotating_a_key_closes_the_old_secret_s_connection_and_the_new_secret_logs_in(server: BrokerServer, operator: BrokerClient) -> None:
    key_id, secret = await new_key(operator, "tester", "--scopes", "read")
    async with BrokerClient(server.url, key_id, secret) as old:
        reply = await admin(operator, "keys", "rotate", key_id)
        fresh = reply["result"]["secret"]
        assert fresh != secret and reply["result"]["connections_closed"] == 1
        assert "rotated: log in with its new secret" in await closed(old)
    assert (await refused_login(server, key_id, secret)).code == "not_authenticated"
    async with BrokerClient(server.url, key_id, fresh) as again:
        assert (await again.request({"op": "whoami"}))["key_id"] == key_id


async def test_an_expired_key_and_a_key_from_outside_its_allow_list_are_refused(server: BrokerServer, operator: BrokerClient) -> None:
    refused = await refused_login(server, EXPIRED["key_id"], EXPIRED["secret"])
    assert refused.code == "not_authenticated" and f"key {EXPIRED['key_id']} expired at" in str(refused)
    key_id, secret = await new_key(operator, "tester", "--scopes", "read", "--allow", "192.0.2.0/24")
    refused = await refused_login(server, key_id, secret)
    assert f"key {key_id} may not log in from 127.0.0.1" in str(refused)
    key_id, secret = await new_key(operator, "tester", "--scopes", "read", "--allow", "127.0.0.0/8")
    async with BrokerClient(server.url, key_id, secret) as inside:
        assert (await inside.request({"op": "whoami"}))["allow"] == ["127.0.0.0/8"]


async def test_a_key_may_not_hold_scopes_its_user_s_role_cannot_use_nor_a_past_expiry(operator: BrokerClient) -> None:
    reply = await admin(operator, "keys", "create", "viewer1", "--scopes", "read,trade")
    assert (reply["code"], reply["message"]) == ("admin_failed", "keys create: role viewer has no permission of scope trade; its keys may hold: read")
    reply = await admin(operator, "keys", "create", "viewer1", "--scopes", "read", "--expires", "2001-01-01T00:00:00Z")
    assert reply["code"] == "admin_failed" and "not in the future" in reply["message"]


async def test_another_tenant_s_admin_manages_its_own_users_keys_only(server: BrokerServer, operator: BrokerClient) -> None:
    home_key, _ = await new_key(operator, "tester", "--scopes", "read")
    async with connect(server.url, "fb-admin", "fb-admin-secret") as firm, connect(server.url, "d-admin", "d-admin-secret") as home:
        for words, answer in (
            (("keys", "create", "tester", "--scopes", "read"), "unknown user tester"),
            (("keys", "list", "tester"), "unknown user tester"),
            (("keys", "revoke", home_key), f"unknown key {home_key}"),
            (("keys", "rotate", home_key), f"unknown key {home_key}"),
            (("mfa", "enroll", "tester"), "unknown user tester"),
            (("keys", "create", "admin", "--scopes", "read"), "unknown user admin"),  # the platform operator is no tenant's to manage
        ):
            reply = await admin(firm, *words)
            assert (reply["code"], reply["message"]) == ("admin_failed", answer), (words, reply)
        assert (await admin(home, "keys", "create", "admin", "--scopes", "read"))["message"] == "unknown user admin"
        firm_key, firm_secret = await new_key(firm, "fb-trader", "--scopes", "read,trade")
        listed = (await admin(firm, "keys", "list"))["result"]["keys"]
        assert {k["user"] for k in listed} == {"fb-trader"} and home_key not in {k["key_id"] for k in listed}
        assert firm_key not in {k["key_id"] for k in (await admin(home, "keys", "list"))["result"]["keys"]}
        async with BrokerClient(server.url, firm_key, firm_secret) as firm_trader:
            assert (await firm_trader.request({"op": "whoami"}))["tenant"] == FIRM
    async with connect(server.url) as trader:
        reply = await admin(trader, "keys", "list")
        assert (reply["code"], reply["message"]) == ("forbidden", "admin keys needs the tenant.keys permission (trader: the role lacks it)")


async def test_an_enrolled_operator_needs_its_code_once_and_a_wrong_or_replayed_code_is_refused(server: BrokerServer, operator: BrokerClient) -> None:
    reply = await admin(operator, "mfa", "enroll", "mfa-op")
    secret = reply["result"]["secret"]
    assert reply["result"]["uri"].startswith("otpauth://totp/") and secret in reply["result"]["uri"]
    assert (await refused_login(server, "mfa-op", "mfa-op-secret")).code == "mfa_required"
    code = code_at(secret, step_of(time.time()))
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    refused = await refused_login(server, "mfa-op", "mfa-op-secret", wrong)
    assert (refused.code, str(refused).endswith("wrong TOTP code")) == ("not_authenticated", True)
    async with BrokerClient(server.url, "mfa-op", "mfa-op-secret", totp=code) as op:
        assert (await op.request({"op": "whoami"}))["mfa"] is True
    refused = await refused_login(server, "mfa-op", "mfa-op-secret", code)  # the same code again
    assert refused.code == "not_authenticated" and "TOTP code already used" in str(refused)
    assert (await admin(operator, "mfa", "reset", "mfa-op"))["result"]["reset"] is True
    async with BrokerClient(server.url, "mfa-op", "mfa-op-secret") as op:  # not enrolled, and not required on this server
        assert (await op.request({"op": "whoami"}))["mfa"] is False


async def test_a_key_locked_by_its_failures_is_refused_locked_until_the_operator_lifts_it(server: BrokerServer, operator: BrokerClient) -> None:
    for _ in range(3):
        assert (await refused_login(server, "lock-me", "wrong")).code == "not_authenticated"
    locked = await refused_login(server, "lock-me", "lock-me-secret")
    assert locked.code == "locked" and "locked after too many failed logins" in str(locked)
    listed = (await admin(operator, "lockout", "list"))["result"]["gateways"]
    assert {"kind": "key", "name": "lock-me"} in [{k: v for k, v in entry.items() if k != "retry_after_ms"} for part in listed for entry in part["locked"]]
    reply = await admin(operator, "lockout", "lift", "lock-me")
    assert reply["result"]["lifted"] is True
    async with BrokerClient(server.url, "lock-me", "lock-me-secret") as fine:
        assert (await fine.request({"op": "whoami"}))["user"] == "lock-me"
