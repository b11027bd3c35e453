"""Recovery tests' tools: ``run_server.py`` as a real process — with its own Ray cluster,
killed with SIGKILL (the whole session: driver, Ray's daemons and every actor), or joined to
the test session's cluster (``--address``, the way a server runs on a cluster) where only its
actors are killed — and restarted on the same data dir; clients streaming orders and
remembering what they were told; and the comparison of the restarted server's books with that."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import selectors
import shutil
import signal
import subprocess
import sys
import time
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server.client.sdk import BrokerClient
from tests.conftest import ROOT, TEST_ACCOUNTS

READY_TIMEOUT_S = 90


def write_conf_dir(directory: Path, server_toml: str, user: str = "tester", accounts: list[str] = TEST_ACCOUNTS, cash: str = "1000000.00") -> Path:
    """A config dir: the demo instruments, users and accounts plus ``user`` (secret
    ``<user>-secret``) owning ``accounts`` with ``cash`` each, and the given server.toml.
    Returns the server.toml path."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "conf" / "instruments.toml", directory / "instruments.toml")
    users = (ROOT / "conf" / "users.toml").read_text()
    owned = ", ".join(f'"{account}"' for account in accounts)
    users += f'\n[[users]]\nkey = "{user}"\nsecret = "{user}-secret"\nrole = "trader"\naccounts = [{owned}]\n'
    (directory / "users.toml").write_text(users)
    csv = (ROOT / "conf" / "accounts.csv").read_text().rstrip("\n") + "\n"
    csv += "".join(f"{account},{user},{cash}\n" for account in accounts)
    (directory / "accounts.csv").write_text(csv)
    (directory / "server.toml").write_text(with_demo_logins(server_toml))
    return directory / "server.toml"


def with_demo_logins(server_toml: str) -> str:
    """``server_toml`` with the demo's choice of ``[gateway] require_mfa_for_admin = false``
    unless it says otherwise: these servers are on loopback and log in as the demo's admin,
    which is not enrolled in MFA."""
    if "require_mfa_for_admin" in server_toml:
        return server_toml
    return with_line_in(server_toml, "gateway", "require_mfa_for_admin = false  # the demo's logins, on loopback\n")


def with_line_in(toml: str, section: str, line: str) -> str:
    """``toml`` with ``line`` first in its ``[section]``, the section added at the end when
    it has none (a table written twice is not TOML)."""
    header = f"\n[{section}]\n"
    if header in "\n" + toml:
        return ("\n" + toml).replace(header, header + line, 1)[1:]
    return toml.rstrip("\n") + "\n" + header + line


def write_conf(directory: Path, *, snapshot_every_events: int = 100_000, durability: str = "fsync", quote_interval_ms: int = 25) -> Path:
    """The recovery tests' config: ``tester`` owning T01..T40 (1,000,000.00 each), journal
    settings as given."""
    return write_conf_dir(
        directory,
        f"""[server]
ws_port = 0

[sim]
quote_interval_ms = {quote_interval_ms}

[journal]
durability = "{durability}"
snapshot_every_events = {snapshot_every_events}
snapshot_every_s = 0
snapshot_events_per_record = 0
""",
    )


def session_processes(sid: int) -> list[int]:
    """Every live process of a session (``run_server.py`` started with its own session:
    Ray's daemons and workers stay in it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def kill_session(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL every process of ``process``'s session (it was started in its own) and wait
    until all are gone."""
    for _ in range(200):
        pids = session_processes(process.pid)
        if not pids:
            break
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)
    process.wait()
    assert not session_processes(process.pid), "processes of the killed session survive"


