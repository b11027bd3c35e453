"""JSON views of what the actors answer: an execution report, an account, an account's
orders. Pure. The gateway sends them to traders (``server/gateway/protocol.py`` adds
``type`` and ``id``); an account shard gives the same views to the operator (``admin
account``, ``admin orders``), so both show an account alike, byte for byte.

Guarantees: money and quantities are decimal strings (``model.fixed``), never floats.
"""

from __future__ import annotations

import functools
from typing import Any

import msgspec

from model import fixed
from model.messages import AccountReply, ExecutionReport, OrdersReply

_encoder = msgspec.json.Encoder()


@functools.lru_cache(maxsize=65536)
def format_cached(value: int) -> str:
    """Quantities and prices repeat a great deal; formatting each once saves the gateway work."""
    return fixed.format(value)


def decimal(value: int | None) -> str | None:
    return None if value is None else format_cached(value)


class _ExecutionView(msgspec.Struct, omit_defaults=True):
    """An execution report as JSON, field by field in the order clients see (the names are
    the wire's). A struct rather than a dict: msgspec encodes it without building a dict
    of 23 entries per report, and encodes the enums as their values."""

    type: str
    account: str
    order_id: str
    client_order_id: str
    exec_id: str
    exec_type: str
    status: str
    symbol: str
    side: str
    order_type: str
    tif: str
    qty: str | None
    notional: str | None
    price: str | None
    stop_price: str | None
    cum_qty: str
    leaves_qty: str | None
    last_qty: str
    last_price: str | None
    avg_price: str | None
    reason: str | None
    venue: str | None
    ts: int
    block: str | None = None  # only on an allocation's reports: the block it came from


def execution_body(report: ExecutionReport) -> bytes:
    """The JSON of an execution report without ``id`` (``protocol.with_id`` adds it for the requester)."""
    spec = report.spec
    return _encoder.encode(
        _ExecutionView(
            "execution",
            report.account,
            report.order_id,
            report.client_order_id,
            report.exec_id,
            report.exec_type,
            report.status,
            spec.symbol,
            spec.side,
            spec.order_type,
            spec.tif,
            decimal(spec.qty),
            None if spec.notional is None else fixed.format_cash(spec.notional),
            decimal(spec.price),
            decimal(spec.stop_price),
            format_cached(report.cum_qty),
            decimal(report.leaves_qty),
            format_cached(report.last_qty),
            decimal(report.last_price),
            decimal(report.avg_price),
            report.reason,
            report.venue,
            report.ts,
            report.block,
        )
    )


def account_view(reply: AccountReply) -> dict[str, Any]:
    """An account: cash, buying power and positions (the ``account`` reply without ``type``
    and ``id``)."""
    return {
        "account": reply.account,
        "cash": fixed.format_cash(reply.cash),
        "buying_power": fixed.format_cash(reply.buying_power),
        "positions": [
            {
                "symbol": p.symbol,
                "qty": fixed.format(p.qty),
                "avg_cost": fixed.format(p.avg_cost),
                "mark": decimal(p.mark),
                "unrealized": None if p.unrealized is None else fixed.format(p.unrealized, min_places=2),
            }
            for p in reply.positions
        ],
        "realized_today": fixed.format(reply.realized_today, min_places=2),
        "realized_ytd": fixed.format(reply.realized_ytd, min_places=2),
    }


def orders_view(reply: OrdersReply) -> list[dict[str, Any]]:
    """An account's orders, each as the JSON object of its execution report (the control
    path: decoded from the very bytes a trader gets)."""
    views = [msgspec.json.decode(execution_body(report)) for report in reply.orders]
    for view in views:
        if view["order_id"] in reply.realized:
            view["realized"] = fixed.format(reply.realized[view["order_id"]], min_places=2)
    return views
