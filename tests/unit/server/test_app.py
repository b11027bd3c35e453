"""The composition root: the gateway's role entry, given to the supervisor from server/."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import msgspec

from actors.runtime.outputs import ACCOUNT, GATEWAY
from actors.runtime.roles import ROLES, Shutdown, handles_for
from actors.runtime.router import SUPERVISOR
from actors.supervisor.core import plan
from model.config import DropCopySection, TopologySection
from server.app import GATEWAY_ROLE
from server.gateway.actor import GatewayActor
from tests.conftest import demo_setup

SETUP = demo_setup()
ROOT = Path(__file__).resolve().parents[3]


def test_the_gateway_role_plans_the_gateways_last_and_is_stopped_first() -> None:
    plans = plan(SETUP, ROLES.extended([GATEWAY_ROLE]), gateways=2)
    assert [(p.name, p.role) for p in plans[-2:]] == [("gateway-0", GATEWAY), ("gateway-1", GATEWAY)]
    assert not GATEWAY_ROLE.journaled and not GATEWAY_ROLE.starts and GATEWAY_ROLE.shutdown is Shutdown.INTAKE
    assert GATEWAY_ROLE.actor is not None and GATEWAY_ROLE.actor() is GatewayActor


def test_the_gateway_role_travels_by_reference_and_its_creation_arguments_stay_small() -> None:
    data = pickle.dumps(GATEWAY_ROLE)
    assert len(data) < 1000 and pickle.loads(data) == GATEWAY_ROLE  # the supervisor's creation argument
    assert GATEWAY_ROLE.args is not None
    name, setup = GATEWAY_ROLE.args(plan(SETUP, [GATEWAY_ROLE])[0], SETUP, 1)
    assert (name, setup.accounts) == ("gateway-0", [])  # the accounts follow by add_accounts
    assert setup.users == SETUP.users and setup.config == SETUP.config


def test_each_actor_is_wired_with_the_handles_of_the_roles_it_calls_and_no_others() -> None:
    """A Ray handle received imports its actor's class into the receiving process: an actor
    given every handle loaded every role's modules (the gateway's into each account shard).
    ``wire`` now carries only the handles of the roles an actor calls."""
    roles = ROLES.extended([GATEWAY_ROLE])
    config = msgspec.structs.replace(SETUP.config, topology=TopologySection(account_shards=2, instrument_actors=2), drop_copy=DropCopySection(enabled=True))
    plans = plan(msgspec.structs.replace(SETUP, config=config), roles, gateways=2)
    role_of = {p.name: p.role for p in plans} | {SUPERVISOR: SUPERVISOR}
    handles = {name: f"handle of {name}" for name in role_of}  # what the supervisor holds: every actor's
    wired = {name: sorted(handles_for(roles[role], handles, role_of.__getitem__)) for name, role in role_of.items()}
    assert wired["account-0"] == wired["account-1"] == ["instrument-0", "instrument-1"]  # their marks after a restart
    assert wired["gateway-0"] == wired["gateway-1"] == [SUPERVISOR]  # admin commands, nonces, the web page
    quiet = [name for name, role in role_of.items() if role not in (ACCOUNT, GATEWAY, SUPERVISOR)]
    assert quiet and all(wired[name] == [] for name in quiet), wired  # instrument actors, venues, the drop copy
    assert all(called in roles for role in roles for called in role.calls)  # every role called is one of the table's


def test_the_gateway_role_loads_the_gateways_modules_only_when_a_gateway_is_created() -> None:
    """The supervisor unpickles the gateway's role (``server.app``) before it creates any actor:
    the gateway's own modules wait until the gateway is created, behind every other creation."""
    script = "import sys, server.app; print('server.gateway.actor' in sys.modules); server.app.GATEWAY_ROLE.actor(); print('server.gateway.actor' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]
