"""Offline replay of one actor's journal, without Ray: a real LMDB journal written by a
durable host in tmp_path, read back to the same state hash, from empty or from a snapshot."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from pathlib import Path

import msgspec
import pytest

from actors.account.core import AccountState
from actors.account.risk import RiskLimits
from actors.runtime.host import DurableHost
from actors.runtime.replay import actor_plan, main, replay
from actors.runtime.router import SUPERVISOR
from model import fixed
from model.config import JournalSection, ServerSection
from model.enums import OrderType, Side, TimeInForce
from model.messages import Batch, NewOrder, OpenAccount, Reply, encode_batch
from model.orders import OrderSpec
from tests.conftest import ROOT, demo_setup

SETUP = demo_setup()


class AccountHost(DurableHost):
    def make_core(self) -> AccountState:
        return AccountState(self.name, SETUP.instruments, RiskLimits.from_config(self.config.risk, self.config.open))


class Acks:
    def ack(self, seq: int) -> None:
        pass


async def journaled_hash(data_dir: Path, orders: int, **journal: int) -> str:
    """Run ``account-0`` on a journal in ``data_dir`` for ``orders`` orders; its live state hash."""
    config = msgspec.structs.replace(
        SETUP.config, server=ServerSection(data_dir=str(data_dir)), journal=JournalSection(durability="buffered", **journal)  # type: ignore[arg-type]
    )
    host = AccountHost("account-0", config)
    host.recover(str(data_dir))
    host.submit_local([OpenAccount("A1", "trader1", fixed.parse("100000"))])
    for seq in range(1, orders + 1):
        spec = OrderSpec("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, fixed.parse("1"), None, fixed.parse("140"), None)
        host.receive(encode_batch(Batch("gateway-0~1", seq, 0, [NewOrder("A1", f"c{seq}", spec, Reply("gateway-0", 1, b""))])), Acks())
        await asyncio.sleep(0)
    for _ in range(3):
        await asyncio.sleep(0)
    live = host.machine.state_hash()
    host.journal.close()
    return live


async def test_a_replay_from_empty_gives_the_live_state_hash(tmp_path: Path) -> None:
    live = await journaled_hash(tmp_path, 12)
    result = replay(SETUP, tmp_path, "account-0")
    assert (result["actor"], result["from"], result["hash"]) == ("account-0", 1, live)  # from the first record
    assert isinstance(result["records"], int) and result["records"] > 0


async def test_a_replay_after_truncation_starts_from_the_oldest_snapshot_and_gives_the_same_hash(tmp_path: Path) -> None:
    live = await journaled_hash(tmp_path, 30, snapshot_every_events=10, snapshot_every_s=0, snapshot_events_per_record=0)
    result = replay(SETUP, tmp_path, "account-0")
    assert result["hash"] == live and isinstance(result["from"], int) and result["from"] > 1


async def test_the_command_prints_the_result_as_one_json_line(tmp_path: Path) -> None:
    live = await journaled_hash(tmp_path, 3)
    # not capsys: the host set the process's logging to the stderr of the moment, which capsys would close after the test
    with contextlib.redirect_stdout(io.StringIO()) as out:
        assert main([str(tmp_path), "account-0", "--config", str(ROOT / "conf" / "server.toml")]) == 0
    printed = json.loads(out.getvalue())
    assert printed["hash"] == live and printed["actor"] == "account-0"


def test_the_plan_of_an_actor_is_the_configuration_s_and_an_unknown_one_is_refused() -> None:
    assert actor_plan(SETUP, SUPERVISOR).name == SUPERVISOR
    assert actor_plan(SETUP, "instrument-1").role == "instrument"
    with pytest.raises(SystemExit, match="no actor account-99 in this configuration"):
        actor_plan(SETUP, "account-99")


async def test_a_replay_with_tenant_limits_gives_the_live_state_hash_from_empty_and_from_a_snapshot(tmp_path: Path) -> None:
    """The shard built from a config with ``[tenants.small.risk]`` (as ``roles`` builds it):
    an account of ``small`` refused what the default tenant's account was allowed, and a
    replay (from empty, and from a snapshot) decides exactly the same."""
    from actors.runtime.roles import build_core
    from model.config import TenantRiskSection, TenantSection

    tenants = {"small": TenantSection(TenantRiskSection(max_order_qty="1"))}
    for snapshots in (0, 4):
        data_dir = tmp_path / f"snapshots-{snapshots}"
        config = msgspec.structs.replace(
            SETUP.config,
            server=ServerSection(data_dir=str(data_dir)),
            journal=JournalSection(durability="buffered", snapshot_every_events=snapshots, snapshot_every_s=0, snapshot_events_per_record=0),
            tenants=tenants,
        )
        setup = msgspec.structs.replace(SETUP, config=config)

        class TenantHost(DurableHost):
            def make_core(self) -> AccountState:
                core = build_core(actor_plan(setup, "account-0"), self.config)
                assert isinstance(core, AccountState)
                return core

        host = TenantHost("account-0", config)
        host.recover(str(data_dir))
        host.submit_local([OpenAccount("A1", "trader1", fixed.parse("100000")), OpenAccount("S1", "small1", fixed.parse("100000"), tenant="small")])
        spec = OrderSpec("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, fixed.parse("2"), None, fixed.parse("140"), None)
        for seq in range(1, 11):
            account = "A1" if seq % 2 else "S1"
            host.receive(encode_batch(Batch("gateway-0~1", seq, 0, [NewOrder(account, f"c{seq}", spec, Reply("gateway-0", 1, b""))])), Acks())
            await asyncio.sleep(0)
        for _ in range(3):
            await asyncio.sleep(0)
        core = host.machine.core
        assert isinstance(core, AccountState)
        outcomes = {(order.account, order.reason) for order in core.orders.values()}
        assert outcomes == {("A1", None), ("S1", "max_order_size")}, outcomes
        live = host.machine.state_hash()
        host.journal.close()
        result = replay(setup, data_dir, "account-0")
        assert result["hash"] == live
        assert (result["from"] == 1) == (snapshots == 0), result  # with snapshots: from one of them
