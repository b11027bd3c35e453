"""A checked basket: its orders as columns, split by the shard that owns each account into
chunks (``LoadOrders``' orders), and the chunks as bytes to pass between processes."""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import numpy as np

from model.messages.bulk import OrderColumns


class Basket:
    """A checked basket: its orders in file order, as columns (numpy object arrays, so any
    subset of rows is gathered at once), and each row's account as a code into
    ``account_names`` (its distinct accounts)."""

    def __init__(self, columns: dict[str, np.ndarray], account_codes: np.ndarray, account_names: list[str]) -> None:
        self.columns = columns
        self.account_codes = account_codes
        self.account_names = account_names

    def __len__(self) -> int:
        return len(self.account_codes)

    def orders(self, rows: np.ndarray | None = None) -> OrderColumns:
        """The orders of ``rows`` (indexes, in the order given; ``None``: all)."""
        picked = self.columns if rows is None else {name: values[rows] for name, values in self.columns.items()}
        return OrderColumns(**{name: values.tolist() for name, values in picked.items()})

    def chunks(self, shard_of: Callable[[str], str], size: int) -> list[tuple[str, OrderColumns]]:
        """The orders split by the shard that owns their account (``shard_of``), each shard's
        in file order, in chunks of at most ``size``: ``(shard, orders)``, shard by shard."""
        shards = [shard_of(account) for account in self.account_names]
        names = sorted(set(shards))
        code_of = {name: code for code, name in enumerate(names)}
        shard_codes = np.array([code_of[shard] for shard in shards] or [0], dtype=np.int64)[self.account_codes]
        found: list[tuple[str, OrderColumns]] = []
        for code, name in enumerate(names):
            rows = np.flatnonzero(shard_codes == code)
            for start in range(0, len(rows), size):
                found.append((name, self.orders(rows[start : start + size])))
        return found


_CHUNKS_ENCODER = msgspec.msgpack.Encoder()
_CHUNKS_DECODER = msgspec.msgpack.Decoder(list[tuple[str, OrderColumns]])


def encode_chunks(chunks: list[tuple[str, OrderColumns]]) -> bytes:
    """``Basket.chunks`` as bytes, to hand them to another process (msgpack: far quicker than a pickle)."""
    return _CHUNKS_ENCODER.encode(chunks)


def decode_chunks(data: bytes) -> list[tuple[str, OrderColumns]]:
    return _CHUNKS_DECODER.decode(data)
