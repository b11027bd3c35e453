"""Named crash points for recovery tests: ``BROKERD_CRASH_AT=point:k[:actor]`` in the
server's environment (its driver passes it to every actor in the configuration).

The process that passes ``point`` for the k-th time (counting from 1, per process) kills
itself with SIGKILL: no ``finally``, no flush, no LMDB commit, exactly what a power cut
or ``kill -9`` does at that line. With ``:actor`` only that actor's process counts.

A crash happens once per data dir: a marker file ``crashed-<point>`` is written just
before the kill, so the restarted process runs on. Unset (production), ``hit`` costs
one attribute test.

Points: ``journal.before_commit``, ``journal.after_commit`` (before apply),
``apply.before_send`` (applied, outputs not yet sent), ``allocation.before_send`` (a
block's fills allocated, nothing of it sent yet), ``nav.before_send`` (a NAV strike's
marker passed on by an account shard or received by an InstrumentActor, nothing sent
yet), ``basket.before_send`` (a basket's chunk of orders entered by an account shard,
none of its reports, routes or answer sent, nothing acked), ``transfer.before_send`` (an
account shard handled a step of a journal's two-phase commit — the request it coordinates,
a prepare, a vote, an outcome or a booking — nothing of it sent or acked), ``fill.before_send``
(an account shard booked a trade of an order — cash, position and tax lots — none of its
reports sent, nothing acked), ``strategy.before_send`` (the strategy actor placed a live
order, not yet sent to its account shard), ``audit.before_append`` (a record committed and applied, its
audit events not yet appended, nothing sent), ``audit.mid_append`` (half of a commit group's
audit frames written, not synced, nothing sent), ``snapshot.part`` (a part of
a snapshot written in parts committed, its manifest not yet), ``snapshot.write`` (inside
the snapshot transaction: the manifest's, for one in parts), ``journal.truncate`` (inside
the truncation transaction), ``reshard.built`` (``admin reshard``: the new journals built
and the procedure committed, nothing switched), ``reshard.switch`` (the first actor's
journal switched, the others not), ``ship.before_append`` (``[placement] failover``: a
group committed to the local journal, not yet to its shipped copy, nothing acknowledged).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Mapping
from pathlib import Path

POINTS = (
    "journal.before_commit",
    "journal.after_commit",
    "apply.before_send",
    "allocation.before_send",
    "nav.before_send",
    "basket.before_send",
    "transfer.before_send",
    "fill.before_send",
    "strategy.before_send",
    "audit.before_append",
    "audit.mid_append",
    "snapshot.part",
    "snapshot.write",
    "journal.truncate",
    "reshard.built",
    "reshard.switch",
    "ship.before_append",
)


class CrashPoints:
    def __init__(self, spec: str | None, actor: str, data_dir: str | Path | None) -> None:
        self.point: str | None = None
        self.remaining = 0
        self.marker: Path | None = None
        if not spec:
            return
        parts = spec.split(":")
        if len(parts) not in (2, 3) or parts[0] not in POINTS or not parts[1].isdigit() or int(parts[1]) < 1:
            raise ValueError(f"BROKERD_CRASH_AT={spec!r}: expected POINT:K[:ACTOR] with POINT one of {', '.join(POINTS)}")
        if len(parts) == 3 and parts[2] != actor:
            return
        if data_dir is not None:
            self.marker = Path(data_dir) / f"crashed-{parts[0]}"
            if self.marker.exists():
                return
        self.point = parts[0]
        self.remaining = int(parts[1])

    def hit(self, point: str) -> None:
        if point != self.point:
            return
        self.remaining -= 1
        if self.remaining > 0:
            return
        if self.marker is not None:
            self.marker.write_text(f"{os.getpid()}\n")
        os.kill(os.getpid(), signal.SIGKILL)


NOWHERE = CrashPoints(None, "", None)


def spec_from_environment(environ: Mapping[str, str] = os.environ) -> str:
    """``BROKERD_CRASH_AT`` as the process was given it ("" when unset), checked: a
    ``ValueError`` says what is wrong with it. The server's driver reads it and passes it on
    in the configuration (``[server] crash_at``), so that it reaches every actor."""
    spec = environ.get("BROKERD_CRASH_AT", "")
    CrashPoints(spec, "", None)
    return spec
