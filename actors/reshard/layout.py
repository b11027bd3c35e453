"""How many account shards a data dir's journals are written for, and its layout lock.

Light on purpose (no core, no Ray): the server's start reads it before anything else.

- ``layout.json`` records the count (written when a server first starts on an empty data
  dir, and by every reshard). A data dir from before it is judged by its
  ``account-<n>`` journals.
- ``reshard/`` is the folder of a reshard under way (``actors/reshard/procedure.py``).
- ``.layout.lock`` is held shared by a running server and exclusively by a reshard
  (``flock``: the kernel releases it when the process ends, SIGKILL included).

Guarantees: ``layout_problem`` names every data dir a server of the given count must not
start on — a reshard not finished, a count other than the journals' — and nothing else.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from snapshots.files import atomic_text

WORK = "reshard"  # the procedure's folder while it is under way
PROCEDURE = "procedure.json"
LAYOUT = "layout.json"  # how many account shards the journals of this data dir are written for
LOCK = ".layout.lock"  # a server holds it shared, a reshard exclusive
ACCOUNT_PREFIX = "account-"


class ReshardError(Exception):
    """The reshard is refused, or a server may not start on this layout; the message says
    why and what to do."""


def account_dirs(data_dir: Path) -> dict[int, Path]:
    """The account shards' environments directly under ``data_dir``, by shard number."""
    found: dict[int, Path] = {}
    if not data_dir.is_dir():
        return found
    for child in data_dir.iterdir():
        number = child.name[len(ACCOUNT_PREFIX):]
        if child.name.startswith(ACCOUNT_PREFIX) and number.isascii() and number.isdigit() and (child / "data.mdb").is_file():
            found[int(number)] = child
    return found


def recorded_shards(data_dir: Path) -> int | None:
    """The account shards ``layout.json`` records (``None``: no such file)."""
    path = data_dir / LAYOUT
    if not path.is_file():
        return None
    try:
        count = json.loads(path.read_text())["account_shards"]
    except (ValueError, KeyError, TypeError, OSError) as error:
        raise ReshardError(f"{path} cannot be read ({error}); it records the data dir's account shards") from None
    if not isinstance(count, int) or count < 1:
        raise ReshardError(f"{path}: account_shards {count!r} is not a positive number")
    return count


def layout_problem(data_dir: Path, account_shards: int) -> str | None:
    """Why a server configured for ``account_shards`` must not start on ``data_dir`` (``None``:
    it may). One that started anyway would leave accounts on shards no account is routed
    to, and open the accounts file's accounts a second time on others."""
    work = data_dir / WORK
    if work.is_dir():
        target = read_procedure(work).get("to", "N")
        return (
            f"a reshard of {data_dir} to {target} account shards has not finished: run "
            f"`brokerd admin reshard --shards {target} --data-dir {data_dir}` again to complete it, then start"
        )
    try:
        recorded = recorded_shards(data_dir)
    except ReshardError as error:
        return str(error)
    if recorded is not None:
        if recorded == account_shards:
            return None
        return (
            f"the data dir {data_dir} holds {recorded} account shards ({LAYOUT}) but [topology] account_shards = "
            f"{account_shards}: set account_shards = {recorded}, or change the count with `brokerd admin reshard` on the stopped server"
        )
    found = account_dirs(data_dir)
    if not found:
        return None
    held = max(found) + 1
    if held > account_shards or (held < account_shards and len(found) == held):
        return (
            f"the data dir {data_dir} holds the journals of {held} account shards but [topology] account_shards = "
            f"{account_shards}: set account_shards = {held}; to add shards, stop the server and run "
            f"`brokerd admin reshard --shards {account_shards}`"
        )
    return None


def record_layout(data_dir: Path, account_shards: int) -> None:
    """Write ``layout.json`` when the data dir has none and no account shard's journal (a
    new data dir): from then on the count its journals are written for is known for sure."""
    if (data_dir / LAYOUT).exists() or account_dirs(data_dir):
        return
    write_json(data_dir / LAYOUT, {"account_shards": account_shards})


@contextmanager
def layout_lock(data_dir: Path) -> Iterator[TextIO]:
    """The layout lock held exclusively for the block (a reshard). Raises
    ``BlockingIOError`` while a server holds it."""
    handle = open(data_dir / LOCK, "a+")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield handle
    finally:
        handle.close()


def hold_server_lock(data_dir: Path) -> TextIO:
    """The shared lock a server holds for its whole life (its end releases it). Raises
    ``ReshardError`` while a reshard runs on ``data_dir``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = open(data_dir / LOCK, "a+")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise ReshardError(f"a reshard is running on {data_dir}: wait until it ends") from None
    return handle


def check_layout(data_dir: Path, account_shards: int) -> TextIO:
    """At a server's start: the layout lock, held shared for the server's life, once the
    journals are known to be of ``account_shards`` shards. Raises ``ReshardError``."""
    lock = hold_server_lock(data_dir)
    problem = layout_problem(data_dir, account_shards)
    if problem is not None:
        lock.close()
        raise ReshardError(problem)
    record_layout(data_dir, account_shards)
    return lock


def read_procedure(work: Path) -> dict[str, Any]:
    """The reshard's procedure file (empty: none, or never written whole — it is written
    atomically — so nothing was switched)."""
    path = work / PROCEDURE
    if not path.is_file():
        return {}
    try:
        procedure: dict[str, Any] = json.loads(path.read_text())
    except (ValueError, OSError):
        return {}
    return procedure


def write_json(path: Path, value: dict[str, Any]) -> None:
    with atomic_text(path) as handle:
        json.dump(value, handle, sort_keys=True)
        handle.write("\n")
