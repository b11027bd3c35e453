"""The supervisor core: the topology plan (who owns which account and symbol) and the
operator's switches (``SupervisorState``), with the control messages each one sends."""

from __future__ import annotations

import msgspec
import pytest

from actors.runtime.outputs import ACCOUNT, ALL, INSTRUMENT, Send
from actors.runtime.roles import ROLES
from actors.supervisor.core import ActorPlan, SupervisorState
from actors.supervisor.core import plan as plan_roles
from model import fixed
from model.config import DropCopySection, Setup, TopologySection, VenueSection
from model.messages import AdminCancelAll, Message, OpenAccount, OpenMarket, QuoteEvent, SetKill, SetTradingStatus, StrikeNav
from model.routing import shard_of
from server.app import GATEWAY_ROLE
from tests.conftest import demo_setup


def plan(setup: Setup, gateways: int = 1) -> list[ActorPlan]:
    """The plan of a whole server: the roles of actors/ and the gateway's, from server/."""
    return plan_roles(setup, ROLES.extended([GATEWAY_ROLE]), gateways)

D = fixed.parse
SYMBOLS = ["IBM", "AAPL", "MSFT", "VFIAX"]


def setup_with(account_shards: int = 2, instrument_actors: int = 2, drop_copy: bool = False, venues: tuple[str, ...] = ("SIM",)) -> Setup:
    setup = demo_setup()
    config = msgspec.structs.replace(
        setup.config,
        topology=TopologySection(account_shards=account_shards, instrument_actors=instrument_actors),
        drop_copy=DropCopySection(enabled=drop_copy),
        venues=[VenueSection(name=name) for name in venues],
    )
    return msgspec.structs.replace(setup, config=config)


def owners(plans: list[ActorPlan]) -> dict[str, list[str]]:
    """Actor name → what it owns: accounts for account actors, symbols for instrument actors."""
    return {
        p.name: [seed.account for seed in p.accounts] if p.name.startswith("account-") else [i.symbol for i in p.instruments]
        for p in plans
        if p.name.startswith(("account-", "instrument-"))
    }


# --- the plan ---------------------------------------------------------------------------------


def test_accounts_and_symbols_are_placed_by_crc32_the_same_in_every_process_and_version() -> None:
    """Journals are per actor: a placement that changed between runs would strand accounts
    and symbols in the wrong actor's journal. These are the demo's, fixed by crc32."""
    assert owners(plan(setup_with(2, 2))) == {
        "account-0": ["B1"],
        "account-1": ["A1", "A2", "C1", "C2", "C3"],
        "instrument-0": ["AAPL", "VFIAX"],
        "instrument-1": ["IBM", "MSFT", "SPY", "XYZ", "AAPL261218C00200000"],
    }
    assert owners(plan(setup_with(3, 3))) == {
        "account-0": ["A2", "B1", "C1", "C3"],
        "account-1": [],
        "account-2": ["A1", "C2"],
        "instrument-0": ["AAPL", "XYZ"],
        "instrument-1": ["MSFT", "SPY", "VFIAX"],
        "instrument-2": ["IBM", "AAPL261218C00200000"],
    }


@pytest.mark.parametrize(("shards", "instrument_actors"), [(1, 1), (2, 3), (5, 4), (16, 7)])
def test_every_account_and_every_symbol_has_exactly_one_owner_the_router_agrees_with(shards: int, instrument_actors: int) -> None:
    setup = setup_with(shards, instrument_actors)
    placed = owners(plan(setup))
    accounts = [(account, name) for name, owned in placed.items() if name.startswith("account-") for account in owned]
    symbols = [(symbol, name) for name, owned in placed.items() if name.startswith("instrument-") for symbol in owned]
    assert sorted(account for account, _ in accounts) == sorted(seed.account for seed in setup.accounts)
    assert sorted(symbol for symbol, _ in symbols) == sorted(i.symbol for i in setup.instruments)
    assert all(name == f"account-{shard_of(account, shards)}" for account, name in accounts)
    assert all(name == f"instrument-{shard_of(symbol, instrument_actors)}" for symbol, name in symbols)
    assert len([name for name in placed if name.startswith("account-")]) == shards  # an empty shard still exists


