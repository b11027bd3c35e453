"""The supervisor's admin commands (``actors/supervisor/admin.py``) without Ray: the table's
check comes before any handler, the handler named by the entry gets the arguments by name,
and files are read only inside the import dir. The handlers' work with the real topology is
in tests/integration/test_admin.py and test_open.py."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, cast

import pytest

from actors.supervisor.actor import SupervisorActor
from actors.supervisor.admin import AdminCommands, Supervisor
from model.admin_commands import SERVER_COMMANDS, AdminError, Forbidden, Given, UsageError


class Recording(AdminCommands):
    """AdminCommands whose handlers record what they got instead of asking the topology."""

    def __init__(self) -> None:
        super().__init__(cast(Supervisor, None))  # no topology: a handler that reached it would fail
        self.calls: list[tuple[str, Given]] = []
        self.tenants: list[str | None] = []
        for command in SERVER_COMMANDS.values():
            setattr(self, command.handler, self._record(command.handler))

    def _record(self, handler: str) -> Any:
        async def record(given: Given, tenant: str | None) -> dict[str, Any]:
            self.calls.append((handler, given))
            self.tenants.append(tenant)
            return {"ok": True}

        return record


def test_a_command_runs_the_handler_its_entry_names_with_the_arguments_by_name() -> None:
    commands = Recording()
    assert asyncio.run(commands.run("cancel-all", ["--symbol", "IBM"])) == {"ok": True}
    assert asyncio.run(commands.run("accounts", ["load", "new.csv"])) == {"ok": True}
    assert commands.calls == [("cancel_all", Given(0, {"symbol": "IBM"})), ("accounts_load", Given(0, {"FILE": "new.csv"}))]
    assert commands.tenants == [None, None]


class Tenants:
    """A supervisor's tenants alone: ``firm-a`` has a user, ``firm-b`` an account, ``firm-c``
    its settings only; ``default`` is always one. Its import and export dirs are in ``root``,
    and it has no actors (a command that gets past the checks writes empty files)."""

    def __init__(self, root: Path | None = None) -> None:
        from types import SimpleNamespace

        from model.config import User

        self.import_root = self.export_root = root or Path("/nonexistent")
        self.config = SimpleNamespace(tenants={"firm-c": None})
        self.setup = SimpleNamespace(users=[User(key="a", secret="s", role="trader", tenant="firm-a")])
        self.core = SimpleNamespace(symbols=[])
        self.handles: dict[str, Any] = {}

    def _all_accounts(self) -> list[tuple[str, str, str]]:
        return [("B1", "", "firm-b")]

    def _tenant_of(self, account: str) -> str | None:
        return "firm-b" if account == "B1" else None

    def actors_of(self, role: str) -> list[str]:
        return []


def test_a_confined_command_reaches_its_handler_with_its_tenant() -> None:
    commands = Recording()
    commands.top = cast(Supervisor, Tenants())
    asyncio.run(commands.run("kill", ["all"], "firm-a"))
    asyncio.run(commands.run("export", ["--tenant", "firm-a"], "firm-a"))  # naming its own tenant is allowed
    asyncio.run(commands.run("export", ["eod", "--tenant", "firm-b"]))  # the platform operator chooses
    assert commands.tenants == ["firm-a", "firm-a", "firm-b"]


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["report", "gains", "2024", "--tenant", "../../escaped"], "admin report --tenant must be 1 to 64 letters"),
        (["export", "--tenant", "/tmp/x"], "admin export --tenant must be 1 to 64 letters"),
        (["export", "eod", "--tenant", ".."], "admin export --tenant must be 1 to 64 letters"),
        (["reconcile", "positions.csv", "--tenant", "../.."], "admin reconcile --tenant must be 1 to 64 letters"),
        (["export", "--tenant", "firm-z"], "admin export --tenant: unknown tenant 'firm-z' (no user or account belongs to it)"),
        (["reconcile", "positions.csv", "--tenant", "Firm-a"], "admin reconcile --tenant: unknown tenant 'Firm-a'"),
    ],
)
def test_the_platform_operator_s_tenant_must_be_a_known_tenant_s_name_and_nothing_is_read_or_written(tmp_path: Path, args: list[str], problem: str) -> None:
    """``--tenant`` names a folder of the import and export dirs: a path, or a tenant nobody
    has (a typo), would read or write outside the tenant folders, or answer an empty export."""
    root = tmp_path / "data" / "dirs"
    root.mkdir(parents=True)
    (tmp_path / "positions.csv").write_text("account,symbol,qty\nX,IBM,1\n")
    commands = AdminCommands(cast(Supervisor, Tenants(root)))
    with pytest.raises(AdminError) as refused:
        asyncio.run(commands.run(args[0], args[1:]))
    assert str(refused.value).startswith(problem) and str(refused.value).endswith("; nothing read or written")
    assert sorted(path.relative_to(tmp_path).as_posix() for path in tmp_path.rglob("*")) == ["data", "data/dirs", "positions.csv"]


def test_the_platform_operator_may_name_any_known_tenant() -> None:
    commands = Recording()
    commands.top = cast(Supervisor, Tenants())
    for tenant in ("firm-a", "firm-b", "firm-c", "default"):
        asyncio.run(commands.run("export", ["--tenant", tenant]))
    assert commands.tenants == ["firm-a", "firm-b", "firm-c", "default"]


def test_a_tenant_s_folder_is_always_directly_inside_its_dir(tmp_path: Path) -> None:
    commands = AdminCommands(cast(Supervisor, Tenants(tmp_path)))
    assert commands._tenant_dir(tmp_path, "firm-a") == tmp_path / "firm-a" and commands._tenant_dir(tmp_path, None) == tmp_path
    for name in ("..", "../x", "a/b", "/tmp", ".hidden", ""):
        with pytest.raises(AdminError, match="the tenant must be 1 to 64 letters"):
            commands._tenant_dir(tmp_path, name)


@pytest.mark.parametrize(
    ("name", "args", "words"),
    [
        ("halt", ["IBM"], "halt is server-wide"),
        ("status", [], "status is server-wide"),
        ("snapshot", [], "snapshot is server-wide"),
        ("open", [], "open is server-wide"),
        ("export", ["--tenant", "firm-b"], "only the platform_operator role chooses a tenant"),
        ("reconcile", ["pos.csv", "--tenant", "firm-b"], "only the platform_operator role chooses a tenant"),
    ],
)
def test_a_confined_caller_is_refused_server_wide_commands_and_other_tenants(name: str, args: list[str], words: str) -> None:
    """The gateway refuses these first; the supervisor refuses them again, from the same table."""
    commands = Recording()
    with pytest.raises(Forbidden, match=words):
        asyncio.run(commands.run(name, args, "firm-a"))
    assert commands.calls == []


@pytest.mark.parametrize(("name", "args"), [("halt", []), ("status", ["now"]), ("open", ["--all"]), ("help", []), ("frob", [])])
def test_a_bad_command_is_refused_before_any_handler_runs(name: str, args: list[str]) -> None:
    commands = Recording()
    with pytest.raises(AdminError):
        asyncio.run(commands.run(name, args))
    assert commands.calls == []


def test_a_usage_error_survives_the_trip_to_the_gateway() -> None:
    """Ray pickles the supervisor's exception; the gateway sends its message."""
    import pickle

    commands = Recording()
    with pytest.raises(UsageError) as refused:
        asyncio.run(commands.run("kill", []))
    again = pickle.loads(pickle.dumps(refused.value))
    assert (type(again), str(again)) == (UsageError, str(refused.value))


