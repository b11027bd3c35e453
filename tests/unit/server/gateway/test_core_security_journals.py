"""Journals of shares at the gateway core: symbol, qty and lots checked before anything
reaches a shard; a good one goes to the first debit account's shard as entries of shares."""

from __future__ import annotations

import json
from typing import Any

import pytest

from model import fixed
from model.messages import JournalEntry, JournalReply, Reply, RequestJournal
from model.transfers import TransferStatus
from server.gateway import protocol
from server.gateway.core import Gateway
from tests.unit.server.gateway.harness import logged_in, make_gateway, replies

D = fixed.parse


def ask(gateway: Gateway, conn: Any, frame: dict[str, Any]) -> list[dict[str, Any]]:
    gateway.on_frame(conn, json.dumps({"id": 5, "op": "journal", "idempotency_key": "k", **frame}))
    gateway.outbox.flush()
    return replies(conn)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"from": "A1", "to": "A2", "symbol": "NOPE", "qty": "1"}, "unknown_symbol"),
        ({"from": "A1", "to": "A2", "symbol": "IBM", "qty": "0"}, "invalid_qty"),
        ({"from": "A1", "to": "A2", "symbol": "IBM", "qty": "-3"}, "invalid_qty"),
        ({"from": "A1", "to": "A2", "symbol": "IBM", "qty": "1e3"}, "invalid_qty"),
        ({"from": "A1", "to": "A2", "symbol": "IBM", "qty": "0.0000001"}, "invalid_qty"),  # finer than the increment
        ({"from": "A1", "to": "A2", "symbol": "XYZ", "qty": "1.5"}, "invalid_qty"),  # whole units only
        ({"from": "A1", "to": "A2", "symbol": "IBM", "qty": "1", "amount": "1.00"}, "invalid_request"),  # cash and shares
        ({"from": "A1", "to": "A2", "symbol": "IBM"}, "invalid_request"),  # no qty
        ({"from": "A1", "to": "A2", "qty": "1"}, "invalid_request"),  # no symbol
        ({"from": "A1", "to": "A2", "amount": "1.00", "lots": [{"lot_id": 1, "qty": "1"}]}, "invalid_request"),
        ({"from": "A1", "to": "A2", "symbol": "IBM", "qty": "1", "lots": [{"lot_id": 1, "qty": "2"}]}, "invalid_lots"),  # more than qty
        ({"from": "A1", "to": "A2", "symbol": "IBM", "qty": "2", "lots": [{"lot_id": 1, "qty": "1"}, {"lot_id": 1, "qty": "1"}]}, "invalid_lots"),
        ({"from": "A1", "to": "A2", "symbol": "IBM", "qty": "2", "lots": [{"lot_id": 0, "qty": "1"}]}, "invalid_lots"),
        ({"from": "A1", "to": "A2", "symbol": "IBM", "qty": "2", "lots": [{"lot_id": 1, "qty": "x"}]}, "invalid_lots"),
        ({"from": "A1", "to": "B1", "symbol": "IBM", "qty": "1"}, "forbidden"),  # trader2's account
        ({"entries": [{"from": "A1", "to": "A2", "amount": "1.00"}, {"from": "A1", "to": "A2", "symbol": "IBM", "qty": "0"}]}, "invalid_qty"),
    ],
)
async def test_bad_journals_of_shares_are_refused_before_anything_is_sent(frame: dict[str, Any], code: str) -> None:
    gateway, sent = make_gateway()
    conn = logged_in(gateway)
    [answer] = ask(gateway, conn, frame)
    assert answer["code"] == code, answer
    assert "Traceback" not in answer["message"]
    assert sent == []


async def test_a_journal_of_shares_reaches_the_shard_as_entries_of_shares() -> None:
    gateway, sent = make_gateway()
    conn = logged_in(gateway)
    lots = [{"lot_id": 3, "qty": "1.5"}]
    entries = [{"from": "A1", "to": "A2", "amount": "1.00"}, {"from": "A2", "to": "A1", "symbol": "IBM", "qty": "2.5", "lots": lots}]
    assert ask(gateway, conn, {"entries": entries}) == []
    assert ask(gateway, conn, {"from": "A1", "to": "A2", "symbol": "XYZ", "qty": "3"}) == []
    batch, single = sent
    assert isinstance(batch, RequestJournal) and batch.entries == [
        JournalEntry("A1", "A2", D("1.00")),
        JournalEntry("A2", "A1", 0, "IBM", D("2.5"), ((3, D("1.5")),)),
    ]
    assert isinstance(single, RequestJournal) and single.entries == [JournalEntry("A1", "A2", 0, "XYZ", D("3"))]


def test_the_answer_shows_entries_of_shares_with_symbol_qty_and_lots() -> None:
    reply = JournalReply(
        Reply("gateway-0", 1, b"5"),
        "account-0-j1",
        TransferStatus.SETTLED,
        [JournalEntry("A1", "A2", D("1.00")), JournalEntry("A2", "A1", 0, "IBM", D("2.5"), ((3, D("1.5")),))],
    )
    body = json.loads(protocol.journal_reply(reply))
    assert body["entries"] == [
        {"from": "A1", "to": "A2", "amount": "1.00"},
        {"from": "A2", "to": "A1", "symbol": "IBM", "qty": "2.5", "lots": [{"lot_id": 3, "qty": "1.5"}]},
    ]
