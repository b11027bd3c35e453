"""Cash movements: the gateway's requests to the account shards and their answers, the
operator's decisions, and the two-phase commit of a journal between shards
(``actors/account/transfers.py`` says how they are booked).

A journal's coordinator is the shard of its first entry's debit account: it asks every
shard holding one of the batch's accounts to prepare its legs (``JournalPrepare``), each
answers with its vote (``JournalVote``), the coordinator tells every one of them the
outcome (``JournalOutcome``) and answers the client once each has booked it
(``JournalApplied``). A journal of shares moves lots: the shard of the debit takes them on
the commit and sends them, cost and acquisition time included, to the shard of the credit
(``JournalLots``), which books the credit when they come; only then does that shard count
its booking done. Every one of these travels over the journaled, acked, resent hops
between actors, so none is lost or applied twice.
"""

from __future__ import annotations

from typing import Union

import msgspec

from model.messages.base import MessageBase, Reply
from model.transfers import Decision, TransferKind, TransferStatus

__all__ = [
    "DecideTransfer",
    "JournalApplied",
    "JournalEntry",
    "JournalLeg",
    "JournalLots",
    "JournalOutcome",
    "JournalPrepare",
    "JournalReply",
    "JournalVote",
    "MovedLot",
    "QueryTransfers",
    "RequestJournal",
    "RequestTransfer",
    "Transfer",
    "TransferEvent",
    "TransferMessage",
    "TransferToAsker",
    "TransfersReply",
]


