"""The venue session core (``VenueState``) driving the real simulated venue: commands in,
adapter events out as sends to the instrument actor of each child's symbol."""

from __future__ import annotations

import msgspec
import pytest

from actors.runtime.outputs import ALL, INSTRUMENT, Send
from actors.venue.core import VenueState
from adapters.factory import build_adapter
from model import fixed
from model.config import VenueSection
from model.enums import OrderType, SessionState, Side, TimeInForce, VenueEventKind
from model.messages import QuoteEvent, VenueCancel, VenueCancelAll, VenueNewOrder, VenueQuote, VenueReplace
from model.messages import VenueReport, VenueSessionChanged, VenueSetSession, VenueStart, VenueTick, VenueWireIn
from model.orders import OrderSpec
from tests.conftest import demo_setup

D = fixed.parse
T0 = 1_700_000_000_000_000_000
SECOND = 1_000_000_000


def make_state(supports_cancel_all: bool = True) -> VenueState:
    setup = demo_setup()
    venue = VenueSection(name="SIM", supports_cancel_all=supports_cancel_all)
    return VenueState("SIM", build_adapter(venue, setup.config, setup.instruments), supports_cancel_all)


def started(supports_cancel_all: bool = True) -> VenueState:
    state = make_state(supports_cancel_all)
    state.apply(VenueStart(), T0)
    state.out.drain()
    return state


def run(state: VenueState, message: object, now: int = T0) -> list[Send]:
    state.apply(message, now)  # type: ignore[arg-type]
    state.check_invariants()
    return state.out.drain()


def reports(sends: list[Send]) -> list[tuple[str, str, VenueEventKind]]:
    """``(symbol the report went to, child id, kind)`` of each venue report sent."""
    return [(s.key, s.message.child_id, s.message.kind) for s in sends if isinstance(s.message, VenueReport)]


def order(child_id: str, symbol: str = "IBM", side: Side = Side.BUY, order_type: OrderType = OrderType.LIMIT,
          qty: str = "1", price: str | None = "100.00", tif: TimeInForce = TimeInForce.DAY) -> VenueNewOrder:
    return VenueNewOrder(child_id, OrderSpec(symbol, side, order_type, tif, D(qty), None, D(price) if price else None, None))


def test_start_announces_the_session_to_every_instrument_actor_and_each_quote_to_its_symbol_s() -> None:
    state = make_state()
    sends = run(state, VenueStart())
    assert sends[0] == Send(INSTRUMENT, ALL, VenueSessionChanged("SIM", SessionState.OPEN, T0))
    quotes = [s for s in sends if isinstance(s.message, VenueQuote)]
    assert quotes and all(s.kind == INSTRUMENT and s.key == s.message.symbol for s in quotes)
    assert {"IBM", "AAPL"} <= {s.key for s in quotes} and "VFIAX" not in {s.key for s in quotes}  # a fund is never quoted
    assert run(state, VenueStart(), T0 + 1) == []  # started once: a repeated start does nothing


def test_a_child_s_reports_go_to_its_symbol_and_it_is_forgotten_once_done() -> None:
    state = started()
    sends = run(state, order("k1", "AAPL", order_type=OrderType.MARKET, price=None))
    assert reports(sends) == [("AAPL", "k1", VenueEventKind.ACCEPTED), ("AAPL", "k1", VenueEventKind.TRADE)]
    assert sends[-1].message.done and "k1" not in state.child_symbols


def test_a_resting_child_is_kept_until_its_cancel_and_a_second_cancel_reaches_nobody() -> None:
    state = started()
    assert reports(run(state, order("k1", price="100.00"))) == [("IBM", "k1", VenueEventKind.ACCEPTED)]
    assert state.child_symbols == {"k1": "IBM"} and state.reconcile() == {"unknown_at_venue": [], "unknown_here": []}
    assert reports(run(state, VenueReplace("k1", D("2"), D("101.00")))) == [("IBM", "k1", VenueEventKind.REPLACED)]
    assert reports(run(state, VenueCancel("k1"))) == [("IBM", "k1", VenueEventKind.CANCELED)]
    assert state.child_symbols == {}
    assert run(state, VenueCancel("k1")) == []  # the venue's "too late" is about a child no longer here: dropped


def test_a_rejected_child_is_routed_and_forgotten() -> None:
    state = started()
    sends = run(state, order("k1", price="100.005"))  # off the 0.01 tick
    assert reports(sends) == [("IBM", "k1", VenueEventKind.REJECTED)] and sends[0].message.reason == "price_not_on_tick"
    assert state.child_symbols == {}


