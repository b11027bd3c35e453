"""A journaled host's audit log without Ray (docs/audit.md, "For the actors"): each journal
record's AUDIT outputs appended as one batch with the record's sequence as origin, before
anything of it is sent; a restart's replay appends what a crash lost, exactly once, with
the same hashes, and nothing it already holds; a snapshot syncs the chain; the switch off
writes nothing; a chain ahead of its journal is refused."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

import msgspec
import pytest

from actors.account.core import AccountState
from actors.account.risk import RiskLimits
from actors.runtime.host import DurableHost
from actors.runtime.machine import Machine
from actors.runtime.outputs import AUDIT, GATEWAY, Outputs
from actors.runtime.router import Router
from model import fixed
from model.audit import AuditEvent, AuditKind, decode_record, read_frames
from model.audit_bodies import decode_body
from model.config import AuditSection, Config, JournalSection, ServerSection
from model.enums import OrderType, Side, TimeInForce
from model.messages import Batch, NewOrder, OpenAccount, Reply, encode_batch
from model.orders import OrderSpec
from snapshots.audit import AuditCorrupt, chain_segments, read_segment, verify_audit
from tests.conftest import demo_setup
from tests.unit.actors.runtime.support import Channel

SETUP = demo_setup()
SENDER = "gateway-0~1"


class Host(DurableHost):
    audited = True

    def make_core(self) -> AccountState:
        return AccountState(self.name, SETUP.instruments, RiskLimits.from_config(self.config.risk))


def config(data_dir: Path, durability: str = "buffered", enabled: bool = True, **journal: int) -> Config:
    return msgspec.structs.replace(
        SETUP.config,
        server=ServerSection(data_dir=str(data_dir)),
        journal=JournalSection(durability=durability, **journal),  # type: ignore[arg-type]
        audit=AuditSection(enabled=enabled),
    )


def host(data_dir: Path, **options: object) -> Host:
    actor = Host("account-0", config(data_dir, **options))  # type: ignore[arg-type]
    actor.recover(str(data_dir))
    return actor


def crash(actor: Host) -> None:
    """What a kill leaves of the actor for the next one in this process: its journal and
    its chain's lock released, nothing synced or anchored on the way."""
    assert actor.journal is not None and actor.audit_log is not None
    actor.journal.close()
    writer = actor.audit_log.writer
    writer._dirty = False  # no sync on close: a kill does none
    writer.close()