class Transfer(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """One transfer record as an account shard keeps it (replaced whole on each change):
    a deposit, a withdrawal, or one leg of a journal (``journal_id``, ``from_account`` and
    ``to_account`` set; ``account`` is the one of the two this leg books). ``held``: the cash
    it holds in the account's reserved cash while pending (a withdrawal, a journal's debit)."""

    transfer_id: str
    kind: TransferKind
    account: str
    amount: int
    status: TransferStatus
    created_ts: int
    updated_ts: int
    idempotency_key: str
    asker: str
    reason: str | None = None
    held: int = 0
    journal_id: str | None = None
    from_account: str | None = None
    to_account: str | None = None
    decided_by: str | None = None  # who settled, rejected or canceled it
    # A leg of a journal of shares (``amount`` 0): ``qty`` of ``symbol``; ``held_qty`` what
    # its debit holds in the account's reserved quantity while pending; ``lots`` once booked:
    # the lots it moved, as this account's books knew them (the debit: the lots taken, by
    # their ids here; the credit: the lots opened, by their new ids here)
    symbol: str | None = None
    qty: int = 0
    held_qty: int = 0
    lots: list[MovedLot] | None = None
    named: tuple[tuple[int, int], ...] | None = None  # the lots a debit of shares names (``(lot_id, qty)``), as its entry did


class MovedLot(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """A lot (or part of one) moved by a journal of shares (``model.lots.Lot``): its quantity,
    its cost (whole cents, the cash that bought it), when it was acquired, the wash-sale loss
    carried into it and its flags, all kept by the account receiving it."""

    lot_id: int
    qty: int
    cost: int
    acquired: int
    adjust: int = 0
    flags: int = 0


class JournalEntry(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """One journal of a batch: ``amount`` of cash from one account to another, or (``symbol``
    set, ``amount`` 0) ``qty`` of its shares, the lots named in ``lots`` (``(lot_id, qty)``)
    first, the rest by the source account's lot method."""

    from_account: str
    to_account: str
    amount: int
    symbol: str | None = None
    qty: int = 0
    lots: tuple[tuple[int, int], ...] | None = None

    @property
    def shares(self) -> bool:
        return self.symbol is not None


class JournalLeg(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """One side of entry ``entry`` (from 1) of a batch, on ``account``: its debit or its credit
    (of shares: ``symbol``, ``qty`` and, for the debit, the lots named, as in its entry)."""

    entry: int
    account: str
    counterparty: str
    amount: int
    debit: bool
    symbol: str | None = None
    qty: int = 0
    lots: tuple[tuple[int, int], ...] | None = None


# --- gateway → account shard -----------------------------------------------------------------


class RequestTransfer(MessageBase, frozen=True, gc=False, tag=110):
    """A deposit or a withdrawal asked by ``asker`` (the user) on ``account``."""

    account: str
    kind: TransferKind
    amount: int
    idempotency_key: str
    asker: str
    reply: Reply | None = None


class RequestJournal(MessageBase, frozen=True, gc=False, tag=111):
    """A batch of journals (one or more entries, all or nothing), sent to the shard of the
    first entry's debit account, which coordinates it. ``across_owners``: the asker may move
    cash between accounts of different owners; ``shards``: the topology's account shards,
    so the coordinator knows which accounts are its own without asking."""

    idempotency_key: str
    entries: list[JournalEntry]
    asker: str
    across_owners: bool
    shards: int
    reply: Reply | None = None


class QueryTransfers(MessageBase, frozen=True, gc=False, tag=112):
    account: str
    reply: Reply
    status: TransferStatus | None = None


# --- the operator's decision (journaled by the shard itself) ---------------------------------


class DecideTransfer(MessageBase, frozen=True, gc=False, tag=113):
    """Settle, reject or cancel a pending deposit or withdrawal."""

    transfer_id: str
    decision: Decision
    reason: str | None
    asker: str


# --- a journal's two-phase commit, between account shards ------------------------------------


class JournalPrepare(MessageBase, frozen=True, gc=False, tag=114):
    """Phase one, to a shard holding some of a batch's accounts: check its ``legs`` (each
    account exists, is of ``tenant`` and, unless ``across_owners``, of ``owner``; every debit
    of cash fits the buying power, every debit of shares the quantity available and the lots
    it names are open) and hold each debit, or hold nothing and vote no. The vote goes
    to the shard of ``coordinator`` (the first entry's debit account)."""

    journal_id: str
    coordinator: str
    tenant: str
    owner: str
    across_owners: bool
    idempotency_key: str
    asker: str
    legs: list[JournalLeg]


class JournalVote(MessageBase, frozen=True, gc=False, tag=115):
    journal_id: str
    shard: str
    ok: bool
    reason: str | None = None
    message: str = ""


class JournalOutcome(MessageBase, frozen=True, gc=False, tag=116):
    """Phase two: book the prepared legs (``commit``) or release them."""

    journal_id: str
    coordinator: str
    commit: bool


class JournalApplied(MessageBase, frozen=True, gc=False, tag=117):
    journal_id: str
    shard: str


# --- account shard → gateway -----------------------------------------------------------------


class TransferEvent(MessageBase, frozen=True, gc=False, tag=120):
    """A transfer record as it now stands, after each change of its status (and when it is
    made): to every gateway, for the ``transfers`` channel; ``reply``: the asker's request."""

    transfer: Transfer
    reply: Reply | None = None


class TransferToAsker(MessageBase, frozen=True, gc=False, tag=121):
    """The answer to a request repeated with its idempotency key: the original record as it
    was answered then, to the asker alone."""

    reply: Reply
    transfer: Transfer


class TransfersReply(MessageBase, frozen=True, gc=False, tag=122):
    reply: Reply
    account: str
    transfers: list[Transfer]


class JournalReply(MessageBase, frozen=True, gc=False, tag=123):
    """The outcome of a batch of journals: ``settled`` (every entry booked), ``rejected``
    (none; ``reason`` and ``message`` say why) or, to a repeat while it is still being
    decided, ``pending``."""

    reply: Reply
    journal_id: str
    status: TransferStatus
    entries: list[JournalEntry]
    reason: str | None = None
    message: str = ""
    idempotency_key: str = ""


# --- a journal of shares: the lots, from the shard of the debit to the shard of the credit ----


class JournalLots(MessageBase, frozen=True, gc=False, tag=150):
    """The lots the debit of entry ``entry`` of journal ``journal_id`` took on its commit, as
    the source account's books held them, to the shard of the credit account, which opens
    them there (a commit is the only reason they are sent: they book the credit at once)."""

    journal_id: str
    entry: int
    lots: list[MovedLot]


# What cash movements put on a hop, in tag order.
TransferMessage = Union[
    RequestTransfer,
    RequestJournal,
    QueryTransfers,
    DecideTransfer,
    JournalPrepare,
    JournalVote,
    JournalOutcome,
    JournalApplied,
    TransferEvent,
    TransferToAsker,
    TransfersReply,
    JournalReply,
    JournalLots,
]
