"""The journaled actor host without Ray: journal before acting, acks after the commit,
duplicates dropped, recovery from snapshot + replay equal to the live state, regenerated
outboxes byte for byte, and corruption refused."""

from __future__ import annotations

import asyncio
from pathlib import Path

import lmdb
import msgspec
import pytest

from actors.account.core import AccountState
from actors.account.risk import RiskLimits
from actors.runtime.host import DurableHost
from model import fixed
from model.config import Config, JournalSection, ServerSection
from model.enums import OrderType, Side, TimeInForce
from model.messages import Batch, NewOrder, OpenAccount, Reply, encode_batch
from model.orders import OrderSpec
from snapshots.journal import JournalCorrupt
from tests.conftest import demo_setup
from tests.unit.actors.runtime.support import Channel

SETUP = demo_setup()
GATEWAY = "gateway-0~1"


class Host(DurableHost):
    def make_core(self) -> AccountState:
        return AccountState(self.name, SETUP.instruments, RiskLimits.from_config(self.config.risk))


def config(data_dir: Path, **journal: int) -> Config:
    return msgspec.structs.replace(
        SETUP.config,
        server=ServerSection(data_dir=str(data_dir)),
        journal=JournalSection(durability="buffered", **journal),  # type: ignore[arg-type]
    )


def host(data_dir: Path, **journal: int) -> Host:
    actor = Host("account-0", config(data_dir, **journal))
    actor.recover(str(data_dir))
    return actor


