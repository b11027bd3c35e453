"""``/metrics`` in the Prometheus text format (version 0.0.4), docs/web.md#metrics.

Pure: ``render`` turns the supervisor's ``metrics_all`` answer (every actor's status and
latency histograms; the account shards' statuses count the execution reports they made)
into text. No I/O, no clock."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _counted(shards: list[dict[str, Any]], field: str, label: str) -> list[tuple[dict[str, Any], int]]:
    """Each account shard's ``{label value: count}`` dict of ``field``, one sample per shard and
    value: a series per shard, so a restarted shard's counter starts again from 0 on its own."""
    samples = []
    for shard in shards:
        counts = shard.get(field)
        if isinstance(counts, dict):
            samples += [({"actor": shard["name"], label: key}, value) for key, value in sorted(counts.items()) if isinstance(value, int)]
    return samples


def _label(value: object) -> str:
    text = str(value)
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, text: str, samples: Iterable[tuple[dict[str, Any], Any]]) -> None:
        """One metric family: its HELP, TYPE and every sample (a family with none is written
        with its header alone, so a scraper learns it exists)."""
        self.lines.append(f"# HELP {name} {text}")
        self.lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            self.lines.append(f"{name}{_labels(labels)} {_number(value)}")

    def histogram(self, name: str, text: str, series: Iterable[tuple[dict[str, Any], dict[str, Any]]]) -> None:
        self.lines.append(f"# HELP {name} {text}")
        self.lines.append(f"# TYPE {name} histogram")
        for labels, view in series:
            for bound, count in zip([*view["le_us"], None], view["cumulative"], strict=True):
                le = "+Inf" if bound is None else _seconds(bound)
                self.lines.append(f"{name}_bucket{_labels({**labels, 'le': le})} {count}")
            self.lines.append(f"{name}_sum{_labels(labels)} {_seconds(view['sum_us'])}")
            self.lines.append(f"{name}_count{_labels(labels)} {view['count']}")


def _seconds(us: int) -> str:
    """Whole microseconds as the decimal seconds Prometheus reads (exact: no float)."""
    whole, part = divmod(us, 1_000_000)
    return f"{whole}.{part:06d}".rstrip("0").rstrip(".") if part else str(whole)


def _labels(labels: dict[str, Any]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{key}="{_label(value)}"' for key, value in labels.items()) + "}"


def _per_actor(actors: list[dict[str, Any]], field: str) -> list[tuple[dict[str, Any], Any]]:
    return [({"actor": a["name"]}, a[field]) for a in actors if isinstance(a.get(field), (int, float))]


def render(status: dict[str, Any]) -> str:
    """The exposition of one scrape. ``status``: ``SupervisorActor.metrics_all``.

    Guarantees: every family is written with HELP and TYPE whether or not it has samples;
    label values are escaped; counters never go down within one process of the actor that
    counts them."""
    out = _Writer()
    actors: list[dict[str, Any]] = status.get("actors", [])
    gateways = [a for a in actors if str(a.get("name", "")).startswith("gateway-")]
    out.family("brokerd_up", "gauge", "1 while the server answers", [({}, 1)])
    shards = [a for a in actors if str(a.get("name", "")).startswith("account-")]
    out.family("brokerd_orders_total", "counter", "Orders taken by each account shard since the start of its journal", _per_actor(shards, "orders"))
    reports = _counted(shards, "reports", "exec_type")
    out.family("brokerd_execution_reports_total", "counter", "Execution reports an account shard made, by exec_type", reports)
    out.family("brokerd_fills_total", "counter", "Fills (trade reports) an account shard booked",
               [({"actor": labels["actor"]}, n) for labels, n in reports if labels["exec_type"] == "trade"])
    out.family("brokerd_rejects_total", "counter", "Orders an account shard rejected, by reason", _counted(shards, "rejects", "reason"))
    out.family("brokerd_actor_applied_total", "counter", "Messages an actor's core applied since its process started", _per_actor(actors, "applied"))
    out.family("brokerd_actor_errors_total", "counter", "Messages whose handling failed", _per_actor(actors, "errors"))
    out.family("brokerd_actor_restarts_total", "counter", "Times an actor was restarted and re-wired", _per_actor(actors, "restarts"))
    out.family("brokerd_journal_seq", "gauge", "The last record of an actor's journal", _per_actor(actors, "journal_seq"))
    out.family("brokerd_snapshot_seq", "gauge", "The journal record an actor's latest snapshot covers", _per_actor(actors, "snapshot_seq"))
    out.family("brokerd_journal_lag_records", "gauge", "Journal records after the latest snapshot: what a restart replays",
               [({"actor": a["name"]}, a["journal_seq"] - a["snapshot_seq"]) for a in actors
                if isinstance(a.get("journal_seq"), int) and isinstance(a.get("snapshot_seq"), int)])
    out.family("brokerd_unacked_batches", "gauge", "Batches sent and not yet journaled by their receiver", _per_actor(actors, "unacked_batches"))
    out.family("brokerd_held_batches", "gauge", "Batches received out of order, waiting for the ones before", _per_actor(actors, "held_batches"))
    out.family("brokerd_recovery_seconds", "gauge", "Wall time of an actor's last rebuild from its journal",
               [({"actor": a["name"]}, a["recovered"]["seconds"]) for a in actors if isinstance(a.get("recovered"), dict) and "seconds" in a["recovered"]])
    out.family("brokerd_connections", "gauge", "Open WebSocket connections", _per_actor(gateways, "connections"))
    out.family("brokerd_sessions", "gauge", "Logged-in WebSocket connections", _per_actor(gateways, "sessions"))
    out.family("brokerd_requests_total", "counter", "Requests a gateway served", _per_actor(gateways, "requests"))
    out.family("brokerd_frames_queued", "gauge", "Frames waiting to be written to clients", _per_actor(gateways, "frames_queued"))
    out.family("brokerd_halted_symbols", "gauge", "Symbols halted by the operator", [({}, len(status.get("halted", [])))])
    out.family("brokerd_killed_accounts", "gauge", "Accounts under the kill switch ('all' counts 1)", [({}, len(status.get("killed", [])))])
    histograms: dict[str, dict[str, Any]] = status.get("histograms", {})
    for kind, name, text in (
        ("hop", "brokerd_hop_latency_seconds", "Delay of a batch from its sender to the actor, queueing included"),
        ("commit", "brokerd_commit_latency_seconds", "A journal record from encoded to committed (fsynced when durability is fsync)"),
    ):
        out.histogram(name, text, [({"actor": actor}, views[kind]) for actor, views in sorted(histograms.items()) if kind in views])
    return "\n".join(out.lines) + "\n"
