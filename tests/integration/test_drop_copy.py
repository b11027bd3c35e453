"""The clearing firm's FIX drop copy: a quickfix initiator logs on to brokerd's acceptor as
CLEARING and receives an ExecutionReport for every fill of every account."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
import pytest_asyncio
import quickfix as fix

from model.config import DropCopySection
from server.app import BrokerServer
from tests.conftest import ROOT, make_setup
from tests.integration.fixtools import SessionApp, free_port, listening_addresses, non_loopback_address, session_config
from tests.integration.helpers import cloid, connect, final_report

pytestmark = pytest.mark.asyncio(loop_scope="session")
PASSWORD = "clearing-demo-password"


class Clearing(SessionApp):
    def __init__(self, password: str) -> None:
        super().__init__(password)
        self.reports: list[dict[int, str]] = []
        self.raw: list[list[tuple[int, str]]] = []  # every field in order (repeating groups too)

    def fromApp(self, message: fix.Message, sessionID: object) -> None:
        pairs = [(int(tag), value) for tag, _, value in (part.partition("=") for part in message.toString().split("\x01") if part)]
        self.reports.append(dict(pairs))
        self.raw.append(pairs)


KEEP: list[object] = []  # quickfix holds raw pointers to the factories: never let Python free them


def clearing_client(directory: Path, port: int, password: str) -> tuple[Clearing, fix.SocketInitiator]:
    config = session_config(
        directory, "clearing.cfg", "CLEARING", "BROKERD",
        "ConnectionType=initiator", "ReconnectInterval=1", "StartTime=00:00:00", "EndTime=00:00:00",
        "SocketConnectHost=127.0.0.1", f"SocketConnectPort={port}",
    )  # fmt: skip
    settings = fix.SessionSettings(str(config))
    app = Clearing(password)
    store, logs = fix.FileStoreFactory(settings), fix.FileLogFactory(settings)
    initiator = fix.SocketInitiator(app, store, settings, logs)
    KEEP.extend((app, settings, store, logs, initiator))
    initiator.start()
    return app, initiator


@pytest.fixture(scope="module")
def fix_port() -> int:
    return free_port()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def dc_server(ray_cluster: None, fix_port: int) -> AsyncIterator[BrokerServer]:
    setup = make_setup(f"dc-{uuid.uuid4().hex[:6]}", quote_interval_ms=25)
    config = setup.config
    config = msgspec.structs.replace(
        config,
        server=msgspec.structs.replace(config.server, fix_port=fix_port),
        drop_copy=DropCopySection(enabled=True, session_config=str(ROOT / "conf" / "fix" / "dropcopy.cfg")),
    )
    broker = BrokerServer(msgspec.structs.replace(setup, config=config), "127.0.0.1", 0)
    await broker.start()
    yield broker
    await broker.stop()


@pytest.fixture(scope="module")
def clearing(dc_server: BrokerServer, fix_port: int, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clearing]:
    app, initiator = clearing_client(tmp_path_factory.mktemp("clearing"), fix_port, PASSWORD)
    try:
        assert app.logged_on.wait(15), "clearing did not log on"
        yield app
    finally:
        initiator.stop()


async def test_every_fill_reaches_clearing_with_its_exec_id(dc_server: BrokerServer, clearing: Clearing) -> None:
    async with connect(dc_server.url) as client:
        ids = []
        for account, qty in (("T01", "0.7"), ("T02", "3"), ("T03", "1.25")):
            ack = await client.request({"op": "new_order", "account": account, "client_order_id": cloid("dc"), "symbol": "IBM",
                                        "side": "buy", "type": "market", "qty": qty})
            ids.append(ack["client_order_id"])
        for client_order_id in ids:
            await final_report(client, client_order_id)
        fills = [m for m in client.history if m.get("exec_type") == "trade" and m.get("client_order_id") in ids]
    for _ in range(100):
        copied = {r.get(17): r for r in clearing.reports if r.get(150) == "F"}
        if all(fill["exec_id"] in copied for fill in fills):
            break
        await asyncio.sleep(0.05)
    for fill in fills:
        copy = copied[fill["exec_id"]]
        assert copy[1] == fill["account"] and copy[55] == "IBM" and copy[54] == "1"
        assert Decimal(copy[32]) == Decimal(fill["last_qty"]) and Decimal(copy[31]) == Decimal(fill["last_price"])


async def test_the_drop_copy_listens_on_the_servers_host_only(dc_server: BrokerServer, clearing: Clearing, fix_port: int) -> None:
    """The clearing firm logged on through it (the fixture); nothing else of it listens."""
    assert listening_addresses(fix_port) == {"127.0.0.1"}
    status = await dc_server.supervisor.admin.remote("status", [])
    drop_copy = next(actor for actor in status["actors"] if actor["name"] == "drop-copy")
    assert drop_copy["fix"]["listening"] == f"127.0.0.1:{fix_port}"
    other = non_loopback_address()
    if other is not None:  # a machine with only loopback has nothing else to try
        with pytest.raises(OSError):
            socket.create_connection((other, fix_port), timeout=2).close()


async def test_a_clearing_logon_with_a_bad_password_is_refused(dc_server: BrokerServer, fix_port: int, tmp_path: Path) -> None:
    app, initiator = clearing_client(tmp_path / "bad", fix_port, "wrong-password")
    try:
        await asyncio.sleep(2)
        assert not app.logged_on.is_set()
    finally:
        initiator.stop()


async def test_each_block_allocated_at_the_open_reaches_clearing_as_an_allocation_instruction(dc_server: BrokerServer, clearing: Clearing) -> None:
    asked = {"T04": "0.3", "T05": "1.3", "T06": "2.25", "T07": "0.5"}
    async with connect(dc_server.url) as client, connect(dc_server.url, "admin", "admin-secret") as ops:
        bought = await client.request({"op": "new_order", "account": "T07", "client_order_id": cloid("pos"), "symbol": "AAPL",
                                       "side": "buy", "type": "market", "qty": "1"})
        await final_report(client, bought["client_order_id"])  # T07 sells at the open what it holds
        ids = {}
        for account, qty in asked.items():
            ack = await client.request({"op": "new_order", "account": account, "client_order_id": cloid("opg"), "symbol": "AAPL",
                                        "side": "sell" if account == "T07" else "buy", "type": "market", "qty": qty, "tif": "opg"})
            assert ack["exec_type"] == "new", ack
            ids[account] = ack["client_order_id"]
        opened = await ops.request({"op": "admin", "command": "open", "args": ["AAPL"]})
        assert opened["ok"], opened
        for client_order_id in ids.values():
            await final_report(client, client_order_id)
        blocks = (await ops.request({"op": "admin", "command": "blocks", "args": []}))["result"]["blocks"]
    [block] = [b for b in blocks if b["symbol"] == "AAPL"]
    for _ in range(100):
        instructions = [pairs for pairs in clearing.raw if (35, "J") in pairs]
        if len(instructions) >= 2:
            break
        await asyncio.sleep(0.05)
    by_id = {dict(pairs)[70]: pairs for pairs in instructions}
    buys = by_id[block["block_id"]]
    allocated = [(value, dict(buys[index + 1 : index + 2]).get(80)) for index, (tag, value) in enumerate(buys) if tag == 79]
    assert {account for account, _ in allocated} == {"T04", "T05", "T06"}
    assert sum(Decimal(qty or "0") for _, qty in allocated) == Decimal(dict(buys)[53]) == Decimal("3.85")
    assert Decimal(dict(buys)[6]) == Decimal(block["price"]) and dict(buys)[54] == "1"
    crossed = by_id[f"{block['block_id']}-X"]
    assert [value for tag, value in crossed if tag == 79] == ["T07"] and Decimal(dict(crossed)[53]) == Decimal("0.5")
