"""The Supervisor's Ray shell without a cluster: its class run in this process on a real
LMDB journal in tmp_path. What it plans from the configuration and the roles it is given,
the order it ends them in, the folders of the file commands, and the link secret. Creating
and wiring the topology needs Ray: tests/integration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from actors.runtime.outputs import ACCOUNT, DROP_COPY, GATEWAY, INSTRUMENT, VENUE
from actors.runtime.roles import Shutdown
from actors.supervisor.actor import SupervisorActor, _file_roots, setup_digest
from model.config import AdminSection, JournalSection, ServerSection, Setup, TopologySection
from model.messages import SetTradingStatus
from server.app import GATEWAY_ROLE
from tests.conftest import demo_setup

Shell = SupervisorActor.__ray_actor_class__  # type: ignore[attr-defined]  # the class Ray would host, called here directly


def setup(data_dir: Path, **admin: str) -> Setup:
    demo = demo_setup()
    config = msgspec.structs.replace(
        demo.config,
        server=ServerSection(data_dir=str(data_dir)),
        journal=JournalSection(durability="buffered"),
        topology=TopologySection(account_shards=3, instrument_actors=2),
        admin=AdminSection(**admin),
    )
    return msgspec.structs.replace(demo, config=config)


def supervisor(data_dir: Path, gateways: int = 2, **admin: str) -> Any:
    return Shell(setup(data_dir, **admin), gateways, [GATEWAY_ROLE])


def test_the_plan_follows_the_topology_and_the_roles_it_is_given(tmp_path: Path) -> None:
    actor = supervisor(tmp_path)
    assert actor.actors_of(ACCOUNT) == ["account-0", "account-1", "account-2"]
    assert actor.actors_of(INSTRUMENT) == ["instrument-0", "instrument-1"]
    assert actor.actors_of(VENUE) == ["venue-SIM"] and actor.actors_of(DROP_COPY) == []  # the drop copy is off
    assert actor.actors_of(GATEWAY) == ["gateway-0", "gateway-1"]
    assert Shell(setup(tmp_path / "other"), 1, ()).actors_of(GATEWAY) == []  # the gateway's role is server/'s to give
    actor.journal.close()


def test_every_account_of_the_file_is_planned_on_exactly_one_shard(tmp_path: Path) -> None:
    actor = supervisor(tmp_path)
    planned = [seed.account for p in actor.plans if p.role == ACCOUNT for seed in p.accounts]
    assert sorted(planned) == sorted(seed.account for seed in actor.setup.accounts)
    assert [account for account, _, _ in actor._all_accounts()] == [seed.account for seed in actor.setup.accounts]
    actor.journal.close()


def test_the_stop_ends_the_gateways_then_the_venues_then_the_books(tmp_path: Path) -> None:
    actor = supervisor(tmp_path)
    assert actor._ending(Shutdown.INTAKE) == ["gateway-0", "gateway-1"]
    assert actor._ending(Shutdown.SOURCE) == ["venue-SIM"]
    assert actor._ending(Shutdown.STATE) == ["account-0", "account-1", "account-2", "instrument-0", "instrument-1"]
    assert actor._journaled() == ["account-0", "account-1", "account-2", "instrument-0", "instrument-1", "venue-SIM"]  # the gateways keep no journal
    actor.journal.close()


def test_the_file_folders_are_made_under_the_data_dir_or_where_configured(tmp_path: Path) -> None:
    actor = supervisor(tmp_path)
    assert (actor.import_root, actor.export_root) == (tmp_path / "imports", tmp_path / "exports")
    assert actor.import_root.is_dir() and actor.export_root.is_dir()
    actor.journal.close()
    elsewhere = tmp_path / "elsewhere"
    moved = supervisor(tmp_path / "data", import_dir="in", export_dir=str(elsewhere))
    assert (moved.import_root, moved.export_root) == (tmp_path / "data" / "in", elsewhere) and elsewhere.is_dir()
    moved.journal.close()


def test_a_folder_that_cannot_be_made_is_logged_and_the_start_goes_on(tmp_path: Path) -> None:
    (tmp_path / "imports").write_text("a file where the folder would be")
    config = setup(tmp_path).config
    assert _file_roots(config) == (tmp_path / "imports", tmp_path / "exports")
    assert (tmp_path / "imports").is_file() and (tmp_path / "exports").is_dir()


def test_each_start_has_a_link_secret_of_its_own_that_its_repr_hides(tmp_path: Path) -> None:
    first, second = supervisor(tmp_path / "a"), supervisor(tmp_path / "b")
    assert first.link_secret._key != second.link_secret._key
    assert repr(first.link_secret) == "LinkSecret(<hidden>)" and first.link_secret._key.hex() not in f"{first.link_secret!r}"
    first.journal.close()
    second.journal.close()


def test_no_open_is_due_without_a_configured_time(tmp_path: Path) -> None:
    actor = supervisor(tmp_path)
    assert actor.config.open.at == "" and actor._open_due() is None
    actor.journal.close()


async def test_its_own_state_comes_back_from_its_journal(tmp_path: Path) -> None:
    actor = supervisor(tmp_path)
    actor.submit_local([SetTradingStatus("IBM", True)])
    await actor.local_inputs_applied()
    assert actor.core.halted == {"IBM": True}
    actor.journal.close()
    again = supervisor(tmp_path)
    assert again.core.halted == {"IBM": True} and again.recovery["records"] == 1
    again.journal.close()


class _Method:
    """A Ray actor method as the supervisor calls it: ``.remote(...)`` gives an awaitable."""

    def __init__(self, calls: list[tuple[str, str, tuple[Any, ...]]], actor: str, name: str) -> None:
        self.calls, self.actor, self.name = calls, actor, name

    def remote(self, *args: Any) -> Any:
        self.calls.append((self.actor, self.name, args))

        async def answer() -> Any:
            return None

        return answer()


class _Handle:
    """A Ray handle that records every call made through it."""

    def __init__(self, calls: list[tuple[str, str, tuple[Any, ...]]], actor: str) -> None:
        self.calls, self.actor = calls, actor

    def __getattr__(self, name: str) -> _Method:
        return _Method(self.calls, self.actor, name)


async def test_a_re_wired_actor_gets_the_handles_its_role_calls_and_the_others_learn_of_its_handle_only_if_they_call_it(tmp_path: Path) -> None:
    """A Ray handle received imports its actor's class: the supervisor wires a restarted actor
    with the handles of the roles it calls (``Role.calls``), and passes its new handle on only
    to the actors that call its role; every other actor gets its new address alone."""
    actor = supervisor(tmp_path)
    calls: list[tuple[str, str, tuple[Any, ...]]] = []
    names = [*(p.name for p in actor.plans), "supervisor"]
    actor.handles = {name: _Handle(calls, name) for name in names}
    actor.addresses = {name: ("127.0.0.1", 1000 + index) for index, name in enumerate(names)}

    def wired_with(name: str) -> list[str]:
        [args] = [args for who, method, args in calls if who == name and method == "wire"]
        return sorted(args[0])

    def told(moved: str) -> dict[str, bool]:
        """Each actor told of ``moved``'s new address: whether it was given its handle too."""
        return {who: args[2] is not None for who, method, args in calls if method == "update_address" and args[0] == moved}

    await actor._wire_again("instrument-0", actor.handles["instrument-0"], actor.handles)
    assert wired_with("instrument-0") == []  # an InstrumentActor calls no actor through Ray
    assert told("instrument-0") == {"account-0": True, "account-1": True, "account-2": True,  # they ask it for marks
                                    "instrument-1": False, "venue-SIM": False, "gateway-0": False, "gateway-1": False}
    calls.clear()
    await actor._wire_again("gateway-1", actor.handles["gateway-1"], actor.handles)
    assert wired_with("gateway-1") == ["supervisor"]  # admin commands, login nonces
    assert not any(told("gateway-1").values())  # nobody calls a gateway
    calls.clear()
    await actor._wire_again("account-2", actor.handles["account-2"], actor.handles)
    assert wired_with("account-2") == ["instrument-0", "instrument-1"]
    actor.journal.close()


def test_a_crash_point_is_not_part_of_the_setup_a_new_driver_must_match() -> None:
    setup = demo_setup()
    armed = msgspec.structs.replace(
        setup, config=msgspec.structs.replace(setup.config, server=msgspec.structs.replace(setup.config.server, crash_at="apply.before_send:1"))
    )
    assert setup_digest(armed) == setup_digest(setup)
    moved = msgspec.structs.replace(setup, config=msgspec.structs.replace(setup.config, server=msgspec.structs.replace(setup.config.server, ws_port=1)))
    assert setup_digest(moved) != setup_digest(setup)
