"""What every message is: a frozen, ``array_like`` msgspec Struct with a small integer tag
(unique across ``model.messages``), so a batch encodes to compact msgpack once and the same
bytes are what the journal stores; and ``Reply``, where the answer to a client request goes."""

from __future__ import annotations

from typing import ClassVar

import msgspec

__all__ = ["MessageBase", "Reply"]


class MessageBase(msgspec.Struct, frozen=True, array_like=True, tag=True, gc=False):
    """Every message's base. A subclass names its ``tag``: never reuse or renumber one (the
    journal holds them).

    ``many``: a message that carries many orders in columns says so, and ``carried`` says how
    many: a journaled actor's batches hold at most ``[batching] max_messages`` rows, not
    messages (``actors/runtime/outbox.py``)."""

    many: ClassVar[bool] = False

    def carried(self) -> int:
        """The orders this message carries: one, unless ``many``."""
        return 1


class Reply(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """Where the answer to a client request goes: gateway, connection, and the request's raw
    JSON ``id`` (``b""`` when the client sent none)."""

    gateway: str
    conn: int
    request: bytes = b""
