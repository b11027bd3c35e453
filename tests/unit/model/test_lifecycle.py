from __future__ import annotations

import itertools

import pytest

from model.enums import OrderStatus
from model.lifecycle import (
    INITIAL,
    LIFECYCLE,
    REQUESTS,
    STATES,
    TERMINAL,
    TRANSITIONS,
    InvalidTransition,
    OrderEvent,
    OrderState,
    Pending,
    can,
    inherited,
    step,
)

S, E = OrderStatus, OrderEvent

EXPECTED = {
    (S.PENDING_NEW, E.ACCEPT): S.NEW,
    (S.PENDING_NEW, E.REJECT): S.REJECTED,
    (S.NEW, E.REJECT): S.REJECTED,
    (S.NEW, E.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.NEW, E.FILL): S.FILLED,
    (S.NEW, E.CANCEL): S.CANCELED,
    (S.NEW, E.EXPIRE): S.EXPIRED,
    (S.NEW, E.REPLACE): S.REPLACED,
    (S.PARTIALLY_FILLED, E.PARTIAL_FILL): S.PARTIALLY_FILLED,
    (S.PARTIALLY_FILLED, E.FILL): S.FILLED,
    (S.PARTIALLY_FILLED, E.CANCEL): S.CANCELED,
    (S.PARTIALLY_FILLED, E.EXPIRE): S.EXPIRED,
    (S.PARTIALLY_FILLED, E.REPLACE): S.REPLACED,
}


def test_the_table_is_exactly_the_documented_one() -> None:
    """(that every move follows it and every other is refused: test_transitions.py)"""
    assert TRANSITIONS == EXPECTED


def test_terminal_states_have_no_way_out_and_are_not_open() -> None:
    for status in TERMINAL:
        assert not status.is_open
        assert not any(start is status for start, _ in TRANSITIONS)


# --- the request in flight (pending cancel and replace) and the whole machine -----------------

P = Pending
BOTH = Pending.REPLACE_AND_CANCEL
REQUEST_EVENTS = [E.CANCEL_REQUESTED, E.CANCEL_REFUSED, E.REPLACE_REQUESTED, E.REPLACE_REFUSED]

EXPECTED_REQUESTS = {
    (P.NONE, E.CANCEL_REQUESTED): P.CANCEL,
    (P.REPLACE, E.CANCEL_REQUESTED): BOTH,
    (P.NONE, E.REPLACE_REQUESTED): P.REPLACE,
    (P.CANCEL, E.CANCEL_REFUSED): P.NONE,
    (BOTH, E.CANCEL_REFUSED): P.REPLACE,
    (P.NONE, E.CANCEL_REFUSED): P.NONE,
    (P.REPLACE, E.CANCEL_REFUSED): P.REPLACE,
    (P.REPLACE, E.REPLACE_REFUSED): P.NONE,
    (BOTH, E.REPLACE_REFUSED): P.CANCEL,
    (P.NONE, E.ACCEPT): P.NONE,
    **{(pending, E.PARTIAL_FILL): pending for pending in P},
    (P.NONE, E.FILL): P.NONE,
    (P.CANCEL, E.FILL): P.NONE,  # the shard answers the cancel itself: too late
    (P.REPLACE, E.FILL): P.NONE,
    (BOTH, E.FILL): P.NONE,
    **{(pending, event): P.NONE for pending in P for event in (E.REJECT, E.CANCEL, E.EXPIRE)},
    (P.REPLACE, E.REPLACE): P.NONE,
    (BOTH, E.REPLACE): P.NONE,
}

