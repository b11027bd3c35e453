"""The FIX venue adapter's state without a session: orders out as FIX strings, messages in
as received, each execution applied once, bad or unknown reports refused and logged."""

from __future__ import annotations

import quickfix as fix

from adapters.fix import codec
from adapters.fix.venue import FixVenue
from model import fixed
from model.enums import OrderType, SessionState, Side, TimeInForce, VenueEventKind
from model.messages import VenueNewOrder, VenueQuote, VenueReplace, VenueReport
from tests.conftest import demo_setup
from tests.unit.adapters.test_fix_codec import ACCEPTED, CANCEL_REJECT, QUOTE, TRADE, changed, from_venue

SETUP = demo_setup()
T0 = 1_763_700_000_000_000_000


def venue() -> FixVenue:
    adapter = FixVenue("MM1", SETUP.instruments)
    adapter.set_session(SessionState.OPEN, T0)
    return adapter


def order(qty: str = "0.3") -> VenueNewOrder:
    return VenueNewOrder("child-1", "IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, fixed.parse(qty), None, fixed.parse("150.25"))


def wire(msg_type: str, fields: dict, poss_dup: bool = False) -> str:
    return str(from_venue(msg_type, fields, poss_dup=poss_dup).toString())


def parsed(raw: str) -> fix.Message:
    return fix.Message(raw, codec.dictionary(), False)


def msg_type(message: fix.Message) -> str:
    field = fix.MsgType()
    message.getHeader().getField(field)  # keep ``message`` alive: the header is a view into it
    return str(field.getValue())


def sent_types(adapter: FixVenue) -> list[str]:
    return [msg_type(parsed(raw)) for raw in adapter.take_outgoing()]


def test_an_order_goes_out_as_new_order_single_and_its_fills_come_back() -> None:
    adapter = venue()
    assert adapter.submit(order(), T0) == []
    assert sent_types(adapter) == ["D"]
    (accepted,) = adapter.receive(wire("8", changed(ACCEPTED, {17: "E-0"})), T0)
    assert isinstance(accepted, VenueReport) and accepted.kind is VenueEventKind.ACCEPTED and accepted.child_id == "child-1"
    (first,) = adapter.receive(wire("8", TRADE), T0)
    assert first.kind is VenueEventKind.TRADE and first.last_qty == fixed.parse("0.1") and not first.done
    last = changed(TRADE, {17: "E-2", 32: "0.2", 151: "0", 14: "0.3", 39: "2"})
    (second,) = adapter.receive(wire("8", last), T0)
    assert second.done and adapter.open_orders() == []


def test_a_possdup_resend_of_a_fill_is_applied_once() -> None:
    adapter = venue()
    adapter.submit(order(), T0)
    assert len(adapter.receive(wire("8", TRADE), T0)) == 1
    assert adapter.receive(wire("8", TRADE, poss_dup=True), T0) == []
    assert adapter.receive(wire("8", TRADE), T0) == []  # the same ExecID again, even without PossDup


def test_a_fill_that_would_overfill_is_refused_with_a_business_reject() -> None:
    adapter = venue()
    adapter.submit(order("0.3"), T0)
    adapter.take_outgoing()
    assert adapter.receive(wire("8", changed(TRADE, {32: "0.5", 14: "0.5", 151: "0"})), T0) == []
    assert sent_types(adapter) == ["j"]
    assert "overfill" in adapter.anomalies[-1]


def test_a_report_for_an_unknown_order_is_logged_and_refused_not_a_crash() -> None:
    adapter = venue()
    assert adapter.receive(wire("8", changed(TRADE, {11: "nobody"})), T0) == []
    assert sent_types(adapter) == ["j"] and "unknown order" in adapter.anomalies[-1]


def test_a_malformed_report_gets_a_reject_and_changes_nothing() -> None:
    adapter = venue()
    adapter.submit(order(), T0)
    adapter.take_outgoing()
    before = adapter.state_hash()
    assert adapter.receive(wire("8", changed(TRADE, {32: "-1"})), T0) == []
    assert sent_types(adapter) in (["3"], ["j"])
    assert adapter.state_hash() == before


def test_cancel_and_replace_name_the_order_and_map_the_answers_back() -> None:
    adapter = venue()
    adapter.submit(order(), T0)
    adapter.take_outgoing()
    assert adapter.replace(VenueReplace("child-1", fixed.parse("0.5"), fixed.parse("150.30")), T0) == []
    (raw,) = adapter.take_outgoing()
    request = parsed(raw)
    replace_id = request.getField(11)
    assert msg_type(request) == "G" and request.getField(41) == "child-1"
    replaced = changed(ACCEPTED, {150: "5", 11: replace_id, 41: "child-1", 17: "E-r", 151: "0.5"})
    (report,) = adapter.receive(wire("8", replaced), T0)
    assert report.kind is VenueEventKind.REPLACED and report.child_id == "child-1"
    adapter.cancel("child-1", T0)
    (raw,) = adapter.take_outgoing()
    cancel = parsed(raw)
    assert cancel.getField(41) == replace_id  # the order's current ClOrdID
    refused = changed(CANCEL_REJECT, {11: cancel.getField(11), 41: replace_id})
    (report,) = adapter.receive(wire("9", refused), T0)
    assert report.kind is VenueEventKind.CANCEL_REJECTED and report.child_id == "child-1"


def test_orders_are_refused_while_the_session_is_down() -> None:
    adapter = FixVenue("MM1", SETUP.instruments)
    (report,) = adapter.submit(order(), T0)
    assert report.kind is VenueEventKind.REJECTED and report.reason == "market_closed"
    assert adapter.take_outgoing() == []


def test_quotes_feed_the_consolidated_book() -> None:
    adapter = venue()
    (quote,) = adapter.receive(wire("S", QUOTE), T0)
    assert isinstance(quote, VenueQuote) and quote.venue == "MM1" and quote.bid == fixed.parse("150.20")
