"""Replay gives what the live turns gave, record by record: the real cores of the order path
(account shards, instrument actors, the simulated venue) wired by the real router, each behind a ``Machine``, trade with each other live; each actor's journal
records are then replayed into a fresh machine and compared after every record — the core's
hash, the seqs applied per sender, the seqs sent per destination, every unacked batch byte
for byte, the errors and the messages counted."""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

import pytest

from actors.runtime.machine import LOCAL, Machine, encode_record, local_batch
from actors.runtime.outputs import GATEWAY, Dispatcher, Outputs
from actors.runtime.roles import ROLES
from actors.runtime.router import Router
from model.config import Setup
from model.enums import OrderType, Side, TimeInForce
from model.messages import Batch, Message, NewOrder, OpenAccount, Reply, SetKill, VenueStart, VenueTick, decode_batch, encode_batch
from model.orders import OrderSpec
from snapshots.journal import Journal
from tests.conftest import demo_setup

MAX_MESSAGES = 3  # small, so a turn's outputs to one destination split into several batches
GATEWAY_NAME = "gateway-0"


class Topology:
    """Every journaled actor as a ``Machine``, delivering to each other turn by turn as the
    hosts do: a turn takes what arrived, is journaled as one record, applied live, and its
    fresh batches go to their receivers' queues. Gateways only count what they get."""

    def __init__(self, setup: Setup) -> None:
        self.setup = setup
        config = setup.config
        self.router = Router(config)
        self.machines: dict[str, Machine] = {}
        self.cores: dict[str, Any] = {}
        for role in ROLES:
            if role.core is None:
                continue
            for plan in role.plan(setup, 1):
                self.machines[plan.name] = Machine(plan.name, role.core(plan, config), self.router, MAX_MESSAGES)
                self.cores[plan.name] = (role, plan)
        self.arrived: dict[str, list[tuple[Batch, bytes]]] = collections.defaultdict(list)
        self.records: dict[str, list[bytes]] = collections.defaultdict(list)
        self.observed: dict[str, list[Any]] = collections.defaultdict(list)
        self.to_gateway = 0  # messages
        self.split = False  # a turn's outputs to one destination went in several batches
        self.now = 1_000_000_000

    def fresh(self, name: str) -> Machine:
        role, plan = self.cores[name]
        return Machine(name, role.core(plan, self.setup.config), Router(self.setup.config), MAX_MESSAGES)

    def local(self, name: str, messages: list[Message]) -> None:
        self.arrived[name].append(local_batch(messages))

    def run(self) -> None:
        """Turns until nothing is left to deliver."""
        while any(self.arrived.values()):
            for name in list(self.arrived):
                inputs = self.arrived.pop(name, [])
                if inputs:
                    self.turn(name, inputs)

    def turn(self, name: str, inputs: list[tuple[Batch, bytes]]) -> None:
        machine = self.machines[name]
        ready: list[tuple[Batch, bytes]] = []
        for batch, data in inputs:
            if batch.sender == LOCAL:
                ready.append((batch, data))
            else:
                ready.extend((accepted, data) for accepted in machine.inbox.accept(batch))
        self.now += 1_000_000
        self.records[name].append(encode_record(self.now, ready))
        machine.apply_batches([batch for batch, _ in ready], self.now)
        self.observed[name].append(observe(machine))
        fresh = machine.outbox.take_fresh()
        destinations = [destination for destination, _ in fresh]
        self.split = self.split or len(set(destinations)) < len(destinations)
        for destination, data in fresh:
            if destination.startswith(GATEWAY):
                self.to_gateway += len(decode_batch(data).messages)
            else:
                self.arrived[destination].append((decode_batch(data), data))


def observe(machine: Machine) -> tuple[Any, ...]:
    """What replay must rebuild exactly (nothing is acked in these tests, so every batch
    made is still unacked on both sides)."""
    outbox = machine.outbox
    return (
        machine.core.state_hash(),
        dict(machine.inbox.applied),
        dict(outbox.seq),
        {name: list(queue) for name, queue in outbox.unacked.items()},
        machine.errors,
        machine.messages_applied,
    )


