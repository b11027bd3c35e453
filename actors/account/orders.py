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

**Orders for the open are parked by symbol.** A cold order waiting for the open is not a
``bytes`` object of its own but its encoding written into a chunk of its symbol's orders
(``_Chunk``: about 8 KB of encodings, and an index of 16 bytes per order — its id's hash,
where its encoding starts, its length). The order's value in the dict is the chunk,
shared by the orders in it; a lookup finds the entry by the hash and checks the decoded
record's id. Why: the open releases orders symbol by symbol, so the allocations free them in
that order, not the order they were queued in. As objects of their own, each one freed
left a hole among the objects made beside it when it was queued (its id, its client order
id), and those holes stayed with the process until the end of the open: at the end of
booking a shard held its whole queued book a second time, as free space. Parked, a
symbol's orders leave together: a chunk is freed with its last order, and the memory goes
back while the booking goes on. Costs: 0.5–0.8 µs more to park an order, 1.0–1.4 µs more to
take it out; a snapshot copies a parked order's bytes out of its chunk (it references a
cold order's).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator

import msgspec

from actors.account.records import OrderRecord
from model.enums import TimeInForce
from model.lifecycle import Pending

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(OrderRecord)
_NONE, _OPG = Pending.NONE, TimeInForce.OPG  # read on every settle, bound once (model/enums.py says why)

# A parked order in its chunk: its encoding in ``data``, and in ``index`` an entry of 16 bytes:
# its id's hash (the str's own, cached on it), where its encoding starts and how long it
# is. An order that has left has the hash of its entry zeroed.
_ENTRY = struct.Struct("<qII")
_HASH = struct.Struct("<q")
_HEADER_BYTES = 1 if len(OrderRecord.__struct_fields__) < 16 else 3  # an encoding's array header; its order id follows
_CHUNK_BYTES = 8192  # a symbol's chunk takes orders until it holds this many bytes


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


class _Chunk:
    """Parked orders of one symbol (see the module's docstring): ``live`` of them still here."""

    __slots__ = ("data", "index", "live", "symbol")

    def __init__(self, symbol: str) -> None:
        self.data = bytearray()
        self.index = bytearray()
        self.live = 0
        self.symbol = symbol

    def add(self, order_id: str, encoded: bytes) -> None:
        data = self.data
        self.index += _ENTRY.pack(hash(order_id), len(data), len(encoded))
        data += encoded
        self.live += 1

    def find(self, order_id: str, decode: bool = True) -> tuple[int, int, int, OrderRecord | None]:
        """``order_id``'s entry, where its encoding is and the record it decodes to:
        ``(entry, start, end, record)``. The entry is found by the id's hash, then the id
        checked (hashes may collide): the decoded record's, or with ``decode=False`` (who
        wants the bytes alone: a snapshot) the encoding's, and ``record`` is ``None``.
        ``KeyError``: not here (a broken invariant: the order's value is this chunk)."""
        index, data = self.index, self.data
        key = _HASH.pack(hash(order_id))
        encoded_id = None if decode else _encoder.encode(order_id)
        at = index.find(key)
        while at >= 0:
            if not at & 15:
                _hash, start, length = _ENTRY.unpack_from(index, at)
                if encoded_id is not None:
                    if data.startswith(encoded_id, start + _HEADER_BYTES):
                        return at, start, start + length, None
                else:
                    record: OrderRecord = _decoder.decode(data[start : start + length])
                    if record.order_id == order_id:
                        return at, start, start + length, record
            at = index.find(key, at + 1)
        raise KeyError(order_id)

    def take(self, order_id: str) -> OrderRecord:
        """The order, out of the chunk (its entry zeroed)."""
        at, _start, _end, record = self.find(order_id)
        _HASH.pack_into(self.index, at, 0)
        self.live -= 1
        return record  # type: ignore[return-value]  # decoded


_Value = OrderRecord | bytes | _Chunk


