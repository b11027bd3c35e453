"""A checked basket: its orders as compact columns, split by the shard that owns each
account into chunks (``LoadOrders``' orders), each chunk kept as its encoded bytes until it
is sent.

Why compact: a basket of a million orders is checked in one process and loaded through
another; as Python objects (a string per client order id, an int per amount, a list slot
per field) it costs some 200 bytes per order in each, and more while it is split. Here an
order is a few codes and ints in numpy arrays and its id in an Arrow string array (about
40 bytes), and a chunk becomes Python objects only for the moment it is encoded, and again
at the gateway only when it is sent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import msgspec
import numpy as np
import pyarrow as pa

from model.messages.bulk import OrderColumns

_COLUMNS_ENCODER = msgspec.msgpack.Encoder()
_COLUMNS_DECODER = msgspec.msgpack.Decoder(OrderColumns)


class Coded(NamedTuple):
    """A column of few distinct values: each row's code into ``values`` (an object array:
    the rows of a chunk gathered at once, each value one shared object)."""

    codes: np.ndarray
    values: np.ndarray

    @classmethod
    def of(cls, codes: np.ndarray, values: Sequence[object]) -> Coded:
        table = np.empty(max(len(values), 1), dtype=object)
        table[: len(values)] = list(values)
        return cls(codes, table)

    def take(self, rows: np.ndarray) -> list[object]:
        picked: list[object] = self.values[self.codes[rows]].tolist()
        return picked


class Amounts(NamedTuple):
    """A column of fixed-point ints (``model.fixed``), ``None`` where not ``given``."""

    values: np.ndarray  # int64
    given: np.ndarray  # bool

    def take(self, rows: np.ndarray) -> list[int | None]:
        given = self.given[rows]
        if not given.any():
            return [None] * len(rows)
        values = self.values[rows].astype(object)
        values[~given] = None
        picked: list[int | None] = values.tolist()
        return picked


class Text(NamedTuple):
    """A column of strings as Arrow holds them (offsets and bytes: no object per row)."""

    array: pa.Array

    def take(self, rows: np.ndarray) -> list[str]:
        picked: list[str] = self.array.take(pa.array(rows, pa.int64())).to_pylist()
        return picked


Column = Coded | Amounts | Text
FIELDS = tuple(OrderColumns.__struct_fields__)


class Chunk(NamedTuple):
    """One chunk of a basket on its way: the shard it goes to, how many orders it holds,
    and its ``OrderColumns`` encoded (msgpack), decoded only when it is sent."""

    shard: str
    rows: int
    data: bytes | msgspec.Raw

    def orders(self) -> OrderColumns:
        return _COLUMNS_DECODER.decode(self.data)


class Basket:
    """A checked basket: its orders in file order as compact columns, one per field of
    ``OrderColumns`` (``accounts`` coded into ``account_names``, the basket's distinct
    accounts)."""

    def __init__(self, columns: dict[str, Column], account_names: list[str]) -> None:
        assert set(columns) == set(FIELDS), sorted(columns)
        self.columns = columns
        self.account_names = account_names

    @property
    def account_codes(self) -> np.ndarray:
        accounts = self.columns["accounts"]
        assert isinstance(accounts, Coded)
        return accounts.codes

    def __len__(self) -> int:
        return len(self.account_codes)

    def orders(self, rows: np.ndarray | None = None) -> OrderColumns:
        """The orders of ``rows`` (indexes, in the order given; ``None``: all), as Python objects."""
        picked = np.arange(len(self)) if rows is None else np.asarray(rows, dtype=np.int64)
        fields: dict[str, Any] = {name: self.columns[name].take(picked) for name in FIELDS}
        return OrderColumns(**fields)

    def chunks(self, shard_of: Callable[[str], str], size: int) -> list[Chunk]:
        """The orders split by the shard that owns their account (``shard_of``), each shard's
        in file order, in chunks of at most ``size``, shard by shard; each chunk encoded as
        it is made (one chunk's Python objects at a time)."""
        shards = [shard_of(account) for account in self.account_names]
        names = sorted(set(shards))
        code_of = {name: code for code, name in enumerate(names)}
        shard_codes = np.array([code_of[shard] for shard in shards] or [0], dtype=np.int32)[self.account_codes]
        found: list[Chunk] = []
        for code, name in enumerate(names):
            rows = np.flatnonzero(shard_codes == code)
            for start in range(0, len(rows), size):
                part = rows[start : start + size]
                found.append(Chunk(name, len(part), _COLUMNS_ENCODER.encode(self.orders(part))))
        return found


_CHUNKS_ENCODER = msgspec.msgpack.Encoder()
_CHUNKS_DECODER = msgspec.msgpack.Decoder(list[tuple[str, int, msgspec.Raw]])


def encode_chunks(chunks: list[Chunk]) -> bytes:
    """``Basket.chunks`` as bytes, to hand them to another process (each chunk's bytes as
    they are: nothing decoded or encoded again)."""
    return _CHUNKS_ENCODER.encode([(chunk.shard, chunk.rows, msgspec.Raw(chunk.data)) for chunk in chunks])


def decode_chunks(data: bytes) -> list[Chunk]:
    """What ``encode_chunks`` wrote; each chunk's bytes copied out of ``data`` (so each is
    freed once sent, and ``data`` at once), its orders still encoded."""
    return [Chunk(shard, rows, raw.copy()) for shard, rows, raw in _CHUNKS_DECODER.decode(data)]
