"""The sim venue's child orders on their own: what is refused and how much may still trade.
(Through the venue, with the market around them: ``test_venue.py``.)"""

from __future__ import annotations

import msgspec
import pytest

from adapters.sim.orders import Child, SimReason, loses_priority, order_problem, replace_problem, room
from model import fixed
from model.enums import AssetClass, OrderType, Reason, Side, TimeInForce
from model.instruments import Instrument
from model.messages import VenueNewOrder, VenueReplace
from model.orders import OrderSpec

P = fixed.parse
WHOLE = Instrument("IBM", AssetClass.EQUITY, P("0.01"), fixed.SCALE, P("150"))
FRACTIONAL = Instrument("AAPL", AssetClass.EQUITY, P("0.01"), P("0.000001"), P("190.50"))
OPTION = Instrument("IBM C150", AssetClass.OPTION, P("0.01"), fixed.SCALE, P("2.50"), multiplier=100)


def child(**changes: object) -> Child:
    """A limit child; ``changes`` may name its terms (its spec) or the child's own fields."""
    spec = OrderSpec("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, P("10"), None, P("150.00"))
    terms = {name: changes.pop(name) for name in list(changes) if name in OrderSpec.__struct_fields__}
    return msgspec.structs.replace(Child("c1", msgspec.structs.replace(spec, **terms), None), **changes)


def test_a_child_takes_every_term_of_the_order() -> None:
    order = VenueNewOrder("c1", OrderSpec("AAPL", Side.SELL, OrderType.MARKET, TimeInForce.IOC, None, P("100"), None, None), P("3"))
    assert Child.of(order) == Child("c1", OrderSpec("AAPL", Side.SELL, OrderType.MARKET, TimeInForce.IOC, None, P("100"), None, None), P("3"))


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({}, None),
        ({"order_type": OrderType.MARKET, "price": None}, None),
        ({"order_type": OrderType.STOP, "price": None}, Reason.UNSUPPORTED.value),
        ({"tif": TimeInForce.OPG}, Reason.UNSUPPORTED.value),
        ({"notional": P("100")}, SimReason.INVALID_QUANTITY.value),
        ({"qty": None}, SimReason.INVALID_QUANTITY.value),
        ({"qty": 0}, SimReason.INVALID_QUANTITY.value),
        ({"qty": P("1.5")}, SimReason.QTY_NOT_ON_INCREMENT.value),
        ({"qty": None, "notional": P("100"), "qty_cap": P("1.5")}, SimReason.INVALID_QTY_CAP.value),
        ({"price": None}, SimReason.INVALID_PRICE.value),
        ({"order_type": OrderType.MARKET}, SimReason.INVALID_PRICE.value),
        ({"price": -P("150")}, SimReason.INVALID_PRICE.value),
        ({"price": P("150.005")}, SimReason.PRICE_NOT_ON_TICK.value),
    ],
)
def test_order_problem_names_the_first_thing_wrong(changes: dict[str, object], reason: str | None) -> None:
    assert order_problem(child(**changes), WHOLE) == reason


@pytest.mark.parametrize(
    ("request_qty", "price", "reason"),
    [
        ("12", "150.01", None),
        ("0", "150.00", SimReason.INVALID_QUANTITY.value),
        ("10.5", "150.00", SimReason.QTY_NOT_ON_INCREMENT.value),
        ("4", "150.00", SimReason.QTY_NOT_ABOVE_FILLED.value),
        ("12", None, SimReason.INVALID_PRICE.value),
        ("12", "150.001", SimReason.PRICE_NOT_ON_TICK.value),
    ],
)
def test_replace_problem_checks_the_new_numbers_against_the_fills(request_qty: str, price: str | None, reason: str | None) -> None:
    request = VenueReplace("c1", P(request_qty), None if price is None else P(price))
    assert replace_problem(child(cum_qty=P("4")), request, WHOLE) == reason


def test_a_notional_child_cannot_be_replaced() -> None:
    notional = child(order_type=OrderType.MARKET, qty=None, notional=P("100"), price=None)
    assert replace_problem(notional, VenueReplace("c1", P("1"), None), WHOLE) == Reason.UNSUPPORTED.value


def test_raising_the_qty_or_moving_the_price_loses_priority_and_lowering_the_qty_does_not() -> None:
    working = child()
    assert loses_priority(working, VenueReplace("c1", P("11"), P("150.00")))
    assert loses_priority(working, VenueReplace("c1", P("10"), P("150.01")))
    assert not loses_priority(working, VenueReplace("c1", P("9"), P("150.00")))


def test_room_is_what_is_left_of_the_qty_and_the_cap() -> None:
    assert room(child(cum_qty=P("4")), P("150"), WHOLE) == P("6")
    capped = child(qty=None, notional=P("1000000"), qty_cap=P("5"), cum_qty=P("2"))
    assert room(capped, P("150"), WHOLE) == P("3")


def test_room_of_a_notional_child_is_the_whole_increments_its_cash_still_buys() -> None:
    notional = child(symbol="AAPL", qty=None, notional=P("100"), price=None)
    assert room(notional, P("3"), FRACTIONAL) == P("33.333333")
    spent = msgspec.structs.replace(notional, cum_qty=P("10"))
    spent.value_raw = fixed.raw_value(P("10"), P("3"))
    assert room(spent, P("3"), FRACTIONAL) == P("23.333333")
    option = child(symbol="IBM C150", qty=None, notional=P("1000"), price=None)
    assert room(option, P("2.50"), OPTION) == P("4")  # 4 × 2.50 × 100 = 1000
