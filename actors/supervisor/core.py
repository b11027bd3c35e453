"""Supervisor core: where every account, symbol and venue lives, and the operator's switches.

Pure: it computes the topology from the setup and turns operator commands (journaled by
the Ray shell before they are applied) into control messages for the actors that own the
accounts and symbols.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, ClassVar

import msgspec

from actors.runtime.outputs import ACCOUNT, ALL, DROP_COPY, GATEWAY, INSTRUMENT, VENUE, Dispatcher, Outputs
from actors.runtime.router import DROP_COPY_ACTOR, account_actor, gateway_actor, instrument_actor, venue_actor
from model.config import AccountSeed, Setup, VenueSection
from model.instruments import Instrument
from model.messages import AdminCancelAll, DeskControl, OpenAccount, OpenMarket, SetAccountTradingState, SetKill, SetLotMethod, SetPortfolioLimits, SetTradingStatus, StrikeNav
from model.permissions import DEFAULT_TENANT
from model.routing import shard_of

if TYPE_CHECKING:
    from actors.runtime.roles import Role


class ActorPlan(msgspec.Struct, frozen=True):
    name: str
    role: str  # a name in the role registry (actors/runtime/roles.py)
    accounts: list[AccountSeed] = []
    instruments: list[Instrument] = []
    venue: VenueSection | None = None


def plan(setup: Setup, roles: Iterable[Role], gateways: int = 1) -> list[ActorPlan]:
    """Every actor of the topology with what it owns, role by role in the registry's order.
    Shard counts come from config."""
    topology = setup.config.topology
    if topology.account_shards < 1 or topology.instrument_actors < 1:
        raise ValueError("account_shards and instrument_actors must be at least 1")
    return [actor_plan for role in roles for actor_plan in role.plan(setup, gateways)]


def account_plans(setup: Setup, gateways: int) -> list[ActorPlan]:
    """One shard per ``account_shards``, each with the accounts of the file it owns."""
    shards = setup.config.topology.account_shards
    return [
        ActorPlan(account_actor(index), ACCOUNT, accounts=[seed for seed in setup.accounts if shard_of(seed.account, shards) == index], instruments=setup.instruments)
        for index in range(shards)
    ]


def instrument_plans(setup: Setup, gateways: int) -> list[ActorPlan]:
    """One InstrumentActor per ``instrument_actors``, each with the symbols it owns."""
    count = setup.config.topology.instrument_actors
    return [
        ActorPlan(instrument_actor(index), INSTRUMENT, instruments=[i for i in setup.instruments if shard_of(i.symbol, count) == index])
        for index in range(count)
    ]


def venue_plans(setup: Setup, gateways: int) -> list[ActorPlan]:
    return [ActorPlan(venue_actor(venue.name), VENUE, instruments=setup.instruments, venue=venue) for venue in setup.config.venues]


def drop_copy_plans(setup: Setup, gateways: int) -> list[ActorPlan]:
    return [ActorPlan(DROP_COPY_ACTOR, DROP_COPY)] if setup.config.drop_copy.enabled else []


def gateway_plans(setup: Setup, gateways: int) -> list[ActorPlan]:
    return [ActorPlan(gateway_actor(index), GATEWAY) for index in range(gateways)]


class SupervisorSnapshot(msgspec.Struct):
    """The supervisor's switches and counters in a snapshot."""

    kind: ClassVar[str] = "supervisor"

    symbols: list[str]
    halted: dict[str, bool]
    killed: dict[str, bool]
    kill_all: bool
    commands: int
    opens: int
    scheduled_open: str
    navs: dict[str, int]
    nav_strikes: dict[str, int]
    loaded: dict[str, str]
    loaded_tenants: dict[str, str] = {}  # account → tenant, for the loaded accounts of a tenant other than the default


