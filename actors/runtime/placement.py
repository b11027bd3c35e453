"""Which node of the Ray cluster each actor runs on, and where its data lives there
(``[placement]``, docs/scale.md).

A node is named in the configuration by a Ray *custom resource* its ``ray start
--resources`` gave it; a placed actor asks for a small share of it (``1 /
actors_per_unit``), so Ray can only start it — and restart it — on that node. Custom
resources rather than ``label_selector``: in Ray 2.60 label selectors are still marked
experimental, and node affinity by node id cannot be written in a configuration (a node's
id changes each time it starts); resources are Ray's long-standing way to steer actors,
and ``ray.cluster_resources()`` lets the start check that every named node is there.

Each placed actor gets its own copy of the configuration (``placed_config``): its data dir
is its node's (``[placement.nodes.NAME] data_dir``, else ``[server] data_dir`` read on that
node's disk), while the files every node must see — API keys, TOTP enrolments, the audit
signing key, public key and anchors, daily bars, the admin import and export dirs — are
pinned to absolute paths under ``[placement] shared_dir``. With no ``[placement]`` nothing
changes: the same configuration object, no Ray option added.
"""

from __future__ import annotations

import fnmatch
import socket
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import msgspec

from actors.runtime.options import is_loopback
from actors.runtime.outputs import ACCOUNT, INSTRUMENT, STRATEGY
from model.config import Config, PlacementSection, Setup

# Ray compares resources in steps of 1/10000: a demand is "more" only beyond that
RESOURCE_STEP = 1e-4


class PlacementError(Exception):
    """The cluster cannot run the topology as ``[placement]`` says (raised before any
    actor is created, so nothing waits forever for a node that is not there)."""


def configured(placement: PlacementSection) -> bool:
    return bool(placement.nodes or placement.rules or placement.shared_dir)


def matches(pattern: str, name: str, role: str) -> bool:
    """A rule's pattern names a role (``account``) or actors by name with shell wildcards."""
    return pattern == role or fnmatch.fnmatchcase(name, pattern)


def node_of(placement: PlacementSection, name: str, role: str) -> str | None:
    """The node the first matching rule pins ``name`` to; None: Ray places it."""
    for rule in placement.rules:
        if any(matches(pattern, name, role) for pattern in rule.actors):
            return rule.node
    return None


def placement_options(placement: PlacementSection, node: str | None) -> dict[str, Any]:
    """The ``ray.remote`` options that keep an actor on ``node`` (none for None)."""
    if node is None:
        return {}
    return {"resources": {placement.nodes[node].resource: 1 / placement.actors_per_unit}}


def shared_paths(config: Config) -> Config:
    """``config`` with every file all nodes must see at an absolute path under the shared
    dir, so an actor whose data dir is its node's still finds them. Identity without
    ``[placement]``.

    Guarantees: idempotent; the data dir and everything else unchanged."""
    placement = config.placement
    if not configured(placement):
        return config
    # each file where the config itself puts it, the shared dir standing for the data dir
    # (its defaults are the config's; an absolute path stays, as the secret files are once loaded)
    shared = Path(placement.shared_dir or config.server.data_dir)
    secrets, audit, admin = config.secrets, config.audit, config.admin
    secrets = msgspec.structs.replace(secrets, api_keys_file=str(secrets.api_keys_path(shared)), mfa_file=str(secrets.mfa_path(shared)))
    audit = msgspec.structs.replace(
        audit,
        anchor_dir=str(audit.anchor_root(shared)),
        signing_key_file=str(audit.signing_key_path(shared)),
        public_key_file=str(audit.public_key_path(shared)),
    )
    admin = msgspec.structs.replace(admin, import_dir=str(admin.import_root(shared)), export_dir=str(admin.export_root(shared)))
    if placement.failover:  # a chain must outlive its node like the journal it follows
        audit = msgspec.structs.replace(audit, dir=str(audit.root(shared)))
    bars = msgspec.structs.replace(config.bars, dir=str(config.bars.folder(shared)))
    return msgspec.structs.replace(config, secrets=secrets, audit=audit, admin=admin, bars=bars)


def placed_config(config: Config, node: str | None) -> Config:
    """The configuration an actor on ``node`` runs with: its node's data dir, the shared
    files where every node finds them. Identity without ``[placement]``."""
    if not configured(config.placement):
        return config
    config = shared_paths(config)
    data_dir = config.placement.nodes[node].data_dir if node is not None else ""
    if not data_dir:
        return config
    return msgspec.structs.replace(config, server=msgspec.structs.replace(config.server, data_dir=data_dir))


def ship_root(config: Config) -> Path | None:
    """Where journals are shipped (``[placement] failover``, which needs ``shared_dir``),
    None when they are not."""
    placement = config.placement
    return Path(placement.shared_dir) / "ship" if placement.failover else None


def shipped_dirs(config: Config) -> list[Path]:
    """What failover keeps under the shared dir beside the data dir — the journals' shipped
    copies and the audit chains (``shared_paths`` puts them there) — so that ``--fresh``
    checks, and ``--wipe`` empties, them too. Empty without failover."""
    root = ship_root(config)
    return [] if root is None else [root, Path(config.audit.dir)]