def test_the_plan_lists_every_actor_of_the_topology_once_with_what_it_needs() -> None:
    setup = setup_with(2, 2, drop_copy=True, venues=("SIM", "ALT"))
    plans = plan(setup, gateways=3)
    assert [p.name for p in plans] == [
        "account-0", "account-1", "instrument-0", "instrument-1", "venue-SIM", "venue-ALT", "drop-copy", "gateway-0", "gateway-1", "gateway-2",
    ]
    by_name = {p.name: p for p in plans}
    symbols = [i.symbol for i in setup.instruments]
    assert [i.symbol for i in by_name["account-0"].instruments] == symbols  # risk prices every symbol
    assert [i.symbol for i in by_name["venue-ALT"].instruments] == symbols and by_name["venue-ALT"].venue == VenueSection(name="ALT")
    assert not by_name["drop-copy"].accounts and not by_name["gateway-2"].instruments
    assert "drop-copy" not in [p.name for p in plan(setup_with(drop_copy=False))]


def test_a_topology_without_shards_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        plan(setup_with(account_shards=0))
    with pytest.raises(ValueError, match="at least 1"):
        plan(setup_with(instrument_actors=0))


# --- the operator's switches ------------------------------------------------------------------


def run(state: SupervisorState, message: Message) -> list[Send]:
    state.apply(message, 1)
    state.check_invariants()
    return state.out.drain()


def test_a_halt_goes_to_the_symbol_s_actor_and_every_account_shard_and_a_resume_undoes_it() -> None:
    state = SupervisorState(SYMBOLS)
    halt = SetTradingStatus("IBM", True)
    assert run(state, halt) == [Send(INSTRUMENT, "IBM", halt), Send(ACCOUNT, ALL, halt)]
    run(state, SetTradingStatus("MSFT", True))
    assert state.halted == {"IBM": True, "MSFT": True}
    resume = SetTradingStatus("IBM", False)
    assert run(state, resume) == [Send(INSTRUMENT, "IBM", resume), Send(ACCOUNT, ALL, resume)]
    assert (state.halted, state.commands) == ({"MSFT": True}, 3)


def test_a_halt_of_an_unknown_symbol_is_refused_and_changes_nothing() -> None:
    state = SupervisorState(SYMBOLS)
    before = state.state_hash()
    with pytest.raises(KeyError, match="unknown symbol NOPE"):
        state.apply(SetTradingStatus("NOPE", True), 1)
    assert (state.halted, state.commands, state.out.drain(), state.state_hash()) == ({}, 0, [], before)


def test_killing_one_account_goes_to_its_shard_and_killing_all_replaces_every_single_kill() -> None:
    state = SupervisorState(SYMBOLS)
    kill = SetKill("A1", True)
    assert run(state, kill) == [Send(ACCOUNT, "A1", kill)]
    run(state, SetKill("B1", True))
    run(state, SetKill("B1", False))
    assert (state.killed, state.kill_all) == ({"A1": True}, False)
    everyone = SetKill(ALL, True)
    assert run(state, everyone) == [Send(ACCOUNT, ALL, everyone)]
    assert (state.killed, state.kill_all) == ({}, True)
    run(state, SetKill(ALL, False))
    assert (state.killed, state.kill_all, state.commands) == ({}, False, 5)


def test_an_admin_cancel_all_goes_to_the_symbol_s_actor_or_to_every_instrument_actor() -> None:
    state = SupervisorState(SYMBOLS)
    one, every = AdminCancelAll(account="A1", symbol="IBM"), AdminCancelAll(venue="SIM")
    assert run(state, one) == [Send(INSTRUMENT, "IBM", one)]
    assert run(state, every) == [Send(INSTRUMENT, ALL, every)]


def test_each_open_is_numbered_and_sent_to_every_account_shard_and_a_scheduled_one_remembers_its_day() -> None:
    state = SupervisorState(SYMBOLS)
    assert run(state, OpenMarket(["IBM"])) == [Send(ACCOUNT, ALL, OpenMarket(["IBM"], open_id=1))]
    assert state.scheduled_open == ""
    assert run(state, OpenMarket([], day="2026-11-30")) == [Send(ACCOUNT, ALL, OpenMarket([], day="2026-11-30", open_id=2))]
    assert (state.opens, state.scheduled_open) == (2, "2026-11-30")