def order(index: int) -> NewOrder:
    spec = OrderSpec("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, fixed.parse("1"), None, fixed.parse("140"), None)
    return NewOrder("A1", f"c{index}", spec, Reply("gateway-0", 1, b""))


def batch(seq: int, *indexes: int) -> bytes:
    return encode_batch(Batch(GATEWAY, seq, 0, [order(i) for i in indexes]))


async def turn() -> None:
    await asyncio.sleep(0)
    await asyncio.sleep(0)


async def feed(actor: Host, channel: Channel, batches: int, per_batch: int = 3) -> None:
    actor.submit_local([OpenAccount("A1", "trader1", fixed.parse("100000"))])
    for seq in range(1, batches + 1):
        actor.receive(batch(seq, *range(seq * per_batch, seq * per_batch + per_batch)), channel)
        if seq % 4 == 0:
            await turn()  # several batches per record, several records
    await turn()


async def test_inputs_are_journaled_then_applied_then_acked(tmp_path: Path) -> None:
    actor = host(tmp_path)
    channel = Channel()
    await feed(actor, channel, 10)
    assert actor.journal is not None and actor.journal.last_seq >= 3
    assert len(actor.core.orders) == 30
    assert channel.acks[-1] == 10
    # every `new` report and route is in the outbox, unacked, in seq order per destination
    seqs = [seq for seq, _ in actor.outbox.unacked["gateway-0"]]
    assert seqs == list(range(1, len(seqs) + 1))


async def test_a_repeated_batch_is_dropped_and_acked_again(tmp_path: Path) -> None:
    actor = host(tmp_path)
    channel = Channel()
    await feed(actor, channel, 3)
    records = actor.journal.last_seq if actor.journal else 0
    actor.receive(batch(2, 6, 7, 8), channel)
    await turn()
    assert len(actor.core.orders) == 9
    assert actor.journal is not None and actor.journal.last_seq == records
    assert channel.acks[-1] == 3


async def test_a_batch_after_a_gap_waits_for_the_gap(tmp_path: Path) -> None:
    actor = host(tmp_path)
    channel = Channel()
    actor.submit_local([OpenAccount("A1", "trader1", fixed.parse("100000"))])
    actor.receive(batch(2, 4, 5), channel)
    await turn()
    assert not actor.core.orders and actor.inbox.waiting() == 1
    actor.receive(batch(1, 1, 2), channel)
    await turn()
    assert len(actor.core.orders) == 4 and channel.acks[-1] == 2


async def test_restart_rebuilds_state_seqs_and_the_outbox_byte_for_byte(tmp_path: Path) -> None:
    actor = host(tmp_path)
    await feed(actor, Channel(), 12)
    expected_hash = actor.machine.state_hash()
    expected_outbox = {name: list(queue) for name, queue in actor.outbox.unacked.items()}
    assert actor.journal is not None
    actor.journal.close()

    again = host(tmp_path)
    assert again.machine.state_hash() == expected_hash
    assert {name: list(queue) for name, queue in again.outbox.unacked.items()} == expected_outbox
    assert again.inbox.applied[GATEWAY] == 12


async def test_snapshot_truncation_and_recovery_from_the_snapshot(tmp_path: Path) -> None:
    actor = host(tmp_path, snapshot_every_events=10, snapshot_every_s=0, snapshot_events_per_record=0)
    await feed(actor, Channel(), 20)
    assert actor.journal is not None
    assert len(actor.journal.snapshot_infos()) >= 1 and actor.journal.first_seq() > 1  # truncated
    expected = actor.machine.state_hash()
    replay = await actor.replay_hash()
    assert replay["live"] == replay["replayed"] == expected
    actor.journal.close()

    again = host(tmp_path)
    assert again.recovery["snapshot"] is not None
    assert again.machine.state_hash() == expected


async def test_replay_from_empty_equals_the_live_state(tmp_path: Path) -> None:
    actor = host(tmp_path)
    await feed(actor, Channel(), 8)
    replay = await actor.replay_hash()
    assert replay["from"] == 1 and replay["live"] == replay["replayed"]


async def test_a_corrupt_record_in_the_middle_stops_recovery_naming_actor_and_sequence(tmp_path: Path) -> None:
    actor = host(tmp_path)
    await feed(actor, Channel(), 12)
    assert actor.journal is not None and actor.journal.last_seq >= 3
    actor.journal.close()
    env = lmdb.open(str(tmp_path / "account-0"), max_dbs=4)
    journal = env.open_db(b"journal")
    with env.begin(write=True) as txn:
        key = (2).to_bytes(8, "big")
        record = bytearray(txn.get(key, db=journal))
        record[-1] ^= 0xFF
        txn.put(key, bytes(record), db=journal)
    env.close()
    with pytest.raises(JournalCorrupt, match=r"account-0.*record 2"):
        host(tmp_path)


async def test_a_torn_tail_is_cut_and_the_rest_recovers(tmp_path: Path) -> None:
    actor = host(tmp_path)
    await feed(actor, Channel(), 8)
    assert actor.journal is not None
    last = actor.journal.last_seq
    actor.journal.close()
    env = lmdb.open(str(tmp_path / "account-0"), max_dbs=4)
    journal = env.open_db(b"journal")
    with env.begin(write=True) as txn:
        key = last.to_bytes(8, "big")
        txn.put(key, txn.get(key, db=journal)[:-3], db=journal)  # half-written
    env.close()
    again = host(tmp_path)
    assert again.journal is not None and again.journal.last_seq == last - 1


async def test_with_fsync_commits_are_pipelined_and_acks_wait_for_the_disk(tmp_path: Path) -> None:
    """fsync: the commit runs on the writer thread while batches keep arriving; a batch is
    acked only once the record holding it is committed, and records apply in order."""
    actor = Host("account-0", msgspec.structs.replace(config(tmp_path), journal=JournalSection(durability="fsync")))
    actor.recover(str(tmp_path))
    channel = Channel()
    actor.submit_local([OpenAccount("A1", "trader1", fixed.parse("100000"))])
    await turn()
    for seq in range(1, 41):
        actor.receive(batch(seq, seq), channel)
        assert all(ack <= actor.durable.get(GATEWAY, 0) for ack in channel.acks)
        if seq % 5 == 0:
            await asyncio.sleep(0)
    await actor.settle()
    assert channel.acks[-1] == 40 and channel.acks == sorted(channel.acks)
    assert [order.client_order_id for order in actor.core.orders.values()] == [f"c{seq}" for seq in range(1, 41)]
    assert actor.journal is not None
    expected = actor.machine.state_hash()
    actor.journal.close()
    assert host(tmp_path).machine.state_hash() == expected


async def test_scheduled_snapshots_with_fsync_are_written_by_the_writer_thread(tmp_path: Path) -> None:
    journal = JournalSection(durability="fsync", snapshot_every_events=10, snapshot_every_s=0, snapshot_events_per_record=0)
    actor = Host("account-0", msgspec.structs.replace(config(tmp_path), journal=journal))
    actor.recover(str(tmp_path))
    channel = Channel()
    actor.submit_local([OpenAccount("A1", "trader1", fixed.parse("100000"))])
    for seq in range(1, 31):
        actor.receive(batch(seq, 3 * seq, 3 * seq + 1, 3 * seq + 2), channel)
        if seq % 3 == 0:
            await actor.settle()  # one record per three batches
    await actor.settle()
    assert actor.journal is not None
    assert len(actor.journal.snapshot_infos()) == 2 and actor.journal.first_seq() > 1  # truncated
    replay = await actor.replay_hash()
    assert replay["live"] == replay["replayed"]
    expected = actor.machine.state_hash()
    actor.journal.close()
    again = host(tmp_path)
    assert again.recovery["snapshot"] is not None and again.machine.state_hash() == expected


async def test_a_snapshot_taken_while_batches_wait_does_not_count_them(tmp_path: Path) -> None:
    """Batches accepted while a commit is in flight are not in the state yet; a snapshot
    taken then must not mark them applied, or their resend after a crash is dropped."""
    journal = JournalSection(durability="fsync", snapshot_every_events=1, snapshot_every_s=0, snapshot_events_per_record=0)
    actor = Host("account-0", msgspec.structs.replace(config(tmp_path), journal=journal))
    actor.recover(str(tmp_path))
    channel = Channel()
    actor.submit_local([OpenAccount("A1", "trader1", fixed.parse("100000"))])
    await actor.settle()
    sent = []
    for seq in range(1, 21):
        sent.append(batch(seq, seq))
        actor.receive(sent[-1], channel)
        if seq == 1:
            await asyncio.sleep(0)  # record 2 (batch 1) goes to the writer; 2..20 wait for it
    assert actor.commits.in_flight is not None and len(actor.commits.pending) == 19
    actor.commits.schedule = lambda: None  # type: ignore[method-assign]  # the crash comes before the next commit
    await asyncio.wait([actor.commits.in_flight])
    await asyncio.sleep(0)  # applied; the scheduled snapshot is taken with 19 batches pending
    await asyncio.get_running_loop().run_in_executor(actor.commits.writer, lambda: None)
    assert actor.journal is not None and actor.journal.latest_snapshot() is not None
    actor.journal.close()
    again = host(tmp_path)
    resend = Channel()
    for data in sent:  # the gateway resends everything unacked (here: all of it)
        again.receive(data, resend)
    await again.settle()
    assert sorted(order.client_order_id for order in again.core.orders.values()) == sorted(f"c{seq}" for seq in range(1, 21))


async def test_glibc_is_trimmed_after_bulk_records_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Small records (the steady flow of orders) never trim; records of at least
    ``BIG_RECORD_BYTES`` (batches received and made) trim once ``TRIM_EVERY_BYTES`` of them
    have been applied since the last trim."""
    from actors.runtime import heap, host as host_module

    trims: list[int] = []
    monkeypatch.setattr(heap, "trim", lambda: trims.append(1))
    actor = host(tmp_path)
    channel = Channel()
    await feed(actor, channel, 8)  # records of a few KB
    assert trims == [] and actor.untrimmed == 0
    monkeypatch.setattr(host_module, "BIG_RECORD_BYTES", 1)  # every record is bulk now
    monkeypatch.setattr(host_module, "TRIM_EVERY_BYTES", 1 << 30)
    actor.receive(batch(9, 100, 101, 102), channel)
    await turn()
    assert trims == [] and actor.untrimmed > 0  # counted, not yet enough
    monkeypatch.setattr(host_module, "TRIM_EVERY_BYTES", actor.untrimmed + 1)
    actor.receive(batch(10, 103, 104, 105), channel)
    await turn()
    assert trims == [1] and actor.untrimmed == 0


async def test_glibc_is_trimmed_once_bulk_work_goes_quiet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Bulk records short of ``TRIM_EVERY_BYTES`` trim ``IDLE_TRIM_SECONDS`` after the last
    of them (while they keep coming, the trim waits); small records never start the wait."""
    import asyncio

    from actors.runtime import heap, host as host_module

    trims: list[int] = []
    monkeypatch.setattr(heap, "trim", lambda: trims.append(1))
    monkeypatch.setattr(host_module, "IDLE_TRIM_SECONDS", 0.2)
    actor = host(tmp_path)
    channel = Channel()
    await feed(actor, channel, 3)
    await asyncio.sleep(0.3)
    assert trims == []  # small records: no wait, no trim
    monkeypatch.setattr(host_module, "BIG_RECORD_BYTES", 1)
    for seq in range(4, 8):  # bulk work, a record every 0.1 s: never quiet for 0.2 s
        actor.receive(batch(seq, 3 * seq, 3 * seq + 1, 3 * seq + 2), channel)
        await asyncio.sleep(0.1)
    assert trims == [] and actor.untrimmed > 0
    await asyncio.sleep(0.5)
    assert trims == [1] and actor.untrimmed == 0


async def test_acked_batches_of_fills_count_as_bulk_work_for_the_trim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An InstrumentActor's allocations wait in its outbox until the shards ack them: their
    bytes, freed then, count toward the next trim like bulk records do."""
    import collections

    from actors.runtime import heap, host as host_module

    trims: list[int] = []
    monkeypatch.setattr(heap, "trim", lambda: trims.append(1))
    monkeypatch.setattr(host_module, "TRIM_EVERY_BYTES", 2000)
    actor = host(tmp_path)
    actor.outbox.unacked["account-9"] = collections.deque([(1, b"x" * 1000), (2, b"y" * 5000), (3, b"z" * 1000)])
    actor.outbox.bulk["account-9"] = {1, 3}  # 2: not fills
    actor.on_ack("account-9", 2)
    assert trims == [] and actor.untrimmed == 1000
    actor.on_ack("account-9", 3)
    assert trims == [1] and actor.untrimmed == 0 and not actor.outbox.unacked["account-9"]
