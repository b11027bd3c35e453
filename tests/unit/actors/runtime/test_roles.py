"""The role registry: one entry per kind of actor — its actors in a topology, its pure core,
its Ray actor and its life under the supervisor — so adding a role is one entry."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from actors.account.core import AccountState
from actors.instrument.core import InstrumentState
from actors.runtime.outputs import ACCOUNT, DROP_COPY, INSTRUMENT, STRATEGY, VENUE
from actors.runtime.roles import ROLES, Role, Shutdown, build_core
from actors.runtime.router import SUPERVISOR
from actors.supervisor.core import ActorPlan, SupervisorState, plan
from actors.venue.core import VenueState
from model.config import Config, DropCopySection, TopologySection
from tests.conftest import demo_setup

ROOT = Path(__file__).resolve().parents[4]
SETUP = demo_setup()


def market_data_plans(setup: object, gateways: int) -> list[ActorPlan]:
    return [ActorPlan("market-data", "market_data")]


def market_data_core(actor_plan: ActorPlan, config: Config) -> SupervisorState:
    return SupervisorState(["IBM"])


def test_the_registry_holds_the_roles_of_actors_in_plan_order() -> None:
    assert ROLES.names() == [SUPERVISOR, ACCOUNT, INSTRUMENT, VENUE, DROP_COPY, STRATEGY]
    assert all(role.journaled for role in ROLES)
    assert [role.name for role in ROLES if role.starts] == [VENUE, DROP_COPY]
    assert [role.name for role in ROLES if role.check] == [ACCOUNT, INSTRUMENT, STRATEGY]
    assert {role.name: role.shutdown for role in ROLES}[VENUE] is Shutdown.SOURCE
    assert ROLES[SUPERVISOR].shutdown is Shutdown.NONE and ROLES[ACCOUNT].shutdown is Shutdown.STATE


def test_every_journaled_role_builds_its_empty_core_from_its_plan() -> None:
    config = msgspec.structs.replace(SETUP.config, topology=TopologySection(account_shards=2, instrument_actors=3))
    setup = msgspec.structs.replace(SETUP, config=config)
    cores = {actor_plan.role: type(build_core(actor_plan, config)) for actor_plan in plan(setup, ROLES)}
    assert cores == {ACCOUNT: AccountState, INSTRUMENT: InstrumentState, VENUE: VenueState}
    assert isinstance(build_core(ActorPlan(SUPERVISOR, SUPERVISOR, instruments=SETUP.instruments), config), SupervisorState)
    with pytest.raises(ValueError, match=r"gateway-0 \(gateway\) has no journal"):
        build_core(ActorPlan("gateway-0", "gateway"), config)
    with pytest.raises(ValueError, match="venue-X: a venue actor's plan names its venue"):
        build_core(ActorPlan("venue-X", VENUE), config)


def test_the_plan_is_every_roles_actors_in_registry_order() -> None:
    config = msgspec.structs.replace(SETUP.config, topology=TopologySection(account_shards=2, instrument_actors=2))
    setup = msgspec.structs.replace(SETUP, config=config)
    names = [actor_plan.name for actor_plan in plan(setup, ROLES, gateways=3)]
    venues = [f"venue-{venue.name}" for venue in config.venues]
    assert names == ["account-0", "account-1", "instrument-0", "instrument-1", *venues]  # no gateway role in actors/
    with_drop_copy = msgspec.structs.replace(setup, config=msgspec.structs.replace(config, drop_copy=DropCopySection(enabled=True)))
    assert [p.name for p in plan(with_drop_copy, ROLES)][-1] == "drop-copy"
    owned = {p.name: [seed.account for seed in p.accounts] for p in plan(setup, ROLES) if p.role == ACCOUNT}
    assert sorted(sum(owned.values(), [])) == sorted(seed.account for seed in SETUP.accounts)  # each account on one shard


def test_adding_a_role_is_one_entry() -> None:
    market_data = Role("market_data", market_data_plans, market_data_core, starts=True)
    roles = ROLES.extended([market_data])
    assert roles.names()[-1] == "market_data" and "market_data" not in ROLES  # the table it came from is unchanged
    assert plan(SETUP, roles)[-1] == ActorPlan("market-data", "market_data")
    assert isinstance(build_core(ActorPlan("market-data", "market_data"), SETUP.config, roles), SupervisorState)
    with pytest.raises(ValueError, match="role account registered twice"):
        ROLES.extended([Role(ACCOUNT)])
    with pytest.raises(KeyError, match="no role 'nope' in the registry"):
        ROLES["nope"]
    with pytest.raises(ValueError, match="the supervisor role creates no actor"):
        ROLES[SUPERVISOR].create(ActorPlan(SUPERVISOR, SUPERVISOR), SETUP, 1, "ns")


def test_the_supervisor_does_not_import_the_gateway() -> None:
    """The gateway's role is given by server/ (server/app.py): actors/ does not import it."""
    script = "import sys, actors.supervisor.actor, actors.runtime.roles; print(sorted(m for m in sys.modules if m.startswith('server.gateway')))"
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120, env={"PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert "server.gateway.actor" not in done.stdout
