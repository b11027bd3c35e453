"""A file of sealed secrets: named values, each sealed on its own (``sealed.py``), for one
purpose (the vault of venue credentials; API key secrets). The file holds no plaintext
secret: names, times and sealed boxes only.

The file (JSON, versioned)::

    {"format": "brokerd-sealed-store", "version": 1, "purpose": "vault", "key_id": "...",
     "entries": {"MM1": {"created": "2025-01-02T03:04:05Z", "rotated": "...", "sealed": "<base64>"}},
     "index": "<base64>"}

Each entry's box is sealed with its name, purpose, format version and times as associated
data, so an entry edited, renamed, or copied under another name or into another store does
not open. ``index`` is a sealed list of every entry's name and the SHA-256 of its box, so an
entry removed, added or replaced by an older copy outside brokerd is found too. ``key_id``
tells a wrong master key apart from a tampered file.

Guarantees:
- Reading verifies the whole file first: if anything does not authenticate, ``StoreError``
  names the entry (or the index) and no value is returned.
- A write is atomic: a temporary file beside the store, fsynced, renamed over it, and the
  folder fsynced; a crash leaves the old file or the new one, never a mix. The file is
  readable by its owner only.
- Writers take an exclusive lock (``<file>.lock``) around read-modify-write, so two writers
  (the server and ``brokerd secrets`` beside it) never lose each other's change.
- Values never appear in an error, a ``repr`` or a listing.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import msgspec

from keystore.masterkey import MasterKey
from keystore.sealed import SealedBox, Unsealable, context
from snapshots.files import write_bytes_atomically

FORMAT = "brokerd-sealed-store"
VERSION = 1
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # what a secret may be called
MAX_VALUE_BYTES = 64 * 1024  # a credential, not a file


class StoreError(Exception):
    """The store cannot be read or changed as asked; the message (one line) says why."""


class MissingSecret(StoreError):
    """No entry of that name."""


class SecretInfo(NamedTuple):
    """What a listing shows of an entry: never its value."""

    name: str
    created: str
    rotated: str


class _Entry(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    created: str
    rotated: str
    sealed: str


class _File(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    format: str
    version: int
    purpose: str
    key_id: str
    entries: dict[str, _Entry]
    index: str


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise StoreError(f"{name[:80]!r} is not a secret name: letters, digits, '_', '.', '-', at most 64, starting with a letter or digit")
    return name


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _digest(sealed: str) -> str:
    return hashlib.sha256(sealed.encode("ascii")).hexdigest()


class SecretStore:
    """The sealed secrets of one ``purpose`` in the file ``path``, under ``master``."""

    def __init__(self, path: Path, master: MasterKey, purpose: str) -> None:
        self.path = Path(path)
        self.purpose = purpose
        self._key_id = master.key_id(purpose)
        self._box: SealedBox = master.box(purpose)

    def __repr__(self) -> str:
        return f"SecretStore({str(self.path)!r}, purpose={self.purpose!r})"

    # --- reading -----------------------------------------------------------------------------

    def exists(self) -> bool:
        return self.path.exists()

    def list(self) -> list[SecretInfo]:
        """Every entry's name and times, by name; the file verified whole first."""
        entries = self._verified().entries
        return [SecretInfo(name, entry.created, entry.rotated) for name, entry in sorted(entries.items())]

    def get(self, name: str) -> bytes:
        """The value of ``name``; ``MissingSecret`` when there is none."""
        entries = self._verified().entries
        if name not in entries:
            raise MissingSecret(f"{self.path}: no {self.purpose} entry {name!r}")
        return self._open_entry(name, entries[name])

    def get_text(self, name: str) -> str:
        return self.get(name).decode("utf-8")

    def verify(self) -> int:
        """Verify every entry and the index; the number of entries."""
        return len(self._verified().entries)

    # --- changing ------------------------------------------------------------------------------

    def add(self, name: str, value: bytes) -> SecretInfo:
        """A new entry; refused if ``name`` exists (``rotate`` replaces one)."""
        return self._put(check_name(name), value, new=True)

    def rotate(self, name: str, value: bytes) -> SecretInfo:
        """A new value for an existing entry; its ``created`` time stays."""
        return self._put(check_name(name), value, new=False)

    def update(self, name: str, change: Callable[[bytes | None], bytes | None]) -> bytes | None:
        """Read-modify-write one entry under the writers' lock: ``change`` is given the entry's
        value (``None`` when there is none) and returns the new value, or ``None`` to leave the
        file as it is; it may raise to refuse, and then nothing is written. Returns what
        ``change`` returned. Two processes updating one entry see each other's value in turn
        (the check-and-set a once-only TOTP time step needs)."""
        check_name(name)
        with self._locked():
            entries = dict(self._verified().entries) if self.path.exists() else {}
            entry = entries.get(name)
            value = change(None if entry is None else self._open_entry(name, entry))
            if value is None:
                return None
            if not value or len(value) > MAX_VALUE_BYTES:
                raise StoreError(f"the value of {name!r} is empty or over {MAX_VALUE_BYTES} bytes; nothing stored")
            now = _now()
            created = now if entry is None else entry.created
            entries[name] = _Entry(created, now, self._seal_entry(name, created, now, value))
            self._write(entries)
        return value

    def values(self) -> dict[str, bytes]:
        """Every entry's value by name, the file verified whole first (``{}`` without a file)."""
        if not self.path.exists():
            return {}
        file = self._verified()
        return {name: self._open_entry(name, entry) for name, entry in file.entries.items()}

    def remove(self, name: str) -> None:
        with self._locked():
            current = self._verified()
            if name not in current.entries:
                raise MissingSecret(f"{self.path}: no {self.purpose} entry {name!r}")
            self._write({n: e for n, e in current.entries.items() if n != name})

    def _put(self, name: str, value: bytes, new: bool) -> SecretInfo:
        if not value:
            raise StoreError(f"the value of {name!r} is empty; nothing stored")
        if len(value) > MAX_VALUE_BYTES:
            raise StoreError(f"the value of {name!r} is over {MAX_VALUE_BYTES} bytes; nothing stored")
        with self._locked():
            entries = dict(self._verified().entries) if self.path.exists() else {}
            if new and name in entries:
                raise StoreError(f"{self.purpose} entry {name!r} exists; rotate it to change its value")
            if not new and name not in entries:
                raise MissingSecret(f"no {self.purpose} entry {name!r} to rotate; add it first")
            now = _now()
            created = now if new else entries[name].created
            entries[name] = _Entry(created, now, self._seal_entry(name, created, now, value))
            self._write(entries)
        return SecretInfo(name, created, now)

    # --- the file ------------------------------------------------------------------------------

    def _entry_context(self, name: str, created: str, rotated: str) -> bytes:
        return context(FORMAT, str(VERSION), self.purpose, "entry", name, created, rotated)

    def _index_context(self) -> bytes:
        return context(FORMAT, str(VERSION), self.purpose, "index")

    def _seal_entry(self, name: str, created: str, rotated: str, value: bytes) -> str:
        return base64.b64encode(self._box.seal(value, self._entry_context(name, created, rotated))).decode("ascii")

    def _open_entry(self, name: str, entry: _Entry) -> bytes:
        try:
            box = base64.b64decode(entry.sealed, validate=True)
            return self._box.open(box, self._entry_context(name, entry.created, entry.rotated))
        except (Unsealable, binascii.Error, ValueError):
            raise StoreError(
                f"{self.path}: entry {name!r} does not authenticate (edited, or moved from another name or file); nothing decrypted"
            ) from None

    def _verified(self) -> _File:
        """The file, every entry and the index checked; ``StoreError`` on the first fault."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            raise StoreError(f"{self.path}: no {self.purpose} file (add an entry to create it)") from None
        except OSError as error:
            raise StoreError(f"cannot read {self.path}: {error.strerror}") from None
        try:
            file = msgspec.json.decode(data, type=_File)
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            raise StoreError(f"{self.path}: not a brokerd sealed store ({error}); nothing decrypted") from None
        if file.format != FORMAT or file.purpose != self.purpose:
            raise StoreError(f"{self.path}: a {file.format!r} file for {file.purpose!r}, not a {FORMAT!r} file for {self.purpose!r}")
        if file.version != VERSION:
            raise StoreError(f"{self.path}: format version {file.version}; this brokerd reads version {VERSION}")
        if file.key_id != self._key_id:
            raise StoreError(
                f"{self.path}: sealed under another master key (key id {file.key_id[:16]!r}, this key's {self._key_id!r}); nothing decrypted"
            )
        for name, entry in file.entries.items():
            self._open_entry(name, entry)  # authenticates; the value is dropped at once
        self._check_index(file)
        return file

    def _check_index(self, file: _File) -> None:
        try:
            listed = msgspec.json.decode(self._box.open(base64.b64decode(file.index, validate=True), self._index_context()), type=dict[str, str])
        except (Unsealable, binascii.Error, ValueError, msgspec.DecodeError, msgspec.ValidationError):
            raise StoreError(f"{self.path}: the index does not authenticate (the file was edited); nothing decrypted") from None
        for name in sorted(set(listed) | set(file.entries)):
            if name not in file.entries:
                problem = "was removed outside brokerd"
            elif name not in listed:
                problem = "was added outside brokerd"
            elif listed[name] != _digest(file.entries[name].sealed):
                problem = "was replaced outside brokerd (an older copy?)"
            else:
                continue
            raise StoreError(f"{self.path}: entry {name!r} {problem}; nothing decrypted")

    def _write(self, entries: dict[str, _Entry]) -> None:
        index = msgspec.json.encode({name: _digest(entry.sealed) for name, entry in sorted(entries.items())})
        sealed_index = base64.b64encode(self._box.seal(index, self._index_context())).decode("ascii")
        file = _File(FORMAT, VERSION, self.purpose, self._key_id, dict(sorted(entries.items())), sealed_index)
        write_bytes_atomically(self.path, msgspec.json.format(msgspec.json.encode(file)) + b"\n")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock
