"""Checks a request against reference data before it becomes a command.

What fails here never reaches an actor: the client gets an ``error`` and nothing changes.
(Risk — buying power, position, size and price band — is the AccountShard's, and its
refusals are ``rejected`` execution reports.)
"""

from __future__ import annotations

import functools
from enum import StrEnum
from typing import TypeVar

from model import fixed
from model.config import QueriesSection
from model.enums import OrderType, Side, TimeInForce
from model.instruments import Instrument, price_fields_for_type
from model.messages import NewLotOrder, NewOrder, ReplaceOrder, Reply
from model.messages.strategies import STRATEGY_ORDER_PREFIX, reserved_id
from model.orders import OrderSpec
from server.gateway.protocol import GetOrdersRequest, OrderFields, ReplaceOrderRequest, shorten

E = TypeVar("E", bound=StrEnum)
NOTIONAL_TIFS = (TimeInForce.DAY, TimeInForce.IOC, TimeInForce.OPG)
# read for every order, bound once: on Python 3.11 an attribute of an enum class, member or
# not, is read through ``EnumType.__getattr__``'s slot (model/enums.py)
_MEMBERS: dict[type[StrEnum], dict[str, StrEnum]] = {kind: kind._value2member_map_ for kind in (Side, OrderType, TimeInForce)}  # type: ignore[misc]
_MARKET, _OPG, _FOK = OrderType.MARKET, TimeInForce.OPG, TimeInForce.FOK
# Quantities and prices repeat a great deal (as ``model.views.format_cached`` finds on the
# way out): each string is parsed once. A string that does not parse raises every time.
_parse = functools.lru_cache(maxsize=65536)(fixed.parse_bounded)
# How many orders' checked terms a gateway keeps (``OrderTerms``): a few hundred bytes each
TERMS_KEPT = 16384


