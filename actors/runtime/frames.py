"""The links' wire, pure: frames and the handshake that authenticates both ends
(the sockets that carry them: ``actors/runtime/link.py``).

A frame is a 4-byte big-endian length, a type byte and a body:

* ``C`` challenge, receiver → sender, first on every connection: a fresh 32-byte nonce.
* ``H`` hello, sender → receiver, the answer: ``[destination, sender, sender_nonce, mac]``
  msgpack, ``mac = HMAC-SHA256(secret, [hello tag, receiver_nonce, sender_nonce,
  destination, sender])``; ``destination`` is the receiver's ``endpoint``: its name at the
  address the sender dialed.
* ``W`` welcome, receiver → sender: ``HMAC-SHA256(secret, [welcome tag, receiver_nonce,
  sender_nonce, destination, sender])`` — the receiver's proof that it holds the secret.
* ``B`` batch, sender → receiver, only after the welcome: one encoded ``Batch`` whose
  ``sender`` is the name the hello proved.
* ``A`` ack, receiver → sender on the same connection: 8-byte seq, "every batch up to
  here is applied" (for a journaled actor: committed to its journal).

The receiver accepts a hello only with a good MAC over its own fresh nonce (a recorded hello
does not open a second connection), addressed to itself at the address it listens on (a port
reused after a restart is not taken for someone else's), from a name the topology gives an
actor (``check_hello``). The address binds the handshake to the connection it is made on: a
process that took over an address a sender still dials (an actor's old port, after it was
restarted elsewhere) cannot pass the sender's hello on to the actor and then write batches of
its own into the connection it opened — the actor listens at another address, and refuses a
hello for that one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import struct
from collections.abc import Callable

import msgspec

LENGTH = struct.Struct(">I")
SEQ = struct.Struct(">Q")
BATCH = 0x42  # b"B"
HELLO = 0x48  # b"H"
ACK = 0x41  # b"A"
CHALLENGE = 0x43  # b"C"
WELCOME = 0x57  # b"W"
MAX_FRAME = 256 * 1024 * 1024
# Every frame before the welcome, and every frame a receiver sends, is small: a nonce, two
# actor names and a MAC, or an ack. An unauthenticated peer cannot make us buffer more.
MAX_HANDSHAKE_FRAME = 1024
NONCE_BYTES = 32
SECRET_BYTES = 32
MAX_NAME_LOGGED = 64  # a claimed name is the peer's text: logged, but not at any length
_HELLO_TAG = b"brokerd-link/1 hello"
_WELCOME_TAG = b"brokerd-link/1 welcome"


def endpoint(name: str, address: tuple[str, int]) -> str:
    """What a hello is addressed to: the actor ``name`` listening at ``address``."""
    return f"{name}@{address[0]}:{address[1]}"


class LinkSecret:
    """The cluster's link key: random, made once per server start, in memory only.

    Guarantees: its bytes never appear in a repr (a log line, an exception's arguments,
    a Ray error); the MACs made with it are compared in constant time only."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if len(key) < SECRET_BYTES:
            raise ValueError(f"a link secret has at least {SECRET_BYTES} bytes")
        self._key = bytes(key)

    @classmethod
    def generate(cls) -> LinkSecret:
        return cls(secrets.token_bytes(SECRET_BYTES))

    def __repr__(self) -> str:
        return "LinkSecret(<hidden>)"

    def __getstate__(self) -> bytes:
        return self._key

    def __setstate__(self, key: bytes) -> None:
        self._key = key

    def mac(self, tag: bytes, receiver_nonce: bytes, sender_nonce: bytes, destination: str, sender: str) -> bytes:
        # msgpack frames each field with its length: no two field lists give the same bytes
        message = msgspec.msgpack.encode([tag, receiver_nonce, sender_nonce, destination, sender])
        return hmac.new(self._key, message, hashlib.sha256).digest()


class Hello(msgspec.Struct, array_like=True, frozen=True):
    destination: str
    sender: str
    nonce: bytes
    mac: bytes