BOTH_TABLES = {
    (S.PENDING_NEW, P.NONE, E.ACCEPT): (S.NEW, P.NONE),
    (S.PENDING_NEW, P.NONE, E.REJECT): (S.REJECTED, P.NONE),
    (S.NEW, P.NONE, E.REJECT): (S.REJECTED, P.NONE),
    (S.NEW, P.NONE, E.PARTIAL_FILL): (S.PARTIALLY_FILLED, P.NONE),
    (S.NEW, P.NONE, E.FILL): (S.FILLED, P.NONE),
    (S.NEW, P.NONE, E.CANCEL): (S.CANCELED, P.NONE),
    (S.NEW, P.NONE, E.EXPIRE): (S.EXPIRED, P.NONE),
    (S.NEW, P.NONE, E.CANCEL_REQUESTED): (S.NEW, P.CANCEL),
    (S.NEW, P.NONE, E.CANCEL_REFUSED): (S.NEW, P.NONE),
    (S.NEW, P.NONE, E.REPLACE_REQUESTED): (S.NEW, P.REPLACE),
    (S.NEW, P.CANCEL, E.REJECT): (S.REJECTED, P.NONE),
    (S.NEW, P.CANCEL, E.PARTIAL_FILL): (S.PARTIALLY_FILLED, P.CANCEL),
    (S.NEW, P.CANCEL, E.FILL): (S.FILLED, P.NONE),
    (S.NEW, P.CANCEL, E.CANCEL): (S.CANCELED, P.NONE),
    (S.NEW, P.CANCEL, E.EXPIRE): (S.EXPIRED, P.NONE),
    (S.NEW, P.CANCEL, E.CANCEL_REFUSED): (S.NEW, P.NONE),
    (S.NEW, P.REPLACE, E.REJECT): (S.REJECTED, P.NONE),
    (S.NEW, P.REPLACE, E.PARTIAL_FILL): (S.PARTIALLY_FILLED, P.REPLACE),
    (S.NEW, P.REPLACE, E.FILL): (S.FILLED, P.NONE),
    (S.NEW, P.REPLACE, E.CANCEL): (S.CANCELED, P.NONE),
    (S.NEW, P.REPLACE, E.EXPIRE): (S.EXPIRED, P.NONE),
    (S.NEW, P.REPLACE, E.REPLACE): (S.REPLACED, P.NONE),
    (S.NEW, P.REPLACE, E.CANCEL_REQUESTED): (S.NEW, BOTH),
    (S.NEW, P.REPLACE, E.CANCEL_REFUSED): (S.NEW, P.REPLACE),
    (S.NEW, P.REPLACE, E.REPLACE_REFUSED): (S.NEW, P.NONE),
    (S.NEW, BOTH, E.REJECT): (S.REJECTED, P.NONE),
    (S.NEW, BOTH, E.PARTIAL_FILL): (S.PARTIALLY_FILLED, BOTH),
    (S.NEW, BOTH, E.FILL): (S.FILLED, P.NONE),
    (S.NEW, BOTH, E.CANCEL): (S.CANCELED, P.NONE),
    (S.NEW, BOTH, E.EXPIRE): (S.EXPIRED, P.NONE),
    (S.NEW, BOTH, E.REPLACE): (S.REPLACED, P.NONE),
    (S.NEW, BOTH, E.CANCEL_REFUSED): (S.NEW, P.REPLACE),
    (S.NEW, BOTH, E.REPLACE_REFUSED): (S.NEW, P.CANCEL),
    (S.PARTIALLY_FILLED, P.NONE, E.PARTIAL_FILL): (S.PARTIALLY_FILLED, P.NONE),
    (S.PARTIALLY_FILLED, P.NONE, E.FILL): (S.FILLED, P.NONE),
    (S.PARTIALLY_FILLED, P.NONE, E.CANCEL): (S.CANCELED, P.NONE),
    (S.PARTIALLY_FILLED, P.NONE, E.EXPIRE): (S.EXPIRED, P.NONE),
    (S.PARTIALLY_FILLED, P.NONE, E.CANCEL_REQUESTED): (S.PARTIALLY_FILLED, P.CANCEL),
    (S.PARTIALLY_FILLED, P.NONE, E.CANCEL_REFUSED): (S.PARTIALLY_FILLED, P.NONE),
    (S.PARTIALLY_FILLED, P.NONE, E.REPLACE_REQUESTED): (S.PARTIALLY_FILLED, P.REPLACE),
    (S.PARTIALLY_FILLED, P.CANCEL, E.PARTIAL_FILL): (S.PARTIALLY_FILLED, P.CANCEL),
    (S.PARTIALLY_FILLED, P.CANCEL, E.FILL): (S.FILLED, P.NONE),
    (S.PARTIALLY_FILLED, P.CANCEL, E.CANCEL): (S.CANCELED, P.NONE),
    (S.PARTIALLY_FILLED, P.CANCEL, E.EXPIRE): (S.EXPIRED, P.NONE),
    (S.PARTIALLY_FILLED, P.CANCEL, E.CANCEL_REFUSED): (S.PARTIALLY_FILLED, P.NONE),
    (S.PARTIALLY_FILLED, P.REPLACE, E.PARTIAL_FILL): (S.PARTIALLY_FILLED, P.REPLACE),
    (S.PARTIALLY_FILLED, P.REPLACE, E.FILL): (S.FILLED, P.NONE),
    (S.PARTIALLY_FILLED, P.REPLACE, E.CANCEL): (S.CANCELED, P.NONE),
    (S.PARTIALLY_FILLED, P.REPLACE, E.EXPIRE): (S.EXPIRED, P.NONE),
    (S.PARTIALLY_FILLED, P.REPLACE, E.REPLACE): (S.REPLACED, P.NONE),
    (S.PARTIALLY_FILLED, P.REPLACE, E.CANCEL_REQUESTED): (S.PARTIALLY_FILLED, BOTH),
    (S.PARTIALLY_FILLED, P.REPLACE, E.CANCEL_REFUSED): (S.PARTIALLY_FILLED, P.REPLACE),
    (S.PARTIALLY_FILLED, P.REPLACE, E.REPLACE_REFUSED): (S.PARTIALLY_FILLED, P.NONE),
    (S.PARTIALLY_FILLED, BOTH, E.PARTIAL_FILL): (S.PARTIALLY_FILLED, BOTH),
    (S.PARTIALLY_FILLED, BOTH, E.FILL): (S.FILLED, P.NONE),
    (S.PARTIALLY_FILLED, BOTH, E.CANCEL): (S.CANCELED, P.NONE),
    (S.PARTIALLY_FILLED, BOTH, E.EXPIRE): (S.EXPIRED, P.NONE),
    (S.PARTIALLY_FILLED, BOTH, E.REPLACE): (S.REPLACED, P.NONE),
    (S.PARTIALLY_FILLED, BOTH, E.CANCEL_REFUSED): (S.PARTIALLY_FILLED, P.REPLACE),
    (S.PARTIALLY_FILLED, BOTH, E.REPLACE_REFUSED): (S.PARTIALLY_FILLED, P.CANCEL),
    (S.FILLED, P.NONE, E.CANCEL_REFUSED): (S.FILLED, P.NONE),
    (S.CANCELED, P.NONE, E.CANCEL_REFUSED): (S.CANCELED, P.NONE),
    (S.REPLACED, P.NONE, E.CANCEL_REFUSED): (S.REPLACED, P.NONE),
    (S.REJECTED, P.NONE, E.CANCEL_REFUSED): (S.REJECTED, P.NONE),
    (S.EXPIRED, P.NONE, E.CANCEL_REFUSED): (S.EXPIRED, P.NONE),
}
"""Every allowed ``(status, pending, event)``, written out: what clients see moves only on
the venue's answers; requests move only what is in flight."""


