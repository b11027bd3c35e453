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


def _account_machine(orders: int) -> Machine:
    from actors.account.core import AccountState
    from tests.unit.actors.account.support import LIMITS, IBM, XYZ, order, run
    from model.config import AccountSeed
    from model.enums import OrderType, TimeInForce

    core = AccountState("account-0", [IBM, XYZ], LIMITS)
    core.open_account(AccountSeed("A1", "t", 10**9 * 10**9))
    for index in range(orders):
        tif = TimeInForce.OPG if index % 3 else TimeInForce.DAY  # most cold, some hot
        run(core, order(f"c{index}", qty="1", price=None, order_type=OrderType.MARKET, tif=tif))
    return Machine("account-0", core, Router(CONFIG), 100)


@pytest.mark.parametrize("part_bytes", [1, 100, 4096, 1 << 30])
def test_a_snapshot_in_parts_is_msgpacks_encoding_of_the_whole_cut_where_asked(part_bytes: int) -> None:
    live = _account_machine(200)
    state = live.core.snapshot()
    whole = msgspec.msgpack.encode(Snapshot(FORMAT, VERSION, state.kind, state, {}, OutboxState(*live.outbox.dump())))
    taken = live.capture({})
    assert any(isinstance(piece, snapshot.Encoded) for piece in taken)  # the orders as their bytes, no Raw per order
    pieces = list(snapshot.parts(taken, part_bytes))
    assert b"".join(pieces) == whole == live.dump({})
    record = max(len(raw) for raw in state.orders)
    assert all(len(piece) < part_bytes + record for piece in pieces)  # a part ends after the record reaching the size
    assert len(pieces) == (1 if part_bytes >= len(whole) else len(pieces)) and (part_bytes > len(whole) or len(pieces) > 1)


def test_a_snapshot_taken_is_what_is_written_while_the_shard_goes_on() -> None:
    from model.enums import VenueEventKind
    from model.messages import OrderUpdate

    live = _account_machine(30)
    before = live.dump({})
    taken = live.capture({})
    core = live.core
    for order_id in list(core.orders):  # every order booked after the snapshot was taken
        core.apply(OrderUpdate(order_id, "A1", VenueEventKind.EXPIRED, 0, None, "x", "SIM", 1), 1)
    assert b"".join(snapshot.parts(taken, 64)) == before != live.dump({})


@pytest.mark.parametrize("part_bytes", [1, 100, 4096, 1 << 30])
def test_a_snapshot_encoded_as_it_is_written_has_the_same_bytes(part_bytes: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """``now=False`` keeps a long list of live records (here the shard's accounts) as
    ``Later`` and encodes it record by record in ``parts``: the same bytes, cut where asked."""
    from model.config import AccountSeed

    live = _account_machine(50)
    for index in range(2, 12):
        live.core.open_account(AccountSeed(f"A{index}", "t", 10**18))
    monkeypatch.setattr(snapshot, "LATER_RECORDS", 5)
    taken = live.capture({}, now=False)
    assert any(isinstance(piece, snapshot.Later) for piece in taken)
    assert not any(isinstance(piece, snapshot.Later) for piece in live.capture({}))
    assert b"".join(snapshot.parts(taken, part_bytes)) == live.dump({})
    taken = live.capture({}, now=False)
    pieces = list(snapshot.parts(taken, part_bytes))
    record = max(len(msgspec.msgpack.encode(account)) for account in live.core.snapshot().accounts)
    assert all(len(piece) < part_bytes + record + 5 for piece in pieces)  # a part ends after the record reaching the size (and the list's header)


def test_a_snapshot_written_at_once_files_nothing_into_the_live_books_and_writes_what_filing_would() -> None:
    """After the open a shard's fills wait staged and their lots pending (``model/lots.py``);
    a snapshot encodes the books as booking every fill at once makes them. ``now=False``
    (a clean shutdown's) does that in a copy per account, leaving the live shard as it was;
    ``now=True`` and ``dump`` book them in place. The bytes are the same, and so is the
    state a restore makes of them."""
    from actors.account.core import AccountState
    from tests.unit.actors.account.test_allocation_fills import fills, queued_state

    state, order_ids = queued_state()
    state.apply(fills(order_ids), 1)
    state.end_turn(1)
    staged, pending = len(state.staged), sum(a.books.pending for a in state.accounts.values() if a.books is not None)
    assert staged > 0
    live = Machine("account-0", state, Router(CONFIG), 100)
    taken = live.capture({}, now=False)
    assert any(isinstance(piece, snapshot.Later) and piece.prepare is not None for piece in taken)
    written = b"".join(snapshot.parts(taken, 4096))
    assert len(state.staged) == staged and sum(a.books.pending for a in state.accounts.values() if a.books is not None) == pending  # nothing filed
    assert written == live.dump({}) and len(state.staged) == 0  # ``dump`` files them: the same bytes
    restored = snapshot.load("account-0", AccountState, written).core
    assert restored.state_hash() == state.state_hash()