class Folders:
    def __init__(self, root: Path) -> None:
        self.import_root = root


def test_a_file_is_read_only_inside_the_import_dir(tmp_path: Path) -> None:
    (tmp_path / "imports").mkdir()
    commands = AdminCommands(cast(Supervisor, Folders(tmp_path / "imports")))
    assert commands._imported("day/navs.csv") == (tmp_path / "imports" / "day" / "navs.csv").resolve()
    with pytest.raises(AdminError, match="leads outside the import dir .*; nothing read"):
        commands._imported("../x.csv")



def test_a_strategy_file_saved_with_a_byte_order_mark_is_read_without_it(tmp_path: Path) -> None:
    (tmp_path / "imports").mkdir()
    (tmp_path / "imports" / "s.toml").write_bytes(b"\xef\xbb\xbf" + 'symbols = ["IBM"]\n'.encode())  # as Excel and Notepad save UTF-8
    commands = AdminCommands(cast(Supervisor, Folders(tmp_path / "imports")))
    assert commands._read("s.toml", None) == 'symbols = ["IBM"]\n'


def test_a_strategy_file_that_is_a_named_pipe_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    (tmp_path / "imports").mkdir()
    fifo = tmp_path / "imports" / "s.toml"
    os.mkfifo(fifo)
    _unblocking(fifo)
    commands = AdminCommands(cast(Supervisor, Folders(tmp_path / "imports")))
    with pytest.raises(AdminError, match=r"is a named pipe \(FIFO\), not a regular file; give a file; nothing created$"):
        commands._read("s.toml", None)


