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


def execution_body(report: ExecutionReport) -> bytes:
    """The JSON of an execution report without ``id`` (``protocol.with_id`` adds it for the requester)."""
    spec = report.spec
    return _encoder.encode(
        {
            "type": "execution",
            "account": report.account,
            "order_id": report.order_id,
            "client_order_id": report.client_order_id,
            "exec_id": report.exec_id,
            "exec_type": report.exec_type.value,
            "status": report.status.value,
            "symbol": spec.symbol,
            "side": spec.side.value,
            "order_type": spec.order_type.value,
            "tif": spec.tif.value,
            "qty": decimal(spec.qty),
            "notional": None if spec.notional is None else fixed.format_cash(spec.notional),
            "price": decimal(spec.price),
            "stop_price": decimal(spec.stop_price),
            "cum_qty": format_cached(report.cum_qty),
            "leaves_qty": decimal(report.leaves_qty),
            "last_qty": format_cached(report.last_qty),
            "last_price": decimal(report.last_price),
            "avg_price": decimal(report.avg_price),
            "reason": report.reason,
            "venue": report.venue,
            "ts": report.ts,
        }
    )


def account_view(reply: AccountReply) -> dict[str, Any]:
    """An account: cash, buying power and positions (the ``account`` reply without ``type``
    and ``id``)."""
    return {
        "account": reply.account,
        "cash": fixed.format_cash(reply.cash),
        "buying_power": fixed.format_cash(reply.buying_power),
        "positions": [
            {"symbol": p.symbol, "qty": fixed.format(p.qty), "avg_cost": fixed.format(p.avg_cost)} for p in reply.positions
        ],
    }


def orders_view(reply: OrdersReply) -> list[dict[str, Any]]:
    """An account's orders, each as the JSON object of its execution report (the control
    path: decoded from the very bytes a trader gets)."""
    return [msgspec.json.decode(execution_body(report)) for report in reply.orders]
