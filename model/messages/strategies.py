"""Messages of the strategy actor (``actors/strategy/``): the operator's commands, which the
actor journals to itself before applying them (docs/strategies.md, "On a running server").

Quotes reach the actor as the InstrumentActors' marks (``MarketUpdate``, soft, journaled by
the actor at the head of its next record); the reports of its live orders as the account
shards' ``ExecutionReport``. Tags 180-199 are the strategies' (never reuse or renumber one:
the journal holds them)."""

from __future__ import annotations

from typing import Union

from model.messages.base import MessageBase

__all__ = [
    "CreateStrategy",
    "PromoteStrategy",
    "RedeemStrategy",
    "RunStrategy",
    "StrategyMessage",
    "SubscribeStrategy",
]


class CreateStrategy(MessageBase, frozen=True, gc=False, tag=180):
    """A strategy named ``name`` from the text of its file (``model/strategy/spec.py``), in
    backtest mode and stopped. The file's text, not its path: a replay reads no file."""

    name: str
    text: str


class RunStrategy(MessageBase, frozen=True, gc=False, tag=181):
    """Start (``running`` true) or stop a strategy."""

    name: str
    running: bool


class PromoteStrategy(MessageBase, frozen=True, gc=False, tag=182):
    """Backtest → paper, or paper → live trading ``account`` (named for live only)."""

    name: str
    account: str | None = None


class SubscribeStrategy(MessageBase, frozen=True, gc=False, tag=183):
    """``account`` subscribes ``amount`` (10^-9 units, whole cents) to a live strategy."""

    name: str
    account: str
    amount: int


class RedeemStrategy(MessageBase, frozen=True, gc=False, tag=184):
    """``account`` redeems its whole share of a strategy."""

    name: str
    account: str


# A strategy's live orders carry client order ids with this prefix (``strategy:NAME-N``):
# the account shard sends their execution reports to the strategy actor as well.
STRATEGY_ORDER_PREFIX = "strategy:"


def reserved_id(field: str = "client_order_id") -> str:
    """Why a client's order id may not start with ``STRATEGY_ORDER_PREFIX``: the words of every
    entry that refuses one (the gateway's order checks, a basket's rows)."""
    return f"{field} must not start with {STRATEGY_ORDER_PREFIX!r}: that prefix is reserved for strategies' orders"

# The strategies' messages, in tag order.
StrategyMessage = Union[CreateStrategy, RunStrategy, PromoteStrategy, SubscribeStrategy, RedeemStrategy]
