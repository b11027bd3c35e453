"""Named crash points: the spec is checked, only the named actor's process counts, the k-th
pass kills the process with a real SIGKILL (in a child process here), and once per data dir."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from snapshots import crashpoints
from snapshots.crashpoints import NOWHERE, POINTS, CrashPoints, spec_from_environment

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    "spec",
    ["apply.before_send", "apply.before_send:0", "apply.before_send:x", "nowhere:1", "apply.before_send:1:account-0:extra", "journal.truncate:-1"],
)
def test_a_malformed_spec_is_refused_naming_the_points(spec: str) -> None:
    with pytest.raises(ValueError, match="expected POINT:K\\[:ACTOR\\] with POINT one of journal.before_commit"):
        CrashPoints(spec, "account-0", None)


def test_unset_or_for_another_actor_nothing_is_armed() -> None:
    for crash in (NOWHERE, CrashPoints(None, "account-0", None), CrashPoints("", "account-0", None), CrashPoints("snapshot.write:1:account-1", "account-0", None)):
        assert (crash.point, crash.remaining) == (None, 0)
        crash.hit("snapshot.write")  # unarmed: a pass does nothing


def test_an_armed_point_counts_only_its_own_passes(tmp_path: Path) -> None:
    crash = CrashPoints("journal.after_commit:3:account-0", "account-0", tmp_path)
    assert (crash.point, crash.remaining, crash.marker) == ("journal.after_commit", 3, tmp_path / "crashed-journal.after_commit")
    crash.hit("journal.before_commit")
    crash.hit("journal.after_commit")
    crash.hit("journal.after_commit")
    assert crash.remaining == 1 and not (tmp_path / "crashed-journal.after_commit").exists()


def test_a_data_dir_that_crashed_at_the_point_before_is_not_armed_again(tmp_path: Path) -> None:
    (tmp_path / "crashed-snapshot.write").write_text("123\n")
    assert CrashPoints("snapshot.write:1", "account-0", tmp_path).point is None
    assert CrashPoints("journal.truncate:1", "account-0", tmp_path).point == "journal.truncate"


def test_the_spec_comes_from_brokerd_crash_at_checked() -> None:
    assert spec_from_environment({"BROKERD_CRASH_AT": "nav.before_send:4"}) == "nav.before_send:4"
    assert spec_from_environment({}) == ""
    for bad in ("nav.before_send", "nowhere:1", "apply.before_send:0:account-0", "apply.before_send:x"):
        with pytest.raises(ValueError, match="BROKERD_CRASH_AT"):
            spec_from_environment({"BROKERD_CRASH_AT": bad})


def test_every_documented_point_is_known() -> None:
    documented = crashpoints.__doc__ or ""
    assert all(f"``{point}``" in documented for point in POINTS)


def child(spec: str, data_dir: Path | None, passes: int) -> subprocess.CompletedProcess[str]:
    script = textwrap.dedent(
        f"""
        from snapshots.crashpoints import CrashPoints
        crash = CrashPoints({spec!r}, "account-0", {None if data_dir is None else str(data_dir)!r})
        for number in range(1, {passes} + 1):
            print("pass", number, flush=True)
            crash.hit("journal.before_commit")
        print("done", flush=True)
        """
    )
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, env={"PYTHONPATH": str(ROOT)})


def test_the_kth_pass_kills_the_process_at_once_and_leaves_a_marker_so_the_restart_runs_on(tmp_path: Path) -> None:
    killed = child("journal.before_commit:2", tmp_path, 4)
    assert killed.returncode == -signal.SIGKILL
    assert killed.stdout.split("\n")[:-1] == ["pass 1", "pass 2"]
    assert (tmp_path / "crashed-journal.before_commit").read_text().strip().isdigit()
    restarted = child("journal.before_commit:2", tmp_path, 4)
    assert (restarted.returncode, restarted.stdout.split("\n")[-2]) == (0, "done")


def test_without_a_data_dir_the_point_fires_every_run() -> None:
    for _ in range(2):
        assert child("journal.before_commit:1", None, 2).returncode == -signal.SIGKILL