def order(index: int, price: str = "140") -> NewOrder:
    spec = OrderSpec("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, fixed.parse("1"), None, fixed.parse(price), None)
    return NewOrder("A1", f"c{index}", spec, Reply("gateway-0", 7, b""))


def batch(seq: int, *indexes: int) -> bytes:
    return encode_batch(Batch(SENDER, seq, 0, [order(i) for i in indexes]))


async def feed(actor: Host, first: int, last: int, channel: Channel | None = None) -> None:
    channel = channel or Channel()
    for seq in range(first, last + 1):
        actor.receive(batch(seq, 3 * seq, 3 * seq + 1, 3 * seq + 2), channel)
        if seq % 3 == 0:
            await asyncio.sleep(0)  # several batches per record, several records
    await actor.settle()


def records(data_dir: Path, writer: str = "account-0") -> list[tuple[bytes, object]]:
    """Every record of a chain, in order: its payload (what its hash is of) and the record."""
    found = []
    for segment in chain_segments(data_dir / "audit" / writer):
        for frame in read_frames(read_segment(segment)):
            assert frame.payload is not None
            found.append((frame.payload, decode_record(frame.payload)))
    return found


async def opened(data_dir: Path) -> Host:
    actor = host(data_dir)
    actor.submit_local([OpenAccount("A1", "trader1", fixed.parse("100000"))])
    await actor.local_inputs_applied()
    return actor


async def test_each_record_s_events_are_one_batch_with_its_journal_sequence_appended_before_the_acks(tmp_path: Path) -> None:
    actor = await opened(tmp_path)
    channel = Channel()
    await feed(actor, 1, 6, channel)
    found = [record for _, record in records(tmp_path)]
    assert [record.seq for record in found] == list(range(1, 19))
    assert {record.kind for record in found} == {AuditKind.ORDER_ACCEPTED}
    bodies = [decode_body(record.kind, record.body) for record in found]
    assert [body.client_order_id for body in bodies] == [f"c{i}" for i in range(3, 21)]
    assert all(body.gateway == "gateway-0" and body.conn == 7 and body.symbol == "IBM" for body in bodies)
    # origins are journal sequences, growing; indexes count from 0 within each
    assert actor.journal is not None
    assert 1 < found[0].origin <= found[-1].origin <= actor.journal.last_seq
    for previous, record in zip(found, found[1:], strict=False):
        assert (record.origin, record.index) == ((previous.origin, previous.index + 1) if record.origin == previous.origin else (record.origin, 0))
    assert channel.acks[-1] == 6
    crash(actor)


async def test_the_collector_waits_until_a_record_s_events_are_written_and_its_outputs_sent(tmp_path: Path) -> None:
    """A record's audit events and outputs die as the record is finished: no collection
    walks them on the way (``DurableHost._finish``); the collector runs again after."""
    actor = await opened(tmp_path)
    assert actor.audit_log is not None
    seen: list[tuple[str, bool]] = []
    append, send_fresh = actor.audit_log.append, actor._send_fresh

    def appending(*args: object, **kwargs: object) -> int:
        seen.append(("audit", gc.isenabled()))
        return append(*args, **kwargs)  # type: ignore[arg-type]

    def sending() -> None:
        seen.append(("send", gc.isenabled()))
        send_fresh()

    actor.audit_log.append = appending  # type: ignore[method-assign]
    actor._send_fresh = sending  # type: ignore[method-assign]
    assert gc.isenabled()
    await feed(actor, 1, 6)
    assert {kind for kind, _ in seen} == {"audit", "send"}
    assert not any(enabled for _, enabled in seen)
    assert gc.isenabled()
    gc.disable()  # a caller that keeps it off (a replay) finds it off after a record and a snapshot
    try:
        await feed(actor, 7, 7)
        actor.machine.capture()
        assert not gc.isenabled()
    finally:
        gc.enable()
    crash(actor)


async def test_a_restart_appends_what_the_crash_lost_once_with_the_same_hashes_and_nothing_twice(tmp_path: Path) -> None:
    actor = await opened(tmp_path)
    await feed(actor, 1, 8)
    expected = records(tmp_path)
    crash(actor)
    # lost after the journal commit: the last 7 records never reached the disk
    segment = chain_segments(tmp_path / "audit" / "account-0")[-1].path
    data = segment.read_bytes()
    keep = sum(8 + len(payload) for payload, _ in expected[:-7])
    segment.write_bytes(data[:keep])

    again = host(tmp_path)
    assert records(tmp_path) == expected  # regenerated by the replay, byte for byte
    assert again.audit_log is not None and again.audit_log.writer.durable_seq == len(expected)  # and synced
    crash(again)
    third = host(tmp_path)
    assert records(tmp_path) == expected  # nothing appended twice
    await feed(third, 9, 10)
    assert len(records(tmp_path)) == len(expected) + 6
    await third.close()
    report = verify_audit(tmp_path / "audit", tmp_path / "audit-anchors", None)
    assert report["ok"] and report["records"] == len(expected) + 6, report


async def test_a_torn_group_is_cut_at_open_and_regenerated(tmp_path: Path) -> None:
    actor = await opened(tmp_path)
    await feed(actor, 1, 4)
    expected = records(tmp_path)
    crash(actor)
    segment = chain_segments(tmp_path / "audit" / "account-0")[-1].path
    segment.write_bytes(segment.read_bytes()[:-5])  # the last frame cut short (its write torn)
    mark = tmp_path / "audit" / "account-0" / "durable"
    mark.write_bytes(b"")  # and the mark never said it was on disk
    again = host(tmp_path)
    assert records(tmp_path) == expected
    crash(again)


async def test_a_snapshot_syncs_the_chain_first(tmp_path: Path) -> None:
    actor = await opened(tmp_path)
    await feed(actor, 1, 3)
    assert actor.audit_log is not None
    writer = actor.audit_log.writer
    assert writer.durable_seq < writer.head.seq  # buffered: appended, not yet fsynced
    actor.snapshot()
    assert writer.durable_seq == writer.head.seq == 9
    crash(actor)


async def test_with_fsync_each_group_is_written_with_its_commit_and_synced_before_a_snapshot(tmp_path: Path) -> None:
    """The journal's fsync makes a commit durable; its audit records are written, not
    fsynced (a replay would regenerate them), until a snapshot lets the journal go."""
    actor = host(tmp_path, durability="fsync")
    actor.submit_local([OpenAccount("A1", "trader1", fixed.parse("100000"))])
    await feed(actor, 1, 5)
    assert actor.audit_log is not None
    writer = actor.audit_log.writer
    assert writer.head.seq == 15 and writer.durable_seq < writer.head.seq
    await actor.take_snapshot()
    assert writer.durable_seq == writer.head.seq == 15
    crash(actor)


async def test_with_the_log_off_nothing_is_written_and_a_replay_check_drops_the_events(tmp_path: Path) -> None:
    on, off = await opened(tmp_path / "on"), host(tmp_path / "off", enabled=False)
    off.submit_local([OpenAccount("A1", "trader1", fixed.parse("100000"))])
    await off.local_inputs_applied()
    await feed(on, 1, 3)
    await feed(off, 1, 3)
    assert off.audit_log is None and not (tmp_path / "off" / "audit").exists()
    assert not off.core.out.audit
    assert len(off.core.orders) == len(on.core.orders) == 9
    replay = await on.replay_hash()  # a replay check regenerates events and drops them
    assert replay["live"] == replay["replayed"]
    assert len(records(tmp_path / "on")) == 9
    crash(on)


async def test_a_chain_ahead_of_its_journal_is_refused(tmp_path: Path) -> None:
    actor = await opened(tmp_path)
    await feed(actor, 1, 2)
    crash(actor)
    for name in ("data.mdb", "lock.mdb"):  # a fresh journal beside the old audit log
        (tmp_path / "account-0" / name).unlink()
    with pytest.raises(AuditCorrupt, match="account-0: the audit chain holds records of journal record"):
        host(tmp_path)


def test_the_machine_takes_audit_sends_out_of_what_it_routes() -> None:
    class Core:
        snapshot_type = None

        def __init__(self) -> None:
            self.out = Outputs()

        def apply(self, message: object, now: int) -> None:
            if self.out.audit:
                self.out.to(AUDIT, "", AuditEvent(AuditKind.LOGIN, {"n": 1}))
            self.out.to(GATEWAY, "gateway-0", message)  # type: ignore[arg-type]

    machine = Machine("m", Core(), Router(SETUP.config), 100, audit=True)  # type: ignore[arg-type]
    machine.apply_batches([Batch(SENDER, 1, 0, [order(1), order(2)])], now=5, origin=42)
    (taken,) = machine.take_audit()
    assert (taken.time_ns, taken.origin, len(taken.events)) == (5, 42, 2)
    assert [seq for seq, _ in machine.outbox.unacked["gateway-0"]] == [1]  # the orders alone were routed
    assert machine.take_audit() == []
    quiet = Machine("m", Core(), Router(SETUP.config), 100)  # type: ignore[arg-type]
    quiet.apply_batches([Batch(SENDER, 1, 0, [order(1)])], now=5, origin=1)
    assert quiet.take_audit() == [] and not quiet.core.out.audit


async def test_a_chain_that_stops_growing_is_anchored_within_the_interval(tmp_path: Path) -> None:
    """Anchors are due by record time as records come; a head that stops growing is anchored
    by the event loop's clock ``anchor_every_s`` later, not left to the next record or stop."""
    from actors.runtime.audit import AuditLog
    from snapshots.audit import Batch as AuditBatch
    from tests.unit.keystore.support import secrets_in

    section = AuditSection(enabled=True, anchor_every_s=1)
    settings = msgspec.structs.replace(SETUP.config, server=ServerSection(data_dir=str(tmp_path)), audit=section, secrets=secrets_in(tmp_path / "keys"))
    log = AuditLog("gateway-0", settings, tmp_path)
    anchors = Path(section.anchor_root(tmp_path)) / "gateway-0"
    event = AuditEvent(AuditKind.LOGIN, {"user": "u"})
    try:
        log.append([AuditBatch(1_000, 0, (event,))], durable=False)  # the first append anchors (none yet this run)
        log.append([AuditBatch(2_000, 0, (event, event))], durable=False)  # 1 µs of record time later: not due
        assert sorted(p.name for p in anchors.iterdir()) == ["000000000001.anchor"]
        await asyncio.sleep(1.3)
        assert sorted(p.name for p in anchors.iterdir()) == ["000000000001.anchor", "000000000003.anchor"]
        assert log.anchored_seq == 3 and log._idle is None  # nothing more to anchor: the watch stops
    finally:
        log.close()
