"""The client-order state machine as explicit tables.

An order's state has two parts:

* its **status** (``OrderStatus``), what clients see: ``TRANSITIONS`` moves it on the
  answers of the checks and the venue (accept, fill, cancel, ...);
* the **request in flight** (``Pending``): a cancel or a replace the shard sent towards the
  venue and has not had an answer to. Clients never see it as a status (an order with a
  cancel pending is still ``new`` or ``partially_filled``, as FIX and this API report it);
  it decides what the shard may still ask (one request at a time from a client) and what
  an answer means. ``REQUESTS`` moves it, on the request events and on the venue's answers.

``LIFECYCLE`` is the two together: every reachable ``(status, pending)`` and every event
allowed there, built from the two tables; ``step`` is the one way to move an order.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from model.enums import OrderStatus
from model.transitions import table_moves


class OrderEvent(StrEnum):
    # the answers of the checks and of the venue: they move the status
    ACCEPT = "accept"
    REJECT = "reject"
    PARTIAL_FILL = "partial_fill"
    FILL = "fill"
    CANCEL = "cancel"
    EXPIRE = "expire"
    REPLACE = "replace"
    # requests towards the venue and their refusals: they move only the request in flight
    CANCEL_REQUESTED = "cancel_requested"
    CANCEL_REFUSED = "cancel_refused"
    REPLACE_REQUESTED = "replace_requested"
    REPLACE_REFUSED = "replace_refused"


class Pending(StrEnum):
    """The request in flight towards the venue."""

    NONE = "none"
    CANCEL = "cancel"
    REPLACE = "replace"
    REPLACE_AND_CANCEL = "replace_and_cancel"  # a kill or cancel-all reached an order whose replace is in flight

    @property
    def has_cancel(self) -> bool:
        return self is Pending.CANCEL or self is Pending.REPLACE_AND_CANCEL

    @property
    def has_replace(self) -> bool:
        return self is Pending.REPLACE or self is Pending.REPLACE_AND_CANCEL


_S = OrderStatus
_E = OrderEvent
_P = Pending

TRANSITIONS: dict[tuple[OrderStatus, OrderEvent], OrderStatus] = {
    (_S.PENDING_NEW, _E.ACCEPT): _S.NEW,
    (_S.PENDING_NEW, _E.REJECT): _S.REJECTED,
    (_S.NEW, _E.REJECT): _S.REJECTED,  # the venue refused it after we accepted it
    (_S.NEW, _E.PARTIAL_FILL): _S.PARTIALLY_FILLED,
    (_S.NEW, _E.FILL): _S.FILLED,
    (_S.NEW, _E.CANCEL): _S.CANCELED,
    (_S.NEW, _E.EXPIRE): _S.EXPIRED,
    (_S.NEW, _E.REPLACE): _S.REPLACED,
    (_S.PARTIALLY_FILLED, _E.PARTIAL_FILL): _S.PARTIALLY_FILLED,
    (_S.PARTIALLY_FILLED, _E.FILL): _S.FILLED,
    (_S.PARTIALLY_FILLED, _E.CANCEL): _S.CANCELED,
    (_S.PARTIALLY_FILLED, _E.EXPIRE): _S.EXPIRED,
    (_S.PARTIALLY_FILLED, _E.REPLACE): _S.REPLACED,
}
"""Every allowed change of status. ``replaced`` retires an order: its successor (the
``new_client_order_id``) carries on from ``new`` or ``partially_filled`` with the
filled quantity brought over. ``filled``, ``canceled``, ``replaced``, ``rejected`` and
``expired`` are terminal."""

TERMINAL = frozenset({_S.FILLED, _S.CANCELED, _S.REPLACED, _S.REJECTED, _S.EXPIRED})

REQUESTS: dict[tuple[Pending, OrderEvent], Pending] = {
    # asked: a client asks one thing at a time; a kill or cancel-all may cancel under a replace
    (_P.NONE, _E.CANCEL_REQUESTED): _P.CANCEL,
    (_P.REPLACE, _E.CANCEL_REQUESTED): _P.REPLACE_AND_CANCEL,
    (_P.NONE, _E.REPLACE_REQUESTED): _P.REPLACE,
    # refused: the order goes on as it was
    (_P.CANCEL, _E.CANCEL_REFUSED): _P.NONE,
    (_P.REPLACE_AND_CANCEL, _E.CANCEL_REFUSED): _P.REPLACE,
    (_P.NONE, _E.CANCEL_REFUSED): _P.NONE,  # late: the order's end (or a replace) settled that cancel already
    (_P.REPLACE, _E.CANCEL_REFUSED): _P.REPLACE,  # late, likewise
    (_P.REPLACE, _E.REPLACE_REFUSED): _P.NONE,
    (_P.REPLACE_AND_CANCEL, _E.REPLACE_REFUSED): _P.CANCEL,
    # the venue's answers: a partial fill changes no request; a fill ends every request — a
    # replace has nothing left to change, and the shard answers a cancel itself (too late: the
    # venue's own refusal, if one comes, finds the order done there and is a late answer);
    # any other end answers every request
    (_P.NONE, _E.ACCEPT): _P.NONE,
    (_P.NONE, _E.PARTIAL_FILL): _P.NONE,
    (_P.CANCEL, _E.PARTIAL_FILL): _P.CANCEL,
    (_P.REPLACE, _E.PARTIAL_FILL): _P.REPLACE,
    (_P.REPLACE_AND_CANCEL, _E.PARTIAL_FILL): _P.REPLACE_AND_CANCEL,
    (_P.NONE, _E.FILL): _P.NONE,
    (_P.CANCEL, _E.FILL): _P.NONE,
    (_P.REPLACE, _E.FILL): _P.NONE,
    (_P.REPLACE_AND_CANCEL, _E.FILL): _P.NONE,
    (_P.NONE, _E.REJECT): _P.NONE,
    (_P.CANCEL, _E.REJECT): _P.NONE,
    (_P.REPLACE, _E.REJECT): _P.NONE,
    (_P.REPLACE_AND_CANCEL, _E.REJECT): _P.NONE,
    (_P.NONE, _E.CANCEL): _P.NONE,
    (_P.CANCEL, _E.CANCEL): _P.NONE,
    (_P.REPLACE, _E.CANCEL): _P.NONE,
    (_P.REPLACE_AND_CANCEL, _E.CANCEL): _P.NONE,
    (_P.NONE, _E.EXPIRE): _P.NONE,
    (_P.CANCEL, _E.EXPIRE): _P.NONE,
    (_P.REPLACE, _E.EXPIRE): _P.NONE,
    (_P.REPLACE_AND_CANCEL, _E.EXPIRE): _P.NONE,
    # the venue confirms the replace: this order ends; its successor inherits a cancel in flight
    (_P.REPLACE, _E.REPLACE): _P.NONE,
    (_P.REPLACE_AND_CANCEL, _E.REPLACE): _P.NONE,
}
"""Every allowed change of the request in flight. A status event missing here (a replace
confirmed with no replace asked) is not allowed whatever the status table says."""

_REQUEST_EVENTS = frozenset({_E.CANCEL_REQUESTED, _E.CANCEL_REFUSED, _E.REPLACE_REQUESTED, _E.REPLACE_REFUSED})
_LATE_ANSWERS = frozenset({_E.CANCEL_REFUSED})  # may come after the order ended
_OPEN_AT_THE_VENUE = frozenset({_S.NEW, _S.PARTIALLY_FILLED})  # where a request can be sent


class OrderState(NamedTuple):
    status: OrderStatus
    pending: Pending


INITIAL = OrderState(_S.PENDING_NEW, _P.NONE)


def _build() -> dict[tuple[OrderStatus, Pending, OrderEvent], OrderState]:
    """Every reachable state and every event allowed in it, from ``INITIAL``."""
    table: dict[tuple[OrderStatus, Pending, OrderEvent], OrderState] = {}
    todo = [INITIAL]
    seen = {INITIAL}
    while todo:
        status, pending = todo.pop()
        for event in OrderEvent:
            after = REQUESTS.get((pending, event))
            if after is None:
                continue
            if event in _REQUEST_EVENTS:
                if not (status in _OPEN_AT_THE_VENUE or (status in TERMINAL and event in _LATE_ANSWERS)):
                    continue
                target = OrderState(status, after)
            else:
                new_status = TRANSITIONS.get((status, event))
                if new_status is None:
                    continue
                target = OrderState(new_status, after)
            table[(status, pending, event)] = target
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return table


LIFECYCLE = _build()
"""``(status, pending, event) → OrderState``: the whole machine, one lookup per step."""

STATES = frozenset(OrderState(status, pending) for status, pending, _ in LIFECYCLE) | frozenset(LIFECYCLE.values())


class InvalidTransition(RuntimeError):
    """A broken invariant: an event that the state machine does not allow."""


def step(status: OrderStatus, pending: Pending, event: OrderEvent) -> OrderState:
    """The state after ``event``. Raises ``InvalidTransition`` for an event not allowed."""
    try:
        return LIFECYCLE[(status, pending, event)]
    except KeyError:
        raise InvalidTransition(f"{event.value} is not allowed in status {status.value} with {pending.value} pending") from None


def can(status: OrderStatus, pending: Pending, event: OrderEvent) -> bool:
    return (status, pending, event) in LIFECYCLE


def inherited(pending: Pending) -> Pending:
    """What a replace's successor starts with: the cancel a kill or cancel-all sent while the
    replace was in flight (the instrument actor cancels the successor's child)."""
    return _P.CANCEL if pending is _P.REPLACE_AND_CANCEL else _P.NONE


# The status table alone (for what has no request in flight to consider).
next_status, allowed = table_moves(
    TRANSITIONS, lambda status, event: InvalidTransition(f"{event.value} is not allowed in status {status.value}")
)
