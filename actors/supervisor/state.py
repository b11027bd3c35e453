"""Supervisor core: where every account, symbol and venue lives, and the operator's switches.

Pure: it computes the topology from the setup and turns operator commands into control
messages; the Ray shell creates the actors and sends the messages.
"""

from __future__ import annotations

import msgspec

from actors.hop import account_actor, gateway_actor, instrument_actor, venue_actor
from actors.outputs import ACCOUNT, ALL, INSTRUMENT, Outputs
from model.config import AccountSeed, Setup, VenueSection
from model.instruments import Instrument
from model.messages import SetTradingStatus
from model.routing import shard_of


class ActorPlan(msgspec.Struct, frozen=True):
    name: str
    role: str  # account | instrument | venue | gateway
    accounts: list[AccountSeed] = []
    instruments: list[Instrument] = []
    venue: VenueSection | None = None


def plan(setup: Setup, gateways: int = 1) -> list[ActorPlan]:
    """Every actor of the topology with what it owns. Shard counts come from config."""
    topology = setup.config.topology
    if topology.account_shards < 1 or topology.instrument_actors < 1:
        raise ValueError("account_shards and instrument_actors must be at least 1")
    plans: list[ActorPlan] = []
    for index in range(topology.account_shards):
        owned = [seed for seed in setup.accounts if shard_of(seed.account, topology.account_shards) == index]
        plans.append(ActorPlan(account_actor(index), "account", accounts=owned, instruments=setup.instruments))
    for index in range(topology.instrument_actors):
        owned_symbols = [i for i in setup.instruments if shard_of(i.symbol, topology.instrument_actors) == index]
        plans.append(ActorPlan(instrument_actor(index), "instrument", instruments=owned_symbols))
    for venue in setup.config.venues:
        plans.append(ActorPlan(venue_actor(venue.name), "venue", instruments=setup.instruments, venue=venue))
    for index in range(gateways):
        plans.append(ActorPlan(gateway_actor(index), "gateway"))
    return plans


class SupervisorState:
    """Trading status per symbol, as the operator set it."""

    def __init__(self, setup: Setup) -> None:
        self.symbols = {instrument.symbol for instrument in setup.instruments}
        self.halted: set[str] = set()
        self.out = Outputs()

    def set_halted(self, symbol: str, halted: bool) -> None:
        if symbol not in self.symbols:
            raise KeyError(f"unknown symbol {symbol}")
        if halted:
            self.halted.add(symbol)
        else:
            self.halted.discard(symbol)
        message = SetTradingStatus(symbol, halted)
        self.out.to(INSTRUMENT, symbol, message)
        self.out.to(ACCOUNT, ALL, message)



