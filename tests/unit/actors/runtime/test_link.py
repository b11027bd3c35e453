"""The links between actors over real sockets on loopback, without Ray: the handshake that
authenticates both ends, delivery, acks and resends, and what a receiver does with a peer
that does not prove the cluster's secret (the pure frames and handshake: test_frames.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import msgspec
import pytest
import pytest_asyncio
import structlog
import structlog.testing

import actors.runtime.link as link
from actors.runtime.frames import (
    CHALLENGE,
    HELLO,
    MAX_HANDSHAKE_FRAME,
    NONCE_BYTES,
    WELCOME,
    Hello,
    LinkSecret,
    endpoint,
    frame,
    make_hello,
    welcome_mac,
)
from actors.runtime.link import Channel, Links, LinkServer
from model.messages import decode_batch
from tests.unit.actors.runtime.support import GATEWAY, ME, ROUTER, SECRET, batch, nonce

TIMEOUT_S = 0.3


# --- a receiver over real sockets ------------------------------------------------------------------


class Recorder:
    """What a receiver applied, and what it logged."""

    def __init__(self) -> None:
        self.applied: list[tuple[str | None, bytes]] = []
        self.logs = structlog.testing.LogCapture()

    def on_batch(self, body: bytes, channel: Channel) -> None:
        self.applied.append((channel.sender, body))
        channel.ack(decode_batch(body).seq)

    def refusals(self) -> list[dict[str, Any]]:
        return [entry for entry in self.logs.entries if entry["event"] == "link refused"]


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Iterator[Recorder]:
    recorder = Recorder()
    monkeypatch.setattr(link, "log", structlog.wrap_logger(None, processors=[recorder.logs]))
    yield recorder


@pytest_asyncio.fixture
async def receiver(recorder: Recorder) -> AsyncIterator[tuple[LinkServer, tuple[str, int]]]:
    server = LinkServer(ME, recorder.on_batch, SECRET, ROUTER.is_sender, TIMEOUT_S)
    address = await server.start("127.0.0.1")
    yield server, address
    server.close()


class Peer:
    """A raw TCP client speaking the link's frames by hand."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, address: tuple[str, int]) -> None:
        self.reader = reader
        self.writer = writer
        self.address = address  # where it dialed
        self.challenge = b""

    @classmethod
    async def open(cls, address: tuple[str, int]) -> Peer:
        reader, writer = await asyncio.open_connection(*address)
        return cls(reader, writer, address)

    def send(self, kind: int, body: bytes) -> None:
        self.writer.write(frame(kind, body))

    async def frame(self) -> tuple[int, bytes] | None:
        """The next frame, or None when the other end closed."""
        try:
            async with asyncio.timeout(5):
                head = await self.reader.readexactly(5)
                body = await self.reader.readexactly(int.from_bytes(head[:4], "big") - 1)
        except asyncio.IncompleteReadError:
            return None
        return head[4], body

    async def handshake(self, sender: str = GATEWAY, secret: LinkSecret = SECRET, dialed: tuple[str, int] | None = None) -> bytes:
        """Answer the challenge as ``sender`` that dialed ``dialed`` (where it did); returns the hello sent."""
        challenge = await self.frame()
        assert challenge is not None and challenge[0] == CHALLENGE and len(challenge[1]) == NONCE_BYTES
        self.challenge = challenge[1]
        hello = make_hello(secret, challenge[1], endpoint(ME, dialed or self.address), sender, nonce(7))
        self.send(HELLO, hello)
        return hello

    async def closed_by_receiver(self) -> bool:
        while (found := await self.frame()) is not None:
            if found[0] == CHALLENGE:
                continue
            return False
        return True

    def close(self) -> None:
        self.writer.close()


async def test_a_sender_with_the_secret_is_welcomed_and_its_batches_applied(receiver: tuple[LinkServer, tuple[str, int]], recorder: Recorder) -> None:
    server, address = receiver
    peer = await Peer.open(address)
    hello = await peer.handshake()
    welcome = await peer.frame()
    assert welcome == (WELCOME, welcome_mac(SECRET, peer.challenge, msgspec.msgpack.decode(hello, type=Hello)))
    peer.send(0x42, batch(GATEWAY, 1))
    assert await peer.frame() == (0x41, (1).to_bytes(8, "big"))
    assert recorder.applied == [(GATEWAY, batch(GATEWAY, 1))]
    assert server.channels[GATEWAY].sender == GATEWAY and recorder.refusals() == []
    peer.close()


Attack = Callable[[Peer], Any]


async def _old_hello(peer: Peer) -> None:
    await peer.frame()
    peer.send(HELLO, msgspec.msgpack.encode([ME, GATEWAY]))
    peer.send(0x42, batch(GATEWAY, 1))


async def _wrong_secret(peer: Peer) -> None:
    await peer.handshake(secret=LinkSecret(b"w" * 32))
    peer.send(0x42, batch(GATEWAY, 1))


