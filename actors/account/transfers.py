"""Cash movements on an account shard: deposits, withdrawals and journals between accounts.

Models: a broker's funding transfers (a deposit or withdrawal is a record with a status that
a cashier moves on) and two-phase transfers (a withdrawal first *holds* its cash, then is
settled or its hold released). Every record is booked here, in the shard that owns its
account, from journaled inputs: replayed, snapshotted, hashed and checked like an order.

- **Deposit**: ``pending`` until a cashier settles it (the cash is credited then) or
  rejects it.
- **Withdrawal**: its cash is held at once, counted in the account's reserved cash so no
  order can spend it; it may never exceed the buying power (cash less every hold:
  ``insufficient_funds`` otherwise). Then settled (the cash leaves), rejected or canceled
  (the hold is released).
- **Journal** (one entry or a batch, all or nothing): cash, or shares of a symbol, between two
  accounts, booked at once without a cashier, the accounts possibly on other shards. The shard of the first
  entry's debit account coordinates a two-phase commit over the journaled hops between
  shards: *prepare* (every shard holding a leg checks it — the account exists and is of the
  batch's tenant and, unless the asker may move cash across owners, of the same owner; each
  debit fits the buying power and is held — and votes), then *commit* or *abort* at every
  shard, then the answer.
- **Journal of shares**: the debit must fit the quantity available (the position less what
  open sell orders hold: no shorting through a journal) and is held in the account's
  reserved quantity from the prepare on, so no order sells it meanwhile; on the commit its
  shard takes the lots (those named first, what they lack first opened first; else by the
  account's lot method) and sends them (``JournalLots``) to the shard of the credit, which
  opens them there with their cost, acquisition time and wash-sale adjustment under new lot
  ids. A transfer is not a sale: nothing is closed, nothing realized. That shard counts its
  booking done (``JournalApplied``) once every credit of shares it holds is booked. Accounts
  that may sell short take no part (their sales do not respect a hold). A batch keeps its holds until it is decided; nothing times out,
  because no hop loses a message (a restarted shard resends what it had not had acked).

Guarantees:
- ``(account, idempotency_key)`` is unique forever (for a journal, the account is the first
  entry's debit account): a repeat with the same content gets the original answer and
  changes nothing; other content is refused ``duplicate_idempotency_key``, nothing changed.
- A refused request (bad amount, unknown account, insufficient funds, a reused key) records
  nothing and changes no balance; a refused decision (unknown or already decided transfer)
  changes nothing.
- Cash equals the opening cash plus what orders booked plus settled deposits less settled
  withdrawals plus settled journal credits less settled journal debits; the reserved cash
  includes exactly the holds of pending withdrawals and prepared journal debits; each
  position equals its opening quantity plus its fills plus its settled journal credits of
  shares less its settled debits, and the reserved quantity includes exactly the holds of
  prepared debits of shares (``AccountState.check_invariants``).
- A batch of journals is booked at every shard or at none: each shard books its legs only
  on the coordinator's outcome, which is ``commit`` only when every shard voted yes (a credit
  of shares on the lots its debit sends, which only a commit sends).
- Lots moved keep their cost: Σ cost taken from the debit's lots = Σ cost opened at the
  credit, and each position's cost stays its open lots' cost.
"""

from __future__ import annotations

from typing import Any

import msgspec

from actors.account import auditing
from actors.account.base import ShardBase, shared
from actors.account.records import AccountRecord, PositionRecord
from actors.runtime.outputs import ACCOUNT, ALL, AUDIT, GATEWAY
from actors.runtime.router import account_actor
from model import fixed, lots
from model.lots import Lot, LotError, LotMethod
from model.messages import (
    DecideTransfer,
    JournalApplied,
    JournalEntry,
    JournalLeg,
    JournalLots,
    JournalOutcome,
    JournalPrepare,
    JournalReply,
    JournalVote,
    MovedLot,
    QueryTransfers,
    Reply,
    RequestJournal,
    RequestTransfer,
    Transfer,
    TransferEvent,
    TransfersReply,
    TransferToAsker,
)
from model.routing import shard_of
from model.statements import MoveEntry
from model.transfers import MAX_CASH, Decision, TransferKind, TransferReason, TransferStatus, amount_problem, lots_problem, qty_problem

_PENDING, _SETTLED, _REJECTED = TransferStatus.PENDING, TransferStatus.SETTLED, TransferStatus.REJECTED
_DEPOSIT, _WITHDRAWAL, _JOURNAL = TransferKind.DEPOSIT, TransferKind.WITHDRAWAL, TransferKind.JOURNAL


