"""The DropCopy Ray shell without a cluster: its class run in this process on a real LMDB
journal in tmp_path, with real quickfix listening on loopback. Fills are copied once the
session exists, and the copies a restart rebuilds go out again marked PossResend."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import msgspec

from actors.dropcopy.actor import DropCopyActor, _possible_resend
from actors.dropcopy.core import DropCopyState
from adapters.fix.dictionary import outgoing
from model import fixed
from model.config import Config, DropCopySection, JournalSection, ServerSection
from model.enums import ExecType, OrderStatus, OrderType, Side, TimeInForce
from model.messages import Batch, ExecutionReport, encode_batch
from model.orders import OrderSpec
from tests.conftest import ROOT, demo_setup
from tests.integration.fixtools import free_port, listening_addresses

SETUP = demo_setup()
Shell = DropCopyActor.__ray_actor_class__  # type: ignore[attr-defined]  # the class Ray would host, called here directly
D = fixed.parse


class Acks:
    def ack(self, seq: int) -> None:
        pass


def config(data_dir: Path) -> Config:
    """The drop copy on a free loopback port, with a CompID of its own (quickfix's session
    registry is process-wide: no other test may have the same session)."""
    session = data_dir / "dropcopy.cfg"
    session.write_text((ROOT / "conf" / "fix" / "dropcopy.cfg").read_text().replace("TargetCompID=CLEARING", f"TargetCompID=C{uuid.uuid4().hex[:8]}"))
    return msgspec.structs.replace(
        SETUP.config,
        server=ServerSection(data_dir=str(data_dir), fix_port=free_port()),
        journal=JournalSection(durability="buffered"),
        drop_copy=DropCopySection(enabled=True, session_config=str(session)),
    )


def fill(exec_id: str) -> ExecutionReport:
    spec = OrderSpec("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, D("10"), None, D("150"), None)
    return ExecutionReport("A1", "account-0-1", "c1", exec_id, ExecType.TRADE, OrderStatus.PARTIALLY_FILLED, spec,
                           D("4"), D("6"), D("4"), D("149.99"), D("149.99"), None, 1_700_000_000_000_000_000)  # fmt: skip


def poss_resend(raw: str) -> str | None:
    """PossResend (97) of a copy; the message is held while its header is read (quickfix's
    header is a view into it)."""
    message = outgoing(raw)
    header = message.getHeader()
    return header.getField(97) if header.isSetField(97) else None


async def deliver(actor: Any, seq: int, *reports: ExecutionReport) -> None:
    actor.receive(encode_batch(Batch("account-0", seq, 0, list(reports))), Acks())
    await actor.settle()


def test_a_copy_sent_again_carries_possresend_and_nothing_else_changes() -> None:
    core = DropCopyState()
    core.apply(fill("account-0-1-2"), 0)
    (raw,) = core.take_outgoing()
    again = _possible_resend(raw)
    assert (poss_resend(again), poss_resend(raw)) == ("Y", None)
    assert outgoing(again).getField(17) == outgoing(raw).getField(17) == "account-0-1-2"


async def test_fills_are_counted_and_handed_to_the_session_that_listens_on_loopback_only(tmp_path: Path) -> None:
    actor = Shell("drop-copy", config(tmp_path))
    await deliver(actor, 1, fill("account-0-1-1"))  # before the session: kept until it starts
    await actor.start()
    try:
        port = actor.config.server.fix_port
        assert listening_addresses(port) == {"127.0.0.1"}
        await deliver(actor, 2, fill("account-0-1-2"), fill("account-0-1-3"))
        status = await actor.status()
        assert (status["fills_copied"], status["allocations_copied"]) == (3, 0)
        assert status["fix"]["sent"] == 3 and status["fix"]["listening"] == f"127.0.0.1:{port}"
    finally:
        await actor.close()
        actor.journal.close()


async def test_after_a_restart_the_copies_replay_rebuilds_are_sent_again_as_possible_resends(tmp_path: Path) -> None:
    settings = config(tmp_path)
    actor = Shell("drop-copy", settings)
    await deliver(actor, 1, fill("account-0-1-1"), fill("account-0-1-2"))
    actor.journal.close()  # a crash: no snapshot, the journal holds the fills
    again = Shell("drop-copy", settings)
    assert [outgoing(raw).getField(17) for raw in again.resend] == ["account-0-1-1", "account-0-1-2"]
    assert [poss_resend(raw) for raw in again.resend] == ["Y", "Y"]
    assert (await again.status())["fills_copied"] == 2 and "fix" not in await again.status()
    again.journal.close()