# --- API keys and MFA: confined at the supervisor too (the gateway refuses first) ---------------------


class KeyTop:
    """What the keys and mfa handlers use of the supervisor: the users, the config, the gateways."""

    def __init__(self, folder: Path) -> None:
        import msgspec

        from model.config import User
        from tests.unit.server.gateway.harness import keyed_setup

        setup = keyed_setup(folder)
        users = [
            User(key="a-trader", secret="s", role="trader", tenant="firm-a"),
            User(key="b-trader", secret="s", role="trader", tenant="firm-b"),
            User(key="root", secret="s", role="platform_operator", tenant="firm-a"),
        ]
        self.setup = msgspec.structs.replace(setup, users=users)
        self.config = setup.config
        self.told = 0

    async def _tell_gateways_keys(self) -> dict[str, Any]:
        self.told += 1
        return {"connections_closed": 0, "gateways_not_told": []}


def test_a_confined_caller_manages_its_own_tenant_s_users_keys_only_and_never_the_platform_operator_s(tmp_path: Path) -> None:
    top = KeyTop(tmp_path)
    commands = AdminCommands(cast(Supervisor, top))

    def run(*words: str, tenant: str | None = "firm-a") -> dict[str, Any]:
        return asyncio.run(commands.run(words[0], list(words[1:]), tenant))

    made = run("keys", "create", "a-trader", "--scopes", "read", "--label", "x")
    key_id = made["create"]["key_id"]
    assert made["secret"] and made["create"]["tenant"] == "firm-a" and top.told == 1
    other = run("keys", "create", "b-trader", "--scopes", "read,trade", tenant=None)["create"]["key_id"]  # the platform operator: any tenant
    for words, problem in (
        (("keys", "create", "b-trader", "--scopes", "read"), "unknown user b-trader"),
        (("keys", "create", "root", "--scopes", "read"), "unknown user root"),
        (("keys", "revoke", other), f"^unknown key {other}$"),  # answered like a key that does not exist:
        (("keys", "rotate", "knope"), "^unknown key knope$"),  # (the same words)
        (("keys", "list", "b-trader"), "unknown user b-trader"),
        (("mfa", "enroll", "b-trader"), "unknown user b-trader"),
        (("keys", "create", "a-trader", "--scopes", "admin"), "role trader has no permission of scope admin"),
    ):
        with pytest.raises(AdminError, match=problem):
            run(*words)
    assert [k["key_id"] for k in run("keys", "list")["keys"]] == [key_id]
    assert {k["key_id"] for k in run("keys", "list", tenant=None)["keys"]} == {key_id, other}
    assert run("keys", "revoke", key_id)["revoke"]["revoked"] and top.told == 3
    assert (tmp_path / "api-keys.json").exists() and made["secret"] not in (tmp_path / "api-keys.json").read_text()


