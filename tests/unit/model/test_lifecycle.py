from __future__ import annotations

import itertools

import pytest

from model.enums import OrderStatus
from model.lifecycle import TERMINAL, TRANSITIONS, InvalidTransition, OrderEvent, allowed, next_status

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


@pytest.mark.parametrize(("start", "event"), list(EXPECTED))
def test_every_allowed_transition_goes_where_the_table_says(start: OrderStatus, event: OrderEvent) -> None:
    assert next_status(start, event) is EXPECTED[(start, event)]


@pytest.mark.parametrize(("start", "event"), [pair for pair in itertools.product(S, E) if pair not in EXPECTED])
def test_every_other_transition_is_refused(start: OrderStatus, event: OrderEvent) -> None:
    assert not allowed(start, event)
    with pytest.raises(InvalidTransition):
        next_status(start, event)


def test_the_table_is_exactly_the_documented_one() -> None:
    assert TRANSITIONS == EXPECTED


def test_terminal_states_have_no_way_out_and_are_not_open() -> None:
    for status in TERMINAL:
        assert not status.is_open
        assert not any(start is status for start, _ in TRANSITIONS)
