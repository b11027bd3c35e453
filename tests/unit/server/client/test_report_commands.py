"""``admin report trades|cat|best-ex|admin-actions``: run here, without the server, on an audit
log the real writer (``snapshots/audit.py``) wrote into a temporary data dir."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from model import fixed
from model.audit import AuditEvent, AuditKind
from model.audit_bodies import AdminCommand, Allocation, Fill, Login, OrderAccepted, Routed
from model.reports import ADMIN_COLUMNS, BEST_EX_COLUMNS, CAT_COLUMNS, TRADES_COLUMNS
from server.client import shell as admin
from snapshots.audit import AuditWriter, Batch, chain_segments, read_records, segments_for_days

ZONE = "America/New_York"
DAY = 86_400 * 10**9
T0 = 1_735_828_200 * 10**9  # 2025-01-02 09:30 in New York


def d(text: str) -> int:
    return fixed.parse(text)


def order(order_id: str, qty: str, conn: int = 7) -> OrderAccepted:
    return OrderAccepted("A1", order_id, f"c-{order_id}", "IBM", "buy", "limit", "day", d(qty), None, d("10.05"), None, d("10"), d("10.02"), "gateway-0", conn)


def a_fill(order_id: str, qty: str, price: str, exec_id: str) -> Fill:
    return Fill("A1", order_id, exec_id, "SIM", "IBM", "buy", d(qty), d(price), -fixed.buy_cost(d(qty), d(price)))


def append(root: Path, writer: str, *inputs: tuple[int, list[msgspec.Struct]], kinds: dict[type, AuditKind] | None = None) -> None:
    """Append each input's bodies with the real writer, one input per origin."""
    names = {OrderAccepted: AuditKind.ORDER_ACCEPTED, Routed: AuditKind.ROUTED, Fill: AuditKind.FILL, Allocation: AuditKind.ALLOCATION,
             Login: AuditKind.LOGIN, AdminCommand: AuditKind.ADMIN_COMMAND}  # fmt: skip
    log = AuditWriter(root, writer, ZONE)
    try:
        origin = log.head.origin
        batches = []
        for time_ns, bodies in inputs:
            origin += 1
            batches.append(Batch(time_ns, origin if writer.startswith("account") else 0, [AuditEvent(names[type(body)], body) for body in bodies]))
        log.append_many(batches, durable=True)
    finally:
        log.close()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """Two days of trading on 2025-01-02 and 2025-01-03, a login and an admin command."""
    root = tmp_path / "data" / "audit"
    append(root, "gateway-0", (T0 - 1000, [Login("alice", "key-a", "10.0.0.5", "gateway-0", 7, "ok")]))
    append(
        root,
        "account-0",
        (T0, [order("account-0-1", "1.5")]),
        (T0 + 2_000_000, [a_fill("account-0-1", "0.5", "10.01", "SIM-1")]),
        (T0 + 3_000_000, [a_fill("account-0-1", "1", "10.02", "SIM-2")]),
        (T0 + DAY, [order("account-0-2", "2")]),
        (T0 + DAY + 1_000_000, [a_fill("account-0-2", "2", "10", "SIM-3")]),
    )
    append(root, "instrument-0", (T0 + 1_000_000, [Routed("A1", "account-0-1", "SIM", "instrument-0-1", "IBM", "buy", d("1.5"), d("10.05"))]))
    append(root, "supervisor", (T0 + 5_000_000, [AdminCommand("ops", "key-ops", "10.0.0.1", "halt", ["IBM"], "ok")]))
    return tmp_path / "data"


def run(capsys: pytest.CaptureFixture[str], *words: str) -> tuple[int, str, str]:
    code = admin.main(list(words))
    out, err = capsys.readouterr()
    return code, out, err


def read_csv(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text())))


