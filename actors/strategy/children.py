"""A live strategy's investors, and the child orders each of its decisions becomes.

A live strategy trades one *model book* (``engine.Book``), which belongs to its investors.
Each order the strategy places — the *parent*, order N of the core — is split pro rata to
the investors' current shares into one *child* per investor account, each a real
``NewOrder`` of that account (``strategy:NAME-N-K``, K the investor's number) through its
account shard: every pre-trade check applies to each investor, and each child's fills are
booked in its investor's account like any fill. The model book's fill is the sum of its
children's fills.

The split is the open's block allocation, ``allocation.pro_rata`` (whole increments,
largest remainder, lower investor number first on ties, capped); no second rounding rule:

* **a buy** of Q goes pro rata to each investor's *equity in the strategy* — its cash in it
  (committed, less what its children paid, plus what they received) and what it holds at
  the model book's marks — each capped by the increments its cash still buys at the
  order's price (its limit, or the last close for a market order), less what its working
  buys may still spend: no child spends more of an investor's commitment than is left.
  Increments no investor can take are not ordered (the parent is smaller);
* **a sale** of Q goes pro rata to what each investor holds of the symbol, capped by it
  (never more than it holds); the strategy sells at most the model book's position, the
  sum of the holdings, so nothing is left over.

Guarantees (pure, deterministic): the children's quantities sum to the parent's ordered
quantity less the increments nobody could take (a buy) or exactly (a sale); each within one
increment of its exact share; an investor's cash here moves as its account's does — each
child books its cumulative value rounded to the cent (up for a buy, down for a sale), so
Σ of an investor's children's cash is what its account booked for them, to the cent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from actors.instrument.allocation import pro_rata
from model import fixed
from model.enums import OrderType, Side, TimeInForce
from model.instruments import Instrument
from model.messages.strategies import STRATEGY_ORDER_PREFIX
from model.orders import OrderSpec
from model.strategy.engine import Fill, Order

WORKING, FILLED, REJECTED, CANCELED = "working", "filled", "rejected", "canceled"


@dataclass
class Investor:
    """One investor of a live strategy. ``number`` (K) is drawn from the strategy's counter at
    its first subscription and never reused; amounts are 10^-9 units."""

    number: int
    account: str
    committed: int = 0  # cash subscribed: it stays in the account, for its children to spend
    booked: int = 0  # cash its children moved: − buys' cost, + sales' proceeds (as the account booked it)
    positions: dict[str, int] = field(default_factory=dict)  # what its children bought less what they sold
    redeeming: bool = False

    @property
    def cash(self) -> int:
        """Its cash in the strategy: committed, less what its children paid, plus what they got."""
        return self.committed + self.booked

    def view(self) -> dict[str, object]:
        return {
            "account": self.account,
            "number": self.number,
            "committed": fixed.format_cash(self.committed),
            "positions": {symbol: fixed.format(qty) for symbol, qty in self.positions.items() if qty},
            "cash_booked": fixed.format_cash(self.booked),
            "redeeming": self.redeeming,
        }


@dataclass
class Child:
    """One investor's order: its share of a parent (``parent`` = the strategy's order id), or a
    redemption's sale (``parent`` = 0). ``price`` is what a buy was capped at; ``limit`` the
    limit price it was sent with (0: a market order)."""

    client_order_id: str
    parent: int
    investor: int
    account: str
    symbol: str
    side: str
    qty: int
    price: int = 0
    limit: int = 0
    filled: int = 0
    value: int = 0  # raw 10^-18: Σ qty × price × multiplier of its fills
    state: str = WORKING
    reason: str = ""
    cancel_sent: bool = False

    @property
    def booked(self) -> int:
        """Cash booked so far: ``value`` rounded to the cent (up for a buy, down for a sale)."""
        return fixed.ceil_cent(self.value) if self.side == "buy" else fixed.floor_cent(self.value)

    def spec(self) -> OrderSpec:
        """The terms it is sent with (a day order, market or limit): those of every report of it."""
        side = Side.BUY if self.side == "buy" else Side.SELL
        if self.limit:
            return OrderSpec(self.symbol, side, OrderType.LIMIT, TimeInForce.DAY, qty=self.qty, price=self.limit)
        return OrderSpec(self.symbol, side, OrderType.MARKET, TimeInForce.DAY, qty=self.qty)

    def book(self, qty: int, price: int, multiplier: int) -> int:
        """A fill of this child; the cash it moves (≥ 0), as the account books it: on the
        cumulative value, so the sum over fills is the value rounded once."""
        before = self.booked
        self.filled += qty
        self.value += qty * price * multiplier
        return self.booked - before

    def view(self) -> list[object]:
        return [self.client_order_id, self.account, fixed.format(self.qty), fixed.format(self.filled), self.state]


@dataclass
class Parent:
    """A strategy's order at the accounts: its children, the minutes a limit order still works."""

    order: Order
    children: list[Child]
    left: int
    # children still working: counted down as each ends (a count, not a scan of every
    # child at each child's end: a parent has one child per investor)
    working: int = 0
    last: Fill | None = None  # its last fill, to end it filled

    def __post_init__(self) -> None:
        self.working = len(self.children)

    @property
    def filled(self) -> int:
        """What its children filled (the model book's fill of the order)."""
        return sum(child.filled for child in self.children)


