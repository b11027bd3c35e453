"""The FIX venue adapter's state without a session: orders out as FIX strings, messages in
as received, each execution applied once, bad or unknown reports refused and logged, and
what a disconnect does with and without cancel on disconnect."""

from __future__ import annotations

import msgspec
import pytest
import quickfix as fix

from actors.runtime import format2
from adapters.base import VenueAdapter, VenueEvent
from adapters.fix.children import FixSnapshot, SentMessage
from adapters.fix.dictionary import dictionary
from adapters.fix.outbound import order_reference
from adapters.fix.venue import CANCELED_ON_DISCONNECT, ENDED_BY_FILL, NOT_SENT, FixVenue
from model import fixed
from model.config import VenueSection
from model.enums import OrderType, SessionState, Side, TimeInForce, VenueEventKind
from model.messages import VenueNewOrder, VenueQuote, VenueReplace, VenueReport, VenueSessionChanged, VenueWireSent
from model.orders import OrderSpec
from tests.conftest import demo_setup
from tests.unit.adapters.fix.wire import ACCEPTED, CANCEL_REJECT, EXECUTOR_REJECT, QUOTE, TRADE, UNSUPPORTED, changed, from_venue

SETUP = demo_setup()
T0 = 1_763_700_000_000_000_000


def venue(cancel_on_disconnect: bool = False) -> FixVenue:
    adapter = FixVenue("MM1", SETUP.instruments, cancel_on_disconnect)
    adapter.set_session(SessionState.OPEN, T0)
    return adapter


