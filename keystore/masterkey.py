"""The master key: 32 random bytes, base64 or hex encoded, from a file or an environment
variable (``[secrets]``). Everything sealed at rest is sealed under a key derived from it
(``sealed.derive``).

Guarantees:
- The key is never logged nor shown: :class:`MasterKey`'s ``repr`` hides it, and every
  error here names where the key was looked for, never what was found there.
- A key file readable by group or others is refused (as ssh refuses such a private key).
- ``write_new_key`` never overwrites a file and creates it readable by its owner only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from keystore.sealed import KEY_BYTES, SealedBox, derive
from model.config import SecretsSection


class MasterKeyError(Exception):
    """No usable master key; the message (one line) says where it was looked for and why not."""


class MasterKey:
    """The master key, in memory only while something is sealed or opened."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise MasterKeyError(f"a master key is {KEY_BYTES} bytes, not {len(key)}")
        self._key = key

    def __repr__(self) -> str:
        return "MasterKey(<hidden>)"

    def box(self, purpose: str) -> SealedBox:
        """The sealing box of one purpose (``"vault"``, ``"api-keys"``, ...)."""
        return SealedBox(derive(self._key, purpose))

    def key_id(self, purpose: str) -> str:
        """A short public name of this key for ``purpose``: a store remembers it, so a wrong
        key is told apart from a tampered file. Reveals nothing of the key (HMAC-SHA256)."""
        return hmac.new(derive(self._key, purpose), b"brokerd key id", hashlib.sha256).hexdigest()[:16]


def parse_key(text: str, source: str) -> MasterKey:
    """The key encoded in ``text`` (64 hex digits, or base64 of 32 bytes; surrounding
    whitespace ignored); ``source`` says where it came from, for the error."""
    text = text.strip()
    key: bytes | None = None
    if len(text) == 2 * KEY_BYTES:
        try:
            key = bytes.fromhex(text)
        except ValueError:
            key = None
    if key is None:
        try:
            key = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise MasterKeyError(f"{source}: not a base64 or hex master key") from None
    if len(key) != KEY_BYTES:
        raise MasterKeyError(f"{source}: the master key must be {KEY_BYTES} bytes, this one is {len(key)} (make one: brokerd secrets new-master-key FILE)")
    return MasterKey(key)


def read_key_file(path: Path) -> MasterKey:
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise MasterKeyError(f"master key file {path} is open to group or others (mode {stat.S_IMODE(mode):o}); chmod 600 {path}")
        return parse_key(path.read_text(encoding="ascii"), f"master key file {path}")
    except FileNotFoundError:
        raise MasterKeyError(f"master key file {path} does not exist (make one: brokerd secrets new-master-key {path})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise MasterKeyError(f"cannot read master key file {path}: {getattr(error, 'strerror', None) or type(error).__name__}") from None


def load_master_key(section: SecretsSection, environ: Mapping[str, str] = os.environ) -> MasterKey:
    """The master key ``[secrets]`` names: its file when one is configured (a missing file is
    an error, never a fall-back to the variable), else the environment variable."""
    if section.master_key_file:
        return read_key_file(Path(section.master_key_file))
    value = environ.get(section.master_key_env)
    if not value:
        raise MasterKeyError(
            f"no master key: set {section.master_key_env} or [secrets] master_key_file (make one: brokerd secrets new-master-key FILE)"
        )
    return parse_key(value, f"environment variable {section.master_key_env}")


def new_key_text() -> str:
    """A fresh master key, base64 encoded."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode("ascii")


def write_new_key(path: Path) -> None:
    """Write a fresh key to ``path``, a new file readable and writable by its owner only.
    Raises ``FileExistsError`` rather than replace a key (what it sealed would be lost)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as file:
        file.write(new_key_text() + "\n")
        file.flush()
        os.fsync(file.fileno())
