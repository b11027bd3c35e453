"""What the server's actors wrote to their logs while a test ran.

Ray starts each actor in a worker process whose stdout and stderr are files under the
session's ``logs`` folder; structlog's JSON lines, Python's ``logging`` (websockets'
"connection handler failed" with its traceback) and asyncio's "Task exception was never
retrieved" all end up there. The files are found from the processes themselves
(``/proc/PID/fd/1`` and ``/2``, which Ray points at them), so no log-naming scheme is
assumed; a test reads only what was written after it started watching.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def log_files(pid: int) -> list[Path]:
    """The files a local process writes its stdout and stderr to (terminals and pipes skipped)."""
    files = []
    for fd in (1, 2):
        try:
            target = Path(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            continue
        if target.is_file():
            files.append(target)
    return files


class WorkerLogs:
    """The log files of the given processes, read from where each ended when watching began.
    What ``read`` returns is also kept for ``take_unchecked``, so a test may look for its own
    events without hiding anything from a later check of the whole."""

    def __init__(self, pids: list[int]) -> None:
        self.files = sorted({path for pid in pids for path in log_files(pid)})
        if not self.files:
            raise RuntimeError(f"no log files found for processes {pids}")
        self.offsets = {path: path.stat().st_size for path in self.files}
        self.unchecked: list[str] = []

    def read(self) -> str:
        """Everything written since the last read (or since watching began), all files."""
        parts = []
        for path in self.files:
            with path.open("rb") as file:
                file.seek(self.offsets[path])
                data = file.read()
            self.offsets[path] += len(data)
            parts.append(data.decode("utf-8", "replace"))
        text = "".join(parts)
        self.unchecked.append(text)
        return text

    def take_unchecked(self) -> str:
        """Everything read since the last call, then reading what is new."""
        self.read()
        text, self.unchecked = "".join(self.unchecked), []
        return text


async def actor_pids(supervisor: Any) -> dict[str, int]:
    """Every actor of a running topology (``BrokerServer.supervisor``) and its process id."""
    status = await supervisor.status_all.remote()
    return {actor["name"]: actor["pid"] for actor in status["actors"] if "pid" in actor}
