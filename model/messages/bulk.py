"""Orders in bulk: a basket file's orders travel to their account shard as chunks, each ONE
message with the orders in columns (``model/basket/`` makes them), and each chunk is
answered with its counts.

A chunk is one journaled input of its shard and is applied in one turn: thousands of orders
cost one message, one decode and one place in a journal record, not one ``NewOrder`` each.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Union

import msgspec

from model.enums import OrderType, Side, TimeInForce
from model.messages.base import MessageBase, Reply

__all__ = ["BulkMessage", "LoadOrders", "OrderColumns", "OrdersLoaded"]


class OrderColumns(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """Orders as columns, row ``i`` of every list being order ``i``: the terms of a
    ``new_order`` (``model.orders.OrderSpec`` without a stop price) with its account and
    client order id. Fixed-point ints (``model.fixed``); ``None``: not given.

    Guarantees (``model.basket`` builds them so): every list has the same length; every
    row passed the checks a ``new_order`` passes at the gateway."""

    accounts: list[str]
    client_order_ids: list[str]
    symbols: list[str]
    sides: list[Side]
    order_types: list[OrderType]
    tifs: list[TimeInForce]
    qty: list[int | None]
    notional: list[int | None]
    price: list[int | None]

    def __len__(self) -> int:
        return len(self.accounts)

    def rows(self) -> Iterator[tuple[str, str, str, Side, OrderType, TimeInForce, int | None, int | None, int | None]]:
        """Each order as one tuple of its fields, in the order of the columns."""
        return zip(
            self.accounts,
            self.client_order_ids,
            self.symbols,
            self.sides,
            self.order_types,
            self.tifs,
            self.qty,
            self.notional,
            self.price,
            strict=True,
        )


# --- gateway → account shard -------------------------------------------------------------


class LoadOrders(MessageBase, frozen=True, gc=False, tag=7):
    """A chunk of a basket's orders, every one of an account of the receiving shard. The
    shard enters each as a ``new_order`` without a reply (reports go to the accounts'
    followers) and answers the chunk with ``OrdersLoaded`` to ``reply``. ``load`` numbers
    the load at the gateway that sent it; ``chunk`` numbers the chunk within the load."""

    load: int
    chunk: int
    orders: OrderColumns
    reply: Reply


# --- account shard → gateway -------------------------------------------------------------


class OrdersLoaded(MessageBase, frozen=True, gc=False, tag=26):
    """What became of one chunk's orders: ``accepted`` (reported ``new``), ``already``
    (the same order was there before: answered as a resend, nothing changed), and
    ``rejected`` by reason (risk, ``duplicate_client_order_id`` for an id used with other
    terms, ``forbidden`` for an account the shard does not have)."""

    reply: Reply
    load: int
    chunk: int
    rows: int
    accepted: int
    already: int
    rejected: dict[str, int]


BulkMessage = Union[LoadOrders, OrdersLoaded]  # in tag order
