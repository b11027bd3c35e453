"""Which data dirs a server of a given shard count may start on (``actors/reshard/layout.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from actors.reshard.layout import ReshardError, check_layout, hold_server_lock, layout_lock, layout_problem, record_layout


def journals(data: Path, *names: str) -> None:
    for name in names:
        (data / name).mkdir(parents=True)
        (data / name / "data.mdb").write_bytes(b"")


def test_a_new_data_dir_may_start_and_its_count_is_recorded(tmp_path: Path) -> None:
    assert layout_problem(tmp_path, 2) is None
    record_layout(tmp_path, 2)
    assert json.loads((tmp_path / "layout.json").read_text()) == {"account_shards": 2}
    assert layout_problem(tmp_path, 2) is None
    assert "holds 2 account shards" in str(layout_problem(tmp_path, 3))


def test_a_data_dir_from_before_the_record_is_judged_by_its_journals(tmp_path: Path) -> None:
    journals(tmp_path, "account-0", "account-1", "instrument-0")
    record_layout(tmp_path, 2)  # journals there already: the count is not guessed
    assert not (tmp_path / "layout.json").exists()
    assert layout_problem(tmp_path, 2) is None
    assert "set account_shards = 2" in str(layout_problem(tmp_path, 1))  # a shard's accounts left out
    assert "admin reshard --shards 3" in str(layout_problem(tmp_path, 3))  # accounts routed where they are not


def test_a_reshard_not_finished_refuses_every_start(tmp_path: Path) -> None:
    (tmp_path / "reshard").mkdir()
    (tmp_path / "reshard" / "procedure.json").write_text(json.dumps({"from": 2, "to": 3, "step": "switching"}))
    for count in (2, 3):
        assert "--shards 3" in str(layout_problem(tmp_path, count))
    with pytest.raises(ReshardError, match="has not finished"):
        check_layout(tmp_path, 3)


def test_a_server_and_a_reshard_exclude_each_other(tmp_path: Path) -> None:
    server = hold_server_lock(tmp_path)
    try:
        with pytest.raises(BlockingIOError), layout_lock(tmp_path):
            pass
        second = hold_server_lock(tmp_path)  # two servers: the namespace check refuses the second later
        second.close()
    finally:
        server.close()
    with layout_lock(tmp_path), pytest.raises(ReshardError, match="a reshard is running"):
        hold_server_lock(tmp_path)
