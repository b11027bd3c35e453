"""The Gateway's Ray shell without a cluster: its class run in this process, serving a real
WebSocket on loopback. Its sender name per incarnation, accounts given before it is wired,
commands kept for the shards until they ack, events acked once handed to connections."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from websockets.asyncio.client import connect

from actors.runtime.outputs import ACCOUNT, ALL
from model import fixed
from model.enums import ExecType, OrderStatus, OrderType, Side, TimeInForce
from model.messages import Batch, ExecutionReport, GatewayServes, NewOrder, decode_batch, encode_batch
from model.orders import OrderSpec
from server.gateway.actor import GatewayActor
from server.gateway.auth import signature
from tests.conftest import demo_setup

SETUP = demo_setup()
Shell = GatewayActor.__ray_actor_class__  # type: ignore[attr-defined]  # the class Ray would host, called here directly


class Acks:
    def __init__(self) -> None:
        self.acked: list[int] = []

    def ack(self, seq: int) -> None:
        self.acked.append(seq)


def login(key: str, nonce: str = "n1") -> str:
    ts = int(time.time() * 1000)
    return json.dumps({"op": "login", "id": 1, "key": key, "ts": ts, "nonce": nonce, "sig": signature(f"{key}-secret", ts, nonce)})


@contextlib.asynccontextmanager
async def logged_in(port: int, key: str) -> AsyncIterator[Any]:
    """A WebSocket to the gateway on ``port``, logged in as ``key`` (its reply read)."""
    async with connect(f"ws://127.0.0.1:{port}") as socket:
        await socket.send(login(key))
        await socket.recv()
        yield socket


async def started() -> tuple[Any, int]:
    actor = Shell("gateway-0", SETUP)
    actor.wired()
    return actor, await actor.start("127.0.0.1", 0)


def test_each_incarnation_sends_under_a_name_of_its_own() -> None:
    first, second = Shell("gateway-0", SETUP), Shell("gateway-0", SETUP)
    assert first.sender.startswith("gateway-0~") and first.sender != second.sender
    assert first.sender == f"gateway-0~{first.incarnation}"


async def test_before_it_is_wired_its_status_is_its_name_and_accounts_wait_for_the_gateway() -> None:
    actor = Shell("gateway-0", SETUP)
    assert {key: value for key, value in (await actor.status()).items() if key in ("name", "unacked_batches")} == {"name": "gateway-0", "unacked_batches": 0}
    await actor.add_accounts([("C9", "ADV1", "default")])
    actor.wired()
    assert actor.gateway is not None and actor.gateway.admin is None  # no supervisor handle: no admin service
    port = await actor.start("127.0.0.1", 0)
    async with connect(f"ws://127.0.0.1:{port}") as socket:
        await socket.send(login("advisor1"))
        assert "C9" in json.loads(await socket.recv())["accounts"]
    await actor.stop()


async def test_an_order_is_kept_for_its_shard_until_acked_and_an_admin_request_has_no_service() -> None:
    actor, port = await started()
    async with logged_in(port, "trader1") as socket:
        await socket.send(json.dumps({"op": "new_order", "id": 2, "account": "A1", "client_order_id": "c1", "symbol": "IBM",
                                      "side": "buy", "type": "limit", "qty": "1", "price": "149.00"}))  # fmt: skip
    async with logged_in(port, "admin") as operator:
        await operator.send(json.dumps({"op": "admin", "id": 3, "command": "status"}))
        refused = json.loads(await asyncio.wait_for(operator.recv(), 5))
    assert (refused["id"], refused["code"], refused["message"]) == (3, "invalid_request", "this gateway has no admin service"), refused
    await actor.flush()
    # no link: nothing acked, the batches stay for a resend — the order's, to its shard, and the
    # announcements of who follows what (the reset at start, the login's accounts, the close's)
    sent = {shard: [m for _, data in queue for m in decode_batch(data).messages] for shard, queue in actor.outbox.unacked.items()}
    orders = [m for m in sent[actor.outbox.router.account("A1")] if isinstance(m, NewOrder)]
    assert [order.client_order_id for order in orders] == ["c1"]
    assert all(isinstance(m, (NewOrder, GatewayServes)) for messages in sent.values() for m in messages)
    # wired, the gateway first told every shard to forget what an earlier process of it said
    shards = actor.outbox.router.resolve(ACCOUNT, ALL)
    assert {shard: sent[shard][0] for shard in shards} == {shard: GatewayServes("gateway-0", reset=True) for shard in shards}
    assert (await actor.status())["unacked_batches"] == sum(len(queue) for queue in actor.outbox.unacked.values())
    await actor.stop()


async def test_an_event_is_handed_to_its_followers_and_acked_once_at_the_end_of_the_turn() -> None:
    actor, port = await started()
    async with logged_in(port, "trader1") as socket:
        channel = Acks()
        actor.receive(encode_batch(Batch("account-0", 1, 0, [fill("old")])), channel)  # made before this gateway started
        await asyncio.sleep(0)
        assert channel.acked == [1]  # acked, and dropped: a resend after a restart
        now = time.time_ns()
        actor.receive(encode_batch(Batch("account-0", 2, now, [fill("account-0-1-2")])), channel)
        actor.receive(encode_batch(Batch("account-0", 3, now, [])), channel)
        assert channel.acked == [1]  # not yet: at the end of this turn, once for both
        await asyncio.sleep(0)
        assert channel.acked == [1, 3]
        execution = json.loads(await asyncio.wait_for(socket.recv(), 5))
    assert (execution["type"], execution["exec_id"], execution["status"]) == ("execution", "account-0-1-2", "filled")
    await actor.stop()


def fill(exec_id: str) -> ExecutionReport:
    spec = OrderSpec("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, fixed.parse("1"), None, fixed.parse("149"), None)
    return ExecutionReport("A1", "account-0-1", "c1", exec_id, ExecType.TRADE, OrderStatus.FILLED, spec,
                           fixed.parse("1"), 0, fixed.parse("1"), fixed.parse("149"), fixed.parse("149"), None, 17)  # fmt: skip
