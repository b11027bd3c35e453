"""Many WebSocket text frames in one transport write, over a real connection on loopback."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from server.gateway.wsio import BATCH_BYTES, frame_texts, json_arrays, text_frame_header, write_frames
from tests.unit.server.gateway.harness import socket_pair


def recorded_writes(socket: Any) -> list[bytes]:
    """What ``socket``'s transport is given to write from now on, one entry per write call."""
    writes: list[bytes] = []
    real_write = socket.transport.write

    def kept(data: Any) -> None:
        writes.append(bytes(data))
        real_write(data)

    socket.transport.write = kept
    return writes


async def test_frames_arrive_as_text_frames_in_order_from_one_transport_write() -> None:
    async with socket_pair() as (socket, client):
        writes = recorded_writes(socket)
        frames = [b'{"n":%d}' % index for index in range(100)]
        await write_frames(socket, frames)
        received = [await asyncio.wait_for(client.recv(), 5) for _ in frames]
        assert received == [frame.decode() for frame in frames]  # str: text frames
        assert len(writes) == 1 and len(writes[0]) > sum(map(len, frames))  # framing added, all in one write


@pytest.mark.parametrize("length", [0, 1, 125, 126, 127, 414, 4095, 4096, 65535, 65536, 70000])  # 4096: where the table of headers ends
def test_a_frame_is_framed_byte_for_byte_as_websockets_frames_it_on_a_server(length: int) -> None:
    payload = b"x" * length
    assert text_frame_header(length) + payload == Frame(Opcode.TEXT, payload).serialize(mask=False)
    assert frame_texts([payload, b"{}"]) == Frame(Opcode.TEXT, payload).serialize(mask=False) + Frame(Opcode.TEXT, b"{}").serialize(mask=False)


async def test_frames_of_every_length_class_arrive_whole_and_in_order() -> None:
    async with socket_pair() as (socket, client):
        frames = [b'"' + b"y" * size + b'"' for size in (0, 123, 124, 125, 65533, 65534, 100_000)]
        await write_frames(socket, frames)
        received = [await asyncio.wait_for(client.recv(), 5) for _ in frames]
        assert received == [frame.decode() for frame in frames]


async def test_a_pong_websockets_queued_goes_out_first_in_the_same_write() -> None:
    async with socket_pair() as (socket, client):
        writes = recorded_writes(socket)
        socket.protocol.send_pong(b"p")  # queued in the protocol object, not written yet
        await write_frames(socket, [b'{"after":1}'])
        assert writes == [Frame(Opcode.PONG, b"p").serialize(mask=False) + text_frame_header(11) + b'{"after":1}']
        assert await asyncio.wait_for(client.recv(), 5) == '{"after":1}'


async def test_the_write_waits_while_the_peer_reads_nothing_and_finishes_once_it_reads() -> None:
    async with socket_pair(max_queue=1) as (socket, client):
        frames = [b'"' + b"x" * (256 * 1024) + b'"' for _ in range(64)]  # 16 MiB: more than loopback buffers hold
        writing = asyncio.create_task(write_frames(socket, frames))
        await asyncio.sleep(0.3)
        assert not writing.done()  # flow control: waits for the peer instead of growing the buffer
        received = [await asyncio.wait_for(client.recv(), 10) for _ in frames]
        await asyncio.wait_for(writing, 10)
        assert len(received) == len(frames)


async def test_a_closed_connection_raises_connection_closed_and_writes_nothing() -> None:
    async with socket_pair() as (socket, client):
        await client.close()
        await asyncio.wait_for(socket.wait_closed(), 5)
        assert socket.protocol.state is State.CLOSED
        with pytest.raises(ConnectionClosed):
            await write_frames(socket, [b'{"late":true}'])


async def test_a_closing_connection_raises_connection_closed() -> None:
    async with socket_pair() as (socket, client):
        socket.protocol.send_close(1000, "bye")  # closing: our close frame is out, the peer's not yet in
        assert socket.protocol.state is State.CLOSING
        with pytest.raises(ConnectionClosed):
            await write_frames(socket, [b'{"late":true}'])


def message(index: int, size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes (at least 20)."""
    head = b'{"n":%d,"pad":"' % index
    return head + b"x" * (size - len(head) - 2) + b'"}'


@pytest.mark.parametrize(
    ("sizes", "limit"),
    [
        ([30] * 10, BATCH_BYTES),  # everything fits: one array
        ([30] * 10, 100),  # three messages an array (3 × 31 + 1 = 94), the last array one message
        ([30, 200, 30, 30], 100),  # a message bigger than the limit goes alone
        ([99], 100),  # "[" + 99 bytes + "]" is over the limit: alone, still whole
        ([49, 49], 100),  # exactly the limit: 1 + 49 + 1 + 49 + 1 = 101 > 100, so two arrays
        ([48, 49], 100),  # 1 + 48 + 1 + 49 + 1 = 100: one array
    ],
)
def test_messages_go_in_order_in_arrays_within_the_limit_unless_one_alone_is_larger(sizes: list[int], limit: int) -> None:
    messages = [message(index, size) for index, size in enumerate(sizes)]
    arrays = json_arrays(messages, sum(sizes), limit)
    decoded = [json.loads(array) for array in arrays]
    assert [item for array in decoded for item in array] == [json.loads(item) for item in messages]
    assert all(len(array) <= limit or len(items) == 1 for array, items in zip(arrays, decoded, strict=True))
    assert b"".join(arrays) == b"".join(b"[" + b",".join(run) + b"]" for run in _runs(decoded, messages))


def _runs(decoded: list[list[object]], messages: list[bytes]) -> list[list[bytes]]:
    """``messages`` cut where ``decoded``'s arrays end (what each array's bytes must be)."""
    runs, at = [], 0
    for items in decoded:
        runs.append(messages[at : at + len(items)])
        at += len(items)
    return runs


def test_arrays_are_as_few_as_the_limit_allows() -> None:
    messages = [message(index, 30) for index in range(10)]
    assert len(json_arrays(messages, 300, 100)) == 4  # 3 + 3 + 3 + 1
    assert len(json_arrays(messages, 300, 311)) == 1  # 1 + 10 × 31 = 311
    assert len(json_arrays(messages, 300, 310)) == 2
