"""Every ``ray.remote`` option in one place: names, namespace, restarts, resources.

Actors take no CPU reservation (``num_cpus=0``): they are long-lived and mostly idle per
call, and on a 2-core machine a per-actor CPU claim would stop the topology from fitting.
``max_restarts=-1`` lets Ray restart an actor whose process dies; ``max_task_retries``
lets it retry calls (the receiver's ``(sender, seq)`` check makes repeats harmless).

Every actor is *detached* (``lifetime="detached"``): owned by no process, so the
supervisor that created it can die and be restarted without taking it along (an actor
created by an actor is otherwise owned by it, and dies with it). A detached actor outlives
the driver too: the server's stop kills each by name, and a start kills those left without
a supervisor (``server/app.py``). The supervisor is detached on a cluster (``--address``):
a driver that dies leaves the server running and the next one attaches; with the embedded
Ray it is owned by the driver, whose end is the server's end. Ray restarts it when its
process dies, and it finds the other actors by name (docs/recovery.md).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import MutableMapping
from typing import Any


def actor_options(name: str, namespace: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": namespace,
        "num_cpus": 0,
        "max_restarts": -1,
        "max_task_retries": -1,
        "max_concurrency": 1000,
        "lifetime": "detached",
    }


def supervisor_options(namespace: str, detached: bool = False) -> dict[str, Any]:
    """The supervisor's: restarted by Ray like every actor, and calls never retried — an
    operator's command caught by its death fails with a clear error instead of running
    twice or waiting for the restart. Owned by the driver (the driver's end is the server's
    end), or ``detached`` on a cluster (``--address``): then it outlives a driver that dies,
    and the next driver attaches to it (``BrokerServer.start``)."""
    options = actor_options("supervisor", namespace)
    if not detached:
        del options["lifetime"]
    options["max_task_retries"] = 0
    return options


RAY_INIT_DEFAULTS: dict[str, Any] = {
    "include_dashboard": False,
    "log_to_driver": True,
    "configure_logging": False,
}


# Ray binds its own ports (GCS, raylet and object manager, every worker's, the runtime-env
# agent's) to its node address when that address is loopback, and to every interface
# otherwise; and on Linux it never takes loopback as its node address unless told it is not
# a cluster (``ray.init(_node_ip_address="127.0.0.1")`` is replaced by the machine's
# address). This variable is how it is told; Ray reads it when it is imported, and its
# daemons and workers inherit it.
RAY_SINGLE_NODE_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
ANY_ADDRESS = ("0.0.0.0", "::", "")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def embedded_ray(host: str, environ: MutableMapping[str, str] = os.environ) -> dict[str, Any]:
    """Prepare the embedded Ray cluster for the server's ``host``; returns what to add to
    ``ray.init``. Call it before ``ray`` is imported.

    Guarantees: a loopback ``host`` (the default) puts every port of Ray's on loopback; an
    operator who gives a node address makes it Ray's node address; ``0.0.0.0`` or ``::``
    leaves Ray to its own choice (the machine's address, ports on every interface)."""
    if is_loopback(host):
        environ[RAY_SINGLE_NODE_ENV] = "0"
        return {}
    if host in ANY_ADDRESS:
        return {}
    return {"_node_ip_address": host}
