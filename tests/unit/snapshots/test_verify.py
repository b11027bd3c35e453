from __future__ import annotations

import json
from pathlib import Path

import lmdb
import pytest

from snapshots.verify import DataDirError, verify_data_dir
from tests.unit.snapshots.faults import build_data_dir, corrupt


def test_a_good_data_dir_reports_every_actor_with_its_range_and_snapshots(tmp_path: Path) -> None:
    build_data_dir(tmp_path)
    (tmp_path / "crashed-journal.truncate").write_text("1\n")  # files beside the actors are not actors
    (tmp_path / "empty-dir").mkdir()
    report = verify_data_dir(tmp_path)
    assert report["ok"] is True
    assert (report["errors"], report["warnings"]) == (0, 0)
    assert report["actors"] == [
        {"name": name, "first_seq": 1, "last_seq": 5, "snapshots": [2, 4], "issues": []}
        for name in ("account-0", "instrument-0", "supervisor")
    ]
    assert json.loads(json.dumps(report)) == report


def test_a_damaged_record_makes_the_report_not_ok_and_names_the_actor(tmp_path: Path) -> None:
    build_data_dir(tmp_path)
    corrupt(tmp_path / "instrument-0", b"journal", 3)
    corrupt(tmp_path / "supervisor", b"snapshots", 4)
    report = verify_data_dir(tmp_path)
    assert report["ok"] is False
    assert (report["errors"], report["warnings"]) == (1, 1)
    issues = {actor["name"]: actor["issues"] for actor in report["actors"]}
    assert issues["account-0"] == []
    assert [(i["severity"], i["where"]) for i in issues["instrument-0"]] == [("error", "instrument-0 journal 3")]
    assert [(i["severity"], i["where"]) for i in issues["supervisor"]] == [("warning", "supervisor snapshot 4")]


def test_warnings_alone_leave_the_report_ok(tmp_path: Path) -> None:
    build_data_dir(tmp_path, ("account-0",))
    corrupt(tmp_path / "account-0", b"journal", 5)
    report = verify_data_dir(tmp_path)
    assert (report["ok"], report["errors"], report["warnings"]) == (True, 0, 1)


def test_an_environment_that_is_not_a_journal_is_an_error_not_a_crash(tmp_path: Path) -> None:
    build_data_dir(tmp_path, ("account-0",))
    lmdb.open(str(tmp_path / "stranger")).close()
    report = verify_data_dir(tmp_path)
    assert report["ok"] is False
    (stranger,) = [actor for actor in report["actors"] if actor["name"] == "stranger"]
    (issue,) = stranger["issues"]
    assert issue["severity"] == "error" and issue["detail"].startswith("cannot open")


def test_a_missing_data_dir_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataDirError, match="does not exist"):
        verify_data_dir(tmp_path / "nowhere")


def test_a_data_dir_without_actor_journals_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "account-0").mkdir()
    with pytest.raises(DataDirError, match="holds no actor journal"):
        verify_data_dir(tmp_path)


def test_a_file_in_place_of_the_data_dir_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("")
    with pytest.raises(DataDirError, match="not a directory"):
        verify_data_dir(tmp_path / "data")
