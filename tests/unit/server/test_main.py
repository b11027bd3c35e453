"""The ``brokerd`` command (``server/main.py``, ``[project.scripts]``) and the wrappers that keep
the old forms working, run as a user runs them: real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from server.main import main, parse_args
from tests.conftest import ROOT

# what the console script pip writes for ``brokerd = "server.main:main"`` does: main() reads sys.argv
CONSOLE_SCRIPT = "import sys; sys.argv = ['brokerd', *sys.argv[1:]]; from server.main import main; sys.exit(main())"


def run(*command: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "BROKERD_DATA_DIR": "/nonexistent/brokerd"}
    return subprocess.run(command, capture_output=True, text=True, env=environment, cwd=ROOT.parent, timeout=60)


def brokerd(*args: str) -> subprocess.CompletedProcess[str]:
    return run(sys.executable, "-c", CONSOLE_SCRIPT, *args)


def test_pyproject_installs_brokerd_as_server_main() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"brokerd": "server.main:main"}


def test_brokerd_help_names_the_server_flags_and_the_other_forms() -> None:
    done = brokerd("--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: brokerd ")
    for flag in ("--config", "--data-dir", "--host", "--ws-port", "--fix-port", "--address", "--fresh", "--wipe"):
        assert flag in done.stdout
    assert "brokerd admin [OPTIONS]" in done.stdout and "brokerd client [OPTIONS]" in done.stdout


def test_brokerd_admin_runs_the_shell() -> None:
    done = brokerd("admin", "help")
    assert done.returncode == 0, done.stderr
    assert "journal verify [--config FILE] [--data-dir DIR]" in done.stdout
    usage = brokerd("admin", "--help")
    assert usage.returncode == 0 and usage.stdout.startswith("usage: brokerd admin ")
    assert brokerd("admin", "halt").returncode == 2  # checked before anything connects


def test_brokerd_client_runs_the_trader_command_line() -> None:
    done = brokerd("client", "--help")
    assert done.returncode == 0, done.stderr
    assert "brokerd WebSocket client" in done.stdout


def test_the_old_forms_still_work() -> None:
    done = run(sys.executable, str(ROOT / "run_server.py"), "--help")
    assert done.returncode == 0 and done.stdout.startswith("usage: run_server.py ")
    done = run(sys.executable, str(ROOT / "run_server.py"), "admin", "help")
    assert done.returncode == 0 and "reconcile FILE" in done.stdout
    done = run(sys.executable, "-m", "server.client", "--help")
    assert done.returncode == 0 and "brokerd WebSocket client" in done.stdout


def test_wipe_without_fresh_is_refused_before_anything_starts() -> None:
    assert main(["--wipe"]) == 2


def test_the_default_config_is_the_checkouts() -> None:
    assert Path(parse_args([]).config) == ROOT / "conf" / "server.toml"


def test_a_missing_master_key_or_a_tampered_vault_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Before Ray starts: the config names vault:MM1, so the key and the vault are needed."""
    from keystore.vault import open_vault
    from model.config import load_setup
    from server.main import main
    from tests.unit.keystore.support import secrets_in
    from tests.unit.keystore.test_vault import fix_config

    config = fix_config(tmp_path, "vault:MM1")
    assert main(["--config", str(config), "--data-dir", str(tmp_path / "data")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "master.key does not exist" in err and "Traceback" not in err
    secrets_in(tmp_path)
    vault = open_vault(load_setup(config).config.secrets)
    vault.add("MM1", b"pw")
    vault.path.write_text(vault.path.read_text().replace('"rotated": "', '"rotated": "1'))
    assert main(["--config", str(config), "--data-dir", str(tmp_path / "data")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "entry 'MM1' does not authenticate" in err
    assert not (tmp_path / "data").exists()  # refused before anything was made


def test_an_api_key_file_or_an_mfa_file_that_does_not_verify_stops_the_start_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The keys and the enrolments live in the data dir chosen by --data-dir; a tampered one,
    or one without its master key, is refused before Ray starts."""
    import msgspec

    from keystore.apikeys import open_keys
    from keystore.totp import open_mfa
    from model.config import User, load_setup
    from server.main import check_secrets
    from tests.unit.keystore.support import secrets_in

    section = secrets_in(tmp_path)
    setup = load_setup(ROOT / "conf" / "server.toml")
    config = msgspec.structs.replace(
        setup.config, secrets=section, server=msgspec.structs.replace(setup.config.server, data_dir=str(tmp_path / "data"))
    )
    (tmp_path / "data").mkdir()
    assert check_secrets(config) is None  # neither file yet: nothing to open
    key = open_keys(config).create(User(key="trader1", secret="s"), ("read",), (), 2_000_000_000_000, "")
    open_mfa(config).enroll("admin", "t")
    assert check_secrets(config) is None
    path = tmp_path / "data" / "api-keys.json"
    path.write_text(path.read_text().replace('"rotated": "', '"rotated": "1', 1))
    problem = check_secrets(config)
    assert problem is not None and f"entry {key.key_id!r} does not authenticate" in problem and "\n" not in problem
    path.unlink()
    (tmp_path / "master.key").unlink()
    problem = check_secrets(config)
    assert problem is not None and "master.key does not exist" in problem  # the MFA file needs its key
    capsys.readouterr()


def test_fresh_with_failover_covers_the_shipped_journals_and_wipe_empties_them(tmp_path: Path) -> None:
    from server.main import prepare_data_dir

    data, ship, audit = tmp_path / "data", tmp_path / "shared" / "ship", tmp_path / "shared" / "audit"
    (ship / "account-0").mkdir(parents=True)
    (ship / "account-0" / "claim-00000001").touch()
    audit.mkdir(parents=True)
    with pytest.raises(SystemExit, match="shipped journals"):  # a journal would be rebuilt from its copy
        prepare_data_dir(data, fresh=True, wipe=False, shipped=[ship, audit])
    prepare_data_dir(data, fresh=True, wipe=True, shipped=[ship, audit])
    assert not ship.exists() and data.is_dir()
    prepare_data_dir(data, fresh=True, wipe=False, shipped=[ship, audit])  # an empty audit dir is fresh


def test_a_bad_crash_point_in_the_environment_is_one_line_and_exit_2_before_ray_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BROKERD_CRASH_AT", "apply.before_sned:1:account-0")
    assert main(["--config", str(ROOT / "conf" / "server.toml"), "--data-dir", str(tmp_path / "data")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "BROKERD_CRASH_AT='apply.before_sned:1:account-0'" in err and "Traceback" not in err
    assert not (tmp_path / "data").exists()  # refused before anything was made


def test_a_data_dir_of_another_shard_count_is_refused_before_ray_boots(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The layout check comes before the embedded cluster: a refused start costs no Ray boot."""
    import ray

    from actors.reshard.layout import record_layout

    data = tmp_path / "data"
    data.mkdir()
    record_layout(data, 3)
    booted: list[object] = []
    monkeypatch.setattr(ray, "init", lambda *args, **kwargs: booted.append(kwargs))
    monkeypatch.setattr("actors.runtime.logs.configure", lambda level: None)  # the log would stay bound to this test's captured stderr
    assert main(["--config", str(ROOT / "conf" / "server.toml"), "--data-dir", str(data)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds 3 account shards" in err and "account_shards = 2" in err
    assert booted == []
