"""The bodies of audit records, one struct per ``AuditKind``: what each event records, field by
field (docs/audit.md lists them for readers of an export). The cores build them; the reports
(``admin report trades|cat|best-ex|admin-actions``) and ``admin audit export`` decode them with
:func:`decode_body`.

Encoding: msgpack arrays in field order (``array_like``), because order events ride the hot
path; an export turns them into objects with their field names (:func:`body_as_dict`). Money,
prices and quantities are the fixed-point ints of ``model/fixed.py`` (prices and money at
``PRICE_SCALE``, quantities at ``QTY_SCALE``), never floats; enums are their string values.

Guarantees:
- Every field is an int, a string, ``None`` or a list of them: the same event encodes to the
  same bytes on every run (a replay regenerates the same record hashes).
- New fields are only ever added at the end with a default, so records written before a
  field existed still decode.
"""

from __future__ import annotations

from typing import Any

import msgspec

from model.audit import AuditKind

_BODY = {"frozen": True, "array_like": True, "gc": False, "omit_defaults": False}


class OrderAccepted(msgspec.Struct, **_BODY):
    """A client order received and accepted (one record: receipt and decision are one input).
    ``bid``/``ask``: the consolidated quote the shard held at arrival (``None``: none), the
    reference of best execution. ``gateway``/``conn``: where it came from (the gateway's
    ``login`` record of that connection names the user and key). ``parent``: the block or
    strategy order it belongs to, if any."""

    account: str
    order_id: str
    client_order_id: str
    symbol: str
    side: str
    order_type: str
    tif: str
    qty: int | None
    notional: int | None
    price: int | None
    stop_price: int | None
    bid: int | None
    ask: int | None
    gateway: str = ""
    conn: int = 0
    parent: str | None = None


class OrderRejected(msgspec.Struct, **_BODY):
    """A client order received and refused: the terms as sent and the reason code and text."""

    account: str
    client_order_id: str
    symbol: str
    side: str
    order_type: str
    qty: int | None
    notional: int | None
    price: int | None
    reason: str
    text: str = ""
    gateway: str = ""
    conn: int = 0


class Routed(msgspec.Struct, **_BODY):
    """A child order sent to a venue for a parent order (``order_id``; for a block at the open,
    the block id, with ``account`` empty)."""

    account: str
    order_id: str
    venue: str
    child_id: str
    symbol: str
    side: str
    qty: int | None
    price: int | None


class Replaced(msgspec.Struct, **_BODY):
    """A replace accepted: the order's new client id and terms. ``new_order_id``: the id the
    order goes on under (its later fills and cancel name it; "" in records from before it)."""

    account: str
    order_id: str
    new_client_order_id: str
    qty: int | None
    price: int | None
    stop_price: int | None
    new_order_id: str = ""


class Canceled(msgspec.Struct, **_BODY):
    """An order done without (further) fills: canceled by the client, the venue, a kill, or
    expired. ``leaves``: the quantity that will not trade; ``reason``: who or why."""

    account: str
    order_id: str
    leaves: int
    reason: str = ""


class Fill(msgspec.Struct, **_BODY):
    """One execution of a client order: ``qty`` at ``price`` on ``venue`` (``exec_id``: the
    venue's or the shard's id of the execution), ``cash`` the money booked for it."""

    account: str
    order_id: str
    exec_id: str
    venue: str
    symbol: str
    side: str
    qty: int
    price: int
    cash: int


class Allocation(msgspec.Struct, **_BODY):
    """A block's fill booked to one account: the account's order, its share ``qty`` at the
    block's average ``price``, and ``cash`` booked (the allocations of a block sum to its fill)."""

    block: str
    account: str
    order_id: str
    symbol: str
    side: str
    qty: int
    price: int
    cash: int


class Transfer(msgspec.Struct, **_BODY):
    """A cash movement leg or decision: ``kind`` deposit, withdrawal or journal; ``status`` what
    it became (pending, settled, rejected, canceled); ``amount`` in cents; ``counterparty`` the
    other account of a journal."""

    transfer_id: str
    kind: str
    account: str
    amount: int
    status: str
    counterparty: str = ""
    reason: str = ""
    by: str = ""


class SecuritiesTransfer(msgspec.Struct, **_BODY):
    """Shares journaled between accounts, with the lots that moved (their ids)."""

    transfer_id: str
    from_account: str
    to_account: str
    symbol: str
    qty: int
    lots: list[str] = []
    status: str = ""


class AdminCommand(msgspec.Struct, **_BODY):
    """One admin command: who (``user``, ``key_id``, ``address``), what (``command`` and its
    ``args`` as typed, secrets never included), and the ``outcome`` (``ok`` or the error
    code) with its text."""

    user: str
    key_id: str
    address: str
    command: str
    args: list[str]
    outcome: str
    text: str = ""


class Login(msgspec.Struct, **_BODY):
    """A login attempt on a gateway: ``outcome`` ``ok`` or the refusal's code."""

    user: str
    key_id: str
    address: str
    gateway: str
    conn: int
    outcome: str
    reason: str = ""


BODY_TYPES: dict[AuditKind, type[msgspec.Struct]] = {
    AuditKind.ORDER_ACCEPTED: OrderAccepted,
    AuditKind.ORDER_REJECTED: OrderRejected,
    AuditKind.ROUTED: Routed,
    AuditKind.REPLACED: Replaced,
    AuditKind.CANCELED: Canceled,
    AuditKind.FILL: Fill,
    AuditKind.ALLOCATION: Allocation,
    AuditKind.TRANSFER: Transfer,
    AuditKind.SECURITIES_TRANSFER: SecuritiesTransfer,
    AuditKind.ADMIN_COMMAND: AdminCommand,
    AuditKind.LOGIN: Login,
}

_decoders = {kind: msgspec.msgpack.Decoder(body_type) for kind, body_type in BODY_TYPES.items()}


def decode_body(kind: str, body: bytes) -> Any:
    """The typed body of a record of ``kind`` (a plain msgpack value for a kind without a
    struct here, e.g. ``order_received`` of records written by an older version)."""
    decoder = _decoders.get(AuditKind(kind)) if kind in AuditKind._value2member_map_ else None
    if decoder is None:
        return msgspec.msgpack.decode(body)
    return decoder.decode(body)


def body_as_dict(kind: str, body: bytes) -> Any:
    """The body as a JSON-ready object with field names (for exports and reports)."""
    value = decode_body(kind, body)
    if isinstance(value, msgspec.Struct):
        return msgspec.structs.asdict(value)
    return value
