"""What the integration tests share: connecting, waiting for an order's end, and computing
cash and positions by hand from the execution reports a client was sent."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from server.client.sdk import BrokerClient

Message = dict[str, Any]
TERMINAL = {"filled", "canceled", "rejected", "expired", "replaced"}
NOTIONAL_SHARE = 0.3  # of the random orders for the open, those for a cash amount
_ids = itertools.count(1)


def cloid(prefix: str = "c") -> str:
    return f"{prefix}-{next(_ids)}"


def order_for_the_open(
    rng: random.Random, account: str, client_order_id: str, symbol: str, side: str, notional_units: tuple[int, int], qty: Callable[[], str]
) -> Message:
    """A market order for the open: ``NOTIONAL_SHARE`` of them for a cash amount (whole units
    drawn from ``notional_units``, and cents), the others for ``qty()``."""
    order: Message = {"account": account, "client_order_id": client_order_id, "symbol": symbol, "side": side, "type": "market", "tif": "opg"}
    if rng.random() < NOTIONAL_SHARE:
        low, high = notional_units
        order["notional"] = f"{rng.randint(low, high)}.{rng.randint(0, 99):02d}"
    else:
        order["qty"] = qty()
    return order


def connect(url: str, key: str = "tester", secret: str = "tester-secret") -> BrokerClient:
    """A client to use as ``async with connect(url) as client`` (it logs in on entry)."""
    return BrokerClient(url, key, secret)


async def final_report(client: BrokerClient, client_order_id: str, timeout: float = 15) -> Message:
    return await client.wait_for(
        lambda m: m.get("type") == "execution" and m.get("client_order_id") == client_order_id and m.get("status") in TERMINAL,
        timeout=timeout,
    )


async def report_with(client: BrokerClient, client_order_id: str, exec_type: str, timeout: float = 15) -> Message:
    return await client.wait_for(
        lambda m: m.get("type") == "execution" and m.get("client_order_id") == client_order_id and m.get("exec_type") == exec_type,
        timeout=timeout,
    )


def trades(client: BrokerClient, account: str) -> list[Message]:
    seen: set[str] = set()
    found = []
    for message in client.history:
        if message.get("type") == "execution" and message.get("account") == account and message.get("exec_type") == "trade":
            if message["exec_id"] not in seen:
                seen.add(message["exec_id"])
                found.append(message)
    return found


def expected_book(client: BrokerClient, account: str, opening_cash: Decimal, multiplier: dict[str, int] | None = None) -> tuple[Decimal, dict[str, Decimal]]:
    """Cash and positions from the trade reports alone: each order's cumulative value rounded
    up to the cent for buys, down for sells (the documented booking rule). A replaced order's
    fills count under each order id, so tests of replace use whole-cent values."""
    multiplier = multiplier or {}
    value: dict[str, Decimal] = {}
    side: dict[str, str] = {}
    positions: dict[str, Decimal] = {}
    for report in trades(client, account):
        key = report["order_id"]
        qty, price = Decimal(report["last_qty"]), Decimal(report["last_price"])
        value[key] = value.get(key, Decimal(0)) + qty * price * multiplier.get(report["symbol"], 1)
        side[key] = report["side"]
        signed = qty if report["side"] == "buy" else -qty
        positions[report["symbol"]] = positions.get(report["symbol"], Decimal(0)) + signed
    cash = opening_cash
    for key, total in value.items():
        if side[key] == "buy":
            cash -= total.quantize(Decimal("0.01"), rounding=ROUND_CEILING)
        else:
            cash += total.quantize(Decimal("0.01"), rounding=ROUND_FLOOR)
    return cash, {symbol: qty for symbol, qty in positions.items() if qty}


async def assert_book(client: BrokerClient, account: str, opening_cash: str = "1000000.00") -> Message:
    cash, positions = expected_book(client, account, Decimal(opening_cash))
    view = await client.get_account(account)
    assert view["type"] == "account", view
    assert Decimal(view["cash"]) == cash, (view, cash)
    assert {p["symbol"]: Decimal(p["qty"]) for p in view["positions"]} == positions, view
    return view


MARKET_FIELDS = ("mark", "unrealized")  # a position's price and P&L there: they move with the market, not with the books


def booked(view: dict[str, Any]) -> dict[str, Any]:
    """An account view (``get_account``) as its books hold it: each position without the
    fields that follow the market, so two views of unchanged books compare equal."""
    return {**view, "positions": [{k: v for k, v in p.items() if k not in MARKET_FIELDS} for p in view.get("positions", [])]}
