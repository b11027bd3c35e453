"""Moving along a transition table (``model/transitions.py``), checked on both tables that
use it: every move the table has goes where it says, every other is refused with the
table's own error. (What each table holds: test_lifecycle.py, test_routes.py.)"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from enum import Enum
from typing import Any, NamedTuple

import pytest

from model import lifecycle, routes
from model.enums import OrderStatus
from model.transitions import table_moves


class Table(NamedTuple):
    transitions: dict[Any, Any]
    next: Callable[[Any, Any], Any]
    allowed: Callable[[Any, Any], bool]
    refusal: type[Exception]
    states: type[Enum]
    events: type[Enum]


TABLES = {
    "order status": Table(
        lifecycle.TRANSITIONS, lifecycle.next_status, lifecycle.allowed, lifecycle.InvalidTransition, OrderStatus, lifecycle.OrderEvent
    ),
    "route": Table(routes.TRANSITIONS, routes.next_state, routes.allowed, routes.InvalidRouteTransition, routes.RouteState, routes.RouteEvent),
}
MOVES = [(name, start, event) for name, table in TABLES.items() for start, event in itertools.product(table.states, table.events)]


@pytest.mark.parametrize(("name", "start", "event"), MOVES)
def test_every_move_goes_where_its_table_says_and_every_other_is_refused(name: str, start: Enum, event: Enum) -> None:
    table = TABLES[name]
    if (start, event) in table.transitions:
        assert table.allowed(start, event)
        assert table.next(start, event) is table.transitions[(start, event)]
    else:
        assert not table.allowed(start, event)
        with pytest.raises(table.refusal):
            table.next(start, event)


def test_a_refused_move_raises_the_error_made_for_it() -> None:
    next_, allowed = table_moves({("a", 1): "b"}, lambda state, event: KeyError(f"{event} in {state}"))
    assert next_("a", 1) == "b" and allowed("a", 1) and not allowed("b", 1)
    with pytest.raises(KeyError, match="2 in a"):
        next_("a", 2)
