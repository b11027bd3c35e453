"""The files admin commands read and write: inside a configured folder only, and written
atomically and durably.

Why here: ``snapshots/`` owns what brokerd keeps on disk and how durably; the exports are
end-of-day records written with the same discipline (temporary file, fsync, rename, fsync of
the folder). The account shards write their parts and the supervisor confines paths, joins
the parts and reads the files it is given; ``server/`` needs none of it. The formats
themselves are pure and live in ``model/backoffice.py``.

Paths: ``accounts load FILE``, ``nav FILE`` and ``reconcile FILE`` read from the import dir,
``export [FOLDER]`` writes into the export dir (``[admin]`` in ``conf/server.toml``). A
path given to one of them is taken relative to that folder, on the server's machine; an
absolute path is accepted only when it lies inside the folder.

Reading (:func:`open_import`, :func:`read_import`): a file is read only when it is a regular
file of at most ``MAX_IMPORT_BYTES`` (a strategy file: its own, smaller cap), checked before
a byte is read; a named pipe, a device, a folder or a larger file is refused with
:class:`PathRefused`. Nothing an admin command reads can stall the supervisor waiting for a
writer or fill its memory.

Guarantees (:func:`confine`):
- The path returned is resolved (no ``..``, no symbolic link left in it) and lies inside
  the resolved folder (or is the folder itself, where allowed).
- A ``..`` that climbs out, an absolute path elsewhere, or a symbolic link anywhere in the
  path that leads out is refused with :class:`PathRefused` before anything is read,
  written or created.
- The check looks at the file system as it is when the command runs: a link planted
  inside the folder between the check and the read is followed. Whoever can write into
  the folder on the server's machine is trusted, as whoever edits ``conf/`` is.
"""

from __future__ import annotations

import csv
import os
import secrets
import shutil
import stat
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from model.backoffice import (
    ALLOCATIONS_HEADER,
    POSITIONS_HEADER,
    Positions,
    allocation_rows,
    parse_positions,
    position_rows,
)

_WRITE_BUFFER_BYTES = 1 << 20
# The largest file an admin command reads from the import dir (``accounts load``, ``orders
# load``, ``nav FILE``, ``reconcile``): read whole into the supervisor's memory. An accounts
# file of a million accounts, or a basket of a million orders, is well under 100 MB.
MAX_IMPORT_BYTES = 256 << 20


class PathRefused(ValueError):
    """A path an admin command may not use; the message says why and where it may."""


def confine(root: str | Path, given: str, *, what: str, allow_root: bool = False) -> Path:
    """``given`` resolved inside ``root`` (``what`` names the folder in the error, e.g.
    ``"import dir"``), or :class:`PathRefused`. ``allow_root``: ``given`` may name the
    folder itself (``export .``)."""
    base = Path(root).resolve()
    if not given or "\0" in given:
        raise PathRefused(f"{given!r} is not a path; give a path inside the {what} {base}")
    # An absolute ``given`` replaces ``base`` in the join; it must then resolve inside it.
    # ``resolve`` follows every symbolic link and removes every ``..``, whether the path
    # exists or not, so the containment test sees where the path really leads.
    try:
        target = (base / given).resolve()
    except (OSError, RuntimeError) as error:  # a loop of symbolic links
        raise PathRefused(f"{given!r} cannot be resolved inside the {what} {base}: {error}") from None
    if target == base and not allow_root:
        raise PathRefused(f"{given!r} is the {what} {base} itself; name a file in it")
    if target != base and not target.is_relative_to(base):
        raise PathRefused(f"{given!r} leads outside the {what} {base}; give a path inside it (relative to it)")
    return target


# --- reading -------------------------------------------------------------------------------------


@contextmanager
def open_import(path: str | Path, max_bytes: int | None = None) -> Iterator[BinaryIO]:
    """``path`` open for reading in binary, or :class:`PathRefused` when it is not a regular
    file or is larger than ``max_bytes`` (None: ``MAX_IMPORT_BYTES``); ``OSError`` when it
    cannot be opened.

    Guarantees: never waits for a writer and reads nothing of a file it refuses: the path is
    looked at (``os.stat``) before it is opened, opened without blocking (a named pipe's open
    would wait for a writer) and the open file looked at again (``os.fstat``), in case the
    path was replaced between the two."""
    max_bytes = MAX_IMPORT_BYTES if max_bytes is None else max_bytes
    _check_import(path, os.stat(path), max_bytes)
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        _check_import(path, os.fstat(descriptor), max_bytes)
        os.set_blocking(descriptor, True)
        handle = os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise
    with handle:
        yield handle


