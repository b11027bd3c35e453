"""Snapshots in format 2 written by earlier versions (``tests/fixtures/snapshots``: real
pickles from before the re-layout and from main after it) are read, migrated to what the
cores hold today, and go on in format 3 with the same state hash."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors.runtime.machine import Machine
from actors.runtime.roles import build_core
from actors.runtime.router import Router
from actors.supervisor.core import ActorPlan
from model import fixed
from model.config import Config, TopologySection, VenueSection
from model.enums import OrderStatus, SessionState
from model.lifecycle import Pending
from model.messages import decode_batch
from model.routes import RouteState

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "snapshots"
FLAVOURS = ["prerelayout", "main"]
ROLES = ["account", "instrument", "venue-sim", "venue-fix", "drop-copy", "supervisor"]
D = fixed.parse
VENUES = [VenueSection(name="SIM"), VenueSection(name="MM1", kind="fix", supports_cancel_all=False, cancel_on_disconnect=True)]
CONFIG = Config(topology=TopologySection(account_shards=1, instrument_actors=1), venues=VENUES)
PLANS = {
    "account": ActorPlan("account-0", "account"),
    "instrument": ActorPlan("instrument-0", "instrument"),
    "venue-sim": ActorPlan("venue-SIM", "venue", venue=VENUES[0]),
    "venue-fix": ActorPlan("venue-MM1", "venue", venue=VENUES[1]),
    "drop-copy": ActorPlan("drop-copy", "drop_copy"),
    "supervisor": ActorPlan("supervisor", "supervisor"),
}


def empty(role: str) -> Machine:
    """The actor's machine as it starts: an empty core built from the registry, as the shells do."""
    plan = PLANS[role]
    return Machine(plan.name, build_core(plan, CONFIG), Router(CONFIG), CONFIG.batching.max_messages)


def loaded(flavour: str, role: str) -> Machine:
    machine = empty(role)
    machine.load((FIXTURES / f"format2-{flavour}-{role}.pickle").read_bytes())
    return machine


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_format2_snapshot_goes_on_in_format3_with_the_same_state(flavour: str, role: str) -> None:
    machine = loaded(flavour, role)
    machine.core.check_invariants()
    payload = machine.dump()
    assert payload[:1] != b"\x80", "written as a pickle again"
    again = empty(role)
    again.load(payload)
    assert again.state_hash() == machine.state_hash()
    assert again.outbox.unacked == machine.outbox.unacked and again.inbox.applied == machine.inbox.applied
    for batches in again.outbox.unacked.values():
        for _, data in batches:
            decode_batch(data)  # what is resent decodes as today's messages


