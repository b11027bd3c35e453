"""Sealed boxes: AES-256-GCM (the ``cryptography`` package) with a random 96-bit nonce per
seal and associated data naming what the box is for. Pure: no I/O beyond ``os.urandom``.

A box is ``nonce (12 bytes) || ciphertext || tag (16 bytes)``. The associated data (the
*context*) is not stored in the box: whoever opens it must name the same context, so a box
moved to another name, another purpose or another file does not open.

Guarantees:
- ``open`` returns the sealed bytes only when the box, the key and the context are exactly
  those of the seal; anything else raises ``Unsealable`` and returns nothing.
- Two seals of the same value differ (fresh nonce each time); at the number of secrets a
  broker keeps, a random 96-bit nonce never repeats in practice (NIST SP 800-38D allows
  2^32 seals per key).
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # 96 bits: GCM's own size
TAG_BYTES = 16


class Unsealable(ValueError):
    """A box that does not authenticate: wrong key, wrong context, or edited."""


def derive(master: bytes, purpose: str) -> bytes:
    """A key of its own for each ``purpose`` (HKDF-SHA256): the vault's boxes and API key
    secrets never share an AES key, and the master key itself never seals anything."""
    if len(master) != KEY_BYTES:
        raise ValueError(f"a master key is {KEY_BYTES} bytes, not {len(master)}")
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=f"brokerd/{purpose}".encode()).derive(master)


def context(*parts: str) -> bytes:
    """Associated data from ``parts``, unambiguous (NUL never occurs in a name we accept)."""
    return "\x00".join(parts).encode()


class SealedBox:
    """Seals and opens with one AES-256-GCM key."""

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"a sealing key is {KEY_BYTES} bytes, not {len(key)}")
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "SealedBox(<key hidden>)"

    def seal(self, plaintext: bytes, associated: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, associated)

    def open(self, box: bytes, associated: bytes) -> bytes:
        if len(box) < NONCE_BYTES + TAG_BYTES:
            raise Unsealable("too short to be a sealed box")
        try:
            return self._aead.decrypt(box[:NONCE_BYTES], box[NONCE_BYTES:], associated)
        except InvalidTag:
            raise Unsealable("does not authenticate") from None