def order(qty: str = "0.3", child_id: str = "child-1") -> VenueNewOrder:
    return VenueNewOrder(child_id, OrderSpec("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, fixed.parse(qty), None, fixed.parse("150.25")))


def notional(amount: str, symbol: str = "IBM", side: Side = Side.BUY) -> VenueNewOrder:
    return VenueNewOrder("child-1", OrderSpec(symbol, side, OrderType.LIMIT, TimeInForce.DAY, None, fixed.parse(amount), fixed.parse("150.25")))


def wire(msg_type: str, fields: dict, poss_dup: bool = False) -> str:
    return str(from_venue(msg_type, fields, poss_dup=poss_dup).toString())


def parsed(raw: str) -> fix.Message:
    return fix.Message(raw, dictionary(), False)


def msg_type(message: fix.Message) -> str:
    field = fix.MsgType()
    message.getHeader().getField(field)  # keep ``message`` alive: the header is a view into it
    return str(field.getValue())


def one_report(events: list[VenueEvent]) -> VenueReport:
    (report,) = events
    assert isinstance(report, VenueReport), report
    return report


def sent_types(adapter: FixVenue) -> list[str]:
    return [msg_type(parsed(raw)) for raw in adapter.take_outgoing()]


def test_an_order_goes_out_as_new_order_single_and_its_fills_come_back() -> None:
    adapter = venue()
    assert adapter.submit(order(), T0) == []
    assert sent_types(adapter) == ["D"]
    (accepted,) = adapter.receive(wire("8", changed(ACCEPTED, {17: "E-0"})), T0)
    assert isinstance(accepted, VenueReport) and accepted.kind is VenueEventKind.ACCEPTED and accepted.child_id == "child-1"
    first = one_report(adapter.receive(wire("8", TRADE), T0))
    assert first.kind is VenueEventKind.TRADE and first.last_qty == fixed.parse("0.1") and not first.done
    last = changed(TRADE, {17: "E-2", 32: "0.2", 151: "0", 14: "0.3", 39: "2"})
    second = one_report(adapter.receive(wire("8", last), T0))
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


def test_a_fill_worth_more_than_a_notional_buys_notional_is_refused_as_an_overfill() -> None:
    adapter = venue()
    adapter.submit(notional("100"), T0)
    adapter.take_outgoing()
    assert one_report(adapter.receive(wire("8", changed(TRADE, {32: "0.5", 14: "0.5"})), T0)).last_qty == fixed.parse("0.5")  # 75.125
    before = adapter.state_hash()
    assert adapter.receive(wire("8", changed(TRADE, {17: "E-2", 32: "0.2", 14: "0.7"})), T0) == []  # 30.05 more: 105.175
    assert sent_types(adapter) == ["j"] and "overfill" in adapter.anomalies[-1] and adapter.state_hash() == before
    assert one_report(adapter.receive(wire("8", changed(TRADE, {17: "E-3", 32: "0.16", 14: "0.66"})), T0))  # 24.04 more: 99.165
    adapter.check_invariants()
    option = venue()  # valued with the multiplier: one contract at 15 is worth 1,500
    option.submit(notional("1000", symbol="AAPL261218C00200000"), T0)
    assert option.receive(wire("8", changed(TRADE, {55: "AAPL261218C00200000", 32: "1", 31: "15", 14: "1"})), T0) == []
    sell = venue()  # a sell is capped by quantity at the account shard, not by value: a better price brings more cash
    sell.submit(notional("100", side=Side.SELL), T0)
    assert one_report(sell.receive(wire("8", changed(TRADE, {54: "2", 32: "1", 14: "1"})), T0)).kind is VenueEventKind.TRADE


def test_a_notional_childs_value_filled_survives_a_snapshot_and_an_older_snapshot_still_restores() -> None:
    adapter = venue()
    adapter.submit(notional("1000000"), T0)
    adapter.receive(wire("8", changed(TRADE, {32: "6000", 14: "6000"})), T0)  # 901,500: past 2**64 at 10^-18
    restored = FixVenue.restore(msgspec.msgpack.decode(msgspec.msgpack.encode(adapter.snapshot()), type=FixSnapshot))
    assert restored.state_hash() == adapter.state_hash() and restored.values == adapter.values
    more = changed(TRADE, {17: "E-2", 32: "1000", 14: "7000"})  # 150,250 more
    assert restored.receive(wire("8", more), T0) == [] and "overfill" in restored.anomalies[-1]
    fields = msgspec.msgpack.decode(msgspec.msgpack.encode(adapter.snapshot()))
    del fields["multipliers"], fields["values"]  # as written before notional fills were valued
    older = FixVenue.restore(msgspec.msgpack.decode(msgspec.msgpack.encode(fields), type=FixSnapshot))
    assert older.values == {} and older.multipliers == {}
    assert one_report(older.receive(wire("8", more), T0)).kind is VenueEventKind.TRADE  # valued from its next fill on
    older.check_invariants()


def test_a_fill_whose_cum_qty_goes_back_or_leaves_out_fills_is_refused() -> None:
    adapter = venue()
    adapter.submit(order("0.3"), T0)
    adapter.take_outgoing()
    assert one_report(adapter.receive(wire("8", changed(TRADE, {14: "0.2"})), T0)).kind is VenueEventKind.TRADE  # ahead: a fill missing
    before = adapter.state_hash()
    assert adapter.receive(wire("8", changed(TRADE, {17: "E-2", 14: "0.05"})), T0) == []  # back below what was filled
    assert adapter.receive(wire("8", changed(TRADE, {17: "E-3", 14: "0.1"})), T0) == []  # without this fill's own 0.1
    assert sent_types(adapter) == ["j", "j"] and "CumQty 0.1" in adapter.anomalies[-1] and adapter.state_hash() == before
    assert one_report(adapter.receive(wire("8", changed(TRADE, {17: "E-4", 14: "0.2"})), T0)).last_qty == fixed.parse("0.1")


def ends(events: list[VenueEvent]) -> list[tuple[VenueEventKind, str, int, str | None, bool]]:
    return [(r.kind, r.child_id, r.last_qty, r.reason, r.done) for r in events if isinstance(r, VenueReport)]


@pytest.mark.parametrize(("ord_status", "kind"), [("4", VenueEventKind.CANCELED), ("C", VenueEventKind.EXPIRED)])
def test_a_fill_that_ends_a_child_below_its_quantity_is_a_trade_then_the_end_of_the_rest(ord_status: str, kind: VenueEventKind) -> None:
    adapter = venue()
    adapter.submit(order("0.3"), T0)
    adapter.take_outgoing()
    last = changed(TRADE, {39: ord_status, 151: "0"})  # 0.1 of 0.3, and the venue is done with it
    assert ends(adapter.receive(wire("8", last), T0)) == [
        (VenueEventKind.TRADE, "child-1", fixed.parse("0.1"), None, False),
        (kind, "child-1", 0, ENDED_BY_FILL, True),
    ]
    assert adapter.open_orders() == [] and adapter.closed == {} and adapter.take_outgoing() == [] and adapter.anomalies == []
    ioc = venue()  # an IOC's rest is its remainder, as the sim venue says
    ioc.submit(msgspec.structs.replace(order(), spec=msgspec.structs.replace(order().spec, tif=TimeInForce.IOC)), T0)
    assert [reason for _, _, _, reason, _ in ends(ioc.receive(wire("8", last), T0))] == [None, "ioc_remainder"]
    cash = venue()  # a notional child the venue ends with a fill
    cash.submit(notional("100"), T0)
    assert [(k, done) for k, _, _, _, done in ends(cash.receive(wire("8", last), T0))] == [(VenueEventKind.TRADE, False), (kind, True)]


def test_after_a_fill_that_ends_a_child_below_its_quantity_the_venues_cancel_is_taken_quietly() -> None:
    adapter = venue()
    adapter.submit(order("0.3"), T0)
    adapter.take_outgoing()
    events = adapter.receive(wire("8", changed(TRADE, {151: "0"})), T0)  # LeavesQty 0, OrdStatus still partially filled
    assert [(kind, done) for kind, _, _, _, done in ends(events)] == [(VenueEventKind.TRADE, False), (VenueEventKind.CANCELED, True)]
    assert adapter.receive(wire("8", changed(TRADE, {17: "E-2", 14: "0.2", 151: "0"})), T0) == []  # a fill now is refused
    assert sent_types(adapter) == ["j"] and "after it was closed here" in adapter.anomalies[-1]
    canceled = changed(ACCEPTED, {150: "4", 39: "4", 17: "E-c", 151: "0", 14: "0.1", 6: "150.25"})
    assert adapter.receive(wire("8", canceled), T0) == []
    assert adapter.take_outgoing() == [] and len(adapter.anomalies) == 1 and adapter.closed == {}


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
    report = one_report(adapter.receive(wire("8", replaced), T0))
    assert report.kind is VenueEventKind.REPLACED and report.child_id == "child-1"
    adapter.cancel("child-1", T0)
    (raw,) = adapter.take_outgoing()
    cancel = parsed(raw)
    assert cancel.getField(41) == replace_id  # the order's current ClOrdID
    refused = changed(CANCEL_REJECT, {11: cancel.getField(11), 41: replace_id})
    report = one_report(adapter.receive(wire("9", refused), T0))
    assert report.kind is VenueEventKind.CANCEL_REJECTED and report.child_id == "child-1"


def test_orders_are_refused_while_the_session_is_down() -> None:
    adapter = FixVenue("MM1", SETUP.instruments)
    report = one_report(adapter.submit(order(), T0))
    assert report.kind is VenueEventKind.REJECTED and report.reason == "market_closed"
    assert adapter.take_outgoing() == []


def test_quotes_feed_the_consolidated_book() -> None:
    adapter = venue()
    (quote,) = adapter.receive(wire("S", QUOTE), T0)
    assert isinstance(quote, VenueQuote) and quote.venue == "MM1" and quote.bid == fixed.parse("150.20")


def test_market_data_whose_sizes_at_one_price_add_up_past_the_limit_is_rejected_and_gives_no_quote() -> None:
    adapter = venue()
    adapter.take_outgoing()
    before = adapter.state_hash()
    entries: list[dict[int, str | None]] = [{269: "0", 270: "100", 271: "999999999"}] * 20  # past 2**64 at 10^-9 in all
    assert adapter.receive(str(from_venue("W", {55: "IBM"}, entries).toString()), T0) == []
    (reject,) = adapter.take_outgoing()
    assert msg_type(parsed(reject)) == "3" and parsed(reject).getField(371) == "271"
    assert adapter.state_hash() == before and "MDEntrySize" in adapter.anomalies[-1]


# --- order status answers -----------------------------------------------------------------------

STATUS = changed(ACCEPTED, {150: "I", 17: "E-status"})


def test_an_order_status_answer_of_canceled_cancels_the_child() -> None:
    adapter = venue()
    adapter.submit(order(), T0)
    report = one_report(adapter.receive(wire("8", changed(STATUS, {39: "4", 151: "0"})), T0))
    assert (report.kind, report.child_id, report.done) == (VenueEventKind.CANCELED, "child-1", True)
    assert adapter.open_orders() == [] and adapter.anomalies == []


def test_order_status_answers_all_with_exec_id_0_are_each_applied() -> None:
    adapter = venue()
    adapter.submit(order(), T0)
    working = changed(STATUS, {17: "0"})  # FIX 4.4: ExecID is 0 on every order status answer
    assert adapter.receive(wire("8", working), T0) == []
    adapter.set_session(SessionState.CLOSED, T0)
    adapter.set_session(SessionState.OPEN, T0)  # the next logon asks again: canceled at the venue meanwhile
    report = one_report(adapter.receive(wire("8", changed(working, {39: "4", 151: "0"})), T0))
    assert (report.kind, report.child_id, report.done) == (VenueEventKind.CANCELED, "child-1", True)
    assert adapter.open_orders() == []


def test_an_order_status_answer_of_filled_while_fills_are_missing_is_only_logged() -> None:
    adapter = venue()
    adapter.submit(order(), T0)
    assert adapter.receive(wire("8", changed(STATUS, {39: "2", 151: "0", 14: "0.3", 6: "150.25"})), T0) == []
    assert adapter.open_orders() == ["child-1"] and "filled" in adapter.anomalies[-1]
    assert adapter.take_outgoing()[1:] == []  # nothing said to the venue but the order


def test_a_final_report_naming_fills_never_received_refuses_them_when_they_come() -> None:
    adapter = venue()
    adapter.submit(order(), T0)
    adapter.take_outgoing()
    canceled = changed(ACCEPTED, {150: "4", 39: "4", 17: "E-c", 151: "0", 14: "0.1", 6: "150.25"})
    report = one_report(adapter.receive(wire("8", canceled), T0))
    assert report.kind is VenueEventKind.CANCELED and "CumQty" in adapter.anomalies[-1]
    assert adapter.receive(wire("8", TRADE), T0) == []
    assert sent_types(adapter) == ["j"] and "after it was closed here" in adapter.anomalies[-1]


# --- disconnects --------------------------------------------------------------------------------------


def test_without_cancel_on_disconnect_a_disconnect_changes_no_order() -> None:
    adapter = venue()
    adapter.submit(order(), T0)
    adapter.take_outgoing()
    assert adapter.set_session(SessionState.CLOSED, T0) == [VenueSessionChanged("MM1", SessionState.CLOSED, T0)]
    assert adapter.open_orders() == ["child-1"]
    adapter.set_session(SessionState.OPEN, T0)
    assert sent_types(adapter) == ["H"]  # the next logon asks for its status


def test_with_cancel_on_disconnect_a_disconnect_cancels_every_open_child() -> None:
    adapter = venue(cancel_on_disconnect=True)
    adapter.submit(order(), T0)
    adapter.submit(order(child_id="child-2"), T0)
    adapter.receive(wire("8", TRADE), T0)
    session, *canceled = adapter.set_session(SessionState.CLOSED, T0)
    assert session == VenueSessionChanged("MM1", SessionState.CLOSED, T0)
    assert [(r.child_id, r.kind, r.reason, r.done) for r in canceled if isinstance(r, VenueReport)] == [
        ("child-1", VenueEventKind.CANCELED, CANCELED_ON_DISCONNECT, True),
        ("child-2", VenueEventKind.CANCELED, CANCELED_ON_DISCONNECT, True),
    ]
    assert adapter.open_orders() == []
    adapter.take_outgoing()
    adapter.set_session(SessionState.OPEN, T0)
    assert adapter.take_outgoing() == []  # nothing left to ask about


def test_after_cancel_on_disconnect_a_late_fill_is_refused_and_a_resend_of_an_applied_one_is_not() -> None:
    adapter = venue(cancel_on_disconnect=True)
    adapter.submit(order(), T0)
    (applied,) = adapter.receive(wire("8", TRADE), T0)
    adapter.set_session(SessionState.CLOSED, T0)
    adapter.set_session(SessionState.OPEN, T0)
    adapter.take_outgoing()
    before = adapter.state_hash()
    assert adapter.receive(wire("8", TRADE, poss_dup=True), T0) == []  # applied before the close: a plain resend
    assert adapter.take_outgoing() == [] and adapter.state_hash() == before
    late = changed(TRADE, {17: "E-2", 14: "0.2", 151: "0.1"})
    assert adapter.receive(wire("8", late, poss_dup=True), T0) == []
    assert sent_types(adapter) == ["j"] and "after it was closed here" in adapter.anomalies[-1]
    assert CANCELED_ON_DISCONNECT in adapter.anomalies[-1]


def test_the_venues_own_cancel_after_a_disconnect_ends_the_watch_quietly() -> None:
    adapter = venue(cancel_on_disconnect=True)
    adapter.submit(order(), T0)
    adapter.set_session(SessionState.CLOSED, T0)
    adapter.set_session(SessionState.OPEN, T0)
    adapter.take_outgoing()
    canceled = changed(ACCEPTED, {150: "4", 39: "4", 17: "E-c", 151: "0", 58: "cancel on disconnect"})
    assert adapter.receive(wire("8", canceled, poss_dup=True), T0) == []
    assert adapter.take_outgoing() == [] and adapter.anomalies == [] and adapter.closed == {}
    assert adapter.receive(wire("8", changed(TRADE, {17: "E-9"})), T0) == []
    assert sent_types(adapter) == ["j"] and "unknown order" in adapter.anomalies[-1]


def test_replay_of_the_same_inputs_gives_the_same_state_with_cancel_on_disconnect() -> None:
    def run() -> str:
        adapter = venue(cancel_on_disconnect=True)
        adapter.submit(order(), T0)
        adapter.receive(wire("8", TRADE), T0)
        adapter.set_session(SessionState.CLOSED, T0)
        adapter.receive(wire("8", changed(TRADE, {17: "E-2"})), T0)
        return adapter.state_hash()

    assert run() == run()


# --- the venue's Reject (3) and BusinessMessageReject (j) -------------------------------------------


def sent(adapter: FixVenue, first_seq: int) -> list[tuple[str, str]]:
    """Hand what the adapter made to a pretend session numbering from ``first_seq``, as the
    session reports each: ``(MsgType, ClOrdID)`` of each, in order."""
    references = []
    for seq, raw in enumerate(adapter.take_outgoing(), start=first_seq):
        reference = order_reference(parsed(raw))
        assert reference is not None
        adapter.record_sent(seq, *reference)
        references.append(reference)
    return references


def two_orders_sent(first_seq: int) -> FixVenue:
    """A venue that has sent child-1 and child-2, numbered ``first_seq`` and the next."""
    adapter = venue()
    adapter.submit(order(), T0)
    adapter.submit(order(child_id="child-2"), T0)
    sent(adapter, first_seq)
    return adapter


def test_a_session_reject_of_a_new_order_rejects_it_with_the_venues_text_and_nothing_is_sent_back() -> None:
    adapter = venue()
    adapter.submit(order(), T0)
    assert sent(adapter, 5) == [("D", "child-1")]
    report = one_report(adapter.receive(wire("3", EXECUTOR_REJECT), T0))
    assert (report.child_id, report.kind, report.reason, report.done) == (
        "child-1",
        VenueEventKind.REJECTED,
        "Value is incorrect (out of range) for this tag",
        True,
    )
    assert adapter.open_orders() == [] and adapter.take_outgoing() == [] and adapter.anomalies == []
    assert adapter.by_seq == {} and adapter.sent == {}  # nothing kept for a child that is done


def test_a_business_reject_finds_its_order_by_number_or_else_by_its_ref_id() -> None:
    adapter = two_orders_sent(8)
    by_number = one_report(adapter.receive(wire("j", changed(UNSUPPORTED, {45: "9", 372: "D", 58: "no such account"})), T0))
    assert (by_number.child_id, by_number.kind, by_number.reason) == ("child-2", VenueEventKind.REJECTED, "no such account")
    unrecorded = changed(UNSUPPORTED, {45: "77", 372: "D", 379: "child-1", 58: "no"})  # a number never recorded: the id decides
    assert one_report(adapter.receive(wire("j", unrecorded), T0)).child_id == "child-1"
    assert adapter.open_orders() == [] and adapter.take_outgoing() == []


def test_a_refusal_naming_no_open_order_is_logged_and_never_answered() -> None:
    adapter = venue()
    adapter.submit(order(), T0)
    sent(adapter, 5)
    before = (adapter.open_orders(), adapter.sent, adapter.by_seq)
    assert adapter.receive(wire("3", changed(EXECUTOR_REJECT, {45: "4"})), T0) == []  # a number of no order message
    assert adapter.receive(wire("3", changed(EXECUTOR_REJECT, {372: "F"})), T0) == []  # seq 5 was a D, not an F
    assert adapter.receive(wire("j", changed(UNSUPPORTED, {372: "j"})), T0) == []  # a refusal of our own refusal
    assert adapter.take_outgoing() == [] and (adapter.open_orders(), adapter.sent, adapter.by_seq) == before
    assert len(adapter.anomalies) == 3 and all("nothing changed" in text for text in adapter.anomalies)


def test_a_malformed_refusal_is_logged_and_never_refused_in_turn() -> None:
    adapter = venue()
    assert adapter.receive(wire("j", changed(UNSUPPORTED, {372: None})), T0) == []
    assert adapter.receive(wire("3", changed(EXECUTOR_REJECT, {45: None})), T0) == []
    assert adapter.take_outgoing() == [] and len(adapter.anomalies) == 2


def test_a_reject_of_an_order_the_venue_has_acknowledged_changes_nothing() -> None:
    adapter = venue()
    adapter.submit(order(), T0)
    sent(adapter, 5)
    adapter.receive(wire("8", ACCEPTED), T0)
    assert adapter.receive(wire("j", changed(UNSUPPORTED, {45: "5", 372: "D"}), poss_dup=True), T0) == []
    assert adapter.open_orders() == ["child-1"] and "already acknowledged" in adapter.anomalies[-1]


def test_a_refused_cancel_or_replace_is_refused_and_the_order_keeps_working() -> None:
    adapter = venue()
    adapter.submit(order(), T0)
    sent(adapter, 5)
    adapter.cancel("child-1", T0)
    ((_, cancel_id),) = sent(adapter, 6)
    report = one_report(adapter.receive(wire("j", changed(UNSUPPORTED, {45: "6", 372: "F", 379: cancel_id, 58: "no cancels"})), T0))
    assert (report.child_id, report.kind, report.reason) == ("child-1", VenueEventKind.CANCEL_REJECTED, "no cancels")
    adapter.replace(VenueReplace("child-1", fixed.parse("0.5"), fixed.parse("150.30")), T0)
    sent(adapter, 7)
    report = one_report(adapter.receive(wire("3", changed(EXECUTOR_REJECT, {45: "7", 372: "G", 58: "no replaces"})), T0))
    assert (report.child_id, report.kind, report.reason) == ("child-1", VenueEventKind.REPLACE_REJECTED, "no replaces")
    assert adapter.open_orders() == ["child-1"] and adapter.replacing == {}
    assert adapter.replace(VenueReplace("child-1", fixed.parse("0.4"), fixed.parse("150.30")), T0) == []  # no longer pending
    assert sent_types(adapter) == ["G"]


def test_a_resend_of_a_refusal_of_a_cancel_or_a_replace_is_dropped() -> None:
    adapter = venue()
    adapter.submit(order(), T0)
    sent(adapter, 5)
    adapter.cancel("child-1", T0)
    ((_, cancel_id),) = sent(adapter, 6)
    refusal = changed(UNSUPPORTED, {45: "6", 372: "F", 379: cancel_id, 58: "no cancels"})
    assert one_report(adapter.receive(wire("j", refusal), T0)).kind is VenueEventKind.CANCEL_REJECTED
    assert adapter.receive(wire("j", refusal, poss_dup=True), T0) == []  # applied once
    adapter.replace(VenueReplace("child-1", fixed.parse("0.5"), fixed.parse("150.30")), T0)
    sent(adapter, 7)
    reject = changed(EXECUTOR_REJECT, {45: "7", 372: "G"})
    assert one_report(adapter.receive(wire("3", reject), T0)).kind is VenueEventKind.REPLACE_REJECTED
    assert adapter.receive(wire("3", reject, poss_dup=True), T0) == []
    assert adapter.anomalies == [] and adapter.take_outgoing() == [] and adapter.open_orders() == ["child-1"]
    assert adapter.request_ids == {"child-1": []} and adapter.sent["child-1"] == [SentMessage(5, "D", "child-1")]
    assert adapter.never_sent([]) == []  # the refused requests are not looked for at a restart
    adapter.check_invariants()


def test_a_resend_of_an_order_cancel_reject_is_dropped_and_a_later_cancel_still_answered() -> None:
    """An OrderCancelReject has no ExecID to know a resend by: its request, forgotten once the
    refusal is applied, is. A resend must not refuse the cancel the client asked since."""
    adapter = venue()
    adapter.submit(order(), T0)
    sent(adapter, 5)
    adapter.cancel("child-1", T0)
    ((_, first),) = sent(adapter, 6)
    refused = changed(CANCEL_REJECT, {11: first})
    assert one_report(adapter.receive(wire("9", refused), T0)).kind is VenueEventKind.CANCEL_REJECTED
    adapter.cancel("child-1", T0)
    ((_, second),) = sent(adapter, 7)
    assert adapter.receive(wire("9", refused, poss_dup=True), T0) == []  # the first refusal again: applied once
    assert adapter.request_ids == {"child-1": [second]} and adapter.anomalies == [] and adapter.take_outgoing() == []
    canceled = changed(ACCEPTED, {150: "4", 39: "4", 11: second, 41: "child-1", 17: "E-c", 151: "0"})
    assert one_report(adapter.receive(wire("8", canceled), T0)).kind is VenueEventKind.CANCELED
    adapter.check_invariants()


def test_a_venue_without_status_requests_leaves_orders_working_and_says_so_once_per_logon() -> None:
    adapter = two_orders_sent(2)
    adapter.receive(wire("8", ACCEPTED), T0)
    for _ in range(2):  # two reconnects
        adapter.set_session(SessionState.CLOSED, T0)
        adapter.set_session(SessionState.OPEN, T0)
        requests = sent(adapter, adapter.last_out_seq + 1)
        assert [msg_type for msg_type, _ in requests] == ["H", "H"]
        for seq in (adapter.last_out_seq - 1, adapter.last_out_seq):
            assert adapter.receive(wire("j", changed(UNSUPPORTED, {45: str(seq)})), T0) == []
    assert adapter.open_orders() == ["child-1", "child-2"] and adapter.take_outgoing() == []
    assert len(adapter.anomalies) == 2 and "does not answer status requests" in adapter.anomalies[-1]
    assert [len(records) for records in adapter.sent.values()] == [2, 2]  # the D and the last H each
    last = changed(TRADE, {11: "child-2", 32: "0.3", 14: "0.3", 151: "0", 39: "2"})  # a later report reconciles it
    assert one_report(adapter.receive(wire("8", last), T0)).done


def test_at_restart_what_never_reached_the_session_is_settled_once() -> None:
    adapter = venue()
    for child_id in ("child-1", "child-2", "child-3"):
        adapter.submit(order(child_id=child_id), T0)
    sent(adapter, 1)  # the three orders went out
    adapter.cancel("child-1", T0)
    adapter.replace(VenueReplace("child-2", fixed.parse("0.5"), fixed.parse("150.30")), T0)
    adapter.submit(order(child_id="child-4"), T0)
    adapter.take_outgoing()  # the restart: made, committed, never handed to the session
    found = [VenueWireSent(9, "F", "child-1.c1")]  # ... but the store shows the cancel did leave
    adapter.submit(order(child_id="child-5"), T0)  # made since the restart: waiting to go
    unsent = adapter.never_sent(found)
    assert unsent == ["child-2.r2", "child-4"]
    events = adapter.recovered(found, unsent, T0)
    assert [(r.child_id, r.kind, r.reason) for r in events if isinstance(r, VenueReport)] == [
        ("child-2", VenueEventKind.REPLACE_REJECTED, NOT_SENT),
        ("child-4", VenueEventKind.REJECTED, NOT_SENT),
    ]
    assert adapter.open_orders() == ["child-1", "child-2", "child-3", "child-5"] and adapter.last_out_seq == 9
    assert adapter.recovered(found, unsent, T0) == []  # settled once
    adapter.take_outgoing()
    assert adapter.never_sent([]) == ["child-5"]  # at the next restart, had it not left either


def test_refusals_replay_to_the_same_state_and_survive_a_snapshot() -> None:
    def run() -> FixVenue:
        adapter = two_orders_sent(5)
        adapter.receive(wire("3", EXECUTOR_REJECT), T0)
        adapter.set_session(SessionState.CLOSED, T0)
        adapter.set_session(SessionState.OPEN, T0)
        sent(adapter, 10)
        adapter.receive(wire("j", changed(UNSUPPORTED, {45: "10"})), T0)
        return adapter

    first, second = run(), run()
    assert first.state_hash() == second.state_hash()
    restored = FixVenue.restore(msgspec.msgpack.decode(msgspec.msgpack.encode(first.snapshot()), type=FixSnapshot))
    assert restored.state_hash() == first.state_hash() and restored.by_seq == {6: "child-2", 10: "child-2"}
    old = {key: value for key, value in first.__dict__.items() if key not in ("sent", "by_seq", "last_out_seq", "status_refused")}
    before = FixVenue.restore(format2.ADAPTERS["adapters.fix.venue.FixVenue"](old))  # a snapshot from before sent messages were recorded
    assert before.sent == {"child-2": []} and before.never_sent([]) == ["child-2"]


# --- the rest of the adapter interface --------------------------------------------------------------


def test_the_fix_venue_is_a_venue_adapter() -> None:
    adapter: VenueAdapter = venue()  # mypy checks the protocol here
    assert (adapter.name, adapter.last_in_seq, adapter.last_out_seq, adapter.anomalies) == ("MM1", 0, 0, [])


def test_cancel_all_sends_one_cancel_per_working_child_of_the_symbols_in_order() -> None:
    adapter = venue()
    adapter.submit(order(child_id="child-1"), T0)
    second = order(child_id="child-2")
    adapter.submit(msgspec.structs.replace(second, spec=msgspec.structs.replace(second.spec, symbol="AAPL")), T0)
    adapter.submit(order(child_id="child-3"), T0)
    adapter.take_outgoing()
    assert adapter.cancel_all(["IBM"], T0) == []
    cancels = [parsed(raw) for raw in adapter.take_outgoing()]
    assert [(msg_type(cancel), cancel.getField(41)) for cancel in cancels] == [("F", "child-1"), ("F", "child-3")]
    assert adapter.cancel_all(["MSFT"], T0) == [] and adapter.take_outgoing() == []
    adapter.check_invariants()


def test_configure_takes_cancel_on_disconnect_as_configured_now_and_changes_no_state() -> None:
    adapter = venue(cancel_on_disconnect=False)
    adapter.submit(order(), T0)
    before = adapter.state_hash()
    adapter.configure(VenueSection("MM1", kind="fix", cancel_on_disconnect=True))
    assert adapter.cancel_on_disconnect and adapter.state_hash() == before
    (_, canceled) = adapter.set_session(SessionState.CLOSED, T0)
    assert isinstance(canceled, VenueReport) and canceled.reason == CANCELED_ON_DISCONNECT
