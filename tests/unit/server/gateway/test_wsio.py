"""Many WebSocket text frames in one transport write, over a real connection on loopback."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from server.gateway.wsio import frame_texts, text_frame_header, write_frames
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
