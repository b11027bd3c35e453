"""Resharding, the pure part: account shards' snapshots redistributed over a new count.

``split`` takes every account shard's state as its snapshot struct holds it
(``AccountSnapshot``) and gives the states of the shards of the new topology: each account,
with everything that is its own — its record (cash, positions, holds, lots, client order
ids), every order of it (open ones, those working at a venue or held for the open, and the
ended ones a query still reads), its deposits, withdrawals and journal legs with their
idempotency keys, the journal batches it coordinated, its portfolio limits, state, alerts
and high-water mark, the gateways that follow it — goes to ``shard_of(account, count)``.
What every shard holds alike (reference data, limits, marks, halts and open days, the kill
switch for all, the risk model, group limits) is copied to a new shard from shard 0; what
is a shard's own (its counters, its anomalies) stays with it, and a new shard starts them
at zero. No I/O: ``actors/reshard/procedure.py`` loads, checks and writes.

Why ids need no change: an order's id is its first shard's name and counter
(``account-0-17``); nothing routes by it (reports, fills, cancels go by account), and a new
shard's counter numbers ids under its own name, so no id can be made twice.

Guarantees:
- every account is on exactly one shard after, the one ``shard_of`` names, with its record
  byte for byte as before; every order, transfer record and idempotency key is on its
  account's shard, byte for byte, none lost, none doubled (``moved_intact`` checks it);
- ``refusals`` names every state that cannot be carried over (a journal between accounts
  in flight); ``split`` is only called when it names none.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from actors.account.core import AccountSnapshot
from actors.account.gateways import GatewayRoutesSnapshot
from actors.account.orders import thaw
from actors.account.portfolio import PortfolioState
from actors.account.records import AccountRecord
from actors.account.transfers import JournalBatch, TransfersSnapshot
from actors.runtime.router import account_actor
from model.messages import Transfer
from model.risk.alerts import Raised
from model.risk.limits import PortfolioLimits
from model.routing import shard_of

_encode = msgspec.msgpack.encode


def owner(account: str, count: int) -> str:
    """The shard that owns ``account`` in a topology of ``count`` account shards."""
    return account_actor(shard_of(account, count))


def refusals(shard: AccountSnapshot) -> list[str]:
    """What of ``shard`` cannot be moved: a journal batch between accounts not yet decided
    and booked everywhere (its votes, bookings or lots are on their way between shards,
    addressed by shard), legs prepared here awaiting an outcome, credits of shares awaiting
    their lots. Each a sentence naming the journal."""
    problems: list[str] = []
    transfers = shard.transfers
    if transfers is None:
        return problems
    for batch in transfers.journals:
        if not batch.decided or batch.votes or batch.bookings:
            problems.append(f"{shard.name}: journal {batch.journal_id} is not decided and booked on every shard yet")
    for journal_id in transfers.legs:
        problems.append(f"{shard.name}: legs of journal {journal_id} are prepared here and await its outcome")
    for journal_id in transfers.awaiting:
        problems.append(f"{shard.name}: journal {journal_id} awaits the lots of its credit of shares")
    return problems


def split(shards: dict[str, AccountSnapshot], count: int) -> dict[str, AccountSnapshot]:
    """The account shards of a topology of ``count`` shards, from those of ``shards`` (every
    shard of the old topology, by name; ``count`` at least their number). Old shards keep
    their names and counters; the new ones are ``account-<n>`` for the numbers after them."""
    if not shards:
        raise ValueError("no account shard to reshard")
    names = [account_actor(index) for index in range(count)]
    missing = [name for name in shards if name not in names]
    if missing:
        raise ValueError(f"shards {', '.join(missing)} are not in a topology of {count}")
    template = shards[account_actor(0)]
    result = {name: shards[name] if name in shards else _empty(template, name) for name in names}
    parts = {name: _Part() for name in names}
    for source in shards.values():
        _distribute(source, count, parts)
    return {name: _assemble(result[name], parts[name], name in shards) for name in names}


class _Part:
    """What one new shard receives, gathered from every old shard in their order."""

    def __init__(self) -> None:
        self.accounts: list[AccountRecord] = []
        self.orders: list[msgspec.Raw] = []
        self.transfers: list[Transfer] = []
        self.keys: dict[str, dict[str, str]] = {}
        self.journals: list[JournalBatch] = []
        self.account_limits: dict[str, PortfolioLimits] = {}
        self.states: dict[str, str] = {}
        self.high_water: dict[str, int] = {}
        self.alerts: dict[str, dict[str, Raised]] = {}
        self.served: dict[str, list[str]] = {}


def _distribute(source: AccountSnapshot, count: int, parts: dict[str, _Part]) -> None:
    for record in source.accounts:
        parts[owner(record.account, count)].accounts.append(record)
    for raw in source.orders:
        parts[owner(thaw(raw).account, count)].orders.append(raw)
    transfers = source.transfers
    if transfers is not None:
        for transfer in transfers.transfers:
            parts[owner(transfer.account, count)].transfers.append(transfer)
        for account, keys in transfers.keys.items():
            parts[owner(account, count)].keys[account] = keys
        for batch in transfers.journals:  # kept where its key is: the first entry's debit account
            parts[owner(batch.account, count)].journals.append(batch)
    portfolio = source.portfolio
    if portfolio is not None:
        for account, limits in portfolio.account_limits.items():
            parts[owner(account, count)].account_limits[account] = limits
        for account, state in portfolio.states.items():
            parts[owner(account, count)].states[account] = state
        for account, mark in portfolio.high_water.items():
            parts[owner(account, count)].high_water[account] = mark
        for account, alerts in portfolio.alerts.items():
            parts[owner(account, count)].alerts[account] = alerts
    routes = source.gateway_routes
    if routes is not None:
        for account, gateways in routes.served.items():
            parts[owner(account, count)].served[account] = gateways


def _empty(template: AccountSnapshot, name: str) -> AccountSnapshot:
    """A new shard: what every shard holds alike, from ``template``; nothing of its own."""
    return msgspec.structs.replace(
        template,
        name=name,
        accounts=[],
        orders=[],
        order_counter=0,
        allocations=0,
        nav_markers=0,
        rejected_requests=0,
        anomalies=[],
        transfers=None if template.transfers is None else TransfersSnapshot(0, [], {}, [], {}, 0, {}),
    )


def _assemble(base: AccountSnapshot, part: _Part, kept: bool) -> AccountSnapshot:
    """``base`` (the old shard, or a new one's template) holding exactly ``part``'s accounts."""
    transfers = base.transfers
    if transfers is not None or part.transfers or part.keys or part.journals:
        transfers = TransfersSnapshot(
            counter=transfers.counter if transfers is not None and kept else 0,
            transfers=part.transfers,
            keys=part.keys,
            journals=part.journals,
            legs={},  # none in flight (``refusals``)
            steps=transfers.steps if transfers is not None and kept else 0,
            awaiting={},
        )
    portfolio = base.portfolio
    if portfolio is not None:
        portfolio = PortfolioState(
            model=portfolio.model,
            config=portfolio.config,
            account_limits=part.account_limits,
            group_limits=portfolio.group_limits,
            states=part.states,
            high_water=part.high_water,
            alerts=part.alerts,
        )
    routes = base.gateway_routes
    if routes is not None:
        routes = GatewayRoutesSnapshot(served=part.served, everything=list(routes.everything))
    return msgspec.structs.replace(
        base,
        accounts=part.accounts,
        orders=part.orders,
        transfers=transfers,
        portfolio=portfolio,
        gateway_routes=routes,
    )


def contents(shards: Iterable[AccountSnapshot]) -> dict[str, bytes]:
    """Everything that belongs to an account, encoded, by account: its record, its orders,
    its transfer records, keys, coordinated journals, portfolio entries and followers —
    what ``moved_intact`` compares."""
    found: dict[str, list[bytes]] = {}

    def add(account: str, item: object) -> None:
        found.setdefault(account, []).append(item if isinstance(item, bytes) else _encode(item))

    for shard in shards:
        for record in shard.accounts:
            add(record.account, record)
        for raw in shard.orders:
            add(thaw(raw).account, bytes(raw))
        if shard.transfers is not None:
            for transfer in shard.transfers.transfers:
                add(transfer.account, transfer)
            for account, keys in shard.transfers.keys.items():
                add(account, ("keys", keys))
            for batch in shard.transfers.journals:
                add(batch.account, batch)
        if shard.portfolio is not None:
            for table in ("account_limits", "states", "high_water", "alerts"):
                for account, value in getattr(shard.portfolio, table).items():
                    add(account, (table, value))
        if shard.gateway_routes is not None:
            for account, gateways in shard.gateway_routes.served.items():
                add(account, ("served", gateways))
    return {account: b"".join(sorted(items)) for account, items in found.items()}


def moved_intact(before: dict[str, AccountSnapshot], after: dict[str, AccountSnapshot], count: int) -> list[str]:
    """What differs between the accounts of ``before`` and ``after`` (empty: nothing lost,
    doubled or changed), and any account not on the shard ``shard_of`` names."""
    problems: list[str] = []
    old, new = contents(before.values()), contents(after.values())
    for account in sorted(set(old) | set(new)):
        if old.get(account) != new.get(account):
            problems.append(f"account {account}: its state differs after the move")
    for name, shard in after.items():
        for record in shard.accounts:
            if owner(record.account, count) != name:
                problems.append(f"account {record.account} is on {name}, not on {owner(record.account, count)}")
    return problems
