"""The thin Ray shell every stateful actor shares: receive a batch, apply it to the pure
core in order, post the core's outputs to the outboxes. No ``ray.get`` on this path."""

from __future__ import annotations

import time
from typing import Any, Protocol

import structlog

from actors.hop import Inbox, Outbox, Router
from actors.link import Links, LinkServer, link_host
from actors.logs import configure
from actors.outputs import Outputs
from model.config import Config
from model.messages import Message, decode_batch

log = structlog.get_logger("runtime")


class Core(Protocol):
    out: Outputs

    def apply(self, message: Message, now: int) -> None: ...

    def state_hash(self) -> str: ...

    def check_invariants(self) -> None: ...


class LinkedHost:
    """What every actor on the data plane shares: it listens for batches on a link, and once
    wired sends through a batched ``Outbox`` over links. Subclasses say what ``receive`` does."""

    def __init__(self, name: str, config: Config, gateways: int = 1) -> None:
        self.name = name
        self.config = config
        configure(config.logging.level)
        self.router = Router(config, gateways)
        self.handles: dict[str, Any] = {}
        self.outbox: Outbox | None = None

    async def open_link(self) -> tuple[str, int]:
        """Listen for batches from other actors; returns the address to give them."""
        self.link_server = LinkServer(self.receive)
        return await self.link_server.start(link_host(self.config))

    async def wire(self, handles: dict[str, Any], addresses: dict[str, tuple[str, int]]) -> None:
        """Receive the topology (Ray handles for control, link addresses for batches); only
        then may the actor send."""
        self.handles = handles
        self.links = Links(addresses)
        self.outbox = Outbox(self.name, self.router, self.config.batching, self.links.send)
        self.wired()

    def wired(self) -> None:
        """Called once the outbox exists."""

    async def on_batch(self, data: bytes) -> None:
        """A batch sent as a Ray call (the supervisor's control messages)."""
        self.receive(data)

    def receive(self, data: bytes) -> None:
        raise NotImplementedError

    async def flush(self) -> None:
        if self.outbox is not None:
            self.outbox.flush()


class CoreHost(LinkedHost):
    """Hosts one pure core. Subclasses (the ``actor.py`` files) build ``self.core``."""

    core: Core

    def __init__(self, name: str, config: Config, gateways: int = 1) -> None:
        super().__init__(name, config, gateways)
        self.inbox = Inbox()
        self.errors = 0
        self.messages_applied = 0

    def receive(self, data: bytes) -> None:
        """Apply a batch from another actor. In order per sender, each batch once."""
        now = time.time_ns()
        for batch in self.inbox.accept(decode_batch(data), now):
            for message in batch.messages:
                self._apply(message, now)
        self._post()

    def _apply(self, message: Message, now: int) -> None:
        try:
            self.core.apply(message, now)
            self.messages_applied += 1
        except Exception:
            self.errors += 1
            log.exception("message failed", actor=self.name, message=type(message).__name__)

    def _post(self) -> None:
        sends = self.core.out.drain()
        if sends:
            assert self.outbox is not None, f"{self.name} sent before it was wired"
            self.outbox.post(sends)

    async def state_hash(self) -> str:
        return self.core.state_hash()

    async def check_invariants(self) -> None:
        self.core.check_invariants()

    async def status(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "applied": self.messages_applied,
            "errors": self.errors,
            "held_batches": self.inbox.waiting(),
            "batches_sent": self.outbox.batches_sent if self.outbox else 0,
            "messages_waiting": self.outbox.waiting() if self.outbox else 0,
            "anomalies": len(getattr(self.core, "anomalies", [])),
            **self.inbox.delay_percentiles(),
        }
