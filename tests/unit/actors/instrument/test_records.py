from __future__ import annotations

import msgspec

from actors.instrument.records import Book, Route
from model.enums import OrderType, Side, TimeInForce
from model.orders import OrderSpec
from model.routes import RouteState
from tests.unit.actors.instrument.support import IBM


def test_a_route_encodes_its_terms_nested_and_its_state_by_name_for_the_state_hash() -> None:
    spec = OrderSpec("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, qty=1, price=2)
    encoded = msgspec.msgpack.decode(msgspec.msgpack.encode(Route("o1", "A1", spec, None, RouteState.ROUTED)))
    fields = dict(zip(Route.__struct_fields__, encoded, strict=True))  # an array in field order, like the other records
    assert fields["spec"] == ["IBM", "buy", "limit", "day", 1, None, 2, None] and fields["state"] == "routed"


def test_a_book_starts_empty_at_its_reference() -> None:
    book = Book(IBM, reference=IBM.reference_price)
    assert (book.bid, book.ask, book.quotes, book.halted, book.nav) == (None, None, {}, False, None)
