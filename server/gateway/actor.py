"""The Gateway Ray actor: the WebSocket server runs on this actor's event loop (uvloop,
which Ray uses for async actors when it is installed).

A gateway holds soft state only. Its batches carry ``gateway-N~<incarnation>`` as sender,
so a restarted gateway starts a fresh sequence that the shards do not mistake for
repeats; what it sent and the shard has not acked is written again whenever the link
reopens (a restarted shard gets every unacked order). Events it receives are acked as
soon as they are handed to the connections."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import ray

from actors.runtime import stash
from actors.runtime.audit import AuditLog, open_audit
from actors.runtime.heap import give_back
from actors.runtime.host import Acker, LinkedHost
from actors.runtime.outbox import Outbox
from actors.runtime.router import gateway_actor
from keystore.apikeys import load_keys
from model.basket import decode_chunks
from model.config import Setup
from server.gateway.access import AccountEntry
from server.gateway.core import Gateway


@ray.remote
class GatewayActor(LinkedHost):
    """Serves traders on one port; events for them arrive as batches over its link."""

    def __init__(self, name: str, setup: Setup | stash.Ref) -> None:
        setup = stash.take(setup, Setup)
        super().__init__(name, setup.config)
        self.sender = f"{name}~{self.incarnation}"
        self.setup = setup
        self.outbox = Outbox(self.sender, self.router, setup.config.batching, self._deliver)
        self.gateway: Gateway | None = None
        self.to_ack: dict[str, tuple[Acker, int]] = {}
        self.ack_handle: asyncio.Handle | None = None
        self.pending_accounts: list[AccountEntry] = []
        self.audit: AuditLog | None = None  # its chain of logins (docs/audit.md), opened when wired
        self.listening_on: tuple[str, int] | None = None  # (host, port) once started

    def _deliver(self, name: str, data: bytes) -> None:
        if self.links is not None:
            self.links.send(name, data)

    def wired(self) -> None:
        if self.gateway is None:
            admin = self._admin if "supervisor" in self.handles else None
            self.audit = open_audit(self.name, self.config, self.config.server.data_dir)
            self.gateway = Gateway(self.name, self.setup, self.outbox, admin, since=self.incarnation, audit=self.audit)
            if len(self.outbox.router.gateways) > 1 and "supervisor" in self.handles:  # several gateways
                self.gateway.nonces = self._spend_nonce
            self.gateway.interest.reset()  # the shards forget what an earlier process of this one said
            if self.setup.config.web.enabled and self.name == gateway_actor(0) and "supervisor" in self.handles:
                supervisor = self.handles["supervisor"]
                self.gateway.serve_web(self._asker(supervisor.metrics_all), self._asker(supervisor.readiness))
            self.gateway.add_accounts(self.pending_accounts)

    def receive(self, data: bytes, channel: Acker) -> None:
        assert self.gateway is not None
        sender, seq = self.gateway.on_batch(data)
        self.to_ack[sender] = (channel, seq)
        if self.ack_handle is None:
            self.ack_handle = asyncio.get_running_loop().call_soon(self._ack)

    def _ack(self) -> None:
        self.ack_handle = None
        to_ack, self.to_ack = self.to_ack, {}
        for channel, seq in to_ack.values():
            channel.ack(seq)

    async def _admin(self, command: str, args: list[str], tenant: str | None, caller: tuple[str, str, str] | None = None) -> dict[str, Any]:
        """The command run by the supervisor. While Ray restarts it the call fails at once
        (it is never retried: a command caught by the death may or may not have run) with
        a reason for the operator instead of Ray's."""
        try:
            result: dict[str, Any] = await self.handles["supervisor"].admin.remote(command, args, tenant, caller)
        except ray.exceptions.RayActorError as error:
            raise RuntimeError(f"the supervisor is not answering ({type(error).__name__}: being restarted); "
                               "a command in flight may or may not have run: check, then try again") from None
        return result

    async def _spend_nonce(self, key: str, nonce: str) -> bool:
        fresh: bool = await self.handles["supervisor"].spend_nonce.remote(key, nonce)
        return fresh

    @staticmethod
    def _asker(method: Any) -> Any:
        async def ask() -> dict[str, Any]:
            answer: dict[str, Any] = await method.remote()
            return answer

        return ask

    async def web_port(self) -> int | None:
        """Where this gateway serves the web page and /metrics (None: it serves none)."""
        return None if self.gateway is None else self.gateway.web_port

    async def histograms(self) -> dict[str, Any]:
        hop = self.gateway.inbox.histogram if self.gateway is not None else None
        return {} if hop is None else {"hop": hop.view()}

    async def add_accounts(self, accounts: list[AccountEntry]) -> None:
        """Every account with its group and tenant (at start, and after ``admin accounts load``)."""
        if self.gateway is not None:
            self.gateway.add_accounts(accounts)
        else:
            self.pending_accounts = list(accounts)

    async def keys_changed(self) -> int:
        """The supervisor changed the API keys: load the store again (off the event loop: it
        decrypts every key) and close the connections of keys revoked or rotated; returns how
        many were closed. Raises when the store cannot be read (the command's answer says so)."""
        assert self.gateway is not None
        keys = await asyncio.to_thread(load_keys, self.setup.config)
        return self.gateway.replace_keys(keys)

    async def lockouts(self, lift: str | None = None) -> dict[str, Any]:
        """This gateway's login lockouts; ``lift``: first end that of this key or address."""
        assert self.gateway is not None
        return self.gateway.lockouts(lift)

    async def load_orders(self, chunks: bytes) -> dict[str, Any]:
        """The operator's basket, read and checked by the supervisor (``admin orders load``):
        ``chunks`` as ``model.basket.encode_chunks`` wrote them. Sent to the shards like
        an upload; returns the summary once every chunk is answered."""
        assert self.gateway is not None
        done: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.gateway.load_chunks(decode_chunks(chunks), done.set_result)
        del chunks  # each chunk has its own bytes now, freed as it is sent
        try:
            return await done
        finally:
            give_back()  # the load's chunks, garbage now (actors/runtime/heap.py)

    async def start(self, host: str, port: int) -> int:
        assert self.gateway is not None
        bound = await self.gateway.start(host, port)
        self.listening_on = (host, bound)
        return bound

    async def listening(self) -> tuple[str, int] | None:
        """The host and port this gateway serves on (None: not started): what a restarted
        supervisor starts the gateways it finds restarted with."""
        return self.listening_on

    async def stop(self) -> None:
        if self.gateway is not None:
            await self.gateway.stop()
        if self.audit is not None:  # after the last connection: every login recorded, synced, anchored
            self.audit.close()
            self.audit = None
            if self.gateway is not None:
                self.gateway.audit = self.gateway.access.audit = None

    async def flush(self) -> None:
        self.outbox.flush()

    async def status(self) -> dict[str, Any]:
        status: dict[str, Any] = self.gateway.status() if self.gateway else {"name": self.name}
        status["unacked_batches"] = self.outbox.unacked_batches()
        status["incarnation"] = self.incarnation
        status["pid"] = os.getpid()
        status.update(await self.where())
        return status
