"""The open benchmark's command line (``tests/perf/bench_open.py``): an upload size it cannot
honour is refused, not rounded."""

from __future__ import annotations

import pytest

from tests.perf import bench_open


@pytest.mark.parametrize("given", ["1500", "0", "-1000", "50k"])
def test_bench_open_refuses_an_upload_size_that_is_not_whole_thousands(given: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        bench_open.options().parse_args(["--upload", given])
    assert "--upload" in capsys.readouterr().err


def test_bench_open_takes_an_upload_size_in_whole_thousands() -> None:
    assert bench_open.options().parse_args(["--upload", "50000"]).upload == 50_000
    assert bench_open.options().parse_args([]).upload == 0  # new_orders frames


@pytest.mark.parametrize("given", ["0", "-2", "two"])
def test_bench_open_refuses_files_at_once_below_one(given: str, capsys: pytest.CaptureFixture[str]) -> None:
    """None at once would wait for ever: refused before anything starts."""
    with pytest.raises(SystemExit):
        bench_open.options().parse_args(["--files-at-once", given])
    assert "--files-at-once" in capsys.readouterr().err


def test_bench_open_loads_one_file_at_a_time_unless_told() -> None:
    assert bench_open.options().parse_args([]).files_at_once == 1
    assert bench_open.options().parse_args(["--files-at-once", "3"]).files_at_once == 3
