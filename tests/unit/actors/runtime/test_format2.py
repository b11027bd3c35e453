"""Format-2 snapshots (pickles) are data: only brokerd's own classes are looked up, through
the allow-list, and what changed layout is migrated field by field. (The snapshots earlier
versions really wrote: ``test_format2_fixtures.py``.)"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import pytest

from actors.runtime import format2
from actors.runtime.format2 import ALLOWED
from actors.runtime.machine import Machine
from actors.runtime.router import Router
from actors.supervisor.core import SupervisorState
from model.config import Config
from snapshots.journal import JournalCorrupt


def machine() -> Machine:
    return Machine("supervisor", SupervisorState(["IBM"]), Router(Config()), 100)


class _Calls:
    """Pickles as a call of ``function(*args)``: what a hostile snapshot would hold."""

    def __init__(self, function: Any, *args: Any) -> None:
        self.function, self.args = function, args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.function, self.args


def format2_pickle(core: Any) -> bytes:
    return pickle.dumps(("brokerd-snapshot/2", core, {}, ({}, {})), protocol=5)


def test_a_pickle_naming_os_system_is_refused_and_nothing_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    payload = format2_pickle(_Calls(os.system, f"touch {marker}"))
    with pytest.raises(JournalCorrupt, match=r"supervisor: the format-2 snapshot names (posix|os)\.system, which is not one of brokerd's snapshot classes; refused"):
        machine().load(payload)
    assert not marker.exists()


@pytest.mark.parametrize("target", [eval, getattr, __import__, Machine, Path])
def test_any_global_outside_the_allow_list_is_refused(target: Any) -> None:
    """Builtins that run code, and classes of our own that are no snapshot records alike."""
    with pytest.raises(JournalCorrupt, match="which is not one of brokerd's snapshot classes"):
        machine().load(format2_pickle(_Calls(target, "x")))


def test_the_allow_list_holds_only_brokerd_classes_and_random_s_stand_in() -> None:
    for module, name in ALLOWED:
        assert module.split(".")[0] in ("model", "actors", "adapters") or (module, name) == ("random", "Random"), (module, name)
    assert issubclass(ALLOWED[("random", "Random")], format2.Pickled)  # its state is kept, no generator is built


def test_an_earlier_format_and_a_damaged_pickle_are_refused() -> None:
    with pytest.raises(JournalCorrupt, match=r"supervisor: the snapshot is in format brokerd-snapshot/1, which this version does not read"):
        machine().load(pickle.dumps(("brokerd-snapshot/1", None, {}, None)))
    whole = format2_pickle(None)
    with pytest.raises(JournalCorrupt, match="supervisor: the format-2 snapshot cannot be read"):
        machine().load(whole[: len(whole) // 2])
    with pytest.raises(JournalCorrupt, match="supervisor: the format-2 snapshot cannot be read"):
        machine().load(whole)  # no core in it
