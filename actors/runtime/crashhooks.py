"""The crash points of a journaled actor's turn, for recovery tests (``snapshots/crashpoints.py``).

A host holds a ``TurnCrashPoints`` only when ``BROKERD_CRASH_AT`` armed a point for its
process, and ``None`` otherwise: in production a turn pays one attribute test, and no
message pays anything. The journal's own points (``journal.before_commit``,
``snapshot.write``, ``journal.truncate``) are inside its transactions (``Journal``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from model.enums import VenueEventKind
from model.messages import AllocationFills, Batch, LoadOrders, OrderUpdate
from snapshots.crashpoints import CrashPoints


class TurnCrashPoints:
    """``journal.after_commit`` (committed, not applied) and, once the record is applied but
    nothing of it is sent or acked: ``apply.before_send``, ``allocation.before_send`` (the
    record allocated a block's fills), ``nav.before_send`` (it passed on or received a
    NAV strike's marker), ``basket.before_send`` (it held a basket's chunk of orders),
    ``transfer.before_send`` (it handled a step of a journal's two-phase commit) and
    ``fill.before_send`` (it held a trade of an order: a fill, an allocation, a NAV fill,
    booked with its lots), ``strategy.before_send`` (the strategy actor placed a live order)
— the last six count only records that did that; and
    ``audit.before_append`` (applied, its audit events not yet appended, nothing sent), only
    for records that have audit events."""

    __slots__ = ("allocations", "crash", "journal_steps", "nav_markers", "strategy_orders")

    def __init__(self, crash: CrashPoints, core: Any) -> None:
        self.crash = crash
        self.allocations = getattr(core, "allocations", 0)  # block fills allocated or booked so far
        self.nav_markers = getattr(core, "nav_markers", 0)  # NAV markers passed on or received so far
        self.journal_steps = getattr(core, "journal_steps", 0)  # steps of journals' two-phase commits handled so far
        self.strategy_orders = getattr(core, "orders_sent", 0)  # live orders a strategy sent so far

    @classmethod
    def armed(cls, crash: CrashPoints, core: Any) -> TurnCrashPoints | None:
        """The hooks when ``crash`` has a point armed in this process, else ``None``."""
        return cls(crash, core) if crash.point is not None else None

    def after_commit(self) -> None:
        self.crash.hit("journal.after_commit")

    def before_audit(self) -> None:
        """The record is applied and has audit events, none appended, nothing sent."""
        self.crash.hit("audit.before_append")

    def before_send(self, core: Any, batches: Sequence[Batch] = ()) -> None:
        crash = self.crash
        crash.hit("apply.before_send")
        if crash.point == "basket.before_send" and any(isinstance(m, LoadOrders) for batch in batches for m in batch.messages):
            crash.hit("basket.before_send")
        if crash.point == "fill.before_send" and any(_is_trade(m) for batch in batches for m in batch.messages):
            crash.hit("fill.before_send")
        if crash.point == "allocation.before_send":
            allocations = getattr(core, "allocations", 0)
            if allocations > self.allocations:
                crash.hit("allocation.before_send")
            self.allocations = allocations
        if crash.point == "transfer.before_send":
            steps = getattr(core, "journal_steps", 0)
            if steps > self.journal_steps:
                crash.hit("transfer.before_send")
            self.journal_steps = steps
        if crash.point == "strategy.before_send":
            sent = getattr(core, "orders_sent", 0)
            if sent > self.strategy_orders:
                crash.hit("strategy.before_send")
            self.strategy_orders = sent
        if crash.point == "nav.before_send":
            markers = getattr(core, "nav_markers", 0)
            if markers > self.nav_markers:
                crash.hit("nav.before_send")
            self.nav_markers = markers


def _is_trade(message: object) -> bool:
    return (isinstance(message, OrderUpdate) and message.kind is VenueEventKind.TRADE) or isinstance(message, AllocationFills)
