"""The snapshot format, version 4 (and 3, still read): what is written is read back to the same state, and
anything this version does not know is refused with a clear ``JournalCorrupt``."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from actors.instrument.core import InstrumentState
from actors.runtime import snapshot
from actors.runtime.machine import LOCAL, Machine
from actors.runtime.router import Router
from actors.runtime.snapshot import FORMAT, VERSION, OutboxState, Snapshot
from actors.supervisor.core import SupervisorState
from model.config import Config, VenueSection
from model.messages import Batch, SetKill, SetTradingStatus
from snapshots.journal import JournalCorrupt

CONFIG = Config()


def machine() -> Machine:
    state = Machine("supervisor", SupervisorState(["IBM", "MSFT"]), Router(CONFIG), 100)
    state.apply_batches([Batch(LOCAL, 0, 0, [SetTradingStatus("IBM", True), SetKill("A1", True)])], 1)
    return state


def envelope(**changes: Any) -> bytes:
    live = machine()
    fields: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "kind": "supervisor",
        "core": live.core.snapshot(),
        "applied": {},
        "outbox": OutboxState({}, {}),
    }
    return msgspec.msgpack.encode({**fields, **changes})


def test_a_snapshot_is_a_msgpack_envelope_that_restores_the_same_state() -> None:
    live = machine()
    live.inbox.applied["gateway-0~1"] = 3
    payload = live.dump()
    header = msgspec.msgpack.decode(payload)
    assert (header["format"], header["version"], header["kind"]) == ("brokerd-snapshot", 4, "supervisor")
    again = Machine("supervisor", SupervisorState([]), Router(CONFIG), 100)
    again.load(payload)
    assert again.state_hash() == live.state_hash() and again.core.halted == {"IBM": True}
    assert again.inbox.applied == {"gateway-0~1": 3} and again.outbox.unacked == live.outbox.unacked
    assert again.dump() == payload


def test_a_future_version_is_refused_whether_or_not_its_layout_decodes() -> None:
    future = r"supervisor: the snapshot is in format brokerd-snapshot/5, which this version does not read .*newer brokerd"
    with pytest.raises(JournalCorrupt, match=future):
        machine().load(envelope(version=5))
    with pytest.raises(JournalCorrupt, match=future):
        machine().load(envelope(version=5, core="laid out otherwise"))


def test_version_3_still_reads() -> None:
    live = machine()
    again = Machine("supervisor", SupervisorState([]), Router(CONFIG), 100)
    again.load(envelope(version=3))
    assert again.core.state_hash() == live.core.state_hash() and again.core.halted == {"IBM": True}


def test_another_format_garbage_and_a_damaged_version_4_are_refused() -> None:
    with pytest.raises(JournalCorrupt, match="is in format other-thing/4, which this version does not read"):
        machine().load(envelope(format="other-thing"))
    with pytest.raises(JournalCorrupt, match="is in bytes that are no brokerd snapshot"):
        machine().load(b"\xc1 not msgpack")
    with pytest.raises(JournalCorrupt, match=r"supervisor: the snapshot \(brokerd-snapshot/4, supervisor\) does not decode: Object missing required field `halted`"):
        machine().load(envelope(core={"symbols": []}))


def test_a_snapshot_of_another_kind_of_core_is_refused() -> None:
    instrument = Machine("instrument-0", InstrumentState("instrument-0", [], [VenueSection(name="SIM")]), Router(CONFIG), 100)
    with pytest.raises(JournalCorrupt, match="supervisor: the snapshot holds a core of kind 'instrument', this actor's is 'supervisor'"):
        machine().load(instrument.dump())


def test_refusing_changes_nothing() -> None:
    live = machine()
    before = live.state_hash()
    with pytest.raises(JournalCorrupt):
        live.load(envelope(version=99))
    assert live.state_hash() == before


def test_the_envelope_is_generic_over_each_core_s_state() -> None:
    decoded = msgspec.msgpack.decode(envelope(), type=Snapshot[SupervisorState.snapshot_type])
    assert decoded.core.halted == {"IBM": True} and snapshot.kind_of(SupervisorState) == "supervisor"