def test_report_trades_writes_the_days_fills_as_csv_with_exact_decimals(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "trades.csv"
    code, said, err = run(capsys, "report", "trades", "2025-01-02", str(out), "--data-dir", str(data_dir))
    assert (code, err) == (admin.OK, "")
    assert said == f"report trades 2025-01-02: 2 rows written to {out}\n"
    rows = read_csv(out)
    assert rows[0] == list(TRADES_COLUMNS)
    assert [(row[2], row[3], row[4], row[8], row[9], row[10], row[11], row[13]) for row in rows[1:]] == [
        ("account-0:2", "fill", "A1", "0.5", "10.01", "-5.01", "SIM", "SIM-1"),
        ("account-0:3", "fill", "A1", "1", "10.02", "-10.02", "SIM", "SIM-2"),
    ]
    assert rows[1][0] == "2025-01-02T09:30:00.002000000-05:00" and rows[1][12] == ""  # no block: an empty field
    # the next day is its own report; into a folder, named for the report and day, as JSON lines
    folder = tmp_path / "reports"
    folder.mkdir()
    code, said, _ = run(capsys, "--json", "report", "trades", "2025-01-03", str(folder), "--format", "jsonl", "--data-dir", str(data_dir))
    assert code == admin.OK and json.loads(said) == {"report": "trades", "file": str(folder / "trades-2025-01-03.jsonl"), "rows": 1}
    (line,) = (folder / "trades-2025-01-03.jsonl").read_text().splitlines()
    assert json.loads(line) | {"time": None} == {
        "time": None, "time_ns": T0 + DAY + 1_000_000, "event_id": "account-0:5", "kind": "fill", "account": "A1", "order_id": "account-0-2",
        "symbol": "IBM", "side": "buy", "qty": "2", "price": "10", "cash": "-20.00", "venue": "SIM", "block": None, "exec_id": "SIM-3",
    }  # fmt: skip


def test_a_day_without_records_is_the_header_alone(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, words, columns in (
        ("trades", ["2024-12-31"], TRADES_COLUMNS),
        ("cat", ["2025-01-04"], CAT_COLUMNS),
        ("best-ex", ["2025-02-01", "2025-02-28"], BEST_EX_COLUMNS),
        ("admin-actions", ["2025-01-03", "2025-01-03"], ADMIN_COLUMNS),
    ):
        out = tmp_path / f"{name}.csv"
        code, said, err = run(capsys, "report", name, *words, str(out), "--data-dir", str(data_dir))
        assert (code, err) == (admin.OK, ""), name
        assert read_csv(out) == [list(columns)], name
        jsonl = tmp_path / f"{name}.jsonl"
        assert run(capsys, "report", name, *words, str(jsonl), "--format", "jsonl", "--data-dir", str(data_dir))[0] == admin.OK
        assert jsonl.read_text() == ""


def test_report_cat_links_route_fills_and_the_user_across_writers(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cat.jsonl"
    assert run(capsys, "report", "cat", "2025-01-02", str(out), "--format", "jsonl", "--data-dir", str(data_dir))[0] == admin.OK
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(row["event_id"], row["event"], row["linked_event_id"], row["user"]) for row in rows] == [
        ("account-0:1", "new", None, "alice"),
        ("instrument-0:1", "route", "account-0:1", "alice"),
        ("account-0:2", "execute", "instrument-0:1", "alice"),
        ("account-0:3", "execute", "instrument-0:1", "alice"),
    ]


def test_report_best_ex_and_admin_actions_over_a_range(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "best.csv"
    assert run(capsys, "report", "best-ex", "2025-01-01", "2025-01-03", str(out), "--data-dir", str(data_dir))[0] == admin.OK
    (header, row) = read_csv(out)
    got = dict(zip(header, row, strict=True))
    # 1.5 filled 0.5 @ 10.01 and 1 @ 10.02 against ask 10.02: (0.5 × 0.01) / 1.5 and 2 filled @ 10: 2 × 0.02;
    # (0.005 + 0 + 0.04) / 3.5 = 0.012857142857... → 0.012857143
    assert (got["orders"], got["ordered_qty"], got["filled_qty"], got["fill_rate"]) == ("2", "3.5", "3.5", "1")
    assert (got["avg_price_improvement"], got["median_time_to_first_fill_s"]) == ("0.012857143", "0.0015")
    out = tmp_path / "admin.csv"
    assert run(capsys, "report", "admin-actions", "2025-01-02", "2025-01-02", str(out), "--data-dir", str(data_dir))[0] == admin.OK
    assert [(row[3], row[4], row[7], row[8], row[11]) for row in read_csv(out)[1:]] == [("login", "alice", "", "", "ok"), ("admin_command", "ops", "halt", "IBM", "ok")]


def test_bad_dates_and_ranges_exit_2_and_other_failures_1_without_a_traceback(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "r.csv")
    given = ["--data-dir", str(data_dir)]
    assert run(capsys, "report", "trades", "2025-1-2", out, *given) == (admin.USAGE, "", "report trades: '2025-1-2' is not a date (YYYY-MM-DD)\n")
    assert run(capsys, "report", "best-ex", "2025-01-03", "2025-01-02", out, *given) == (admin.USAGE, "", "report best-ex: FROM 2025-01-03 is after TO 2025-01-02\n")
    assert run(capsys, "report", "cat", "2025-01-02", out, "--format", "xml", *given) == (admin.USAGE, "", "report cat: --format 'xml': csv or jsonl\n")
    assert run(capsys, "report", "trades", "2025-01-02", *given)[0] == admin.USAGE  # no OUT: the usage
    assert run(capsys, "report", "trades", "2025-01-02", out, "--data-dir", str(tmp_path / "nowhere")) == (
        admin.FAILED, "", f"report trades: no audit log under {tmp_path / 'nowhere' / 'audit'}\n",
    )  # fmt: skip
    assert run(capsys, "report", "trades", "2025-01-02", str(tmp_path / "no" / "such" / "r.csv"), *given)[0] == admin.FAILED
    assert not Path(out).exists()
    assert run(capsys, "report", "trades", "2025-01-02", out, *given)[0] == admin.OK
    before = Path(out).read_bytes()
    assert run(capsys, "report", "trades", "2025-01-02", out, *given) == (admin.FAILED, "", f"report trades: {out} exists; give another file or folder\n")
    assert Path(out).read_bytes() == before  # never replaced


def test_a_damaged_segment_is_refused_naming_it_and_leaves_no_file(data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    closed = chain_segments(data_dir / "audit" / "account-0")[0]
    assert closed.closed  # 2025-01-02 was closed by the first record of 2025-01-03
    closed.path.write_bytes(b"not zstandard")
    out = tmp_path / "t.csv"
    code, _, err = run(capsys, "report", "trades", "2025-01-02", str(out), "--data-dir", str(data_dir))
    assert code == admin.FAILED and err.startswith(f"report trades: {closed.path}: does not decompress") and "Traceback" not in err
    assert not out.exists() and not list(tmp_path.glob(".t.csv.*"))


def test_a_one_day_report_reads_that_days_segments_and_the_next_only(tmp_path: Path) -> None:
    """A record whose time stepped back across midnight stays in the later day's open segment:
    the day after the range is read for it, no other."""
    root = tmp_path / "audit"
    append(root, "account-0", *[(T0 + day * DAY, [order(f"o{day}", "1")]) for day in range(5)])
    append(root, "account-0", (T0 + 4 * DAY - DAY // 2 - 4 * 3600 * 10**9, [order("late", "1")]))  # 2025-01-05 19:30, into 2025-01-06's segment
    every = chain_segments(root / "account-0")
    assert [segment.day for segment in every] == ["2025-01-02", "2025-01-03", "2025-01-04", "2025-01-05", "2025-01-06"]
    assert [segment.day for segment in segments_for_days(every, "2025-01-03", "2025-01-03")] == ["2025-01-03", "2025-01-04"]
    assert [segment.day for segment in segments_for_days(every, "2025-01-06", "2025-01-09")] == ["2025-01-06"]
    start = 1_736_053_200 * 10**9  # 2025-01-05 00:00 in New York
    found = [msgspec.msgpack.decode(record.body)[1] for record in read_records(root, start, start + DAY, ZONE)]
    assert found == ["o3", "late"]


def test_run_server_admin_report_works_as_a_command(data_dir: Path, tmp_path: Path, root: Path) -> None:
    environment = {**os.environ, "BROKERD_URL": "ws://127.0.0.1:9"}  # a report must not need a server
    out = tmp_path / "trades.csv"
    command = [sys.executable, str(root / "run_server.py"), "admin", "report", "trades", "2025-01-02", str(out), "--data-dir", str(data_dir)]
    done = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=120)
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert len(read_csv(out)) == 3
    done = subprocess.run([*command[:5], "2025-13-01", str(out)], capture_output=True, text=True, env=environment, timeout=120)
    assert (done.returncode, done.stderr) == (2, "report trades: '2025-13-01' is not a date (YYYY-MM-DD)\n")
