"""The client-order state machine as one explicit ``(status, event) → status`` table."""

from __future__ import annotations

from enum import StrEnum

from model.enums import OrderStatus


class OrderEvent(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    PARTIAL_FILL = "partial_fill"
    FILL = "fill"
    CANCEL = "cancel"
    EXPIRE = "expire"
    REPLACE = "replace"


_S = OrderStatus
_E = OrderEvent

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
"""Every allowed transition. ``replaced`` retires an order: its successor (the
``new_client_order_id``) carries on from ``new`` or ``partially_filled`` with the
filled quantity brought over. ``filled``, ``canceled``, ``replaced``, ``rejected`` and
``expired`` are terminal."""

TERMINAL = frozenset(
    {_S.FILLED, _S.CANCELED, _S.REPLACED, _S.REJECTED, _S.EXPIRED}
)


class InvalidTransition(RuntimeError):
    """A broken invariant: an event that the state machine does not allow."""


def next_status(status: OrderStatus, event: OrderEvent) -> OrderStatus:
    try:
        return TRANSITIONS[(status, event)]
    except KeyError:
        raise InvalidTransition(f"{event.value} is not allowed in status {status.value}") from None


def allowed(status: OrderStatus, event: OrderEvent) -> bool:
    return (status, event) in TRANSITIONS
