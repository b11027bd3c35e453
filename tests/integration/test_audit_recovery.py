"""The audit log through a kill -9 of an account shard (docs/audit.md): killed between a
journal commit and its audit append, or in the middle of the append (half a group's frames
written). Ray restarts the shard, its replay appends what was lost; then ``audit verify``
passes and every acknowledged order has exactly one ``order_accepted`` record, with the id
its client was told."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from model.audit import AuditKind, decode_record, read_frames
from model.audit_bodies import decode_body
from snapshots.audit import chain_segments, read_segment, writers
from tests.conftest import ROOT
from tests.integration.recovery import Ledger, ServerProcess, assert_books_match, stream_orders, wait_restarted, write_conf

pytestmark = pytest.mark.asyncio(loop_scope="session")

CRASHES = [("audit.before_append", 30), ("audit.mid_append", 30)]


def accepted_orders(data: Path) -> Counter[tuple[str, str, str]]:
    """(account, client order id, order id) of every ``order_accepted`` record, counted."""
    root = data / "audit"
    found: Counter[tuple[str, str, str]] = Counter()
    for writer in writers(root):
        for segment in chain_segments(root / writer):
            for frame in read_frames(read_segment(segment)):
                assert frame.payload is not None, (writer, segment)
                record = decode_record(frame.payload)
                if record.kind == AuditKind.ORDER_ACCEPTED:
                    body = decode_body(record.kind, record.body)
                    found[(body.account, body.client_order_id, body.order_id)] += 1
    return found


@pytest.mark.parametrize(("point", "k"), CRASHES, ids=[point for point, _ in CRASHES])
async def test_an_account_shard_killed_around_its_audit_append_loses_and_doubles_no_record(tmp_path: Path, ray_address: str, point: str, k: int) -> None:
    config = write_conf(tmp_path / "conf", snapshot_every_events=60)
    data = tmp_path / "data"
    server = ServerProcess(config, data, {"BROKERD_CRASH_AT": f"{point}:{k}:account-0"}, address=ray_address)
    ledger = Ledger()
    with server.running() as url:
        await stream_orders(url, ledger, "audit", count=200, clients=4)
        assert (data / f"crashed-{point}").exists(), f"account-0 never reached {point} {k} times"
        assert len(ledger.acked) == len(ledger.sent) == 200, "a client went without its answer"
        await wait_restarted(url, "account-0")
        await assert_books_match(url, ledger)
    verified = subprocess.run(
        [sys.executable, str(ROOT / "run_server.py"), "admin", "audit", "verify", "--config", str(config), "--data-dir", str(data)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stdout + verified.stderr
    counted = accepted_orders(data)
    told = Counter((account, client_order_id, reply["order_id"]) for (account, client_order_id), reply in ledger.acked.items() if reply["status"] != "rejected")
    assert told and all(counted[key] == 1 for key in told), [key for key in told if counted[key] != 1][:10]
    assert all(count == 1 for count in counted.values()), [key for key, count in counted.items() if count > 1][:10]