def wait_for_line(process: subprocess.Popen[bytes], prefix: str, deadline: float, log: Path) -> str:
    """The first line of the process's output that starts with ``prefix``; RuntimeError with
    the tail of ``log`` when the output ends or ``deadline`` (monotonic) passes first — a
    start that hangs without printing fails in time."""
    assert process.stdout is not None
    pending = b""
    with selectors.DefaultSelector() as reader:
        reader.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not reader.select(timeout=max(0.0, deadline - time.monotonic())):
                continue
            chunk = os.read(process.stdout.fileno(), 65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                if line.decode(errors="replace").startswith(prefix):
                    return line.decode(errors="replace")
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    raise RuntimeError(f"no {prefix!r} line (exit code {process.poll()}); see {log}:\n{tail}")


class ServerProcess:
    """``run_server.py`` on a data dir, in its own session. ``root``: the checkout of brokerd
    to run (by default this one; a benchmark may compare it with another).

    ``address``: the Ray cluster to join (the ``ray_address`` fixture: the test session's)
    instead of starting one of its own — a start without Ray's daemons to boot, and the
    server's own namespace there (written into its config). Its processes are then the
    driver alone: ``kill9`` is refused (the actors would live on, and Ray restart them),
    and ``stop`` checks that the server ended every actor of its namespace and dropped what
    it stored in the cluster, and ends whatever a failed test left there."""

    def __init__(self, config: Path, data_dir: Path, env: dict[str, str] | None = None, root: Path = ROOT, address: str | None = None) -> None:
        self.root = root
        self.config = config
        self.data_dir = data_dir
        self.env = {**os.environ, **(env or {})}
        self.env.pop("RAY_ADDRESS", None)
        self.address = address
        self.namespace = _own_namespace(config) if address else ""
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.log = data_dir.parent / f"{data_dir.name}.server.log"

    def start(self) -> str:
        command = [sys.executable, str(self.root / "run_server.py"), "--config", str(self.config), "--data-dir", str(self.data_dir), "--ws-port", "0"]
        if self.address:
            command += ["--address", self.address]
        with self.log.open("ab") as log:
            log.write(f"\n=== start {time.time()}\n".encode())
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=out, env=self.env, start_new_session=True, cwd=self.root)
        try:
            self.url = wait_for_line(self.process, "brokerd ready ", time.monotonic() + READY_TIMEOUT_S, self.log).split()[2]
        except RuntimeError as error:
            self._end()
            raise RuntimeError(f"server did not become ready: {error}") from None
        return self.url

    @contextlib.contextmanager
    def running(self) -> Iterator[str]:
        """The server started (its URL), stopped cleanly at the end: ``stop`` must exit 0."""
        url = self.start()
        try:
            yield url
        finally:
            assert self.stop() == 0

    def kill9(self) -> None:
        """SIGKILL the whole server at once and wait until every process of it is gone."""
        assert self.process is not None
        assert not self.address, "a server on a shared Ray cluster is not its processes: start it with a cluster of its own to kill it whole"
        kill_session(self.process)

    def stop(self) -> int:
        """SIGTERM: the clean shutdown (snapshot, flush); returns the exit code."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=60)
        finally:
            left = self._end()  # whatever Ray left behind
        assert not (code == 0 and left), f"a clean stop left {left} in the Ray cluster"
        return code

    def _end(self) -> list[str]:
        """Every process of the server's session killed; on a shared cluster also its
        namespace's actors and stored values. Returns what of the latter was left."""
        assert self.process is not None
        kill_session(self.process)
        if not self.address:
            return []
        import ray

        from actors.runtime import stash

        def named() -> list[str]:
            return [entry["name"] for entry in ray.util.list_named_actors(all_namespaces=True) if entry["namespace"] == self.namespace]

        left = sorted(named(), key=lambda name: name != "supervisor")  # the supervisor first: it re-creates lost actors
        for name in left:
            with contextlib.suppress(ValueError):
                ray.kill(ray.get_actor(name, namespace=self.namespace), no_restart=True)
        deadline = time.monotonic() + 30
        while left and named() and time.monotonic() < deadline:
            time.sleep(0.1)
        stored = stash.drop_all(self.namespace)
        return left + ([f"{stored} stored values"] if stored else [])


def _own_namespace(config: Path) -> str:
    """A Ray namespace of its own written into the server.toml at ``config`` (kept if the
    file names one): servers of several tests on one cluster never meet."""
    text = config.read_text()
    named = tomllib.loads(text).get("topology", {}).get("namespace")
    if named:
        return str(named)
    namespace = f"sp-{uuid.uuid4().hex[:10]}"
    config.write_text(with_line_in(text, "topology", f'namespace = "{namespace}"\n'))
    return namespace


@dataclass
class Ledger:
    """What clients were told: orders sent, and the first answer to each."""

    sent: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    acked: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def unacked(self) -> set[tuple[str, str]]:
        return set(self.sent) - set(self.acked)


