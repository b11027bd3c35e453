"""Messages of the books (``model/lots.py``): the gateway's queries of an account's lots and
realized gains and the shard's answers; and the operator's choice of an account's lot method.

Tags 130-139 are the books' (never reuse or renumber one: the journal holds them)."""

from __future__ import annotations

from typing import Union

import msgspec

from model.messages.base import MessageBase, Reply
from model.orders import OrderSpec

__all__ = ["BooksMessage", "ClosingRow", "GainsReply", "LotRow", "LotsReply", "NewLotOrder", "QueryGains", "QueryLots", "SetLotMethod"]


class QueryLots(MessageBase, frozen=True, gc=False, tag=130):
    """The open lots of ``account`` (of ``symbol`` only, when given)."""

    account: str
    reply: Reply
    symbol: str | None = None


class QueryGains(MessageBase, frozen=True, gc=False, tag=131):
    """One page of the lots ``account`` closed on the local dates ``from_day`` to ``to_day``
    (proleptic ordinals, both included): those after ``cursor`` (the ``next_cursor`` of the
    previous page), at most ``limit``; with the totals of the whole range."""

    account: str
    reply: Reply
    from_day: int
    to_day: int
    limit: int
    cursor: int | None = None


class NewLotOrder(MessageBase, frozen=True, gc=False, tag=135):
    """A ``NewOrder`` that chooses its lots: its own lot method instead of its account's, and
    for a sell the lots it closes (``(lot_id, qty)``). Its own message, so that every other
    order's ``NewOrder`` stays the bytes it was; both are entered by the same code."""

    account: str
    client_order_id: str
    spec: OrderSpec
    reply: Reply | None = None
    lot_method: str | None = None
    lots: tuple[tuple[int, int], ...] | None = None


class SetLotMethod(MessageBase, frozen=True, gc=False, tag=132):
    """The operator sets which lots ``account``'s sales close (``model.lots.LotMethod``)."""

    account: str
    method: str


class LotRow(msgspec.Struct, frozen=True, array_like=True, gc=False):
    symbol: str
    lot_id: int
    qty: int
    cost: int
    acquired: int
    adjust: int  # a wash-sale loss carried into the cost
    mark: int | None
    unrealized: int | None
    long_term: bool  # would be long term if sold now


class LotsReply(MessageBase, frozen=True, gc=False, tag=133):
    reply: Reply
    account: str
    method: str
    lots: list[LotRow]


class ClosingRow(msgspec.Struct, frozen=True, array_like=True, gc=False):
    lot_id: int
    symbol: str
    qty: int
    acquired: int
    sold: int
    proceeds: int
    cost: int
    disallowed: int
    gain: int
    long_term: bool
    wash: bool
    order_id: str
    cursor: int


class GainsReply(MessageBase, frozen=True, gc=False, tag=134):
    reply: Reply
    account: str
    closings: list[ClosingRow]
    next_cursor: int | None
    count: int  # closings in the whole range
    proceeds: int
    cost: int
    disallowed: int
    short_term: int  # realized gain (after wash-sale adjustments) of the whole range, short term
    long_term: int


# The books' messages, in tag order.
BooksMessage = Union[QueryLots, QueryGains, SetLotMethod, LotsReply, GainsReply, NewLotOrder]
