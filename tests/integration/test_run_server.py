"""``run_server.py`` as a user runs it: a real process with its own embedded Ray."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.integration.helpers import cloid, connect, final_report


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
        assert url.startswith("ws://127.0.0.1:") and ready.endswith(f"fix=9878 data={data}")
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
