"""Drop copy core: every fill of every account, as the FIX ExecutionReport the clearing
firm gets, and every allocated block as an AllocationInstruction (J). Pure: the actor
journals the fills it receives, this turns them into FIX strings in ``outgoing`` with the
FIX package's pure builders (``adapters/fix/outbound.py``, no quickfix), and the actor hands
those to its quickfix session."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import ClassVar

import msgspec

from actors.runtime.outputs import Dispatcher, Outputs
from adapters.fix import outbound
from model.enums import ExecType
from model.messages import AllocationReport, ExecutionReport


class DropCopySnapshot(msgspec.Struct):
    """The drop copy in a snapshot: its counts and the FIX messages not yet handed to the session."""

    kind: ClassVar[str] = "drop-copy"

    fills: int
    last_exec_id: str
    allocations: int
    outgoing: list[str]


class DropCopyState(Dispatcher):
    """Guarantees: one ExecutionReport (35=8, ExecType F) per fill, ExecID = the fill's
    exec id (stable across restarts: the clearing firm recognises a resend by it); one
    AllocationInstruction per allocated block side, AllocID = the block's id."""

    def __init__(self) -> None:
        self.name = "drop-copy"
        self.fills = 0
        self.last_exec_id = ""
        self.allocations = 0
        self.outgoing: list[str] = []
        self.out = Outputs()

    def _fill(self, report: ExecutionReport, now: int) -> None:
        if report.exec_type is not ExecType.TRADE:
            return
        self.outgoing.append(outbound.execution_copy(report))
        self.fills += 1
        self.last_exec_id = report.exec_id

    def _allocation(self, report: AllocationReport, now: int) -> None:
        allocations = list(zip(report.accounts, report.qtys, strict=True))
        message = outbound.allocation_instruction(report.alloc_id, report.symbol, report.side, report.avg_price, allocations, report.ts)
        self.outgoing.append(message)
        self.allocations += 1

    _handlers: ClassVar[dict[type, Callable[..., None]]] = {ExecutionReport: _fill, AllocationReport: _allocation}

    def take_outgoing(self) -> list[str]:
        outgoing, self.outgoing = self.outgoing, []
        return outgoing

    snapshot_type: ClassVar[type[DropCopySnapshot]] = DropCopySnapshot

    def snapshot(self) -> DropCopySnapshot:
        return DropCopySnapshot(self.fills, self.last_exec_id, self.allocations, self.outgoing)

    @classmethod
    def restore(cls, state: DropCopySnapshot) -> DropCopyState:
        core = cls()
        core.fills, core.last_exec_id, core.allocations, core.outgoing = state.fills, state.last_exec_id, state.allocations, state.outgoing
        return core

    def check_invariants(self) -> None:
        assert self.fills >= 0

    def state_hash(self) -> str:
        return hashlib.sha256(msgspec.msgpack.encode((self.fills, self.last_exec_id, self.allocations))).hexdigest()
