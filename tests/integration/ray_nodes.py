"""A Ray cluster of several nodes on this machine (``ray.cluster_utils.Cluster``), run as a
process of its own for the multi-node tests (``test_cluster.py``) and the benchmarks.

    python -m tests.integration.ray_nodes NAME [NAME ...]

starts a head node and one node per further NAME; node NAME gets the custom resource
``brokerd_NAME`` (1 unit) and 1 CPU. It prints one JSON line —
``{"address": GCS, "nodes": {NAME: node id}}`` — then reads commands on stdin, one a line,
answering each with one JSON line:

    remove NAME     the node's processes killed (a lost node); answers {"removed": NAME}
    add NAME        a node started again with that resource; answers {"added": NAME, "id": ...}

and shuts the whole cluster down at end of input (or SIGTERM).

Why a process of its own: the cluster writes its address to ``<RAY_TMPDIR>/ray/
ray_current_cluster``, where any later plain ``ray.init()`` on the machine would find and
join it; run with a private ``RAY_TMPDIR`` (``cluster_env``) it is found by nobody else.
And the test's own process may already be a driver of another Ray session. Every node
listens on loopback (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, node address 127.0.0.1).
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from actors.runtime.options import RAY_SINGLE_NODE_ENV

RESOURCE_PREFIX = "brokerd_"
NODE_CPUS = 1
OBJECT_STORE_BYTES = 80 * 1024 * 1024  # the topology passes small objects only


def resource_of(name: str) -> str:
    return f"{RESOURCE_PREFIX}{name}"


def cluster_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment to run this module (and a driver that joins its cluster) in: a
    private, short Ray temp dir (unix socket paths are limited to 107 bytes) and Ray's
    ports on loopback."""
    env = dict(os.environ if base is None else base)
    env.pop("RAY_ADDRESS", None)
    env["RAY_TMPDIR"] = tempfile.mkdtemp(prefix="bkc-", dir="/tmp")
    env[RAY_SINGLE_NODE_ENV] = "0"
    return env


def _node_args(name: str) -> dict[str, Any]:
    return {
        "num_cpus": NODE_CPUS,
        "resources": {resource_of(name): 1},
        "node_ip_address": "127.0.0.1",
        "object_store_memory": OBJECT_STORE_BYTES,
        "temp_dir": _temp_dir(),
    }


def _temp_dir() -> str:
    """Ray's folder under ``RAY_TMPDIR``, where it also writes the cluster's address."""
    folder = Path(os.environ["RAY_TMPDIR"]) / "ray"
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder)


def _say(value: dict[str, Any]) -> None:
    print(json.dumps(value), flush=True)


def main(names: list[str]) -> int:
    if not names or "RAY_TMPDIR" not in os.environ:
        print("usage: RAY_TMPDIR=DIR python -m tests.integration.ray_nodes NAME [NAME ...]", file=sys.stderr)
        return 2
    from ray.cluster_utils import Cluster

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # atexit then shuts the cluster down
    cluster = Cluster(initialize_head=True, head_node_args={**_node_args(names[0]), "include_dashboard": False})
    nodes = {names[0]: cluster.head_node}
    for name in names[1:]:
        nodes[name] = cluster.add_node(**_node_args(name))
    cluster.wait_for_nodes()
    _say({"address": cluster.address, "nodes": {name: node.node_id for name, node in nodes.items()}, "temp_dir": os.environ["RAY_TMPDIR"]})
    try:
        for line in sys.stdin:
            words = line.split()
            if len(words) == 2 and words[0] == "remove" and words[1] in nodes:
                cluster.remove_node(nodes.pop(words[1]), allow_graceful=False)
                _say({"removed": words[1]})
            elif len(words) == 2 and words[0] == "add" and words[1] not in nodes:
                nodes[words[1]] = cluster.add_node(**_node_args(words[1]))
                _say({"added": words[1], "id": nodes[words[1]].node_id})
            else:
                _say({"error": f"not understood: {line.strip()!r}"})
    finally:
        cluster.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))



class RayNodes:
    """This module run as a process of its own, from a test: ``start`` returns once every
    node is up; ``remove``/``add`` lose and bring back a node; ``stop`` shuts it all down.
    ``env`` is what a driver that joins the cluster runs with (``address``)."""

    def __init__(self, names: list[str], ready_timeout_s: float = 120) -> None:
        self.names = names
        self.ready_timeout_s = ready_timeout_s
        self.env = cluster_env()
        self.process: subprocess.Popen[str] | None = None
        self.address = ""
        self.node_ids: dict[str, str] = {}

    def start(self) -> None:
        command = [sys.executable, "-m", "tests.integration.ray_nodes", *self.names]
        with open(Path(self.env["RAY_TMPDIR"]) / "nodes.log", "ab") as log:  # the child keeps its own copy
            self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, env=self.env, start_new_session=True)
        ready = self._answer(self.ready_timeout_s)
        self.address, self.node_ids = ready["address"], ready["nodes"]

    def remove(self, name: str, timeout_s: float = 60) -> None:
        self._command(f"remove {name}", timeout_s)
        self.node_ids.pop(name)

    def add(self, name: str, timeout_s: float = 60) -> None:
        self.node_ids[name] = self._command(f"add {name}", timeout_s)["id"]

    def _command(self, line: str, timeout_s: float) -> dict[str, Any]:
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        answer = self._answer(timeout_s)
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer

    def _answer(self, timeout_s: float) -> dict[str, Any]:
        assert self.process is not None and self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout_s)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            log = (Path(self.env["RAY_TMPDIR"]) / "nodes.log").read_text()[-3000:]
            self.stop()
            raise RuntimeError(f"the Ray cluster did not answer within {timeout_s:g} s:\n{log}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def stop(self, timeout_s: float = 60) -> None:
        """End of input: the cluster shuts down; whatever is left of it then is killed."""
        process, self.process = self.process, None
        if process is None:
            return
        try:
            if process.stdin is not None:
                process.stdin.close()
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        shutil.rmtree(self.env["RAY_TMPDIR"], ignore_errors=True)