def child_id(strategy: str, parent: int, investor: int) -> str:
    return f"{STRATEGY_ORDER_PREFIX}{strategy}-{parent}-{investor}"


def redemption_id(strategy: str, investor: int, symbol_index: int) -> str:
    """A redemption's sale of one symbol (its index in the strategy's symbols): once per
    investor, whose number is never reused."""
    return f"{STRATEGY_ORDER_PREFIX}{strategy}-r{investor}-{symbol_index}"


def split_buy(qty: int, increment: int, equity: list[int], affordable: list[int]) -> list[int]:
    """``qty`` (a whole number of ``increment``s) pro rata to ``equity`` (cents, ≥ 0), each
    capped at ``affordable`` (increments): each investor's quantity, 10^-9 units."""
    if not equity:
        return []
    weights = np.asarray(equity, dtype=np.int64)
    caps = np.asarray(affordable, dtype=np.int64)
    if not weights.any():
        return [0] * len(equity)
    shares, _ = pro_rata(qty // increment, weights, caps)
    return [int(units) * increment for units in shares.tolist()]


def split_sell(qty: int, increment: int, held: list[int]) -> list[int]:
    """``qty`` (at most Σ ``held``) pro rata to what each holds, capped by it: 10^-9 units."""
    if not held:
        return []
    caps = np.asarray([h // increment for h in held], dtype=np.int64)
    shares, unplaced = pro_rata(min(qty // increment, int(caps.sum())), caps, caps)
    assert unplaced == 0  # capped by the weights themselves: every exact share is within its cap
    return [int(units) * increment for units in shares.tolist()]


def split(order: Order, investors: list[Investor], instrument: Instrument, marks: Mapping[str, int], instruments: Mapping[str, Instrument], committed_buys: Mapping[int, int]) -> list[int]:
    """``order``'s quantity per investor (``investors``: those taking part, in number order).

    A buy's weights are each investor's equity in the strategy (``Investor.cash`` and its
    positions at ``marks``, in whole cents, at least 0), its cap what its cash less
    ``committed_buys`` (its working buys' most cost) buys at the order's price."""
    increment = instrument.qty_increment
    if order.side == "sell":
        return split_sell(order.qty, increment, [investor.positions.get(order.symbol, 0) for investor in investors])
    price = order.limit or marks.get(order.symbol, 0)
    equity, affordable = [], []
    for investor in investors:
        value = investor.cash + sum(qty * marks.get(symbol, 0) * instruments[symbol].multiplier // fixed.SCALE for symbol, qty in investor.positions.items() if qty)
        equity.append(max(value, 0) // fixed.CENT)
        spendable = max(investor.cash - committed_buys.get(investor.number, 0), 0)
        affordable.append(fixed.qty_for_cash(spendable, price, increment, instrument.multiplier) // increment)
    return split_buy(order.qty, increment, equity, affordable)
