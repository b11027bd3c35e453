from __future__ import annotations

from model.routes import TRANSITIONS, RouteEvent, RouteState, allowed

R, E = RouteState, RouteEvent

EXPECTED = {
    (R.NEW, E.HOLD_STOP): R.HELD_STOP,
    (R.NEW, E.HOLD_OPEN): R.HELD_OPEN,
    (R.NEW, E.HOLD_NAV): R.HELD_NAV,
    (R.NEW, E.SEND): R.ROUTED,
    (R.NEW, E.REST_INTERNAL): R.INTERNAL,
    (R.INTERNAL, E.SEND): R.ROUTED,
    (R.INTERNAL, E.END): R.DONE,
    (R.HELD_STOP, E.SEND): R.ROUTED,
    (R.HELD_OPEN, E.SEND): R.ROUTED,
    (R.HELD_OPEN, E.JOIN_BLOCK): R.DONE,
    (R.ROUTED, E.REPLACE_SENT): R.REPLACING,
    (R.REPLACING, E.REPLACED): R.ROUTED,
    (R.REPLACING, E.REPLACE_REFUSED): R.ROUTED,
    (R.NEW, E.END): R.DONE,
    (R.HELD_STOP, E.END): R.DONE,
    (R.HELD_OPEN, E.END): R.DONE,
    (R.HELD_NAV, E.END): R.DONE,
    (R.ROUTED, E.END): R.DONE,
    (R.REPLACING, E.END): R.DONE,
}


def test_the_table_is_exactly_the_documented_one() -> None:
    """(that every move follows it and every other is refused: test_transitions.py)"""
    assert TRANSITIONS == EXPECTED


def test_done_is_terminal_and_every_state_can_end() -> None:
    assert not any(start is R.DONE for start, _ in TRANSITIONS)
    assert all(allowed(state, E.END) for state in R if state is not R.DONE)


def test_a_route_is_at_a_venue_or_held_never_both() -> None:
    assert {state for state in R if state.at_venue} == {R.ROUTED, R.REPLACING}
    assert {state for state in R if state.held} == {R.HELD_STOP, R.HELD_OPEN, R.HELD_NAV, R.INTERNAL}
