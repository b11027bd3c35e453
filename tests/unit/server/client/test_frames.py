"""The frames the SDK builds and how it reads answers (server/client/frames.py), without I/O."""

from __future__ import annotations

from decimal import Decimal

import pytest

from server.client.frames import align_replies, decimal_text, is_failure, login_message, order_fields, sign_login, with_decimal_text
from server.gateway.auth import signature


def test_the_login_signature_is_the_one_the_gateway_checks() -> None:
    assert sign_login("trader1-secret", 1_700_000_000_000, "abc") == signature("trader1-secret", 1_700_000_000_000, "abc")
    assert sign_login("trader1-secret", 1_700_000_000_000, "abd") != signature("trader1-secret", 1_700_000_000_000, "abc")


def test_a_login_message_is_signed_over_its_own_ts_and_nonce_and_fresh_each_time() -> None:
    fixed = login_message("k", "s", ts_ms=5, nonce="n")
    assert fixed == {"op": "login", "key": "k", "ts": 5, "nonce": "n", "sig": signature("s", 5, "n")}
    first, second = login_message("k", "s"), login_message("k", "s")
    assert first["nonce"] != second["nonce"] and len(first["nonce"]) == 32
    assert first["sig"] == signature("s", first["ts"], first["nonce"])


def test_order_fields_omit_what_is_not_given_and_write_decimals_as_plain_strings() -> None:
    fields = order_fields("A1", "c-1", "IBM", "buy", "limit", qty=Decimal("1.50"), price=150, tif="gtc")
    assert fields == {"account": "A1", "client_order_id": "c-1", "symbol": "IBM", "side": "buy", "type": "limit",
                      "qty": "1.50", "price": "150", "tif": "gtc"}
    assert order_fields("A1", "c-2", "IBM", "sell", notional="100.00")["type"] == "market"
    with pytest.raises(TypeError):
        order_fields("A1", "c-3", "IBM", "buy", qty=0.1)  # type: ignore[arg-type]


def test_with_decimal_text_converts_only_the_decimal_fields() -> None:
    assert with_decimal_text({"qty": 2, "client_order_id": "7", "price": None, "note": 3}) == {"qty": "2", "client_order_id": "7", "note": 3}


@pytest.mark.parametrize(
    ("message", "failed"),
    [
        ({"type": "error", "code": "forbidden"}, True),
        ({"type": "execution", "exec_type": "rejected", "status": "rejected"}, True),
        ({"type": "execution", "exec_type": "new", "status": "new"}, False),
        ({"type": "execution", "exec_type": "canceled", "status": "canceled"}, False),
        ({"type": "admin", "ok": False}, True),
        ({"type": "login", "ok": True}, False),
        ({"type": "login"}, True),
        ({"type": "orders", "orders": []}, False),
    ],
)
def test_is_failure_tells_refusals_from_answers(message: dict[str, object], failed: bool) -> None:
    assert is_failure(message) is failed


def test_replies_are_aligned_to_their_orders_and_anonymous_ones_fill_the_gaps() -> None:
    orders = [{"account": "A1", "client_order_id": "a"}, {"account": "A1", "client_order_id": "b"}, {"account": "A2", "client_order_id": "a"}]
    b = {"type": "execution", "account": "A1", "client_order_id": "b"}
    a2 = {"type": "execution", "account": "A2", "client_order_id": "a"}
    refused = {"type": "error", "client_order_id": "a"}  # per-order errors name no account: the first free "a"
    assert align_replies(orders, [a2, b, refused]) == [refused, b, a2]
    anonymous = {"type": "error", "code": "rate_limited"}
    extra = {"type": "execution", "account": "A9", "client_order_id": "z"}
    assert align_replies(orders, [b, anonymous, extra]) == [anonymous, b, extra]  # extra: no slot free for it
    assert align_replies(orders[:1], [b, anonymous]) == [b, anonymous]  # in arrival order; beyond the orders: appended


def test_decimal_text_passes_strings_through_and_refuses_bool_and_infinity() -> None:
    assert decimal_text("1.300") == "1.300"
    assert decimal_text(Decimal("0.000000001")) == "0.000000001"
    with pytest.raises(TypeError):
        decimal_text(True)
    with pytest.raises(ValueError):
        decimal_text(Decimal("Infinity"))
