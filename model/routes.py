"""How an instrument actor works one client order (a *route*), as one explicit table.

A route arrives ``new`` and is placed at once: held here (a stop until its trigger, an
order for the open until the open, a fund order until the fund's NAV), rested in the
internal book (``internal``: crossing, docs/liquidity.md) or sent to a venue as a child
order. A child being replaced at the venue is ``replacing`` until the venue
answers. ``done``: the actor no longer works it (it ended, or the open put it into a
block, which answers for it from there).
"""

from __future__ import annotations

from enum import StrEnum

from model.transitions import table_moves


class RouteState(StrEnum):
    NEW = "new"
    HELD_STOP = "held_stop"
    HELD_OPEN = "held_open"
    HELD_NAV = "held_nav"  # a mutual fund order, waiting for the fund's next net asset value
    INTERNAL = "internal"  # in the internal book: crossing against other clients' orders, no venue yet
    ROUTED = "routed"
    REPLACING = "replacing"
    DONE = "done"

    @property
    def at_venue(self) -> bool:
        """A child order works at a venue: cancels and replaces go there."""
        return self in _AT_VENUE

    @property
    def held(self) -> bool:
        return self in _HELD


_AT_VENUE = (RouteState.ROUTED, RouteState.REPLACING)  # tuples: ``in`` tests identity first (model/enums.py)
_HELD = (RouteState.HELD_STOP, RouteState.HELD_OPEN, RouteState.HELD_NAV, RouteState.INTERNAL)


class RouteEvent(StrEnum):
    HOLD_STOP = "hold_stop"
    HOLD_OPEN = "hold_open"
    HOLD_NAV = "hold_nav"
    SEND = "send"  # to a venue: at once, a stop triggered, a limit released at the open, or what did not cross
    REST_INTERNAL = "rest_internal"  # into the internal book
    REPLACE_SENT = "replace_sent"
    REPLACED = "replaced"
    REPLACE_REFUSED = "replace_refused"
    JOIN_BLOCK = "join_block"  # a market order for the open, into its symbol's block
    END = "end"  # filled, canceled, expired or rejected


_R = RouteState
_E = RouteEvent

TRANSITIONS: dict[tuple[RouteState, RouteEvent], RouteState] = {
    (_R.NEW, _E.HOLD_STOP): _R.HELD_STOP,
    (_R.NEW, _E.HOLD_OPEN): _R.HELD_OPEN,
    (_R.NEW, _E.HOLD_NAV): _R.HELD_NAV,
    (_R.NEW, _E.SEND): _R.ROUTED,
    (_R.NEW, _E.REST_INTERNAL): _R.INTERNAL,
    (_R.INTERNAL, _E.SEND): _R.ROUTED,
    (_R.INTERNAL, _E.END): _R.DONE,
    (_R.HELD_STOP, _E.SEND): _R.ROUTED,
    (_R.HELD_OPEN, _E.SEND): _R.ROUTED,
    (_R.HELD_OPEN, _E.JOIN_BLOCK): _R.DONE,
    (_R.ROUTED, _E.REPLACE_SENT): _R.REPLACING,
    (_R.REPLACING, _E.REPLACED): _R.ROUTED,
    (_R.REPLACING, _E.REPLACE_REFUSED): _R.ROUTED,
    (_R.NEW, _E.END): _R.DONE,  # refused on arrival (halted, no venue, a fund's limit order)
    (_R.HELD_STOP, _E.END): _R.DONE,
    (_R.HELD_OPEN, _E.END): _R.DONE,
    (_R.HELD_NAV, _E.END): _R.DONE,
    (_R.ROUTED, _E.END): _R.DONE,
    (_R.REPLACING, _E.END): _R.DONE,
}
"""Every allowed transition. A held route's replace changes its terms, not its state;
``done`` is terminal."""


class InvalidRouteTransition(RuntimeError):
    """A broken invariant: an event that the route table does not allow."""


next_state, allowed = table_moves(
    TRANSITIONS, lambda state, event: InvalidRouteTransition(f"{event.value} is not allowed for a route {state.value}")
)
