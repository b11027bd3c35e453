"""An opt-in look inside an actor's memory, for benchmarks and investigations only.

Set ``BROKERD_MEMPROBE`` to a directory before Ray starts (the actors inherit the
environment) and every actor process starts a daemon thread that watches
``<dir>/request``. Each time that file holds a new number ``k`` (a line ``k`` followed by
optional words), the actor writes ``<dir>/<actor>-<pid>-<k>.txt``:

* its resident memory split as the kernel counts it (``RssAnon``, ``RssFile``);
* glibc's ``mallinfo2``: bytes in use in malloc's arenas, bytes free in them (the
  fragmentation the allocator keeps), bytes in ``mmap``ed blocks;
* the counts of the objects the garbage collector tracks, by type (containers only: a
  ``str`` or ``int`` is not tracked), the largest first;
* with ``BROKERD_MEMPROBE_TRACE=N`` (tracemalloc started at the actor's start, keeping
  ``N`` frames): the top allocations by line, and by traceback for the largest;
* with the word ``trim`` in the request: the resident memory again after
  ``malloc_trim(0)`` (what the allocator gives back to the kernel when asked).

Nothing here runs unless the variable is set; nothing in it changes the actor's state.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import Counter
from pathlib import Path

from actors.runtime import heap

ENV = "BROKERD_MEMPROBE"
TRACE_ENV = "BROKERD_MEMPROBE_TRACE"
POLL_S = 0.2
TOP = 40


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")
    ]


def _libc() -> ctypes.CDLL | None:
    return heap.libc  # the one handle, opened once (``actors/runtime/heap.py``)


def resident() -> dict[str, int]:
    """``RssAnon``, ``RssFile`` and ``RssShmem`` of this process, in bytes."""
    sizes: dict[str, int] = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("RssAnon", "RssFile", "RssShmem", "VmHWM"):
            sizes[key] = int(value.split()[0]) * 1024
    return sizes


def malloc_info() -> dict[str, int]:
    """glibc's view of its heap: in use, free inside the arenas, in mmapped blocks."""
    libc = _libc()
    if libc is None or not hasattr(libc, "mallinfo2"):
        return {}
    libc.mallinfo2.restype = _MallInfo2
    info = libc.mallinfo2()
    return {"arena": info.arena, "in_use": info.uordblks, "free": info.fordblks, "mmapped": info.hblkhd, "top_pad": info.keepcost}


def trim() -> None:
    """Ask glibc to give the free pages of every arena back to the kernel."""
    heap.trim()


def pymalloc_info() -> dict[str, int]:
    """Python's small-object allocator (objects of up to 512 bytes live in its arenas, which
    ``mallinfo2`` does not see): bytes in its arenas, in live blocks, in free blocks."""
    wanted = {
        "# arenas allocated current": "arenas",
        "# bytes in allocated blocks": "in_use",
        "# bytes in available blocks": "free",
        "# bytes lost to pool headers": "headers",
        "# bytes lost to quantization": "quantization",
        "# bytes lost to arena alignment": "alignment",
    }
    libc = _libc()
    if libc is None:
        return {}
    with tempfile.TemporaryFile("w+") as out:
        # straight to a FILE* of our own: an actor's stderr may be redirected by its runtime
        libc.fdopen.restype = ctypes.c_void_p
        stream = libc.fdopen(os.dup(out.fileno()), b"w")
        ctypes.pythonapi._PyObject_DebugMallocStats.argtypes = [ctypes.c_void_p]
        ctypes.pythonapi._PyObject_DebugMallocStats(stream)
        libc.fclose.argtypes = [ctypes.c_void_p]
        libc.fclose(stream)
        out.seek(0)
        text = out.read()
    found: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition("=")
        key = key.strip()
        if key in wanted:
            found[wanted[key]] = int(value.strip().replace(",", ""))
    if "arenas" in found:
        found["arenas"] *= 1 << 20  # 1 MiB each (3.10+)
    return found


def arrow_info() -> dict[str, int]:
    """pyarrow's memory pool, if this process loaded pyarrow (its jemalloc or mimalloc keeps
    freed memory for a while, outside glibc's and Python's counts)."""
    arrow = sys.modules.get("pyarrow")
    if arrow is None:
        return {}
    pool = arrow.default_memory_pool()
    return {"allocated": pool.bytes_allocated(), "max": pool.max_memory() or 0}


def report(name: str, words: list[str]) -> str:
    """The text of one dump (see the module's docstring)."""
    lines = [f"actor {name} pid {os.getpid()} at {time.time():.3f}"]
    mb = 1 << 20
    lines.append("rss " + " ".join(f"{k}={v / mb:.1f}MB" for k, v in resident().items()))
    lines.append("malloc " + " ".join(f"{k}={v / mb:.1f}MB" for k, v in malloc_info().items()))
    lines.append("pymalloc " + " ".join(f"{k}={v / mb:.1f}MB" for k, v in pymalloc_info().items()))
    lines.append("arrow " + " ".join(f"{k}={v / mb:.1f}MB" for k, v in arrow_info().items()))
    counts = Counter(type(o).__name__ for o in gc.get_objects())
    lines.append(f"gc-tracked objects: {sum(counts.values()):,}")
    lines.extend(f"  {count:>12,} {kind}" for kind, count in counts.most_common(TOP))
    if tracemalloc.is_tracing():
        snapshot = tracemalloc.take_snapshot()
        traced, peak = tracemalloc.get_traced_memory()
        lines.append(f"tracemalloc: traced {traced / mb:.1f}MB peak {peak / mb:.1f}MB")
        for stat in snapshot.statistics("lineno")[:TOP]:
            lines.append(f"  {stat.size / mb:>9.1f}MB {stat.count:>11,} {stat.traceback[0]}")
        if tracemalloc.get_traceback_limit() > 1:
            lines.append("largest by traceback:")
            for stat in snapshot.statistics("traceback")[:8]:
                lines.append(f"  {stat.size / mb:.1f}MB {stat.count:,}")
                lines.extend(f"      {frame}" for frame in stat.traceback)
        del snapshot
    if "trim" in words:
        gc.collect()
        before = resident()
        started = time.perf_counter()
        trim()
        lines.append(
            f"malloc_trim(0) in {(time.perf_counter() - started) * 1000:.0f} ms: RssAnon {before['RssAnon'] / mb:.1f} → {resident()['RssAnon'] / mb:.1f}MB; "
            + "malloc "
            + " ".join(f"{k}={v / mb:.1f}MB" for k, v in malloc_info().items())
        )
    return "\n".join(lines) + "\n"


def _watch(name: str, folder: Path) -> None:
    seen = -1
    request = folder / "request"
    while True:
        time.sleep(POLL_S)
        try:
            words = request.read_text().split()
            number = int(words[0])
        except (OSError, ValueError, IndexError):
            continue
        if number <= seen:
            continue
        seen = number
        text = report(name, words[1:])
        target = folder / f"{name}-{os.getpid()}-{number}.txt"
        target.with_suffix(".tmp").write_text(text)
        target.with_suffix(".tmp").replace(target)


def start(name: str) -> None:
    """Start the probe in this process when ``BROKERD_MEMPROBE`` names a directory."""
    folder = os.environ.get(ENV)
    if not folder:
        return
    frames = int(os.environ.get(TRACE_ENV, "0") or 0)
    if frames and not tracemalloc.is_tracing():
        tracemalloc.start(frames)
    Path(folder).mkdir(parents=True, exist_ok=True)
    threading.Thread(target=_watch, args=(name, Path(folder)), name="memprobe", daemon=True).start()
