"""kill -9 of an account shard in the middle of loading a basket: right after it entered a
chunk of orders (journaled, applied, none of its reports, routes or answer sent, nothing
acked). Ray restarts the shard, it replays its journal, the gateway writes again the chunks
it had not acked: every order is there exactly once, the load's answer counts each once,
and a whole-server restart afterwards finds the same books."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from server.client.sdk import BrokerClient
from tests.conftest import TEST_ACCOUNTS
from tests.integration.recovery import ServerProcess, admin, wait_restarted, write_conf_dir

pytestmark = pytest.mark.asyncio(loop_scope="session")

PER_ACCOUNT = 10
CRASH = "basket.before_send:3:account-1"  # the third record of account-1 that held a chunk


def basket() -> str:
    rows = ["account,client_order_id,symbol,side,qty,notional"]
    for account in TEST_ACCOUNTS:
        for index in range(PER_ACCOUNT):
            size = f"0.{index + 1:02d}," if index % 2 else f",{index + 10}.00"
            rows.append(f"{account},k-{index},{'IBM' if index % 3 else 'AAPL'},buy,{size}")
    return "\n".join(rows) + "\n"


async def books(url: str) -> dict[str, list[tuple[str, str, str]]]:
    """Every test account's orders: ``(client_order_id, order_id, status)``."""
    async with BrokerClient(url, "tester", "tester-secret") as client:
        replies = await asyncio.gather(*(client.get_orders(account, timeout=30) for account in TEST_ACCOUNTS))
    return {
        account: sorted((order["client_order_id"], order["order_id"], order["status"]) for order in reply["orders"])
        for account, reply in zip(TEST_ACCOUNTS, replies, strict=True)
    }


def assert_each_order_once(found: dict[str, list[tuple[str, str, str]]]) -> None:
    for account, orders in found.items():
        assert [cloid for cloid, _, _ in orders] == sorted(f"k-{i}" for i in range(PER_ACCOUNT)), (account, orders)
        assert {status for _, _, status in orders} == {"new"}, (account, orders)
    order_ids = [order_id for orders in found.values() for _, order_id, _ in orders]
    assert len(set(order_ids)) == len(order_ids)


async def test_a_shard_killed_mid_load_keeps_every_order_exactly_once(tmp_path: Path, ray_address: str) -> None:
    config = write_conf_dir(
        tmp_path / "conf",
        "[server]\nws_port = 0\n\n[basket]\nchunk_rows = 25\nchunks_in_flight = 2\n\n"
        "[journal]\nsnapshot_every_events = 200\nsnapshot_every_s = 0\nsnapshot_events_per_record = 0\n",
    )
    data = tmp_path / "data"
    (data / "imports").mkdir(parents=True)
    (data / "imports" / "basket.csv").write_text(basket())
    rows = len(TEST_ACCOUNTS) * PER_ACCOUNT
    server = ServerProcess(config, data, {"BROKERD_CRASH_AT": CRASH}, address=ray_address)
    url = server.start()
    try:
        loaded = await admin(url, "orders", "load", "basket.csv")
        assert loaded.get("type") == "admin", loaded
        result = loaded["result"]
        # the killed shard's answers for what it had entered come again from its journal: each chunk counted once
        assert (result["rows"], result["accepted"], result["already_loaded"], result["rejected"]) == (rows, rows, 0, 0), result
        await wait_restarted(url, "account-1")
        assert (data / "crashed-basket.before_send").exists()
        found = await books(url)
        assert_each_order_once(found)
        again = (await admin(url, "orders", "load", "basket.csv"))["result"]
        assert (again["accepted"], again["already_loaded"]) == (0, rows), again
        assert await books(url) == found
        check = await admin(url, "check")
        assert check.get("ok"), check
    finally:
        assert server.stop() == 0
    url = server.start()
    try:
        assert await books(url) == found
        assert (await admin(url, "check")).get("ok")
    finally:
        assert server.stop() == 0
