"""Client cash movements: their vocabulary, the rules every amount and key must meet, and
their JSON view. Pure; the account shard books them (``actors/account/transfers.py``).

Three kinds, each a transfer record of the account it moves cash in or out of:

- a **deposit** is ``pending`` until a cashier settles it (the cash is credited then) or
  rejects it;
- a **withdrawal** holds its cash at once (it counts in the account's reserved cash, so no
  order can spend it) and is then ``settled`` (the cash leaves), ``rejected`` or
  ``canceled`` (the hold is released);
- a **journal** moves cash, or shares of one symbol, between two accounts at once, in two
  legs (the debit of one, the credit of the other); a batch of journals is booked all or
  nothing. Shares move as lots: each keeps its cost and acquisition time (a transfer is not
  a sale: nothing is closed, nothing realized).

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
    # journals of shares
    UNKNOWN_SYMBOL = "unknown_symbol"  # no such instrument
    INVALID_QTY = "invalid_qty"  # not > 0, not on the instrument's increment, or an entry with both cash and shares
    INSUFFICIENT_POSITION = "insufficient_position"  # more than the position less what open sell orders hold
    SHORT_ACCOUNT = "short_account"  # an account that may sell short: its sales do not respect a journal's hold
    POSITION_LIMIT = "position_limit"  # the credit would take the position past what an account can hold
    INVALID_LOTS = "invalid_lots"  # lots named twice, or naming more than the entry's qty
    UNKNOWN_LOT = "unknown_lot"  # a named lot is not an open lot of the symbol in the source account
    LOT_QTY_EXCEEDED = "lot_qty_exceeded"  # a named lot holds less than asked of it


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


def qty_problem(qty: int, increment: int, limit: int) -> str | None:
    """Why ``qty`` (fixed point) of an instrument whose quantity steps are ``increment`` cannot
    be journaled, or ``None``: above zero, a whole number of steps, at most ``limit``."""
    if qty <= 0:
        return "qty must be > 0"
    if qty % increment:
        return f"qty must be a multiple of {fixed.format(increment)}"
    if qty > limit:
        return f"qty must be at most {fixed.format(limit)}"
    return None


def lots_problem(lots: tuple[tuple[int, int], ...] | None, qty: int, increment: int) -> str | None:
    """Why the lots a journal of ``qty`` shares names cannot be, or ``None``: each a lot id and
    a quantity above zero on the increment, no lot twice, together at most ``qty``."""
    if lots is None:
        return None
    if not lots:
        return "lots must name at least one lot"
    if len({lot_id for lot_id, _ in lots}) != len(lots):
        return "a lot is named twice"
    if any(not 0 < lot_id < 2**63 or part <= 0 or part % increment for lot_id, part in lots):
        return f"each lot needs a lot_id and a qty > 0 in multiples of {fixed.format(increment)}"
    if sum(part for _, part in lots) > qty:
        return "the lots named hold more than the qty journaled"
    return None


def key_problem(key: str, max_length: int) -> str | None:
    """Why ``key`` is not an idempotency key, or ``None``: 1 to ``max_length`` printable characters."""
    if not key or len(key) > max_length or not key.isprintable():
        return f"idempotency_key must be 1 to {max_length} printable characters"
    return None


def transfer_view(transfer: Any) -> dict[str, Any]:
    """A transfer record (``model.messages.Transfer``) as the API shows it: amounts as
    decimal strings with two places; a journal leg names both accounts and its journal; a leg
    of shares has ``symbol``, ``qty`` and, once booked, the ``lots`` it moved in place of an
    ``amount``."""
    view: dict[str, Any] = {
        "transfer_id": transfer.transfer_id,
        "kind": transfer.kind.value,
        "account": transfer.account,
        **(shares_view(transfer) if transfer.symbol is not None else {"amount": fixed.format_cash(transfer.amount)}),
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


def shares_view(transfer: Any) -> dict[str, Any]:
    """A leg of shares' own fields: the symbol, the quantity, and the lots it moved (each
    with its id in this account, quantity, cost and acquisition time) once booked."""
    view: dict[str, Any] = {"symbol": transfer.symbol, "qty": fixed.format(transfer.qty)}
    if transfer.lots is not None:
        view["lots"] = [
            {"lot_id": lot.lot_id, "qty": fixed.format(lot.qty), "cost": fixed.format_cash(lot.cost), "acquired": lot.acquired}
            for lot in transfer.lots
        ]
    return view


def entry_view(entry: Any) -> dict[str, Any]:
    """A journal entry (``model.messages.JournalEntry``) as the API shows it."""
    view: dict[str, Any] = {"from": entry.from_account, "to": entry.to_account}
    if entry.symbol is None:
        view["amount"] = fixed.format_cash(entry.amount)
        return view
    view.update(symbol=entry.symbol, qty=fixed.format(entry.qty))
    if entry.lots is not None:
        view["lots"] = [{"lot_id": lot_id, "qty": fixed.format(qty)} for lot_id, qty in entry.lots]
    return view
