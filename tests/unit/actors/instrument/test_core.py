from __future__ import annotations

from actors.instrument.core import InstrumentState
from actors.runtime.outputs import ACCOUNT, GATEWAY, Send
from model import fixed
from model.config import VenueSection
from model.enums import AssetClass, OrderType, Reason, SessionState, Side, TimeInForce, VenueEventKind
from model.instruments import Instrument
from model.messages import (
    CancelRoute,
    MarketUpdate,
    OrderUpdate,
    QuoteEvent,
    ReplaceRoute,
    RouteOrder,
    SetTradingStatus,
    VenueCancel,
    VenueNewOrder,
    VenueQuote,
    VenueReplace,
    VenueReport,
    VenueSessionChanged,
)
from model.orders import OrderSpec
from model.routes import RouteState

D = fixed.parse
IBM = Instrument("IBM", AssetClass.EQUITY, D("0.01"), D("0.000001"), D("150"))
VENUES = [VenueSection(name="A"), VenueSection(name="B")]


def make_state() -> InstrumentState:
    return InstrumentState("instrument-0", [IBM], VENUES)


def run(state: InstrumentState, message: object) -> list[Send]:
    state.apply(message, 1)  # type: ignore[arg-type]
    sends = state.out.drain()
    state.check_invariants()
    return sends


def quote(venue: str, bid: str, ask: str, size: str = "100") -> VenueQuote:
    return VenueQuote(venue, "IBM", D(bid), D(size), D(ask), D(size), 1)


def route(order_id: str = "o1", side: Side = Side.BUY, order_type: OrderType = OrderType.MARKET, qty: str = "10",
          tif: TimeInForce = TimeInForce.DAY, price: str | None = None, stop: str | None = None) -> RouteOrder:
    return RouteOrder(order_id, "A1", OrderSpec("IBM", side, order_type, tif, D(qty), None,
                                                D(price) if price else None, D(stop) if stop else None))


def of_type(sends: list[Send], kind: type) -> list:  # type: ignore[type-arg]
    return [s for s in sends if isinstance(s.message, kind)]


def test_quotes_from_venues_consolidate_to_the_best_bid_and_offer_with_summed_size() -> None:
    state = make_state()
    run(state, quote("A", "149.90", "150.10"))
    sends = run(state, quote("B", "149.90", "150.05", size="50"))
    event = of_type(sends, QuoteEvent)[0].message
    assert (event.bid, event.bid_size, event.ask, event.ask_size) == (D("149.90"), D("150"), D("150.05"), D("50"))
    update = of_type(sends, MarketUpdate)[0]
    assert update.kind == ACCOUNT and update.message.reference == D("149.97")
    assert of_type(sends, QuoteEvent)[0].kind == GATEWAY


def test_an_order_goes_to_the_venue_with_the_best_price_that_covers_its_size() -> None:
    state = make_state()
    run(state, quote("A", "149.90", "150.10", size="500"))
    run(state, quote("B", "149.95", "150.05", size="5"))
    big = of_type(run(state, route("o1", qty="10")), VenueNewOrder)[0]
    assert big.key == "A"  # B is cheaper but shows only 5
    small = of_type(run(state, route("o2", qty="5")), VenueNewOrder)[0]
    assert small.key == "B"
    sell = of_type(run(state, route("o3", side=Side.SELL, qty="1")), VenueNewOrder)[0]
    assert sell.key == "B"  # the higher bid


def test_without_quotes_routing_falls_back_to_config_order() -> None:
    sends = run(make_state(), route())
    assert of_type(sends, VenueNewOrder)[0].key == "A"


def test_no_venue_that_takes_the_type_rejects_the_order() -> None:
    state = InstrumentState("instrument-0", [IBM], [VenueSection(name="A", order_types=["limit"])])
    update = of_type(run(state, route()), OrderUpdate)[0].message
    assert (update.kind, update.reason) == (VenueEventKind.REJECTED, Reason.NO_VENUE.value)
    assert state.routes == {}


def test_venue_reports_map_back_to_the_client_order_and_finish_the_route() -> None:
    state = make_state()
    child = of_type(run(state, route(qty="10")), VenueNewOrder)[0].message.child_id
    assert run(state, VenueReport("A", child, VenueEventKind.ACCEPTED, 0, None, None, 1)) == []
    part = of_type(run(state, VenueReport("A", child, VenueEventKind.TRADE, D("4"), D("150"), None, 1)), OrderUpdate)[0].message
    assert (part.order_id, part.last_qty, part.done) == ("o1", D("4"), False)
    last = of_type(run(state, VenueReport("A", child, VenueEventKind.TRADE, D("6"), D("150"), None, 1, done=True)), OrderUpdate)[0].message
    assert last.done and state.routes == {} and state.children == {}


def test_a_report_for_an_unknown_child_is_recorded_not_a_crash() -> None:
    state = make_state()
    assert run(state, VenueReport("A", "nope", VenueEventKind.TRADE, D("1"), D("150"), None, 1)) == []
    assert state.anomalies