@pytest.mark.parametrize("role", ROLES)
def test_the_state_before_the_relayout_migrates_to_the_state_main_wrote(role: str) -> None:
    """The same scenario ran in both versions: migrated, the two are one state, and the
    batches sent before the re-layout are re-encoded to the very bytes main sent."""
    before, after = loaded("prerelayout", role), loaded("main", role)
    assert before.core.state_hash() == after.core.state_hash()
    assert before.state_hash() == after.state_hash()
    assert before.outbox.unacked == after.outbox.unacked


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_an_account_shard_keeps_its_orders_positions_cash_and_seqs(flavour: str) -> None:
    machine = loaded(flavour, "account")
    core = machine.core
    a1, a2 = core.accounts["A1"], core.accounts["A2"]
    assert (a1.cash, a2.cash) == (D("105400.40"), D("4024.35"))  # -4 × 149.90 + 20 × 300; -6.5 × 150.10
    assert {s: p.qty for s, p in a1.positions.items()} == {"MSFT": D("30"), "IBM": D("4")}
    assert {s: p.qty for s, p in a2.positions.items()} == {"IBM": D("6.5")}
    assert a1.orders == {"c1": "account-0-1", "c2": "account-0-2", "c3": "account-0-3", "c1b": "account-0-5"}
    replacing, sold, stop, notional = (core.orders[f"account-0-{n}"] for n in (1, 2, 3, 4))
    assert (replacing.status, replacing.pending, replacing.cum_qty) == (OrderStatus.PARTIALLY_FILLED, Pending.REPLACE, D("4"))
    assert replacing.pending_replace is not None and replacing.pending_replace.new_client_order_id == "c1b"
    assert (replacing.pending_replace.spec.qty, replacing.pending_replace.spec.price) == (D("12"), D("150.10"))
    assert replacing.spec.qty == D("10") and replacing.spec.price == D("150")
    assert (sold.status, sold.pending, sold.cum_qty) == (OrderStatus.FILLED, Pending.NONE, D("20"))
    assert (stop.status, stop.pending, stop.spec.stop_price) == (OrderStatus.NEW, Pending.CANCEL, D("160"))
    assert stop.cancel_reply is not None and stop.cancel_reply.request == b"8"
    assert notional.spec.notional == D("1000") and notional.cum_qty == D("6.5")
    assert core.order_counter == 5 and core.markets["IBM"].reference == D("150")
    assert machine.inbox.applied == {"gateway-0~1": 2, "instrument-0": 1}
    assert machine.outbox.seq == {"gateway-0": 2, "instrument-0": 2}
    assert {name: [seq for seq, _ in batches] for name, batches in machine.outbox.unacked.items()} == {"gateway-0": [1, 2], "instrument-0": [2]}


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_an_instrument_actor_keeps_its_routes_blocks_and_rebuilds_its_indexes(flavour: str) -> None:
    machine = loaded(flavour, "instrument")
    core = machine.core
    replacing, stop = core.routes["account-0-1"], core.routes["account-0-2"]
    assert (replacing.state, replacing.child_id, replacing.replacing_to, replacing.cum_qty) == (RouteState.REPLACING, "instrument-0-1", "account-0-6", D("4"))
    assert stop.state is RouteState.HELD_STOP and stop.spec.stop_price == D("160")
    assert core.children == {"instrument-0-1": "account-0-1"}
    assert core.stops == {"IBM": {"account-0-2": stop}}
    assert list(core.blocks) == ["instrument-0-B1"] and core.block_children == {"instrument-0-3": "instrument-0-B1"}
    assert [block.block_id for block in core.done_blocks] == ["instrument-0-B2"]
    assert (core.child_counter, core.block_counter, core.opens_done) == (4, 2, {1: [1, 2]})
    assert machine.inbox.applied == {"venue-SIM": 3, "account-0": 3}


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_sim_venue_keeps_its_children_in_time_priority_and_its_fill_values(flavour: str) -> None:
    machine = loaded(flavour, "venue-sim")
    core, adapter = machine.core, machine.core.adapter
    assert core.started and core.child_symbols == {"instrument-0-1": "IBM", "instrument-0-3": "MSFT", "instrument-0-5": "IBM"}
    assert list(adapter._orders) == ["instrument-0-3", "instrument-0-5", "instrument-0-1"]
    assert adapter._queues == {"IBM": {"instrument-0-5": None, "instrument-0-1": None}, "MSFT": {"instrument-0-3": None}}
    partial = adapter._orders["instrument-0-5"]
    assert partial.cum_qty == D("674") and partial.value_raw == D("674") * D("150.08") > 2**64
    replaced = adapter._orders["instrument-0-1"]
    assert (replaced.spec.qty, replaced.spec.price) == (D("12"), D("101"))
    assert adapter.session is SessionState.OPEN and len(adapter._seen) == 5


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_a_fix_venue_keeps_its_children_requests_and_closed_children(flavour: str) -> None:
    machine = loaded(flavour, "venue-fix")
    adapter = machine.core.adapter
    assert list(adapter.children) == ["instrument-0-2", "instrument-0-3"]
    assert adapter.children["instrument-0-2"].spec.price == D("150.25")
    assert adapter.by_cl_ord_id == {"instrument-0-2": "instrument-0-2", "instrument-0-3": "instrument-0-3", "instrument-0-2.r2": "instrument-0-2"}
    assert adapter.replacing["instrument-0-2"].replace_id == "instrument-0-2.r2"
    assert adapter.filled == {"instrument-0-2": D("0.1"), "instrument-0-3": 0}
    assert adapter.by_seq == {5: "instrument-0-2", 6: "instrument-0-3", 7: "instrument-0-2"}
    assert (adapter.session, adapter.last_in_seq, adapter.last_out_seq, adapter.requests) == (SessionState.OPEN, 4, 7, 2)
    closed = adapter.closed["instrument-0-1"]
    assert adapter.closed["instrument-0-1.c1"] is closed  # one closed child under both of its ClOrdIDs
    assert (closed.filled, closed.exec_ids) == (D("0.1"), ["E-1"])


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_the_drop_copy_and_the_supervisor_keep_their_counts_and_switches(flavour: str) -> None:
    drop_copy = loaded(flavour, "drop-copy").core
    assert (drop_copy.fills, drop_copy.last_exec_id, drop_copy.allocations, len(drop_copy.outgoing)) == (2, "account-0-1-3", 1, 3)
    supervisor = loaded(flavour, "supervisor")
    core = supervisor.core
    assert (core.halted, core.killed, core.opens, core.scheduled_open) == ({"MSFT": True}, {"A2": True}, 1, "2025-11-21")
    assert (core.navs, core.nav_strikes, core.loaded, core.commands) == ({"VFIAX": D("451.25")}, {"VFIAX": 1}, {"A3": "advisor-1"}, 4)
    assert supervisor.outbox.seq == {"instrument-0": 1, "account-0": 3}
