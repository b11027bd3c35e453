"""The links between actors against a running server: a local process that finds an account
shard's link port cannot inject a batch, and garbage on the port harms nothing."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from pathlib import Path

import msgspec
import pytest
import ray

from actors.runtime.frames import CHALLENGE, HELLO, NONCE_BYTES, frame
from actors.runtime.router import Router
from model import fixed
from model.enums import OrderType, Side, TimeInForce
from model.messages import Batch, NewOrder, Reply, encode_batch
from model.orders import OrderSpec
from server.app import BrokerServer
from tests.integration.helpers import cloid, connect, final_report

pytestmark = pytest.mark.asyncio(loop_scope="session")

VICTIM = "B1"  # trader2's account


def forged_order(client_order_id: str) -> NewOrder:
    return NewOrder(
        VICTIM, client_order_id, OrderSpec("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, fixed.parse("1"), None, fixed.parse("150"), None),
        Reply("gateway-0", 1, b""),
    )


async def first_frame(reader: asyncio.StreamReader) -> tuple[int, bytes] | None:
    try:
        async with asyncio.timeout(10):
            head = await reader.readexactly(5)
            return head[4], await reader.readexactly(int.from_bytes(head[:4], "big") - 1)
    except asyncio.IncompleteReadError:
        return None


async def closed_by_server(reader: asyncio.StreamReader, challenged: bool = False) -> bool:
    """Whether the server closed the connection having sent nothing but its challenge (no
    welcome, no ack)."""
    async with asyncio.timeout(10):
        rest = await reader.read()  # until EOF
    if not challenged:
        if len(rest) < 5 + NONCE_BYTES or rest[4] != CHALLENGE:
            return False
        rest = rest[5 + NONCE_BYTES :]
    return rest == b""


def worker_log(pid: int) -> Path:
    logs = Path(ray._private.worker._global_node.get_logs_dir_path())  # the driver's own node: the tests' cluster
    (found,) = logs.glob(f"worker-*-{pid}.err")
    return found


async def test_a_forged_batch_on_a_shard_link_is_refused_logged_and_changes_nothing(server: BrokerServer) -> None:
    config = server.setup.config
    shard = Router(config).account(VICTIM)
    handle = ray.get_actor(shard, namespace=config.topology.namespace)
    host, port = await handle.link_address.remote()
    pid = (await handle.status.remote())["pid"]
    log = worker_log(pid)
    log_before = log.stat().st_size

    async with connect(server.url, "trader2", "trader2-secret") as trader2:
        account_before = await trader2.get_account(VICTIM)
        orders_before = await trader2.get_orders(VICTIM)
        forged = cloid("forged")
        batch = encode_batch(Batch("gateway-0~1", 1, 0, [forged_order(forged)]))

        # the old attack: a hello naming a real sender, then the batch
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(frame(HELLO, msgspec.msgpack.encode([shard, "gateway-0~1"])) + frame(0x42, batch))
        assert await closed_by_server(reader)
        writer.close()

        # the same, answering the challenge with a MAC made without the secret
        reader, writer = await asyncio.open_connection(host, port)
        challenge = await first_frame(reader)
        assert challenge is not None and challenge[0] == CHALLENGE and len(challenge[1]) == NONCE_BYTES
        hello = msgspec.msgpack.encode([shard, "supervisor", secrets.token_bytes(NONCE_BYTES), secrets.token_bytes(32)])
        writer.write(frame(HELLO, hello) + frame(0x42, batch))
        assert await closed_by_server(reader, challenged=True)
        writer.close()

        # garbage
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + os.urandom(4096))
        assert await closed_by_server(reader)
        writer.close()

        await asyncio.sleep(0.5)  # had anything been accepted, it would be journaled and applied by now
        account_after = await trader2.get_account(VICTIM)
        assert {**account_after, "id": None} == {**account_before, "id": None}  # cash, buying power, positions
        orders_after = await trader2.get_orders(VICTIM)
        assert orders_after["orders"] == orders_before["orders"]
        assert not any(o["client_order_id"] == forged for o in orders_after["orders"])
        assert not any(m.get("client_order_id") == forged for m in trader2.history)

        # the server goes on serving, the shard included
        order_id = cloid("after")
        await trader2.new_order(VICTIM, order_id, "IBM", "buy", type="market", qty="0.01")
        assert (await final_report(trader2, order_id))["status"] == "filled"

    written = log.read_bytes()[log_before:].decode()
    refusals = [json.loads(line) for line in written.splitlines() if '"link refused"' in line]
    assert len(refusals) == 3, written
    assert {(r["actor"], r["level"]) for r in refusals} == {(shard, "warning")}
    assert [r["reason"] for r in refusals] == ["malformed hello", "bad MAC", refusals[2]["reason"]]
    assert refusals[2]["reason"].startswith("frame length")
    assert "Traceback" not in written
    assert (await handle.status.remote())["errors"] == 0