def test_a_buy_stop_waits_until_the_ask_reaches_it_then_goes_out_as_market() -> None:
    state = make_state()
    run(state, quote("A", "149.90", "150.10"))
    sends = run(state, route(order_type=OrderType.STOP, stop="151.00"))
    assert of_type(sends, VenueNewOrder) == [] and state.routes["o1"].state is RouteState.HELD_STOP
    assert of_type(run(state, quote("A", "150.40", "150.60")), VenueNewOrder) == []
    sent = of_type(run(state, quote("A", "150.90", "151.00")), VenueNewOrder)[0].message
    assert sent.spec.order_type is OrderType.MARKET and state.routes["o1"].state is RouteState.ROUTED


def test_a_sell_stop_limit_triggers_on_the_bid_and_goes_out_as_limit() -> None:
    state = make_state()
    run(state, quote("A", "149.90", "150.10"))
    run(state, route(side=Side.SELL, order_type=OrderType.STOP_LIMIT, stop="149.00", price="148.50"))
    sent = of_type(run(state, quote("A", "148.95", "149.20")), VenueNewOrder)[0].message
    assert (sent.spec.order_type, sent.spec.price) == (OrderType.LIMIT, D("148.50"))


def test_stops_do_not_trigger_while_halted() -> None:
    state = make_state()
    run(state, route(order_type=OrderType.STOP, stop="151.00"))
    run(state, SetTradingStatus("IBM", True))
    assert of_type(run(state, quote("A", "151.00", "151.20")), VenueNewOrder) == []
    run(state, SetTradingStatus("IBM", False))
    assert of_type(run(state, quote("A", "151.00", "151.20")), VenueNewOrder)


def test_orders_for_the_open_are_held_and_cancel_without_the_venue() -> None:
    state = make_state()
    run(state, route(tif=TimeInForce.OPG))
    assert [r.order_id for r in state.held_for_open("IBM")] == ["o1"]
    assert state.routes["o1"].state is RouteState.HELD_OPEN
    sends = run(state, CancelRoute("o1", "A1", "IBM"))
    assert of_type(sends, VenueCancel) == []
    assert of_type(sends, OrderUpdate)[0].message.kind is VenueEventKind.CANCELED


def test_cancel_and_replace_of_a_routed_order_go_to_its_venue_and_replace_rekeys_on_confirmation() -> None:
    state = make_state()
    child = of_type(run(state, route(order_type=OrderType.LIMIT, price="149.00")), VenueNewOrder)[0].message.child_id
    replace = of_type(run(state, ReplaceRoute("o1", "o2", "A1", "IBM", D("20"), D("149.50"), None)), VenueReplace)[0]
    assert (replace.key, replace.message.qty) == ("A", D("20"))
    assert state.routes["o1"].spec.qty == D("10")  # unchanged until the venue confirms
    update = of_type(run(state, VenueReport("A", child, VenueEventKind.REPLACED, 0, None, None, 1)), OrderUpdate)[0].message
    assert update.order_id == "o1" and "o2" in state.routes and state.routes["o2"].spec.qty == D("20")
    cancel = of_type(run(state, CancelRoute("o2", "A1", "IBM")), VenueCancel)[0]
    assert cancel.message.child_id == child


def test_cancel_of_an_unknown_route_is_too_late() -> None:
    update = of_type(run(make_state(), CancelRoute("gone", "A1", "IBM")), OrderUpdate)[0].message
    assert (update.kind, update.reason) == (VenueEventKind.CANCEL_REJECTED, Reason.TOO_LATE_TO_CANCEL.value)


def test_halted_symbol_rejects_new_routes() -> None:
    state = make_state()
    run(state, SetTradingStatus("IBM", True))
    update = of_type(run(state, route()), OrderUpdate)[0].message
    assert (update.kind, update.reason) == (VenueEventKind.REJECTED, Reason.HALTED.value)


def test_day_stops_expire_when_every_venue_closes_but_gtc_stay() -> None:
    state = make_state()
    run(state, route("day", order_type=OrderType.STOP, stop="160.00"))
    run(state, route("gtc", order_type=OrderType.STOP, stop="160.00", tif=TimeInForce.GTC))
    for venue in ("A", "B"):
        run(state, VenueSessionChanged(venue, SessionState.OPEN, 1))
    assert of_type(run(state, VenueSessionChanged("A", SessionState.CLOSED, 1)), OrderUpdate) == []
    expired = of_type(run(state, VenueSessionChanged("B", SessionState.CLOSED, 1)), OrderUpdate)
    assert [(s.message.order_id, s.message.reason) for s in expired] == [("day", Reason.END_OF_DAY.value)]
    assert list(state.routes) == ["gtc"]


def test_same_inputs_give_the_same_state_hash() -> None:
    def scenario() -> InstrumentState:
        state = make_state()
        run(state, quote("A", "149.90", "150.10"))
        run(state, route("o1"))
        run(state, route("o2", order_type=OrderType.STOP, stop="151.00"))
        return state

    assert scenario().state_hash() == scenario().state_hash()

