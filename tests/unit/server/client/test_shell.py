from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from server.client import local
from server.client import shell as admin
from server.client.sdk import LoginError
from tests.unit.snapshots.faults import build_data_dir, corrupt


class FakeClient:
    """Stands in for BrokerClient: records what is sent, answers with ``reply``."""

    def __init__(self, reply: dict[str, Any] | BaseException) -> None:
        self.reply = reply
        self.sent: list[dict[str, Any]] = []
        self.closed = False

    async def request(self, message: dict[str, Any], timeout: float | None = None) -> dict[str, Any]:
        self.sent.append(message)
        if isinstance(self.reply, BaseException):
            raise self.reply
        return self.reply

    async def close(self) -> None:
        self.closed = True


def serve_with(monkeypatch: pytest.MonkeyPatch, reply: dict[str, Any] | BaseException) -> FakeClient:
    client = FakeClient(reply)

    async def connect(url: str, key: str, secret: str, **options: object) -> FakeClient:
        return client

    monkeypatch.setattr(admin.BrokerClient, "connect", connect)
    return client


def refuse_to_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    async def connect(url: str, key: str, secret: str, **options: object) -> None:
        raise AssertionError("the admin shell connected, but should not have")

    monkeypatch.setattr(admin.BrokerClient, "connect", connect)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def data_dirs(tmp_path: Path) -> tuple[Path, Path]:
    good, bad = tmp_path / "good", tmp_path / "bad"
    build_data_dir(good)
    build_data_dir(bad)
    corrupt(bad / "instrument-0", b"journal", 3)
    return good, bad


# --- arguments are checked before anything connects ------------------------------------------------


