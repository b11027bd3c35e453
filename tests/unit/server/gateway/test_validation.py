"""A request checked against reference data before it becomes a command: each bad field
gets ``Invalid`` with its wire code and words that name the problem; a good one becomes the
exact command. (That an ``Invalid`` reaches the client as an ``error`` frame and changes
nothing on a running server: tests/integration/test_gateway.py.)"""

from __future__ import annotations

from typing import Any

import pytest

from model import fixed
from model.config import QueriesSection
from model.enums import OrderType, Side, TimeInForce
from model.instruments import Instrument
from model.messages import Reply
from model.orders import OrderSpec
from server.gateway.protocol import GetOrdersRequest, OrderFields, ReplaceOrderRequest
from server.gateway.validation import Invalid, OrderTerms, check_client_order_id, orders_page, to_new_order, to_replace
from tests.conftest import demo_setup

D = fixed.parse
INSTRUMENTS: dict[str, Instrument] = {instrument.symbol: instrument for instrument in demo_setup().instruments}
REPLY = Reply("gateway-0", 3, b"9")
MAX_ID = 64
GOOD: dict[str, Any] = {"account": "T20", "client_order_id": "c1", "symbol": "IBM", "side": "buy", "type": "limit", "qty": "1", "price": "140.00"}


def fields(**changes: Any) -> OrderFields:
    values = {**GOOD, **changes}
    return OrderFields(**{name: value for name, value in values.items() if value is not None})


def refusal(order: OrderFields) -> Invalid:
    with pytest.raises(Invalid) as refused:
        to_new_order(order, INSTRUMENTS, REPLY, MAX_ID)
    return refused.value


def test_a_good_order_becomes_a_new_order_with_fixed_point_terms_and_the_reply_address() -> None:
    command = to_new_order(fields(qty="1.5", tif="gtc"), INSTRUMENTS, REPLY, MAX_ID)
    assert (command.account, command.client_order_id, command.reply) == ("T20", "c1", REPLY)
    assert command.spec == OrderSpec("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.GTC, D("1.5"), None, D("140.00"), None)


def test_a_notional_market_buy_and_a_stop_limit_are_good_orders() -> None:
    notional = to_new_order(fields(type="market", price=None, qty=None, notional="100.00", tif="ioc"), INSTRUMENTS, REPLY, MAX_ID)
    assert (notional.spec.qty, notional.spec.notional) == (None, D("100.00"))
    stop = to_new_order(fields(type="stop_limit", stop_price="141.00"), INSTRUMENTS, REPLY, MAX_ID)
    assert (stop.spec.price, stop.spec.stop_price) == (D("140.00"), D("141.00"))


BAD_ORDERS = [
    ("negative qty", {"qty": "-1"}, "invalid_request", "qty must be > 0"),
    ("zero qty", {"qty": "0"}, "invalid_request", "qty must be > 0"),
    ("absurd qty", {"qty": "1" * 30}, "invalid_request", "decimal"),
    ("too many decimals", {"qty": "0.0000001"}, "invalid_request", "multiples of 0.000001"),
    ("exponent", {"qty": "1e3"}, "invalid_request", "decimal"),
    ("price off tick", {"price": "140.001"}, "invalid_request", "tick"),
    ("both qty and notional", {"type": "market", "price": None, "notional": "100.00"}, "invalid_request", "exactly one"),
    ("neither qty nor notional", {"qty": None}, "invalid_request", "exactly one"),
    ("limit without price", {"price": None}, "invalid_request", "needs price"),
    ("market with price", {"type": "market"}, "invalid_request", "takes no price"),
    ("bad side", {"side": "hold"}, "invalid_request", "side"),
    ("bad tif", {"tif": "forever"}, "invalid_request", "tif"),
    ("unknown symbol", {"symbol": "NOPE"}, "unknown_symbol", "NOPE"),
    ("empty client order id", {"client_order_id": ""}, "invalid_request", "client_order_id"),
    ("client order id too long", {"client_order_id": "x" * 65}, "invalid_request", "1 to 64"),
    ("fractional whole-share stock", {"symbol": "XYZ", "qty": "0.5", "price": "25.00"}, "invalid_request", "whole units"),
    ("notional off the cent", {"type": "market", "price": None, "qty": None, "notional": "10.001"}, "invalid_request", "cents"),
    ("notional limit", {"qty": None, "notional": "10.00"}, "invalid_request", "market"),
]


@pytest.mark.parametrize(("case", "changes", "code", "message_part"), BAD_ORDERS, ids=[case[0] for case in BAD_ORDERS])
def test_a_bad_order_is_refused_with_its_code_and_words(case: str, changes: dict[str, Any], code: str, message_part: str) -> None:
    refused = refusal(fields(**changes))
    assert refused.code == code and message_part in str(refused), (refused.code, str(refused))


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"type": "stop", "price": None}, "a stop order needs stop_price"),
        ({"stop_price": "141.00"}, "a limit order takes no stop_price"),
        ({"type": "stop_limit", "stop_price": "141.005"}, "stop_price is off the tick of 0.01 for IBM"),
        ({"price": "0"}, "price must be > 0"),
        ({"qty": "1.00000001"}, "qty for IBM must be in multiples of 0.000001"),
        ({"symbol": "XYZ", "qty": "1.5", "price": "25.00"}, "qty for XYZ must be in whole units"),
        ({"type": "market", "price": None, "tif": "gtc", "qty": None, "notional": "10.00"}, "notional orders must be market orders with tif day, ioc or opg"),
        ({"symbol": "XYZ", "type": "market", "price": None, "qty": None, "notional": "10.00"}, "XYZ does not trade fractionally; notional orders need fractional shares"),
        ({"type": "market", "price": None, "qty": None, "notional": "-1.00"}, "notional must be > 0"),
        ({"type": "stop", "price": None, "stop_price": "141.00", "tif": "opg"}, "stop orders cannot be for the open (opg)"),
        # a notional fok order is refused by the notional rule, before "fok orders need qty" is asked
        ({"type": "market", "price": None, "tif": "fok", "qty": None, "notional": "10.00"}, "notional orders must be market orders with tif day, ioc or opg"),
        ({"client_order_id": "a\tb"}, "client_order_id must be 1 to 64 printable characters"),
        ({"client_order_id": "strategy:s-1-1"}, "client_order_id must not start with 'strategy:': that prefix is reserved for strategies' orders"),
        ({"type": "iceberg"}, "type must be one of market, limit, stop, stop_limit, not 'iceberg'"),
        ({"price": "1.5.0"}, "price must be a decimal string with at most 9 places, not '1.5.0'"),
    ],
)
def test_the_words_of_each_refusal(changes: dict[str, Any], words: str) -> None:
    assert str(refusal(fields(**changes))) == words


