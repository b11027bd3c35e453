"""Investors in a backtest's strategy (``Session(pool=...)``): cash subscribed and redeemed,
and every simulated fill of the strategy's one model book allocated to them on paper, exactly.
A live strategy's investors hold their shares in their own accounts instead: each order is
split into child orders of their accounts (``children.py``).

The strategy trades one model book (``engine.Book``); the pool keeps, per investor, a
position in each symbol and cash, and after every fill the sums over the investors equal the
model book — to the increment and to the cent.

* **Subscriptions and redemptions deal at flat.** They wait (``pending``) until the model
  book holds no position and has no working order, then apply at once, in the order asked:
  a subscription adds its cash to the investor and to the book; a redemption pays the
  investor's whole cash back and removes it (it holds no position then). Dealing at flat
  keeps every investor's book the same mix of cash and shares, so a pro-rata share of a
  fill is always one the investor can take.
* **Buys** are allocated pro rata to each investor's *weight*, its cash when the book was
  last flat (what it put at risk): quantity by ``allocation.pro_rata`` over the fill's
  increments, then the fill's cash (cost and fee, in cents) pro rata to those quantities —
  the exact block allocation of orders for the open (``actors/instrument/allocation.py``,
  largest remainder), so each investor is within one increment and one cent of its exact
  share and the sums are exact.
* **Sells** are allocated pro rata to each investor's current position, capped by it (no
  investor sells what it does not hold), and the proceeds net of fee pro rata to the
  quantities.

Guarantees: after every ``allocate``, for every symbol Σ position_i = the book's position,
and Σ cash_i = the book's cash; no investor's position is ever negative. Pure and
deterministic: investors are kept in the order they first subscribed (ties of the largest
remainder go to the earlier one).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from actors.instrument.allocation import pro_rata
from model import fixed
from model.strategy.engine import Book, Fill


class InvestorError(ValueError):
    """A subscription or redemption that cannot be taken: the reason."""


@dataclass
class Allocation:
    """One fill's shares: per investor (in ``accounts`` order) quantity and cash, 10^-9 units.
    ``cash`` is signed as it moves the investor's cash (negative for a buy)."""

    fill: Fill
    accounts: list[str]
    qty: np.ndarray
    cash: np.ndarray


@dataclass
class InvestorPool:
    """The investors of one strategy (module docstring). Amounts are fixed-point 10^-9 units."""

    increments: dict[str, int]  # symbol → the instrument's quantity increment
    accounts: list[str] = field(default_factory=list)
    cash: list[int] = field(default_factory=list)
    weight: list[int] = field(default_factory=list)
    positions: dict[str, list[int]] = field(default_factory=dict)
    pending: list[tuple[str, str, int]] = field(default_factory=list)  # (kind, account, cash)
    paid: list[tuple[str, int]] = field(default_factory=list)  # redemptions paid: (account, cash)

    def subscribe(self, account: str, cash: int) -> None:
        if cash <= 0 or cash % fixed.CENT:
            raise InvestorError(f"a subscription is a positive amount in whole cents, not {fixed.format(cash)}")
        self.pending.append(("subscribe", account, cash))

    def redeem(self, account: str) -> None:
        if account not in self.accounts and not any(kind == "subscribe" and who == account for kind, who, _ in self.pending):
            raise InvestorError(f"{account} holds nothing in this strategy")
        self.pending.append(("redeem", account, 0))

    def settle(self, book: Book, working: bool) -> bool:
        """Apply what waits, if the book is flat and nothing works; whether it did."""
        if not self.pending or working or any(book.positions.values()):
            return False
        for kind, account, cash in self.pending:
            if kind == "subscribe":
                if account not in self.accounts:
                    self.accounts.append(account)
                    self.cash.append(0)
                    for held in self.positions.values():
                        held.append(0)
                self.cash[self.accounts.index(account)] += cash
                book.cash += cash
            elif account in self.accounts:
                i = self.accounts.index(account)
                book.cash -= self.cash[i]
                self.paid.append((account, self.cash[i]))
                for held in self.positions.values():
                    del held[i]
                del self.accounts[i], self.cash[i]
        self.pending = []
        self.weight = list(self.cash)
        return True

    def allocate(self, fill: Fill, multiplier: int) -> Allocation:
        """``fill`` (already booked in the model book, its value × ``multiplier``, the
        instrument's) shared out (module docstring)."""
        increment = self.increments[fill.symbol]
        held = self.positions.setdefault(fill.symbol, [0] * len(self.accounts))
        units = fill.qty // increment
        raw = fill.qty * fill.price * multiplier
        if fill.side == "buy":
            cents = (fixed.ceil_cent(raw) + fill.fee) // fixed.CENT
            qty, _ = pro_rata(units, np.asarray(self.weight, dtype=np.int64))
            sign = -1
        else:
            cents = (fixed.floor_cent(raw) - fill.fee) // fixed.CENT
            caps = np.asarray(held, dtype=np.int64) // increment
            qty, unplaced = pro_rata(units, caps, caps)
            if unplaced:
                raise InvestorError(f"a sale of {fixed.format(fill.qty)} {fill.symbol} exceeds what the investors hold")
            sign = 1
        if cents >= 0:
            cash, _ = pro_rata(cents, qty) if units else (np.zeros_like(qty), 0)
        else:  # a sale whose fee exceeds its proceeds: the investors pay the difference
            cash, _ = pro_rata(-cents, qty)
            cash, sign = cash, -sign
        qty_units = qty * increment
        cash_units = sign * cash * fixed.CENT
        for i, (q, c) in enumerate(zip(qty_units.tolist(), cash_units.tolist(), strict=False)):
            held[i] += q if fill.side == "buy" else -q
            self.cash[i] += c
        return Allocation(fill, list(self.accounts), qty_units, cash_units)

    def check(self, book: Book) -> list[str]:
        """Broken invariants (empty when the sums are exact)."""
        problems = []
        if sum(self.cash) != book.cash:
            problems.append(f"investors' cash {fixed.format(sum(self.cash))} != the book's {fixed.format(book.cash)}")
        for symbol, held in self.positions.items():
            if sum(held) != book.positions.get(symbol, 0):
                problems.append(f"investors' {symbol} {fixed.format(sum(held))} != the book's {fixed.format(book.positions.get(symbol, 0))}")
            if any(q < 0 for q in held):
                problems.append(f"an investor's {symbol} position is negative")
        return problems
