"""Helpers for the audit log's tests: a signer without a master key, a log of N records."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from model.audit import AuditEvent, AuditKind
from snapshots.audit import AnchorSigner, AuditWriter, Batch

ZONE = "America/New_York"
DAY_NS = 86_400 * 10**9
T0 = 1_735_826_400 * 10**9  # 2025-01-02 09:00 in New York


def signer() -> AnchorSigner:
    return AnchorSigner(Ed25519PrivateKey.generate())


def event(i: int) -> AuditEvent:
    return AuditEvent(AuditKind.ORDER_ACCEPTED, {"order_id": f"o{i}", "account": "A1", "qty": i})


def write(root: Path, writer: str = "account-0", count: int = 10, per_batch: int = 2, start: int = 0, day: int = 0) -> AuditWriter:
    """``count`` records in inputs of ``per_batch`` each (origins from ``start`` + 1), one
    second apart from ``T0`` + ``day`` days; the writer is left open."""
    log = AuditWriter(root, writer, ZONE)
    batches = []
    for n in range(count // per_batch):
        origin = start + n + 1
        batches.append(Batch(T0 + day * DAY_NS + origin * 10**9, origin, [event(origin * 10 + i) for i in range(per_batch)]))
    log.append_many(batches, durable=True)
    return log
