"""The InstrumentActor Ray actor: hosts ``InstrumentState``."""

from __future__ import annotations

import ray

from actors.instruments.state import InstrumentState
from actors.runtime import CoreHost
from model.config import Config
from model.instruments import Instrument


@ray.remote
class InstrumentActor(CoreHost):
    """Owns the symbols placed on this actor: quotes, held orders, routing to venues."""

    def __init__(self, name: str, config: Config, instruments: list[Instrument]) -> None:
        super().__init__(name, config)
        self.core = InstrumentState(name, instruments, config.venues)
