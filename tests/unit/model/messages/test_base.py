from __future__ import annotations

import msgspec
import pytest

from model.messages.base import MessageBase, Reply


class Probe(MessageBase, frozen=True, gc=False, tag=999):
    value: int


def test_a_message_is_frozen_and_encodes_as_a_tagged_array() -> None:
    probe = Probe(7)
    with pytest.raises(AttributeError):
        probe.value = 8  # type: ignore[misc]
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(probe)) == [999, 7]


def test_a_reply_is_an_array_of_gateway_connection_and_request_id() -> None:
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(Reply("gateway-0", 3, b"7"))) == ["gateway-0", 3, b"7"]
    assert Reply("gateway-0", 3).request == b""
