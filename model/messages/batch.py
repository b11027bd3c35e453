"""What one actor hop carries: a ``Batch`` of messages, and its msgpack encoding."""

from __future__ import annotations

from typing import Union

import msgspec

from model.messages.books import BooksMessage
from model.messages.bulk import BulkMessage
from model.messages.client import ClientMessage
from model.messages.control import ControlMessage
from model.messages.desk import DeskMessage
from model.messages.risk import RiskMessage
from model.messages.routing import RoutingMessage
from model.messages.statements import StatementMessage
from model.messages.strategies import StrategyMessage
from model.messages.transfers import TransferMessage

__all__ = ["Batch", "Message", "batch_prefix", "decode_batch", "encode_batch"]

# Every message a hop may carry: each direction's module keeps its own list.
Message = Union[ClientMessage, BulkMessage, RoutingMessage, ControlMessage, TransferMessage, BooksMessage, StatementMessage, RiskMessage, StrategyMessage, DeskMessage]


class Batch(msgspec.Struct, frozen=True, array_like=True):
    """What one actor hop carries: ``seq`` counts batches from ``sender`` to one receiver."""

    sender: str
    seq: int
    ts: int
    messages: list[Message]


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Batch)


def encode_batch(batch: Batch) -> bytes:
    return _encoder.encode(batch)


def decode_batch(data: bytes) -> Batch:
    return _decoder.decode(data)


def batch_prefix(sender: str) -> bytes:
    """The bytes every encoded ``Batch`` from ``sender`` begins with: a four-element array
    (msgpack fixarray) whose first element is the sender's name. A link checks this on every
    batch, so an authenticated peer cannot slip in batches under another actor's name."""
    return b"\x94" + _encoder.encode(sender)
