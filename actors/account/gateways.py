"""Which gateways an account shard sends each account's execution reports to.

Each gateway, one or several, tells the shards which accounts its sessions follow
(``GatewayServes``, on the transitions only: an account's first follower on that gateway,
its last gone) and whether it wants every account (a session subscribed to a whole
tenant's or every tenant's executions); a gateway that starts says ``reset`` first. A
report then goes to the gateways that serve its account, those that want everything, and
the gateway of the connection that asked (its answer). Nothing else is sent anywhere: an
account nobody follows — a basket's orders for owners not connected — costs no report sent.
Until the first announcement (a shard whose journal predates its gateways' start, or a
core outside a server) every report goes to ``ALL`` gateways.

Why journaled, not soft: a shard's outbox is a pure function of its journal (the batches
to each gateway are numbered, and a restarted shard must number them as before), so the
table the destinations come from is rebuilt by the replay like everything else. A stale
entry (a gateway that lost its sessions without saying so) costs reports sent for nobody,
never a leak: a gateway delivers a report only to the sessions whose reach holds its
account (``server/gateway/fanout.py``).
"""

from __future__ import annotations

import msgspec

from actors.runtime.outputs import GATEWAY, Outputs
from model.messages import ExecutionReport, GatewayServes


class GatewayRoutesSnapshot(msgspec.Struct):
    served: dict[str, list[str]]  # account → the gateways serving it
    everything: list[str]  # gateways that want every account


class GatewayRoutes:
    """Guarantees: until a gateway announces, every report goes to ``ALL`` gateways; after,
    a report goes exactly to the gateways serving its account, those wanting everything, and
    its asker's gateway — each once."""

    __slots__ = ("everything", "routed", "served")

    def __init__(self) -> None:
        self.routed = False  # any gateway announced: route by the table from now on
        self.served: dict[str, tuple[str, ...]] = {}
        self.everything: tuple[str, ...] = ()

    def apply(self, message: GatewayServes) -> None:
        self.routed = True
        gateway = message.gateway
        if message.reset:
            self.everything = tuple(name for name in self.everything if name != gateway)
            for account in [account for account, names in self.served.items() if gateway in names]:
                self._drop(account, gateway)
        for account in message.drops:
            self._drop(account, gateway)
        for account in message.follows:
            names = self.served.get(account, ())
            if gateway not in names:
                self.served[account] = (*names, gateway)
        if message.everything is not None:
            others = tuple(name for name in self.everything if name != gateway)
            self.everything = (*others, gateway) if message.everything else others

    def _drop(self, account: str, gateway: str) -> None:
        names = tuple(name for name in self.served.get(account, ()) if name != gateway)
        if names:
            self.served[account] = names
        else:
            self.served.pop(account, None)

    def wanted(self, account: str) -> bool:
        """Whether any gateway takes ``account``'s reports by the table (those an asker's
        gateway takes besides are the caller's to know): every one until a gateway
        announces, then those serving it or wanting everything."""
        return not self.routed or bool(self.everything) or account in self.served

    def send(self, out: Outputs, report: ExecutionReport) -> None:
        """``report`` to its gateways (the table is in use: ``routed``)."""
        names, everything = self.served.get(report.account, ()), self.everything  # no tuple made per report
        reply = report.reply
        if reply is not None and reply.gateway not in names and reply.gateway not in everything:
            out.to(GATEWAY, reply.gateway, report)
        for name in names:
            out.to(GATEWAY, name, report)
        for name in everything:
            if name not in names:
                out.to(GATEWAY, name, report)

    def snapshot(self) -> GatewayRoutesSnapshot | None:
        if not self.routed:
            return None
        return GatewayRoutesSnapshot({account: list(names) for account, names in self.served.items()}, list(self.everything))

    @classmethod
    def restore(cls, state: GatewayRoutesSnapshot | None) -> GatewayRoutes:
        routes = cls()
        if state is not None:
            routes.routed = True
            routes.served = {account: tuple(names) for account, names in state.served.items()}
            routes.everything = tuple(state.everything)
        return routes