class SupervisorState(Dispatcher):
    """Trading status per symbol and the kill switch, as the operator set them."""

    def __init__(self, symbols: list[str]) -> None:
        self.name = "supervisor"
        self.symbols = sorted(symbols)
        self.halted: dict[str, bool] = {}  # symbol → True (a dict: ordered, so hashes are stable)
        self.killed: dict[str, bool] = {}  # account → True
        self.kill_all = False
        self.commands = 0
        self.opens = 0  # opens released (admin ``open`` or the configured time)
        self.scheduled_open = ""  # local date of the last open at the configured time
        self.navs: dict[str, int] = {}  # fund → the last NAV struck
        self.nav_strikes: dict[str, int] = {}  # fund → NAVs struck so far (numbers each strike's marker)
        self.loaded: dict[str, str] = {}  # account → group, for accounts opened by ``accounts load``
        self.loaded_tenants: dict[str, str] = {}  # account → tenant, those of them not of the default tenant
        self.out = Outputs()

    def _set_trading_status(self, command: SetTradingStatus, now: int) -> None:
        if command.symbol not in self.symbols:
            raise KeyError(f"unknown symbol {command.symbol}")
        if command.halted:
            self.halted[command.symbol] = True
        else:
            self.halted.pop(command.symbol, None)
        self.commands += 1
        self.out.to(INSTRUMENT, command.symbol, command)
        self.out.to(ACCOUNT, ALL, command)

    def _set_kill(self, command: SetKill, now: int) -> None:
        if command.account == ALL:
            self.kill_all = command.killed
            self.killed.clear()
            self.out.to(ACCOUNT, ALL, command)
        else:
            if command.killed:
                self.killed[command.account] = True
            else:
                self.killed.pop(command.account, None)
            self.out.to(ACCOUNT, command.account, command)
        self.commands += 1

    def _cancel_all(self, command: AdminCancelAll, now: int) -> None:
        self.commands += 1
        target = command.symbol if command.symbol is not None else ALL
        self.out.to(INSTRUMENT, target, command)

    def _open_market(self, command: OpenMarket, now: int) -> None:
        self.commands += 1
        self.opens += 1
        if command.day:
            self.scheduled_open = command.day
        self.out.to(ACCOUNT, ALL, msgspec.structs.replace(command, open_id=self.opens))

    def _strike_nav(self, command: StrikeNav, now: int) -> None:
        """Send the strike to every account shard, numbered per fund: each shard passes it on
        to the fund's InstrumentActor behind the orders it routed before it (like the open),
        so an order a shard acknowledged before the marker passed it is never left out."""
        self.commands += 1
        self.navs[command.symbol] = command.nav
        strike = self.nav_strikes[command.symbol] = self.nav_strikes.get(command.symbol, 0) + 1
        self.out.to(ACCOUNT, ALL, msgspec.structs.replace(command, strike=strike))

    def _open_account(self, command: OpenAccount, now: int) -> None:
        if command.account in self.loaded:  # opened before: its shard keeps the first, and so its tenant here
            return
        # the tenant first: a basket's check reads these from a thread (``_tenant_of``), and an
        # account in ``loaded`` without its entry here would pass as the default tenant's
        if command.tenant and command.tenant != DEFAULT_TENANT:
            self.loaded_tenants[command.account] = command.tenant
        self.loaded[command.account] = command.group
        self.out.to(ACCOUNT, command.account, command)

    def _set_lot_method(self, command: SetLotMethod, now: int) -> None:
        self.commands += 1
        self.out.to(ACCOUNT, command.account, command)

    def _set_portfolio_limits(self, command: SetPortfolioLimits, now: int) -> None:
        """An account's limits to its shard; a group's to every shard (a group may span them)."""
        self.commands += 1
        self.out.to(ACCOUNT, command.account or ALL, command)

    def _set_account_trading_state(self, command: SetAccountTradingState, now: int) -> None:
        self.commands += 1
        self.out.to(ACCOUNT, command.account, command)

    def _desk_control(self, command: DeskControl, now: int) -> None:
        """The operator's start, stop or tune of the desk: to the symbol's InstrumentActor."""
        if command.symbol not in self.symbols:
            raise KeyError(f"unknown symbol {command.symbol}")
        self.commands += 1
        self.out.to(INSTRUMENT, command.symbol, command)

    _handlers: ClassVar[dict[type, Callable[..., None]]] = {
        DeskControl: _desk_control,
        SetPortfolioLimits: _set_portfolio_limits,
        SetAccountTradingState: _set_account_trading_state,
        SetLotMethod: _set_lot_method,
        OpenAccount: _open_account,
        OpenMarket: _open_market,
        StrikeNav: _strike_nav,
        SetTradingStatus: _set_trading_status,
        SetKill: _set_kill,
        AdminCancelAll: _cancel_all,
    }

    snapshot_type: ClassVar[type[SupervisorSnapshot]] = SupervisorSnapshot

    def snapshot(self) -> SupervisorSnapshot:
        return SupervisorSnapshot(
            self.symbols, self.halted, self.killed, self.kill_all, self.commands, self.opens,
            self.scheduled_open, self.navs, self.nav_strikes, self.loaded, self.loaded_tenants,
        )

    @classmethod
    def restore(cls, state: SupervisorSnapshot) -> SupervisorState:
        core = cls(state.symbols)
        core.halted, core.killed, core.kill_all, core.commands, core.opens = state.halted, state.killed, state.kill_all, state.commands, state.opens
        core.scheduled_open, core.navs, core.nav_strikes, core.loaded = state.scheduled_open, state.navs, state.nav_strikes, state.loaded
        core.loaded_tenants = dict(state.loaded_tenants)
        return core

    def check_invariants(self) -> None:
        assert all(symbol in self.symbols for symbol in self.halted)

    def state_hash(self) -> str:
        state = (
            self.symbols,
            sorted(self.halted),
            sorted(self.killed),
            self.kill_all,
            self.commands,
            self.opens,
            sorted(self.navs.items()),
            sorted(self.nav_strikes.items()),
        )
        return hashlib.sha256(msgspec.msgpack.encode(state)).hexdigest()
