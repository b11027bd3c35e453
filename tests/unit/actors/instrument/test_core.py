"""What concerns the instrument actor as a whole: the inputs each part gets, and replay."""

from __future__ import annotations

import msgspec

from actors.instrument.core import InstrumentState
from model.enums import OrderType, Reason, VenueEventKind
from model.messages import CancelRoute, OrderUpdate, SetTradingStatus, VenueReport
from tests.unit.actors.instrument.support import D, make_state, of_type, quote, route, run


def test_a_report_for_an_unknown_child_is_recorded_not_a_crash() -> None:
    state = make_state()
    assert run(state, VenueReport("A", "nope", VenueEventKind.TRADE, D("1"), D("150"), None, 1)) == []
    assert state.anomalies


def test_cancel_of_an_unknown_route_is_too_late() -> None:
    update = of_type(run(make_state(), CancelRoute("gone", "A1", "IBM")), OrderUpdate)[0].message
    assert (update.kind, update.reason) == (VenueEventKind.CANCEL_REJECTED, Reason.TOO_LATE_TO_CANCEL.value)


def test_halted_symbol_rejects_new_routes() -> None:
    state = make_state()
    run(state, SetTradingStatus("IBM", True))
    update = of_type(run(state, route()), OrderUpdate)[0].message
    assert (update.kind, update.reason) == (VenueEventKind.REJECTED, Reason.HALTED.value)


def test_same_inputs_give_the_same_state_hash() -> None:
    def scenario() -> InstrumentState:
        state = make_state()
        run(state, quote("A", "149.90", "150.10"))
        run(state, route("o1"))
        run(state, route("o2", order_type=OrderType.STOP, stop="151.00"))
        return state

    assert scenario().state_hash() == scenario().state_hash()


def test_a_snapshot_restores_the_state_and_its_indexes_and_the_actor_goes_on_alike() -> None:
    state = make_state()
    run(state, quote("A", "149.90", "150.10"))
    run(state, route("o1", order_type=OrderType.LIMIT, price="150.00"))
    run(state, route("o2", order_type=OrderType.STOP, stop="151.00"))
    run(state, route("o3", order_type=OrderType.STOP, stop="150.50"))
    encoded = msgspec.msgpack.encode(state.snapshot())
    restored = InstrumentState.restore(msgspec.msgpack.decode(encoded, type=InstrumentState.snapshot_type))
    restored.check_invariants()
    assert restored.state_hash() == state.state_hash()
    assert (restored.children, list(restored.stops["IBM"])) == (state.children, ["o2", "o3"])
    rising = quote("A", "150.90", "151.10")  # triggers both stops, in the order they were held
    assert run(restored, rising) == run(state, rising) and restored.state_hash() == state.state_hash()