class OnlyConfig:
    """A supervisor of which a handler may read the configuration alone: bad input is refused
    before any actor or file is touched."""

    def __init__(self) -> None:
        from tests.conftest import demo_setup

        self.config = demo_setup().config


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["A1", "2026-02-30", "2026-03-01"], "not a date (YYYY-MM-DD)"),
        (["A1", "2026-03-02", "2026-03-01"], "is after to"),
        (["A1", "2025-01-01", "2026-01-02"], "at most 366 days"),
    ],
)
def test_a_statement_of_a_period_that_is_not_one_is_refused_before_any_shard_is_asked(args: list[str], words: str) -> None:
    commands = AdminCommands(cast(Supervisor, OnlyConfig()))
    with pytest.raises(AdminError, match=re.escape(words)):
        asyncio.run(commands.run("statement", args))


@pytest.mark.parametrize("year", ["26", "1969", "20x6", "10000"])
def test_a_gains_report_of_a_year_that_is_not_one_is_refused_before_anything_is_written(year: str) -> None:
    commands = AdminCommands(cast(Supervisor, OnlyConfig()))
    with pytest.raises(AdminError, match="YEAR must be a year"):
        asyncio.run(commands.run("report", ["gains", year]))


class AccountsTop:
    """A supervisor's accounts alone, with the actor's own look-ups (``_tenant_of``,
    ``_all_accounts``, its ``seed_tenants`` made as its ``__init__`` makes them): some from
    the accounts file, some loaded since (the default tenant's kept without a tenant entry,
    as the core keeps them)."""

    def __init__(self) -> None:
        from types import SimpleNamespace

        from model.config import AccountSeed

        seeds = [AccountSeed("A1", "ops", 0, tenant="firm-a"), AccountSeed("B1", "ops", 0, tenant="firm-b"), AccountSeed("D1", "ops", 0)]
        self.setup = SimpleNamespace(accounts=seeds)
        self.seed_tenants = {seed.account: seed.tenant for seed in self.setup.accounts}  # as SupervisorActor.__init__
        self.core = SimpleNamespace(loaded={"A2": "", "B2": "desk", "D2": ""}, loaded_tenants={"A2": "firm-a", "B2": "firm-b"})
        actor = cast(Any, SupervisorActor).__ray_actor_class__
        self._tenant_of_loaded = actor._tenant_of_loaded.__get__(self)
        self._tenant_of = actor._tenant_of.__get__(self)
        self._all_accounts = actor._all_accounts.__get__(self)


def test_a_caller_s_reach_is_the_accounts_of_its_tenant_asked_one_at_a_time() -> None:
    """``in`` of a confined caller's reach answers as the list of its tenant's accounts did
    (every account for the platform operator), for accounts of the file and loaded ones, of
    each tenant, and for names that are no account at all — without listing them."""
    top = AccountsTop()
    commands = AdminCommands(cast(Supervisor, top))
    names = ["A1", "A2", "B1", "B2", "D1", "D2", "X9", "", "a1"]
    for tenant in (None, "firm-a", "firm-b", "default", "firm-c"):
        reach = commands._reach(tenant)
        assert [name for name in names if name in reach] == [name for name in names if name in commands._accounts_of(tenant)], tenant
    assert 7 not in commands._reach(None)  # not an account's name: in no reach
    assert commands._tenant_of_account("B2") == "firm-b" and commands._tenant_of_account("X9") == "default"
    commands._within("A2", "firm-a")
    with pytest.raises(AdminError, match="^unknown account B1$"):  # another tenant's: answered as no account
        commands._within("B1", "firm-a")


