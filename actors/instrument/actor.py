"""The InstrumentActor Ray actor: hosts ``InstrumentState`` behind its journal."""

from __future__ import annotations

from typing import Any

import msgspec
import ray

from actors.instrument.core import InstrumentState
from actors.runtime.host import DurableHost
from actors.runtime.machine import Core
from actors.runtime.outputs import INSTRUMENT
from actors.runtime.roles import build_core
from actors.supervisor.core import ActorPlan
from model import fixed
from model.config import Config
from model.instruments import Instrument
from model.messages import AdminCancelAll
from model.routes import RouteState


@ray.remote
class InstrumentActor(DurableHost):
    """Owns the symbols placed on this actor: quotes, held orders, routing to venues."""

    def __init__(self, name: str, config: Config, instruments: list[Instrument]) -> None:
        self.instruments = instruments
        super().__init__(name, config)
        self.recover(config.server.data_dir)

    @property
    def state(self) -> InstrumentState:
        assert isinstance(self.core, InstrumentState)
        return self.core

    def make_core(self) -> Core:
        return build_core(ActorPlan(self.name, INSTRUMENT, instruments=self.instruments), self.config)

    async def cancel_count(self, account: str | None, symbol: str | None, venue: str | None) -> int:
        """How many open orders an operator's cancel-all with these filters covers here."""
        held = self.state.held_open.count(account, symbol) if venue is None else 0  # held orders are at no venue
        return len(self.state.matching(AdminCancelAll(account, symbol, venue))) + held + len(
            self.state.matching_blocks(AdminCancelAll(account, symbol, venue))
        )

    async def open_progress(self, open_id: int) -> tuple[int, int]:
        """``(markers completed, orders released)`` of the open ``open_id`` here."""
        done = self.state.opens_done.get(open_id, [0, 0])
        return done[0], done[1]

    async def nav_progress(self, symbols: list[str]) -> dict[str, list[int]]:
        """Per fund: the orders filled or expired at each of its strikes applied here."""
        return {symbol: list(self.state.navs_struck.get(symbol, ())) for symbol in symbols}

    async def status(self) -> dict[str, Any]:
        status = await super().status()
        core = self.state
        status["open"] = {
            "queued": sum(1 for route in core.routes.values() if route.state is RouteState.HELD_OPEN) + len(core.held_open),
            "queued_for_nav": sum(1 for route in core.routes.values() if route.state is RouteState.HELD_NAV),
            "blocks_working": len(core.blocks),
            "allocated": core.allocations,
            "fills_allocated": core.fills_allocated,
            "residuals": {
                symbol: {"qty": fixed.format(qty), "cash": fixed.format_cash(cash)}
                for symbol, (qty, cash) in sorted(core.residuals.items())
            },
        }
        return status

    async def admin_blocks(self) -> list[dict[str, Any]]:
        """Every finished block, with decimal strings (``admin blocks``); ``fill_value`` is
        exact (up to 18 places: quantity × price)."""
        blocks = []
        for block in self.state.done_blocks:
            fields = msgspec.structs.asdict(block)
            for key in ("routed", "cross", "fill_qty", "price"):
                fields[key] = fixed.format(fields[key])
            whole, fraction = divmod(block.fill_value, fixed.SCALE * fixed.SCALE)
            fields["fill_value"] = f"{whole}.{fraction:018d}".rstrip("0").rstrip(".")
            del fields["value_nanos"], fields["value_subnanos"]
            fields["side"] = block.side.value
            blocks.append(fields)
        return blocks