async def _unknown_name(peer: Peer) -> None:
    await peer.handshake(sender="mallory")
    peer.send(0x42, batch("mallory", 1))


async def _batch_before_hello(peer: Peer) -> None:
    await peer.frame()
    peer.send(0x42, batch(GATEWAY, 1))


async def _garbage(peer: Peer) -> None:
    peer.writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + bytes(range(256)))


async def _oversize(peer: Peer) -> None:
    peer.writer.write((MAX_HANDSHAKE_FRAME + 1).to_bytes(4, "big") + b"H" + b"x" * 100)


async def _unknown_frame(peer: Peer) -> None:
    peer.send(0x5A, b"zzz")


async def _second_hello(peer: Peer) -> None:
    await peer.handshake()
    await peer.frame()  # the welcome
    peer.send(HELLO, make_hello(SECRET, nonce(1), ME, "supervisor", nonce(2)))
    peer.send(0x42, batch("supervisor", 1))


async def _batch_under_another_name(peer: Peer) -> None:
    await peer.handshake()
    await peer.frame()  # the welcome
    peer.send(0x42, batch("supervisor", 1))


ATTACKS: dict[str, tuple[Attack, str]] = {
    "hello without a MAC": (_old_hello, "malformed hello"),
    "MAC made with another secret": (_wrong_secret, "bad MAC"),
    "a name not in the topology": (_unknown_name, "not an actor of this topology"),
    "batch before the hello": (_batch_before_hello, "batch before the handshake"),
    "garbage": (_garbage, "frame length"),
    "oversize length before the handshake": (_oversize, "frame length"),
    "unknown frame type": (_unknown_frame, "unexpected frame type"),
    "a second hello under another name": (_second_hello, "unexpected frame type"),
    "a batch under another sender's name": (_batch_under_another_name, "another sender's name"),
}


@pytest.mark.parametrize("attack", list(ATTACKS))
async def test_a_peer_that_does_not_prove_the_secret_is_refused_logged_once_and_changes_nothing(
    attack: str, receiver: tuple[LinkServer, tuple[str, int]], recorder: Recorder
) -> None:
    server, address = receiver
    run, reason = ATTACKS[attack]
    peer = await Peer.open(address)
    await run(peer)
    assert await peer.closed_by_receiver()
    assert recorder.applied == []
    (refusal,) = recorder.refusals()
    assert reason in refusal["reason"] and refusal["actor"] == ME and refusal["peer"].startswith("127.0.0.1:")
    assert refusal["log_level"] == "warning" and "exc_info" not in refusal
    peer.close()
    # and the receiver still serves a sender that proves the secret
    honest = await Peer.open(address)
    await honest.handshake()
    assert (await honest.frame() or (0, b""))[0] == WELCOME
    honest.send(0x42, batch(GATEWAY, 1))
    assert await honest.frame() == (0x41, (1).to_bytes(8, "big"))
    assert recorder.applied == [(GATEWAY, batch(GATEWAY, 1))]
    honest.close()


async def test_a_recorded_hello_replayed_on_another_connection_is_refused(receiver: tuple[LinkServer, tuple[str, int]], recorder: Recorder) -> None:
    _, address = receiver
    first = await Peer.open(address)
    hello = await first.handshake()
    assert (await first.frame() or (0, b""))[0] == WELCOME
    replay = await Peer.open(address)
    assert (await replay.frame() or (0, b""))[0] == CHALLENGE  # a fresh challenge ...
    replay.send(HELLO, hello)  # ... answered with the recorded hello
    replay.send(0x42, batch(GATEWAY, 1))
    assert await replay.closed_by_receiver()
    assert recorder.applied == [] and [r["reason"] for r in recorder.refusals()] == ["bad MAC"]
    first.close()
    replay.close()


async def test_a_relay_at_an_address_a_sender_still_dials_cannot_write_a_batch_of_its_own(
    receiver: tuple[LinkServer, tuple[str, int]], recorder: Recorder
) -> None:
    """The whole attack, with a real sender: a process without the secret listens where the
    sender dials, passes every byte between it and the actor, and writes a batch of its own
    into its connection to the actor once the handshake is through. It never is."""
    _, address = receiver
    to_actor: list[asyncio.StreamWriter] = []
    pumps: list[asyncio.Task[None]] = []

    async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        while data := await source.read(65536):
            sink.write(data)
        sink.close()

    async def relay(from_sender: asyncio.StreamReader, to_sender: asyncio.StreamWriter) -> None:
        from_actor, writer = await asyncio.open_connection(*address)
        to_actor.append(writer)
        pumps.extend([asyncio.create_task(pump(from_sender, writer)), asyncio.create_task(pump(from_actor, to_sender))])

    squatter = await asyncio.start_server(relay, "127.0.0.1", 0)
    links = Links(GATEWAY, {ME: squatter.sockets[0].getsockname()[:2]}, SECRET, TIMEOUT_S)
    try:
        links.connect(ME)
        await asyncio.sleep(TIMEOUT_S)
        for writer in to_actor:
            writer.write(frame(0x42, batch(GATEWAY, 99)))
        await asyncio.sleep(0.1)
        assert recorder.applied == [] and not links.connected(ME)
        assert {r["reason"] for r in recorder.refusals()} == {f"link for another actor or address ({endpoint(ME, squatter.sockets[0].getsockname()[:2])})"}
    finally:
        links.close()
        squatter.close()
        for task in pumps:
            task.cancel()


