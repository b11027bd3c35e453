"""The market-making desk's messages (docs/liquidity.md#the-market-making-desk), tags
210–219: its configuration journaled by an InstrumentActor, the operator's commands, and
its quotes, which travel as orders of the desk's own account — InstrumentActor → the
account's shard (checked, held and booked like any client order) → back as a route."""

from __future__ import annotations

from typing import Union

from model.desk import DeskParams, DeskSetup
from model.messages.base import MessageBase
from model.orders import OrderSpec

__all__ = ["DeskControl", "DeskMessage", "DeskOrder", "DeskOrderRefused", "DeskRoute", "SetDesk"]


class SetDesk(MessageBase, frozen=True, gc=False, tag=210):
    """``[desk]`` as read at this start, for this InstrumentActor's symbols: journaled to
    itself when it starts with another than its state holds (like ``SetLiquidity``)."""

    setup: DeskSetup


class DeskControl(MessageBase, frozen=True, gc=False, tag=211):
    """The operator's ``admin desk start|stop|tune SYMBOL``: supervisor → the symbol's
    InstrumentActor. ``params``: a tune's new terms, checked whole (``model.desk.tuned``)."""

    symbol: str
    action: str  # "start", "stop" or "tune"
    params: DeskParams | None = None


class DeskOrder(MessageBase, frozen=True, gc=False, tag=212):
    """A quote of the desk, as a new order of its account: InstrumentActor → the account's
    shard, entered exactly like a client's ``new_order`` (risk, hold, reports, audit)."""

    account: str
    client_order_id: str
    spec: OrderSpec


class DeskRoute(MessageBase, frozen=True, gc=False, tag=213):
    """An accepted ``DeskOrder``, to its InstrumentActor: the ``RouteOrder`` of a desk
    quote, naming the quote it is (``client_order_id``)."""

    order_id: str
    account: str
    spec: OrderSpec
    client_order_id: str


class DeskOrderRefused(MessageBase, frozen=True, gc=False, tag=214):
    """A ``DeskOrder`` the shard did not accept (its account's risk limits, kill switch,
    no such account): the desk stops quoting the symbol until an operator starts it."""

    symbol: str
    client_order_id: str
    reason: str


# The desk's messages, in tag order.
DeskMessage = Union[SetDesk, DeskControl, DeskOrder, DeskRoute, DeskOrderRefused]
