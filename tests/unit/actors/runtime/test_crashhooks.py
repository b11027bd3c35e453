"""The crash points of a turn: absent unless armed, and when armed they kill the process
(a real SIGKILL, in a child process) exactly where and when they say."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

from actors.runtime.crashhooks import TurnCrashPoints
from snapshots.crashpoints import NOWHERE, CrashPoints

ROOT = Path(__file__).resolve().parents[4]


def test_no_hooks_unless_a_point_is_armed_for_this_process(tmp_path: Path) -> None:
    core = SimpleNamespace(allocations=0)
    assert TurnCrashPoints.armed(NOWHERE, core) is None
    assert TurnCrashPoints.armed(CrashPoints("apply.before_send:1:account-1", "account-0", tmp_path), core) is None
    (tmp_path / "crashed-apply.before_send").write_text("1\n")  # it crashed once here already
    assert TurnCrashPoints.armed(CrashPoints("apply.before_send:1", "account-0", tmp_path), core) is None
    assert TurnCrashPoints.armed(CrashPoints("journal.after_commit:1", "account-0", tmp_path), core) is not None


def run(spec: str, data_dir: Path, steps: str) -> subprocess.CompletedProcess[str]:
    """In a child: arm ``spec``, then run ``steps`` (hooks: ``hooks``; the core: ``core``),
    printing each step's name before it."""
    script = textwrap.dedent(
        f"""
        from types import SimpleNamespace
        from actors.runtime.crashhooks import TurnCrashPoints
        from snapshots.crashpoints import CrashPoints

        core = SimpleNamespace(allocations=0, nav_markers=0)
        hooks = TurnCrashPoints.armed(CrashPoints({spec!r}, "account-0", {str(data_dir)!r}), core)
        """
    ) + textwrap.dedent(steps)
    return subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, env={"PYTHONPATH": str(ROOT)})


def test_a_before_send_point_fires_at_its_kth_pass(tmp_path: Path) -> None:
    steps = """
        for turn in (1, 2, 3):
            hooks.after_commit()
            print("applied", turn, flush=True)
            hooks.before_send(core)
            print("sent", turn, flush=True)
    """
    done = run("apply.before_send:2", tmp_path, steps)
    assert done.returncode == -signal.SIGKILL
    assert done.stdout.split("\n")[:-1] == ["applied 1", "sent 1", "applied 2"]
    assert (tmp_path / "crashed-apply.before_send").exists()
    again = run("apply.before_send:2", tmp_path, "print(hooks is None)")
    assert (again.returncode, again.stdout) == (0, "True\n")  # once per data dir: the restart runs on


def test_the_allocation_and_nav_points_count_only_turns_that_allocated_or_passed_a_marker(tmp_path: Path) -> None:
    steps = """
        for turn, allocations in ((1, 0), (2, 0), (3, 4), (4, 4), (5, 9)):
            core.allocations = allocations
            core.nav_markers = allocations
            print("turn", turn, flush=True)
            hooks.before_send(core)
    """
    for point in ("allocation.before_send", "nav.before_send"):
        (tmp_path / point).mkdir()
        done = run(f"{point}:2", tmp_path / point, steps)
        assert done.returncode == -signal.SIGKILL, point
        assert done.stdout.split() == ["turn", "1", "turn", "2", "turn", "3", "turn", "4", "turn", "5"], point


def test_the_fill_point_counts_only_turns_that_held_a_trade(tmp_path: Path) -> None:
    steps = """
        from model.enums import VenueEventKind
        from model.messages import Batch, OrderUpdate

        def turn(*kinds):
            updates = [OrderUpdate("account-1-1", "A1", VenueEventKind(kind), 1, 1, None, "SIM", 0) for kind in kinds]
            return [Batch("instrument-0", 1, 0, updates)]

        for number, kinds in ((1, ()), (2, ("accepted",)), (3, ("accepted", "trade")), (4, ("canceled",)), (5, ("trade",)), (6, ("trade",))):
            print("turn", number, flush=True)
            hooks.before_send(core, turn(*kinds))
    """
    done = run("fill.before_send:2", tmp_path, steps)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert done.stdout.split() == ["turn", "1", "turn", "2", "turn", "3", "turn", "4", "turn", "5"]
    assert (tmp_path / "crashed-fill.before_send").exists()
