"""/metrics text from a status: families, labels, histograms, each account shard's counts of
the execution reports it made."""

from __future__ import annotations

from server.web.metrics import render


def test_execution_counters_are_each_account_shards_own_series() -> None:
    status = {
        "actors": [
            {"name": "account-0", "reports": {"new": 3, "trade": 2, "rejected": 2}, "rejects": {"halted": 1, "unknown": 1}},
            {"name": "account-1", "reports": {"new": 1, "rejected": 1}, "rejects": {"halted": 1}},
            {"name": "gateway-0", "reports": {"trade": 50}},  # not a shard: not counted
            {"name": "account-2", "reports": "garbled"},  # an answer of another shape: left out
        ]
    }
    text = render(status)
    # a series per shard: one shard restarting (its counts from 0) is a reset of its own series only
    assert 'brokerd_execution_reports_total{actor="account-0",exec_type="new"} 3\n' in text
    assert 'brokerd_execution_reports_total{actor="account-1",exec_type="new"} 1\n' in text
    assert 'brokerd_fills_total{actor="account-0"} 2\n' in text and 'brokerd_fills_total{actor="account-1"}' not in text
    assert 'brokerd_rejects_total{actor="account-0",reason="halted"} 1\n' in text
    assert 'brokerd_rejects_total{actor="account-0",reason="unknown"} 1\n' in text
    assert 'brokerd_rejects_total{actor="account-1",reason="halted"} 1\n' in text
    assert "gateway-0" not in text and "account-2" not in text


def test_every_family_has_help_and_type_and_labels_are_escaped() -> None:
    status = {
        "halted": [], "killed": ["all"],
        "actors": [
            {"name": 'gateway-0"x', "connections": 3, "sessions": 2, "requests": 9, "frames_queued": 0},
            {"name": "account-1", "orders": 5, "journal_seq": 9, "snapshot_seq": 9, "recovered": {"seconds": 0.25}},
        ],
        "histograms": {"gateway-0": {"hop": {"le_us": [500, 2000], "cumulative": [1, 1, 4], "count": 4, "sum_us": 30_000}}},
    }
    text = render(status)
    lines = text.splitlines()
    names = {line.split()[2] for line in lines if line.startswith("# TYPE")}
    assert {line.split()[2] for line in lines if line.startswith("# HELP")} == names
    for line in lines:
        if not line.startswith("#"):
            name = line.split("{")[0].split(" ")[0]
            assert name in names or name.rsplit("_", 1)[0] in names, line
    assert 'brokerd_connections{actor="gateway-0\\"x"} 3' in text
    assert 'brokerd_journal_lag_records{actor="account-1"} 0' in text and "brokerd_killed_accounts 1" in text
    assert 'brokerd_hop_latency_seconds_bucket{actor="gateway-0",le="0.0005"} 1' in text
    assert 'brokerd_hop_latency_seconds_bucket{actor="gateway-0",le="+Inf"} 4' in text
    assert 'brokerd_hop_latency_seconds_sum{actor="gateway-0"} 0.03' in text
    assert 'brokerd_recovery_seconds{actor="account-1"} 0.25' in text
