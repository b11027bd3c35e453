"""The DropCopy Ray actor: the clearing firm's FIX session (an acceptor on ``--fix-port``)
and the journal of every fill it must get.

Fills arrive from the account shards as batches like any input and are journaled before
they are copied. After a restart the copies rebuilt by replay are sent again with
PossResend(97)=Y: the clearing firm keeps the first of each ExecID, so nothing is missed
(a copy made just before a crash, never handed to the session) and nothing is booked
twice."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import quickfix as fix
import ray
import structlog

from actors.runtime.host import FixSessionHost
from actors.runtime.machine import Core
from actors.runtime.outputs import DROP_COPY
from actors.runtime.roles import build_core
from actors.supervisor.core import ActorPlan
from adapters.fix.dictionary import outgoing
from model.config import Config

log = structlog.get_logger("dropcopy")


@ray.remote
class DropCopyActor(FixSessionHost):
    def __init__(self, name: str, config: Config) -> None:
        super().__init__(name, config)
        self.recover(config.server.data_dir)
        self.resend = [_possible_resend(raw) for raw in self.core.take_outgoing()]

    def make_core(self) -> Core:
        return build_core(ActorPlan(self.name, DROP_COPY), self.config)

    async def start(self) -> None:
        from adapters.fix.session import FixSession
        from keystore.vault import resolver

        if self.fix is not None:
            return
        self.fix = FixSession(
            "clearing",
            Path(self.config.drop_copy.session_config),
            Path(self.config.server.data_dir) / self.name / "fix",
            on_message=lambda raw: log.info("message from clearing ignored", raw=raw[:120]),
            on_logon=lambda: log.info("clearing logged on"),
            on_logout=lambda: log.info("clearing logged out"),
            accept_port=self.config.server.fix_port,
            listen_host=self.config.drop_copy.listen_host(self.config.server),
            resolve=resolver(self.config.secrets),  # a vault:NAME Password, opened at each logon
        )
        self.fix.start(0)
        for raw in self.resend:
            self.fix.send(raw)
        self.resend = []
        self.on_applied()

    def on_applied(self) -> None:
        if self.fix is not None:
            for raw in self.core.take_outgoing():
                self.fix.send(raw)

    async def status(self) -> dict[str, Any]:
        status = await super().status()
        status["fills_copied"] = self.core.fills
        status["allocations_copied"] = self.core.allocations
        if self.fix is not None:
            status["fix"] = self.fix.status()
        return status


def _possible_resend(raw: str) -> str:
    message = outgoing(raw)
    message.getHeader().setField(fix.PossResend(True))
    return str(message.toString())
