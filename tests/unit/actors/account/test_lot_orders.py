"""An order that chooses its lots, sent again with the same ``client_order_id``: its lot
terms are part of its content, like its spec (``actors/account/entry.py``)."""

from __future__ import annotations

import msgspec

from actors.account.core import AccountState
from model.enums import OrderStatus, Side
from model.messages import ExecutionReport, NewLotOrder, ReportToAsker
from tests.unit.actors.account.support import REPLY, D, make_state, only_report, order, run
from tests.unit.actors.account.test_books import buy


def lot_order(cloid: str, qty: str = "2", **lot_fields: object) -> NewLotOrder | object:
    new = order(cloid, side=Side.SELL, qty=qty, price="160")  # rests: above the last fill
    return NewLotOrder(new.account, new.client_order_id, new.spec, REPLY, **lot_fields) if lot_fields else new  # type: ignore[arg-type]


def answer(state: AccountState, message: object) -> ExecutionReport:
    """The one report the asker gets for a ``client_order_id`` already used."""
    [sent] = run(state, message)
    assert isinstance(sent.message, ReportToAsker), sent
    return sent.message.report


def test_a_resend_is_the_same_order_only_with_the_same_lot_terms() -> None:
    state = make_state()
    buy(state, "b1", "10", "150")
    buy(state, "b2", "10", "151")
    first = only_report(run(state, lot_order("s1", lot_method="specific", lots=((1, D("2")),))))
    assert first.status is OrderStatus.NEW
    again = answer(state, lot_order("s1", lot_method="specific", lots=((1, D("2")),)))
    assert (again.status, again.order_id) == (OrderStatus.NEW, first.order_id)
    before = msgspec.msgpack.encode(state.accounts["A1"])
    for other in ({"lot_method": "specific", "lots": ((2, D("2")),)}, {"lot_method": "specific", "lots": ((1, D("1")),)}, {"lot_method": "lifo"}, {}):
        refused = answer(state, lot_order("s1", **other))
        assert (refused.status, refused.reason) == (OrderStatus.REJECTED, "duplicate_client_order_id"), other
    assert msgspec.msgpack.encode(state.accounts["A1"]) == before
    # an order without lot terms: a resend naming lots is other content too
    plain = only_report(run(state, lot_order("s2")))
    assert answer(state, lot_order("s2")).order_id == plain.order_id
    refused = answer(state, lot_order("s2", lot_method="hifo"))
    assert refused.reason == "duplicate_client_order_id"