class Invalid(ValueError):
    """A request refused before it became a command; ``code`` is the wire error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _enum(kind: type[E], value: str, field: str) -> E:
    member = _MEMBERS[kind].get(value)  # a dict look-up; Enum(value) is far slower
    if member is None:
        allowed = ", ".join(member.value for member in kind)
        raise Invalid("invalid_request", f"{field} must be one of {allowed}, not {shorten(value)}")
    return member  # type: ignore[return-value]


def _decimal(text: str | None, field: str) -> int | None:
    if text is None:
        return None
    try:
        return _parse(text)
    except fixed.DecimalRangeError:
        raise Invalid("invalid_request", f"{field} must be at most {fixed.format(fixed.LARGEST)}, not {shorten(text)}") from None
    except fixed.DecimalFormatError:
        raise Invalid("invalid_request", f"{field} must be a decimal string with at most {fixed.DECIMALS} places, not {shorten(text)}") from None


def _positive(value: int | None, field: str) -> None:
    if value is not None and value <= 0:
        raise Invalid("invalid_request", f"{field} must be > 0")


def check_client_order_id(value: str, max_length: int, field: str = "client_order_id") -> None:
    if not value or len(value) > max_length or not value.isprintable():
        raise Invalid("invalid_request", f"{field} must be 1 to {max_length} printable characters")


def check_own_client_order_id(value: str, max_length: int, field: str = "client_order_id") -> None:
    """``check_client_order_id`` for the id of an order a client places or changes (a new
    order, a replace and its new id). Guarantees: none starts with ``STRATEGY_ORDER_PREFIX``
    — ids with it are the strategies' child orders, whose reports the account shard sends to
    the strategy actor — so a client can neither pass an order of its own for a strategy's
    nor change one. (A cancel, or a query's cursor, may name one.)"""
    check_client_order_id(value, max_length, field)
    if value.startswith(STRATEGY_ORDER_PREFIX):
        raise Invalid("invalid_request", reserved_id(field))


def check_qty(qty: int, instrument: Instrument, field: str = "qty") -> None:
    _positive(qty, field)
    if not instrument.qty_on_increment(qty):
        step = fixed.format(instrument.qty_increment)
        whole = "whole units" if not instrument.fractional else f"multiples of {step}"
        raise Invalid("invalid_request", f"{field} for {instrument.symbol} must be in {whole}")


def check_price(price: int | None, instrument: Instrument, field: str) -> None:
    if price is None:
        return
    _positive(price, field)
    if not instrument.price_on_tick(price):
        raise Invalid("invalid_request", f"{field} is off the tick of {fixed.format(instrument.tick_size)} for {instrument.symbol}")


def _check_prices_for_type(order_type: OrderType, price: int | None, stop_price: int | None) -> None:
    mismatch = price_fields_for_type(order_type, price, stop_price)
    if mismatch is not None:
        raise Invalid("invalid_request", mismatch.describe(order_type))


class OrderTerms:
    """The terms of orders already checked against ``instruments``, by their wire strings: an
    order whose symbol, side, type, tif, quantities and prices were seen before gets the same
    ``OrderSpec`` without checking them again (a busy gateway sees the same terms over and
    over). Terms that fail are not kept: they are checked, and refused, every time.

    Guarantees: the checks depend on those strings and the instruments alone (``instruments``
    is the gateway's, never changed after it starts), so an order gets the spec, or the
    refusal, that ``to_new_order`` without this would give; at most ``size`` terms are kept
    (all are dropped when it is reached, the terms seen next are checked again)."""

    __slots__ = ("instruments", "size", "specs")

    def __init__(self, instruments: dict[str, Instrument], size: int = TERMS_KEPT) -> None:
        self.instruments = instruments
        self.size = size
        self.specs: dict[tuple[str | None, ...], OrderSpec] = {}

    def spec(self, fields: OrderFields) -> OrderSpec:
        key = (fields.symbol, fields.side, fields.type, fields.tif, fields.qty, fields.notional, fields.price, fields.stop_price)
        spec = self.specs.get(key)
        if spec is None:
            spec = checked_spec(fields, self.instruments)
            if len(self.specs) >= self.size:
                self.specs.clear()
            self.specs[key] = spec
        return spec


def to_new_order(
    fields: OrderFields, instruments: dict[str, Instrument], reply: Reply | None, max_id_length: int, terms: OrderTerms | None = None
) -> NewOrder | NewLotOrder:
    """Turn one order's wire fields into a ``NewOrder`` (a ``NewLotOrder`` when it chooses its
    lots: ``server/gateway/books.py``) or raise ``Invalid``. ``terms``: the terms checked before
    (for ``instruments``), to check an order's terms once."""
    check_own_client_order_id(fields.client_order_id, max_id_length)
    if fields.lot_method is None and fields.lots is None:
        spec = checked_spec(fields, instruments) if terms is None else terms.spec(fields)
        return NewOrder(fields.account, fields.client_order_id, spec, reply)
    spec = checked_spec(fields, instruments)
    from server.gateway.books import lot_terms  # the books' checks import this module

    lot_method, lots = lot_terms(fields.lot_method, fields.lots, spec, instruments[fields.symbol])
    return NewLotOrder(fields.account, fields.client_order_id, spec, reply, lot_method, lots)


def checked_spec(fields: OrderFields, instruments: dict[str, Instrument]) -> OrderSpec:
    """An order's terms (all but its account, id and lots), checked: its ``OrderSpec``, or ``Invalid``."""
    instrument = instruments.get(fields.symbol)
    if instrument is None:
        raise Invalid("unknown_symbol", f"unknown symbol {shorten(fields.symbol)}")
    side = _enum(Side, fields.side, "side")
    order_type = _enum(OrderType, fields.type, "type")
    tif = _enum(TimeInForce, fields.tif, "tif")
    qty = _decimal(fields.qty, "qty")
    notional = _decimal(fields.notional, "notional")
    price = _decimal(fields.price, "price")
    stop_price = _decimal(fields.stop_price, "stop_price")
    if (qty is None) == (notional is None):
        raise Invalid("invalid_request", "give exactly one of qty or notional")
    if qty is not None:
        check_qty(qty, instrument)
    if notional is not None:
        _positive(notional, "notional")
        if notional % fixed.CENT:
            raise Invalid("invalid_request", "notional must be in whole cents")
        if order_type is not _MARKET or tif not in NOTIONAL_TIFS:
            raise Invalid("invalid_request", "notional orders must be market orders with tif day, ioc or opg")
        if not instrument.fractional:
            raise Invalid("invalid_request", f"{instrument.symbol} does not trade fractionally; notional orders need fractional shares")
    _check_prices_for_type(order_type, price, stop_price)
    check_price(price, instrument, "price")
    check_price(stop_price, instrument, "stop_price")
    if tif is _OPG and order_type.has_stop:
        raise Invalid("invalid_request", "stop orders cannot be for the open (opg)")
    if tif is _FOK and qty is None:
        raise Invalid("invalid_request", "fok orders need qty")
    return OrderSpec(fields.symbol, side, order_type, tif, qty, notional, price, stop_price)


def to_replace(request: ReplaceOrderRequest, reply: Reply, max_id_length: int) -> ReplaceOrder:
    """Syntax of a replace; the owning shard checks it against the order it changes."""
    check_own_client_order_id(request.client_order_id, max_id_length)
    check_own_client_order_id(request.new_client_order_id, max_id_length, "new_client_order_id")
    qty = _decimal(request.qty, "qty")
    price = _decimal(request.price, "price")
    stop_price = _decimal(request.stop_price, "stop_price")
    for value, name in ((qty, "qty"), (price, "price"), (stop_price, "stop_price")):
        _positive(value, name)
    return ReplaceOrder(
        account=request.account,
        client_order_id=request.client_order_id,
        new_client_order_id=request.new_client_order_id,
        qty=qty,
        price=price,
        stop_price=stop_price,
        reply=reply,
    )


def orders_page(request: GetOrdersRequest, queries: QueriesSection, max_id_length: int) -> tuple[str | None, int]:
    """The ``cursor`` and page size of a ``get_orders``: ``limit`` defaults to
    ``[queries] orders_page_size`` and may not exceed ``max_orders_page``, so no reply
    outgrows what a client can take in one frame. Whether the cursor names a position in
    the account's orders is the owning shard's to say."""
    limit = queries.orders_page_size if request.limit is None else request.limit
    if not 1 <= limit <= queries.max_orders_page:
        raise Invalid("invalid_request", f"limit must be 1 to {queries.max_orders_page}")
    if request.cursor is not None:
        check_client_order_id(request.cursor, max_id_length, "cursor")
    return request.cursor, limit
