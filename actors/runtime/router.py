"""Actor names and where a core's outputs go.

A pure core names a destination by ``(kind, key)`` (``actors/runtime/outputs.py``): an
account, a symbol, a venue, a gateway, or ``ALL`` of a kind. ``Router`` turns that into the
names of the actors of this topology (from config), and says who may send batches at all.
"""

from __future__ import annotations

from actors.runtime.outputs import ACCOUNT, ALL, DROP_COPY, GATEWAY, INSTRUMENT, STRATEGY, VENUE
from model.config import Config
from model.routing import shard_of


def account_actor(index: int) -> str:
    return f"account-{index}"


def instrument_actor(index: int) -> str:
    return f"instrument-{index}"


def venue_actor(venue: str) -> str:
    return f"venue-{venue}"


def gateway_actor(index: int) -> str:
    return f"gateway-{index}"


SUPERVISOR = "supervisor"
DROP_COPY_ACTOR = "drop-copy"
STRATEGY_ACTOR = "strategy"


class Router:
    """Turns a core's ``(kind, key)`` into actor names, from the topology in config."""

    def __init__(self, config: Config) -> None:
        self.shards = config.topology.account_shards
        self.instrument_count = config.topology.instrument_actors
        self.venues = [venue.name for venue in config.venues]
        # ``[gateway] count``, the one the topology is planned with: every actor accepts
        # batches from every gateway and answers each
        self.gateways = [gateway_actor(i) for i in range(config.gateway.count)]
        self._instrument_cache: dict[str, str] = {}
        self._account_cache: dict[str, str] = {}
        self.resolved: dict[tuple[str, str], list[str]] = {}  # what ``resolve`` answered; read directly on hot paths
        self._everyone = {  # fan-out lists, shared: callers only read them
            ACCOUNT: [account_actor(i) for i in range(self.shards)],
            INSTRUMENT: [instrument_actor(i) for i in range(self.instrument_count)],
            VENUE: [venue_actor(v) for v in self.venues],
            GATEWAY: self.gateways,
            DROP_COPY: [DROP_COPY_ACTOR] if config.drop_copy.enabled else [],
            STRATEGY: [STRATEGY_ACTOR] if config.strategies.actor else [],
        }
        # who may send batches: a gateway only under its signed name (see ``is_sender``)
        self._senders = {name for kind, names in self._everyone.items() if kind != GATEWAY for name in names} | {SUPERVISOR}

    def nowhere(self) -> frozenset[str]:
        """The kinds whose ``ALL`` goes to no actor here (``Outputs.nowhere``)."""
        return frozenset(kind for kind, names in self._everyone.items() if not names)

    def is_sender(self, name: str) -> bool:
        """Whether a link may accept batches from ``name``: an actor of this topology, the
        supervisor, or a gateway under the name it signs with (``gateway-N~<incarnation>``)."""
        base, tilde, incarnation = name.partition("~")
        if tilde:
            return base in self.gateways and incarnation.isascii() and incarnation.isdigit()
        return name in self._senders

    def account(self, account: str) -> str:
        name = self._account_cache.get(account)
        if name is None:
            name = self._account_cache[account] = account_actor(shard_of(account, self.shards))
        return name

    def instrument(self, symbol: str) -> str:
        name = self._instrument_cache.get(symbol)
        if name is None:
            name = self._instrument_cache[symbol] = instrument_actor(shard_of(symbol, self.instrument_count))
        return name

    def resolve(self, kind: str, key: str) -> list[str]:
        """The actors a send to ``(kind, key)`` goes to. The lists are kept and shared (callers
        only read them): every message an actor sends is resolved, and the same destinations
        come back over and over. Kept like the account and symbol caches above: one entry per
        account, symbol, venue and gateway sent to."""
        names = self.resolved.get((kind, key))
        if names is None:
            names = self.resolved[(kind, key)] = self._resolve(kind, key)
        return names

    def _resolve(self, kind: str, key: str) -> list[str]:
        if key == ALL:
            everyone = self._everyone.get(kind)
            if everyone is None:
                raise ValueError(f"unknown destination kind {kind}")
            return everyone
        if kind == ACCOUNT:
            return [self.account(key)]
        if kind == INSTRUMENT:
            return [self.instrument(key)]
        if kind == VENUE:
            return [venue_actor(key)]
        if kind == GATEWAY:
            return [key]
        raise ValueError(f"unknown destination kind {kind}")