def test_a_repeated_child_id_is_refused_here_and_never_reaches_the_venue_twice() -> None:
    state = started()
    run(state, order("k1"))
    venue_hash = state.adapter.state_hash()  # type: ignore[attr-defined]
    assert run(state, order("k1", "AAPL", price="150.00")) == []
    assert state.adapter.state_hash() == venue_hash and state.child_symbols == {"k1": "IBM"}  # type: ignore[attr-defined]


@pytest.mark.parametrize("native", [True, False], ids=["venue's cancel-all", "emulated"])
def test_cancel_all_cancels_the_children_in_the_symbols_named_and_no_other(native: bool) -> None:
    state = started(supports_cancel_all=native)
    for child_id, symbol, price in (("k1", "IBM", "100.00"), ("k2", "AAPL", "150.00"), ("k3", "IBM", "101.00")):
        run(state, order(child_id, symbol, price=price))
    sends = run(state, VenueCancelAll(["IBM"]))
    assert reports(sends) == [("IBM", "k1", VenueEventKind.CANCELED), ("IBM", "k3", VenueEventKind.CANCELED)]
    assert state.child_symbols == {"k2": "AAPL"}


def test_closing_the_session_expires_day_children_and_keeps_gtc_ones() -> None:
    state = started()
    run(state, order("day", price="100.00"))
    run(state, order("gtc", price="100.00", tif=TimeInForce.GTC))
    sends = run(state, VenueSetSession("closed"), T0 + SECOND)
    assert sends[0] == Send(INSTRUMENT, ALL, VenueSessionChanged("SIM", SessionState.CLOSED, T0 + SECOND))
    assert reports(sends) == [("IBM", "day", VenueEventKind.EXPIRED)]
    assert state.child_symbols == {"gtc": "IBM"}


def test_time_passing_brings_new_quotes_to_each_symbol_s_actor() -> None:
    state = started()
    wakeup = state.next_wakeup()
    assert wakeup is not None and wakeup > T0
    assert run(state, VenueTick(), wakeup - 1) == []
    quotes = [s for s in run(state, VenueTick(), wakeup) if isinstance(s.message, VenueQuote)]
    assert quotes and all(s.key == s.message.symbol and s.message.ts == wakeup for s in quotes)


def test_reconcile_names_children_each_side_does_not_know() -> None:
    state = started()
    run(state, order("here", price="100.00"))
    state.adapter.submit(order("venue-only", price="99.00"), T0)  # worked at the venue, unknown to this session
    state.adapter.cancel("here", T0)  # gone at the venue, still believed open here
    assert state.reconcile() == {"unknown_at_venue": ["here"], "unknown_here": ["venue-only"]}


def test_wire_messages_are_refused_without_a_fix_adapter_and_unknown_messages_always() -> None:
    state = started()
    with pytest.raises(TypeError, match="takes no wire messages"):
        state.apply(VenueWireIn("8=FIX.4.4"), T0)
    with pytest.raises(TypeError, match="does not take QuoteEvent"):
        state.apply(QuoteEvent("IBM", None, 0, None, 0, T0), T0)
    assert state.out.drain() == []


def test_the_same_inputs_give_the_same_state_hash_and_a_different_input_another() -> None:
    inputs = [VenueStart(), order("k1"), order("k2", "AAPL", order_type=OrderType.MARKET, price=None), VenueCancel("k1")]
    first, second, other = make_state(), make_state(), make_state()
    for state in (first, second):
        for message in inputs:
            run(state, message)
    for message in inputs[:-1]:
        run(other, message)
    assert first.state_hash() == second.state_hash() != other.state_hash()


def test_a_snapshot_restores_the_session_and_its_sim_venue_and_time_goes_on_alike() -> None:
    state = started()
    run(state, order("k1", price="1.00"))  # rests far below the market
    run(state, order("k2", "AAPL", side=Side.SELL, qty="3", price="100000.00", tif=TimeInForce.GTC))
    run(state, VenueTick(), T0 + SECOND)
    encoded = msgspec.msgpack.encode(state.snapshot())
    restored = VenueState.restore(msgspec.msgpack.decode(encoded, type=VenueState.snapshot_type))
    restored.check_invariants()
    assert restored.state_hash() == state.state_hash() and restored.child_symbols == {"k1": "IBM", "k2": "AAPL"}
    assert run(restored, VenueTick(), T0 + 2 * SECOND) == run(state, VenueTick(), T0 + 2 * SECOND)  # the same quotes: the same generators
    assert restored.state_hash() == state.state_hash()
