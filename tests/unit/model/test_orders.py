from __future__ import annotations

import msgspec
import pytest

from model.enums import OrderType, Side, TimeInForce
from model.orders import OrderSpec

SPEC = OrderSpec("IBM", Side.SELL, OrderType.STOP_LIMIT, TimeInForce.GTC, qty=3, price=140, stop_price=141)


def test_a_spec_encodes_as_the_array_of_its_terms_in_order() -> None:
    terms = ("IBM", Side.SELL, OrderType.STOP_LIMIT, TimeInForce.GTC, 3, None, 140, 141)
    assert msgspec.msgpack.encode(SPEC) == msgspec.msgpack.encode(terms)  # what duplicate fingerprints were before
    assert msgspec.msgpack.Decoder(OrderSpec).decode(msgspec.msgpack.encode(SPEC)) == SPEC


def test_a_spec_never_changes_a_change_is_a_new_spec() -> None:
    with pytest.raises(AttributeError):
        SPEC.qty = 4  # type: ignore[misc]
    changed = msgspec.structs.replace(SPEC, qty=4)
    assert (SPEC.qty, changed.qty, changed.symbol) == (3, 4, "IBM")


def test_terms_not_given_are_none() -> None:
    spec = OrderSpec("IBM", Side.BUY, OrderType.MARKET, TimeInForce.DAY, notional=100)
    assert (spec.qty, spec.price, spec.stop_price) == (None, None, None)
