"""Orders for the open: one block per symbol and side, and the block's fills allocated back.

At the open each InstrumentActor takes the market orders queued for it (``tif`` ``opg``)
symbol by symbol:

* **Quantity orders are netted.** Buys and sells for a quantity cross each other up to the
  smaller side (``cross``); what remains of the larger side goes to a venue as one block
  (a market order for ``|buys - sells|``). When the block is done, the larger side is
  allocated ``cross + filled`` and the smaller side gets all of ``cross``, both at the
  block's average price (the reference price when nothing was routed or nothing filled).
* **Notional orders** ("$100 of IBM") cannot be netted without a price: each side goes as
  one cash block (CashOrderQty), its fill allocated pro rata to each order's cash.
* **Limit orders for the open** go out one by one as immediate-or-cancel limits.

Allocation (``actors.instrument.allocation``) is pro rata in whole increments of the
instrument, residual increments by largest remainder (ties: lower order id), so the
shares sum exactly to the fill; cash is split the same way in whole cents, so the
accounts' cash sums exactly to the block's booked cash: the block's exact value rounded up
to the cent for buyers, down for sellers. A notional order's cash never exceeds what it
asked. Increments or cents that no order can take under those caps (rare: notional orders
whose cash is spent to the last increment) stay with the firm as ``residual`` per symbol.

Every allocated order gets a trade (and, for what its block did not fill, an expiry with
``not_filled_at_open``); clearing gets an AllocationInstruction per block side.
"""

from __future__ import annotations

import msgspec
import numpy as np

from actors.instrument.allocation import pro_rata, split_cash_block, split_qty_block
from model import fixed
from model.enums import Side

RAW_PER_CENT = fixed.CENT * fixed.SCALE  # a raw value (10^-18) of one cent


class Constituents(msgspec.Struct, gc=False):
    """The account orders one side of a block is for, sorted by order id. ``asked`` holds
    quantities for a quantity block, cash (whole cents as nano units) for a notional one."""

    order_ids: list[str] = msgspec.field(default_factory=list)
    accounts: list[str] = msgspec.field(default_factory=list)
    asked: list[int] = msgspec.field(default_factory=list)
    qty_caps: list[int] = msgspec.field(default_factory=list)  # notional sells: their position

    def add(self, order_id: str, account: str, asked: int, qty_cap: int | None = None) -> None:
        self.order_ids.append(order_id)
        self.accounts.append(account)
        self.asked.append(asked)
        if qty_cap is not None:
            self.qty_caps.append(qty_cap)

    @property
    def total(self) -> int:
        return sum(self.asked)


class Block(msgspec.Struct, gc=False):
    """One side of one symbol at the open, and what the venue filled of it."""

    block_id: str
    symbol: str
    side: Side
    notional: bool
    orders: Constituents
    routed: int  # qty (or cash) sent to the venue; 0 when netting covered everything
    crossed: Constituents = msgspec.field(default_factory=Constituents)  # the other side, filled by netting
    cross: int = 0
    child_id: str | None = None
    venue: str | None = None
    fill_qty: int = 0
    # Σ last_qty × last_price × multiplier, raw 10^-18, as two halves (msgpack ints are 64-bit)
    value_nanos: int = 0
    value_subnanos: int = 0

    @property
    def fill_value(self) -> int:
        return fixed.join_raw(self.value_nanos, self.value_subnanos)

    @fill_value.setter
    def fill_value(self, value: int) -> None:
        self.value_nanos, self.value_subnanos = fixed.split_raw(value)


class BlockDone(msgspec.Struct, gc=False, array_like=True):
    """A finished block as operators and the back office see it (``admin blocks``)."""

    block_id: str
    symbol: str
    side: Side
    notional: bool
    orders: int  # account orders on the block's side
    routed: int  # qty (cash for a notional block) sent to the venue
    cross: int  # qty netted against the other side's orders
    crossed_orders: int
    fill_qty: int
    value_nanos: int  # the exact fill value, raw 10^-18, as two halves (see ``Block``)
    value_subnanos: int
    price: int  # the average price allocated at
    venue: str
    ts: int

    @property
    def fill_value(self) -> int:
        return fixed.join_raw(self.value_nanos, self.value_subnanos)


class Allocation(msgspec.Struct, gc=False):
    """A block side's fill split over its orders, in columns (row ``i``: order ``i``): each
    gets ``qty`` at ``price`` and books ``cash``; ``asked`` is a quantity order's qty (for
    the expiry of what it did not get), ``None`` for notional orders."""

    alloc_id: str
    side: Side
    price: int
    order_ids: list[str]
    accounts: list[str]
    qty: list[int]
    cash: list[int]
    asked: list[int] | None
    residual_qty: int = 0
    residual_cash: int = 0


