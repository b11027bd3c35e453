"""The AccountShard Ray actor: hosts ``AccountState`` behind its journal."""

from __future__ import annotations

import time
from typing import Any

import msgspec
import ray

from actors.accounts.state import AccountState
from actors.cores import build_core
from actors.runtime import Core, DurableHost
from actors.supervisor.state import ActorPlan
from model.config import AccountSeed, Config
from model.instruments import Instrument
from model.messages import AccountReply, OpenAccount, OrdersReply, QueryAccount, QueryOrders, Reply
from server import protocol


@ray.remote
class AccountActor(DurableHost):
    """Owns the accounts placed on this shard; every order of those accounts lives here.

    Accounts from the accounts file that the journal does not hold yet enter as a journaled
    ``OpenAccount`` input once the shard is wired, so replay from empty rebuilds them too."""

    def __init__(self, name: str, config: Config, instruments: list[Instrument], accounts: list[AccountSeed]) -> None:
        self.instruments = instruments
        super().__init__(name, config)
        self.recover(config.server.data_dir)
        self.seeds = [seed for seed in accounts if seed.account not in self.core.accounts]
        self.last_status = (time.monotonic(), self.core.order_counter)

    def make_core(self) -> Core:
        return build_core(ActorPlan(self.name, "account", instruments=self.instruments), self.config)

    def wired(self) -> None:
        if self.seeds:
            self.submit_local([OpenAccount(s.account, s.owner, s.cash, s.allow_short) for s in self.seeds])
            self.seeds = []

    # --- operator queries (read only: not journaled) -----------------------------------------

    async def admin_account(self, account: str) -> dict[str, Any] | None:
        core: AccountState = self.core
        record = core.accounts.get(account)
        if record is None:
            return None
        core._query_account(QueryAccount(account, Reply("admin", 0, b"")), time.time_ns())
        (send,) = core.out.drain()
        assert isinstance(send.message, AccountReply)
        view: dict[str, Any] = msgspec.json.decode(protocol.account_reply(send.message))
        view.pop("type", None)
        view.pop("id", None)
        view["killed"] = record.killed
        view["open_orders"] = core.open_orders(account)
        return view

    async def admin_orders(self, account: str) -> list[dict[str, Any]] | None:
        core: AccountState = self.core
        if account not in core.accounts:
            return None
        core._query_orders(QueryOrders(account, False, Reply("admin", 0, b"")), time.time_ns())
        (send,) = core.out.drain()
        assert isinstance(send.message, OrdersReply)
        orders: list[dict[str, Any]] = msgspec.json.decode(protocol.orders_reply(send.message))["orders"]
        return orders

    async def status(self) -> dict[str, Any]:
        """The runtime's status plus the book: accounts, orders, and orders/s since the
        previous status call."""
        status = await super().status()
        now, orders = time.monotonic(), self.core.order_counter
        last_time, last_orders = self.last_status
        self.last_status = (now, orders)
        status["accounts"] = len(self.core.accounts)
        status["orders"] = orders
        status["orders_per_s"] = round((orders - last_orders) / (now - last_time), 1) if now > last_time else 0.0
        return status

    async def open_orders(self, account: str | None) -> int:
        return self.core.open_orders(account)

    async def owns(self, account: str) -> bool:
        return account in self.core.accounts