class Orders:
    """Order id → order, hot or cold (see the module's docstring). Not a dict: writing to a
    record that ``peek`` or ``values`` gave would be lost, so mutation goes through ``get``."""

    __slots__ = ("_by_id", "_touched", "_parking")

    def __init__(self) -> None:
        self._by_id: dict[str, _Value] = {}
        self._touched: list[str] = []  # ids made hot since the last ``settle``
        self._parking: dict[str, _Chunk] = {}  # symbol → the chunk its next parked order goes to

    # --- the tiers ----------------------------------------------------------------------------

    def _cold(self, order_id: str, record: OrderRecord) -> bytes | _Chunk:
        """A record at rest (``at_rest``), made cold: parked if it waits for the open, else its bytes."""
        return self._park(order_id, record) if record.status.is_open else _encoder.encode(record)

    def _park(self, order_id: str, record: OrderRecord) -> bytes | _Chunk:
        """An order for the open at rest, into its symbol's chunk (its bytes, if its key is
        not its id: a chunk finds an order by the id in its encoding)."""
        encoded = _encoder.encode(record)
        if record.order_id != order_id:
            return encoded
        symbol = record.spec.symbol
        chunk = self._parking.get(symbol)
        if chunk is None:
            chunk = self._parking[symbol] = _Chunk(symbol)
        chunk.add(order_id, encoded)
        if len(chunk.data) >= _CHUNK_BYTES:
            del self._parking[symbol]  # full: freed by its orders as they leave
        return chunk

    def _unpark(self, order_id: str, chunk: _Chunk) -> OrderRecord:
        """The parked order, out of its chunk (its entry there zeroed)."""
        record = chunk.take(order_id)
        if not chunk.live and self._parking.get(chunk.symbol) is chunk:
            del self._parking[chunk.symbol]  # empty: let it go (the next parked order starts a new one)
        return record

    def _thawed(self, order_id: str, value: _Value) -> OrderRecord:
        """A cold value's record, to keep (a parked order leaves its chunk)."""
        if value.__class__ is bytes:
            return _decoder.decode(value)  # type: ignore[arg-type]
        return self._unpark(order_id, value)  # type: ignore[arg-type]

    @staticmethod
    def _copy(order_id: str, value: _Value) -> OrderRecord:
        """A cold value's record, to read (nothing changes)."""
        if value.__class__ is bytes:
            return _decoder.decode(value)  # type: ignore[arg-type]
        chunk: _Chunk = value  # type: ignore[assignment]
        return chunk.find(order_id)[3]  # type: ignore[return-value]  # decoded

    @staticmethod
    def _encoding(order_id: str, value: _Value) -> bytes:
        """A value's encoding: a cold order's own bytes, a parked one's copied out, a hot one's made now."""
        cls = value.__class__
        if cls is bytes:
            return value  # type: ignore[return-value]
        if cls is _Chunk:
            chunk: _Chunk = value  # type: ignore[assignment]
            _entry, start, end, _none = chunk.find(order_id, decode=False)  # the bytes alone: nothing decoded
            return bytes(chunk.data[start:end])
        return _encoder.encode(value)

    # --- the order, to change it ----------------------------------------------------------------

    def get(self, order_id: str) -> OrderRecord | None:
        """The order, hot (thawed and kept so until ``settle``, which looks at it again:
        what the caller does may bring it to rest), or ``None``."""
        value = self._by_id.get(order_id)
        if value is None:
            return None
        self._touched.append(order_id)
        if value.__class__ is OrderRecord:
            return value  # type: ignore[return-value]
        record = self._thawed(order_id, value)
        self._by_id[order_id] = record  # in place: the order keeps its position
        return record

    def __getitem__(self, order_id: str) -> OrderRecord:
        record = self.get(order_id)
        if record is None:
            raise KeyError(order_id)
        return record

    def __setitem__(self, order_id: str, record: OrderRecord) -> None:
        """A new order (at the end of the order), or an order set again (in place)."""
        by_id = self._by_id
        old = by_id.get(order_id)
        if old is not None and old.__class__ is _Chunk:
            self._unpark(order_id, old)  # type: ignore[arg-type]
        by_id[order_id] = record
        self._touched.append(order_id)

    def settle(self) -> int:
        """Freeze the orders made hot since the last call that are at rest; returns how many."""
        touched = self._touched
        if not touched:
            return 0
        by_id, frozen = self._by_id, 0
        for order_id in touched:
            value = by_id.get(order_id)
            if value.__class__ is OrderRecord and at_rest(value):  # type: ignore[arg-type]  # (an id twice: frozen once)
                by_id[order_id] = self._cold(order_id, value)  # type: ignore[arg-type]
                frozen += 1
        touched.clear()
        return frozen

    def each(self, order_ids: Iterable[str]) -> Iterator[OrderRecord | None]:
        """Each of ``order_ids``'s orders in turn, hot, to change (``None`` for an unknown
        id): what ``get`` then ``settle`` per order do, in fewer steps — an allocation's
        chunk changes thousands of orders once each. When the caller asks for the next, the
        order it was given is frozen if at rest, else kept hot (and reached by ``settle``
        as usual); so is the last one when the loop ends or breaks."""
        by_id, touched, decode, encode = self._by_id, self._touched, _decoder.decode, _encoder.encode
        for order_id in order_ids:
            value = by_id.get(order_id)
            if value is None:
                yield None
                continue
            cls = value.__class__
            record: OrderRecord = value if cls is OrderRecord else decode(value) if cls is bytes else self._unpark(order_id, value)  # type: ignore[assignment,arg-type]
            by_id[order_id] = record
            try:
                yield record
            finally:
                # ``at_rest``, inline: an allocation's chunk comes here for every order
                if record.pending is not _NONE:
                    touched.append(order_id)
                elif not record.status.is_open:
                    by_id[order_id] = encode(record)
                elif record.spec.tif is _OPG:
                    by_id[order_id] = self._park(order_id, record)
                else:
                    touched.append(order_id)

    # --- reads that change nothing ------------------------------------------------------------

    def peek(self, order_id: str) -> OrderRecord | None:
        """The order as it stands, to read: a cold one thawed into a copy, not kept."""
        value = self._by_id.get(order_id)
        if value is None or value.__class__ is OrderRecord:
            return value  # type: ignore[return-value]
        return self._copy(order_id, value)

    def values(self) -> Iterator[OrderRecord]:
        """Every order in order, to read (cold ones thawed one at a time, not kept)."""
        for _order_id, record in self.items():
            yield record

    def items(self) -> Iterator[tuple[str, OrderRecord]]:
        """Every ``(order id, order)`` in order, to read (cold ones thawed one at a time, not kept)."""
        copy = self._copy
        for order_id, value in self._by_id.items():
            yield order_id, value if value.__class__ is OrderRecord else copy(order_id, value)  # type: ignore[misc]

    def encoded(self) -> list[bytes]:
        """Every order's encoding, in order: the cold ones' own bytes (references, no copy),
        the parked ones' copied out of their chunks and the hot ones encoded now. What a
        snapshot writes; immutable once taken."""
        encoding = self._encoding
        return [encoding(order_id, value) for order_id, value in self._by_id.items()]

    def encodings(self) -> Iterator[bytes]:
        """What ``encoded`` gives, one at a time (to hash the book without a copy of it)."""
        encoding = self._encoding
        for order_id, value in self._by_id.items():
            yield encoding(order_id, value)

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
        return sum(1 for value in self._by_id.values() if value.__class__ is OrderRecord)

    def parked(self) -> int:
        """How many orders wait for the open parked in their symbols' chunks."""
        return sum(1 for value in self._by_id.values() if value.__class__ is _Chunk)

    # --- building -----------------------------------------------------------------------------

    def add_restored(self, order_id: str, record: OrderRecord) -> None:
        """An order read from a snapshot, in order: kept cold if at rest, else hot."""
        self._by_id[order_id] = self._cold(order_id, record) if at_rest(record) else record
