"""What the FIX adapter knows of its children (``adapters/fix/children.py``): the bookkeeping
stays consistent through a child's life, and a broken one is caught. (What the adapter does
with the wire: ``test_venue.py``.)"""

from __future__ import annotations

import pytest

from adapters.fix.children import CANCEL, REPLACE, FixChildren, request_kind
from adapters.fix.venue import FixVenue
from model import fixed
from model.enums import OrderType, SessionState, Side, TimeInForce
from model.messages import VenueNewOrder, VenueReplace
from model.orders import OrderSpec
from tests.conftest import demo_setup
from tests.unit.adapters.fix.wire import ACCEPTED, TRADE, changed, from_venue

SETUP = demo_setup()
T0 = 1_763_700_000_000_000_000


def working(*child_ids: str) -> FixVenue:
    adapter = FixVenue("MM1", SETUP.instruments)
    adapter.set_session(SessionState.OPEN, T0)
    for child_id in child_ids:
        order = VenueNewOrder(child_id, OrderSpec("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, fixed.parse("0.3"), None, fixed.parse("150.25"), None))
        adapter.submit(order, T0)
    adapter.take_outgoing()
    return adapter


def test_a_fix_venue_keeps_its_children_here() -> None:
    assert isinstance(working(), FixChildren)


def test_request_ids_name_their_child_and_say_what_they_are() -> None:
    adapter = working("child-1")
    adapter.cancel("child-1", T0)
    adapter.replace(VenueReplace("child-1", fixed.parse("0.5"), fixed.parse("150.30")), T0)
    cancel_id, replace_id = adapter.request_ids["child-1"]
    assert cancel_id.startswith("child-1.") and replace_id.startswith("child-1.")
    assert (request_kind(cancel_id), request_kind(replace_id)) == (CANCEL, REPLACE)
    assert adapter.by_cl_ord_id[cancel_id] == adapter.by_cl_ord_id[replace_id] == "child-1"
    adapter.check_invariants()


def test_the_bookkeeping_holds_through_a_childs_life_and_nothing_is_kept_after_it() -> None:
    adapter = working("child-1", "child-2")
    adapter.record_sent(1, "D", "child-1")
    adapter.record_sent(2, "D", "child-2")
    adapter.receive(from_venue("8", changed(ACCEPTED, {17: "E-0"})).toString(), T0)
    adapter.check_invariants()
    adapter.receive(from_venue("8", changed(TRADE, {32: "0.3", 151: "0", 14: "0.3", 39: "2"})).toString(), T0)
    adapter.check_invariants()
    assert adapter.open_orders() == ["child-2"] and adapter.by_seq == {2: "child-2"}
    assert set(adapter.filled) == set(adapter.exec_ids) == set(adapter.request_ids) == set(adapter.sent) == {"child-2"}


def test_a_child_closed_here_is_remembered_under_each_of_its_cl_ord_ids() -> None:
    adapter = FixVenue("MM1", SETUP.instruments, cancel_on_disconnect=True)
    adapter.set_session(SessionState.OPEN, T0)
    adapter.submit(VenueNewOrder("child-1", OrderSpec("IBM", Side.BUY, OrderType.MARKET, TimeInForce.DAY, fixed.parse("1"), None, None, None)), T0)
    adapter.cancel("child-1", T0)
    (cancel_id,) = adapter.request_ids["child-1"]
    adapter.set_session(SessionState.CLOSED, T0)
    assert adapter.closed["child-1"] is adapter.closed[cancel_id] and adapter.closed["child-1"].filled == 0
    assert adapter.open_orders() == []
    adapter.check_invariants()


@pytest.mark.parametrize("table", ["filled", "exec_ids", "request_ids", "sent"])
def test_a_child_missing_from_a_table_breaks_the_invariants(table: str) -> None:
    adapter = working("child-1")
    del getattr(adapter, table)["child-1"]
    with pytest.raises(AssertionError, match=table):
        adapter.check_invariants()


def test_an_overfilled_child_or_a_stray_id_breaks_the_invariants() -> None:
    overfilled = working("child-1")
    overfilled.filled["child-1"] = fixed.parse("0.4")
    with pytest.raises(AssertionError, match="beyond its qty"):
        overfilled.check_invariants()
    stray = working("child-1")
    stray.by_seq[9] = "gone"
    with pytest.raises(AssertionError, match="sequence number"):
        stray.check_invariants()


def test_anomalies_keep_only_the_latest() -> None:
    adapter = working()
    for number in range(150):
        adapter.receive(from_venue("8", changed(TRADE, {11: f"nobody-{number}"})).toString(), T0)
    assert len(adapter.anomalies) == 100
    assert "nobody-50" in adapter.anomalies[0] and "nobody-149" in adapter.anomalies[-1]
