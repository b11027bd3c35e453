"""Starting the server: from ``run_server.py`` to its ready line, and an actor killed to re-wired.

    python tests/perf/bench_start.py [--repeats 3] [--compare-with CHECKOUT]

Each repeat:

1. starts ``run_server.py`` on an empty data dir (the embedded defaults: ``conf/``, Ray
   started by the server) and times it from the command to its ``brokerd ready`` line;
   reads the CPU seconds every process of its session spent until then (``/proc``: the
   driver, Ray's daemons, every actor's worker) and each actor worker's alone;
2. SIGKILLs the process of ``account-0`` and times until ``admin status`` says Ray restarted
   it and the supervisor re-wired it (its ``restarts`` ≥ 1): the outage of one actor;
3. stops the server (SIGTERM).

Baseline in the same run, alternated with it: a bare Ray cluster started as the server starts
its own (``ray.init`` with the server's options, every port on loopback) and as many trivial
actors as the server has, each answering one call — what Ray alone costs for a topology of
that size. ``start ÷ bare Ray`` is the figure that holds on a noisy machine.

``--compare-with CHECKOUT`` also starts another checkout of brokerd (e.g. the version
before a change) in each repeat, alternated with this one, and prints its figures beside.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.integration.recovery import admin, session_processes  # noqa: E402

READY_TIMEOUT_S = 180
TICKS = os.sysconf("SC_CLK_TCK")

# what the baseline runs: Ray started with the server's options (actors/runtime/options.py),
# then ``n`` trivial actors created at once, each answering one call
BARE_RAY = textwrap.dedent(
    """
    import os, sys
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # every port on loopback, as the server's
    import ray
    ray.init(include_dashboard=False, log_to_driver=True, configure_logging=False, num_cpus=os.cpu_count())

    @ray.remote
    class Trivial:
        def ping(self):
            return os.getpid()

    actors = [Trivial.options(name=f"a{i}").remote() for i in range(int(sys.argv[1]))]
    ray.get([actor.ping.remote() for actor in actors])
    print("ready", flush=True)
    sys.stdin.read()  # until the benchmark closes it
    ray.shutdown()
    """
)


def cpu_by_process(session: int) -> dict[int, tuple[str, float]]:
    """Every live process of the session: its name and its CPU seconds (user + system)."""
    found = {}
    for pid in session_processes(session):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                text = stat.read()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        found[pid] = (name, (int(fields[11]) + int(fields[12])) / TICKS)
    return found


def cpu_figures(session: int) -> dict[str, float]:
    processes = cpu_by_process(session).values()
    workers = [cpu for name, cpu in processes if name.startswith("ray::") and not name.startswith(("ray::Dashboard", "ray::RuntimeEnv"))]
    return {"session_cpu_s": sum(cpu for _, cpu in processes), "worker_cpu_s": sum(workers), "workers": len(workers)}


def stop_session(process: subprocess.Popen[bytes]) -> None:
    """Everything the session left, gone."""
    for _ in range(200):
        pids = session_processes(process.pid)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)
    process.wait()


async def start_server(root: Path, work: Path) -> dict[str, float]:
    """One start of ``root``'s server on an empty data dir, one actor killed, the stop."""
    data = work / "data"
    command = [sys.executable, str(root / "run_server.py"), "--data-dir", str(data), "--ws-port", "0"]
    env = {**os.environ, "PYTHONPATH": str(root)}
    env.pop("RAY_ADDRESS", None)
    began = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, cwd=root, start_new_session=True)
    try:
        assert process.stdout is not None
        url = ""
        while time.monotonic() - began < READY_TIMEOUT_S:
            line = process.stdout.readline().decode()
            if line.startswith("brokerd ready "):
                url = line.split()[2]
                break
            if not line and process.poll() is not None:
                break
        if not url:
            raise RuntimeError(f"{root}: the server did not become ready")
        figures: dict[str, float] = {"ready_s": time.monotonic() - began, **cpu_figures(process.pid)}
        status = await admin(url, "status")
        actors = {actor["name"]: actor for actor in status["result"]["actors"]}
        figures["actors"] = len(actors)
        killed = time.monotonic()
        os.kill(actors["account-0"]["pid"], signal.SIGKILL)
        while True:
            status = await admin(url, "status")
            restarted = {actor["name"]: actor.get("restarts", 0) for actor in status["result"]["actors"]}
            if restarted.get("account-0", 0) >= 1:
                break
            if time.monotonic() - killed > READY_TIMEOUT_S:
                raise RuntimeError(f"{root}: account-0 was not re-wired after its kill")
            await asyncio.sleep(0.05)
        figures["rewired_s"] = time.monotonic() - killed
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=120)
        return figures
    finally:
        stop_session(process)
        shutil.rmtree(data, ignore_errors=True)


def start_bare_ray(actors: int) -> dict[str, float]:
    began = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-c", BARE_RAY, str(actors)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True,
        env={key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode()
        if not line.startswith("ready"):
            raise RuntimeError("the bare Ray cluster did not become ready")
        return {"ready_s": time.monotonic() - began, **cpu_figures(process.pid)}
    finally:
        stop_session(process)


def summary(label: str, runs: list[dict[str, float]]) -> dict[str, float]:
    medians = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    shown = "  ".join(f"{key}={medians[key]:.2f} (runs {', '.join(f'{run[key]:.2f}' for run in runs)})" for key in runs[0])
    print(f"  {label:<22} {shown}")
    return medians


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compare-with", type=Path, default=None, help="another checkout of brokerd, started alternately")
    args = parser.parse_args()
    checkouts = {"brokerd": ROOT, **({"compared": args.compare_with.resolve()} if args.compare_with else {})}
    runs: dict[str, list[dict[str, float]]] = {label: [] for label in [*checkouts, "bare Ray"]}
    work = Path(tempfile.mkdtemp(prefix="brokerd-bench-start-"))
    try:
        for repeat in range(args.repeats):
            for label, root in checkouts.items():
                runs[label].append(await start_server(root, work / label))
            actors = int(runs["brokerd"][-1]["actors"])
            runs["bare Ray"].append(start_bare_ray(actors))
            print(f"repeat {repeat + 1}: " + "  ".join(f"{label} ready {run[-1]['ready_s']:.2f} s" for label, run in runs.items()), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nstarting the server (embedded defaults, empty data dir), medians of {args.repeats}:")
    medians: dict[str, Any] = {label: summary(label, run) for label, run in runs.items()}
    bare = medians["bare Ray"]["ready_s"]
    for label in checkouts:
        print(f"  {label}: start ÷ bare Ray with {int(medians['brokerd']['actors'])} actors = {medians[label]['ready_s'] / bare:.2f}")
    if "compared" in medians:
        for key in ("ready_s", "worker_cpu_s", "rewired_s"):
            print(f"  brokerd ÷ compared, {key}: {medians['brokerd'][key] / medians['compared'][key]:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
