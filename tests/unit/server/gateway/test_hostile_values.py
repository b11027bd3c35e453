"""Values a client can send that nothing downstream could hold: refused at the gateway with a
clear error, the connection open, nothing sent to a shard, every audit record still written."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest

from actors.runtime.audit import AuditLog
from actors.runtime.outbox import Outbox
from actors.runtime.router import Router
from model.messages import NewOrder
from server.gateway.core import Gateway
from tests.conftest import demo_setup
from tests.unit.server.gateway.harness import connection, logged_in, login_frame, make_gateway, replies

HUGE = "999999999999999999"  # 10^18 units of 10^-9: past a signed 64-bit integer
LARGEST = "9223372036.854775807"


def new_order(request_id: object = 2, **fields: Any) -> str:
    order = {"op": "new_order", "id": request_id, "account": "A1", "client_order_id": f"c{request_id}", "symbol": "IBM",
             "side": "buy", "type": "limit", "qty": "1", "price": "149.00"}  # fmt: skip
    return json.dumps({**order, **fields})


@pytest.mark.parametrize(
    "fields",
    [
        {"qty": HUGE},
        {"qty": "9223372036.854775808"},
        {"price": HUGE},
        {"type": "market", "price": None, "qty": None, "notional": HUGE},
        {"type": "stop", "price": None, "stop_price": HUGE},
    ],
)
async def test_a_decimal_past_64_bits_is_refused_naming_its_field_and_reaches_no_shard(fields: dict[str, Any]) -> None:
    gateway, sent = make_gateway()
    conn = logged_in(gateway)
    gateway.on_frame(conn, new_order(**fields))
    gateway.on_frame(conn, new_order(3))  # the connection goes on: the next order is sent
    gateway.outbox.flush()
    refused, *_ = replies(conn)
    field = next(name for name, value in fields.items() if value is not None and value != "market" and value != "stop")
    assert (refused["id"], refused["code"]) == (2, "invalid_request")
    assert refused["message"].startswith(f"{field} must be at most {LARGEST}"), refused
    assert [m.client_order_id for m in sent if isinstance(m, NewOrder)] == ["c3"]


async def test_a_quantity_near_the_largest_is_taken_and_its_batch_reaches_the_shard() -> None:
    gateway, sent = make_gateway()
    conn = logged_in(gateway)
    gateway.on_frame(conn, new_order(qty="9223372036"))  # (the account's risk limits refuse it there, not here)
    gateway.outbox.flush()
    assert [m.spec.qty for m in sent if isinstance(m, NewOrder)] == [9_223_372_036 * 10**9]
    assert replies(conn) == []


async def test_a_sale_naming_a_lot_by_a_quantity_past_64_bits_is_refused() -> None:
    gateway, sent = make_gateway()
    conn = logged_in(gateway)
    gateway.on_frame(conn, new_order(side="sell", lots=[{"lot_id": 1, "qty": HUGE}]))
    gateway.outbox.flush()
    (refused,) = replies(conn)
    assert refused["code"] == "invalid_request" and "9223372036.854775807" in refused["message"], refused
    assert sent == []


async def test_an_order_refused_with_a_huge_number_is_audited_and_so_is_everything_beside_it(tmp_path: Path) -> None:
    setup = demo_setup()
    audit = AuditLog("gateway-0", setup.config, str(tmp_path))
    gateway = Gateway("gateway-0", setup, Outbox("gateway-0", Router(setup.config), setup.config.batching, lambda name, data: None), audit=audit)
    try:
        other = connection(gateway, 2, address="10.0.0.2")
        gateway.on_frame(other, login_frame("trader2", nonce="v1"))  # another user's login, noted in the same turn
        conn = connection(gateway, 1)
        gateway.on_frame(conn, login_frame("trader1", nonce="n1"))
        gateway.on_frame(conn, new_order(account="B1", qty=HUGE))  # not the user's account, and a number no record holds
        assert replies(conn)[-1]["code"] in ("forbidden", "invalid_request")
        noted = len(audit.noted)
        await asyncio.sleep(0.05)  # the flush at the end of the turn
        assert audit.noted == [] and audit.writer.head.seq == noted == 3
    finally:
        audit.close()


@pytest.mark.parametrize("request_id", ['"' + "x" * 127 + '"', "1" * 129])
async def test_an_id_over_128_bytes_is_refused_without_an_id_and_the_connection_goes_on(request_id: str) -> None:
    gateway, sent = make_gateway()
    conn = logged_in(gateway)
    frame = new_order().replace('"id": 2', f'"id": {request_id}')
    assert request_id in frame
    gateway.on_frame(conn, frame)
    gateway.on_frame(conn, new_order(3))
    gateway.outbox.flush()
    refused, *_ = replies(conn)
    assert refused == {"type": "error", "code": "invalid_request", "message": "id must be at most 128 bytes of JSON"}
    assert [m.client_order_id for m in sent if isinstance(m, NewOrder)] == ["c3"]


async def test_an_id_of_128_bytes_is_echoed() -> None:
    gateway, _ = make_gateway()
    conn = logged_in(gateway)
    request_id = "y" * 126
    gateway.on_frame(conn, json.dumps({"op": "whoami", "id": request_id}))
    assert replies(conn)[-1]["id"] == request_id


async def test_an_id_that_is_not_utf8_in_a_binary_frame_is_refused_as_such() -> None:
    gateway, _ = make_gateway()
    conn = logged_in(gateway)
    gateway.on_frame(conn, b'{"op":"whoami","id":"\xff"}')
    gateway.on_frame(conn, b'{"op":"whoami","id":"\xc3\xa9"}')  # é: UTF-8, echoed
    refused, answered = replies(conn)
    assert refused == {"type": "error", "code": "invalid_request", "message": "a frame must be UTF-8 JSON"}
    assert answered["id"] == "é" and answered["type"] == "whoami"


async def test_a_signature_that_is_not_ascii_is_a_bad_signature_counted_toward_the_backoff() -> None:
    gateway, _ = make_gateway()
    conn = connection(gateway, 1)
    answers = []
    for attempt in range(7):
        ts = int(time.time() * 1000)
        gateway.on_frame(conn, json.dumps({"op": "login", "id": attempt, "key": "trader1", "ts": ts, "nonce": f"n{attempt}", "sig": "é"}))
        answers.extend(replies(conn))
    assert answers[0] == {"id": 0, "type": "error", "code": "not_authenticated", "message": "bad key or signature"}
    assert "rate_limited" in {answer["code"] for answer in answers}  # each one counted, as any bad signature


async def test_an_unknown_symbol_s_name_is_quoted_cut_to_64_characters() -> None:
    gateway, _ = make_gateway()
    conn = logged_in(gateway)
    gateway.on_frame(conn, new_order(symbol="Z" * 5000))
    (refused,) = replies(conn)
    assert refused["code"] == "unknown_symbol" and len(refused["message"]) < 100, refused
    gateway.on_frame(conn, new_order(side="s" * 5000))
    (refused,) = replies(conn)
    assert refused["code"] == "invalid_request" and len(refused["message"]) < 120, refused
