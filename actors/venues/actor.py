"""The VenueSession Ray actor: hosts ``VenueState`` and drives its adapter's clock."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import ray
import structlog

from actors.runtime import CoreHost
from actors.venues.state import VenueState
from adapters.factory import build_adapter
from model.config import Config, VenueSection
from model.enums import SessionState
from model.instruments import Instrument

log = structlog.get_logger("venues")


@ray.remote
class VenueActor(CoreHost):
    """Owns the child orders at one venue. Wakes the adapter when it asks to be woken."""

    core: VenueState

    def __init__(self, name: str, config: Config, venue: VenueSection, instruments: list[Instrument]) -> None:
        super().__init__(name, config)
        self.core = VenueState(venue.name, build_adapter(venue, config, instruments))
        self.clock: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Open the venue (first quotes, session state) and start its clock."""
        self.core.start(time.time_ns())
        self._post()
        self.clock = asyncio.get_running_loop().create_task(self._run_clock())

    async def set_session(self, state: str) -> None:
        self.core.set_session(SessionState(state), time.time_ns())
        self._post()

    async def _run_clock(self) -> None:
        while True:
            wakeup = self.core.next_wakeup()
            delay = 0.05 if wakeup is None else max(0.0, (wakeup - time.time_ns()) / 1e9)
            await asyncio.sleep(delay)
            try:
                self.core.advance(time.time_ns())
            except Exception:
                self.errors += 1
                log.exception("venue clock failed", venue=self.name)
            self._post()

    async def status(self) -> dict[str, Any]:
        status = await super().status()
        status["open_children"] = len(self.core.child_symbols)
        return status
