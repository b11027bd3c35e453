"""An account shard's marks: each symbol's latest consolidated quote, soft until used.

Quotes reach every account shard, many times a second per symbol, and each one journaled
on arrival cost every shard a commit of its own (one ``fdatasync`` or two) while it decides
nothing by itself: a shard reads its marks only when another input — an order, a replace,
a fill, a query — is applied. So a mark is not journaled on arrival:

* the InstrumentActors send marks in *soft* batches (``seq`` 0: not sequenced, acked, kept
  or resent; ``actors/runtime/inbox.py``), apart from the journaled stream;
* the shard keeps the latest mark per symbol here, outside its core, and asks for no
  commit;
* whenever a record is made of other inputs, the marks that came since the last record
  go at its head, as one local batch of ``MarketUpdate`` (``GroupCommit.prefix``), and are
  applied before those inputs. So every decision that reads a mark reads one from its own
  record or an earlier one: replay makes it again exactly (``admin check``), and the live
  core never holds a mark its journal does not;
* a crash loses the marks not journaled yet. They are the InstrumentActors' to give
  again: a starting shard, once wired and before the supervisor tells anyone where it
  listens (so before any order or fill can reach it), asks every InstrumentActor for its
  current marks (``fetch_marks``); an InstrumentActor also sends them all whenever its
  link to a shard opens. The next decision therefore prices at the same marks as a shard
  that never stopped.

Guarantees: no mark ever causes a commit; each record carries the latest mark per symbol
that arrived before it was made; a restarted shard has every InstrumentActor's current
marks before it takes an input — or, when one does not answer within
``[journal] marks_timeout_ms``, that one's marks as its journal holds them until its
link opens (logged).
"""

from __future__ import annotations

import asyncio
from typing import Any

import structlog

from actors.runtime.host import DurableHost
from actors.runtime.outputs import ALL, INSTRUMENT
from model.config import Config
from model.messages import Batch, MarketUpdate, Message, decode_batch

log = structlog.get_logger("accounts")


class MarksHost(DurableHost):
    """A durable host that keeps its marks soft (see the module's docstring)."""

    def __init__(self, name: str, config: Config) -> None:
        self.marks: dict[str, MarketUpdate] = {}  # the latest per symbol since the last record
        self.marks_received = 0
        super().__init__(name, config)

    def receive_soft(self, batch: Batch) -> None:
        """Keep the marks an InstrumentActor sent, the latest per symbol; anything else sent
        soft, or by another actor (a gateway's batches must never set prices), is ignored
        and logged."""
        if batch.sender not in self.router.resolve(INSTRUMENT, ALL):
            log.warning("soft batch ignored", actor=self.name, sender=batch.sender, reason="not an InstrumentActor")
            return
        marks = self.marks
        for message in batch.messages:
            if type(message) is MarketUpdate:
                marks[message.symbol] = message
                self.marks_received += 1
            else:  # nothing else travels soft: a sender of another version
                log.warning("soft message ignored", actor=self.name, sender=batch.sender, message=type(message).__name__)

    def soft_inputs(self) -> list[Message]:
        if not self.marks:
            return []
        marks: list[Message] = list(self.marks.values())
        self.marks = {}
        return marks

    async def wire(self, handles: dict[str, Any], addresses: dict[str, tuple[str, int]]) -> None:
        await super().wire(handles, addresses)
        await self.fetch_marks()

    async def fetch_marks(self) -> None:
        """Every InstrumentActor's current marks, each waited for at most
        ``[journal] marks_timeout_ms``. The supervisor wires a (re)started shard before it
        tells anyone its address, so nothing else can reach it meanwhile."""
        timeout_s = self.config.journal.marks_timeout_ms / 1000
        names = [name for name in self.router.resolve(INSTRUMENT, ALL) if name in self.handles]

        async def fetch(name: str) -> None:
            try:
                data = await asyncio.wait_for(self.handles[name].current_marks.remote(), timeout_s)
            except Exception as error:  # dead, restarting or slow: its link brings them when it opens
                log.warning("marks not fetched; the journal's until its link opens", actor=self.name, instrument=name, error=repr(error))
                return
            self.receive_soft(decode_batch(data))

        await asyncio.gather(*(fetch(name) for name in names))

    async def status(self) -> dict[str, Any]:
        status = await super().status()
        status["marks_received"] = self.marks_received
        return status
