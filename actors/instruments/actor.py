"""The InstrumentActor Ray actor: hosts ``InstrumentState`` behind its journal."""

from __future__ import annotations

import ray

from actors.cores import build_core
from actors.runtime import Core, DurableHost
from actors.supervisor.state import ActorPlan
from model.config import Config
from model.instruments import Instrument
from model.messages import AdminCancelAll


@ray.remote
class InstrumentActor(DurableHost):
    """Owns the symbols placed on this actor: quotes, held orders, routing to venues."""

    def __init__(self, name: str, config: Config, instruments: list[Instrument]) -> None:
        self.instruments = instruments
        super().__init__(name, config)
        self.recover(config.server.data_dir)

    def make_core(self) -> Core:
        return build_core(ActorPlan(self.name, "instrument", instruments=self.instruments), self.config)

    async def cancel_count(self, account: str | None, symbol: str | None, venue: str | None) -> int:
        """How many open orders an operator's cancel-all with these filters covers here."""
        return len(self.core.matching(AdminCancelAll(account, symbol, venue)))