def placed_setup(setup: Setup, node: str | None) -> Setup:
    config = placed_config(setup.config, node)
    return setup if config is setup.config else msgspec.structs.replace(setup, config=config)


def cluster_problems(placement: PlacementSection, actors: Iterable[tuple[str, str]], resources: Mapping[str, float]) -> list[str]:
    """What stops the topology's ``actors`` (name, role) from running as ``placement``
    says on a cluster with these total ``resources`` (``ray.cluster_resources()``): a rule
    that matches no actor (a typo would leave actors unplaced), a node whose resource no
    live node has, a node whose resource is too small for the actors pinned to it."""
    actors = list(actors)
    problems = []
    for rule in placement.rules:
        if not any(matches(pattern, name, role) for name, role in actors for pattern in rule.actors):
            problems.append(f"[placement] rule {rule.actors} (node {rule.node!r}) matches no actor of the topology ({', '.join(name for name, _ in actors)})")
    pinned: dict[str, int] = {}
    for name, role in actors:
        node = node_of(placement, name, role)
        if node is not None:
            pinned[node] = pinned.get(node, 0) + 1
    for node, count in pinned.items():
        resource = placement.nodes[node].resource
        need, have = count / placement.actors_per_unit, resources.get(resource, 0.0)
        if have <= 0:
            problems.append(
                f"[placement] node {node!r}: no live node of the Ray cluster has the resource {resource!r} "
                f"(start that node with: ray start --resources '{{\"{resource}\": 1}}' ...)"
            )
        elif need > have + RESOURCE_STEP:
            problems.append(f"[placement] node {node!r}: {count} actors need {need:g} of resource {resource!r}, the cluster has {have:g}")
    return problems


def check_cluster(placement: PlacementSection, actors: Iterable[tuple[str, str]]) -> None:
    """Refuse (``PlacementError``, every problem in one message) a placement this Ray
    cluster cannot satisfy, before anything is created. Nothing to check without rules."""
    if not placement.rules:
        return
    import ray

    problems = cluster_problems(placement, actors, ray.cluster_resources())
    if problems:
        raise PlacementError("; ".join(problems))


def this_node() -> dict[str, str]:
    """Where the calling actor runs: Ray's node id, the node's address, the host's name.
    Outside Ray (a host driven on its own, as the unit tests do) only the host's name: asking
    Ray there would start a Ray of its own in the calling process."""
    import ray

    if not ray.is_initialized():
        return {"id": "", "ip": "", "hostname": socket.gethostname()}
    return {"id": ray.get_runtime_context().get_node_id(), "ip": str(ray.util.get_node_ip_address()), "hostname": socket.gethostname()}


def link_problem(addresses: Mapping[str, tuple[str, int]], node_ips: Mapping[str, str]) -> str | None:
    """Links that listen on loopback while the actors are on machines of different
    addresses cannot reach each other: say so (and what to set) instead of retrying
    forever. None when every link can be reached."""
    loopback = sorted(name for name, (host, _) in addresses.items() if is_loopback(host))
    machines = sorted(set(node_ips.values()))
    if loopback and len(machines) > 1:
        return (
            f"actors run on nodes of {len(machines)} addresses ({', '.join(machines)}) but listen for each other on loopback "
            f"({', '.join(loopback[:5])}{' ...' if len(loopback) > 5 else ''}): set [batching] link_host = \"node\""
        )
    return None


# --- a lost node (``[placement] failover``) ------------------------------------------------------

# The roles whose whole state is their journal (shipped with failover on): they can be
# created again on another node. A FIX venue or the drop copy also keeps a quickfix store,
# a gateway holds its clients' sockets, the supervisor owns the rest: they stay.
MOVABLE_ROLES = frozenset({ACCOUNT, INSTRUMENT, STRATEGY})


def lost(placement: PlacementSection, node: str | None, resources: Mapping[str, float]) -> bool:
    """Whether ``node`` (a name under ``[placement.nodes]``) is gone: no live node of the
    cluster carries its resource (``ray.cluster_resources()`` counts live nodes only)."""
    return node is not None and resources.get(placement.nodes[node].resource, 0.0) <= 0


def failover_target(placement: PlacementSection, node: str, placed: Mapping[str, str | None], resources: Mapping[str, float]) -> str | None:
    """Where the actors of the lost ``node`` go: its ``failover_to`` if that node is alive,
    else the live configured node with the fewest actors placed on it now (by name, for a
    fixed order among equals); None when no configured node is alive."""
    wanted = placement.nodes[node].failover_to
    if wanted and not lost(placement, wanted, resources):
        return wanted
    load = Counter(where for where in placed.values() if where is not None)
    alive = [name for name in placement.nodes if name != node and not lost(placement, name, resources)]
    return min(alive, key=lambda name: (load[name], name)) if alive else None


def node_names(placement: PlacementSection, nodes: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Ray's node id → the ``[placement.nodes]`` name whose resource that live node carries
    (``ray.nodes()``): where each actor runs now, by its configured name."""
    by_resource = {node.resource: name for name, node in placement.nodes.items()}
    names: dict[str, str] = {}
    for node in nodes:
        if not node.get("Alive"):
            continue
        for resource in node.get("Resources", {}):
            if resource in by_resource:
                names[str(node["NodeID"])] = by_resource[resource]
    return names
