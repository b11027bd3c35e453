"""How many of an InstrumentActor's batches to an account shard are on the wire at once.

The open's allocations are made far faster than a shard books them (one ``OrderUpdate``
per order). Written at once, they would all wait at the shard, decoded, until it reached
them: a backlog of about the whole open, whose objects, freed among the booked orders'
records, leave the shard's heap full of holes it keeps (measured at 1,000,000 orders: the
shards' resident memory after booking 0.89 → 0.60 GB each with a window of 32). Within a
window they wait as the bytes the outbox keeps anyway until they are acked.
"""

from __future__ import annotations

from collections.abc import Iterable


class SendWindow:
    """Per destination, the last seq written to its current link; ``due`` says which of its
    unacked batches to write now so that at most ``size`` are written and not acked.

    Guarantees: batches are written in seq order, each once per link (again after
    ``reopened``, from the first unacked); nothing is ever skipped: a batch beyond the window
    is written by a later ``due``, after the acks that make room for it."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("a window holds at least one batch")
        self.size = size
        self.written: dict[str, int] = {}

    def due(self, name: str, unacked: Iterable[tuple[int, bytes]]) -> list[bytes]:
        """The batches of ``unacked`` (the outbox's queue for ``name``: consecutive seqs in
        order, the acked ones already dropped) to write now, in order."""
        found: list[bytes] = []
        acked = written = None
        for seq, data in unacked:
            if acked is None:
                acked = seq - 1  # the first unacked follows the last ack
                written = self.written.get(name, acked)
            assert written is not None
            if seq <= written:
                continue
            if seq - acked > self.size:
                break
            found.append(data)
            written = seq
        if written is not None:
            self.written[name] = written
        return found

    def reopened(self, name: str) -> None:
        """``name``'s link opened again: what was written before may be lost."""
        self.written.pop(name, None)
