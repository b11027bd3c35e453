"""Every ``ray.remote`` option in one place: names, namespace, restarts, resources.

Actors take no CPU reservation (``num_cpus=0``): they are long-lived and mostly idle per
call, and on a 2-core machine a per-actor CPU claim would stop the topology from fitting.
``max_restarts=-1`` lets Ray restart an actor whose process dies; ``max_task_retries``
lets it retry calls (the receiver's ``(sender, seq)`` check makes repeats harmless).
"""

from __future__ import annotations

from typing import Any


def actor_options(name: str, namespace: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": namespace,
        "num_cpus": 0,
        "max_restarts": -1,
        "max_task_retries": -1,
        "max_concurrency": 1000,
    }


def supervisor_options(namespace: str) -> dict[str, Any]:
    options = actor_options("supervisor", namespace)
    options["max_restarts"] = 0
    return options


RAY_INIT_DEFAULTS: dict[str, Any] = {
    "include_dashboard": False,
    "log_to_driver": True,
    "configure_logging": False,
}
