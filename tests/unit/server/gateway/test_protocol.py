"""The trader protocol's translation: JSON frames to typed requests (strict, every refusal a
``ProtocolError`` naming the problem and carrying the request's id when it is readable),
and replies and events to the documented JSON frames."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from model import fixed
from model.messages import OrdersReply, QuoteEvent, Reply
from server.gateway import protocol
from server.gateway.protocol import (
    OPS,
    AdminRequest,
    CancelAllRequest,
    GetOrdersRequest,
    Login,
    NewOrderRequest,
    NewOrdersRequest,
    OrderFields,
    ProtocolError,
    decode_request,
)

D = fixed.parse
GOOD = {"op": "new_order", "id": 9, "account": "T20", "client_order_id": "c1", "symbol": "IBM", "side": "buy", "type": "limit", "qty": "1", "price": "140.00"}


def refusal(frame: dict[str, Any] | str | bytes) -> ProtocolError:
    with pytest.raises(ProtocolError) as refused:
        decode_request(json.dumps(frame) if isinstance(frame, dict) else frame)
    return refused.value


def test_every_documented_op_is_known() -> None:
    assert OPS == sorted(
        ["admin", "cancel_all", "cancel_order", "get_account", "get_gains", "get_lots", "get_orders", "load_orders", "login", "new_order", "new_orders", "replace_order", "subscribe", "whoami"]
        + ["deposit", "withdrawal", "journal", "get_transfers"]
        + ["get_statement"]
    )


def test_a_new_order_decodes_to_its_request_with_decimals_kept_as_strings_and_tif_day_by_default() -> None:
    request = decode_request(json.dumps(GOOD))
    assert isinstance(request, NewOrderRequest)
    fields = OrderFields("T20", "c1", "IBM", "buy", "limit", "day", "1", None, "140.00", None)
    assert all(getattr(request, name) == getattr(fields, name) for name in OrderFields.__struct_fields__)
    assert bytes(request.id) == b"9"


def test_the_other_ops_decode_with_their_defaults() -> None:
    login = decode_request('{"op":"login","key":"k","ts":1,"nonce":"n","sig":"s"}')
    assert isinstance(login, Login) and login.id == msgspec.Raw(b"") and login.batch is False
    batch = decode_request(json.dumps({"op": "new_orders", "orders": [{k: v for k, v in GOOD.items() if k not in ("op", "id")}]}))
    assert isinstance(batch, NewOrdersRequest) and batch.orders[0].symbol == "IBM"
    assert decode_request('{"op":"get_orders","account":"A1"}') == GetOrdersRequest(account="A1", open_only=False, cursor=None, limit=None)
    assert decode_request('{"op":"cancel_all","account":"A1"}') == CancelAllRequest(account="A1", symbol=None)
    assert decode_request('{"op":"admin","command":"status"}') == AdminRequest(command="status", args=[])


def test_a_binary_frame_of_utf8_json_decodes_like_text() -> None:
    assert decode_request(json.dumps(GOOD).encode()) == decode_request(json.dumps(GOOD))


BAD_FRAMES = [
    ("malformed json", "{not json", "malformed JSON"),
    ("not an object", "[1, 2]", "JSON object"),
    ("unknown op", {"op": "buy_everything", "id": 9}, "unknown op 'buy_everything'; expected one of admin, cancel_all"),
    ("no op", {"id": 9, "account": "A1"}, "missing field 'op'"),
    ("missing field", {k: v for k, v in GOOD.items() if k != "side"}, "side"),
    ("number for decimal", {**GOOD, "qty": 1}, "qty"),
    ("unknown field", {**GOOD, "colour": "red"}, "colour"),
    ("batch not a boolean", {"op": "login", "key": "k", "ts": 1, "nonce": "n", "sig": "s", "batch": "yes"}, "Expected `bool`, got `str` - at `$.batch`"),
    ("nested too deeply", "[" * 5000 + "]" * 5000, "JSON nested too deeply"),
    ("invalid UTF-8", b'{"op": "get_account", "account": "\xff"}', "a frame must be UTF-8 JSON"),
]


@pytest.mark.parametrize(("case", "frame", "message_part"), BAD_FRAMES, ids=[case[0] for case in BAD_FRAMES])
def test_a_frame_that_is_no_valid_request_is_refused_with_words_that_name_the_problem(case: str, frame: Any, message_part: str) -> None:
    assert message_part in str(refusal(frame))


def test_the_id_of_a_refused_request_is_kept_when_it_is_a_string_or_a_number() -> None:
    assert refusal({**GOOD, "side": 5}).request_id == b"9"
    assert refusal({**GOOD, "id": "abc", "side": 5}).request_id == b'"abc"'
    assert refusal({**GOOD, "id": True, "side": 5}).request_id == b""
    assert refusal({"op": "nope", "id": [1]}).request_id == b""


@pytest.mark.parametrize("request_id", ["true", "null", "[1]", '{"a":1}'])
def test_an_id_that_is_not_a_string_or_a_number_is_refused(request_id: str) -> None:
    frame = '{"op":"get_account","account":"A1","id":' + request_id + "}"
    assert str(refusal(frame)) == "id must be a string or a number"


def test_a_huge_value_in_a_frame_is_never_sent_back_whole() -> None:
    message = str(refusal({"op": "x" * 100_000}))
    assert len(message) < 600 and message.startswith("unknown op 'xxx") and "…" in message


def test_shorten_cuts_a_long_value_and_leaves_a_short_one() -> None:
    assert protocol.shorten("abc") == "'abc'"
    assert protocol.shorten("abc", quote=False) == "abc"
    cut = protocol.shorten("y" * 1000)
    assert cut == repr("y" * 1000)[: protocol.SHOWN_CHARS] + "…"
    assert len(protocol.shorten("y" * 1000, quote=False)) == protocol.MESSAGE_CHARS + 1


def test_with_id_puts_the_raw_id_first_and_adds_nothing_without_one() -> None:
    assert protocol.with_id(b'{"type":"x"}', b'"r-1"') == b'{"id":"r-1","type":"x"}'
    assert protocol.with_id(b'{"type":"x"}', b"") == b'{"type":"x"}'


def test_an_error_frame_has_type_code_message_and_the_id() -> None:
    frame = protocol.error("invalid_request", "qty must be > 0", b"7")
    assert frame == b'{"id":7,"type":"error","code":"invalid_request","message":"qty must be > 0"}'
    assert len(json.loads(protocol.error("invalid_request", "z" * 10_000))["message"]) == protocol.MESSAGE_CHARS + 1


def test_an_orders_reply_lists_the_reports_after_the_cursor() -> None:
    frame = json.loads(protocol.orders_reply(OrdersReply(Reply("gateway-0", 1, b"3"), "A1", [], "account-0-9")))
    assert frame == {"id": 3, "type": "orders", "account": "A1", "next_cursor": "account-0-9", "orders": []}


def test_a_quote_is_decimal_strings_and_a_fund_shows_its_nav_instead() -> None:
    stock = json.loads(protocol.quote(QuoteEvent("IBM", D("149.99"), D("300"), D("150.01"), D("200.5"), 17)))
    assert stock == {"type": "quote", "symbol": "IBM", "bid": "149.99", "bid_size": "300", "ask": "150.01", "ask_size": "200.5", "ts": 17}
    fund = json.loads(protocol.quote(QuoteEvent("VFIAX", None, 0, None, 0, 18, nav=D("451.20"))))
    assert (fund["bid"], fund["ask"], fund["nav"]) == (None, None, "451.2")


def test_books_requests_are_checked_before_they_reach_a_shard() -> None:
    """``get_gains``'s dates, order, limit and cursor; an order's lots and lot method."""
    from model.config import BooksSection
    from model.enums import OrderType, Side, TimeInForce
    from model.messages import Reply
    from model.orders import OrderSpec
    from server.gateway.books import lot_terms, to_query_gains
    from server.gateway.protocol import LotPick
    from server.gateway.validation import Invalid
    from tests.unit.actors.account.support import IBM

    reply, books = Reply("g", 1), BooksSection()
    query = to_query_gains("A1", "2025-01-01", "2025-01-31", None, None, books, reply)
    assert (query.to_day - query.from_day, query.limit) == (30, books.gains_page_size)
    for start, end, cursor, limit in (("2025-02-01", "2025-01-01", None, None), ("2025-13-01", "2025-12-01", None, None),
                                      ("yesterday", "2025-01-01", None, None), ("2025-01-01", "2025-01-02", None, 0),
                                      ("2025-01-01", "2025-01-02", None, 10**9), ("2025-01-01", "2025-01-02", -1, None)):
        try:
            to_query_gains("A1", start, end, cursor, limit, books, reply)
        except Invalid as invalid:
            assert invalid.code == "invalid_request"
        else:
            raise AssertionError((start, end, cursor, limit))
    sell = OrderSpec("IBM", Side.SELL, OrderType.LIMIT, TimeInForce.DAY, 10 * 10**9, None, 150 * 10**9)
    assert lot_terms(None, [LotPick(3, "1.5")], sell, IBM) == ("specific", ((3, 1_500_000_000),))
    assert lot_terms("lifo", None, sell, IBM) == ("lifo", None)
    assert lot_terms("specific", [LotPick(3, "1")], sell, IBM) == ("specific", ((3, 1_000_000_000),))
    buy = OrderSpec("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, 10 * 10**9, None, 150 * 10**9)
    for method, picks, spec in (("newest", None, sell), ("specific", None, sell), (None, [LotPick(1, "1")], buy),
                                (None, [LotPick(1, "0")], sell), (None, [LotPick(1, "1"), LotPick(1, "2")], sell),
                                (None, [LotPick(1, "0.0000001")], sell), (None, [], sell), (None, [LotPick(0, "1")], sell),
                                ("lifo", [LotPick(1, "1")], sell), ("fifo", [LotPick(1, "1")], sell)):  # another method would close other lots
        try:
            lot_terms(method, picks, spec, IBM)
        except Invalid as invalid:
            assert invalid.code == "invalid_request"
        else:
            raise AssertionError((method, picks))
