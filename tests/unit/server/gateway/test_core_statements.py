"""``get_statement`` at the gateway core: the dates and the period checked before anything
reaches a shard, the account's reach, the query the shard gets, and the answer's frame."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from model.messages import QueryStatement, Reply, StatementReply
from model.statements import Balances, Statement, TradeEntry, statement_json
from server.gateway.core import Gateway
from tests.unit.server.gateway.harness import logged_in, make_gateway, replies

D = 10**9


def ask(gateway: Gateway, conn: Any, frame: dict[str, Any]) -> list[dict[str, Any]]:
    gateway.on_frame(conn, json.dumps({"id": 5, "op": "get_statement", **frame}))
    gateway.outbox.flush()
    return replies(conn)


async def test_bad_periods_and_other_accounts_are_refused_before_anything_is_sent() -> None:
    gateway, sent = make_gateway()
    conn = logged_in(gateway)
    bad = [
        ({"from": "2026-02-30", "to": "2026-03-01"}, "YYYY-MM-DD"),
        ({"from": "2026-3-1", "to": "2026-03-01"}, "YYYY-MM-DD"),
        ({"from": "2026-03-01", "to": ""}, "YYYY-MM-DD"),
        ({"from": "2026-03-02", "to": "2026-03-01"}, "is after"),
        ({"from": "2025-01-01", "to": "2026-01-02"}, "at most 366 days, not 367"),
        ({"from": "1969-12-31", "to": "1970-01-05"}, "covers dates from"),
    ]
    for dates, words in bad:
        [answer] = ask(gateway, conn, {"account": "A1", **dates})
        assert answer["code"] == "invalid_request" and words in answer["message"] and answer["id"] == 5, (dates, answer)
    [answer] = ask(gateway, conn, {"account": "B1", "from": "2026-03-01", "to": "2026-03-01"})
    assert answer["code"] == "forbidden"  # trader2's account
    [answer] = ask(gateway, conn, {"account": "A1", "from": 20260301, "to": "2026-03-01"})
    assert answer["code"] == "invalid_request"
    [answer] = ask(gateway, conn, {"account": "A1", "to": "2026-03-01"})
    assert answer["code"] == "invalid_request" and "from" in answer["message"]
    assert sent == []


async def test_a_period_becomes_the_shards_query_with_the_row_cap() -> None:
    gateway, sent = make_gateway()
    conn = logged_in(gateway)
    assert ask(gateway, conn, {"account": "A1", "from": "2025-01-01", "to": "2025-12-31"}) == []
    assert ask(gateway, conn, {"account": "A2", "from": "2024-01-01", "to": "2024-12-31"}) == []  # a leap year: 366 days
    first, second = sent
    assert isinstance(first, QueryStatement)
    assert (first.account, first.from_day, first.to_day, first.max_rows) == ("A1", date(2025, 1, 1).toordinal(), date(2025, 12, 31).toordinal(), 10_000)
    assert (second.account, second.to_day - second.from_day) == ("A2", 365)


async def test_the_answer_is_the_statement_json_with_its_type_and_id() -> None:
    gateway, _ = make_gateway()
    conn = logged_in(gateway)
    assert ask(gateway, conn, {"account": "A1", "from": "2026-03-02", "to": "2026-03-02"}) == []
    statement = Statement(
        "A1", "trader1", "default", date(2026, 3, 2), date(2026, 3, 2), "America/New_York",
        Balances(1000 * D, {}), Balances(900 * D, {"IBM": D}),
        [TradeEntry(1_772_467_200 * D, "account-0-1", "IBM", "buy", D, 100 * D, 100 * D)], [], [], [],
    )
    gateway._deliver(StatementReply(Reply(gateway.name, conn.conn_id, b"5"), statement))
    [answer] = replies(conn)
    assert answer.pop("id") == 5 and answer.pop("type") == "statement"
    assert answer == json.loads(json.dumps(statement_json(statement)))
    assert answer["closing"] == {"cash": "900.00", "positions": [{"symbol": "IBM", "qty": "1"}]} and answer["trades"][0]["amount"] == "-100.00"