@pytest.mark.parametrize(
    "words",
    [
        ["frobnicate"],
        ["status", "now"],
        ["account"],
        ["account", "A1", "A2"],
        ["orders"],
        ["halt"],
        ["resume", "IBM", "AAPL"],
        ["kill"],
        ["kill", "--account", "A1"],
        ["unkill", "A1", "B1"],
        ["cancel-all", "A1"],
        ["cancel-all", "--account"],
        ["cancel-all", "--account", "--symbol", "IBM"],
        ["cancel-all", "--account", "A1", "--account", "A2"],
        ["cancel-all", "--account=A1"],
        ["cancel-all", "--side", "buy"],
        ["open", "--all"],
        ["nav"],
        ["nav", "VFIAX", "1", "2"],
        ["blocks", "IBM"],
        ["export", "a", "b"],
        ["accounts", "add", "x.csv"],
        ["accounts", "load"],
        ["snapshot", "account-0"],
        ["journal"],
        ["journal", "check"],
        ["journal", "verify", "--data-dir"],
        ["journal", "verify", "/data"],
        ["journal", "verify", "--config"],
        ["journal", "verify", "--config", "a.toml", "--config", "b.toml"],
        ["reconcile"],
        ["help", "frobnicate"],
        ["quit", "now"],
    ],
)
def test_a_bad_command_line_exits_2_with_its_usage_and_never_connects(
    words: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    refuse_to_connect(monkeypatch)
    assert admin.main(words) == admin.USAGE
    error = capsys.readouterr().err
    assert error.startswith("admin: ")
    assert "usage: " in error or "unknown command" in error


@pytest.mark.parametrize(
    "words",
    [
        ["status"],
        ["account", "A1"],
        ["orders", "A1"],
        ["halt", "IBM"],
        ["resume", "IBM"],
        ["kill", "A1"],
        ["kill", "all"],
        ["unkill", "all"],
        ["cancel-all"],
        ["cancel-all", "--venue", "SIM", "--symbol", "IBM", "--account", "A1"],
        ["open"],
        ["open", "IBM", "AAPL"],
        ["nav", "VFIAX", "451.20"],
        ["nav", "navs.csv"],
        ["blocks"],
        ["export"],
        ["export", "/tmp/eod"],
        ["accounts", "load", "accounts.csv"],
        ["snapshot"],
        ["journal", "verify"],
        ["journal", "verify", "--data-dir", "/srv/brokerd/data"],
        ["journal", "verify", "--config", "/etc/brokerd/server.toml"],
        ["journal", "verify", "--config", "server.toml", "--data-dir", "/srv/brokerd/data"],
        ["reconcile", "positions.csv"],
        ["help"],
        ["help", "cancel-all"],
        ["quit"],
        ["exit"],
    ],
)
def test_every_documented_command_line_passes_the_check(words: list[str]) -> None:
    admin.check_command(words)


def test_every_command_has_help_text() -> None:
    text = admin.help_text()
    for command in admin.COMMANDS.values():
        assert command.usage in text and command.summary in text


def test_an_unknown_global_flag_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        admin.main(["--frob", "status"])
    assert exit_.value.code == admin.USAGE


# --- server commands -----------------------------------------------------------------------------------


def test_cancel_all_forwards_its_arguments_as_given(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    client = serve_with(monkeypatch, {"type": "admin", "ok": True, "result": {"canceled": 2, "filters": {"account": "A1", "symbol": "IBM"}}})
    assert admin.main(["cancel-all", "--account", "A1", "--symbol", "IBM"]) == admin.OK
    assert client.sent == [
        {"op": "admin", "command": "cancel-all", "args": ["--account", "A1", "--symbol", "IBM"]}
    ]
    assert client.closed
    assert capsys.readouterr().out.splitlines() == ["canceled: 2", "filters:", "  account: A1", "  symbol:  IBM"]


def test_file_arguments_go_to_the_server_as_typed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """They name files in the server's import and export dirs, not beside the shell: the
    shell must not make them absolute against its own working directory."""
    client = serve_with(monkeypatch, {"type": "admin", "ok": True, "result": {"ok": True}})
    monkeypatch.chdir(tmp_path)
    for words in (["accounts", "load", "new.csv"], ["nav", "day/navs.csv"], ["reconcile", "../x.csv"], ["export", "eod"]):
        assert admin.main(words) == admin.OK
    assert [(sent["command"], sent["args"]) for sent in client.sent] == [
        ("accounts", ["load", "new.csv"]),
        ("nav", ["day/navs.csv"]),
        ("reconcile", ["../x.csv"]),
        ("export", ["eod"]),
    ]


def test_an_error_reply_exits_1(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    serve_with(monkeypatch, {"type": "error", "code": "admin_failed", "message": "not implemented yet"})
    assert admin.main(["reconcile", "positions.csv"]) == admin.FAILED
    assert capsys.readouterr().out == "error (admin_failed): not implemented yet\n"


def test_json_prints_the_reply(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    reply = {"type": "admin", "ok": True, "result": {"ok": True, "killed": ["A1"], "canceled": 3}}
    serve_with(monkeypatch, reply)
    assert admin.main(["--json", "kill", "A1"]) == admin.OK
    assert json.loads(capsys.readouterr().out) == reply


def test_a_server_that_is_not_there_exits_3(capsys: pytest.CaptureFixture[str]) -> None:
    assert admin.main(["--url", f"ws://127.0.0.1:{free_port()}", "status"]) == admin.UNREACHABLE
    assert "cannot reach brokerd" in capsys.readouterr().err


def test_a_refused_login_exits_3(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    async def connect(url: str, key: str, secret: str, **options: object) -> None:
        raise LoginError("bad_signature", "wrong secret")

    monkeypatch.setattr(admin.BrokerClient, "connect", connect)
    assert admin.main(["status"]) == admin.UNREACHABLE
    assert "refused the login as 'admin'" in capsys.readouterr().err


def test_no_answer_in_time_exits_3(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    client = serve_with(monkeypatch, TimeoutError())
    assert admin.main(["--timeout", "0.5", "snapshot"]) == admin.UNREACHABLE
    assert "no answer from brokerd within 0.5 s" in capsys.readouterr().err
    assert client.closed


# --- journal verify runs here, without the server ------------------------------------------------------


def test_journal_verify_exits_0_for_a_good_data_dir_and_1_naming_the_record_for_a_corrupted_one(
    data_dirs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    refuse_to_connect(monkeypatch)
    good, bad = data_dirs
    assert admin.main(["journal", "verify", "--data-dir", str(good)]) == admin.OK
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"data dir {good}: 3 actors, 0 errors, 0 warnings"
    assert lines[1].split() == ["account-0", "journal", "1..5", "snapshots", "2,", "4"]
    assert lines[-1] == "ok"
    assert admin.main(["journal", "verify", "--data-dir", str(bad)]) == admin.FAILED
    out = capsys.readouterr().out
    assert "error    instrument-0 journal 3: checksum mismatch" in out
    assert out.splitlines()[-1].startswith("errors found")


def test_journal_verify_json_is_the_report(data_dirs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _, bad = data_dirs
    assert admin.main(["--json", "journal", "verify", "--data-dir", str(bad)]) == admin.FAILED
    report = json.loads(capsys.readouterr().out)
    assert (report["ok"], report["errors"], [actor["name"] for actor in report["actors"]]) == (False, 1, ["account-0", "instrument-0", "supervisor"])


def write_config(path: Path, data_dir: Path | str) -> Path:
    path.write_text(f'[server]\ndata_dir = "{data_dir}"\n')
    return path


def set_in_the_environment(good: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("BROKERD_DATA_DIR", str(good))
    return str(good)


def data_in_the_working_directory(good: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    good.rename(good.parent / "data")
    monkeypatch.chdir(good.parent)
    return "data"


def in_the_default_config(good: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The data dir of conf/server.toml, as the server's default."""
    monkeypatch.setattr(local, "DEFAULT_CONFIG", write_config(good.parent / "server.toml", good))
    return str(good)


@pytest.mark.parametrize("data_dir", [set_in_the_environment, data_in_the_working_directory, in_the_default_config])
def test_journal_verify_without_flags_finds_the_data_dir(
    data_dir: Callable[[Path, pytest.MonkeyPatch], str],
    data_dirs: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    good, _ = data_dirs
    monkeypatch.delenv("BROKERD_DATA_DIR", raising=False)
    shown = data_dir(good, monkeypatch)
    assert admin.main(["journal", "verify"]) == admin.OK
    assert capsys.readouterr().out.startswith(f"data dir {shown}:")


def test_journal_verify_reads_the_data_dir_from_the_config(
    data_dirs: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    good, bad = data_dirs
    monkeypatch.setenv("BROKERD_DATA_DIR", str(bad))  # a --config given wins over the environment
    config = write_config(tmp_path / "server.toml", good)
    assert admin.main(["journal", "verify", "--config", str(config)]) == admin.OK
    assert capsys.readouterr().out.startswith(f"data dir {good}:")
    # --data-dir wins over the config
    assert admin.main(["journal", "verify", "--config", str(config), "--data-dir", str(bad)]) == admin.FAILED
    assert capsys.readouterr().out.startswith(f"data dir {bad}:")


def test_journal_verify_with_an_unreadable_config_says_so_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert admin.main(["journal", "verify", "--config", str(tmp_path / "nope.toml")]) == admin.FAILED
    assert capsys.readouterr().err.startswith(f"journal verify: cannot read the configuration {tmp_path / 'nope.toml'}: ")
    broken = tmp_path / "broken.toml"
    broken.write_text("[server]\ndata_dri = 'x'\n")
    assert admin.main(["--json", "journal", "verify", "--config", str(broken)]) == admin.FAILED
    answer = json.loads(capsys.readouterr().out)
    assert answer["ok"] is False and answer["error"].startswith("bad configuration: ") and "data_dri" in answer["error"]


def test_journal_verify_of_a_missing_data_dir_says_so_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert admin.main(["journal", "verify", "--data-dir", str(tmp_path / "nowhere")]) == admin.FAILED
    assert capsys.readouterr().err == f"journal verify: data dir {tmp_path / 'nowhere'} does not exist\n"
    assert admin.main(["--json", "journal", "verify", "--data-dir", str(tmp_path)]) == admin.FAILED
    assert "holds no actor journal" in json.loads(capsys.readouterr().out)["error"]


def test_run_server_admin_journal_verify_works_as_a_command(data_dirs: tuple[Path, Path], root: Path) -> None:
    good, bad = data_dirs
    environment = {**os.environ, "BROKERD_URL": f"ws://127.0.0.1:{free_port()}"}  # verify must not need a server

    def admin_command(*words: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, str(root / "run_server.py"), "admin", *words]
        return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=60)

    done = admin_command("journal", "verify", "--data-dir", str(good))
    assert (done.returncode, done.stdout.splitlines()[-1]) == (0, "ok")
    done = admin_command("--json", "journal", "verify", "--data-dir", str(bad))
    assert done.returncode == 1
    assert json.loads(done.stdout)["errors"] == 1


# --- the interactive shell ------------------------------------------------------------------------------


def test_the_shell_runs_local_commands_with_the_server_down_and_survives_mistakes(
    data_dirs: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    good, _ = data_dirs
    monkeypatch.setenv("BROKERD_ADMIN_HISTORY", str(tmp_path / "history"))
    script = f"help\nfrobnicate\nkill\n'unbalanced\n\njournal verify --data-dir {good}\nstatus\nquit\nstatus\n"
    monkeypatch.setattr(sys, "stdin", io.StringIO(script))
    assert admin.main(["--url", f"ws://127.0.0.1:{free_port()}"]) == admin.OK
    captured = capsys.readouterr()
    assert "cannot reach brokerd" in captured.err  # at start, and again for 'status'
    assert captured.err.count("cannot reach brokerd") == 2
    assert "unknown command 'frobnicate'" in captured.err and "usage: kill ACCOUNT|all" in captured.err
    assert "No closing quotation" in captured.err
    assert "journal verify [--config FILE] [--data-dir DIR]" in captured.out  # help
    assert f"data dir {good}: 3 actors, 0 errors, 0 warnings" in captured.out


def test_the_shell_sends_server_commands_and_ends_at_end_of_input(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    client = serve_with(monkeypatch, {"type": "admin", "ok": True, "result": {"ok": True, "symbol": "IBM", "halted": True}})
    monkeypatch.setattr(sys, "stdin", io.StringIO("halt IBM\n"))
    assert admin.main([]) == admin.OK
    assert client.sent == [{"op": "admin", "command": "halt", "args": ["IBM"]}]
    assert "symbol: IBM\nhalted: true\n" in capsys.readouterr().out


def test_a_vault_value_is_read_from_stdin_or_a_file_and_sent_last_never_from_the_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client = serve_with(monkeypatch, {"type": "admin", "ok": True, "result": {"add": {"name": "MM1"}}})
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"piped-password\n")))
    assert admin.main(["vault", "add", "MM1"]) == admin.OK
    (tmp_path / "value").write_text("filed-password")
    assert admin.main(["--value-file", str(tmp_path / "value"), "vault", "rotate", "MM1"]) == admin.OK
    assert [message["args"] for message in client.sent] == [["add", "MM1", "piped-password"], ["rotate", "MM1", "filed-password"]]
    assert "password" not in capsys.readouterr().out
    client.sent.clear()
    assert admin.main(["vault", "add", "MM1", "typed-password"]) == admin.USAGE  # on the line: refused, nothing sent
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    assert admin.main(["vault", "add", "MM1"]) == admin.USAGE  # no value
    assert client.sent == []
    assert "no value given" in capsys.readouterr().err


# --- audit verify and export run here, without the server ------------------------------------------


def test_audit_verify_exits_0_for_a_clean_log_and_1_naming_the_first_bad_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from snapshots.audit import segments, write_public_key
    from tests.unit.snapshots.audit_support import T0, signer, write

    refuse_to_connect(monkeypatch)
    key = signer()
    log = write(tmp_path / "audit", count=6)
    log.anchor(key, tmp_path / "audit-anchors", T0 + 10**12)
    log.close()
    write_public_key(key, tmp_path / "audit-anchors" / "audit-key.pub")
    assert admin.main(["audit", "verify", "--data-dir", str(tmp_path)]) == admin.OK
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"audit dir {tmp_path / 'audit'}, anchors {tmp_path / 'audit-anchors'}: 1 chain, 6 records, 0 errors, 0 warnings"
    assert lines[1].split() == ["account-0", "records", "1..6", "1", "segment,", "1", "anchor"] and lines[-1] == "ok"
    segment = segments(tmp_path / "audit" / "account-0")[0].path
    segment.write_bytes(segment.read_bytes()[:-30])  # the tail cut after the anchor (and torn)
    assert admin.main(["--json", "audit", "verify", "--data-dir", str(tmp_path), "--from", "2025-01-01"]) == admin.FAILED
    issues = json.loads(capsys.readouterr().out)["chains"][0]["issues"]
    assert [(i["seq"], i["reason"]) for i in issues if i["severity"] == "error"] == [(6, "truncated after an anchor")]
    other = tmp_path / "other.pub"
    write_public_key(signer(), other)
    assert admin.main(["audit", "verify", "--data-dir", str(tmp_path), "--public-key", str(other)]) == admin.FAILED
    assert "error    6 bad signature" in capsys.readouterr().out


def test_audit_verify_refuses_a_bad_date_with_2_and_a_missing_log_or_key_with_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.unit.snapshots.audit_support import T0, signer, write

    assert admin.main(["audit", "verify", "--data-dir", str(tmp_path), "--from", "20250102"]) == admin.USAGE
    assert capsys.readouterr().err == "audit verify: '20250102' is not a date (YYYY-MM-DD)\n"
    assert admin.main(["audit", "verify", "--data-dir", str(tmp_path)]) == admin.FAILED
    assert capsys.readouterr().err == f"audit verify: no audit log under {tmp_path / 'audit'}\n"
    log = write(tmp_path / "audit", count=2)
    log.anchor(signer(), tmp_path / "audit-anchors", T0)
    log.close()
    assert admin.main(["audit", "verify", "--data-dir", str(tmp_path)]) == admin.FAILED
    assert "no public key at" in capsys.readouterr().err


def test_audit_export_writes_json_lines_into_the_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.unit.snapshots.audit_support import write

    write(tmp_path / "audit", count=4).close()
    out = tmp_path / "out"
    assert admin.main(["audit", "export", "2025-01-01", "2025-01-31", str(out), "--data-dir", str(tmp_path)]) == admin.OK
    assert capsys.readouterr().out == f"exported 4 records of 1 segments to {out}\n"
    assert len((out / "audit.jsonl").read_text().splitlines()) == 4
    assert admin.main(["audit", "export", "2025-01-01", "2025-01-31", str(out), "--data-dir", str(tmp_path)]) == admin.FAILED
    assert "exists; export into another folder" in capsys.readouterr().err
