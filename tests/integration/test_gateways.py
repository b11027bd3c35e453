"""Two gateways on one port (SO_REUSEPORT): a trader on each receives the executions of
their own accounts only, each gateway receives only the reports of the accounts its
sessions follow, and a signed login replayed on the other gateway is refused.
(docs/scale.md, "Several gateways".)"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
import pytest_asyncio
import ray
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect

from model import fixed
from model.accounts_file import AccountSeed
from model.config import User
from server.app import BrokerServer
from server.client.frames import login_message
from server.client.sdk import BrokerClient
from tests.conftest import make_setup
from tests.integration.helpers import cloid, final_report

pytestmark = pytest.mark.asyncio(loop_scope="session")

GATEWAYS = ["gateway-0", "gateway-1"]
OTHER = {"gateway-0": "gateway-1", "gateway-1": "gateway-0"}
SECOND = User(key="second", secret="second-secret", role="trader", accounts=["S01", "S02"])
ATTEMPTS = 40  # connections tried to land on a given gateway (the kernel picks, by the source port's hash)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server(ray_cluster: None) -> AsyncIterator[BrokerServer]:
    setup = make_setup(f"t-{uuid.uuid4().hex[:8]}", quote_interval_ms=25)
    accounts = [AccountSeed(account, SECOND.key, 1_000_000 * fixed.SCALE) for account in SECOND.accounts]
    config = msgspec.structs.replace(setup.config, gateway=msgspec.structs.replace(setup.config.gateway, count=2))
    setup = msgspec.structs.replace(setup, config=config, users=[*setup.users, SECOND], accounts=[*setup.accounts, *accounts])
    broker = BrokerServer(setup, "127.0.0.1", 0)
    await broker.start()
    yield broker
    await broker.stop()


async def gateway_status(server: BrokerServer, name: str) -> dict[str, Any]:
    handle = ray.get_actor(name, namespace=server.setup.config.topology.namespace)
    status: dict[str, Any] = await handle.status.remote()
    return status


async def client_on(server: BrokerServer, key: str, secret: str, gateway: str) -> BrokerClient:
    """A logged-in client whose connection the kernel gave to ``gateway``."""
    for _ in range(ATTEMPTS):
        client = await BrokerClient.connect(server.url, key, secret)
        if client.gateway == gateway:
            return client
        await client.close()
    raise AssertionError(f"no connection of {ATTEMPTS} landed on {gateway}")


async def raw_on(server: BrokerServer, gateway: str) -> ClientConnection:
    """A connection, not logged in, that landed on ``gateway`` (seen in its status)."""
    for _ in range(ATTEMPTS):
        before = (await gateway_status(server, gateway))["connections"]
        socket = await ws_connect(server.url, compression=None)
        for _ in range(50):  # the gateway counts it once its handler runs
            now = (await gateway_status(server, gateway))["connections"]
            if now != before:
                break
            await asyncio.sleep(0.02)
        if now == before + 1:
            return socket
        await socket.close()
    raise AssertionError(f"no connection of {ATTEMPTS} landed on {gateway}")


async def test_both_gateways_listen_on_the_one_port(server: BrokerServer) -> None:
    statuses = [await gateway_status(server, name) for name in GATEWAYS]
    assert [status["name"] for status in statuses] == GATEWAYS
    assert [status["port"] for status in statuses] == [server.ws_port, server.ws_port]


async def test_without_a_shared_port_each_gateway_listens_on_its_own(ray_cluster: None) -> None:
    setup = make_setup(f"t-{uuid.uuid4().hex[:8]}", quote_interval_ms=25)
    config = msgspec.structs.replace(setup.config, gateway=msgspec.structs.replace(setup.config.gateway, count=2, shared_port=False))
    broker = BrokerServer(msgspec.structs.replace(setup, config=config), "127.0.0.1", 0)
    await broker.start()
    try:
        ports = {name: (await gateway_status(broker, name))["port"] for name in GATEWAYS}
        assert ports["gateway-0"] == broker.ws_port != ports["gateway-1"]
        for name, port in ports.items():
            client = await BrokerClient.connect(f"ws://127.0.0.1:{port}", "tester", "tester-secret")
            assert client.gateway == name
            await client.close()
    finally:
        await broker.stop()


async def test_a_trader_on_each_gateway_receives_their_own_executions_only(server: BrokerServer) -> None:
    first = await client_on(server, "tester", "tester-secret", "gateway-0")
    second = await client_on(server, SECOND.key, SECOND.secret, "gateway-1")
    try:
        received = {name: (await gateway_status(server, name))["executions_received"] for name in GATEWAYS}
        orders = {first: [("T01", cloid()), ("T02", cloid())], second: [("S01", cloid()), ("S02", cloid())]}
        for client, placed in orders.items():
            for account, order_id in placed:
                assert (await client.new_order(account, order_id, "IBM", "buy", qty="3", timeout=20))["type"] == "execution"
        for client, placed in orders.items():
            for _, order_id in placed:
                assert (await final_report(client, order_id))["status"] == "filled"
        await asyncio.sleep(0.3)  # anything misrouted would have arrived by now
        for client, placed in orders.items():
            own = {account for account, _ in placed}
            seen = [m for m in client.history if m.get("type") == "execution"]
            assert {m["account"] for m in seen} <= own, "a trader saw another gateway's trader's executions"
        for name, client in (("gateway-0", first), ("gateway-1", second)):
            grown = (await gateway_status(server, name))["executions_received"] - received[name]
            own = [m for m in client.history if m.get("type") == "execution"]
            assert grown == len(own), f"{name} received {grown} reports, its trader {len(own)}: the other's were sent to it"
    finally:
        await first.close()
        await second.close()


async def test_a_login_replayed_on_the_other_gateway_is_refused(server: BrokerServer) -> None:
    frame = json.dumps({**login_message(SECOND.key, SECOND.secret), "id": 1})
    async with ws_connect(server.url, compression=None) as socket:
        await socket.send(frame)
        answer = json.loads(await socket.recv())
        assert answer["ok"] is True
        other = OTHER[answer["gateway"]]
        replay = await raw_on(server, other)
        try:
            await replay.send(frame)
            refusal = json.loads(await replay.recv())
        finally:
            await replay.close()
    assert refusal["type"] == "error" and refusal["code"] == "not_authenticated"
    assert "nonce already used" in refusal["message"]
