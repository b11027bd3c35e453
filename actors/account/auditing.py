"""The account shard's audit events (docs/audit.md, "Who writes what"): one function per
record, each building the body of ``model/audit_bodies.py`` from what the shard has at hand.

Called only when the shell writes audit records (``Outputs.audit``), on the hot path of
every order: each builds one body and one event, positionally, from fields already read;
enums go in as they are (a ``StrEnum`` encodes as its value).
"""

from __future__ import annotations

from actors.account.records import OrderRecord
from actors.account.risk import MarketView
from model.audit import AuditEvent, AuditKind
from model.audit_bodies import Allocation, Canceled, Fill, OrderAccepted, OrderRejected, Replaced, SecuritiesTransfer, Transfer
from model.messages import Reply, Transfer as TransferRecord
from model.orders import OrderSpec

_ACCEPTED, _REJECTED, _REPLACED, _CANCELED = AuditKind.ORDER_ACCEPTED, AuditKind.ORDER_REJECTED, AuditKind.REPLACED, AuditKind.CANCELED
_FILL, _ALLOCATION = AuditKind.FILL, AuditKind.ALLOCATION
_TRANSFER, _SECURITIES = AuditKind.TRANSFER, AuditKind.SECURITIES_TRANSFER


def accepted(order: OrderRecord, reply: Reply | None, market: MarketView | None) -> AuditEvent:
    """A new order accepted, with the shard's quote of its symbol at arrival."""
    spec = order.spec
    bid, ask = (None, None) if market is None else (market.bid, market.ask)
    gateway, conn = ("", 0) if reply is None else (reply.gateway, reply.conn)
    body = OrderAccepted(
        order.account, order.order_id, order.client_order_id, spec.symbol, spec.side, spec.order_type, spec.tif,
        spec.qty, spec.notional, spec.price, spec.stop_price, bid, ask, gateway, conn,
    )  # fmt: skip
    return AuditEvent(_ACCEPTED, body)


def rejected(account: str, client_order_id: str, spec: OrderSpec, reason: str, text: str, reply: Reply | None) -> AuditEvent:
    """A new order refused: its terms as sent, the reason code the client got and its text."""
    gateway, conn = ("", 0) if reply is None else (reply.gateway, reply.conn)
    body = OrderRejected(
        account, client_order_id, spec.symbol, spec.side, spec.order_type, spec.qty, spec.notional, spec.price, reason, text, gateway, conn
    )
    return AuditEvent(_REJECTED, body)


def replaced(order: OrderRecord, successor: OrderRecord) -> AuditEvent:
    """A replace confirmed: ``order`` (its old id) goes on as ``successor`` (new ids and terms)."""
    spec = successor.spec
    body = Replaced(order.account, order.order_id, successor.client_order_id, spec.qty, spec.price, spec.stop_price, successor.order_id)
    return AuditEvent(_REPLACED, body)


def canceled(order: OrderRecord, leaves: int, reason: str) -> AuditEvent:
    return AuditEvent(_CANCELED, Canceled(order.account, order.order_id, leaves, reason))


def fill(order: OrderRecord, exec_id: str, venue: str, qty: int, price: int, cash: int) -> AuditEvent:
    spec = order.spec
    return AuditEvent(_FILL, Fill(order.account, order.order_id, exec_id, venue, spec.symbol, spec.side, qty, price, cash))


def allocation(order: OrderRecord, block: str, qty: int, price: int, cash: int) -> AuditEvent:
    spec = order.spec
    return AuditEvent(_ALLOCATION, Allocation(block, order.account, order.order_id, spec.symbol, spec.side, qty, price, cash))


def transfer(record: TransferRecord, reason: str = "") -> AuditEvent:
    """A cash movement as it now stands: asked (pending), decided (settled, rejected,
    canceled), or a journal's leg booked or aborted."""
    counterparty = ""
    if record.journal_id is not None:
        counterparty = (record.to_account if record.from_account == record.account else record.from_account) or ""
    by = record.decided_by or record.asker
    body = Transfer(record.transfer_id, record.kind, record.account, record.amount, record.status, counterparty, reason or record.reason or "", by)
    return AuditEvent(_TRANSFER, body)


def refused_transfer(kind: str, account: str, amount: int, reason: str, by: str) -> AuditEvent:
    """A deposit or withdrawal refused before it became a record (no transfer id)."""
    return AuditEvent(_TRANSFER, Transfer("", kind, account, amount, "rejected", "", reason, by))


def securities(record: TransferRecord) -> AuditEvent:
    """A leg of a journal of shares booked (the lots it moved, by their ids in this account)
    or aborted (none)."""
    lots = [str(lot.lot_id) for lot in record.lots] if record.lots else []
    body = SecuritiesTransfer(record.transfer_id, record.from_account or "", record.to_account or "", record.symbol or "", record.qty, lots, record.status)
    return AuditEvent(_SECURITIES, body)
