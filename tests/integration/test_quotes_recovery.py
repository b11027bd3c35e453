"""kill -9 of an account shard that holds marks (quotes) it has not journaled.

An account shard journals a quote only at the head of the next record some other input
asks for (``actors/account/marks.py``): a crash between a quote and the next order loses
it from the shard. The restarted shard asks the InstrumentActors for their current marks
before anything can reach it, so the next order is priced exactly as on a shard that
never stopped, and every journal still replays to the live state.
"""

from __future__ import annotations

import asyncio
import os
import time
from decimal import ROUND_CEILING, Decimal
from pathlib import Path
from typing import Any

import pytest

from actors.runtime.machine import record_decoder
from model import fixed
from model.messages import MarketUpdate, NewOrder, decode_batch
from model.routing import shard_of
from server.client.sdk import BrokerClient
from snapshots.journal import Journal
from tests.conftest import TEST_ACCOUNTS
from tests.integration.recovery import ServerProcess, admin, wait_restarted, write_conf

pytestmark = pytest.mark.asyncio(loop_scope="session")

INTERVAL_MS = 8000  # one quote tick per 8 s: the kill, the restart and the orders fit between two
ACCOUNT_KEPT = next(a for a in TEST_ACCOUNTS if shard_of(a, 2) == 0)  # on account-0, never killed
ACCOUNT_KILLED = next(a for a in TEST_ACCOUNTS if shard_of(a, 2) == 1)  # on account-1


def held_by_a_market_buy(ask: str, qty: int = 10) -> Decimal:
    """What a market buy of ``qty`` IBM holds at ``ask``: the ask moved up by the 5 % collar,
    on the 0.01 tick."""
    price = (Decimal(ask) * Decimal("1.05")).quantize(Decimal("0.01"), rounding=ROUND_CEILING)
    return qty * price


def market_buy_for_the_open(account: str, client_order_id: str) -> dict[str, Any]:
    return {"account": account, "client_order_id": client_order_id, "symbol": "IBM", "side": "buy", "type": "market", "qty": "10", "tif": "opg"}


async def buying_power(client: BrokerClient, account: str) -> Decimal:
    return Decimal((await client.get_account(account, timeout=30))["buying_power"])


async def next_tick(client: BrokerClient, after_ns: int) -> dict[str, Any]:
    """The first IBM quote of a tick after ``after_ns`` (the last quote is replayed on subscribe)."""
    return await client.wait_for(lambda m: m.get("type") == "quote" and m.get("symbol") == "IBM" and m["ts"] > after_ns, timeout=3 * INTERVAL_MS / 1000)


def records_since(data: Path, since_ns: int) -> list[tuple[int, int, list[str], list[Any]]]:
    """account-1's records made at or after ``since_ns``: sequence, time, the messages of
    the head batch and every message."""
    journal = Journal(data / "account-1", "account-1", durability="buffered")
    found = []
    try:
        for seq, payload in journal.read_from(journal.first_seq()):
            record = record_decoder.decode(payload)
            if record.now >= since_ns:
                batches = [decode_batch(raw) for raw in record.batches]
                found.append((seq, record.now, batches[0].messages, [m for b in batches for m in b.messages]))
    finally:
        journal.close()
    return found


async def test_a_shard_killed_between_a_quote_and_the_next_order_prices_it_as_one_never_killed(tmp_path: Path, ray_address: str) -> None:
    config = write_conf(tmp_path / "conf", quote_interval_ms=INTERVAL_MS)
    data = tmp_path / "data"
    server = ServerProcess(config, data, address=ray_address)
    with server.running() as url:
        async with BrokerClient(url, "tester", "tester-secret") as client:
            await client.subscribe(["quotes:IBM"])
            for attempt in range(3):  # a tick between the kill and the orders spoils an attempt (a slow machine)
                tick = await next_tick(client, time.time_ns())
                await asyncio.sleep(0.3)  # the marks reach the shards (they left before this quote)
                status = await admin(url, "status")
                shard = next(a for a in status["result"]["actors"] if a["name"] == "account-1")
                killed_at = time.time_ns()
                os.kill(shard["pid"], 9)
                restarts = await wait_restarted(url, "account-1")
                assert restarts["account-1"] == attempt + 1 and restarts["account-0"] == 0
                before = {account: await buying_power(client, account) for account in (ACCOUNT_KEPT, ACCOUNT_KILLED)}
                seen = len(client.history)
                tag = f"after-kill-{attempt}"
                replies = {
                    account: await client.new_order(**market_buy_for_the_open(account, tag), timeout=30)
                    for account in (ACCOUNT_KILLED, ACCOUNT_KEPT)
                }
                assert all(reply["exec_type"] == "new" for reply in replies.values()), replies
                held = {account: before[account] - await buying_power(client, account) for account in before}
                if any(m.get("type") == "quote" and m.get("symbol") == "IBM" for m in client.history[seen:]):
                    continue
                assert held[ACCOUNT_KILLED] == held[ACCOUNT_KEPT] == held_by_a_market_buy(tick["ask"]), (held, tick)
                break
            else:
                pytest.fail("a quote tick came between the kill and the orders three times")
        check = await admin(url, "check")
        assert check.get("ok"), check
    # the tick's mark was never journaled by the shard before it died (no record between
    # the tick and the kill); the restarted one had it from the InstrumentActor, at the head
    # of its first record (a query's or the order's), before the order was decided
    records = records_since(data, tick["ts"])
    assert records and records[0][1] > killed_at, records[:2]
    ask = fixed.parse(tick["ask"])
    assert any(type(m) is MarketUpdate and m.symbol == "IBM" and m.ask == ask for m in records[0][2]), records[0]
    order_at = next(seq for seq, _, _, messages in records if any(type(m) is NewOrder and m.client_order_id == tag for m in messages))
    assert order_at >= records[0][0]
    with server.running() as url:
        check = await admin(url, "check")
        assert check.get("ok"), check
