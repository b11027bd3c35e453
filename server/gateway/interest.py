"""What a gateway tells the account shards about the accounts its sessions follow, so that
each account's executions reach only the gateways that serve it, and none when nobody
follows it (``actors/account/gateways.py`` keeps the shard's side; docs/scale.md,
"Several gateways"): a shard sends no report for a gateway to throw away — at the open, a
basket's million orders for accounts whose owners are not connected cost no report sent each.

Only transitions are sent: an account's first follower on this gateway (``follows``), its
last one gone (``drops``), and whether any session wants every account (a tenant's or the
platform's ``executions`` subscription: ``everything``). Each shard gets the accounts it
owns; ``everything`` and the ``reset`` said at start go to every shard. The messages ride
the gateway's outbox to the shards like its orders, in order, so a session's first order
reaches its shard after the announcement of its accounts; the outbox writes them again to a
shard whose link reopens, and the shard journals them.
"""

from __future__ import annotations

from collections.abc import Iterable

from actors.runtime.outbox import Outbox
from actors.runtime.outputs import ACCOUNT, ALL, Send
from model.messages import GatewayServes
from server.gateway.fanout import Fanout


class Interest:
    """The accounts this gateway has announced, and the announcements of each change."""

    def __init__(self, name: str, outbox: Outbox) -> None:
        self.name = name
        self.outbox = outbox
        self.announced: set[str] = set()
        self.everything = False

    def reset(self) -> None:
        """This gateway started: every shard forgets what an earlier process of it said."""
        self.outbox.post([Send(ACCOUNT, ALL, GatewayServes(self.name, reset=True))])

    def update(self, fanout: Fanout, accounts: Iterable[str]) -> None:
        """After a change of who follows ``accounts`` (a login, a close, a reach that
        changed) or of the firehose subscriptions: announce what changed. ``accounts``: those
        whose followers may have changed (``Fanout.followed``: never an operator's whole reach)."""
        by_shard: dict[str, tuple[list[str], list[str], str]] = {}
        shard_of = self.outbox.router.account
        for account in accounts:
            wanted = bool(fanout.account_connections.get(account))
            if wanted == (account in self.announced):
                continue
            follows, drops, _ = by_shard.setdefault(shard_of(account), ([], [], account))
            if wanted:
                self.announced.add(account)
                follows.append(account)
            else:
                self.announced.discard(account)
                drops.append(account)
        sends = [Send(ACCOUNT, key, GatewayServes(self.name, follows, drops)) for follows, drops, key in by_shard.values()]
        everything = bool(fanout.firehose) or any(fanout.tenant_firehose.values())
        if everything != self.everything:
            self.everything = everything
            sends.append(Send(ACCOUNT, ALL, GatewayServes(self.name, everything=everything)))
        if sends:
            self.outbox.post(sends)
