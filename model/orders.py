"""An order's terms, as one value that travels whole from the gateway to the venue.

The client states them once (``new_order``); the account shard keeps them on its record,
routes them to the instrument actor, reports them back in every execution report; the
instrument actor keeps them on its route and hands them to a venue as a child order's
terms. Each of those places holds the same ``OrderSpec`` object instead of copying eight
fields, so a new term is added once and nothing can drop it on the way.

What is *not* a term: the ids (each hop has its own), ``qty_cap`` (the shard's decision for a
notional sell, not the client's) and everything booked against the order.
"""

from __future__ import annotations

import msgspec

from model.enums import OrderType, Side, TimeInForce


class OrderSpec(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """What the client asked for. Fixed-point ints (``model.fixed``); ``None``: not given.

    Guarantees: exactly one of ``qty`` and ``notional`` is set on every spec the gateway
    accepts (``server.gateway.validation``); ``price`` only for limit types and
    ``stop_price`` only for stop types. Frozen: a change (a replace, a triggered stop, a
    limit released at the open) is a new spec (``msgspec.structs.replace``), so a spec
    shared by a record, a message and a report never changes under any of them. Encoded as
    an array in field order, the same bytes as the tuple of its fields.
    """

    symbol: str
    side: Side
    order_type: OrderType
    tif: TimeInForce
    qty: int | None = None
    notional: int | None = None
    price: int | None = None
    stop_price: int | None = None
