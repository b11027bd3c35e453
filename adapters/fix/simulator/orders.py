"""The FIX market maker's orders: what it keeps of one, what it refuses and why (naming the FIX
field to blame), and how much of one may still trade at a price. Pure functions and one
struct; the market maker (``core.py``) owns the orders, the quotes and the clock.

What is on the tick or the increment is the instrument's to say (``model.instruments``):
every symbol quoted is an ``Instrument`` with the tick and increment of the settings file.
"""

from __future__ import annotations

import msgspec

from adapters.fix.simulator.config import SimulatorSettings
from adapters.fix.simulator.messages import BAD_PRICE, Problem, ReplaceOrder, Terms
from adapters.fix.tags import OrdRejReason
from adapters.sim.quotes import Book
from model import fixed
from model.enums import OrderStatus, OrderType, TimeInForce
from model.instruments import Instrument, price_fields_for_type

PERCENT = 100
NO_ORDER_ID = "NONE"  # OrderID (37) is required even where there is no order

WORKING = frozenset({OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED})
IMMEDIATE = frozenset({TimeInForce.IOC, TimeInForce.FOK})


class Order(msgspec.Struct):
    """An order as the market maker keeps it, working or finished. ``value_raw`` is
    Σ qty × price of its fills at 10^-18; ``budget`` is a notional order's cash floored
    to the cent. A working order is either scheduled (``due`` set) or resting."""

    order_id: str
    session: str
    cl_ord_id: str
    orig_cl_ord_id: str | None
    terms: Terms  # a replace puts new ones in place
    budget: int | None
    status: OrderStatus
    parts_left: int
    cum_qty: int = 0
    value_raw: int = 0
    fill_cap: int | None = None  # IOC/FOK: the most cum_qty may reach, set when the first part is due
    due: int | None = None
    token: int = 0  # of its live entry in the schedule; older entries are stale


def stand_in(session: str, cl_ord_id: str, terms: Terms) -> Order:
    """A rejected order with no OrderID standing in for one the market maker does not have
    (a status request for an unknown order, a repeated ClOrdID), so that a report can be
    made about it; ``terms`` are what the request gave."""
    return Order(NO_ORDER_ID, session, cl_ord_id, None, terms, None, OrderStatus.REJECTED, 0)


