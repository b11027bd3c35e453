"""Giving memory back to the machine after a large, passing piece of work.

A basket of a million orders is read, checked and split in the supervisor, then waits at a
gateway, in a few hundred megabytes that are garbage once the load is done. Freed, they stay
with the process's allocators: pyarrow's pool (mimalloc) keeps what the reader and the
checks used (unless it is told to use the system allocator, as ``model/basket/table.py``
does), and glibc keeps the free pages inside its heap. ``give_back`` asks both to return
them (measured at 1,000,000 rows, in one process: from about 370 MB resident after a load
to about 115 MB). Python's own small-object arenas go back by themselves as they empty.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_libc_name = ctypes.util.find_library("c")
libc = ctypes.CDLL(_libc_name) if _libc_name else None  # the process's C library, opened once (memprobe reads glibc's figures through it)
_trim = getattr(libc, "malloc_trim", None)  # glibc only


def trim() -> None:
    """Ask glibc to give the free pages of every arena back to the kernel (nothing elsewhere)."""
    if _trim is not None:
        _trim(0)


def give_back() -> None:
    """Return the free memory of pyarrow's pool (if this process loaded pyarrow) and of
    glibc's heap to the kernel. Safe at any time; takes some milliseconds per hundred
    megabytes."""
    arrow = sys.modules.get("pyarrow")
    if arrow is not None:
        arrow.default_memory_pool().release_unused()
    trim()
