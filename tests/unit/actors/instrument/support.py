"""What the instrument actor's tests share: an instrument, two venues, a state, routes and quotes."""

from __future__ import annotations

from actors.instrument.core import InstrumentState
from actors.runtime.outputs import Send
from model import fixed
from model.config import VenueSection
from model.enums import AssetClass, OrderType, Side, TimeInForce
from model.instruments import Instrument
from model.messages import AllocationFills, RouteOrder, VenueQuote
from model.orders import OrderSpec

D = fixed.parse
IBM = Instrument("IBM", AssetClass.EQUITY, D("0.01"), D("0.000001"), D("150"))
VENUES = [VenueSection(name="A"), VenueSection(name="B")]


def make_state() -> InstrumentState:
    return InstrumentState("instrument-0", [IBM], VENUES)


def run(state: InstrumentState, message: object) -> list[Send]:
    state.apply(message, 1)  # type: ignore[arg-type]
    state.end_turn(1)  # as the shell does after each record's inputs
    sends = as_updates(state.out.drain())
    state.check_invariants()
    return sends


def as_updates(sends: list[Send]) -> list[Send]:
    """``sends`` with each ``AllocationFills`` as the ``OrderUpdate`` trades it stands for, in
    its place (what the tests of what an order is told read; ``test_blocks`` checks the
    messages themselves)."""
    out: list[Send] = []
    for send in sends:
        if isinstance(send.message, AllocationFills):
            out.extend(Send(send.kind, update.account, update) for update in send.message.updates())
        else:
            out.append(send)
    return out


def quote(venue: str, bid: str, ask: str, size: str = "100") -> VenueQuote:
    return VenueQuote(venue, "IBM", D(bid), D(size), D(ask), D(size), 1)


def route(order_id: str = "o1", side: Side = Side.BUY, order_type: OrderType = OrderType.MARKET, qty: str = "10",
          tif: TimeInForce = TimeInForce.DAY, price: str | None = None, stop: str | None = None) -> RouteOrder:
    return RouteOrder(order_id, "A1", OrderSpec("IBM", side, order_type, tif, D(qty), None,
                                                D(price) if price else None, D(stop) if stop else None))


def of_type(sends: list[Send], kind: type) -> list:  # type: ignore[type-arg]
    return [s for s in sends if isinstance(s.message, kind)]