def test_the_supervisors_module_loads_no_basket_reader_until_a_basket_is_loaded() -> None:
    # every actor process that is handed the supervisor's handle imports its module (Ray
    # loads the class); only the supervisor reads baskets, so pyarrow waits for one
    probe = "import sys, actors.account.actor, actors.instrument.actor, actors.supervisor.actor; print(sorted(m for m in sys.modules if m.split('.')[0] == 'pyarrow' or m.startswith('model.basket')))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


class LoadTop:
    """A supervisor with its import dir and instruments, that records what it would journal:
    ``accounts load`` checks the whole file before it asks any shard."""

    def __init__(self, root: Path) -> None:
        from tests.conftest import demo_setup

        self.import_root = root
        self.setup = demo_setup()
        self.submitted: list[Any] = []

    def submit_local(self, messages: list[Any]) -> None:
        self.submitted.extend(messages)


def test_accounts_load_refuses_a_whole_file_with_an_amount_past_64_bits_and_loads_nothing(tmp_path: Path) -> None:
    """A cash, qty or cost past ``fixed.LARGEST`` is a bad row named by its number; a position
    whose cost at the reference price would not fit names its account. Either way no account
    of the file is opened (none would be journaled while a shard failed to open the others)."""
    top = LoadTop(tmp_path)
    commands = AdminCommands(cast(Supervisor, top))
    rows = "account,owner,cash,positions\nB1,o,1000.00,IBM:10\nB2,o,1000.00,IBM:1:10000000000.00\nB3,o,999999999999999999.00,\nB4,o,1000.00,\n"
    (tmp_path / "new.csv").write_text(rows)
    with pytest.raises(AdminError) as refused:
        asyncio.run(commands.run("accounts", ["load", "new.csv"]))
    assert re.findall(r"row \d+", str(refused.value)) == ["row 3", "row 4"] and "at most 9223372036.854775807" in str(refused.value)
    (tmp_path / "priced.csv").write_text("account,owner,cash,positions\nB1,o,1000.00,IBM:10\nB3,o,1000.00,IBM:100000000\n")
    with pytest.raises(AdminError, match="^account B3: position IBM: 100000000 at the reference price .* costs more than 9223372036.854775807$"):
        asyncio.run(commands.run("accounts", ["load", "priced.csv"]))
    assert top.submitted == []


def _unblocking(fifo: Path) -> threading.Thread:
    """A thread that, for a few seconds, opens ``fifo`` for writing whenever a reader waits on
    it, and closes it: a reader that blocked on it (no check) sees an empty file instead of
    hanging the test."""

    def unblock() -> None:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:  # ENXIO: nobody is reading it
                time.sleep(0.05)

    thread = threading.Thread(target=unblock, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize(
    ("command", "ending"),
    [(["accounts", "load", "new.csv"], "; nothing loaded"), (["reconcile", "new.csv"], "; nothing read"), (["nav", "new.csv"], "; nothing read")],
)
def test_a_named_pipe_or_a_file_past_the_cap_in_the_import_dir_is_refused_without_reading_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str], ending: str
) -> None:
    """A FIFO would stall the supervisor's event loop until something wrote to it; a huge
    file would be read whole into its memory. Neither is read."""
    import snapshots.files

    top = LoadTop(tmp_path)
    commands = AdminCommands(cast(Supervisor, top))
    fifo = tmp_path / "new.csv"
    os.mkfifo(fifo)
    _unblocking(fifo)
    with pytest.raises(AdminError, match=f"^{fifo} is a named pipe \\(FIFO\\), not a regular file; give a file{ending}$"):
        asyncio.run(commands.run(command[0], command[1:]))
    fifo.unlink()
    fifo.write_text("account,owner,cash\nA1,o,1.00\n")  # 29 bytes
    monkeypatch.setattr(snapshots.files, "MAX_IMPORT_BYTES", 28)
    with pytest.raises(AdminError, match=f"^{fifo} is larger than 28 bytes \\(29\\), the most an admin command reads{ending}$"):
        asyncio.run(commands.run(command[0], command[1:]))
    assert top.submitted == []


