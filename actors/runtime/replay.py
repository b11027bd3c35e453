"""Replay one actor's journal offline, without Ray: ``python -m actors.runtime.replay DATA_DIR ACTOR
[--config conf/server.toml]`` prints the state hash of snapshot + replay and of a replay
from the oldest point the journal still holds. Used to show that replay is deterministic
(the same journal, any process, any ``PYTHONHASHSEED``: the same hash)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from actors.runtime.machine import Machine, oldest_snapshot
from actors.runtime.roles import ROLES, build_core
from actors.runtime.router import SUPERVISOR, Router
from actors.supervisor.core import ActorPlan, plan
from model.config import Setup, load_setup
from snapshots.journal import Journal


def actor_plan(setup: Setup, name: str) -> ActorPlan:
    if name == SUPERVISOR:
        return ActorPlan(SUPERVISOR, SUPERVISOR, instruments=setup.instruments)
    for candidate in plan(setup, ROLES):
        if candidate.name == name:
            return candidate
    raise SystemExit(f"no actor {name} in this configuration")


def replay(setup: Setup, data_dir: Path, name: str) -> dict[str, object]:
    """Rebuild ``name`` from its oldest snapshot (or from empty) and replay everything."""
    journal = Journal(data_dir / name, name, durability="buffered", readonly=True)
    try:
        machine = Machine(name, build_core(actor_plan(setup, name), setup.config), Router(setup.config), setup.config.batching.max_messages)
        rebuilt = machine.rebuild(journal, oldest_snapshot(journal))
        return {"actor": name, "from": rebuilt.start, "records": rebuilt.records, "hash": machine.state_hash()}
    finally:
        journal.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m actors.runtime.replay")
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("actor")
    parser.add_argument("--config", default=str(Path(__file__).resolve().parents[2] / "conf" / "server.toml"))
    args = parser.parse_args(argv)
    print(json.dumps(replay(load_setup(args.config), args.data_dir, args.actor)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
