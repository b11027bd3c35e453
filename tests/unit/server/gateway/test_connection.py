"""A connection's outgoing queue and its writer, over a real WebSocket on loopback."""

from __future__ import annotations

import asyncio
import json

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from server.gateway.connection import Connection, write_queued
from server.gateway.ratelimit import TokenBucket
from tests.unit.server.gateway.harness import socket_pair


async def closed_with(client: ClientConnection) -> tuple[int | None, str | None]:
    """Read until the server closes; the close code and reason the client got."""
    try:
        async with asyncio.timeout(5):
            while True:
                await client.recv()
    except ConnectionClosed as closed:
        assert closed.rcvd is not None
        return closed.rcvd.code, closed.rcvd.reason


async def test_frames_queued_together_arrive_in_order_and_the_queue_empties() -> None:
    async with socket_pair() as (socket, client):
        conn = Connection(1, socket, TokenBucket(1, 1), max_pending=100)
        writer = asyncio.create_task(write_queued(conn))
        for index in range(50):
            conn.send(b'{"n": %d}' % index)
        received = [await asyncio.wait_for(client.recv(), 5) for _ in range(50)]
        assert received == [f'{{"n": {index}}}' for index in range(50)]
        assert (conn.outgoing, conn.pending_bytes) == ([], 0)
        conn.send(b'{"n": "later"}')  # the writer keeps going for frames queued afterwards
        assert await asyncio.wait_for(client.recv(), 5) == '{"n": "later"}'
        writer.cancel()


async def test_a_batching_connection_gets_what_was_queued_together_as_json_arrays_in_order() -> None:
    async with socket_pair(max_size=None) as (socket, client):
        conn = Connection(1, socket, TokenBucket(1, 1), max_pending=100_000)
        conn.batch = True
        for index in range(3000):  # about 440 KB: more than one array holds
            conn.send(b'{"type":"execution","n":%d,"pad":"%s"}' % (index, b"x" * 100))
        writer = asyncio.create_task(write_queued(conn))
        arrays = []
        while sum(map(len, arrays)) < 3000:
            arrays.append(json.loads(await asyncio.wait_for(client.recv(), 5)))
        assert [message["n"] for array in arrays for message in array] == list(range(3000))
        assert len(arrays) == 2  # 256 KiB an array at most
        conn.send(b'{"type":"later"}')  # one message alone is an array of one
        assert json.loads(await asyncio.wait_for(client.recv(), 5)) == [{"type": "later"}]
        writer.cancel()


async def test_a_reader_that_lets_max_pending_frames_pile_up_is_closed_1008_and_gets_nothing_more() -> None:
    async with socket_pair() as (socket, client):
        conn = Connection(1, socket, TokenBucket(1, 1), max_pending=3)  # no writer: nothing leaves the queue
        for index in range(3):
            conn.send(b"%d" % index)
        assert not conn.dropped
        conn.send(b"3")
        assert conn.dropped and conn.outgoing == [b"0", b"1", b"2"]
        conn.send(b"4")  # after the close, frames are dropped, not queued
        assert conn.outgoing == [b"0", b"1", b"2"]
        assert await closed_with(client) == (1008, "too many unread messages")


async def test_the_byte_cap_closes_a_reader_before_the_frame_cap_does() -> None:
    async with socket_pair() as (socket, client):
        conn = Connection(1, socket, TokenBucket(1, 1), max_pending=1000, max_pending_bytes=10)
        conn.send(b"x" * 6)
        conn.send(b"y" * 4)  # exactly at the cap: still queued
        assert (conn.dropped, conn.pending_bytes) == (False, 10)
        conn.send(b"z")
        assert conn.dropped and conn.pending_bytes == 10
        assert await closed_with(client) == (1008, "too many unread messages")


async def test_close_sends_its_code_once_and_a_second_close_changes_nothing() -> None:
    async with socket_pair() as (socket, client):
        conn = Connection(1, socket, TokenBucket(1, 1), max_pending=10)
        conn.close(1008, "no login within 10 s")
        first = conn.closing
        conn.close(1011, "other")
        assert conn.closing is first
        assert await closed_with(client) == (1008, "no login within 10 s")


async def test_the_writer_ends_quietly_when_the_peer_has_gone() -> None:
    async with socket_pair() as (socket, client):
        conn = Connection(1, socket, TokenBucket(1, 1), max_pending=10)
        writer = asyncio.create_task(write_queued(conn))
        await client.close()
        await socket.wait_closed()
        conn.send(b"too late")
        await asyncio.wait_for(writer, 5)  # returns instead of raising
        assert writer.exception() is None
