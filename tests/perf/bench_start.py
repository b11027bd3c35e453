"""Starting the server: from ``run_server.py`` to its ready line, and an actor killed to re-wired.

    python tests/perf/bench_start.py [--repeats 3] [--compare-with CHECKOUT] [--accounts N]

Each repeat:

1. starts ``run_server.py`` on an empty data dir (the embedded defaults: ``conf/``, Ray
   started by the server; with ``--accounts N``, the accounts file holds N more accounts
   of the demo's ``trader1``, 1,000.00 each) and times it from the command to its ``brokerd ready`` line;
   reads the CPU seconds every process of its session spent until then (``/proc``: the
   driver, Ray's daemons, every actor's worker), the actors' workers' alone and their
   resident memory;
2. SIGKILLs the process of ``account-0`` and times until ``admin status`` says Ray restarted
   it and the supervisor re-wired it (its ``restarts`` ≥ 1): the outage of one actor;
3. stops the server (SIGTERM).

Baseline in the same run, alternated with it: a bare Ray cluster started as the server starts
its own (``ray.init`` with the server's options, every port on loopback) and as many trivial
actors as the server has, created with the server's actor options, each answering one call
— what Ray alone costs for a topology of that size. ``start ÷ bare Ray`` is the figure that
holds on a noisy machine. The order of the starts is reversed every other repeat.

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

from tests.integration.recovery import READY_TIMEOUT_S, ServerProcess, admin, kill_session, session_processes, wait_for_line  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")

# what the baseline runs: Ray started with the server's options (actors/runtime/options.py),
# then ``n`` trivial actors created at once with the server's actor options, each answering
# one call
BARE_RAY = textwrap.dedent(
    """
    import os, sys
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # every port on loopback, as the server's
    import ray
    ray.init(include_dashboard=False, log_to_driver=True, configure_logging=False, num_cpus=os.cpu_count())

    from actors.runtime.options import actor_options

    @ray.remote
    class Trivial:
        async def ping(self):
            return os.getpid()

    # created as the server creates its actors (no CPU reserved, detached, async, named)
    actors = [Trivial.options(**actor_options(f"a{i}", "bench-start")).remote() for i in range(int(sys.argv[1]))]
    ray.get([actor.ping.remote() for actor in actors])
    print("bare ray ready", flush=True)
    sys.stdin.read()  # until the benchmark ends the session
    """
)


def by_process(session: int) -> dict[int, tuple[str, float, float]]:
    """Every live process of the session: its name, its CPU seconds (user + system) and its
    resident memory in MB."""
    found = {}
    for pid in session_processes(session):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                text = stat.read()
            with open(f"/proc/{pid}/status") as status:
                rss_kb = next((int(line.split()[1]) for line in status if line.startswith("VmRSS:")), 0)
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        # its own and its reaped children's (a process that ended before the reading counts)
        found[pid] = (name, sum(int(field) for field in fields[11:15]) / TICKS, rss_kb / 1024)
    return found


def cpu_figures(session: int) -> dict[str, float]:
    """The CPU of every process of the session, and the CPU and memory of the actors' workers
    (Ray's ``ray::`` processes but its two agents and idle workers)."""
    processes = by_process(session).values()
    workers = [(cpu, rss) for name, cpu, rss in processes if name.startswith("ray::") and not name.startswith(("ray::Dashboard", "ray::RuntimeEnv", "ray::IDLE"))]
    return {
        "session_cpu_s": sum(cpu for _, cpu, _ in processes),
        "worker_cpu_s": sum(cpu for cpu, _ in workers),
        "worker_rss_mb": sum(rss for _, rss in workers),
        "workers": len(workers),
    }


def conf_with_accounts(root: Path, work: Path, accounts: int) -> Path:
    """``root``'s config dir, copied with ``accounts`` more accounts in its accounts file;
    its server.toml. None more: the config dir as it is."""
    if not accounts:
        return root / "conf" / "server.toml"
    conf = work / "conf"
    shutil.rmtree(conf, ignore_errors=True)
    shutil.copytree(root / "conf", conf)
    with (conf / "accounts.csv").open("a") as csv:
        csv.writelines(f"S{n:07d},trader1,1000.00,false,,\n" for n in range(accounts))
    return conf / "server.toml"


async def start_server(root: Path, work: Path, accounts: int = 0) -> dict[str, float]:
    """One start of ``root``'s server on an empty data dir, one actor killed, the stop."""
    work.mkdir(parents=True, exist_ok=True)
    server = ServerProcess(conf_with_accounts(root, work, accounts), work / "data", {"PYTHONPATH": str(root)}, root=root)
    began = time.monotonic()
    url = server.start()
    try:
        assert server.process is not None
        figures: dict[str, float] = {"ready_s": time.monotonic() - began, **cpu_figures(server.process.pid)}
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
            await asyncio.sleep(0.05)  # finer than wait_restarted's 0.2 s: this is the figure
        figures["rewired_s"] = time.monotonic() - killed
        if server.stop() != 0:
            raise RuntimeError(f"{root}: the server's stop did not exit 0; see {server.log}")
        return figures
    finally:
        server.kill9()
        shutil.rmtree(work / "data", ignore_errors=True)


def start_bare_ray(actors: int, work: Path) -> dict[str, float]:
    work.mkdir(parents=True, exist_ok=True)
    log = work / "bare-ray.log"
    env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
    began = time.monotonic()
    with log.open("ab") as err:
        process = subprocess.Popen(
            [sys.executable, "-c", BARE_RAY, str(actors)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, start_new_session=True, cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)},
        )
    try:
        wait_for_line(process, "bare ray ready", began + READY_TIMEOUT_S, log)
        return {"ready_s": time.monotonic() - began, **cpu_figures(process.pid)}
    finally:
        kill_session(process)


