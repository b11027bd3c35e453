"""The StrategyActor Ray actor: hosts ``StrategyState`` (``core.py``) behind its journal.

Quotes come as the InstrumentActors' soft marks (the batches every account shard gets):
those of the symbols a running strategy watches are journaled as the actor's own inputs,
lazily (they ride in the next record, at most ``[journal] lazy_commit_ms`` later) — a mark
lost in a crash before its record only leaves a price out of a minute bar, and what was
journaled replays to the same bars. The reports of live orders come from the account
shards as sequenced batches like any input; the orders go out the same way, kept in the
outbox until the shard acks them, so a restart sends each exactly once (docs/recovery.md).

The operator's commands (``admin``) are checked against the core first, so a bad one is
answered and changes nothing, then journaled and applied before the answer."""

from __future__ import annotations

from typing import Any

import ray

from actors.runtime import stash
from actors.runtime.host import DurableHost
from actors.runtime.machine import Core
from actors.runtime.outputs import STRATEGY
from actors.runtime.roles import build_core
from actors.strategy.core import StrategyState
from actors.supervisor.core import ActorPlan
from model import fixed
from model.config import Config
from model.instruments import Instrument
from model.messages import Batch, CreateStrategy, MarketUpdate, Message, PromoteStrategy, RedeemStrategy, RunStrategy, SubscribeStrategy
from model.strategy.spec import StrategyError


@ray.remote
class StrategyActor(DurableHost):
    def __init__(self, name: str, config: Config, instruments: list[Instrument] | stash.Ref) -> None:
        self.instruments = stash.take(instruments, list[Instrument])
        super().__init__(name, config)
        self.recover(config.server.data_dir)
        self.marks_journaled = 0

    @property
    def state(self) -> StrategyState:
        assert isinstance(self.core, StrategyState)
        return self.core

    def make_core(self) -> Core:
        return build_core(ActorPlan(self.name, STRATEGY, instruments=self.instruments), self.config)

    def receive_soft(self, batch: Batch) -> None:
        watching = self.state.watching
        marks: list[Message] = [m for m in batch.messages if isinstance(m, MarketUpdate) and m.symbol in watching]
        if marks:
            self.marks_journaled += len(marks)
            self.submit_local(marks, lazy=True)

    async def admin(self, command: str, name: str = "", text: str = "", account: str = "", amount: str = "", cash: str = "") -> dict[str, Any]:
        """One operator command (``actors/strategy/admin.py``): checked, journaled, applied.
        ``cash``: the named account's cash as its shard reported it, for a command that
        commits some (promote to live, subscribe). Returns ``{"ok": True, "strategy": ...}``
        or ``{"ok": False, "error": why}``."""
        state = self.state
        try:
            account_cash = fixed.parse(cash) if cash else None
            message: Message
            if command == "create":
                message = CreateStrategy(name, text)
                state.check_create(message)
            elif command in ("start", "stop"):
                message = RunStrategy(name, command == "start")
                state.check_run(message)
            elif command == "promote":
                message = PromoteStrategy(name, account or None)
                state.check_promote(message, account_cash)
            elif command == "subscribe":
                value = fixed.parse(amount)
                message = SubscribeStrategy(name, account, value)
                state.check_investor(name, account, value, account_cash)
            elif command == "redeem":
                message = RedeemStrategy(name, account)
                state.check_investor(name, account, None)
            else:
                return {"ok": False, "error": f"unknown strategy command {command}"}
        except (StrategyError, ValueError) as refused:
            return {"ok": False, "error": str(refused)}
        self.submit_local([message])
        await self.local_inputs_applied()
        return {"ok": True, "strategy": state.get(name).status()}

    async def strategies(self) -> list[dict[str, Any]]:
        return self.state.status()

    async def status(self) -> dict[str, Any]:
        status = await super().status()
        status["strategies"] = len(self.state.strategies)
        status["marks_journaled"] = self.marks_journaled
        return status