class Rules:
    """What the market maker accepts (``[orders]`` of its settings) in the instruments it
    quotes; anything else is refused with a ``Problem``."""

    def __init__(self, settings: SimulatorSettings) -> None:
        self.instruments = {instrument.symbol: instrument for instrument in settings.instruments()}
        self._max_qty = fixed.parse(settings.orders.max_order_qty)
        self._max_notional = fixed.parse(settings.orders.max_notional)
        self._band_pct = settings.orders.price_band_pct

    def order_problem(self, order: Order, books: dict[str, Book]) -> Problem | None:
        """Why a new order cannot be taken: its symbol, then exactly one of qty and cash,
        then that amount, then its price."""
        terms = order.terms
        if terms.symbol is None:
            return Problem(OrdRejReason.UNKNOWN_SYMBOL, "Symbol(55) missing")
        instrument = self.instruments.get(terms.symbol)
        if instrument is None:
            return Problem(OrdRejReason.UNKNOWN_SYMBOL, f"unknown symbol {terms.symbol}")
        if (terms.qty is None) == (terms.cash is None):
            return Problem(OrdRejReason.INCORRECT_QUANTITY, "exactly one of OrderQty(38) and CashOrderQty(152) is required")
        book = books[terms.symbol]
        if terms.cash is not None:
            problem = self._cash_problem(order, instrument, book)
        else:
            assert terms.qty is not None
            problem = self.qty_problem(terms.qty, instrument)
        return problem or self.price_problem(terms.order_type, terms.price, instrument, book)

    def replace_problem(self, order: Order, request: ReplaceOrder, book: Book) -> Problem | None:
        """Why ``request`` cannot replace ``order``: only a qty order's qty and price may
        change, to a qty above what has filled."""
        terms, asked = order.terms, request.terms
        assert terms.symbol is not None
        if terms.cash is not None:
            return Problem(OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC, "notional orders cannot be replaced")
        if asked.side is not terms.side or asked.symbol not in (None, terms.symbol):
            return Problem(OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC, "Side(54) and Symbol(55) cannot change")
        if asked.order_type not in (None, terms.order_type):
            return Problem(OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC, "OrdType(40) cannot change")
        instrument = self.instruments[terms.symbol]
        qty = terms.qty if asked.qty is None else asked.qty
        assert qty is not None
        problem = self.qty_problem(qty, instrument)
        if problem is not None:
            return problem
        if qty <= order.cum_qty:
            return Problem(OrdRejReason.INCORRECT_QUANTITY, "OrderQty(38) must be above CumQty(14)")
        # a market order has no price to keep: a Price on its replace is refused like on a new one
        price = asked.price if terms.order_type is OrderType.MARKET or asked.price is not None else terms.price
        return self.price_problem(terms.order_type, price, instrument, book)

    def qty_problem(self, qty: int, instrument: Instrument) -> Problem | None:
        if qty <= 0:
            return Problem(OrdRejReason.INCORRECT_QUANTITY, "OrderQty(38) must be positive")
        if not instrument.qty_on_increment(qty):
            return Problem(OrdRejReason.INCORRECT_QUANTITY, f"OrderQty(38) not a multiple of {fixed.format(instrument.qty_increment)}")
        if qty > self._max_qty:
            return Problem(OrdRejReason.ORDER_EXCEEDS_LIMIT, f"OrderQty(38) above {fixed.format(self._max_qty)}")
        return None

    def _cash_problem(self, order: Order, instrument: Instrument, book: Book) -> Problem | None:
        cash = order.terms.cash
        assert cash is not None and order.budget is not None
        if cash <= 0:
            return Problem(OrdRejReason.INCORRECT_QUANTITY, "CashOrderQty(152) must be positive")
        if cash > self._max_notional:
            return Problem(OrdRejReason.ORDER_EXCEEDS_LIMIT, f"CashOrderQty(152) above {fixed.format(self._max_notional)}")
        if order.terms.order_type is not OrderType.MARKET:
            return Problem(OrdRejReason.UNSUPPORTED_ORDER_CHARACTERISTIC, "CashOrderQty(152) only on market orders")
        if affordable(order.budget * fixed.SCALE, book.price_for(order.terms.side), instrument.qty_increment) == 0:
            return Problem(OrdRejReason.INCORRECT_QUANTITY, "CashOrderQty(152) buys less than one increment at the quote")
        return None

    def price_problem(self, order_type: OrderType | None, price: int | None, instrument: Instrument, book: Book) -> Problem | None:
        """A Price its type does not take (a limit needs one, a market has none), not > 0,
        off the tick, or further than ``price_band_pct`` from the mid."""
        mismatch = None if order_type is None else price_fields_for_type(order_type, price)
        if mismatch is not None:
            assert order_type is not None
            text = f"Price(44) missing on a {order_type.value} order" if mismatch.missing else f"Price(44) on a {order_type.value} order"
            return Problem(BAD_PRICE, text)
        if price is None:
            return None
        if price <= 0:
            return Problem(BAD_PRICE, "Price(44) must be positive")
        if not instrument.price_on_tick(price):
            return Problem(BAD_PRICE, f"Price(44) not on the tick {fixed.format(instrument.tick_size)}")
        if abs(price - book.mid) * PERCENT > book.mid * self._band_pct:
            return Problem(BAD_PRICE, f"Price(44) more than {self._band_pct}% from the mid {fixed.format(book.mid)}")
        return None


# --- how much may trade ---------------------------------------------------------------------


def affordable(value_raw: int, price: int, increment: int) -> int:
    """Most quantity, in whole increments, whose exact value at ``price`` is ≤ ``value_raw`` (10^-18)."""
    return fixed.floor_to(value_raw // price, increment)


def unfilled(order: Order, price: int, increment: int) -> int:
    """What the order still wants at ``price``: qty − cum_qty, or the increments its
    remaining cash buys."""
    if order.budget is not None:
        return affordable(order.budget * fixed.SCALE - order.value_raw, price, increment)
    qty = order.terms.qty
    assert qty is not None
    return qty - order.cum_qty


def room(order: Order, price: int, increment: int) -> int:
    """What may trade now: ``unfilled``, within an IOC/FOK order's cap."""
    wanted = unfilled(order, price, increment)
    return wanted if order.fill_cap is None else min(wanted, order.fill_cap - order.cum_qty)


def part_qty(order: Order, price: int, increment: int) -> int:
    """The next part: an even share of what may still trade, in whole increments (at
    least one); the last part takes all of it."""
    left = room(order, price, increment)
    if left == 0 or order.parts_left <= 1:
        return left
    share = fixed.floor_to(left // order.parts_left, increment)
    return min(left, max(increment, share))