def trading(orders: int) -> Topology:
    """Accounts opened, the venue started, then IOC buys — half resting below the market
    (canceled at the venue), half crossing it (filled) — and one message the venue does not
    take (a counted error)."""
    topology = Topology(demo_setup())
    router = topology.router
    for seed in topology.setup.accounts:
        topology.local(router.account(seed.account), [OpenAccount(seed.account, seed.owner, seed.cash, seed.allow_short, seed.positions, seed.group)])
    venues = [name for name in topology.machines if name.startswith("venue-")]
    for name in venues:
        topology.local(name, [VenueStart(), VenueTick()])
    topology.run()
    # marks travel to the shards outside the journaled stream and are journaled at the head
    # of a shard's next record (actors/account/marks.py): here, a record of their own
    marks = [mark for name, machine in topology.machines.items() if name.startswith("instrument-") for mark in machine.core.marks(topology.now)]
    for name in topology.machines:
        if name.startswith("account-"):
            topology.local(name, list(marks))
    topology.run()
    prices: dict[str, int] = {}
    for name, machine in topology.machines.items():
        if name.startswith("account-"):
            for symbol, view in machine.core.markets.items():
                if view.bid or view.last:
                    prices[symbol] = view.bid or view.last
    accounts = [seed.account for seed in topology.setup.accounts if seed.cash > 0]
    instruments = [instrument for instrument in topology.setup.instruments if instrument.symbol in prices]
    assert accounts and instruments, "the venue quoted nothing"
    for index in range(orders):
        account = accounts[index % len(accounts)]
        instrument = instruments[index % len(instruments)]
        percent = 95 if index % 2 else 105
        price = prices[instrument.symbol] * percent // 100 // instrument.tick_size * instrument.tick_size
        spec = OrderSpec(instrument.symbol, Side.BUY, OrderType.LIMIT, TimeInForce.IOC, instrument.qty_increment, None, price, None)
        order = NewOrder(account, f"r-{index}", spec, Reply(GATEWAY_NAME, 1, str(index).encode()))
        # several orders per batch and per turn, as a gateway's batches bring them
        topology.arrived[router.account(account)].append(_gateway_batch(topology, router.account(account), [order]))
        if index % 7 == 6:
            topology.run()
    for name in venues:
        topology.local(name, [SetKill("A1", True)])  # not a venue's message: a TypeError, counted
    topology.run()
    return topology


_gateway_seqs: dict[tuple[int, str], int] = {}


def _gateway_batch(topology: Topology, destination: str, messages: list[Message]) -> tuple[Batch, bytes]:
    key = (id(topology), destination)
    seq = _gateway_seqs[key] = _gateway_seqs.get(key, 0) + 1
    batch = Batch(f"{GATEWAY_NAME}~1", seq, 0, messages)
    return batch, encode_batch(batch)


@pytest.fixture(scope="module")
def traded() -> Topology:
    return trading(60)


def test_the_trading_reaches_every_kind_of_actor(traded: Topology) -> None:
    counts = {name: machine.messages_applied for name, machine in traded.machines.items()}
    for prefix in ("account-", "instrument-", "venue-"):
        assert sum(count for name, count in counts.items() if name.startswith(prefix)) > 60, counts
    assert traded.to_gateway >= 120
    assert any(machine.errors for name, machine in traded.machines.items() if name.startswith("venue-"))
    assert traded.split, "no turn's outputs to one destination were split into several batches"


@pytest.mark.parametrize("prefix", ["account-", "instrument-", "venue-"])
def test_a_replayed_machine_equals_the_live_one_after_every_record(traded: Topology, prefix: str) -> None:
    names = [name for name in traded.machines if name.startswith(prefix) and traded.records[name]]
    assert names, f"no {prefix} actor had a record"
    for name in names:
        replayed = traded.fresh(name)
        for index, payload in enumerate(traded.records[name]):
            replayed.replay(payload)
            assert observe(replayed) == traded.observed[name][index], f"{name} differs after record {index + 1}"
            assert replayed.outbox.fresh == []  # replayed batches go when the links open, with every unacked one


def test_a_rebuild_from_the_journal_equals_the_live_machine(traded: Topology, tmp_path: Path) -> None:
    for name, records in traded.records.items():
        journal = Journal(tmp_path / name, name, durability="buffered")
        journal.append(records)
        rebuilt = traded.fresh(name)
        done = rebuilt.rebuild(journal, None)
        assert (done.records, done.messages) == (len(records), traded.machines[name].messages_applied)
        assert observe(rebuilt) == observe(traded.machines[name])
        assert rebuilt.state_hash() == traded.machines[name].state_hash()
        journal.close()


def test_dispatch_goes_straight_to_the_handler_table_only_when_apply_is_the_tables() -> None:
    topology = Topology(demo_setup())
    for machine in topology.machines.values():
        # every journaled core is a Dispatcher; the account shard's apply also settles the
        # orders it thawed (actors/account/orders.py), so it is called through apply
        direct = type(machine.core).apply is Dispatcher.apply
        assert machine.handlers is (machine.core._handlers if direct else None)
        assert direct == (not machine.name.startswith("account")), machine.name

    class Counting(Dispatcher):
        """A core whose ``apply`` does more than look the handler up: it must be called."""

        name = "counting"
        _handlers: dict[type, Any] = {SetKill: lambda self, message, now: None}

        def __init__(self) -> None:
            self.out = Outputs()
            self.seen = 0

        def apply(self, message: Message, now: int) -> None:
            self.seen += 1
            super().apply(message, now)

    machine = Machine("counting", Counting(), topology.router, MAX_MESSAGES)  # type: ignore[arg-type]
    assert machine.handlers is None
    machine.apply_batches([local_batch([SetKill("A1", True), VenueTick()])[0]], 1)
    assert (machine.core.seen, machine.errors, machine.messages_applied) == (2, 1, 2)
