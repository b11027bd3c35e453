"""The audit log of a running server (docs/audit.md, "Who writes what"): orders, fills, a
cancel, a replace, a refusal, a deposit, admin commands and logins go through a real server;
``admin audit verify`` passes on its data dir, and the records read back say what the
clients were told."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from model import fixed
from model.audit import AuditKind, decode_record, read_frames
from model.audit_bodies import decode_body
from server.app import BrokerServer
from server.client.sdk import BrokerClient
from snapshots.audit import chain_segments, read_segment, writers
from tests.conftest import ROOT, TEST_ACCOUNTS
from tests.integration.helpers import cloid, connect, final_report

pytestmark = pytest.mark.asyncio(loop_scope="session")


def audit_records(data_dir: Path) -> dict[str, list[tuple[str, Any]]]:
    """Every writer's records as ``(kind, body)``, in chain order."""
    root = data_dir / "audit"
    found: dict[str, list[tuple[str, Any]]] = {}
    for writer in writers(root):
        for segment in chain_segments(root / writer):
            for frame in read_frames(read_segment(segment)):
                assert frame.payload is not None
                record = decode_record(frame.payload)
                found.setdefault(writer, []).append((record.kind, decode_body(record.kind, record.body)))
    return found


def of_kind(found: dict[str, list[tuple[str, Any]]], kind: AuditKind, prefix: str = "") -> list[Any]:
    return [body for writer, records in found.items() if writer.startswith(prefix) for k, body in records if k == kind]


async def until(check: Any, seconds: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "the audit records did not appear"
        await asyncio.sleep(0.05)


async def test_what_clients_were_told_is_in_the_audit_log_and_it_verifies(server: BrokerServer) -> None:
    data_dir = Path(server.setup.config.server.data_dir)
    account = TEST_ACCOUNTS[5]
    async with connect(server.url) as client:
        await asyncio.sleep(0.2)  # quotes reach the shard
        bought = cloid("audit-fill")
        first = await client.new_order(account, bought, "IBM", "buy", "market", qty="1")
        done = await final_report(client, bought)
        fills = [m for m in client.history if m.get("type") == "execution" and m.get("client_order_id") == bought and m.get("exec_type") == "trade"]
        resting = cloid("audit-cancel")
        rest = await client.new_order(account, resting, "IBM", "buy", "limit", qty="2", price="140.00")
        await client.cancel_order(account, resting)
        canceled = await final_report(client, resting)
        moved = cloid("audit-replace")
        await client.new_order(account, moved, "IBM", "buy", "limit", qty="1", price="140.00")
        moved_to = cloid("audit-replaced")
        replaced = await client.replace_order(account, moved, moved_to, qty="3", price="140.05")
        refused = await client.new_order(account, cloid("audit-refused"), "IBM", "buy", "limit", qty="100000", price="150.00")
        malformed = await client.new_order(account, cloid("audit-malformed"), "IBM", "buy", "limit", qty="1", price="1.5.0")
        deposit = await client.deposit(account, "10.00", cloid("audit-deposit"))
        forbidden = await client.request({"op": "admin", "command": "status", "args": []})
    async with BrokerClient(server.url, "admin", "admin-secret") as operator:
        status = await operator.request({"op": "admin", "command": "halt", "args": ["XYZ"]})
        await operator.request({"op": "admin", "command": "resume", "args": ["XYZ"]})
    with pytest.raises(Exception):
        async with BrokerClient(server.url, "tester", "not-the-secret"):
            pass
    assert replaced.get("exec_type") == "replaced", replaced
    assert done["status"] == "filled" and canceled["status"] == "canceled" and refused["status"] == "rejected", (done, canceled, refused)
    assert status["type"] == "admin" and forbidden["code"] == "forbidden" and deposit["status"] == "pending", (status, forbidden, deposit)

    await until(lambda: any(body.outcome != "ok" for body in of_kind(audit_records(data_dir), AuditKind.LOGIN)))
    found = audit_records(data_dir)

    accepted = {body.client_order_id: body for body in of_kind(found, AuditKind.ORDER_ACCEPTED, "account-")}
    assert (accepted[bought].order_id, accepted[bought].symbol, accepted[bought].side, accepted[bought].qty) == (first["order_id"], "IBM", "buy", fixed.parse("1"))
    assert accepted[bought].gateway == "gateway-0" and accepted[bought].ask is not None  # the quote at arrival
    assert accepted[resting].order_id == rest["order_id"] and accepted[resting].price == fixed.parse("140.00")
    rejected = [body for body in of_kind(found, AuditKind.ORDER_REJECTED) if body.client_order_id == refused["client_order_id"]]
    assert [body.reason for body in rejected] == [refused["reason"]]
    at_gateway = [body for body in of_kind(found, AuditKind.ORDER_REJECTED, "gateway-") if body.client_order_id == malformed["client_order_id"]]
    assert [(b.account, b.reason, b.price, b.qty, b.conn > 0) for b in at_gateway] == [(account, malformed["code"], None, fixed.parse("1"), True)], malformed

    booked = [body for body in of_kind(found, AuditKind.FILL) if body.order_id == first["order_id"]]
    assert [(b.exec_id, b.qty, b.price) for b in booked] == [(f["exec_id"], fixed.parse(f["last_qty"]), fixed.parse(f["last_price"])) for f in fills]
    assert sum(b.qty for b in booked) == fixed.parse("1") and all(b.cash > 0 and b.venue for b in booked)
    routed = [body for body in of_kind(found, AuditKind.ROUTED, "instrument-") if body.order_id == first["order_id"]]
    assert len(routed) == 1 and routed[0].venue == booked[0].venue and routed[0].account == account

    ends = [body for body in of_kind(found, AuditKind.CANCELED) if body.order_id == rest["order_id"]]
    assert [(body.reason.split(":")[0], body.leaves) for body in ends] == [("client", fixed.parse("2"))]
    replaces = [body for body in of_kind(found, AuditKind.REPLACED) if body.new_client_order_id == moved_to]
    assert [(b.new_order_id, b.qty, b.price) for b in replaces] == [(replaced["order_id"], fixed.parse("3"), fixed.parse("140.05"))]

    transfers = [body for body in of_kind(found, AuditKind.TRANSFER) if body.transfer_id == deposit["transfer_id"]]
    assert [(b.kind, b.account, b.amount, b.status, b.by) for b in transfers] == [("deposit", account, fixed.parse("10.00"), "pending", "tester")]

    commands = [(b.user, b.command, b.args, b.outcome) for b in of_kind(found, AuditKind.ADMIN_COMMAND, "supervisor")]
    assert ("admin", "halt", ["XYZ"], "ok") in commands and ("admin", "resume", ["XYZ"], "ok") in commands
    refused_here = [(b.user, b.command, b.outcome) for b in of_kind(found, AuditKind.ADMIN_COMMAND, "gateway-")]
    assert ("tester", "status", "forbidden") in refused_here
    logins = [(b.user, b.outcome, b.address) for b in of_kind(found, AuditKind.LOGIN, "gateway-")]
    assert ("tester", "ok", "127.0.0.1") in logins and ("admin", "ok", "127.0.0.1") in logins
    assert ("tester", "bad_signature", "127.0.0.1") in logins or any(u == "tester" and o != "ok" for u, o, _ in logins), logins

    verified = subprocess.run(
        [sys.executable, str(ROOT / "run_server.py"), "admin", "audit", "verify", "--data-dir", str(data_dir)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert verified.returncode == 0, verified.stdout + verified.stderr