async def test_a_peer_that_does_not_finish_the_handshake_in_time_is_closed(receiver: tuple[LinkServer, tuple[str, int]], recorder: Recorder) -> None:
    _, address = receiver
    peer = await Peer.open(address)
    peer.writer.write(frame(HELLO, b"x" * 10)[:7])  # half a frame, then silence
    started = asyncio.get_running_loop().time()
    assert await peer.closed_by_receiver()
    assert TIMEOUT_S * 0.9 <= asyncio.get_running_loop().time() - started < TIMEOUT_S + 2
    assert [r["reason"] for r in recorder.refusals()] == [f"no handshake within {TIMEOUT_S:g} s"]
    peer.close()


# --- a sender over real sockets -------------------------------------------------------------------


async def test_links_deliver_in_order_ack_and_resend_after_the_receiver_moves(recorder: Recorder) -> None:
    """A sender keeps batches until acked; when the receiver restarts elsewhere, the unacked
    ones are written again, in order, and nothing acked is repeated."""
    unacked: list[tuple[int, bytes]] = []

    def on_ack(name: str, seq: int) -> None:
        while unacked and unacked[0][0] <= seq:
            unacked.pop(0)

    def on_connect(name: str) -> None:
        for _, data in list(unacked):
            links.send(name, data)

    def send(seq: int) -> None:
        data = batch(GATEWAY, seq)
        unacked.append((seq, data))
        links.send(ME, data)

    server = LinkServer(ME, recorder.on_batch, SECRET, ROUTER.is_sender, TIMEOUT_S)
    links = Links(GATEWAY, {ME: await server.start("127.0.0.1")}, SECRET, TIMEOUT_S, on_ack, on_connect)
    for seq in range(1, 51):
        send(seq)  # the first ones before the connection is up: written once it is
    await _until(lambda: len(recorder.applied) == 50 and not unacked)
    assert [body for _, body in recorder.applied] == [batch(GATEWAY, seq) for seq in range(1, 51)]

    server.close()  # the receiver dies ...
    await asyncio.sleep(0.05)
    for seq in range(51, 61):
        send(seq)
    moved = LinkServer(ME, recorder.on_batch, SECRET, ROUTER.is_sender, TIMEOUT_S)  # ... and comes back on another port
    links.update(ME, await moved.start("127.0.0.1"))
    await _until(lambda: not unacked)
    assert [body for _, body in recorder.applied[50:]] == [batch(GATEWAY, seq) for seq in range(51, 61)]
    assert recorder.refusals() == []
    links.close()
    moved.close()


async def test_a_sender_writes_no_batch_to_a_receiver_that_does_not_prove_the_secret(recorder: Recorder) -> None:
    """An impostor listening where the sender expects an actor gets the hello, but no batch:
    not with a forged welcome, not with none."""
    seen: list[tuple[str, list[int]]] = []

    async def impostor(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, welcome: bytes | None) -> None:
        kinds: list[int] = []
        seen.append(("forged" if welcome else "silent", kinds))
        writer.write(frame(CHALLENGE, nonce(5)))
        try:
            while True:
                head = await reader.readexactly(5)
                await reader.readexactly(int.from_bytes(head[:4], "big") - 1)
                kinds.append(head[4])
                if head[4] == HELLO and welcome is not None:
                    writer.write(frame(WELCOME, welcome))
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    for welcome in (b"f" * 32, None):
        listener = await asyncio.start_server(lambda r, w, welcome=welcome: impostor(r, w, welcome), "127.0.0.1", 0)
        address = listener.sockets[0].getsockname()[:2]
        links = Links(GATEWAY, {ME: address}, SECRET, TIMEOUT_S)
        links.send(ME, batch(GATEWAY, 1))
        await asyncio.sleep(TIMEOUT_S * 2.5)
        links.send(ME, batch(GATEWAY, 2))
        await asyncio.sleep(0.1)
        assert not links.connected(ME)
        links.close()
        listener.close()
    assert {what for what, _ in seen} == {"forged", "silent"}
    assert all(kinds and set(kinds) == {HELLO} for _, kinds in seen), seen  # hellos only, on every attempt
    reasons = [entry.get("reason", "") for entry in recorder.logs.entries if entry["event"].startswith("link handshake")]
    assert any("unexpected frame type 87" in reason for reason in reasons)


async def _until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")
