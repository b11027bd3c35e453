"""Client cash movements: their vocabulary, the rules every amount and key must meet, and
their JSON view. Pure; the account shard books them (``actors/account/transfers.py``).

Three kinds, each a transfer record of the account it moves cash in or out of:

- a **deposit** is ``pending`` until a cashier settles it (the cash is credited then) or
  rejects it;
- a **withdrawal** holds its cash at once (it counts in the account's reserved cash, so no
  order can spend it) and is then ``settled`` (the cash leaves), ``rejected`` or
  ``canceled`` (the hold is released);
- a **journal** moves cash between two accounts at once, in two legs (the debit of one, the
  credit of the other); a batch of journals is booked all or nothing.

Guarantees: an amount passes :func:`amount_problem` only when it is whole cents, above zero
and within the limit given; the wire's decimal strings are parsed by ``model.fixed`` (no
binary float anywhere).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Final

from model import fixed

# The largest cash an account may hold: msgpack (journals, snapshots) carries 64-bit ints.
MAX_CASH: Final = 2**63 - 1


class TransferKind(StrEnum):
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    JOURNAL = "journal"


class TransferStatus(StrEnum):
    PENDING = "pending"
    SETTLED = "settled"
    REJECTED = "rejected"
    CANCELED = "canceled"


class Decision(StrEnum):
    """What a cashier does with a pending deposit or withdrawal (``admin transfer``)."""

    SETTLE = "settle"
    REJECT = "reject"
    CANCEL = "cancel"

    @property
    def status(self) -> TransferStatus:
        return _DECIDED[self]


_DECIDED: Final = {Decision.SETTLE: TransferStatus.SETTLED, Decision.REJECT: TransferStatus.REJECTED, Decision.CANCEL: TransferStatus.CANCELED}


class TransferReason(StrEnum):
    """The reason codes of refused or rejected cash movements (docs/protocol.md)."""

    INVALID_AMOUNT = "invalid_amount"  # not > 0, not whole cents, or above the limit
    INSUFFICIENT_FUNDS = "insufficient_funds"  # a withdrawal or journal debit above the buying power
    DUPLICATE_IDEMPOTENCY_KEY = "duplicate_idempotency_key"  # the key was used with other content
    UNKNOWN_ACCOUNT = "unknown_account"  # no such account (or another tenant's: the same answer)
    ACROSS_OWNERS = "across_owners"  # a journal between owners without the permission for it
    SAME_ACCOUNT = "same_account"  # a journal from an account to itself
    CASH_LIMIT = "cash_limit"  # the credit would take the account's cash past what it can hold
    UNKNOWN_TRANSFER = "unknown_transfer"  # settle, reject or cancel of a transfer that is not there
    NOT_PENDING = "not_pending"  # ... of one already settled, rejected or canceled
    NOT_CANCELABLE = "not_cancelable"  # cancel of a deposit (a deposit is rejected, not canceled)


def amount_problem(amount: int, limit: int) -> str | None:
    """Why ``amount`` (fixed point, 10^-9) cannot be moved, or ``None``: it must be above
    zero, in whole cents, and at most ``limit``."""
    if amount <= 0:
        return "amount must be > 0"
    if amount % fixed.CENT:
        return "amount must be in whole cents (at most 2 decimals)"
    if amount > limit:
        return f"amount must be at most {fixed.format_cash(limit)}"
    return None


def key_problem(key: str, max_length: int) -> str | None:
    """Why ``key`` is not an idempotency key, or ``None``: 1 to ``max_length`` printable characters."""
    if not key or len(key) > max_length or not key.isprintable():
        return f"idempotency_key must be 1 to {max_length} printable characters"
    return None


def transfer_view(transfer: Any) -> dict[str, Any]:
    """A transfer record (``model.messages.Transfer``) as the API shows it: amounts as
    decimal strings with two places; a journal leg names both accounts and its journal."""
    view: dict[str, Any] = {
        "transfer_id": transfer.transfer_id,
        "kind": transfer.kind.value,
        "account": transfer.account,
        "amount": fixed.format_cash(transfer.amount),
        "status": transfer.status.value,
        "reason": transfer.reason,
        "idempotency_key": transfer.idempotency_key,
        "asker": transfer.asker,
        "created_ts": transfer.created_ts,
        "updated_ts": transfer.updated_ts,
    }
    if transfer.decided_by is not None:
        view["decided_by"] = transfer.decided_by
    if transfer.journal_id is not None:
        view["journal_id"] = transfer.journal_id
        view["from"] = transfer.from_account
        view["to"] = transfer.to_account
    return view
