"""The shard's orders by order id, in two tiers: an order that may change soon is a live
``OrderRecord`` (hot); an order at rest is kept as its msgpack encoding (cold).

Why: at the open a shard holds millions of orders that nothing touches for hours — queued
for the open, then booked (terminal). As ``OrderRecord`` structs they cost some 600-800
bytes each (the struct, its ``OrderSpec``, ids and Python ints); as one ``bytes`` object of
their encoding about 180-250. The encoding is exactly what a snapshot and ``state_hash``
write for the record, so a snapshot embeds a cold order's bytes as they are (no decode, no
re-encode) and a snapshot taken while the shard goes on keeps only references to them.

How: ``get`` (and ``[]``) thaw a cold order into a record and keep it hot; the caller may
change it. ``settle`` — called by the core after each message — freezes back every order
made hot since, if it is at rest (``at_rest``). Reads that change nothing use ``peek`` and
``values``: a cold order is thawed into a copy that is not kept.

Guarantees:

* ``thaw(freeze(record)) == record`` for every record, and ``freeze`` of a record is the
  bytes msgpack gives for it anywhere (``state_hash`` and snapshots see no difference
  between a hot and a cold order).
* The order of the orders is the order they were added in (a dict's), whatever their tier:
  thawing or freezing an order replaces its value in place.
* A record obtained by ``get``/``[]`` is the order until the next ``settle``; a record from
  ``peek``/``values`` may be a copy: changing it changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import msgspec

from actors.account.records import OrderRecord
from model.enums import TimeInForce
from model.lifecycle import Pending

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(OrderRecord)
_NONE, _OPG = Pending.NONE, TimeInForce.OPG  # read on every settle, bound once (model/enums.py says why)


def freeze(record: OrderRecord) -> bytes:
    """An order's cold form: its msgpack encoding, the bytes a snapshot holds for it."""
    return _encoder.encode(record)


def thaw(data: bytes | memoryview | msgspec.Raw) -> OrderRecord:
    """The record ``freeze`` (or a snapshot) encoded. Raises ``msgspec.DecodeError``."""
    return _decoder.decode(data)


def at_rest(record: OrderRecord) -> bool:
    """Whether an order is kept cold: nothing in flight (no cancel or replace asked) and
    either ended (filled, canceled, expired, rejected: only a query reads it again) or
    waiting for the open (one allocation touches it, once). An open order of the continuous
    session stays hot: its next report may come any moment."""
    return record.pending is _NONE and (not record.status.is_open or record.spec.tif is _OPG)


class Orders:
    """Order id → order, hot or cold (see the module's docstring). Not a dict: writing to a
    record that ``peek`` or ``values`` gave would be lost, so mutation goes through ``get``."""

    __slots__ = ("_by_id", "_touched")

    def __init__(self) -> None:
        self._by_id: dict[str, OrderRecord | bytes] = {}
        self._touched: list[str] = []  # ids made hot since the last ``settle``

    # --- the order, to change it ----------------------------------------------------------------

    def get(self, order_id: str) -> OrderRecord | None:
        """The order, hot (thawed and kept so until ``settle``, which looks at it again:
        what the caller does may bring it to rest), or ``None``."""
        value = self._by_id.get(order_id)
        if value is None:
            return None
        self._touched.append(order_id)
        if value.__class__ is not bytes:
            return value  # type: ignore[return-value]
        record = _decoder.decode(value)  # type: ignore[arg-type]
        self._by_id[order_id] = record  # in place: the order keeps its position
        return record

    def __getitem__(self, order_id: str) -> OrderRecord:
        record = self.get(order_id)
        if record is None:
            raise KeyError(order_id)
        return record

    def __setitem__(self, order_id: str, record: OrderRecord) -> None:
        """A new order (at the end of the order), or a hot order set again (in place)."""
        self._by_id[order_id] = record
        self._touched.append(order_id)

    def settle(self) -> int:
        """Freeze the orders made hot since the last call that are at rest; returns how many."""
        touched = self._touched
        if not touched:
            return 0
        by_id, frozen = self._by_id, 0
        for order_id in touched:
            value = by_id.get(order_id)
            if value is not None and value.__class__ is not bytes and at_rest(value):  # type: ignore[arg-type]  # (an id twice: frozen once)
                by_id[order_id] = _encoder.encode(value)
                frozen += 1
        touched.clear()
        return frozen

    def each(self, order_ids: Iterable[str]) -> Iterator[OrderRecord | None]:
        """Each of ``order_ids``'s orders in turn, hot, to change (``None`` for an unknown
        id): what ``get`` then ``settle`` per order do, in fewer steps — an allocation's
        chunk changes thousands of orders once each. When the caller asks for the next, the
        order it was given is frozen if at rest, else kept hot (and reached by ``settle``
        as usual); so is the last one when the loop ends or breaks."""
        by_id, touched = self._by_id, self._touched
        decode, encode = _decoder.decode, _encoder.encode
        for order_id in order_ids:
            value = by_id.get(order_id)
            if value is None:
                yield None
                continue
            record: OrderRecord = decode(value) if value.__class__ is bytes else value  # type: ignore[assignment,arg-type]
            by_id[order_id] = record
            try:
                yield record
            finally:
                if at_rest(record):
                    by_id[order_id] = encode(record)
                else:
                    touched.append(order_id)

    # --- reads that change nothing ------------------------------------------------------------

    def peek(self, order_id: str) -> OrderRecord | None:
        """The order as it stands, to read: a cold one thawed into a copy, not kept."""
        value = self._by_id.get(order_id)
        if value.__class__ is bytes:
            return _decoder.decode(value)  # type: ignore[arg-type]
        return value  # type: ignore[return-value]

    def values(self) -> Iterator[OrderRecord]:
        """Every order in order, to read (cold ones thawed one at a time, not kept)."""
        decode = _decoder.decode
        for value in self._by_id.values():
            yield decode(value) if value.__class__ is bytes else value  # type: ignore[misc,arg-type]

    def items(self) -> Iterator[tuple[str, OrderRecord]]:
        """Every ``(order id, order)`` in order, to read, like ``values``."""
        decode = _decoder.decode
        for order_id, value in self._by_id.items():
            yield order_id, decode(value) if value.__class__ is bytes else value  # type: ignore[misc,arg-type]

    def encoded(self) -> list[bytes]:
        """Every order's encoding, in order: the cold ones' own bytes (references, no copy)
        and the hot ones encoded now. What a snapshot writes; immutable once taken."""
        encode = _encoder.encode
        return [value if value.__class__ is bytes else encode(value) for value in self._by_id.values()]  # type: ignore[misc]

    def as_dict(self) -> dict[str, OrderRecord]:
        """Every order by id, each a copy (to compare states in checks and tests)."""
        return {order_id: msgspec.structs.replace(order) for order_id, order in self.items()}

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._by_id

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_id)

    def hot(self) -> int:
        """How many orders are hot (live records) now."""
        return sum(1 for value in self._by_id.values() if value.__class__ is not bytes)

    # --- building -----------------------------------------------------------------------------

    def add_restored(self, order_id: str, record: OrderRecord) -> None:
        """An order read from a snapshot, in order: kept cold if at rest, else hot."""
        self._by_id[order_id] = _encoder.encode(record) if at_rest(record) else record