def summary(label: str, runs: list[dict[str, float]]) -> dict[str, float]:
    medians = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    shown = "  ".join(f"{key}={medians[key]:.2f} (runs {', '.join(f'{run[key]:.2f}' for run in runs)})" for key in runs[0])
    print(f"  {label:<22} {shown}")
    return medians


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compare-with", type=Path, default=None, help="another checkout of brokerd, started alternately")
    parser.add_argument("--accounts", type=int, default=0, help="accounts added to the accounts file (e.g. 100000)")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    checkouts = {"brokerd": ROOT, **({"compared": args.compare_with.resolve()} if args.compare_with else {})}
    runs: dict[str, list[dict[str, float]]] = {label: [] for label in [*checkouts, "bare Ray"]}
    work = Path(tempfile.mkdtemp(prefix="brokerd-bench-start-"))
    try:
        actors = 0
        for repeat in range(args.repeats):
            order = [*checkouts, "bare Ray"]
            if repeat % 2:
                order.reverse()  # the order alternates: none always runs first, or after the same one
            for label in order:
                if label == "bare Ray":
                    assert actors, "a server runs before the first baseline (repeat 1's order)"
                    runs[label].append(start_bare_ray(actors, work / label))
                else:
                    runs[label].append(await start_server(checkouts[label], work / label, args.accounts))
                    actors = actors or int(runs[label][-1]["actors"])
            print(f"repeat {repeat + 1}: " + "  ".join(f"{label} ready {run[-1]['ready_s']:.2f} s" for label, run in runs.items()), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    accounts = f", {args.accounts:,} more accounts" if args.accounts else ""
    print(f"\nstarting the server (embedded defaults{accounts}, empty data dir), medians of {args.repeats}:")
    medians: dict[str, Any] = {label: summary(label, run) for label, run in runs.items()}
    bare = medians["bare Ray"]["ready_s"]
    for label in checkouts:
        print(f"  {label}: start ÷ bare Ray with {int(medians['brokerd']['actors'])} actors = {medians[label]['ready_s'] / bare:.2f}")
    if "compared" in medians:
        for key in ("ready_s", "worker_cpu_s", "worker_rss_mb", "rewired_s"):
            print(f"  brokerd ÷ compared, {key}: {medians['brokerd'][key] / medians['compared'][key]:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