def test_the_request_table_is_exactly_the_documented_one() -> None:
    assert REQUESTS == EXPECTED_REQUESTS


def test_the_whole_machine_is_exactly_the_documented_one() -> None:
    assert {key: tuple(state) for key, state in LIFECYCLE.items()} == BOTH_TABLES


@pytest.mark.parametrize(("status", "pending", "event"), list(BOTH_TABLES))
def test_every_allowed_step_goes_where_the_table_says(status: OrderStatus, pending: Pending, event: OrderEvent) -> None:
    assert can(status, pending, event)
    assert step(status, pending, event) == OrderState(*BOTH_TABLES[(status, pending, event)])


@pytest.mark.parametrize(
    ("status", "pending", "event"),
    [key for key in itertools.product(S, P, E) if key not in BOTH_TABLES],
)
def test_every_other_step_is_refused(status: OrderStatus, pending: Pending, event: OrderEvent) -> None:
    assert not can(status, pending, event)
    with pytest.raises(InvalidTransition):
        step(status, pending, event)


def test_no_request_ever_shows_as_a_status_and_requests_never_change_the_status() -> None:
    for (status, _, event), after in LIFECYCLE.items():
        if event in REQUEST_EVENTS:
            assert after.status is status
        else:
            assert after.status is TRANSITIONS[(status, event)]


def test_a_client_asks_one_thing_at_a_time_but_a_cancel_may_follow_a_replace() -> None:
    for status in (S.NEW, S.PARTIALLY_FILLED):
        assert not can(status, P.CANCEL, E.CANCEL_REQUESTED) and not can(status, P.CANCEL, E.REPLACE_REQUESTED)
        assert not can(status, P.REPLACE, E.REPLACE_REQUESTED)
        assert step(status, P.REPLACE, E.CANCEL_REQUESTED) == (status, BOTH)


def test_the_reachable_states_and_what_a_successor_inherits() -> None:
    open_states = {(status, pending) for status in (S.NEW, S.PARTIALLY_FILLED) for pending in P}
    ended = {(status, P.NONE) for status in TERMINAL}  # a fill answers a cancel it beat: nothing is left in flight
    assert STATES == {INITIAL} | open_states | ended
    assert inherited(BOTH) is P.CANCEL
    assert all(inherited(pending) is P.NONE for pending in (P.NONE, P.CANCEL, P.REPLACE))
