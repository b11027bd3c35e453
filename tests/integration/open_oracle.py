"""An independent computation of the open's allocations, in plain Python integers.

It re-derives every account order's quantity and cash from the documented rules
(docs/open.md) and what the venue did to each block (``admin blocks``), sharing no code
with the server: Python ints instead of numpy, a sort instead of a partition (the
largest-remainder rule is the allocation unit tests' oracle).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from model import fixed
from tests.unit.actors.instrument.test_allocation import oracle_pro_rata as largest_remainder

RAW_PER_CENT = fixed.CENT * fixed.SCALE


@dataclass(frozen=True)
class PlacedOrder:
    order_id: str
    account: str
    symbol: str
    side: str
    qty: int | None  # nano units
    notional: int | None  # nano units (whole cents)


def raw_value(text: str) -> int:
    """An exact decimal (up to 18 places) as a raw 10^-18 integer."""
    whole, _, fraction = text.partition(".")
    return int(whole) * fixed.SCALE * fixed.SCALE + int(fraction.ljust(18, "0") or "0")


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def expected_fills(blocks: list[dict[str, Any]], orders: list[PlacedOrder], increments: dict[str, int]) -> dict[str, tuple[int, int]]:
    """order id → (qty, cash) every market order for the open should get (nano units)."""
    result: dict[str, tuple[int, int]] = {}
    for block in blocks:
        symbol, side = block["symbol"], block["side"]
        increment = increments[symbol]
        fill_qty = fixed.parse(block["fill_qty"])
        value = raw_value(block["fill_value"])
        if block["notional"]:
            mine = sorted((o for o in orders if o.symbol == symbol and o.side == side and o.notional is not None), key=lambda o: o.order_id)
            _notional(mine, side, fill_qty, value, increment, result)
            continue
        cross = fixed.parse(block["cross"])
        larger = sorted((o for o in orders if o.symbol == symbol and o.side == side and o.qty is not None), key=lambda o: o.order_id)
        other = "sell" if side == "buy" else "buy"
        smaller = sorted((o for o in orders if o.symbol == symbol and o.side == other and o.qty is not None), key=lambda o: o.order_id)
        assert fill_qty > 0, f"block {block['block_id']} did not fill; the test needs a price"
        for group, group_side, total in ((larger, side, cross + fill_qty), (smaller, other, cross)):
            if not group or not total:
                continue
            numerator = value * total
            cents = ceil_div(numerator, fill_qty * RAW_PER_CENT) if group_side == "buy" else numerator // (fill_qty * RAW_PER_CENT)
            asked = [o.qty // increment for o in group]  # type: ignore[operator]
            qty, unplaced = largest_remainder(total // increment, asked, asked)
            assert unplaced == 0
            cash, _ = largest_remainder(cents, qty)
            for order, q, c in zip(group, qty, cash, strict=True):
                result[order.order_id] = (q * increment, c * fixed.CENT)
    return result


def _notional(orders: list[PlacedOrder], side: str, fill_qty: int, value: int, increment: int, result: dict[str, tuple[int, int]]) -> None:
    if not orders:
        return
    cents = ceil_div(value, RAW_PER_CENT) if side == "buy" else value // RAW_PER_CENT
    asked = [o.notional // fixed.CENT for o in orders]  # type: ignore[operator]
    units = fill_qty // increment
    caps = [min(a, cents) * units // cents for a in asked] if cents else None
    qty, unplaced = largest_remainder(units, asked, caps)
    cash, _ = largest_remainder(cents, [*qty, unplaced], [*asked, cents])
    for order, q, c in zip(orders, qty, cash[:-1], strict=True):
        assert c <= order.notional // fixed.CENT  # type: ignore[operator]
        result[order.order_id] = (q * increment, c * fixed.CENT)
