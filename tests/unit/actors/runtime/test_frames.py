"""The links' wire, pure: the handshake that authenticates both ends of a link, the link
secret, and frame parsing."""

from __future__ import annotations

import pickle

import msgspec
import pytest

from actors.runtime.frames import (
    HELLO,
    FrameBuffer,
    FrameError,
    Hello,
    LinkSecret,
    Refused,
    check_hello,
    frame,
    make_hello,
    proves_welcome,
    welcome_mac,
)
from model.messages import batch_prefix
from tests.unit.actors.runtime.support import GATEWAY, ME, ROUTER, SECRET, batch, nonce


def test_a_hello_proves_the_secret_over_this_challenge_only() -> None:
    hello = make_hello(SECRET, nonce(1), ME, GATEWAY, nonce(2))
    accepted = check_hello(SECRET, nonce(1), ME, ROUTER.is_sender, hello)
    assert (accepted.destination, accepted.sender, accepted.nonce) == (ME, GATEWAY, nonce(2))
    refusals = {
        "replayed for another challenge": (SECRET, nonce(3), hello),
        "made without the secret": (SECRET, nonce(1), make_hello(LinkSecret(b"x" * 32), nonce(1), ME, GATEWAY, nonce(2))),
    }
    for what, (secret, challenge, body) in refusals.items():
        with pytest.raises(Refused) as refused:
            check_hello(secret, challenge, ME, ROUTER.is_sender, body)
        assert refused.value.reason == "bad MAC", what
    good = msgspec.msgpack.decode(hello, type=Hello)
    for tampered in (
        msgspec.structs.replace(good, sender="supervisor"),
        msgspec.structs.replace(good, nonce=nonce(9)),
        msgspec.structs.replace(good, mac=bytes(32)),
    ):
        with pytest.raises(Refused, match="bad MAC"):
            check_hello(SECRET, nonce(1), ME, ROUTER.is_sender, msgspec.msgpack.encode(tampered))


def test_a_proven_hello_for_another_actor_or_under_an_unknown_name_is_refused() -> None:
    for destination, sender, reason in (
        ("account-2", GATEWAY, "link for another actor"),
        (ME, "mallory", "not an actor of this topology"),
        (ME, "gateway-7~1", "not an actor of this topology"),
    ):
        with pytest.raises(Refused, match=reason) as refused:
            check_hello(SECRET, nonce(1), ME, ROUTER.is_sender, make_hello(SECRET, nonce(1), destination, sender, nonce(2)))
        assert refused.value.claimed == sender


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\xff\x00garbage",
        msgspec.msgpack.encode([ME, GATEWAY]),  # the hello before links were authenticated
        msgspec.msgpack.encode([ME, GATEWAY, "nonce", "mac"]),
        msgspec.msgpack.encode([ME, GATEWAY, b"short", bytes(32)]),
    ],
)
def test_a_malformed_hello_is_refused(body: bytes) -> None:
    with pytest.raises(Refused, match="malformed hello"):
        check_hello(SECRET, nonce(1), ME, ROUTER.is_sender, body)


def test_the_welcome_proves_the_secret_over_both_nonces() -> None:
    hello = msgspec.msgpack.decode(make_hello(SECRET, nonce(1), ME, GATEWAY, nonce(2)), type=Hello)
    welcome = welcome_mac(SECRET, nonce(1), hello)
    assert welcome != hello.mac  # a hello reflected back is no welcome
    assert welcome != welcome_mac(SECRET, nonce(3), hello)
    assert welcome != welcome_mac(SECRET, nonce(1), msgspec.structs.replace(hello, nonce=nonce(4)))
    assert welcome != welcome_mac(LinkSecret(b"x" * 32), nonce(1), hello)
    assert proves_welcome(SECRET, nonce(1), hello, welcome)
    assert not proves_welcome(SECRET, nonce(3), hello, welcome) and not proves_welcome(SECRET, nonce(1), hello, hello.mac)


def test_the_secret_never_shows_and_survives_the_trip_through_ray() -> None:
    secret = LinkSecret.generate()
    key = secret._key
    assert key.hex() not in repr(secret) and repr(key) not in repr(secret) and repr(key) not in str([secret])
    copy = pickle.loads(pickle.dumps(secret))
    assert copy.mac(b"t", nonce(1), nonce(2), "a", "b") == secret.mac(b"t", nonce(1), nonce(2), "a", "b")
    with pytest.raises(ValueError):
        LinkSecret(b"short")


def test_every_batch_begins_with_its_senders_prefix() -> None:
    for sender in ("a", GATEWAY, "x" * 40, "y" * 300):
        assert batch(sender, 1).startswith(batch_prefix(sender))
    assert not batch("supervisor", 1).startswith(batch_prefix("supervisor-x"))
    assert not batch("supervisor-x", 1).startswith(batch_prefix("supervisor"))


def test_frames_reassemble_split_anywhere_and_a_length_out_of_bounds_fails() -> None:
    stream = frame(HELLO, b"hello") + frame(0x42, b"") + frame(0x42, b"third frame")
    for cut in range(len(stream) + 1):
        frames = FrameBuffer(100)
        got = []
        for part in (stream[:cut], stream[cut:]):
            frames.feed(part)
            while (found := frames.pop()) is not None:
                got.append(found)
        assert got == [(HELLO, b"hello"), (0x42, b""), (0x42, b"third frame")]
        assert not frames.data
    for length in (0, 101, 2**32 - 1):
        frames = FrameBuffer(100)
        frames.feed(length.to_bytes(4, "big") + b"B" + b"x" * 10)
        with pytest.raises(FrameError):
            frames.pop()
