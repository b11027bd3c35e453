"""The role registry: every kind of actor in one table, so adding a role is one entry.

An entry (``Role``) says which actors of the role a topology has (``plan``), how to build
the empty pure core of a journaled role (``core``: the Ray shells and the offline replay
tool, ``actors/runtime/replay.py``, build it the same way), how to create its Ray actor
(``actor`` and ``args``: creation arguments stay small, or Ray cannot restart it), which
other roles its actors call through Ray (``calls``: the handles it is wired with), and what
the supervisor does with it over its life (``starts``, ``check``, ``shutdown``).

``ROLES`` holds the roles of ``actors/``. The gateway is a role of ``server/``: the
composition root (``server/app.py``) gives its entry to the supervisor, which extends the
table with it (``Roles.extended``), so nothing under ``actors/`` imports ``server/``. A
role's name is also the kind its actors are addressed by (``actors/runtime/outputs.py``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from actors.account.core import AccountState
from actors.account.limits import tenant_limits
from actors.account.risk import RiskLimits
from actors.instrument.core import InstrumentState
from actors.runtime import stash
from actors.runtime.machine import Core
from actors.runtime.options import actor_options
from actors.runtime.outputs import ACCOUNT, DROP_COPY, INSTRUMENT, STRATEGY, VENUE
from actors.runtime.placement import node_of, placed_setup, placement_options
from actors.runtime.router import STRATEGY_ACTOR, SUPERVISOR
from actors.supervisor.core import ActorPlan, SupervisorState, account_plans, drop_copy_plans, instrument_plans, venue_plans
from actors.venue.core import VenueState
from adapters.factory import build_adapter
from model.config import Config, Setup


class Shutdown(enum.Enum):
    """When the supervisor's ``stop`` ends a role's actors, in this order."""

    INTAKE = 1  # ``stop()`` first: no more input from outside (the gateways' ports)
    SOURCE = 2  # ``close()`` next: sources of events (venue clocks and sessions) stop
    STATE = 3  # ``close()`` last, one at a time, once everything in flight has settled
    NONE = 4  # not ended by ``stop`` (the supervisor itself)


def _no_actors(setup: Setup, gateways: int) -> list[ActorPlan]:
    return []


@dataclass(frozen=True)
class Role:
    """One kind of actor. The callables are module-level functions, so an entry pickles by
    reference (it travels to the supervisor as a creation argument)."""

    name: str
    plan: Callable[[Setup, int], list[ActorPlan]] = _no_actors  # (setup, gateways) → this role's actors
    core: Callable[[ActorPlan, Config], Core] | None = None  # the empty pure core; None: no journal
    actor: Callable[[], Any] | None = None  # the Ray actor class (imported when first needed)
    args: Callable[[ActorPlan, Setup, int], tuple[Any, ...]] | None = None  # (plan, setup, gateways) → creation args
    options: Callable[[str, str], dict[str, Any]] = actor_options  # (name, namespace) → ray.remote options
    starts: bool = False  # ``start()`` once wired, and again after each restart
    # the roles whose actors this role's actors call over Ray (control calls; batches go over
    # links): ``wire`` gives each actor those handles and no others — a Ray handle received
    # imports its actor's class, so a handle never used cost every worker the modules of
    # every other role (``handles_for``)
    calls: tuple[str, ...] = ()
    check: bool = False  # its core's invariants run in ``admin check``
    shutdown: Shutdown = Shutdown.STATE

    @property
    def journaled(self) -> bool:
        return self.core is not None

    def create(self, actor_plan: ActorPlan, setup: Setup, gateways: int, namespace: str, node: str | None = None) -> Any:
        """Create the Ray actor of ``actor_plan`` on the node ``[placement]`` gives it (Ray's
        choice when none) or on ``node`` (a lost node's actor, failed over), with that
        node's configuration; returns its handle."""
        if self.actor is None or self.args is None:
            raise ValueError(f"{actor_plan.name}: the {self.name} role creates no actor")
        placement = setup.config.placement
        if node is None:
            node = node_of(placement, actor_plan.name, self.name)  # [placement]: which node, and its data dir
        options = {**self.options(actor_plan.name, namespace), **placement_options(placement, node)}
        args = self.args(actor_plan, placed_setup(setup, node), gateways)
        # lists (instruments) and setups by key: Ray restarts an actor with its creation
        # arguments, and a large one would live in this process's object store (stash.py)
        args = tuple(stash.ref(namespace, arg) if isinstance(arg, (list, Setup)) else arg for arg in args)
        return self.actor().options(**options).remote(*args)


class Roles:
    """The registry: roles by name, in the order their actors are planned and started."""

    def __init__(self, roles: Iterable[Role]) -> None:
        self._roles: dict[str, Role] = {}
        for role in roles:
            if role.name in self._roles:
                raise ValueError(f"role {role.name} registered twice")
            self._roles[role.name] = role

    def extended(self, roles: Iterable[Role]) -> Roles:
        """This registry with ``roles`` added after its own (a duplicate name is refused)."""
        return Roles([*self._roles.values(), *roles])

    def __getitem__(self, name: str) -> Role:
        role = self._roles.get(name)
        if role is None:
            raise KeyError(f"no role {name!r} in the registry (roles: {', '.join(self._roles)})")
        return role

    def __contains__(self, name: object) -> bool:
        return name in self._roles

    def __iter__(self) -> Iterator[Role]:
        return iter(self._roles.values())

    def names(self) -> list[str]:
        return list(self._roles)


# --- the roles of actors/ ------------------------------------------------------------------------


def _account_core(actor_plan: ActorPlan, config: Config) -> Core:
    return AccountState(actor_plan.name, actor_plan.instruments, RiskLimits.from_config(config.risk, config.open, config.books), tenant_limits(config))


def _instrument_core(actor_plan: ActorPlan, config: Config) -> Core:
    return InstrumentState(actor_plan.name, actor_plan.instruments, config.venues, config.topology.account_shards, config.batching.max_messages)


def _venue_core(actor_plan: ActorPlan, config: Config) -> Core:
    venue = actor_plan.venue
    if venue is None:
        raise ValueError(f"{actor_plan.name}: a venue actor's plan names its venue")
    return VenueState(venue.name, build_adapter(venue, config, actor_plan.instruments), venue.supports_cancel_all)


def _drop_copy_core(actor_plan: ActorPlan, config: Config) -> Core:
    from actors.dropcopy.core import DropCopyState

    return DropCopyState()


def _strategy_core(actor_plan: ActorPlan, config: Config) -> Core:
    from actors.strategy.core import StrategyState

    return StrategyState(actor_plan.instruments, config.strategies.max_rejections)


def _strategy_plans(setup: Setup, gateways: int) -> list[ActorPlan]:
    """The strategy actor, with every instrument, when ``[strategies] actor`` is on."""
    return [ActorPlan(STRATEGY_ACTOR, STRATEGY, instruments=setup.instruments)] if setup.config.strategies.actor else []


def _supervisor_core(actor_plan: ActorPlan, config: Config) -> Core:
    return SupervisorState([instrument.symbol for instrument in actor_plan.instruments])


def _account_actor() -> Any:
    from actors.account.actor import AccountActor

    return AccountActor


def _instrument_actor() -> Any:
    from actors.instrument.actor import InstrumentActor

    return InstrumentActor


def _venue_actor() -> Any:
    from actors.venue.actor import VenueActor

    return VenueActor


def _drop_copy_actor() -> Any:
    from actors.dropcopy.actor import DropCopyActor

    return DropCopyActor


def _strategy_actor() -> Any:
    from actors.strategy.actor import StrategyActor

    return StrategyActor


def _owner_args(actor_plan: ActorPlan, setup: Setup, gateways: int) -> tuple[Any, ...]:
    """An account shard's or an InstrumentActor's: its accounts follow by ``seed`` once wired."""
    return actor_plan.name, setup.config, actor_plan.instruments


def _venue_args(actor_plan: ActorPlan, setup: Setup, gateways: int) -> tuple[Any, ...]:
    return actor_plan.name, setup.config, actor_plan.venue, actor_plan.instruments


def _drop_copy_args(actor_plan: ActorPlan, setup: Setup, gateways: int) -> tuple[Any, ...]:
    return actor_plan.name, setup.config


ROLES = Roles(
    [
        Role(SUPERVISOR, core=_supervisor_core, shutdown=Shutdown.NONE),  # created by the composition root
        Role(ACCOUNT, account_plans, _account_core, _account_actor, _owner_args, check=True, calls=(INSTRUMENT,)),  # their marks, whenever wired
        Role(INSTRUMENT, instrument_plans, _instrument_core, _instrument_actor, _owner_args, check=True),
        Role(VENUE, venue_plans, _venue_core, _venue_actor, _venue_args, starts=True, shutdown=Shutdown.SOURCE),
        Role(DROP_COPY, drop_copy_plans, _drop_copy_core, _drop_copy_actor, _drop_copy_args, starts=True),
        Role(STRATEGY, _strategy_plans, _strategy_core, _strategy_actor, _owner_args, check=True),
    ]
)


def handles_for(role: Role, handles: dict[str, Any], role_of: Callable[[str], str]) -> dict[str, Any]:
    """Of ``handles`` (actor name → Ray handle), those of the actors ``role`` calls
    (``Role.calls``; ``role_of`` names each actor's role): what ``wire`` gives an actor.

    Guarantees: no handle of a role not in ``role.calls`` — receiving one would import that
    actor's class and every module it needs into the receiving process."""
    return {name: handle for name, handle in handles.items() if role_of(name) in role.calls}


def build_core(actor_plan: ActorPlan, config: Config, roles: Roles = ROLES) -> Core:
    """The empty pure core of a journaled actor, from its plan and the config."""
    core = roles[actor_plan.role].core if actor_plan.role in roles else None
    if core is None:
        raise ValueError(f"{actor_plan.name} ({actor_plan.role}) has no journal")
    return core(actor_plan, config)
