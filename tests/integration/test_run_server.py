"""``run_server.py`` as a user runs it: a real process with its own embedded Ray."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from actors.runtime.options import RAY_SINGLE_NODE_ENV
from tests.conftest import ROOT
from tests.integration.helpers import cloid, connect, final_report
from tests.integration.recovery import session_processes


async def read_ready_line(process: asyncio.subprocess.Process, timeout: float = 90) -> str:
    assert process.stdout is not None
    async with asyncio.timeout(timeout):
        while True:
            line = (await process.stdout.readline()).decode()
            if not line:
                raise AssertionError("run_server.py exited before it was ready")
            if line.startswith("brokerd ready"):
                return line.strip()


@pytest.mark.asyncio(loop_scope="session")
async def test_server_starts_trades_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    data = tmp_path / "data"
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "run_server.py"), "--data-dir", str(data), "--ws-port", "0", "--fresh",
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=tmp_path,
    )
    try:
        ready = await read_ready_line(process)
        url = ready.split()[2]
        assert url.startswith("ws://127.0.0.1:") and ready.endswith(f"{url} data={data}")  # no drop copy: no FIX port
        async with connect(url, "trader1", "trader1-secret") as client:
            order_id = cloid()
            await client.new_order("A1", order_id, "IBM", "buy", type="market", qty="0.3")
            assert (await final_report(client, order_id))["status"] == "filled"
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 60) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def test_fresh_refuses_a_non_empty_data_dir_without_wipe(tmp_path: Path) -> None:
    (tmp_path / "journal").write_text("state")
    result = subprocess.run(
        [sys.executable, str(ROOT / "run_server.py"), "--data-dir", str(tmp_path), "--fresh"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0 and "not empty" in result.stderr + result.stdout
    assert (tmp_path / "journal").read_text() == "state"


def test_bad_configuration_is_reported_and_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "server.toml"
    config.write_text((ROOT / "conf" / "server.toml").read_text().replace("account_shards = 2", "account_shards = \"two\""))
    for name in ("instruments.toml", "users.toml", "accounts.csv"):
        (tmp_path / name).write_text((ROOT / "conf" / name).read_text())
    result = subprocess.run([sys.executable, str(ROOT / "run_server.py"), "--config", str(config)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "account_shards" in result.stderr


def _address(hex_address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An address as /proc/net/{tcp,udp}[6] prints it: 32-bit words in host (little-endian) order."""
    raw = bytes.fromhex(hex_address)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return ipaddress.ip_address(words)


def bound_sockets(pids: list[int]) -> list[tuple[str, str, int, str]]:
    """Every listening TCP socket and every bound, unconnected UDP socket the processes hold:
    (protocol, address, port, process name)."""
    owner: dict[str, str] = {}
    for pid in pids:
        with contextlib.suppress(OSError):
            name = Path(f"/proc/{pid}/comm").read_text().strip()
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:["):
                        owner[target[8:-1]] = name
    found = []
    for table in ("tcp", "tcp6", "udp", "udp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
            listening = state == "0A" if table.startswith("tcp") else int(remote.split(":")[0], 16) == 0
            if listening and inode in owner:
                address, port = local.split(":")
                found.append((table, str(_address(address)), int(port, 16), owner[inode]))
    return found


def is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


@pytest.mark.asyncio(loop_scope="session")
async def test_by_default_every_port_of_the_server_and_its_ray_listens_on_loopback_only(tmp_path: Path) -> None:
    """The server's whole process tree — the driver, Ray's daemons (GCS, raylet and object
    manager), its agents and every worker, each actor's link — binds nothing but loopback."""
    env = {key: value for key, value in os.environ.items() if key not in (RAY_SINGLE_NODE_ENV, "RAY_ADDRESS")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "run_server.py"), "--data-dir", str(tmp_path / "data"), "--ws-port", "0", "--fresh",
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=tmp_path, env=env, start_new_session=True,
    )
    try:
        ready = await read_ready_line(process)
        ws_port = int(ready.split()[2].rsplit(":", 1)[1])
        sockets = bound_sockets(session_processes(process.pid))
        names = {name for _, _, _, name in sockets}
        assert ws_port in {port for _, _, port, _ in sockets} and {"gcs_server", "raylet"} <= names, sockets  # the check sees them all
        assert [s for s in sockets if not is_loopback(s[1])] == []
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 60) == 0
    finally:
        for pid in session_processes(process.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if process.returncode is None:
            await process.wait()