def outcome(order: OrderFields, terms: OrderTerms | None) -> tuple[str, str] | Any:
    try:
        return to_new_order(order, INSTRUMENTS, REPLY, MAX_ID, terms)
    except Invalid as refused:
        return refused.code, str(refused)


def test_terms_checked_once_give_the_same_command_or_the_same_refusal_each_time() -> None:
    terms = OrderTerms(INSTRUMENTS)
    cases = [fields(**changes) for _, changes, _, _ in BAD_ORDERS] + [fields(), fields(qty="1.5", tif="gtc"), fields(client_order_id="c2")]
    for _ in range(3):  # the first round fills the table, the next ones read it
        for order in cases:
            assert outcome(order, terms) == outcome(order, None)
    assert len(terms.specs) == 2  # the good terms only (c1 and c2 share theirs); every refusal is checked again
    # the client order id and the account are the order's own, never the terms seen first
    assert (to_new_order(fields(account="T21", client_order_id="c9"), INSTRUMENTS, REPLY, MAX_ID, terms).account, "c9") == ("T21", "c9")
    assert outcome(fields(client_order_id=""), terms) == outcome(fields(client_order_id=""), None)


def test_terms_kept_are_bounded() -> None:
    terms = OrderTerms(INSTRUMENTS, size=3)
    for n in range(10):
        to_new_order(fields(qty=str(n + 1)), INSTRUMENTS, REPLY, MAX_ID, terms)
        assert len(terms.specs) <= 3
    assert to_new_order(fields(qty="7"), INSTRUMENTS, REPLY, MAX_ID, terms).spec.qty == D("7")


