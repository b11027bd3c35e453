"""What a gateway tells the account shards about the accounts its sessions follow
(``server/gateway/interest.py``), and, with several gateways, the login nonces spent at one
authority (``actors/supervisor/nonces.py``) so that a login replayed on another gateway is
refused."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest

from actors.runtime.outbox import Outbox
from actors.runtime.router import Router
from actors.supervisor.nonces import NonceBook
from model.messages import GatewayServes, decode_batch
from server.gateway.core import Gateway
from tests.conftest import demo_setup
from tests.unit.server.gateway.harness import connection, login_frame, replies


def several(name: str = "gateway-0", gateways: int = 2) -> tuple[Gateway, list[tuple[str, Any]]]:
    """A gateway of a topology of ``gateways``; what it sends: (shard, message)."""
    setup = demo_setup()
    config = msgspec.structs.replace(setup.config, gateway=msgspec.structs.replace(setup.config.gateway, count=gateways))
    setup = msgspec.structs.replace(setup, config=config)
    sent: list[tuple[str, Any]] = []
    outbox = Outbox(name, Router(config), config.batching, lambda shard, data: sent.extend((shard, m) for m in decode_batch(data).messages))
    return Gateway(name, setup, outbox), sent


def announced(gateway: Gateway, sent: list[tuple[str, Any]]) -> list[tuple[str, GatewayServes]]:
    gateway.outbox.flush()
    found = [(shard, message) for shard, message in sent if isinstance(message, GatewayServes)]
    sent.clear()
    return found


async def test_a_login_announces_its_accounts_to_their_shards_once_and_the_last_close_drops_them() -> None:
    gateway, sent = several()
    router = gateway.outbox.router
    first = connection(gateway, 1)
    gateway.on_frame(first, login_frame("trader1", nonce="n1"))
    assert replies(first)[-1]["gateway"] == "gateway-0"
    follows = sorted((shard, account) for shard, message in announced(gateway, sent) for account in message.follows)
    assert follows == sorted((router.account(account), account) for account in ("A1", "A2"))
    second = connection(gateway, 2)
    gateway.on_frame(second, login_frame("trader1", nonce="n2"))
    assert announced(gateway, sent) == []  # followed already
    gateway._forget(first)
    assert announced(gateway, sent) == []  # still followed by the second
    gateway._forget(second)
    drops = sorted(account for _, message in announced(gateway, sent) for account in message.drops)
    assert drops == ["A1", "A2"]


async def test_a_firehose_subscription_asks_every_shard_for_every_account() -> None:
    gateway, sent = several()
    admin = connection(gateway, 1)
    gateway.on_frame(admin, login_frame("admin", nonce="n1"))
    assert announced(gateway, sent) == []  # a platform session follows nothing until it subscribes
    gateway.on_frame(admin, '{"op": "subscribe", "id": 2, "channels": ["executions"]}')
    everything = announced(gateway, sent)
    assert sorted(shard for shard, _ in everything) == ["account-0", "account-1"]
    assert all(message.everything is True for _, message in everything)
    gateway._forget(admin)
    assert all(message.everything is False for _, message in announced(gateway, sent))


async def test_one_gateway_announces_too_so_an_account_nobody_follows_gets_no_report() -> None:
    gateway, sent = several(gateways=1)
    gateway.interest.reset()
    assert [(shard, message.reset) for shard, message in announced(gateway, sent)] == [("account-0", True), ("account-1", True)]
    conn = connection(gateway, 1)
    gateway.on_frame(conn, login_frame("trader1"))
    follows = sorted(account for _, message in announced(gateway, sent) for account in message.follows)
    assert follows == ["A1", "A2"]
    gateway._forget(conn)
    assert sorted(account for _, message in announced(gateway, sent) for account in message.drops) == ["A1", "A2"]


async def test_an_operator_session_walks_no_accounts_as_it_logs_in_and_closes(monkeypatch: pytest.MonkeyPatch) -> None:
    gateway, sent = several(gateways=1)
    walked: list[list[str]] = []
    update = gateway.interest.update
    monkeypatch.setattr(gateway.interest, "update", lambda fanout, accounts: (walked.append(list(accounts)), update(fanout, accounts))[1])
    admin = connection(gateway, 1)
    gateway.on_frame(admin, login_frame("admin"))
    assert admin.accounts  # its reach: every account
    gateway._forget(admin)
    assert walked == [[], []]  # its login and its close: nothing to look at
    trader = connection(gateway, 2)
    gateway.on_frame(trader, login_frame("trader1", nonce="n2"))
    gateway._forget(trader)
    assert [sorted(accounts) for accounts in walked[2:]] == [sorted(trader.accounts)] * 2  # a trader's own, at both
    assert sorted(account for _, message in announced(gateway, sent) for account in message.follows) == sorted(trader.accounts)


async def test_a_login_replayed_on_another_gateway_is_refused() -> None:
    book = NonceBook(demo_setup().config.gateway.login_window_ms)

    async def spend(key: str, nonce: str) -> bool:
        return book.spend(key, nonce, 0)

    first, _ = several("gateway-0")
    other, _ = several("gateway-1")
    first.nonces = other.nonces = spend
    frame = login_frame("trader1", nonce="once")
    a, b = connection(first, 1), connection(other, 1)
    first.on_frame(a, frame)
    await a.pending  # type: ignore[misc]
    assert replies(a)[-1]["ok"] is True
    other.on_frame(b, frame)  # the very same signed frame, on the other gateway
    await b.pending  # type: ignore[misc]
    refusal = replies(b)[-1]
    assert refusal["code"] == "not_authenticated" and "nonce already used" in refusal["message"]
    assert b.user is None


async def test_an_authority_that_cannot_be_asked_refuses_the_login() -> None:
    async def down(key: str, nonce: str) -> bool:
        raise ConnectionError("supervisor gone")

    gateway, _ = several()
    gateway.nonces = down
    conn = connection(gateway, 1)
    gateway.on_frame(conn, login_frame("trader1"))
    await conn.pending  # type: ignore[misc]
    assert replies(conn)[-1]["code"] == "not_authenticated" and conn.user is None
    await asyncio.sleep(0)


def test_the_nonce_book_spends_each_nonce_once_and_forgets_after_twice_the_window() -> None:
    book = NonceBook(1_000)
    assert book.spend("k", "n", 0) is True
    assert book.spend("k", "n", 1_999) is False
    assert book.spend("other", "n", 1_999) is True  # per key
    assert book.spend("k", "n2", 2_001) is True  # forgets "n" (spent at 0): older than 2 s
    assert ("k", "n") not in book.spent