class JournalBatch(msgspec.Struct, array_like=True):
    """A batch of journals as its coordinator keeps it: what was asked, the votes and
    bookings it still waits for, and how it ended. Kept after it ends: its idempotency key
    answers with it forever."""

    journal_id: str
    account: str  # the first entry's debit account: the key's scope, where votes and bookings come back
    idempotency_key: str
    entries: list[JournalEntry]
    asker: str
    created_ts: int
    status: TransferStatus = _PENDING
    reason: str | None = None
    message: str = ""
    decided: bool = False  # the outcome is sent (``status`` says which)
    votes: list[str] = msgspec.field(default_factory=list)  # shards whose vote has not come
    bookings: list[str] = msgspec.field(default_factory=list)  # shards that have not booked the outcome
    participants: dict[str, str] = msgspec.field(default_factory=dict)  # other shard → the account its messages go by
    local: bool = False  # this shard holds legs of it too
    reply: Reply | None = None
    updated_ts: int = 0


class TransfersSnapshot(msgspec.Struct, array_like=True):
    """A shard's cash movements in its snapshot (``AccountSnapshot.transfers``)."""

    counter: int
    transfers: list[Transfer]
    keys: dict[str, dict[str, str]]
    journals: list[JournalBatch]
    legs: dict[str, list[str]]
    steps: int = 0
    awaiting: dict[str, str] = msgspec.field(default_factory=dict)  # none in a snapshot from before journals of shares


class Vote(msgspec.Struct, frozen=True):
    ok: bool
    reason: str | None = None
    message: str = ""


YES = Vote(True)


