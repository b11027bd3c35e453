"""What ``admin reshard`` refuses to carry over (``actors/reshard/procedure.py``): batches a
receiver has not applied, an open or NAV strike half way, traces of a larger topology."""

from __future__ import annotations

from pathlib import Path

from actors.reshard.procedure import Loaded, _refusals, _undelivered
from actors.runtime.machine import Machine
from actors.runtime.roles import ROLES, build_core
from actors.runtime.router import Router
from actors.supervisor.core import plan
from tests.conftest import demo_setup

SETUP = demo_setup()  # two account shards, two InstrumentActors


def loaded() -> dict[str, Loaded]:
    config = SETUP.config
    found = {}
    for actor_plan in plan(SETUP, ROLES):
        if actor_plan.role in ("account", "instrument"):
            machine = Machine(actor_plan.name, build_core(actor_plan, config), Router(config), config.batching.max_messages)
            found[actor_plan.name] = Loaded(actor_plan.name, actor_plan.role, machine, 1)
    return found


def test_nothing_in_flight_is_not_refused(tmp_path: Path) -> None:
    actors = loaded()
    actors["instrument-0"].machine.outbox.load(({"account-0": 3, "gateway-0": 9}, {"account-0": [(2, b"a"), (3, b"b")], "gateway-0": [(9, b"r")]}))
    actors["account-0"].machine.inbox.applied = {"instrument-0": 3}
    assert _refusals(actors, 2, 3, SETUP, tmp_path) == []
    # applied batches leave the outbox as an ack would; a gateway's stay (it is not journaled)
    assert _undelivered(actors["instrument-0"], actors) == ({"account-0": 3, "gateway-0": 9}, {"gateway-0": [(9, b"r")]})


def test_a_batch_its_receiver_has_not_applied_is_refused(tmp_path: Path) -> None:
    actors = loaded()
    actors["instrument-0"].machine.outbox.load(({"account-1": 5}, {"account-1": [(4, b"a"), (5, b"b")]}))
    actors["account-1"].machine.inbox.applied = {"instrument-0": 3}
    [problem] = _refusals(actors, 2, 3, SETUP, tmp_path)
    assert "instrument-0 has 2 batches to account-1" in problem and "seq 4..5" in problem


def test_an_open_or_a_strike_half_way_is_refused(tmp_path: Path) -> None:
    actors = loaded()
    core = actors["instrument-1"].machine.core
    core.open_markers["1:"] = ["account-0"]
    core.nav_marks["VFIAX"] = {"account-0": 2, "account-1": 1}
    core.navs_struck["VFIAX"] = [4]
    problems = _refusals(actors, 2, 3, SETUP, tmp_path)
    assert any("an open" in p for p in problems) and any("NAV strike of VFIAX" in p for p in problems)
    core.open_markers.clear()
    core.nav_marks["VFIAX"] = {"account-0": 2, "account-1": 2}
    core.navs_struck["VFIAX"] = [4, 0]
    assert _refusals(actors, 2, 3, SETUP, tmp_path) == []


def test_traces_of_a_larger_topology_are_refused(tmp_path: Path) -> None:
    actors = loaded()
    actors["instrument-0"].machine.inbox.applied = {"account-2": 7}
    (tmp_path / "audit" / "account-3").mkdir(parents=True)
    problems = _refusals(actors, 2, 3, SETUP, tmp_path)
    assert any("sequence of account-2" in p for p in problems) and any("audit chain" in p for p in problems)


def test_a_data_dir_whose_journals_are_shipped_is_refused(tmp_path: Path) -> None:
    """With [placement] failover every journal has a shipped copy, which would bring the old
    shards back at the next start: refused before anything is read."""
    import msgspec
    import pytest

    from actors.reshard.layout import ReshardError
    from actors.reshard.procedure import reshard
    from snapshots.crashpoints import NOWHERE

    placement = msgspec.structs.replace(SETUP.config.placement, shared_dir=str(tmp_path / "shared"), failover=True)
    setup = msgspec.structs.replace(SETUP, config=msgspec.structs.replace(SETUP.config, placement=placement))
    (tmp_path / "data").mkdir()
    with pytest.raises(ReshardError, match="failover"):
        reshard(setup, tmp_path / "data", 3, NOWHERE)