class RacingTop(LoadTop):
    """A supervisor whose shards answer ``existing`` after a pause (as remote calls do) from
    what was journaled so far, and journal what is submitted: two ``accounts load`` at once."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        from actors.runtime.router import Router

        self.router = Router(self.setup.config)
        shards = [f"account-{n}" for n in range(self.setup.config.topology.account_shards)]
        self.handles = {name: _Existing(self) for name in shards}

    async def settle(self) -> None:
        await asyncio.sleep(0)

    async def wait_acked(self, timeout_s: float) -> bool:
        return True

    async def _tell_gateways(self) -> None:
        return None


class _Existing:
    def __init__(self, top: RacingTop) -> None:
        self.top = top
        self.existing = self

    async def remote(self, accounts: list[str]) -> list[str]:
        await asyncio.sleep(0.01)
        opened = {message.account for message in self.top.submitted}
        return [account for account in accounts if account in opened]


def test_two_accounts_loads_naming_the_same_account_at_once_open_it_once(tmp_path: Path) -> None:
    """Each checks that none of its accounts exists, then opens them: one at a time, so the
    second finds the first's accounts and loads nothing (before, both passed the check and
    the second's tenant was recorded for an account its shard kept for the first)."""
    top = RacingTop(tmp_path)
    commands = AdminCommands(cast(Supervisor, top))
    (top.import_root / "a.csv").write_text("account,owner,cash,tenant\nN1,o,1.00,firm-a\n")
    (top.import_root / "b.csv").write_text("account,owner,cash,tenant\nN1,o,1.00,firm-b\n")

    async def both() -> list[object]:
        return await asyncio.gather(commands.run("accounts", ["load", "a.csv"]), commands.run("accounts", ["load", "b.csv"]), return_exceptions=True)

    first, second = asyncio.run(both())
    assert first == {"ok": True, "loaded": 1, "file": str(top.import_root / "a.csv")}
    assert isinstance(second, AdminError) and "1 accounts exist already, nothing loaded: N1" in str(second)
    assert [(m.account, m.tenant) for m in top.submitted] == [("N1", "firm-a")]


class GroupsTop(AccountsTop):
    """Two tenants with a group of one name (``G``), and what the supervisor would journal."""

    def __init__(self) -> None:
        from model.config import AccountSeed

        super().__init__()
        self.setup.accounts = [AccountSeed("A1", "ops", 0, group="G", tenant="firm-a"), AccountSeed("B1", "ops", 0, group="G", tenant="firm-b")]
        self.seed_tenants = {seed.account: seed.tenant for seed in self.setup.accounts}
        self.submitted: list[Any] = []

    def submit_local(self, messages: list[Any]) -> None:
        self.submitted.extend(messages)

    async def settle(self) -> None:
        return None

    async def wait_acked(self, timeout_s: float) -> bool:
        return True


def test_a_tenant_sets_the_limits_of_its_own_group_not_of_another_tenant_s_group_of_that_name() -> None:
    """The limits go out for the caller's tenant's group alone (its shard keeps them under
    the tenant): no refusal that would tell it another tenant has a group of that name; the
    platform operator's go to every tenant's group of the name."""
    top = GroupsTop()
    commands = AdminCommands(cast(Supervisor, top))
    asyncio.run(commands.run("risk-limits", ["group:G", "--max-gross-exposure", "1"], tenant="firm-a"))
    asyncio.run(commands.run("risk-limits", ["group:G", "--max-gross-exposure", "2"]))
    asyncio.run(commands.run("risk-limits", ["clear", "group:G"], tenant="firm-b"))
    assert [(m.group, m.tenant, m.clear) for m in top.submitted] == [("G", "firm-a", False), ("G", "", False), ("G", "firm-b", True)]
    with pytest.raises(AdminError, match="^unknown group H$"):
        asyncio.run(commands.run("risk-limits", ["group:H", "--max-gross-exposure", "1"], tenant="firm-a"))
