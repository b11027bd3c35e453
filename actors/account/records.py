"""The mutable records an AccountShard owns. msgspec Structs so the whole state encodes
(for ``state_hash`` and, later, snapshots) without custom code.

Order and position records hold only scalars and other cycle-free structs, so they are
declared ``gc=False``: the garbage collector never scans them, and a shard holding millions
of orders has no collector pauses that grow with its book.
"""

from __future__ import annotations

import msgspec

from actors.account.limits import RiskLimits
from model import fixed
from model.enums import ExecType, OrderStatus
from model.lifecycle import Pending
from model.lots import Books
from model.messages import Reply
from model.orders import OrderSpec

_SCALE = fixed.SCALE


# An order's ``fingerprint`` says what a resend of its ``new_order`` must carry. Orders
# entered since this constant carry it alone, one shared object: their terms are their
# ``spec``, which the shard never changes (a replace makes a new record), so storing the
# encoded spec beside it again cost some 70 bytes per order. Older records keep the
# encoded spec they were stored with (compared as before); a record that no ``new_order``
# made (a replace's) has ``b""`` and matches nothing.
SAME_AS_SPEC = b"="


class PendingReplace(msgspec.Struct, gc=False, array_like=True):
    """A replace the venue has not answered: the order it would become and what it holds."""

    new_order_id: str
    new_client_order_id: str
    spec: OrderSpec  # the terms the order continues with once the venue confirms
    reply: Reply | None
    held_cash: int  # extra cash held while the venue decides
    held_qty: int


class OrderRecord(msgspec.Struct, gc=False, array_like=True):
    """One client (parent) order and everything booked against it.

    ``cum_value`` is the exact traded value ``Σ qty × price × multiplier`` at scale 10^-18;
    ``booked_cash`` is the cash moved so far: the cumulative value rounded up to the cent
    for a buy (down for a sell), so the sum over fills is exact and a notional buy never
    books more than its notional.
    """

    order_id: str
    account: str
    client_order_id: str
    spec: OrderSpec  # the client's terms, the very object its NewOrder carried (a replace makes a new one)
    status: OrderStatus
    created_ts: int
    fingerprint: bytes
    qty_cap: int | None = None
    cum_qty: int = 0
    value_nanos: int = 0  # cum_value = value_nanos × 10^9 + value_subnanos (msgpack ints are 64-bit)
    value_subnanos: int = 0
    booked_cash: int = 0
    reserved_cash: int = 0
    reserved_qty: int = 0
    last_exec_type: ExecType = ExecType.NEW
    exec_count: int = 0
    reason: str | None = None
    updated_ts: int = 0
    # The request in flight (``model.lifecycle``), changed only with the status by the
    # core's one mutator; the two fields after it are what that request carries.
    pending: Pending = Pending.NONE
    cancel_reply: Reply | None = None  # who asked for the cancel in flight (a kill or cancel-all: nobody)
    pending_replace: PendingReplace | None = None  # the replace in flight: its terms and what it holds extra
    replaced_by: str | None = None
    block: str | None = None  # an order for the open: the block its fill was allocated from
    venue: str | None = None  # the venue of its latest venue event
    # The books (``model/lots.py``): the lot method of this order (None: its account's), and
    # the lots a sell names with what it still wants of each (``[lot_id, qty]``, consumed as it fills)
    lot_method: str | None = None
    lots: list[list[int]] | None = None

    @property
    def cum_value(self) -> int:
        return self.value_nanos * _SCALE + self.value_subnanos  # ``fixed.join_raw``, inline: read on every order

    @cum_value.setter
    def cum_value(self, value: int) -> None:
        self.value_nanos, self.value_subnanos = fixed.split_raw(value)

    @property
    def leaves_qty(self) -> int | None:
        if not self.status.is_open:
            return 0
        qty = self.spec.qty
        return None if qty is None else qty - self.cum_qty


class PositionRecord(msgspec.Struct, gc=False, array_like=True):
    """``cost`` is the cost basis at 10^-18: the cash of its open lots (``model/lots.py``,
    whole cents, multiplier included; negative for a short position) × 10^9, kept as two
    64-bit halves so the record encodes to msgpack. (Records from before lots held
    ``Σ qty × price`` per unit: a restore converts them, ``AccountState._restored_account``.)"""

    qty: int = 0
    cost_nanos: int = 0
    cost_subnanos: int = 0

    @property
    def cost(self) -> int:
        return fixed.join_raw(self.cost_nanos, self.cost_subnanos)

    @cost.setter
    def cost(self, value: int) -> None:
        self.cost_nanos, self.cost_subnanos = fixed.split_raw(value)


class AccountRecord(msgspec.Struct, array_like=True):
    account: str
    owner: str
    cash: int
    allow_short: bool = False
    killed: bool = False
    reserved_cash: int = 0
    positions: dict[str, PositionRecord] = msgspec.field(default_factory=dict)
    reserved_qty: dict[str, int] = msgspec.field(default_factory=dict)
    orders: dict[str, str] = msgspec.field(default_factory=dict)  # client_order_id → order_id
    initial_cash: int = 0
    initial_positions: dict[str, int] = msgspec.field(default_factory=dict)
    group: str = ""  # an advisor's book this account belongs to
    tenant: str = ""  # the tenant (firm) that owns it, from its ``OpenAccount`` ("" in records from before tenants: the default)
    # The pre-trade limits of its orders: its tenant's, resolved once when the account opens
    # or its shard is restored (``AccountState.limits_of``), so an order reads them as an
    # attribute. ``None`` only in a record from before per-tenant limits, until its restore.
    limits: RiskLimits | None = None
    # Its tax lots and its ledgers of trades and closings (``model/lots.py``); ``None`` only
    # in a record from before lots, until its restore makes them from its positions.
    books: Books | None = None

    @property
    def buying_power(self) -> int:
        return self.cash - self.reserved_cash

    def position_qty(self, symbol: str) -> int:
        position = self.positions.get(symbol)
        return position.qty if position else 0

    def available_qty(self, symbol: str) -> int:
        return self.position_qty(symbol) - self.reserved_qty.get(symbol, 0)
