"""The gateway's defences without sockets: what a hostile frame gets and what it changes.
(Over a real WebSocket against a running server: tests/integration/test_hostile.py. The
other limits have their own modules: subscriptions test_fanout.py, logins test_access.py,
the in-flight window test_window.py.)"""

from __future__ import annotations

import json

import pytest

from model.messages import QueryAccount
from tests.unit.server.gateway.harness import connection, logged_in, login_frame, make_gateway, replies

pytestmark = pytest.mark.asyncio


# --- inputs that used to escape the decoder ----------------------------------------------------

HOSTILE_FRAMES: list[tuple[str, str | bytes, str]] = [
    ("array nested 1,000 deep", "[" * 1000 + "]" * 1000, "nested too deeply"),
    ("field nested 100,000 deep", '{"op": "login", "key": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
    ("id nested 1,000 deep", '{"op": "get_account", "account": "A1", "id": ' + "[" * 1000 + "]" * 1000 + "}", "nested too deeply"),
    ("binary frame, invalid UTF-8", b'{"op": "get_account", "account": "\xff\xfe"}', "UTF-8"),
    ("binary frame, not JSON", b"\x00\x01\x02\xff", "malformed JSON"),
    ("huge op", '{"op": "' + "x" * 1_000_000 + '"}', "unknown op"),
    ("op of the wrong type", '{"op": [1, 2]}', "unknown op"),
    ("lone surrogate", '{"op": "get_account", "account": "\\ud800"}', "malformed JSON"),
    ("ts beyond any int", '{"op": "login", "key": "k", "ts": ' + "9" * 5000 + ', "nonce": "n", "sig": "s"}', "malformed JSON"),
]


@pytest.mark.parametrize(("case", "frame", "message_part"), HOSTILE_FRAMES, ids=[case[0] for case in HOSTILE_FRAMES])
async def test_a_hostile_frame_is_an_invalid_request_before_and_after_login(case: str, frame: str | bytes, message_part: str) -> None:
    gateway, sent = make_gateway()
    fresh = connection(gateway, 1)
    conn = logged_in(gateway, 2)
    for target in (fresh, conn):
        gateway.on_frame(target, frame)  # nothing escapes
        (reply,) = replies(target)
        assert (reply["type"], reply["code"]) == ("error", "invalid_request"), reply
        assert message_part in reply["message"] and len(reply["message"]) < 600, reply["message"][:200]
    gateway.outbox.flush()
    assert sent == [] and not fresh.dropped and not conn.dropped


@pytest.mark.parametrize("batch", ['"yes"', "1", "null", "[true]"])
async def test_a_login_whose_batch_is_not_a_boolean_is_refused_by_name_and_the_connection_goes_on(batch: str) -> None:
    gateway, sent = make_gateway()
    conn = connection(gateway, 1)
    signed = json.loads(login_frame("trader1", nonce="mistyped"))
    gateway.on_frame(conn, json.dumps(signed)[:-1] + ', "batch": ' + batch + "}")
    (refused,) = replies(conn)
    assert (refused["code"], "$.batch" in refused["message"]) == ("invalid_request", True), refused
    assert (conn.user, conn.batch, conn.dropped) == (None, False, False)  # nothing changed
    gateway.on_frame(conn, login_frame("trader1", nonce="then-right"))  # and the connection goes on
    assert replies(conn)[0]["ok"] is True and not conn.batch and sent == []


async def test_a_binary_frame_holding_utf8_json_is_served_like_a_text_frame() -> None:
    gateway, sent = make_gateway()
    conn = logged_in(gateway)
    gateway.on_frame(conn, b'{"op": "get_account", "id": 7, "account": "A1"}')
    gateway.outbox.flush()
    (query,) = sent
    assert isinstance(query, QueryAccount) and query.reply.request == b"7"