def test_nav_strikes_are_numbered_per_fund_and_the_last_nav_is_kept() -> None:
    state = SupervisorState(SYMBOLS)
    run(state, StrikeNav("VFIAX", D("500.00")))
    sends = run(state, StrikeNav("VFIAX", D("501.25")))
    assert sends == [Send(ACCOUNT, ALL, StrikeNav("VFIAX", D("501.25"), strike=2))]
    assert run(state, StrikeNav("OTHER", D("10")))[0].message.strike == 1  # type: ignore[attr-defined]
    assert (state.navs["VFIAX"], state.nav_strikes) == (D("501.25"), {"VFIAX": 2, "OTHER": 1})


def test_an_account_opened_at_run_time_goes_to_its_shard_and_is_remembered_with_its_group() -> None:
    state = SupervisorState(SYMBOLS)
    opened = OpenAccount("Z9", "advisor1", D("10.00"), group="ADV1")
    assert run(state, opened) == [Send(ACCOUNT, "Z9", opened)]
    assert state.loaded == {"Z9": "ADV1"} and state.loaded_tenants == {}  # the default tenant's


def test_an_account_opened_a_second_time_keeps_its_first_tenant_and_goes_nowhere() -> None:
    """Its shard keeps the first opening (the second is an anomaly there): so does the
    supervisor, whose record of the tenant decides who may reach the account."""
    state = SupervisorState(SYMBOLS)
    run(state, OpenAccount("F9", "fa", D("10.00"), group="G1", tenant="firm-a"))
    assert run(state, OpenAccount("F9", "fb", D("20.00"), group="G2", tenant="firm-b")) == []
    assert state.loaded == {"F9": "G1"} and state.loaded_tenants == {"F9": "firm-a"}


def test_an_account_loaded_for_a_tenant_keeps_its_tenant_through_a_snapshot() -> None:
    live = SupervisorState(SYMBOLS)
    run(live, OpenAccount("F9", "fb", D("10.00"), tenant="firm-b"))
    run(live, OpenAccount("Z8", "d", D("10.00"), tenant="default"))
    assert live.loaded_tenants == {"F9": "firm-b"}
    restored = SupervisorState.restore(msgspec.msgpack.decode(msgspec.msgpack.encode(live.snapshot()), type=SupervisorState.snapshot_type))
    assert restored.loaded_tenants == {"F9": "firm-b"}
    older = msgspec.msgpack.encode({k: v for k, v in msgspec.structs.asdict(live.snapshot()).items() if k != "loaded_tenants"})
    assert SupervisorState.restore(msgspec.msgpack.decode(older, type=SupervisorState.snapshot_type)).loaded_tenants == {}  # a snapshot from before tenants


def test_a_message_the_supervisor_does_not_take_is_refused() -> None:
    with pytest.raises(TypeError, match="supervisor does not take QuoteEvent"):
        SupervisorState(SYMBOLS).apply(QuoteEvent("IBM", None, 0, None, 0, 1), 1)


def test_replaying_the_journaled_commands_rebuilds_the_same_switches_and_state_hash() -> None:
    commands: list[Message] = [
        SetTradingStatus("IBM", True), SetKill("A1", True), OpenMarket([]), StrikeNav("VFIAX", D("500")), SetKill("B1", True),
    ]
    live, replayed = SupervisorState(SYMBOLS), SupervisorState(list(reversed(SYMBOLS)))  # the symbols' order does not matter
    for state in (live, replayed):
        for command in commands:
            run(state, command)
    assert live.state_hash() == replayed.state_hash()
    assert (replayed.halted, replayed.killed, replayed.opens) == ({"IBM": True}, {"A1": True, "B1": True}, 1)
    other = SupervisorState(SYMBOLS)
    for command in [*commands[:-1], SetKill("B2", True)]:
        run(other, command)
    assert other.state_hash() != live.state_hash()  # a different kill is a different state


def test_a_snapshot_restores_every_switch_and_counter() -> None:
    live = SupervisorState(SYMBOLS)
    for command in [SetTradingStatus("IBM", True), SetKill("A1", True), OpenMarket([], "2026-01-05"), StrikeNav("VFIAX", D("500"))]:
        run(live, command)
    run(live, OpenAccount("A9", "trader9", D("10"), group="advisor-1"))
    encoded = msgspec.msgpack.encode(live.snapshot())
    restored = SupervisorState.restore(msgspec.msgpack.decode(encoded, type=SupervisorState.snapshot_type))
    assert restored.state_hash() == live.state_hash()
    assert (restored.scheduled_open, restored.navs, restored.loaded) == ("2026-01-05", {"VFIAX": D("500")}, {"A9": "advisor-1"})
