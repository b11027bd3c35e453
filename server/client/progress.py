"""A progress bar for the admin shell's long commands, on a terminal only.

Drawn on standard error, one line redrawn in place (``\\r``) at most every ``every_s``
seconds, and cleared when done; nothing at all when standard error is not a terminal or the
command was asked for ``--json`` (a script reads the result, not the bar).

Guarantees: the bar never writes to standard output, so a command's output is the same with
and without it.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 30  # characters of the bar itself
EVERY_S = 0.1  # the fastest redraw: a bar is for a person, not a log


class Progress:
    """``label``: what is counted; ``total``: how many there are (``None``: unknown, the
    count alone is shown)."""

    def __init__(self, label: str, total: int | None = None, as_json: bool = False, stream: TextIO | None = None, every_s: float = EVERY_S) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = not as_json and self.stream.isatty()
        self.label, self.total, self.every_s = label, total, every_s
        self.done = 0
        self.drawn_at: float | None = None  # never yet: the first update draws (the monotonic clock may start near 0 on a fresh machine)
        self.shown = False

    def update(self, done: int, total: int | None = None) -> None:
        """``done`` so far (and the total, when it became known)."""
        self.done = done
        if total is not None:
            self.total = total
        if not self.enabled:
            return
        now = time.monotonic()
        if self.drawn_at is not None and now - self.drawn_at < self.every_s:
            return
        self.drawn_at = now
        self.stream.write("\r" + self.line())
        self.stream.flush()
        self.shown = True

    def advance(self, count: int = 1) -> None:
        self.update(self.done + count)

    def line(self) -> str:
        if not self.total:
            return f"{self.label} {self.done:,}"
        share = min(self.done / self.total, 1.0)
        filled = round(share * WIDTH)
        return f"{self.label} [{'#' * filled}{'.' * (WIDTH - filled)}] {share * 100:5.1f}% {self.done:,}/{self.total:,}"

    def finish(self) -> None:
        """Clear the line (the command prints its result after it)."""
        if self.enabled and self.shown:
            self.stream.write("\r" + " " * len(self.line()) + "\r")
            self.stream.flush()
        self.shown = False