class Transfers(ShardBase):
    """The shard's part for cash movements (see the module's docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.transfer_counter = 0
        self.transfers: dict[str, Transfer] = {}  # id → record, in the order made
        self.account_transfers: dict[str, list[str]] = {}  # account → its records' ids (derived: rebuilt on restore)
        self.transfer_keys: dict[str, dict[str, str]] = {}  # account → idempotency key → transfer or journal id
        self.journals: dict[str, JournalBatch] = {}  # the batches this shard coordinates
        self.journal_legs: dict[str, list[str]] = {}  # journal id → the legs prepared here, awaiting the outcome (or their lots)
        # journal id → its coordinator's account: committed, but credits of shares here still await their lots
        self.journal_awaiting: dict[str, str] = {}
        self.journal_steps = 0  # journal messages handled (recovery tests' crash point ``transfer.before_send``)

    # --- deposits and withdrawals --------------------------------------------------------------

    def _request_transfer(self, command: RequestTransfer, now: int) -> None:
        """A deposit (pending) or a withdrawal (its cash held at once), or a refusal."""
        account = self.accounts.get(command.account)
        if account is None:
            self._refuse(command.reply, "forbidden", f"unknown account {command.account}")
            return
        if command.kind is _JOURNAL:
            self._refuse(command.reply, "invalid_request", "a journal is asked with the journal op")
            return
        existing = self._keyed(command.account, command.idempotency_key)
        if existing is not None:
            self._answer_repeat(existing, command, now)
            return
        problem = amount_problem(command.amount, MAX_CASH)
        if problem is not None:
            self._refuse(command.reply, TransferReason.INVALID_AMOUNT.value, problem)
            self._audit_refused(command, TransferReason.INVALID_AMOUNT.value)
            return
        held = 0
        if command.kind is _WITHDRAWAL:
            if command.amount > account.buying_power:
                message = f"withdrawal of {fixed.format_cash(command.amount)} exceeds the buying power {fixed.format_cash(account.buying_power)}"
                self._refuse(command.reply, TransferReason.INSUFFICIENT_FUNDS.value, message)
                self._audit_refused(command, TransferReason.INSUFFICIENT_FUNDS.value)
                return
            held = command.amount
            account.reserved_cash += held
        self.transfer_counter += 1
        record = Transfer(
            f"{self.name}-t{self.transfer_counter}",
            command.kind,
            account.account,
            command.amount,
            _PENDING,
            now,
            now,
            command.idempotency_key,
            command.asker,
            held=held,
        )
        self._add_transfer(record)
        self.transfer_keys.setdefault(account.account, {})[command.idempotency_key] = record.transfer_id
        self.out.to(GATEWAY, ALL, TransferEvent(record, command.reply))
        self._audit_transfer(record)

    def _audit_transfer(self, record: Transfer, reason: str = "") -> None:
        """A cash movement's decision (or a journal of shares' leg) into the audit log."""
        if self.out.audit:
            self.out.to(AUDIT, "", auditing.securities(record) if record.symbol is not None else auditing.transfer(record, reason))

    def _audit_refused(self, command: RequestTransfer, reason: str) -> None:
        if self.out.audit:
            self.out.to(AUDIT, "", auditing.refused_transfer(command.kind, command.account, command.amount, reason, command.asker))

    def _answer_repeat(self, existing: str, command: RequestTransfer, now: int) -> None:
        """A request whose key the account used before: the same content gets the record as
        it was first answered; anything else is refused. Both to the asker alone."""
        record = self.transfers.get(existing)
        same = record is not None and record.kind is command.kind and record.amount == command.amount
        if not same or record is None:
            self._refuse(command.reply, TransferReason.DUPLICATE_IDEMPOTENCY_KEY.value, _reused(command.idempotency_key, command.account))
            return
        if command.reply is not None:
            first = msgspec.structs.replace(
                record, status=_PENDING, reason=None, updated_ts=record.created_ts, held=record.amount if record.kind is _WITHDRAWAL else 0, decided_by=None
            )
            self.out.to(GATEWAY, command.reply.gateway, TransferToAsker(command.reply, first))

    def decision_problem(self, transfer_id: str, decision: Decision) -> tuple[str, str] | None:
        """Why ``decision`` cannot be applied to ``transfer_id`` now (a reason code and the
        operator's message), or ``None``. Read only: the shard's actor asks before it
        journals a decision, and the decision's handler asks again when it applies it."""
        record = self.transfers.get(transfer_id)
        if record is None or record.kind is _JOURNAL:
            return TransferReason.UNKNOWN_TRANSFER.value, f"unknown transfer {transfer_id}"
        if record.status is not _PENDING:
            return TransferReason.NOT_PENDING.value, f"transfer {transfer_id} is {record.status.value}, not pending"
        if decision is Decision.CANCEL and record.kind is _DEPOSIT:
            return TransferReason.NOT_CANCELABLE.value, f"transfer {transfer_id} is a deposit: reject it instead"
        if decision is Decision.SETTLE and record.kind is _DEPOSIT and self.accounts[record.account].cash + record.amount > MAX_CASH:
            return TransferReason.CASH_LIMIT.value, f"settling {transfer_id} would take {record.account}'s cash past what an account can hold"
        return None

    def _decide_transfer(self, command: DecideTransfer, now: int) -> None:
        """Settle, reject or cancel a pending deposit or withdrawal (the operator's input,
        journaled by the shard): the cash moves or the hold is released, and every follower
        of the account is told. A decision that does not apply changes nothing."""
        if self.decision_problem(command.transfer_id, command.decision) is not None:
            self.rejected_requests += 1
            return
        record = self.transfers[command.transfer_id]
        account = self.accounts[record.account]
        account.reserved_cash -= record.held
        status = command.decision.status
        if status is _SETTLED:
            account.cash += record.amount if record.kind is _DEPOSIT else -record.amount
        decided = msgspec.structs.replace(record, status=status, reason=command.reason, updated_ts=now, held=0, decided_by=command.asker)
        self.transfers[record.transfer_id] = decided
        self.out.to(GATEWAY, ALL, TransferEvent(decided))
        self._audit_transfer(decided)

    # --- reads -----------------------------------------------------------------------------------

    def _query_transfers(self, command: QueryTransfers, now: int) -> None:
        if command.account not in self.accounts:
            self._refuse(command.reply, "forbidden", f"unknown account {command.account}")
            return
        listed = self.transfers_of(command.account, command.status)
        self.out.to(GATEWAY, command.reply.gateway, TransfersReply(command.reply, command.account, listed))

    def transfers_of(self, account: str, status: TransferStatus | None = None) -> list[Transfer]:
        """``account``'s transfer records in the order they were made (``status``: only those)."""
        records = (self.transfers[transfer_id] for transfer_id in self.account_transfers.get(account, ()))
        return [record for record in records if status is None or record.status is status]

    def transfers_between(self, account: str, from_ns: int, to_ns: int) -> list[Transfer]:
        """``account``'s cash movements settled in ``[from_ns, to_ns)`` (a statement's period),
        in the order they were made (shares moved: ``security_moves``)."""
        return [r for r in self.transfers_of(account, _SETTLED) if r.symbol is None and from_ns <= r.updated_ts < to_ns]

    def security_moves(self, account: str) -> list[MoveEntry]:
        """``account``'s settled journals of shares, in the order booked: the quantity signed
        (in > 0), when booked, the leg's transfer id, and which account they came from or went to."""
        moves = []
        for record in self.transfers_of(account, _SETTLED):
            if record.symbol is None:
                continue
            incoming = record.to_account == account
            other = record.from_account if incoming else record.to_account
            description = f"journal {'from' if incoming else 'to'} {other} ({record.journal_id})"
            moves.append(MoveEntry(record.updated_ts, record.transfer_id, record.symbol, record.qty if incoming else -record.qty, description))
        return moves

    # --- journals: the coordinator ---------------------------------------------------------------

    def _request_journal(self, command: RequestJournal, now: int) -> None:
        """A batch of journals, at the shard of its first debit account: refused at once
        (nothing recorded) when the request itself is wrong, answered again when its key was
        used, else recorded and every shard holding one of its accounts asked to prepare."""
        if not command.entries:
            self._refuse(command.reply, "invalid_request", "a journal needs at least one entry")
            return
        first = command.entries[0].from_account
        account = self.accounts.get(first)
        if account is None:
            self._refuse(command.reply, "forbidden", f"unknown account {first}")
            return
        if account_actor(shard_of(first, command.shards)) != self.name:
            self._refuse(command.reply, "invalid_request", f"{first} is not on {self.name} in a topology of {command.shards} shards")
            return
        existing = self._keyed(first, command.idempotency_key)
        if existing is not None:
            self._answer_journal_repeat(existing, command)
            return
        for number, entry in enumerate(command.entries, 1):
            refused = self._entry_problem(entry)
            if refused is not None:
                self._refuse(command.reply, refused[0].value, f"entry {number}: {refused[1]}")
                return
        self.transfer_counter += 1
        journal_id = f"{self.name}-j{self.transfer_counter}"
        batch = JournalBatch(journal_id, first, command.idempotency_key, list(command.entries), command.asker, now, reply=command.reply, updated_ts=now)
        self.journals[journal_id] = batch
        self.transfer_keys.setdefault(first, {})[command.idempotency_key] = journal_id
        self.journal_steps += 1
        by_shard: dict[str, list[JournalLeg]] = {}
        for number, entry in enumerate(command.entries, 1):
            for leg in (
                JournalLeg(number, entry.from_account, entry.to_account, entry.amount, True, entry.symbol, entry.qty, entry.lots),
                JournalLeg(number, entry.to_account, entry.from_account, entry.amount, False, entry.symbol, entry.qty),
            ):
                by_shard.setdefault(account_actor(shard_of(leg.account, command.shards)), []).append(leg)
        local = by_shard.pop(self.name, [])
        for shard, legs in by_shard.items():
            batch.participants[shard] = legs[0].account
            batch.votes.append(shard)
            self.out.to(ACCOUNT, legs[0].account, self._prepare_message(batch, account.tenant, account.owner, command.across_owners, legs))
        if local:
            batch.local = True
            vote = self._prepare(self._prepare_message(batch, account.tenant, account.owner, command.across_owners, local), now)
            self._note_vote(batch, vote)
        self._decide_when_voted(batch, now)

    def _entry_problem(self, entry: JournalEntry) -> tuple[TransferReason, str] | None:
        """What is wrong with one entry of a batch on its face (a reason and a message), or
        ``None``: cash in whole cents above zero, or shares of a known symbol, on its
        increment, with no cash beside them and any lots named well; two accounts."""
        if entry.from_account == entry.to_account:
            return TransferReason.SAME_ACCOUNT, "a journal moves cash or shares between two accounts"
        if entry.symbol is None:
            problem = amount_problem(entry.amount, MAX_CASH)
            return None if problem is None else (TransferReason.INVALID_AMOUNT, problem)
        instrument = self.instruments.get(entry.symbol)
        if instrument is None:
            return TransferReason.UNKNOWN_SYMBOL, f"unknown symbol {entry.symbol}"
        if entry.amount:
            return TransferReason.INVALID_QTY, "an entry moves cash (amount) or shares (symbol and qty), not both"
        problem = qty_problem(entry.qty, instrument.qty_increment, MAX_CASH)
        if problem is not None:
            return TransferReason.INVALID_QTY, problem
        problem = lots_problem(entry.lots, entry.qty, instrument.qty_increment)
        return None if problem is None else (TransferReason.INVALID_LOTS, problem)

    @staticmethod
    def _prepare_message(batch: JournalBatch, tenant: str, owner: str, across_owners: bool, legs: list[JournalLeg]) -> JournalPrepare:
        return JournalPrepare(batch.journal_id, batch.account, tenant, owner, across_owners, batch.idempotency_key, batch.asker, legs)

    def _answer_journal_repeat(self, existing: str, command: RequestJournal) -> None:
        batch = self.journals.get(existing)
        if batch is None or batch.entries != list(command.entries):
            self._refuse(command.reply, TransferReason.DUPLICATE_IDEMPOTENCY_KEY.value, _reused(command.idempotency_key, batch.account if batch else existing))
            return
        if command.reply is not None:
            self.out.to(GATEWAY, command.reply.gateway, _journal_reply(batch, command.reply))

    def _journal_vote(self, vote: JournalVote, now: int) -> None:
        self.journal_steps += 1
        batch = self.journals.get(vote.journal_id)
        if batch is None or vote.shard not in batch.votes:
            self._anomaly(f"vote from {vote.shard} for journal {vote.journal_id} not awaited")
            return
        batch.votes.remove(vote.shard)
        self._note_vote(batch, Vote(vote.ok, vote.reason, vote.message))
        self._decide_when_voted(batch, now)

    @staticmethod
    def _note_vote(batch: JournalBatch, vote: Vote) -> None:
        if not vote.ok and batch.reason is None:  # the first refusal is the batch's reason
            batch.reason, batch.message = vote.reason, vote.message

    def _decide_when_voted(self, batch: JournalBatch, now: int) -> None:
        """Once every vote is in: commit when all said yes, else abort; tell every shard,
        book this shard's own legs, and answer once every shard has booked the outcome."""
        if batch.votes or batch.decided:
            return
        batch.decided = True
        commit = batch.reason is None
        batch.status = _SETTLED if commit else _REJECTED
        batch.updated_ts = now
        for shard, address in batch.participants.items():
            batch.bookings.append(shard)
            self.out.to(ACCOUNT, address, JournalOutcome(batch.journal_id, batch.account, commit))
        if batch.local and not self._book_outcome(batch.journal_id, commit, now, batch.account):
            batch.bookings.append(self.name)  # credits of shares here wait for their lots
        self._answer_when_booked(batch)

    def _journal_applied(self, applied: JournalApplied, now: int) -> None:
        self.journal_steps += 1
        batch = self.journals.get(applied.journal_id)
        if batch is None or applied.shard not in batch.bookings:
            self._anomaly(f"booking from {applied.shard} for journal {applied.journal_id} not awaited")
            return
        self._applied(batch, applied.shard)

    def _applied(self, batch: JournalBatch, shard: str) -> None:
        batch.bookings.remove(shard)
        self._answer_when_booked(batch)

    def _answer_when_booked(self, batch: JournalBatch) -> None:
        if batch.decided and not batch.bookings and batch.reply is not None:
            self.out.to(GATEWAY, batch.reply.gateway, _journal_reply(batch, batch.reply))
            batch.reply = None  # answered once: a repeat of the request is answered on its own

    # --- journals: every shard holding a leg -----------------------------------------------------

    def _journal_prepare(self, prepare: JournalPrepare, now: int) -> None:
        self.journal_steps += 1
        vote = self._prepare(prepare, now)
        self.out.to(ACCOUNT, prepare.coordinator, JournalVote(prepare.journal_id, self.name, vote.ok, vote.reason, vote.message))

    def _prepare(self, prepare: JournalPrepare, now: int) -> Vote:
        """Check every leg here; if all pass, record each (pending) and hold each debit, else
        record and hold nothing. The vote says which."""
        if prepare.journal_id in self.journal_legs:
            self._anomaly(f"journal {prepare.journal_id} prepared twice")
            return Vote(False, TransferReason.UNKNOWN_TRANSFER.value, "prepared twice")
        vote = self._check_legs(prepare)
        if not vote.ok:
            return vote
        ids: list[str] = []
        for leg in prepare.legs:
            account = self.accounts[leg.account]
            held = leg.amount if leg.debit else 0
            account.reserved_cash += held
            symbol, held_qty = None, 0
            if leg.symbol is not None:
                symbol = self.instruments[leg.symbol].symbol  # one string per symbol
                held_qty = leg.qty if leg.debit else 0
                self._adjust_reserved_qty(account, symbol, held_qty)
            source, target = (leg.account, leg.counterparty) if leg.debit else (leg.counterparty, leg.account)
            record = Transfer(
                f"{prepare.journal_id}-{leg.entry}-{'debit' if leg.debit else 'credit'}",
                _JOURNAL,
                leg.account,
                leg.amount,
                _PENDING,
                now,
                now,
                prepare.idempotency_key,
                prepare.asker,
                held=held,
                journal_id=prepare.journal_id,
                from_account=source,
                to_account=target,
                symbol=symbol,
                qty=leg.qty,
                held_qty=held_qty,
                named=leg.lots if leg.debit else None,
            )
            self._add_transfer(record)
            ids.append(record.transfer_id)
        self.journal_legs[prepare.journal_id] = ids
        return YES

    def _check_legs(self, prepare: JournalPrepare) -> Vote:
        debits: dict[str, int] = {}
        credits: dict[str, int] = {}
        shares: list[JournalLeg] = []
        for leg in prepare.legs:
            account = self.accounts.get(leg.account)
            if account is None or account.tenant != prepare.tenant:  # another tenant's account: as if there were none
                return Vote(False, TransferReason.UNKNOWN_ACCOUNT.value, f"entry {leg.entry}: unknown account {leg.account}")
            if account.owner != prepare.owner and not prepare.across_owners:
                message = f"entry {leg.entry}: {leg.account} has another owner; a journal across owners needs the cash.across_owners permission"
                return Vote(False, TransferReason.ACROSS_OWNERS.value, message)
            if leg.symbol is not None:
                shares.append(leg)
                continue
            into = debits if leg.debit else credits
            into[leg.account] = into.get(leg.account, 0) + leg.amount
        if shares:
            refused = self._check_shares(shares)
            if refused is not None:
                return refused
        for name, total in debits.items():
            account = self.accounts[name]
            if total > account.buying_power:
                message = f"{name}: journals of {fixed.format_cash(total)} exceed the buying power {fixed.format_cash(account.buying_power)}"
                return Vote(False, TransferReason.INSUFFICIENT_FUNDS.value, message)
        for name, total in credits.items():
            if self.accounts[name].cash + total > MAX_CASH:
                return Vote(False, TransferReason.CASH_LIMIT.value, f"{name}: the credit would take its cash past what an account can hold")
        return YES

    def _check_shares(self, legs: list[JournalLeg]) -> Vote | None:
        """The legs of shares here (each account known, of the batch's tenant and owner):
        neither account may sell short; the symbol is known; each account's debits of a symbol
        fit its quantity available and the lots they name are open and hold what is asked;
        no credit takes a position past what an account can hold. ``None``: all pass."""
        debits: dict[tuple[str, str], int] = {}
        named: dict[tuple[str, str], dict[int, int]] = {}
        credits: dict[tuple[str, str], int] = {}
        for leg in legs:
            assert leg.symbol is not None
            account = self.accounts[leg.account]
            if account.allow_short:
                message = f"entry {leg.entry}: {leg.account} may sell short; shares are journaled only between accounts that may not"
                return Vote(False, TransferReason.SHORT_ACCOUNT.value, message)
            if leg.symbol not in self.instruments:
                return Vote(False, TransferReason.UNKNOWN_SYMBOL.value, f"entry {leg.entry}: unknown symbol {leg.symbol}")
            key = (leg.account, leg.symbol)
            if not leg.debit:
                credits[key] = credits.get(key, 0) + leg.qty
                continue
            debits[key] = debits.get(key, 0) + leg.qty
            for lot_id, qty in leg.lots or ():
                wanted = named.setdefault(key, {})
                wanted[lot_id] = wanted.get(lot_id, 0) + qty
        for (name, symbol), total in debits.items():
            available = self.accounts[name].available_qty(symbol)
            if total > available:
                message = f"{name}: journals of {fixed.format(total)} {symbol} exceed the quantity available {fixed.format(max(available, 0))}"
                return Vote(False, TransferReason.INSUFFICIENT_POSITION.value, message)
        for (name, symbol), wanted in named.items():
            try:
                lots.check_specific(self._books(self.accounts[name]), symbol, list(wanted.items()))
            except LotError as error:
                return Vote(False, error.code, f"{name}: {error}")
        for (name, symbol), total in credits.items():
            if self.accounts[name].position_qty(symbol) + total > MAX_CASH:
                return Vote(False, TransferReason.POSITION_LIMIT.value, f"{name}: the credit would take its {symbol} position past what an account can hold")
        return None

    def _journal_outcome(self, outcome: JournalOutcome, now: int) -> None:
        self.journal_steps += 1
        if self._book_outcome(outcome.journal_id, outcome.commit, now, outcome.coordinator):
            self.out.to(ACCOUNT, outcome.coordinator, JournalApplied(outcome.journal_id, self.name))

    def _book_outcome(self, journal_id: str, commit: bool, now: int, coordinator: str) -> bool:
        """Commit: every leg prepared here is booked (the debit's hold becomes the debit) and
        announced; a debit of shares takes its lots and sends them to its credit's shard (this
        one's too), a credit of shares waits for them. Abort: every hold is released and the
        legs removed: a rejected batch leaves no record on the accounts (its coordinator keeps
        the batch for its key). Returns whether every leg here is booked; if not, the shard
        reports its booking to ``coordinator`` once the last lots have come."""
        waiting: list[str] = []
        sent: list[tuple[str, JournalLots]] = []
        for transfer_id in self.journal_legs.pop(journal_id, []):
            record = self.transfers[transfer_id]
            account = self.accounts[record.account]
            account.reserved_cash -= record.held
            if record.symbol is not None:
                self._adjust_reserved_qty(account, record.symbol, -record.held_qty)
            if not commit:
                del self.transfers[transfer_id]
                self.account_transfers[record.account].remove(transfer_id)
                self._audit_transfer(msgspec.structs.replace(record, status=_REJECTED, updated_ts=now, held=0, held_qty=0), "journal aborted")
                continue
            if record.symbol is not None and record.to_account == record.account:
                waiting.append(transfer_id)  # booked when its lots come
                continue
            moved = None
            if record.symbol is not None:
                assert record.to_account is not None
                moved = self._take_shares(account, record)
                entry = int(transfer_id.rsplit("-", 2)[1])
                sent.append((record.to_account, JournalLots(journal_id, entry, moved)))
            else:
                account.cash += -record.amount if record.held else record.amount
            booked = msgspec.structs.replace(record, status=_SETTLED, updated_ts=now, held=0, held_qty=0, lots=moved)
            self.transfers[transfer_id] = booked
            self.out.to(GATEWAY, ALL, TransferEvent(booked))
            self._audit_transfer(booked)
        if not commit:
            return True
        self.journal_legs[journal_id] = waiting
        for target, message in sent:
            if target in self.accounts:
                self._receive_lots(message, now)  # the credit is here too
            else:
                self.out.to(ACCOUNT, target, message)
        if self.journal_legs[journal_id]:
            self.journal_awaiting[journal_id] = coordinator
            return False
        del self.journal_legs[journal_id]
        return True

    def _take_shares(self, account: AccountRecord, record: Transfer) -> list[MovedLot]:
        """A debit of shares booked: its lots taken (named ones first, as a sell's, else by the
        account's method), the position's quantity and cost lessened by theirs."""
        assert record.symbol is not None and record.journal_id is not None
        books = self._books(account)
        named = list(record.named) if record.named else None
        method = LotMethod.SPECIFIC if named else LotMethod(books.method)
        taken = lots.take_lots(books, record.symbol, record.qty, method, named)
        position = account.positions[record.symbol]
        position.qty -= record.qty
        position.cost -= sum(lot.cost for lot in taken) * fixed.SCALE
        return [MovedLot(*lot) for lot in taken]

    def _journal_lots(self, message: JournalLots, now: int) -> None:
        self.journal_steps += 1
        self._receive_lots(message, now)

    def _receive_lots(self, message: JournalLots, now: int) -> None:
        """The lots of a debit of shares, at the shard of its credit: opened in the credit's
        account (new lot ids, their cost and acquisition time kept), its position's quantity
        and cost grown by theirs, the credit booked; the shard's booking reported when it was
        the last leg the committed journal waited for here."""
        transfer_id = f"{message.journal_id}-{message.entry}-credit"
        waiting = self.journal_legs.get(message.journal_id)
        record = self.transfers.get(transfer_id)
        if record is None or record.symbol is None or waiting is None or transfer_id not in waiting:
            self._anomaly(f"lots for {transfer_id} not awaited")
            return
        waiting.remove(transfer_id)
        account = self.accounts[record.account]
        opened = lots.put_lots(self._books(account), record.symbol, [Lot(lot.lot_id, lot.qty, lot.cost, lot.acquired, lot.adjust, lot.flags) for lot in message.lots])
        position = account.positions.setdefault(shared(record.symbol), PositionRecord())
        position.qty += record.qty
        position.cost += sum(lot.cost for lot in opened) * fixed.SCALE
        booked = msgspec.structs.replace(record, status=_SETTLED, updated_ts=now, lots=[MovedLot(*lot) for lot in opened])
        self.transfers[transfer_id] = booked
        self.out.to(GATEWAY, ALL, TransferEvent(booked))
        self._audit_transfer(booked)
        if waiting or message.journal_id not in self.journal_awaiting:
            return  # more lots to come, or the outcome (which reports the booking) has not come yet
        del self.journal_legs[message.journal_id]
        coordinator = self.journal_awaiting.pop(message.journal_id)
        batch = self.journals.get(message.journal_id)
        if batch is not None:
            self._applied(batch, self.name)  # this shard coordinates the journal
        else:
            self.out.to(ACCOUNT, coordinator, JournalApplied(message.journal_id, self.name))

    # --- bookkeeping -----------------------------------------------------------------------------

    def _keyed(self, account: str, key: str) -> str | None:
        keys = self.transfer_keys.get(account)
        return None if keys is None else keys.get(key)

    def _add_transfer(self, record: Transfer) -> None:
        self.transfers[record.transfer_id] = record
        self.account_transfers.setdefault(record.account, []).append(record.transfer_id)

    def transfer_holds(self, account: str) -> int:
        """The cash ``account``'s pending transfers hold (in its reserved cash)."""
        return sum(record.held for record in self.transfers_of(account, _PENDING))

    def transfer_cash(self, account: str) -> int:
        """What ``account``'s settled transfers moved: deposits and journal credits less
        withdrawals and journal debits."""
        total = 0
        for record in self.transfers_of(account, _SETTLED):
            if record.symbol is not None:
                continue
            incoming = record.kind is _DEPOSIT or (record.kind is _JOURNAL and record.to_account == account)
            total += record.amount if incoming else -record.amount
        return total

    def transfer_qty_holds(self, account: str) -> dict[str, int]:
        """The shares ``account``'s prepared debits of shares hold (in its reserved quantity), by symbol."""
        holds: dict[str, int] = {}
        for record in self.transfers_of(account, _PENDING):
            if record.symbol is not None and record.held_qty:
                holds[record.symbol] = holds.get(record.symbol, 0) + record.held_qty
        return holds

    def moved_qty(self, account: str) -> dict[str, int]:
        """What ``account``'s settled journals of shares moved, by symbol (in > 0)."""
        moved: dict[str, int] = {}
        for record in self.transfers_of(account, _SETTLED):
            if record.symbol is not None:
                signed = record.qty if record.to_account == account else -record.qty
                moved[record.symbol] = moved.get(record.symbol, 0) + signed
        return moved

    def check_transfers(self) -> None:
        """Each record is where its account is, holds what its kind and status say, and every
        prepared journal leg awaits its outcome (raises ``AssertionError``)."""
        listed = [transfer_id for ids in self.account_transfers.values() for transfer_id in ids]
        assert sorted(listed) == sorted(self.transfers), "account_transfers does not list every transfer once"
        waiting = {transfer_id for ids in self.journal_legs.values() for transfer_id in ids}
        for record in self.transfers.values():
            assert record.account in self.accounts, record.transfer_id
            holds = record.status is _PENDING and (record.kind is _WITHDRAWAL or (record.kind is _JOURNAL and record.from_account == record.account))
            if record.symbol is None:
                assert amount_problem(record.amount, MAX_CASH) is None, record.transfer_id
                assert record.held == (record.amount if holds else 0), (record.transfer_id, record.held)
            else:
                assert record.kind is _JOURNAL and record.amount == record.held == 0 < record.qty, record.transfer_id
                assert record.held_qty == (record.qty if holds else 0), (record.transfer_id, record.held_qty)
                assert (record.lots is not None) == (record.status is _SETTLED), record.transfer_id
                assert record.lots is None or sum(lot.qty for lot in record.lots) == record.qty, record.transfer_id
            if record.kind is _JOURNAL:
                assert (record.status is _PENDING) == (record.transfer_id in waiting), record.transfer_id
        for journal_id in self.journal_awaiting:
            assert self.journal_legs.get(journal_id), journal_id  # committed here: only credits of shares wait
        for batch in self.journals.values():
            assert not batch.bookings or batch.decided, batch.journal_id
            assert batch.status is (_PENDING if not batch.decided else _REJECTED if batch.reason else _SETTLED), batch.journal_id

    def transfers_snapshot(self) -> TransfersSnapshot:
        return TransfersSnapshot(
            self.transfer_counter,
            list(self.transfers.values()),
            self.transfer_keys,
            list(self.journals.values()),
            self.journal_legs,
            self.journal_steps,
            self.journal_awaiting,
        )

    def restore_transfers(self, state: TransfersSnapshot | None) -> None:
        """The cash movements a snapshot held (none in a snapshot from before them)."""
        if state is None:
            return
        self.transfer_counter, self.transfer_keys, self.journal_legs, self.journal_steps = state.counter, state.keys, state.legs, state.steps
        self.journal_awaiting = state.awaiting
        for record in state.transfers:
            self._add_transfer(record)
        self.journals = {batch.journal_id: batch for batch in state.journals}

    def transfers_state(self) -> bytes:
        """The cash movements' canonical encoding, for ``state_hash`` (without the count of
        journal messages handled, a counter for crash points like ``allocations``)."""
        return msgspec.msgpack.encode(msgspec.structs.replace(self.transfers_snapshot(), steps=0))



def _reused(key: str, account: str) -> str:
    return f"idempotency_key {key!r} was used by {account} for another request"


def _journal_reply(batch: JournalBatch, reply: Reply) -> JournalReply:
    status = batch.status if batch.decided and not batch.bookings else _PENDING
    return JournalReply(reply, batch.journal_id, status, batch.entries, batch.reason, batch.message, batch.idempotency_key)
