"""The VenueSession Ray actor: hosts ``VenueState`` behind its journal and drives its
adapter's clock. Each clock tick is a journaled input, so replay moves the simulated
venue exactly as it moved live."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import ray
import structlog

from actors.runtime import stash
from actors.runtime.host import FixSessionHost
from actors.runtime.machine import Core
from actors.runtime.outputs import VENUE
from actors.runtime.roles import build_core
from actors.supervisor.core import ActorPlan
from adapters.base import VenueAdapter
from model.config import Config, VenueSection
from model.enums import SessionState
from model.instruments import Instrument
from model.messages import VenueRecovered, VenueSetSession, VenueStart, VenueTick, VenueWireIn, VenueWireSent

log = structlog.get_logger("venues")


@ray.remote
class VenueActor(FixSessionHost):
    """Owns the child orders at one venue. Wakes the adapter when it asks to be woken."""

    def __init__(self, name: str, config: Config, venue: VenueSection, instruments: list[Instrument] | stash.Ref) -> None:
        self.venue = venue
        self.instruments = stash.take(instruments, list[Instrument])
        super().__init__(name, config)
        self.recover(config.server.data_dir)
        self.adapter.configure(venue)  # a snapshot brings the adapter as it was: the config now is what counts
        self.clock: asyncio.Task[None] | None = None
        self.reconciled: dict[str, list[str]] = {}
        replayed = self.adapter.take_outgoing()  # replay rebuilt them: they went to the venue before the restart
        if replayed:
            log.info("replayed venue messages not sent again", venue=self.name, messages=len(replayed))

    def make_core(self) -> Core:
        return build_core(ActorPlan(self.name, VENUE, instruments=self.instruments, venue=self.venue), self.config)

    @property
    def adapter(self) -> VenueAdapter:
        """The core's venue adapter: every hook called on it is in its Protocol."""
        adapter: VenueAdapter = self.core.adapter
        return adapter

    async def start(self) -> None:
        """Open the venue (first quotes, session state) unless the journal says it is open;
        reconcile the child orders with the venue; start the clock."""
        if not self.core.started:
            self.submit_local([VenueStart()])
            await self.settle()
        self.reconciled = self.core.reconcile()
        if any(self.reconciled.values()):
            log.warning("venue disagrees with the session", venue=self.name, **self.reconciled)
        if self.clock is None:
            self.clock = asyncio.get_running_loop().create_task(self._run_clock())
        if self.venue.kind == "fix" and self.fix is None:
            from adapters.fix.inbound import acknowledges_only
            from adapters.fix.session import FixSession
            from keystore.vault import resolver

            def may_wait(raw: str) -> bool:
                """An acknowledgement rides in the next record: the fill that follows it need
                not wait for a commit of its own. Lost in a crash, the venue sends it again —
                once one of its messages is journaled, as a restart asks again for those after
                the last one journaled (``FixSession.start``); the first is committed at once."""
                return self.adapter.last_in_seq > 0 and acknowledges_only(raw)

            self.fix = FixSession(
                self.venue.name,
                Path(self.venue.session_config),
                Path(self.config.server.data_dir) / self.name / "fix",
                on_message=lambda raw: self.submit_local([VenueWireIn(raw)], lazy=may_wait(raw)),
                on_logon=lambda: self.submit_local([VenueSetSession(SessionState.OPEN.value)]),
                on_logout=lambda: self.submit_local([VenueSetSession(SessionState.CLOSED.value)]),
                rate_limit_per_s=self.venue.rate_limit_per_s,
                listen_host=self.config.server.host,
                # lazy: it rides in the next record instead of costing the order a commit of its
                # own; lost in a crash, it is read back from quickfix's store (_recover_sends)
                on_sent=lambda seq, msg_type, cl_ord_id: self.submit_local([VenueWireSent(seq, msg_type, cl_ord_id)], lazy=True),
                # the session file's credentials, a vault:NAME reference opened here, at each logon,
                # and nowhere else: the supervisor and the config carry the reference only
                resolve=resolver(self.config.secrets),
            )
            await self._recover_sends()
            self.fix.start(self.adapter.last_in_seq)
            self.on_applied()

    async def _recover_sends(self) -> None:
        """Before the session connects: record the messages quickfix's store holds that the
        journal does not (sent in the instant before a crash), and settle those made before
        the restart that never reached quickfix (a crash between the record and the send)."""
        adapter = self.adapter
        found = [VenueWireSent(*sent) for sent in self.fix.sent_since(adapter.last_out_seq)]
        unsent = adapter.never_sent(found)
        if unsent:
            log.warning("never sent before the restart: settled here", venue=self.name, cl_ord_ids=unsent)
        if found or unsent:
            self.submit_local([VenueRecovered(found, unsent)])
            await self.settle()

    def on_applied(self) -> None:
        if self.fix is not None:
            for raw in self.adapter.take_outgoing():
                self.fix.send(raw)

    async def set_session(self, state: str) -> None:
        SessionState(state)  # a bad state fails here, not in the journal
        self.submit_local([VenueSetSession(state)])
        await self.settle()

    async def _run_clock(self) -> None:
        while True:
            wakeup = self.core.next_wakeup()
            if wakeup is None:  # nothing scheduled: look again soon (an order may schedule)
                await asyncio.sleep(0.05)
                continue
            await asyncio.sleep(max(0.0, (wakeup - time.time_ns()) / 1e9))
            self.submit_local([VenueTick()])
            # Until the tick is applied the adapter still names the same (now past) wakeup:
            # looking again sooner journaled a fresh tick per loop turn, tens of thousands a second.
            await self.local_inputs_applied()

    async def close(self) -> None:
        if self.clock is not None:
            self.clock.cancel()
            self.clock = None
        await super().close()

    async def status(self) -> dict[str, Any]:
        status = await super().status()
        status["open_children"] = len(self.core.child_symbols)
        status["session"] = self.adapter.session.value
        if self.fix is not None:
            status["fix"] = self.fix.status()
            status["anomalies_recent"] = self.adapter.anomalies[-5:]
        status["reconciled"] = self.reconciled
        return status
