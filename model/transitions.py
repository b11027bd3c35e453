"""Moving along a transition table ``(state, event) → state``: the one way shared by the
order status table (``model/lifecycle.py``) and the route table (``model/routes.py``).

Guarantees: a move is one dict lookup (``table_moves`` returns plain closures, as fast as a
function written out for one table), and an event the table has no move for raises the
table's own error, changing nothing."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

S = TypeVar("S")
E = TypeVar("E")


def table_moves(
    table: Mapping[tuple[S, E], S], refused: Callable[[S, E], Exception]
) -> tuple[Callable[[S, E], S], Callable[[S, E], bool]]:
    """``(next, allowed)`` over ``table``: ``next(state, event)`` is the state the event leads
    to, or raises ``refused(state, event)`` where the table has no such move; ``allowed``
    says whether it has one."""

    def next_(state: S, event: E) -> S:
        try:
            return table[(state, event)]
        except KeyError:
            raise refused(state, event) from None

    def allowed(state: S, event: E) -> bool:
        return (state, event) in table

    return next_, allowed
