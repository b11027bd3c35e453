"""The admin shell's own commands (``server/client/local.py``); ``journal verify`` end to end
is in test_shell.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.admin_commands import COMMANDS, SHELL, TABLE, Given, check
from server.client import local


def test_help_lists_every_command_of_the_table_with_its_usage_and_summary() -> None:
    text = local.help_text()
    for command in TABLE:
        assert command.usage in text and command.summary in text
    assert text.splitlines()[-1].startswith("exit codes: 0 done")


def test_help_for_one_command(capsys: pytest.CaptureFixture[str]) -> None:
    command, given = check("help", ["nav"], SHELL)
    assert local.run_local(command, given, as_json=False) == local.OK
    assert capsys.readouterr().out == f"usage: nav FUND PRICE | nav FILE\n  {COMMANDS['nav'].summary}\n"


def test_quit_run_once_does_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert local.run_local(COMMANDS["quit"], Given(), as_json=False) == local.OK
    assert capsys.readouterr().out == ""


def test_the_data_dir_a_flag_names_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BROKERD_DATA_DIR", "/from/env")
    assert local.data_dir_of({"data-dir": "/from/flag"}) == "/from/flag"
    assert local.data_dir_of({}) == "/from/env"
    config = tmp_path / "server.toml"
    config.write_text('[server]\ndata_dir = "/from/config"\n')
    assert local.data_dir_of({"config": str(config)}) == "/from/config"
