"""Check every actor's journal and snapshots under a data dir, changing nothing.

An actor's environment is a subdirectory holding ``data.mdb`` (``<data-dir>/account-0``,
``<data-dir>/supervisor``, ...). Each is opened read-only (``Journal(readonly=True)``), so
this works with the server down and beside a running server alike.
"""

from __future__ import annotations

from collections.abc import Callable

from pathlib import Path
from typing import Any

import lmdb

from snapshots.journal import Journal, JournalCorrupt


class DataDirError(Exception):
    """The data dir is missing or holds no actor environment: there is nothing to check."""


def actor_dirs(data_dir: Path) -> list[Path]:
    """The actor environments directly under ``data_dir``, by name."""
    return sorted(child for child in data_dir.iterdir() if (child / "data.mdb").is_file())


def verify_actor(path: Path) -> dict[str, Any]:
    """One actor's report: ``{name, first_seq, last_seq, snapshots, issues}``. An
    environment that cannot be opened is reported as an error, not raised."""
    name = path.name
    try:
        journal = Journal(path, name, readonly=True)
    except (lmdb.Error, JournalCorrupt, OSError) as failure:
        issue = {"severity": "error", "where": name, "detail": f"cannot open: {failure}"}
        return {"name": name, "first_seq": None, "last_seq": None, "snapshots": [], "issues": [issue]}
    try:
        found = journal.inspect()
    finally:
        journal.close()
    issues = [{"severity": issue.severity, "where": issue.where, "detail": issue.detail} for issue in found.issues]
    return {"name": name, "first_seq": found.first_seq, "last_seq": found.last_seq, "snapshots": found.snapshots, "issues": issues}


def verify_data_dir(path: str | Path, progress: Callable[[int, int], object] | None = None) -> dict[str, Any]:
    """A JSON-able report of every actor under ``path``; ``ok`` is true when no issue is an
    error (warnings are what recovery repairs by itself). Raises ``DataDirError``.
    ``progress``: told the actors verified of how many, after each."""
    data_dir = Path(path)
    if not data_dir.exists():
        raise DataDirError(f"data dir {data_dir} does not exist")
    if not data_dir.is_dir():
        raise DataDirError(f"data dir {data_dir} is not a directory")
    dirs = actor_dirs(data_dir)
    if not dirs:
        raise DataDirError(f"data dir {data_dir} holds no actor journal (no <actor>/data.mdb): is it the server's data dir?")
    actors = []
    for actor in dirs:
        actors.append(verify_actor(actor))
        if progress is not None:
            progress(len(actors), len(dirs))
    severities = [issue["severity"] for actor in actors for issue in actor["issues"]]
    errors = severities.count("error")
    return {
        "data_dir": str(data_dir),
        "ok": errors == 0,
        "errors": errors,
        "warnings": severities.count("warning"),
        "actors": actors,
    }
