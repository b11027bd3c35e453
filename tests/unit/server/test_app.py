"""The composition root: the gateway's role entry, given to the supervisor from server/."""

from __future__ import annotations

import pickle

from actors.runtime.outputs import GATEWAY
from actors.runtime.roles import ROLES, Shutdown
from actors.supervisor.core import plan
from server.app import GATEWAY_ROLE
from server.gateway.actor import GatewayActor
from tests.conftest import demo_setup

SETUP = demo_setup()


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