def booked_cents(side: Side, numerator: int, denominator: int) -> int:
    """``numerator / denominator`` raw (10^-18) as whole cents: up for a buyer, down for a seller."""
    scaled = denominator * RAW_PER_CENT
    return -(-numerator // scaled) if side is Side.BUY else numerator // scaled


def average_price(block: Block, multiplier: int, reference: int) -> int:
    """The block's average price per unit (truncated to 10^-9), or ``reference`` when nothing
    filled (netting alone at the reference price)."""
    return block.fill_value // (block.fill_qty * multiplier) if block.fill_qty else reference


def allocate(block: Block, increment: int, multiplier: int, reference: int) -> list[Allocation]:
    """Split a finished block over its orders (and, netted, over the other side's)."""
    price = average_price(block, multiplier, reference)
    if block.notional:
        return [_allocate_cash(block, increment, price)]
    allocations = []
    total = block.cross + block.fill_qty
    if total:
        value_num, value_den = _value(block, total, multiplier, reference)
        cents = booked_cents(block.side, value_num, value_den)
        allocations.append(_allocate_qty(block.block_id, block.side, block.orders, total, cents, increment, price))
    if block.cross:
        other = Side.SELL if block.side is Side.BUY else Side.BUY
        value_num, value_den = _value(block, block.cross, multiplier, reference)
        cents = booked_cents(other, value_num, value_den)
        allocations.append(_allocate_qty(f"{block.block_id}-X", other, block.crossed, block.cross, cents, increment, price))
    return allocations


def _value(block: Block, qty: int, multiplier: int, reference: int) -> tuple[int, int]:
    """The exact raw value of ``qty`` at the block's average price, as a fraction."""
    if block.fill_qty:
        return block.fill_value * qty, block.fill_qty
    return qty * reference * multiplier, 1


def _allocate_qty(alloc_id: str, side: Side, orders: Constituents, total: int, cents: int, increment: int, price: int) -> Allocation:
    asked = np.asarray(orders.asked, dtype=np.int64) // increment
    split = split_qty_block(total // increment, cents, asked)
    return _columns(
        alloc_id, side, price, orders, split.qty * increment, split.cash * fixed.CENT, quantities=True,
        residual_qty=split.unplaced_qty * increment, residual_cash=split.unplaced_cash * fixed.CENT,
    )


def _allocate_cash(block: Block, increment: int, price: int) -> Allocation:
    orders = block.orders
    if block.fill_qty == 0:
        nothing = np.zeros(len(orders.asked), np.int64)
        return _columns(block.block_id, block.side, price, orders, nothing, nothing, quantities=False)
    cents = booked_cents(block.side, block.fill_value, 1)
    asked_cents = np.asarray(orders.asked, dtype=np.int64) // fixed.CENT
    units = block.fill_qty // increment
    split = split_cash_block(units, cents, asked_cents)
    qty, cash, residual_qty, residual_cash = split.qty, split.cash, split.unplaced_qty, split.unplaced_cash
    caps = np.asarray(orders.qty_caps, dtype=np.int64) // increment if orders.qty_caps else None
    if caps is not None and bool((qty > caps).any()):
        # A notional sell never sells more than the position it had: what it cannot take
        # stays with the firm, and so does its value; the accounts' cash is the booked value
        # of what they got, split the same way.
        qty = np.minimum(qty, caps)
        placed = int(qty.sum())
        placed_cents = booked_cents(block.side, block.fill_value * placed * increment, block.fill_qty)
        cash, unplaced = pro_rata(placed_cents, qty, caps=asked_cents) if placed else (np.zeros_like(qty), 0)
        residual_qty, residual_cash = units - placed, cents - placed_cents + unplaced
    return _columns(
        block.block_id, block.side, price, orders, qty * increment, cash * fixed.CENT, quantities=False,
        residual_qty=residual_qty * increment, residual_cash=residual_cash * fixed.CENT,
    )


def _columns(alloc_id: str, side: Side, price: int, orders: Constituents, qty: np.ndarray, cash: np.ndarray, *, quantities: bool,
             residual_qty: int = 0, residual_cash: int = 0) -> Allocation:
    asked = orders.asked if quantities else None
    return Allocation(alloc_id, side, price, orders.order_ids, orders.accounts, qty.tolist(), cash.tolist(), asked, residual_qty, residual_cash)


def per_account(allocation: Allocation) -> tuple[list[str], list[int]]:
    """Allocated quantity summed per account, sorted by account (for clearing's J)."""
    totals: dict[str, int] = {}
    get = totals.get
    for account, qty in zip(allocation.accounts, allocation.qty, strict=True):
        if qty:
            totals[account] = get(account, 0) + qty
    accounts = sorted(totals)
    return accounts, [totals[account] for account in accounts]
