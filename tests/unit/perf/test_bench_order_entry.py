"""The order stream of the lost-node benchmark (``bench_order_entry.Loader.stream``, used by
``tests/perf/bench_cluster.py --lose-node``): against a real WebSocket server on loopback,
it stops when told and returns only once every frame it sent is answered, or says how many
replies are missing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.server import serve

from tests.perf import bench_order_entry


@asynccontextmanager
async def server(answer: Callable[[Any, int, str], Awaitable[None]]) -> AsyncIterator[tuple[str, list[int]]]:
    """A WebSocket server on loopback calling ``answer(socket, n, frame)`` for the n-th frame it
    reads (from 1); yields its URL and a one-item list counting the frames read."""
    read = [0]

    async def handler(socket: Any) -> None:
        async for frame in socket:
            read[0] += 1
            await answer(socket, read[0], frame)

    async with serve(handler, "127.0.0.1", 0) as running:
        yield f"ws://127.0.0.1:{running.sockets[0].getsockname()[1]}", read


async def test_the_stream_stops_when_told_and_every_frame_it_sent_is_answered() -> None:
    async def echo(socket: Any, n: int, frame: str) -> None:
        await socket.send(frame)
        if n % 7 == 0:  # a report without an id between the replies: not counted
            await socket.send('{"type":"execution","exec_type":"canceled"}')

    async with server(echo) as (url, read), bench_order_entry.Loader(url, False) as loader:
        acked: list[float] = []
        stop = asyncio.Event()
        stream = asyncio.create_task(loader.stream(bench_order_entry.endless_frames("t", 1), 50, stop, acked, 5))
        while len(acked) < 300:
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(stream, 10)
    assert len(acked) == read[0] >= 300 and loader.errors == 0
    assert acked == sorted(acked)


async def test_errors_are_counted_apart_from_the_acks() -> None:
    async def refuse_every_third(socket: Any, n: int, frame: str) -> None:
        reply = frame if n % 3 else frame[: frame.index(",")] + ',"type":"error","message":"refused"}'
        await socket.send(reply)

    async with server(refuse_every_third) as (url, read), bench_order_entry.Loader(url, False) as loader:
        acked: list[float] = []
        stop = asyncio.Event()
        stream = asyncio.create_task(loader.stream(bench_order_entry.endless_frames("t", 1), 10, stop, acked, 5))
        while len(acked) < 60:
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.wait_for(stream, 10)
    assert len(acked) + loader.errors == read[0] and loader.errors == read[0] // 3
    assert '"type":"error"' in loader.first_error


async def test_replies_still_missing_after_the_stop_are_reported_not_waited_for_forever() -> None:
    async def answer_the_first_twenty(socket: Any, n: int, frame: str) -> None:
        if n <= 20:
            await socket.send(frame)

    async with server(answer_the_first_twenty) as (url, _), bench_order_entry.Loader(url, False) as loader:
        acked: list[float] = []
        stop = asyncio.Event()
        stream = asyncio.create_task(loader.stream(bench_order_entry.endless_frames("t", 1), 30, stop, acked, 0.5))
        while len(acked) < 20:
            await asyncio.sleep(0.01)
        stop.set()
        with pytest.raises(RuntimeError, match="30 replies missing 0.5 s after the load stopped"):
            await asyncio.wait_for(stream, 10)
