"""The AccountShard's Ray shell without a cluster: its class run in this process on a real
LMDB journal in tmp_path. Seeding, the operator's views, status and the back office's
files; what crosses Ray is the same calls."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import msgspec

from actors.account.actor import AccountActor
from model import fixed
from model.config import AccountSeed, Config, JournalSection, ServerSection
from model.enums import OrderType, Side, TimeInForce
from model.messages import Batch, NewOrder, Reply, encode_batch
from model.orders import OrderSpec
from tests.conftest import demo_setup

SETUP = demo_setup()
Shell = AccountActor.__ray_actor_class__  # type: ignore[attr-defined]  # the class Ray would host, called here directly
SEEDS = [AccountSeed("A1", "trader1", fixed.parse("100000")), AccountSeed("A2", "trader1", fixed.parse("500"), positions=(("IBM", fixed.parse("3")),))]


class Acks:
    def ack(self, seq: int) -> None:
        pass


def config(data_dir: Path) -> Config:
    return msgspec.structs.replace(SETUP.config, server=ServerSection(data_dir=str(data_dir)), journal=JournalSection(durability="buffered"))


async def seeded(data_dir: Path) -> AccountActor:
    actor = Shell("account-0", config(data_dir), SETUP.instruments)
    assert await actor.seed(SEEDS) == 2
    await actor.local_inputs_applied()
    return actor


async def stop(actor: AccountActor) -> None:
    """Settle, snapshot and close the journal (a commit after the close would stop the process: fail-stop)."""
    await actor.close()
    actor.journal.close()


async def place(actor: AccountActor, seq: int, cloid: str, qty: str = "2", price: str = "140.00") -> None:
    spec = OrderSpec("IBM", Side.BUY, OrderType.LIMIT, TimeInForce.DAY, fixed.parse(qty), None, fixed.parse(price), None)
    actor.receive(encode_batch(Batch("gateway-0~1", seq, 0, [NewOrder("A1", cloid, spec, Reply("gateway-0", 1, b""))])), Acks())
    for _ in range(3):
        await asyncio.sleep(0)


async def test_seeded_accounts_are_journaled_inputs_so_a_restart_does_not_seed_them_again(tmp_path: Path) -> None:
    actor = await seeded(tmp_path)
    assert await actor.existing(["A1", "A2", "B1"]) == ["A1", "A2"] and await actor.owns("A2") and not await actor.owns("B1")
    assert await actor.seed(SEEDS) == 0
    await stop(actor)
    again = Shell("account-0", config(tmp_path), SETUP.instruments)
    assert await again.existing(["A1", "A2"]) == ["A1", "A2"]  # replayed from the journal
    assert await again.seed([*SEEDS, AccountSeed("A3", "trader1", 0)]) == 1  # only the one it does not hold
    await stop(again)


async def test_the_operator_sees_an_account_with_its_kill_flag_and_open_orders(tmp_path: Path) -> None:
    actor = await seeded(tmp_path)
    await place(actor, 1, "c1")
    view = await actor.admin_account("A1")
    assert view is not None
    assert (view["account"], view["cash"], view["buying_power"], view["killed"], view["open_orders"]) == ("A1", "100000.00", "99720.00", False, 1)
    assert await actor.admin_account("ZZ") is None and await actor.admin_orders("ZZ") is None
    (order,) = await actor.admin_orders("A1") or []
    assert (order["client_order_id"], order["status"], order["qty"]) == ("c1", "new", "2")
    assert await actor.open_orders("A1") == 1 and await actor.open_orders(None) == 1
    await stop(actor)


async def test_status_counts_accounts_and_orders_and_the_rate_since_the_last_call(tmp_path: Path) -> None:
    actor = await seeded(tmp_path)
    await actor.status()
    for seq in range(1, 4):
        await place(actor, seq, f"c{seq}")
    status = await actor.status()
    assert (status["name"], status["accounts"], status["orders"], status["allocations_booked"]) == ("account-0", 2, 3, 0)
    assert status["orders_per_s"] > 0 and status["journal_seq"] >= 2
    assert (await actor.status())["orders_per_s"] == 0.0  # nothing since
    await stop(actor)


async def test_status_counts_the_reports_made_live_and_a_restart_counts_from_zero_not_its_replay(tmp_path: Path) -> None:
    actor = await seeded(tmp_path)
    await place(actor, 1, "c1")
    await place(actor, 2, "c2", qty="100000000")  # over the largest order: rejected
    await actor.settle()
    status = await actor.status()
    assert (status["reports"], status["rejects"]) == ({"new": 1, "rejected": 1}, {"max_order_size": 1})
    actor.journal.close()  # as if killed: no snapshot at a close, the restart replays the orders
    if actor.audit_log is not None:
        actor.audit_log.close()
    again = Shell("account-0", config(tmp_path), SETUP.instruments)
    status = await again.status()
    assert status["recovered"]["messages"] >= 2
    assert (status["orders"], status["reports"], status["rejects"]) == (2, {}, {})  # replayed, not counted again
    await place(again, 3, "c3")
    await again.settle()
    assert (await again.status())["reports"] == {"new": 1}
    await stop(again)


async def test_the_back_office_gets_every_account_and_its_nonzero_positions(tmp_path: Path) -> None:
    actor = await seeded(tmp_path)
    assert await actor.positions_book() == {"A1": {}, "A2": {"IBM": fixed.parse("3")}}
    assert await actor.export_part(str(tmp_path), "account-0", "2025-11-21") == {"positions": 2, "allocations": 0}
    with open(tmp_path / "positions.account-0.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["account", "symbol", "qty", "cost"] and [row[:3] for row in rows[1:]] == [["A1", "", ""], ["A2", "IBM", "3"]]
    assert (tmp_path / "allocations.account-0.csv").read_text().splitlines()[0].startswith("date,block_id,account")
    await stop(actor)


async def test_seeding_journals_each_account_s_tenant_so_a_restart_gives_it_its_tenant_s_limits(tmp_path: Path) -> None:
    from actors.account.core import AccountState
    from model.config import TenantRiskSection, TenantSection

    tenants = {"firm-b": TenantSection(TenantRiskSection(max_order_qty="1"))}
    with_tenants = msgspec.structs.replace(config(tmp_path), tenants=tenants)
    seeds = [AccountSeed("A1", "trader1", fixed.parse("100000")), AccountSeed("B9", "zed", fixed.parse("100000"), tenant="firm-b")]
    for attempt in range(2):  # seeded, then restarted from its journal
        actor = Shell("account-0", with_tenants, SETUP.instruments)
        assert await actor.seed(seeds) == (2 if attempt == 0 else 0)
        await actor.local_inputs_applied()
        core = actor.core
        assert isinstance(core, AccountState)
        b9 = core.accounts["B9"]
        assert (b9.tenant, core.accounts["A1"].tenant) == ("firm-b", "default")
        assert b9.limits is core.tenant_limits["firm-b"] and b9.limits.max_order_qty == fixed.parse("1")
        await stop(actor)


async def test_a_restart_with_other_limits_journals_them_and_every_account_decides_under_them(tmp_path: Path) -> None:
    """The shard stops (a snapshot of its state, limits included) and starts under a
    configuration with a lower ``[risk] max_order_qty`` and a tenant's own: the new limits
    are a journaled input, so the restored accounts take them, and a replay of the journal
    repeats both the old decision and the new one."""
    from actors.account.core import AccountState
    from model.config import RiskSection, TenantRiskSection, TenantSection

    actor = await seeded(tmp_path)
    await place(actor, 1, "c1", qty="5")
    assert actor.core.orders.peek("account-0-1").status.value == "new"
    await stop(actor)
    lower = msgspec.structs.replace(
        config(tmp_path), risk=RiskSection(max_order_qty="3"), tenants={"firm-b": TenantSection(TenantRiskSection(max_order_qty="1"))}
    )
    again = Shell("account-0", lower, SETUP.instruments)
    assert await again.seed(SEEDS) == 0
    await again.local_inputs_applied()
    core = again.core
    assert isinstance(core, AccountState)
    assert core.limits.max_order_qty == fixed.parse("3") and core.accounts["A1"].limits is core.limits
    assert core.tenant_limits["firm-b"].max_order_qty == fixed.parse("1")
    await place(again, 2, "c2", qty="5")
    assert [(o.client_order_id, o.status.value, o.reason) for o in core.orders.values()] == [
        ("c1", "new", None),
        ("c2", "rejected", "max_order_size"),
    ]
    seq = again.journal.last_seq
    assert await again.seed(SEEDS) == 0 and again.journal.last_seq == seq  # the same limits again: nothing journaled
    hashes = await again.replay_hash()
    assert hashes["live"] == hashes["replayed"]
    await stop(again)
