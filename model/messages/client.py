"""Messages between the gateway and the account shards: client requests, and the reports
and answers that go back."""

from __future__ import annotations

from typing import Union

import msgspec

from model.enums import ExecType, OrderStatus
from model.messages.base import MessageBase, Reply
from model.orders import OrderSpec

__all__ = [
    "AccountReply",
    "CancelAll",
    "CancelAllDone",
    "CancelOrder",
    "ClientMessage",
    "ExecutionReport",
    "GatewayServes",
    "NewOrder",
    "OrdersReply",
    "Position",
    "QueryAccount",
    "QueryOrders",
    "ReplaceOrder",
    "ReportToAsker",
    "RequestRejected",
]

# --- gateway → account shard -------------------------------------------------------------


class NewOrder(MessageBase, frozen=True, gc=False, tag=1):
    account: str
    client_order_id: str
    spec: OrderSpec
    reply: Reply | None = None


class CancelOrder(MessageBase, frozen=True, gc=False, tag=2):
    account: str
    client_order_id: str
    reply: Reply | None = None


class ReplaceOrder(MessageBase, frozen=True, gc=False, tag=3):
    account: str
    client_order_id: str
    new_client_order_id: str
    qty: int | None
    price: int | None
    stop_price: int | None
    reply: Reply | None = None


class CancelAll(MessageBase, frozen=True, gc=False, tag=4):
    """Cancel every open order of ``account`` (all accounts of the shard when ``None``),
    optionally only in ``symbol``."""

    account: str | None
    symbol: str | None
    reply: Reply | None = None


class QueryOrders(MessageBase, frozen=True, gc=False, tag=5):
    """One page of an account's orders: those after ``cursor`` (an ``order_id`` a previous
    page ended with; ``None``: from the first), at most ``limit`` (0: all, for the operator's
    own reads; the gateway always sends 1 to ``[queries] max_orders_page``)."""

    account: str
    open_only: bool
    reply: Reply
    cursor: str | None = None
    limit: int = 0


class QueryAccount(MessageBase, frozen=True, gc=False, tag=6):
    account: str
    reply: Reply


class GatewayServes(MessageBase, frozen=True, gc=False, tag=8):
    """Which of a shard's accounts a gateway's sessions follow, so that the shard sends their
    execution reports to that gateway only (several gateways: docs/scale.md, "Several
    gateways"). Journaled by the shard like any input, so a restarted shard routes as before.

    ``gateway``: the gateway's name (``gateway-N``); ``follows``: accounts it now serves;
    ``drops``: accounts it no longer serves; ``everything``: whether it wants every account's
    reports (a session subscribed to a tenant's or every tenant's executions), None:
    unchanged; ``reset``: forget what this gateway said before (it started anew)."""

    gateway: str
    follows: list[str] = []
    drops: list[str] = []
    everything: bool | None = None
    reset: bool = False


# --- account shard → gateway -------------------------------------------------------------


class ExecutionReport(MessageBase, frozen=True, gc=False, tag=20):
    """One state change of one client order, as the API reports it (docs/protocol.md)."""

    account: str
    order_id: str
    client_order_id: str
    exec_id: str
    exec_type: ExecType
    status: OrderStatus
    spec: OrderSpec
    cum_qty: int
    leaves_qty: int | None
    last_qty: int
    last_price: int | None
    avg_price: int | None
    reason: str | None
    ts: int
    reply: Reply | None = None
    venue: str | None = None  # where the order works or last traded (None while held here)
    block: str | None = None  # the block at the open it was allocated from (its allocation id)


class OrdersReply(MessageBase, frozen=True, gc=False, tag=21):
    reply: Reply
    account: str
    orders: list[ExecutionReport]
    next_cursor: str | None = None  # where the next page starts; None: this page is the last
    realized: dict[str, int] = {}  # order id → the gain it realized (orders of the page that closed lots)


class Position(msgspec.Struct, frozen=True, array_like=True, gc=False):
    symbol: str
    qty: int
    avg_cost: int
    mark: int | None = None  # the price it is marked at (``[books] mark``)
    unrealized: int | None = None  # qty × mark × multiplier − the open lots' cost


class AccountReply(MessageBase, frozen=True, gc=False, tag=22):
    reply: Reply
    account: str
    cash: int
    buying_power: int
    positions: list[Position]
    realized_today: int = 0  # gains realized on the local date of the query (after wash-sale adjustments)
    realized_ytd: int = 0  # ... since 1 January of its year


class RequestRejected(MessageBase, frozen=True, gc=False, tag=23):
    """A request that never became (or did not change) an order: the client gets an ``error``."""

    reply: Reply
    code: str
    message: str


class CancelAllDone(MessageBase, frozen=True, gc=False, tag=24):
    reply: Reply
    account: str | None
    requested: int


class ReportToAsker(MessageBase, frozen=True, gc=False, tag=25):
    """An execution report for the asking connection only: the answer to a resend of an
    order (its original first report) or to a reused ``client_order_id``. Neither changes
    an order, so no other connection is told."""

    reply: Reply
    report: ExecutionReport


# What travels between the gateway and the account shards, in tag order.
ClientMessage = Union[
    NewOrder,
    CancelOrder,
    ReplaceOrder,
    CancelAll,
    QueryOrders,
    QueryAccount,
    GatewayServes,
    ExecutionReport,
    OrdersReply,
    AccountReply,
    RequestRejected,
    CancelAllDone,
    ReportToAsker,
]
