"""The InstrumentActor Ray actor: hosts ``InstrumentState`` behind its journal."""

from __future__ import annotations

import time
from typing import Any

import msgspec
import ray

from actors.instrument.bars import BarWriter
from actors.instrument.core import InstrumentState
from actors.instrument.router import only_acceptances
from actors.instrument.window import SendWindow
from actors.runtime import stash
from actors.runtime.host import DurableHost
from actors.runtime.inbox import SOFT
from actors.runtime.machine import Core
from actors.runtime.outputs import ACCOUNT, ALL, INSTRUMENT, STRATEGY
from actors.runtime.roles import build_core
from actors.supervisor.core import ActorPlan
from model import fixed
from model.config import Config
from model.desk import DeskParams, DeskSetup
from model.instruments import Instrument
from model.liquidity import LiquidityPolicy
from model.messages import AdminCancelAll, Batch, MarketUpdate, Message, SetDesk, SetLiquidity, encode_batch
from model.routes import RouteState


@ray.remote
class InstrumentActor(DurableHost):
    """Owns the symbols placed on this actor: quotes, held orders, routing to venues.

    Marks (each symbol's consolidated quote, for the shards' pre-trade risk) go to every
    account shard in soft batches, outside the journaled stream (``actors/account/marks.py``):
    those of a record before its batches, every current one when a link to a shard opens,
    and on a shard's asking (``current_marks``) when it starts. The strategy actor, when on
    (``[strategies] actor``), gets the same soft batches: its bars are made of them.

    Bars (``[bars]``): each live record's marks and venue trades feed a ``BarWriter``
    after the record is committed and its batches sent (``on_applied``); the minute and
    daily bars it closes are appended under the data dir (``bars.py``)."""

    audited = True  # its core writes order events to its audit chain (docs/audit.md)

    def __init__(self, name: str, config: Config, instruments: list[Instrument] | stash.Ref) -> None:
        self.instruments = stash.take(instruments, list[Instrument])
        super().__init__(name, config)
        self.shards = self.router.resolve(ACCOUNT, ALL)  # in their order; each written within a window (``_write_window``)
        # who gets the marks: the shards, and the strategy actor when on (its bars are made of them)
        self.mark_peers = [*self.shards, *self.router.resolve(STRATEGY, ALL)]
        self.window = SendWindow(config.batching.max_in_flight_to_shard)
        self.recover(config.server.data_dir)
        self.state.take_marks()  # what replay published went out before the restart
        self.record_marks: list[MarketUpdate] = []  # the marks of the record being sent, for the bars
        self.bars: BarWriter | None = None
        if config.bars.enabled:
            self.bars = BarWriter(config.bars.folder(config.server.data_dir), config.open.timezone, name)
            self.state.collect_trades()  # only now: a replay's trades are in bars written before the restart

    @property
    def state(self) -> InstrumentState:
        assert isinstance(self.core, InstrumentState)
        return self.core

    def make_core(self) -> Core:
        return build_core(ActorPlan(self.name, INSTRUMENT, instruments=self.instruments), self.config)

    def wired(self) -> None:
        """Once the links exist (at start and after a restart): a ``[crossing]`` or ``[routing]`` other than
        the one the state decides with is journaled to itself, so it applies from that
        record on and replay crosses as the live actor did (docs/liquidity.md)."""
        policy = LiquidityPolicy.from_config(self.config.crossing, self.config.routing)
        messages: list[Message] = []
        if policy != self.state.policy:
            messages.append(SetLiquidity(policy))
        setup = self.desk_setup()
        if setup != self.state.desk_setup and (setup.params or self.state.desk_setup is not None):
            messages.append(SetDesk(setup))  # likewise ``[desk]``: a state that never had a desk needs none to say so
        if messages:
            self.submit_local(messages)

    def desk_setup(self) -> DeskSetup:
        """``[desk]`` for this actor's symbols, as ``SetDesk`` journals it (no symbol when off)."""
        section = self.config.desk
        mine = {i.symbol for i in self.instruments}
        params = tuple(section.params_of(symbol) for symbol in sorted(set(section.symbols) & mine)) if section.enabled else ()
        return DeskSetup(section.account if section.enabled else "", section.at_venues and section.enabled, self.config.open.timezone, params)

    def may_wait(self, batch: Batch) -> bool:
        """A venue's batch of acceptances only (a child order resting there) rides in the next
        record: it changes nothing here, and lost in a crash, the venue sends it again."""
        return only_acceptances(batch.messages)

    def _soft(self, marks: list[MarketUpdate]) -> bytes:
        return encode_batch(Batch(self.name, SOFT, time.time_ns(), list(marks)))

    def _send_fresh(self) -> None:
        """The record's marks first, so a fill in its batches never meets an older one; then
        the record's batches: to a shard within its window (``_write_window``), to anyone
        else at once."""
        marks = self.record_marks = self.state.take_marks()
        if marks and self.links is not None:
            data = self._soft(marks)
            for peer in self.mark_peers:
                self.links.send(peer, data)
        fresh = self.outbox.take_fresh()
        if self.links is None:
            return  # not wired yet: everything is unacked and goes when the links open
        windowed: set[str] = set()
        for name, data in fresh:
            if name in self.shards:
                windowed.add(name)
            else:
                self.links.send(name, data)
        for name in windowed:
            self._write_window(name)

    def on_applied(self) -> None:
        """The record is committed and sent: its marks and trades into the bars (file writes
        only when a bar closes: the first price of a later minute)."""
        marks, self.record_marks = self.record_marks, []
        if self.bars is not None:
            self.bars.take(marks, self.state.take_trades())

    async def close(self) -> None:
        """A clean stop: the open minute bars are written, then the journal is closed."""
        await super().close()
        if self.bars is not None:
            self.bars.close()

    def _write_window(self, name: str) -> None:
        """Write ``name``'s batches waiting in the outbox, in seq order, while fewer than
        ``[batching] max_in_flight_to_shard`` are written and not acked (``window.py`` says
        why). Every batch still stays in the outbox until acked."""
        if self.links is None:
            return
        for data in self.window.due(name, self.outbox.unacked.get(name, ())):
            self.links.send(name, data)

    def on_ack(self, name: str, seq: int) -> None:
        super().on_ack(name, seq)
        if name in self.shards:
            self._write_window(name)

    def on_connect(self, name: str) -> None:
        """A shard's link (re)opened: marks sent while it was down were not written (soft
        batches are not kept), so it gets every current one, then what it has not acked
        (within its window)."""
        if name in self.shards and self.links is not None:
            self.links.send(name, self._soft(self.state.marks(time.time_ns())))
            self.window.reopened(name)  # whatever was written before may be lost: again from the first unacked
            self._write_window(name)
            return
        if name in self.mark_peers and self.links is not None:
            self.links.send(name, self._soft(self.state.marks(time.time_ns())))
        super().on_connect(name)

    async def current_marks(self) -> bytes:
        """Every current mark as a soft batch: what a starting shard asks before it takes
        inputs (``actors/account/marks.py``)."""
        return self._soft(self.state.marks(time.time_ns()))

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
        status["bars_written"] = None if self.bars is None else self.bars.written
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
        if core.desks:
            status["desk"] = {symbol: "quoting" if not desk.book.stopped else desk.book.stopped for symbol, desk in sorted(core.desks.items())}
        status["crossing"] = {
            "enabled": core.policy.enabled,
            "resting": sum(len(routes) for routes in core.internal.values()),
            "counts": dict(sorted(core.crossing_stats.items())),  # executions, and turns without a cross by symbol and reason
        }
        return status

    async def desk_status(self, symbol: str | None = None) -> list[dict[str, Any]]:
        """Each desk here (or ``symbol``'s), as ``admin desk status`` shows it."""
        return self.state.desk_view(symbol)

    async def desk_params(self, symbol: str) -> DeskParams | None:
        """``symbol``'s desk terms now (what ``admin desk tune`` changes), or None: no desk."""
        desk = self.state.desks.get(symbol)
        return None if desk is None else desk.params

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