def order_for(index: int, prefix: str, rng: random.Random) -> dict[str, Any]:
    account = TEST_ACCOUNTS[index % len(TEST_ACCOUNTS)]
    symbol = rng.choice(["IBM", "AAPL", "MSFT", "SPY"])
    kind = rng.random()
    order: dict[str, Any] = {"account": account, "client_order_id": f"{prefix}-{index}", "symbol": symbol}
    if kind < 0.5:
        order.update(side="buy", type="market", qty=rng.choice(["1", "0.5", "2"]))
    elif kind < 0.8:
        order.update(side="buy", type="limit", qty="1", price="1.00")  # rests (far below the market)
    else:
        order.update(side="buy", type="market", notional="100.00")
    return order


async def stream_orders(url: str, ledger: Ledger, prefix: str, count: int, clients: int = 4, seconds: float | None = None, seed: int = 1,
                        timeout: float = 60) -> None:
    """``clients`` connections send ``count`` orders between them (or until ``seconds``
    pass), each waiting for the answer to one before the next. A connection that breaks
    (the server was killed) stops its sender: its last order stays unacknowledged."""
    rng = random.Random(seed)
    deadline = None if seconds is None else time.monotonic() + seconds
    indexes = iter(range(count))

    async def sender() -> None:
        try:
            client = await BrokerClient.connect(url, "tester", "tester-secret")
        except Exception:
            return
        try:
            for index in indexes:
                if deadline is not None and time.monotonic() > deadline:
                    return
                order = order_for(index, prefix, rng)
                key = (order["account"], order["client_order_id"])
                ledger.sent[key] = order
                reply = await client.request({"op": "new_order", **order}, timeout=timeout)
                if reply.get("type") == "execution":
                    ledger.acked[key] = reply
        except Exception:
            return
        finally:
            with contextlib.suppress(Exception):
                await client.close()

    await asyncio.gather(*(sender() for _ in range(clients)))


async def books(url: str) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Every order of every test account, by (account, client_order_id)."""
    found: dict[tuple[str, str], list[dict[str, Any]]] = {}
    async with BrokerClient(url, "tester", "tester-secret") as client:
        for account in TEST_ACCOUNTS:
            reply = await client.get_orders(account, timeout=30)
            for order in reply["orders"]:
                found.setdefault((account, order["client_order_id"]), []).append(order)
    return found


async def admin(url: str, command: str, *args: str) -> dict[str, Any]:
    async with BrokerClient(url, "admin", "admin-secret") as client:
        reply: dict[str, Any] = await client.request({"op": "admin", "command": command, "args": list(args)}, timeout=120)
    return reply


async def wait_restarted(url: str, actor: str, seconds: float = 60) -> dict[str, int]:
    """Until the supervisor has re-wired ``actor`` after Ray restarted it; the restart
    count of every actor."""
    deadline = time.monotonic() + seconds
    while True:
        status = await admin(url, "status")
        restarts = {a["name"]: a.get("restarts", 0) for a in status["result"]["actors"]}
        if restarts.get(actor, 0) >= 1:
            return restarts
        assert time.monotonic() < deadline, f"{actor} was not restarted and re-wired: {status}"
        await asyncio.sleep(0.2)


async def assert_books_match(url: str, ledger: Ledger) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """0 lost, 0 duplicated, nothing invented; cash and positions equal to what the orders
    booked; every journal replays to the live state."""
    found = await books(url)
    lost = [key for key in ledger.acked if key not in found]
    duplicated = [key for key, orders in found.items() if len(orders) > 1]
    invented = [key for key in found if key not in ledger.sent]
    changed = [key for key, reply in ledger.acked.items() if key in found and found[key][0]["order_id"] != reply["order_id"]]
    assert not lost, f"acknowledged orders lost: {lost[:10]}"
    assert not duplicated, f"orders present twice: {duplicated[:10]}"
    assert not invented, f"orders no client sent: {invented[:10]}"
    assert not changed, f"orders with another id than acknowledged: {changed[:10]}"
    order_ids = [order["order_id"] for orders in found.values() for order in orders]
    assert len(order_ids) == len(set(order_ids))
    check = await admin(url, "check")
    assert check.get("ok"), check
    return found
