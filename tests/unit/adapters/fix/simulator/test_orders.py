"""The FIX market maker's orders on their own (``adapters/fix/simulator/orders.py``): what it
refuses, naming the FIX field, and how much of an order may still trade."""

from __future__ import annotations

import msgspec
import pytest

from adapters.fix.simulator.config import load_settings
from adapters.fix.simulator.messages import BAD_PRICE, Problem, ReplaceOrder, Terms
from adapters.fix.simulator.orders import NO_ORDER_ID, Order, Rules, affordable, part_qty, room, stand_in, unfilled
from adapters.fix.tags import OrdRejReason
from adapters.sim.quotes import Book
from model import fixed
from model.enums import OrderStatus, OrderType, Side, TimeInForce
from tests.conftest import ROOT

P = fixed.parse
SETTINGS = load_settings(ROOT / "conf" / "fix" / "mmsim.toml", symbols=["IBM"])
RULES = Rules(SETTINGS)
BOOKS = {"IBM": Book(mid=P("150"), bid=P("149.92"), ask=P("150.08"), bid_size=P("500"), ask_size=P("500"))}
INCREMENT = P("0.000001")


TERMS = Terms("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, P("10"), None, P("150.00"))


def order(**changes: object) -> Order:
    """A working limit buy of 10 IBM at 150.00, with ``changes`` to its terms or to the
    order's own fields (``budget``, ``cum_qty``, ``parts_left``...)."""
    terms = msgspec.structs.replace(TERMS, **{name: value for name, value in changes.items() if name in Terms.__struct_fields__})
    base = Order("T-O1", "S", "c1", None, terms, None, OrderStatus.NEW, 3)
    return msgspec.structs.replace(base, **{name: value for name, value in changes.items() if name not in Terms.__struct_fields__})


def test_the_rules_know_each_symbol_as_an_instrument_of_the_settings() -> None:
    (instrument,) = RULES.instruments.values()
    assert (instrument.symbol, instrument.tick_size, instrument.qty_increment, instrument.reference_price) == ("IBM", P("0.01"), INCREMENT, P("150"))


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({}, None),
        ({"symbol": None}, Problem(OrdRejReason.UNKNOWN_SYMBOL, "Symbol(55) missing")),
        ({"symbol": "NOPE"}, Problem(OrdRejReason.UNKNOWN_SYMBOL, "unknown symbol NOPE")),
        ({"qty": None}, Problem(OrdRejReason.INCORRECT_QUANTITY, "exactly one of OrderQty(38) and CashOrderQty(152) is required")),
        ({"qty": 0}, Problem(OrdRejReason.INCORRECT_QUANTITY, "OrderQty(38) must be positive")),
        ({"qty": P("0.0000001")}, Problem(OrdRejReason.INCORRECT_QUANTITY, "OrderQty(38) not a multiple of 0.000001")),
        ({"qty": P("1000001")}, Problem(OrdRejReason.ORDER_EXCEEDS_LIMIT, "OrderQty(38) above 1000000")),
        ({"price": None}, Problem(BAD_PRICE, "Price(44) missing on a limit order")),
        ({"order_type": OrderType.MARKET}, Problem(BAD_PRICE, "Price(44) on a market order")),
        ({"price": -P("1")}, Problem(BAD_PRICE, "Price(44) must be positive")),
        ({"price": P("150.001")}, Problem(BAD_PRICE, "Price(44) not on the tick 0.01")),
        ({"price": P("226")}, Problem(BAD_PRICE, "Price(44) more than 50% from the mid 150")),
    ],
)
def test_an_order_problem_names_the_field_to_blame(changes: dict[str, object], problem: Problem | None) -> None:
    assert RULES.order_problem(order(**changes), BOOKS) == problem


@pytest.mark.parametrize(
    ("cash", "order_type", "reason"),
    [
        ("100", OrderType.MARKET, None),
        ("0", OrderType.MARKET, OrdRejReason.INCORRECT_QUANTITY),
        ("10000000.01", OrderType.MARKET, OrdRejReason.ORDER_EXCEEDS_LIMIT),
        ("100", OrderType.LIMIT, OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC),
        ("0.0001", OrderType.MARKET, OrdRejReason.INCORRECT_QUANTITY),  # less than one increment at the ask
    ],
)
def test_a_cash_order_is_a_market_order_that_buys_at_least_an_increment(cash: str, order_type: OrderType, reason: OrdRejReason | None) -> None:
    notional = order(qty=None, cash=P(cash), budget=fixed.floor_to(P(cash), fixed.CENT), order_type=order_type, price=None)
    problem = RULES.order_problem(notional, BOOKS)
    assert (problem.reason if problem else None) == reason


@pytest.mark.parametrize(
    ("request_changes", "reason"),
    [
        ({}, None),
        ({"side": Side.SELL}, OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC),
        ({"symbol": "AAPL"}, OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC),
        ({"order_type": OrderType.MARKET}, OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC),
        ({"qty": P("4")}, OrdRejReason.INCORRECT_QUANTITY),  # not above CumQty
        ({"price": P("150.005")}, BAD_PRICE),
    ],
)
def test_a_replace_changes_only_qty_and_price_and_stays_above_the_fills(request_changes: dict[str, object], reason: OrdRejReason | None) -> None:
    request = ReplaceOrder("S", "c2", "c1", None, msgspec.structs.replace(Terms("IBM", Side.BUY, qty=P("12")), **request_changes))
    problem = RULES.replace_problem(order(cum_qty=P("5")), request, BOOKS["IBM"])
    assert (problem.reason if problem else None) == reason


def test_a_notional_order_cannot_be_replaced() -> None:
    notional = order(qty=None, cash=P("100"), budget=P("100"), order_type=OrderType.MARKET, price=None)
    problem = RULES.replace_problem(notional, ReplaceOrder("S", "c2", "c1", None, Terms("IBM", Side.BUY, qty=P("1"))), BOOKS["IBM"])
    assert problem == Problem(OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC, "notional orders cannot be replaced")


def test_a_qty_order_fills_in_even_parts_and_the_last_takes_the_rest() -> None:
    working = order(qty=P("10"), parts_left=3)
    assert part_qty(working, P("150"), INCREMENT) == P("3.333333")
    last = msgspec.structs.replace(working, cum_qty=P("6.666666"), parts_left=1)
    assert part_qty(last, P("150"), INCREMENT) == unfilled(last, P("150"), INCREMENT) == P("3.333334")


def test_a_notional_order_wants_what_its_remaining_cash_buys_and_a_cap_bounds_the_room() -> None:
    notional = order(qty=None, cash=P("100"), budget=P("100"), order_type=OrderType.MARKET, price=None)
    assert unfilled(notional, P("3"), INCREMENT) == affordable(P("100") * fixed.SCALE, P("3"), INCREMENT) == P("33.333333")
    capped = msgspec.structs.replace(order(), fill_cap=P("4"), cum_qty=P("1"))
    assert room(capped, P("150"), INCREMENT) == P("3")


def test_a_stand_in_is_a_rejected_order_without_an_order_id() -> None:
    unknown = stand_in("S", "c9", Terms("IBM", Side.SELL))
    assert (unknown.order_id, unknown.status, unknown.terms) == (NO_ORDER_ID, OrderStatus.REJECTED, Terms("IBM", Side.SELL))
    duplicate = stand_in("S", "c9", Terms("IBM", Side.BUY, qty=P("1"), order_type=OrderType.MARKET))
    assert (duplicate.terms.qty, duplicate.terms.order_type, duplicate.parts_left) == (P("1"), OrderType.MARKET, 0)