def test_a_price_is_checked_for_its_type_before_its_tick() -> None:
    # a market order with an off-tick price: the type's refusal, not the tick's
    assert str(refusal(fields(type="market", price="140.001"))) == "a market order takes no price"


def test_check_client_order_id_names_the_field_it_checks() -> None:
    check_client_order_id("x" * 10, 10)
    with pytest.raises(Invalid, match="^cursor must be 1 to 10 printable characters$"):
        check_client_order_id("x" * 11, 10, "cursor")
    check_client_order_id("strategy:s-1-1", 64, "cursor")  # a cursor or a cancel may name a strategy's order


def test_no_order_a_client_places_takes_the_strategies_prefix_whatever_its_terms() -> None:
    """A client's order under a strategy's child id would be reported to the strategy actor
    as the child's: every new order (``new_order``, each of ``new_orders``, a lot order)
    is refused with it, before its terms are looked at."""
    for changes in ({}, {"symbol": "NOPE"}, {"lot_method": "fifo"}, {"client_order_id": "strategy:"}):
        refused = refusal(fields(**{"client_order_id": "strategy:s-1-1", **changes}))
        assert refused.code == "invalid_request" and "reserved for strategies' orders" in str(refused)
    assert to_new_order(fields(client_order_id="Strategy:s-1-1"), INSTRUMENTS, REPLY, MAX_ID).client_order_id == "Strategy:s-1-1"  # the prefix exactly


def replace_request(**changes: Any) -> ReplaceOrderRequest:
    values: dict[str, Any] = {"account": "A1", "client_order_id": "c1", "new_client_order_id": "c2", **changes}
    return ReplaceOrderRequest(**values)


def test_a_replace_becomes_the_command_with_only_the_fields_it_gives() -> None:
    command = to_replace(replace_request(price="149.5"), REPLY, MAX_ID)
    assert (command.account, command.client_order_id, command.new_client_order_id) == ("A1", "c1", "c2")
    assert (command.qty, command.price, command.stop_price, command.reply) == (None, D("149.5"), None, REPLY)


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"new_client_order_id": ""}, "new_client_order_id must be 1 to 64 printable characters"),
        ({"client_order_id": "y" * 65}, "client_order_id must be 1 to 64 printable characters"),
        ({"qty": "0"}, "qty must be > 0"),
        ({"stop_price": "-1"}, "stop_price must be > 0"),
        ({"price": "1e2"}, "price must be a decimal string"),
        ({"new_client_order_id": "strategy:s-1-1"}, "new_client_order_id must not start with 'strategy:'"),
        ({"client_order_id": "strategy:s-1-1"}, "client_order_id must not start with 'strategy:'"),  # a strategy's order: its strategy's to change
    ],
)
def test_a_replace_is_checked_for_syntax_only(changes: dict[str, Any], words: str) -> None:
    with pytest.raises(Invalid) as refused:
        to_replace(replace_request(**changes), REPLY, MAX_ID)
    assert refused.value.code == "invalid_request" and str(refused.value).startswith(words)


def test_a_replace_off_the_tick_passes_the_gateway_the_shard_checks_it_against_the_order() -> None:
    assert to_replace(replace_request(price="149.001"), REPLY, MAX_ID).price == D("149.001")


QUERIES = QueriesSection(orders_page_size=50, max_orders_page=200)


@pytest.mark.parametrize(
    ("limit", "cursor", "expected"),
    [(None, None, (None, 50)), (1, None, (None, 1)), (200, "account-1-7", ("account-1-7", 200))],
)
def test_a_page_defaults_to_the_page_size_and_may_ask_up_to_the_largest_page(limit: int | None, cursor: str | None, expected: tuple[str | None, int]) -> None:
    assert orders_page(GetOrdersRequest(account="A1", limit=limit, cursor=cursor), QUERIES, MAX_ID) == expected


@pytest.mark.parametrize(("limit", "cursor"), [(0, None), (201, None), (None, ""), (None, "z" * 65)])
def test_a_page_out_of_bounds_or_a_bad_cursor_is_refused(limit: int | None, cursor: str | None) -> None:
    with pytest.raises(Invalid, match="limit must be 1 to 200|cursor must be 1 to 64") as refused:
        orders_page(GetOrdersRequest(account="A1", limit=limit, cursor=cursor), QUERIES, MAX_ID)
    assert refused.value.code == "invalid_request"
