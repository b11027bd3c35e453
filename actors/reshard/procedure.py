"""Resharding, offline: ``brokerd admin reshard --shards N`` on a stopped server's data dir.

The procedure (docs/scale.md, "Resharding"), journaled in ``<data-dir>/reshard/procedure.json``:

1. **check**: the data dir is not in use (no server holds its layout lock), has no
   ``[placement]`` (one data dir holds every journal), and holds ``account-0`` ..
   ``account-(M-1)`` with M < N; every journaled actor is loaded as a restart would
   (newest snapshot + replay). Refused, naming each problem, while anything cannot be
   carried over: a batch between journaled actors not yet applied by its receiver, an
   open or a NAV strike whose markers came from some shards only, a journal between
   accounts in flight, traces of a shard beyond M in another actor's sequences.
2. **build** (step ``building``): the account shards' states are redistributed by
   ``shard_of(account, N)`` (``actors/reshard/split.py``), and every InstrumentActor's is
   told the new count (its open waits for N markers; its allocations go to the N shards).
   Each goes into a new LMDB environment under ``reshard/new/<actor>/`` as one snapshot at
   the sequence the old journal ended at (a new shard: 1), with the actor's sequences —
   the last seq applied per sender, the seq sent per destination — kept, and the batches
   its receivers have applied dropped (as an ack would). Each is then read back as a
   restart would and checked: invariants, and every account's state byte for byte.
3. **commit**: the procedure file says ``switching`` (atomically). Before this point a
   rerun starts the build again from the untouched journals; after it, a rerun finishes
   the switch.
4. **switch**: per rewritten actor, ``<data-dir>/<actor>`` is renamed into
   ``reshard/old/`` and ``reshard/new/<actor>`` into its place — each step a rename,
   skipped on a rerun when already done. Then ``layout.json`` records N, and ``reshard/``
   is renamed ``resharded-M-to-N/`` (the old journals: a backup to keep until the new
   layout has been checked).

Guarantees: killed anywhere, a rerun with the same N ends in the same data dir; a server
does not start on a data dir whose reshard has not finished, nor with an
``account_shards`` other than the data dir's (``layout_problem``).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import msgspec

from actors.account.core import AccountSnapshot, AccountState
from actors.instrument.core import InstrumentState
from actors.reshard.layout import (
    LAYOUT,
    PROCEDURE,
    WORK,
    ReshardError,
    account_dirs,
    layout_lock,
    read_procedure,
    recorded_shards,
    write_json,
)
from actors.reshard.split import moved_intact, refusals, split
from actors.runtime.machine import Machine, Rebuilt
from actors.runtime.roles import ROLES, build_core
from actors.runtime.router import SUPERVISOR, Router, account_actor
from actors.runtime.snapshot import capture, parts
from actors.supervisor.core import ActorPlan, plan
from model.config import Config, Setup
from snapshots.crashpoints import CrashPoints, spec_from_environment
from snapshots.files import fsync_directory
from snapshots.journal import Journal

NEW_SHARD_SEQ = 1  # a new shard's snapshot covers sequence 1: its journal continues at 2
SNAPSHOT_PART_BYTES = 16 << 20


# --- the procedure ------------------------------------------------------------------------------


@dataclass
class Loaded:
    """One journaled actor as a restart would rebuild it, and where its journal ended."""

    name: str
    role: str
    machine: Machine
    last_seq: int


def reshard(setup: Setup, data_dir: Path, count: int, crash: CrashPoints, say: Callable[[str], object] = lambda line: None) -> dict[str, Any]:
    """Redistribute the account shards of the stopped server's ``data_dir`` over ``count``
    shards (the module's procedure). Returns what was done; raises ``ReshardError``."""
    if setup.config.placement.nodes or setup.config.placement.rules:
        raise ReshardError("[placement] is set: each node keeps its own journals, and resharding reads one data dir (not built for placement)")
    if setup.config.placement.failover:
        raise ReshardError("[placement] failover is on: the journals' shipped copies would bring the old shards back at the next start (not built with failover)")
    if count < 1:
        raise ReshardError(f"--shards {count}: at least 1")
    if not data_dir.is_dir():
        raise ReshardError(f"no data dir {data_dir}")
    try:
        with layout_lock(data_dir):
            return _run(setup, data_dir, count, crash, say)
    except BlockingIOError:
        raise ReshardError(f"a server is running on {data_dir}: stop it cleanly (SIGTERM or Ctrl-C) first") from None


def _run(setup: Setup, data_dir: Path, count: int, crash: CrashPoints, say: Callable[[str], object]) -> dict[str, Any]:
    work = data_dir / WORK
    procedure = read_procedure(work) if work.is_dir() else {}
    if procedure:
        if procedure["to"] != count:
            raise ReshardError(f"a reshard of {data_dir} to {procedure['to']} shards is under way: run it again with --shards {procedure['to']} to complete it")
        if procedure["step"] == "switching":
            say(f"resuming the switch to {count} account shards")
            return _switch(data_dir, work, procedure, crash, say)
        old = int(procedure["from"])
        shutil.rmtree(work / "new", ignore_errors=True)  # a build cut short: made again from the untouched journals
    else:
        old = _current_shards(data_dir)
        if count == old:
            return {"ok": True, "done": False, "from": old, "to": count, "message": f"the data dir already holds {count} account shards: nothing to do"}
        if count < old:
            raise ReshardError(f"the data dir holds {old} account shards: removing shards is not built (only adding)")
        work.mkdir()
        fsync_directory(data_dir)
        procedure = {"from": old, "to": count, "step": "building"}
        write_json(work / PROCEDURE, procedure)
    say(f"loading every actor's journal ({old} account shards)")
    old_setup = _with_shards(setup, old)
    loaded = _load_all(old_setup, data_dir)
    problems = _refusals(loaded, old, count, setup, data_dir)
    if problems:
        shutil.rmtree(work)  # nothing was changed: the next run starts afresh
        fsync_directory(data_dir)
        raise ReshardError("cannot reshard now:\n  " + "\n  ".join(problems))
    say(f"building {count} account shards")
    built = _build(loaded, old, count, setup, work / "new")
    say("checking the new journals")
    hashes = _check_built(setup, work / "new", built, loaded, old, count)
    procedure = {"from": old, "to": count, "step": "switching", "actors": sorted(built), "hashes": hashes}
    fsync_directory(work / "new")
    write_json(work / PROCEDURE, procedure)  # the commit point: from here on the switch is finished, never undone
    crash.hit("reshard.built")
    return _switch(data_dir, work, procedure, crash, say)


def _switch(data_dir: Path, work: Path, procedure: dict[str, Any], crash: CrashPoints, say: Callable[[str], object]) -> dict[str, Any]:
    """Put the new environments in place (each step a rename, skipped when done already),
    record the layout, and close the procedure by renaming its folder."""
    new, old = work / "new", work / "old"
    old.mkdir(exist_ok=True)
    for index, name in enumerate(procedure["actors"]):
        live, built, kept = data_dir / name, new / name, old / name
        if built.exists():
            if live.exists():
                if kept.exists():
                    raise ReshardError(f"{live} and {kept} both exist while {built} is not in place: restore {data_dir} from a copy")
                live.rename(kept)
            built.rename(live)
            fsync_directory(old)
            fsync_directory(data_dir)
        if index == 0:
            crash.hit("reshard.switch")
    write_json(data_dir / LAYOUT, {"account_shards": procedure["to"]})
    done = _free_name(data_dir / f"resharded-{procedure['from']}-to-{procedure['to']}")
    procedure = {**procedure, "step": "done"}
    write_json(work / PROCEDURE, procedure)
    work.rename(done)
    fsync_directory(data_dir)
    say(f"done: {procedure['to']} account shards; the old journals are in {done}")
    return {"ok": True, "done": True, "from": procedure["from"], "to": procedure["to"], "actors": procedure["actors"], "hashes": procedure["hashes"], "backup": str(done)}


def _current_shards(data_dir: Path) -> int:
    """How many account shards the data dir's journals are written for, refused when its
    account shards are not ``account-0`` .. ``account-(M-1)`` or disagree with ``layout.json``."""
    found = account_dirs(data_dir)
    if not found:
        raise ReshardError(f"{data_dir} holds no account shard's journal: nothing to reshard")
    held = max(found) + 1
    if len(found) != held:
        gaps = sorted(set(range(held)) - set(found))
        raise ReshardError(f"{data_dir} lacks the journals of {', '.join(account_actor(i) for i in gaps)}: not a whole topology")
    recorded = recorded_shards(data_dir)
    if recorded is not None and recorded != held:
        raise ReshardError(f"{data_dir}/{LAYOUT} records {recorded} account shards but the journals are of {held}")
    return held


def _with_shards(setup: Setup, count: int) -> Setup:
    topology = msgspec.structs.replace(setup.config.topology, account_shards=count)
    return msgspec.structs.replace(setup, config=msgspec.structs.replace(setup.config, topology=topology))


def _plans(setup: Setup) -> list[ActorPlan]:
    return [ActorPlan(SUPERVISOR, SUPERVISOR, instruments=setup.instruments), *(p for p in plan(setup, ROLES) if ROLES[p.role].journaled)]


def _load_all(setup: Setup, data_dir: Path) -> dict[str, Loaded]:
    """Every journaled actor of the topology whose journal the data dir holds, rebuilt."""
    loaded: dict[str, Loaded] = {}
    config = setup.config
    for actor_plan in _plans(setup):
        path = data_dir / actor_plan.name
        if not (path / "data.mdb").is_file():
            continue
        machine, _, last_seq = _rebuilt(path, actor_plan, config)
        loaded[actor_plan.name] = Loaded(actor_plan.name, actor_plan.role, machine, last_seq)
    return loaded


def _rebuilt(path: Path, actor_plan: ActorPlan, config: Config) -> tuple[Machine, Rebuilt, int]:
    """The actor of ``actor_plan`` rebuilt from the journal at ``path`` as a restart would
    (newest snapshot, then the records after it), read only; with what the rebuild read and
    the journal's last sequence."""
    journal = Journal(path, actor_plan.name, durability="buffered", readonly=True)
    try:
        machine = Machine(actor_plan.name, build_core(actor_plan, config), Router(config), config.batching.max_messages)
        return machine, machine.rebuild(journal, journal.latest_snapshot()), journal.last_seq
    finally:
        journal.close()


def _refusals(loaded: dict[str, Loaded], old: int, count: int, setup: Setup, data_dir: Path) -> list[str]:
    """Every reason the state cannot be carried over as it is (empty: it can)."""
    problems: list[str] = []
    journaled = {p.name for p in _plans(_with_shards(setup, old))}
    beyond = {account_actor(index) for index in range(old, max(count, old) + 64)}
    for actor in loaded.values():
        machine = actor.machine
        for destination, batches in machine.outbox.dump()[1].items():
            if destination not in journaled:
                continue  # a gateway's: soft, it drops what it did not ask for after its restart
            pending = [seq for seq, _ in _unapplied(actor, destination, batches, loaded)]
            if pending:
                problems.append(
                    f"{actor.name} has {len(pending)} batches to {destination} that it has not applied yet (seq {pending[0]}..{pending[-1]}): "
                    "start the server, let it settle, stop it cleanly and run again"
                )
        seen = set(machine.inbox.applied) | set(machine.outbox.seq)
        for name in sorted(seen & beyond):
            problems.append(f"{actor.name} holds a sequence of {name}, a shard beyond the {old} of this data dir: a leftover of another topology")
    audit_root = setup.config.audit.root(data_dir)
    for name in sorted(beyond):
        if (audit_root / name).exists():
            problems.append(f"{audit_root / name} exists: the audit chain of a shard beyond the {old} of this data dir")
    for actor in loaded.values():
        core = actor.machine.core
        if isinstance(core, AccountState):
            problems.extend(refusals(core.snapshot()))
        elif isinstance(core, InstrumentState):
            problems.extend(_instrument_refusals(core, old))
    return problems


def _instrument_refusals(core: InstrumentState, old: int) -> list[str]:
    """An open or a NAV strike that has the markers of some shards only: the rest are on
    their way from shards whose number is about to change."""
    problems = [f"{core.name}: an open ({key}) waits for the markers of more account shards" for key in core.open_markers]
    for fund, marks in core.nav_marks.items():
        struck = len(core.navs_struck.get(fund, ()))
        if marks and (len(marks) != old or len(set(marks.values())) != 1 or max(marks.values()) != struck):
            problems.append(f"{core.name}: a NAV strike of {fund} waits for the markers of more account shards")
    return problems


def _build(loaded: dict[str, Loaded], old: int, count: int, setup: Setup, new: Path) -> dict[str, int]:
    """The new environments under ``new``: every account shard of ``count`` and every
    InstrumentActor; returns each one's snapshot sequence."""
    shards = {name: actor.machine.core.snapshot() for name, actor in loaded.items() if actor.role == "account"}
    missing = [account_actor(i) for i in range(old) if account_actor(i) not in shards]
    if missing:
        raise ReshardError(f"no journal of {', '.join(missing)}")
    before = {name: msgspec.msgpack.decode(msgspec.msgpack.encode(state), type=AccountSnapshot) for name, state in shards.items()}
    after = split(shards, count)
    problems = moved_intact(before, after, count)
    if problems:
        raise ReshardError("the accounts do not add up after the split (nothing changed):\n  " + "\n  ".join(problems[:20]))
    built: dict[str, int] = {}
    for name, state in after.items():
        source = loaded.get(name)
        seq = source.last_seq if source is not None else NEW_SHARD_SEQ
        applied = dict(source.machine.inbox.applied) if source is not None else {}
        outbox = _undelivered(source, loaded) if source is not None else ({}, {})
        _write(new / name, name, seq, state, applied, outbox, setup)
        built[name] = seq
    for name, actor in loaded.items():
        if actor.role != "instrument":
            continue
        state = msgspec.structs.replace(actor.machine.core.snapshot(), shards=count)
        _write(new / name, name, actor.last_seq, state, dict(actor.machine.inbox.applied), _undelivered(actor, loaded), setup)
        built[name] = actor.last_seq
    return built


def _undelivered(actor: Loaded, loaded: dict[str, Loaded]) -> tuple[dict[str, int], dict[str, list[tuple[int, bytes]]]]:
    """``actor``'s outbox without the batches their receivers have applied (what an ack
    would have dropped): only a gateway's are left (``_refusals`` refused the others)."""
    seqs, unacked = actor.machine.outbox.dump()
    kept: dict[str, list[tuple[int, bytes]]] = {}
    for destination, batches in unacked.items():
        rest = _unapplied(actor, destination, batches, loaded)
        if rest:
            kept[destination] = rest
    return seqs, kept


def _unapplied(sender: Loaded, destination: str, batches: list[tuple[int, bytes]], loaded: dict[str, Loaded]) -> list[tuple[int, bytes]]:
    """Those of ``sender``'s unacked ``batches`` to ``destination`` that its receiver has not
    applied (the ones an ack would not have dropped yet); all of them for a receiver whose
    journal is not here."""
    receiver = loaded.get(destination)
    applied = receiver.machine.inbox.applied.get(sender.name, 0) if receiver is not None else 0
    return [(seq, data) for seq, data in batches if seq > applied]


class _State:
    """A snapshot struct standing for its core (``capture`` asks a core for ``snapshot()``)."""

    snapshot_type: ClassVar[Any] = None  # never restored: only captured

    def __init__(self, state: Any) -> None:
        self.state = state

    def snapshot(self) -> Any:
        return self.state

    @classmethod
    def restore(cls, state: Any) -> Any:
        raise TypeError("a reshard's state is written, never restored through this")


def _write(path: Path, name: str, seq: int, state: Any, applied: dict[str, int], outbox: Any, setup: Setup) -> None:
    """A new environment at ``path`` holding one snapshot at ``seq`` and no record: the
    actor's next record is ``seq + 1``."""
    if path.exists():
        shutil.rmtree(path)
    journal = Journal(path, name, durability="fsync")
    try:
        journal.last_seq = seq  # an empty journal: the snapshot is where it starts
        journal.write_snapshot(seq, parts(capture(_State(state), applied, outbox), SNAPSHOT_PART_BYTES))
        journal.sync()
    finally:
        journal.close()
    fsync_directory(path)


def _check_built(setup: Setup, new: Path, built: dict[str, int], loaded: dict[str, Loaded], old: int, count: int) -> dict[str, str]:
    """Read every new environment back as a restart would (newest snapshot, nothing to
    replay), check its invariants, and every account against the old shards; returns each
    actor's state hash."""
    config = _with_shards(setup, count).config
    plans = {p.name: p for p in _plans(_with_shards(setup, count))}
    hashes: dict[str, str] = {}
    after: dict[str, AccountSnapshot] = {}
    for name, seq in sorted(built.items()):
        machine, rebuilt, _ = _rebuilt(new / name, plans[name], config)
        if rebuilt.snapshot != seq or rebuilt.records:
            raise ReshardError(f"{name}: the new journal reads back from {rebuilt.snapshot} with {rebuilt.records} records, not from {seq} alone")
        machine.core.check_invariants()
        hashes[name] = machine.state_hash()
        if isinstance(machine.core, AccountState):
            after[name] = machine.core.snapshot()
        elif isinstance(machine.core, InstrumentState) and machine.core.shards != count:
            raise ReshardError(f"{name}: reads back with {machine.core.shards} account shards, not {count}")
    before = {name: actor.machine.core.snapshot() for name, actor in loaded.items() if actor.role == "account"}
    problems = moved_intact(before, after, count)
    if problems:
        raise ReshardError("the new journals do not hold the accounts as they were (nothing switched):\n  " + "\n  ".join(problems[:20]))
    return hashes


def _free_name(path: Path) -> Path:
    candidate, number = path, 1
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.name}-{number}")
    return candidate


def environment_crash_points(data_dir: Path) -> CrashPoints:
    """``BROKERD_CRASH_AT`` for the reshard (tests: ``reshard.built``, ``reshard.switch``)."""
    return CrashPoints(spec_from_environment(), "reshard", data_dir)
