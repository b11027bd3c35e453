"""Cash movements at the gateway core: what is checked before a request reaches a shard
(amounts, keys, reach, the second factor), and the ``transfers`` channel's reach."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from actors.runtime.outbox import Outbox
from actors.runtime.router import Router
from keystore.totp import code_at, open_mfa, step_of
from model import fixed
from model.messages import RequestJournal, RequestTransfer, Transfer, TransferEvent
from model.transfers import TransferKind, TransferStatus
from server.gateway.core import Gateway
from tests.unit.server.gateway.harness import commands, keyed_setup, logged_in, make_gateway, replies


def ask(gateway: Gateway, conn: Any, frame: dict[str, Any]) -> list[dict[str, Any]]:
    gateway.on_frame(conn, json.dumps({"id": 5, **frame}))
    gateway.outbox.flush()
    return replies(conn)


async def test_bad_amounts_and_keys_are_refused_before_anything_is_sent() -> None:
    gateway, sent = make_gateway()
    conn = logged_in(gateway)
    for amount in ("0", "-1.00", "1.001", "1e3", "1.5.0", "100000000.01", "99999999999999999999"):
        [answer] = ask(gateway, conn, {"op": "deposit", "account": "A1", "amount": amount, "idempotency_key": "k"})
        assert answer["code"] == "invalid_amount", (amount, answer)
    for key in ("", "x" * 65, "tab\there"):
        [answer] = ask(gateway, conn, {"op": "deposit", "account": "A1", "amount": "1.00", "idempotency_key": key})
        assert answer["code"] == "invalid_request", (key, answer)
    [answer] = ask(gateway, conn, {"op": "deposit", "account": "B1", "amount": "1.00", "idempotency_key": "k"})
    assert answer["code"] == "forbidden"  # trader2's account
    [answer] = ask(gateway, conn, {"op": "journal", "idempotency_key": "k", "from": "A1", "to": "A2"})
    assert answer["code"] == "invalid_request" and "from, to and amount" in answer["message"]
    [answer] = ask(gateway, conn, {"op": "journal", "idempotency_key": "k", "entries": [{"from": "A1", "to": "B1", "amount": "1.00"}]})
    assert answer["code"] == "forbidden"
    [answer] = ask(gateway, conn, {"op": "get_transfers", "account": "A1", "status": "lost"})
    assert answer["code"] == "invalid_request"
    assert sent == []


async def test_requests_reach_the_shard_with_the_asker_and_the_topology() -> None:
    gateway, sent = make_gateway()
    conn = logged_in(gateway)
    assert ask(gateway, conn, {"op": "withdrawal", "account": "A2", "amount": "10.50", "idempotency_key": "w1"}) == []
    assert ask(gateway, conn, {"op": "journal", "idempotency_key": "j1", "entries": [{"from": "A1", "to": "A2", "amount": "1.00"}]}) == []
    withdrawal, journal = sent
    assert withdrawal == RequestTransfer("A2", TransferKind.WITHDRAWAL, fixed.parse("10.50"), "w1", "trader1", withdrawal.reply)
    assert isinstance(journal, RequestJournal) and (journal.asker, journal.across_owners, journal.shards) == ("trader1", False, 2)


def mfa_gateway(folder: Path) -> tuple[Gateway, list[Any]]:
    setup = keyed_setup(folder, require_mfa_for_transfers=True)
    sent: list[Any] = []
    outbox = Outbox("gateway-0", Router(setup.config), setup.config.batching, lambda name, data: sent.extend(commands(data)))
    return Gateway("gateway-0", setup, outbox), sent


async def test_a_withdrawal_needs_a_fresh_code_of_an_enrolled_user_a_deposit_none(tmp_path: Path) -> None:
    gateway, sent = mfa_gateway(tmp_path)
    conn = logged_in(gateway)
    [answer] = ask(gateway, conn, {"op": "withdrawal", "account": "A1", "amount": "1.00", "idempotency_key": "w1", "totp": "123456"})
    assert answer["code"] == "mfa_required" and "not enrolled" in answer["message"]
    assert ask(gateway, conn, {"op": "deposit", "account": "A1", "amount": "1.00", "idempotency_key": "d1"}) == []
    secret, _ = open_mfa(gateway.config).enroll("trader1", "t")
    code = code_at(secret, step_of(time.time()))
    [answer] = ask(gateway, conn, {"op": "withdrawal", "account": "A1", "amount": "0.001", "idempotency_key": "w1", "totp": code})
    assert answer["code"] == "invalid_amount"  # refused before the code is looked at: the code is not spent
    assert ask(gateway, conn, {"op": "withdrawal", "account": "A1", "amount": "1.00", "idempotency_key": "w1", "totp": code}) == []
    [answer] = ask(gateway, conn, {"op": "journal", "idempotency_key": "j1", "from": "A1", "to": "A2", "amount": "1.00", "totp": code})
    assert answer["code"] == "not_authenticated" and "already used" in answer["message"]  # one code moves cash once
    assert [type(message).__name__ for message in sent] == ["RequestTransfer", "RequestTransfer"]


def record(account: str) -> Transfer:
    return Transfer("account-0-t1", TransferKind.DEPOSIT, account, fixed.parse("5"), TransferStatus.SETTLED, 1, 2, "k", "someone")


async def test_the_transfers_channel_reaches_only_the_accounts_within_reach() -> None:
    gateway, _ = make_gateway()
    trader = logged_in(gateway, 1, "trader1")
    other = logged_in(gateway, 2, "trader2")
    operator = logged_in(gateway, 3, "admin")
    quiet = logged_in(gateway, 4, "trader1")  # not subscribed
    for conn in (trader, other, operator):
        [answer] = ask(gateway, conn, {"op": "subscribe", "channels": ["transfers"]})
        assert answer == {"id": 5, "type": "subscribed", "channels": ["transfers"]}
    gateway._deliver(TransferEvent(record("A1")))
    assert [m["account"] for m in replies(trader)] == ["A1"]
    assert replies(other) == [] and replies(quiet) == []
    [seen] = replies(operator)
    assert (seen["type"], seen["transfer_id"], seen["status"], seen["amount"]) == ("transfer", "account-0-t1", "settled", "5.00")
    gateway._deliver(TransferEvent(record("B1")))
    assert replies(trader) == [] and [m["account"] for m in replies(other)] == ["B1"] and len(replies(operator)) == 1
    gateway._forget(trader)
    gateway._deliver(TransferEvent(record("A1")))
    assert replies(trader) == []


async def test_the_risk_channel_reaches_only_the_accounts_within_reach() -> None:
    from model.messages import RiskAlert

    gateway, _ = make_gateway()
    trader = logged_in(gateway, 1, "trader1")
    other = logged_in(gateway, 2, "trader2")
    operator = logged_in(gateway, 3, "admin")
    quiet = logged_in(gateway, 4, "trader1")  # not subscribed
    for conn in (trader, other, operator):
        [answer] = ask(gateway, conn, {"op": "subscribe", "channels": ["risk", "risk"]})
        assert answer == {"id": 5, "type": "subscribed", "channels": ["risk"]}
    gateway._deliver(RiskAlert("A1", "limit", "max_var", "raised", "1200.00", "1000", "reducing", 7))
    [seen] = replies(trader)
    assert seen == {
        "type": "risk_alert", "account": "A1", "kind": "limit", "subject": "max_var", "state": "raised",
        "value": "1200.00", "threshold": "1000", "trading_state": "reducing", "ts": 7,
    }  # fmt: skip
    assert replies(other) == [] and replies(quiet) == [] and len(replies(operator)) == 1
    gateway._forget(trader)
    gateway._deliver(RiskAlert("A1", "drawdown", "", "cleared", "12", "10", "active", 8))
    assert replies(trader) == [] and len(replies(operator)) == 1
