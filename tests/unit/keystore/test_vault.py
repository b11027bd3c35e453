"""The vault (``keystore/vault.py``) and ``brokerd secrets`` (``keystore/cli.py``): references
in session files, the start check, and the command line."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import msgspec
import pytest

from keystore import cli
from keystore.masterkey import MasterKeyError
from keystore.vault import check_at_start, open_vault, reference, resolver, session_references
from model.config import load_setup
from model.errors import ConfigError
from tests.conftest import ROOT
from tests.unit.keystore.support import secrets_in


def fix_config(tmp_path: Path, password: str) -> Path:
    """server-fix.toml and its files, copied to ``tmp_path``, MM1's password ``password``,
    the vault and master key in ``tmp_path``."""
    for name in ("instruments.toml", "users.toml", "accounts.csv"):
        (tmp_path / name).write_text((ROOT / "conf" / name).read_text())
    (tmp_path / "fix").mkdir()
    (tmp_path / "fix" / "dropcopy.cfg").write_text((ROOT / "conf" / "fix" / "dropcopy.cfg").read_text())
    venue = (ROOT / "conf" / "fix" / "venue-MM1.cfg").read_text().replace("Password=mm1-demo-password", f"Password={password}")
    (tmp_path / "fix" / "venue-MM1.cfg").write_text(venue)
    server = (ROOT / "conf" / "server-fix.toml").read_text() + '\n[secrets]\nmaster_key_file = "master.key"\n'
    (tmp_path / "server.toml").write_text(server)
    return tmp_path / "server.toml"


def test_a_reference_names_an_entry_and_a_plain_value_is_itself() -> None:
    assert reference("vault:MM1") == "MM1" and reference("mm1-demo-password") is None


def test_only_credentials_may_name_a_vault_entry(tmp_path: Path) -> None:
    path = tmp_path / "s.cfg"
    path.write_text("# Password=vault:NOT-THIS (a comment)\n[SESSION]\nUsername=vault:U\nPassword=vault:MM1\n")
    assert session_references(path) == {"Username": "U", "Password": "MM1"}
    path.write_text("[SESSION]\nSocketConnectHost=vault:MM1\n")
    with pytest.raises(ConfigError, match="SocketConnectHost names a vault entry; only Username and Password may"):
        session_references(path)


def test_the_start_check_needs_the_key_the_file_and_every_entry_named(tmp_path: Path) -> None:
    config = load_setup(fix_config(tmp_path, "vault:MM1")).config
    with pytest.raises(MasterKeyError, match="master.key does not exist"):
        check_at_start(config)
    section = secrets_in(tmp_path)
    assert section.master_key_file == config.secrets.master_key_file
    with pytest.raises(ConfigError, match="venue MM1 Password names vault entry 'MM1', but there is no vault file"):
        check_at_start(config)
    open_vault(config.secrets).add("OTHER", b"x")
    with pytest.raises(ConfigError, match="names vault entry 'MM1', which .* does not hold"):
        check_at_start(config)
    open_vault(config.secrets).add("MM1", b"pw")
    assert check_at_start(config) == 2
    assert resolver(config.secrets)("vault:MM1") == "pw" and resolver(config.secrets)("plain") == "plain"


def test_no_secret_in_use_needs_no_key(tmp_path: Path) -> None:
    config = load_setup(fix_config(tmp_path, "mm1-demo-password")).config
    assert check_at_start(config) == 0  # no reference, no vault file: the demo runs without a key


def run_cli(argv: list[str], stdin: str = "", monkeypatch: pytest.MonkeyPatch | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    assert monkeypatch is not None
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin.encode())))
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setattr(sys, "stderr", err)
    code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


def test_the_command_line_adds_lists_rotates_and_removes_without_showing_a_value(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = fix_config(tmp_path, "vault:MM1")
    code, out, _ = run_cli(["new-master-key", str(tmp_path / "master.key")], monkeypatch=monkeypatch)
    assert code == 0 and (tmp_path / "master.key").stat().st_mode & 0o777 == 0o600
    code, out, _ = run_cli(["add", "MM1", "--config", str(config)], stdin="first-password\n", monkeypatch=monkeypatch)
    assert code == 0 and "first-password" not in out
    (tmp_path / "value").write_text("second-password\n")
    code, out, _ = run_cli(["rotate", "MM1", "--config", str(config), "--value-file", str(tmp_path / "value")], monkeypatch=monkeypatch)
    assert code == 0
    code, out, _ = run_cli(["list", "--config", str(config)], monkeypatch=monkeypatch)
    assert code == 0 and out.startswith("MM1  created ") and "password" not in out
    assert open_vault(load_setup(config).config.secrets).get_text("MM1") == "second-password"
    code, _, err = run_cli(["remove", "MM1", "--config", str(config)], monkeypatch=monkeypatch)
    assert code == 1 and "venue MM1 Password names 'MM1'" in err  # still named: kept
    code, _, err = run_cli(["add", "EMPTY", "--config", str(config)], stdin="", monkeypatch=monkeypatch)
    assert code == 2 and "no value given" in err
    code, _, err = run_cli(["new-master-key", str(tmp_path / "master.key")], monkeypatch=monkeypatch)
    assert code == 2 and "never overwritten" in err


def test_a_tampered_vault_is_exit_1_naming_the_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = fix_config(tmp_path, "vault:MM1")
    secrets_in(tmp_path)
    vault = open_vault(load_setup(config).config.secrets)
    vault.add("MM1", b"pw")
    data = msgspec.json.decode(vault.path.read_bytes())
    data["entries"]["MM1"]["created"] = "2000-01-01T00:00:00Z"
    vault.path.write_bytes(msgspec.json.encode(data))
    code, _, err = run_cli(["verify", "--config", str(config)], monkeypatch=monkeypatch)
    assert code == 1 and "entry 'MM1' does not authenticate" in err and err.count("\n") == 1