def read_import(path: str | Path, max_bytes: int | None = None) -> bytes:
    """The bytes of ``path``, a regular file of at most ``max_bytes`` (None:
    ``MAX_IMPORT_BYTES``; :func:`open_import`: ``PathRefused`` otherwise, ``OSError``); a file
    that grew past it since it was opened is refused too."""
    max_bytes = MAX_IMPORT_BYTES if max_bytes is None else max_bytes
    with open_import(path, max_bytes) as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise PathRefused(f"{path} is larger than {max_bytes} bytes, the most an admin command reads")
    return data


_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
)


def _check_import(path: str | Path, info: os.stat_result, max_bytes: int) -> None:
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _KINDS if test(info.st_mode)), "a special file")
        raise PathRefused(f"{path} is {kind}, not a regular file; give a file")
    if info.st_size > max_bytes:
        raise PathRefused(f"{path} is larger than {max_bytes} bytes ({info.st_size}), the most an admin command reads")


# --- back-office files ---------------------------------------------------------------------------


def read_positions(path: str | Path) -> Positions:
    """Every position in a back-office positions file (``model.backoffice.parse_positions``),
    or ``BackOfficeFileError``; ``PathRefused`` when it is not a regular file of at most
    ``MAX_IMPORT_BYTES`` (:func:`open_import`), ``OSError`` when it cannot be opened."""
    with open_import(path) as handle:
        return parse_positions(handle, path)


def write_positions_csv(path: str | Path, rows: Iterable[tuple[str, str, int, int]]) -> int:
    """Write ``(account, symbol, qty, cost)`` rows as ``account,symbol,qty,cost`` and return
    how many. A row with symbol ``""`` (and zero qty and cost) declares an account holding
    nothing. Streams; atomic: the file appears complete or not at all."""
    return write_csv(Path(path), POSITIONS_HEADER, position_rows(rows))


def write_allocations_csv(path: str | Path, rows: Iterable[tuple[str, str, str, str, str, str, int, int, int]]) -> int:
    """Write ``(date, block_id, account, order_id, symbol, side, qty, price, cash)`` rows under
    the header of the same names and return how many. Streams; atomic."""
    return write_csv(Path(path), ALLOCATIONS_HEADER, allocation_rows(rows))


# --- durable writing -------------------------------------------------------------------------------


def write_csv(path: Path, header: Iterable[str], rows: Iterable[list[str]]) -> int:
    """``header`` and ``rows`` as CSV in ``path``, atomically (:func:`atomic_text`); how many rows."""
    count = 0
    with atomic_text(path) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def concatenate_csv(parts: list[Path], target: Path) -> None:
    """Join CSV parts with the same header into ``target`` (atomically) and remove them."""
    with atomic_text(target) as out:
        for index, part in enumerate(parts):
            with part.open(encoding="utf-8", newline="") as source:
                header = source.readline()
                if index == 0:
                    out.write(header)
                shutil.copyfileobj(source, out)
    for part in parts:
        part.unlink()


@contextmanager
def atomic_text(path: Path) -> Iterator[TextIO]:
    """A text file to write ``path`` through: a hidden temporary file beside it, fsynced and
    renamed over ``path`` when the block ends, then the folder fsynced.

    Guarantees: a reader never sees half a file; a failure inside the block (also from a
    generator feeding it) leaves ``path`` as it was and no temporary file; once the block
    has returned, the file and its name are on disk."""
    with _replacing(path, 0o666, text=True) as handle:  # the umask decides, as for any new file
        yield handle


def write_bytes_atomically(path: Path, data: bytes, mode: int = 0o600) -> None:
    """``data`` as the whole of ``path``, or the old file untouched.

    Guarantees: as ``atomic_text``; and the file is created with ``mode`` from the start
    (owner-only by default: the sealed secrets' files), never readable by others between
    its creation and a later chmod."""
    with _replacing(path, mode, text=False) as handle:
        handle.write(data)


@contextmanager
def _replacing(path: Path, mode: int, text: bool) -> Iterator[Any]:
    """The one way a file replaces ``path`` (the guarantees of ``atomic_text``)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        handle = os.fdopen(descriptor, "w", newline="", encoding="utf-8", buffering=_WRITE_BUFFER_BYTES) if text else os.fdopen(descriptor, "wb")
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)


def fsync_directory(directory: Path) -> None:
    """Make the rename itself durable."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
