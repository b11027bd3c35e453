"""Sealed boxes (``keystore/sealed.py``): AES-GCM with a context bound to each box."""

from __future__ import annotations

import os

import pytest

from keystore.sealed import NONCE_BYTES, SealedBox, Unsealable, context, derive


def test_a_box_opens_with_its_key_and_context_only() -> None:
    box = SealedBox(os.urandom(32))
    sealed = box.seal(b"hunter2", context("vault", "MM1"))
    assert box.open(sealed, context("vault", "MM1")) == b"hunter2"
    assert b"hunter2" not in sealed
    for wrong in (context("vault", "MM2"), context("api-keys", "MM1"), b""):
        with pytest.raises(Unsealable):
            box.open(sealed, wrong)
    with pytest.raises(Unsealable):
        SealedBox(os.urandom(32)).open(sealed, context("vault", "MM1"))


def test_an_edited_or_short_box_does_not_open() -> None:
    box = SealedBox(os.urandom(32))
    sealed = bytearray(box.seal(b"value", b"ctx"))
    for at in (0, NONCE_BYTES, len(sealed) - 1):  # the nonce, the ciphertext, the tag
        edited = bytearray(sealed)
        edited[at] ^= 1
        with pytest.raises(Unsealable):
            box.open(bytes(edited), b"ctx")
    with pytest.raises(Unsealable, match="too short"):
        box.open(bytes(sealed[:20]), b"ctx")


def test_each_seal_has_a_fresh_nonce() -> None:
    box = SealedBox(os.urandom(32))
    seals = {box.seal(b"same", b"ctx") for _ in range(100)}
    assert len(seals) == 100 and len({seal[:NONCE_BYTES] for seal in seals}) == 100


def test_each_purpose_has_a_key_of_its_own_and_the_key_is_never_shown() -> None:
    master = os.urandom(32)
    assert derive(master, "vault") != derive(master, "api-keys") != master
    assert derive(master, "vault") == derive(master, "vault")
    assert "SealedBox(<key hidden>)" == repr(SealedBox(master))
    with pytest.raises(ValueError, match="32 bytes"):
        derive(master[:16], "vault")