hello_decoder = msgspec.msgpack.Decoder(Hello)


class Refused(Exception):
    """A peer the receiver does not accept. ``reason`` is for the log; ``claimed`` is the
    sender name the peer gave, if any (unproven unless the MAC was good)."""

    def __init__(self, reason: str, claimed: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.claimed = claimed


def make_hello(secret: LinkSecret, receiver_nonce: bytes, destination: str, sender: str, sender_nonce: bytes) -> bytes:
    """The sender's answer to a challenge."""
    mac = secret.mac(_HELLO_TAG, receiver_nonce, sender_nonce, destination, sender)
    return msgspec.msgpack.encode(Hello(destination, sender, sender_nonce, mac))


def welcome_mac(secret: LinkSecret, receiver_nonce: bytes, hello: Hello) -> bytes:
    """The receiver's proof, over both nonces, that it holds the secret too."""
    return secret.mac(_WELCOME_TAG, receiver_nonce, hello.nonce, hello.destination, hello.sender)


def proves_welcome(secret: LinkSecret, receiver_nonce: bytes, hello: Hello, welcome: bytes) -> bool:
    """Whether the receiver's welcome proves the secret over this handshake (constant time)."""
    return hmac.compare_digest(welcome, welcome_mac(secret, receiver_nonce, hello))


def check_hello(secret: LinkSecret, receiver_nonce: bytes, me: str, allowed: Callable[[str], bool], body: bytes) -> Hello:
    """The hello, if it proves the secret over this connection's nonce, is for ``me`` (the
    receiver's ``endpoint``) and names an actor the topology allows; else raises ``Refused``.

    Guarantees: a hello made for another challenge (a recorded one) fails, as does any
    change to its names or nonces, and one the sender made for another address (relayed
    from a connection it opened elsewhere)."""
    try:
        hello = hello_decoder.decode(body)
    except msgspec.DecodeError:
        raise Refused("malformed hello") from None
    if len(hello.nonce) != NONCE_BYTES:
        raise Refused("malformed hello", hello.sender)
    expected = secret.mac(_HELLO_TAG, receiver_nonce, hello.nonce, hello.destination, hello.sender)
    if not hmac.compare_digest(hello.mac, expected):
        raise Refused("bad MAC", hello.sender)
    if hello.destination != me:
        raise Refused(f"link for another actor or address ({hello.destination[:MAX_NAME_LOGGED]})", hello.sender)
    if not allowed(hello.sender):
        raise Refused("sender is not an actor of this topology", hello.sender)
    return hello


def frame(kind: int, body: bytes) -> bytes:
    return LENGTH.pack(len(body) + 1) + bytes((kind,)) + body


class FrameError(ValueError):
    """A length prefix out of bounds: the stream cannot be trusted past it."""


class FrameBuffer:
    """Splits a byte stream into ``(type, body)`` frames of at most ``limit`` bytes. Pure."""

    def __init__(self, limit: int) -> None:
        self.data = bytearray()
        self.offset = 0
        self.limit = limit

    def feed(self, data: bytes) -> None:
        self.data += data

    def pop(self) -> tuple[int, bytes] | None:
        """The next whole frame, or None until more bytes arrive. Raises ``FrameError``."""
        data, offset = self.data, self.offset
        if len(data) - offset >= 5:
            (length,) = LENGTH.unpack_from(data, offset)
            if length < 1 or length > self.limit:
                raise FrameError(f"frame length {length} outside 1..{self.limit}")
            end = offset + 4 + length
            if end <= len(data):
                self.offset = end
                return data[offset + 4], bytes(data[offset + 5 : end])
        if offset:  # everything before offset is handed out: drop it once per read
            del data[:offset]
            self.offset = 0
        return None

    def clear(self) -> None:
        self.data.clear()
        self.offset = 0


def ack_frame(seq: int) -> bytes:
    return LENGTH.pack(9) + bytes((ACK,)) + SEQ.pack(seq)
