"""AccountShard core: accounts, positions, cash, reservations and the life of client orders.

A plain class with synchronous methods. It never reads a clock or a random source: every
call carries ``now`` and ids are counters in the state, so replaying the same inputs gives
the same state (``state_hash``). Business outcomes are events; exceptions mean a broken
invariant.

``AccountState`` puts together the shard's parts, one idea per module: ``base`` (the state,
the lifecycle mutator, holds, reports), ``entry`` (new orders and risk), ``requests``
(cancel and replace), ``booking`` (fills and the venue's ends), ``queries`` and
``markets`` (quotes, halts, the open and NAV markers), ``transfers`` (deposits, withdrawals
and journals between accounts, with their two-phase commit across shards), ``statements``
(an account's entries and balances over a period, the yearly gains report). This module holds what concerns the
whole: accounts and the kill switch, the handler table, the invariants and the hash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import ClassVar, cast

import msgspec

from actors.account.base import shared
from actors.account.booking import Booking
from actors.account.books import Bookkeeping
from actors.account.entry import OrderEntry
from actors.account.gateways import GatewayRoutes, GatewayRoutesSnapshot
from actors.account.limits import tenant_of
from actors.account.markets import Markets
from actors.account.orders import at_rest, thaw
from actors.account.portfolio import Portfolio, PortfolioState
from actors.account.queries import Queries
from actors.account.records import SAME_AS_SPEC, AccountRecord, OrderRecord, PositionRecord
from actors.account.requests import Requests
from actors.account.risk import MarketView, RiskLimits
from actors.account.statements import Statements
from actors.account.transfers import Transfers, TransfersSnapshot
from actors.runtime.outputs import ALL
from actors.runtime.snapshot import Encoded, Prepared
from model import fixed, lots
from model.config import AccountSeed
from model.lots import Books
from model.enums import Side, VenueEventKind
from model.instruments import Instrument
from model.lifecycle import STATES
from model.messages import GatewayServes
from model.messages import (
    AllocationFills,
    Message,
    CancelAll,
    CancelOrder,
    DeskOrder,
    LoadOrders,
    MarketUpdate,
    NewLotOrder,
    NewOrder,
    OpenAccount,
    OpenMarket,
    OrderUpdate,
    QueryAccount,
    QueryGains,
    QueryLots,
    QueryOrders,
    ReplaceOrder,
    SetKill,
    SetRiskLimits,
    SetLotMethod,
    SetAccountTradingState,
    SetPortfolioLimits,
    SetPortfolioModel,
    SetTradingStatus,
    StrikeNav,
)
from model.messages import (
    DecideTransfer,
    JournalApplied,
    JournalLots,
    JournalOutcome,
    JournalPrepare,
    JournalVote,
    QueryStatement,
    QueryTransfers,
    RequestJournal,
    RequestTransfer,
)

_encoder = msgspec.msgpack.Encoder()
_books_decoder = msgspec.msgpack.Decoder(Books)

# members read on every venue event, bound once (model/enums.py says why)
_ACCEPTED, _TRADE, _REPLACED = VenueEventKind.ACCEPTED, VenueEventKind.TRADE, VenueEventKind.REPLACED
_CANCEL_REJECTED, _REPLACE_REJECTED = VenueEventKind.CANCEL_REJECTED, VenueEventKind.REPLACE_REJECTED


class AccountSnapshot(msgspec.Struct):
    """An account shard in a snapshot: its reference data and limits as it was built with
    them, its accounts and orders in the order it holds them, its markets and counters."""

    kind: ClassVar[str] = "account"

    name: str
    instruments: list[Instrument]
    limits: RiskLimits
    accounts: list[AccountRecord]  # each with its tenant and the limits it was resolved to
    orders: list[msgspec.Raw]  # each order's encoding (an ``OrderRecord``; ``actors/account/orders.py``)
    markets: dict[str, MarketView]
    order_counter: int
    allocations: int
    nav_markers: int
    kill_all: bool
    rejected_requests: int
    anomalies: list[str]
    tenant_limits: dict[str, RiskLimits] = msgspec.field(default_factory=dict)  # none in a snapshot from before them
    transfers: TransfersSnapshot | None = None  # cash movements (``transfers.py``); none in a snapshot from before them
    last_trade: dict[str, int] = msgspec.field(default_factory=dict)  # the ``last`` marks (none before the books)
    portfolio: PortfolioState | None = None  # portfolio limits and trading states (``portfolio.py``); none before them
    gateway_routes: GatewayRoutesSnapshot | None = None  # which gateways serve which accounts (``gateways.py``); none: no gateway has announced yet


class AccountState(OrderEntry, Requests, Booking, Queries, Markets, Statements, Transfers):
    """Owns a set of accounts (each account has exactly one owning shard) and their orders.

    Guarantees: an order is reported ``new`` only after every pre-trade check passed and its
    reservation is held; ``(account, client_order_id)`` is unique forever (a resend with the
    same content gets the original result, different content ``duplicate_client_order_id``);
    a rejected request changes nothing but the rejection counter.
    """

    # --- accounts and the kill switch ----------------------------------------------------

    def open_account(self, seed: AccountSeed, now: int = 0) -> None:
        """Open ``seed``'s account; each position it brings is one lot, at the cost and
        acquisition date its ``basis`` gives (else the reference price's value, and ``now``)."""
        if seed.account in self.accounts:
            raise ValueError(f"account {seed.account} already exists")
        record = AccountRecord(
            account=seed.account,
            owner=seed.owner,
            cash=seed.cash,
            allow_short=seed.allow_short,
            initial_cash=seed.cash,
            killed=self.kill_all,
            group=seed.group,
            tenant=tenant_of(seed.tenant),
            limits=self.limits_of(seed.tenant),
            books=Books(),
        )
        basis = {symbol: (cost, day) for symbol, cost, day in seed.basis}
        for symbol, qty in seed.positions:
            if symbol not in self.instruments:
                raise ValueError(f"account {seed.account}: unknown symbol {symbol}")
            cost, day = basis.get(symbol, (None, 0))
            record.positions[symbol] = PositionRecord(qty=qty)
            record.positions[symbol].cost = self._open_lots(record, symbol, qty, cost, day, now) * fixed.SCALE
            record.initial_positions[symbol] = qty
        self.accounts[seed.account] = record
        self.account_opened(record)

    def _open_account(self, command: OpenAccount, now: int) -> None:
        if command.account in self.accounts:
            self._anomaly(f"account {command.account} opened twice")
            return
        try:
            self.open_account(
                AccountSeed(
                    command.account,
                    command.owner,
                    command.cash,
                    command.allow_short,
                    command.positions,
                    command.group,
                    tenant_of(command.tenant),
                    command.basis,
                ),
                now,
            )
        except ValueError as error:
            self._anomaly(str(error))

    def _gateway_serves(self, command: GatewayServes, now: int) -> None:
        """A gateway says which accounts its sessions follow (``gateways.py``)."""
        self.gateway_routes.apply(command)

    def _set_kill(self, command: SetKill, now: int) -> None:
        """The kill switch: cancel the open orders of the account(s); ``risk`` refuses new
        ones while ``killed``. Persisted like any state: it survives a restart."""
        if command.account == ALL:
            self.kill_all = command.killed
            targets = list(self.accounts.values())
        else:
            account = self.accounts.get(command.account)
            targets = [account] if account is not None else []
        for account in targets:
            account.killed = command.killed
        if not command.killed:
            return
        killed = {account.account for account in targets}
        for order_id in self._cancelable(lambda order: order.account in killed):
            self._request_cancel(self.orders[order_id])

    def _set_risk_limits(self, command: SetRiskLimits, now: int) -> None:
        """The limits of the configuration this shard started with: every account, present
        and future, decides its next orders under its tenant's. Orders already working keep
        the holds they were accepted with."""
        self.limits, self.tenant_limits = command.limits, dict(command.tenant_limits)
        for account in self.accounts.values():
            account.limits = self.limits_of(account.tenant)

    # --- events from instrument actors -------------------------------------------------------

    def _order_update(self, update: OrderUpdate, now: int) -> None:
        order = self.orders.get(update.order_id)
        if order is None:
            self._anomaly(f"update for unknown order {update.order_id}: {update.kind.value}")
            return
        kind = update.kind
        if kind is _ACCEPTED:
            order.venue = shared(update.venue) or order.venue
            return
        if kind is _TRADE:
            self._trade(order, update, now)
        elif kind is _REPLACED:
            self._replaced(order, now)
        elif kind is _CANCEL_REJECTED:
            self._cancel_refused(order, update)
        elif kind is _REPLACE_REJECTED:
            self._replace_refused(order, update)
        else:
            self._finish(order, update, now)

    def apply(self, message: Message, now: int) -> None:
        """Apply one input and review the accounts it concerns for risk alerts
        (``actors/account/portfolio.py``); then the orders it made hot that are at rest go
        cold again (``actors/account/orders.py``), also when the input failed."""
        if self.allocated and message.__class__ is not AllocationFills:
            self.review_allocated(now)
        try:
            super().apply(message, now)
            self.after_input(message, now)
        finally:
            self.orders.settle()

    def end_turn(self, now: int) -> None:
        """A turn's inputs are applied: the accounts its allocations filled are reviewed
        (``Portfolio.review_allocated``), their alerts leaving with the turn's outputs."""
        self.review_allocated(now)

    _handlers: ClassVar[dict[type, Callable[..., None]]] = {
        NewOrder: OrderEntry._new_order,
        NewLotOrder: OrderEntry._new_lot_order,
        DeskOrder: OrderEntry._desk_order,
        LoadOrders: OrderEntry._load_orders,
        CancelOrder: Requests._cancel_order,
        ReplaceOrder: Requests._replace_order,
        CancelAll: Requests._cancel_all,
        QueryOrders: Queries._query_orders,
        QueryAccount: Queries._query_account,
        OrderUpdate: _order_update,
        AllocationFills: Booking._allocation_fills,
        MarketUpdate: Markets._market_update,
        SetTradingStatus: Markets._set_trading_status,
        SetKill: _set_kill,
        SetRiskLimits: _set_risk_limits,
        OpenAccount: _open_account,
        OpenMarket: Markets._open_market,
        StrikeNav: Markets._strike_nav,
        RequestTransfer: Transfers._request_transfer,
        DecideTransfer: Transfers._decide_transfer,
        QueryTransfers: Transfers._query_transfers,
        RequestJournal: Transfers._request_journal,
        JournalPrepare: Transfers._journal_prepare,
        JournalVote: Transfers._journal_vote,
        JournalOutcome: Transfers._journal_outcome,
        JournalApplied: Transfers._journal_applied,
        JournalLots: Transfers._journal_lots,
        QueryLots: Bookkeeping._query_lots,
        QueryGains: Bookkeeping._query_gains,
        SetLotMethod: Bookkeeping._set_lot_method,
        QueryStatement: Statements._query_statement,
        SetPortfolioModel: Portfolio._set_portfolio_model,
        SetPortfolioLimits: Portfolio._set_portfolio_limits,
        SetAccountTradingState: Portfolio._set_account_trading_state,
        GatewayServes: _gateway_serves,
    }

    # --- checks ------------------------------------------------------------------------------

    def check_invariants(self) -> None:
        """Reservations equal the sum over open orders and pending transfers' holds and are
        never negative, the reserved quantities those of open orders and prepared journal
        debits of shares; cash equals the opening cash less every buy booked plus every sell
        booked plus what settled transfers moved; positions equal the opening positions plus
        the fills plus the shares settled journals moved; each account's open legs equal the
        sum over its open orders (``portfolio.py``)."""
        self.check_transfers()
        self.check_legs()
        for account in self.accounts.values():
            orders = [order for order_id in set(account.orders.values()) if (order := self.orders.peek(order_id)) is not None]
            pending = [order.pending_replace for order in orders if order.pending_replace is not None]
            expected_cash_hold = sum(o.reserved_cash for o in orders) + sum(p.held_cash for p in pending) + self.transfer_holds(account.account)
            assert account.reserved_cash == expected_cash_hold >= 0, (account.account, account.reserved_cash, expected_cash_hold)
            holds: dict[str, int] = self.transfer_qty_holds(account.account)
            for order in orders:
                assert order.reserved_cash >= 0 and order.reserved_qty >= 0, order.order_id
                assert (order.status, order.pending) in STATES, (order.order_id, order.status, order.pending)
                assert (order.pending_replace is not None) == order.pending.has_replace, order.order_id
                assert order.cancel_reply is None or order.pending.has_cancel, order.order_id
                holds[order.spec.symbol] = holds.get(order.spec.symbol, 0) + order.reserved_qty
                if order.pending_replace is not None:
                    holds[order.spec.symbol] += order.pending_replace.held_qty
            assert {s: q for s, q in holds.items() if q} == account.reserved_qty, (account.account, holds, account.reserved_qty)
            chains = [o for o in orders if o.replaced_by is None]
            cash = account.initial_cash + self.transfer_cash(account.account)
            positions: dict[str, int] = dict(account.initial_positions)
            for symbol, moved in self.moved_qty(account.account).items():
                positions[symbol] = positions.get(symbol, 0) + moved
            for order in chains:
                spec = order.spec
                cash += order.booked_cash if spec.side is Side.SELL else -order.booked_cash
                positions[spec.symbol] = positions.get(spec.symbol, 0) + (order.cum_qty if spec.side is Side.BUY else -order.cum_qty)
                if spec.notional is not None and spec.side is Side.BUY:
                    assert order.booked_cash <= spec.notional, order.order_id
                if spec.qty is not None:
                    assert order.cum_qty <= spec.qty, order.order_id
            assert cash == account.cash, (account.account, cash, account.cash)
            held = {s: p.qty for s, p in account.positions.items() if p.qty}
            assert {s: q for s, q in positions.items() if q} == held, (account.account, positions, held)
            self.check_books(account)

    # --- snapshots ------------------------------------------------------------------------

    snapshot_type: ClassVar[type[AccountSnapshot]] = AccountSnapshot

    def snapshot(self) -> AccountSnapshot:
        """The state as it stands (encode it before anything changes: records are shared).
        The orders are their encodings, the cold ones' own bytes (``Orders.encoded``): a
        fresh list that nothing changes later, so a snapshot may write it after the shard
        has gone on (``actors/runtime/snapshot.py``)."""
        return self._snapshot([msgspec.Raw(encoded) for encoded in self.orders.encoded()])

    def snapshot_to_write(self, now: bool = True) -> AccountSnapshot:
        """``snapshot`` for ``snapshot.capture`` alone: the orders' encodings as they are
        (``Encoded``), not one ``msgspec.Raw`` wrapped around each. ``now=False`` (a snapshot
        written before the shard changes again: a clean shutdown's, an operator's): the
        orders read as they are written (no list of them), and the accounts as ``Prepared`` —
        each written with its staged fills filed and its pending lots opened in a copy
        (``_as_written``), so writing it books nothing into the live shard: at 5,000,000
        orders that booking grew a shard by some 0.4 GB for good, at the moment it held the
        most."""
        if now:
            encoded = self.orders.encoded()
            return self._snapshot(cast(list[msgspec.Raw], Encoded(encoded, len(encoded))))
        orders = cast(list[msgspec.Raw], Encoded(self.orders.encodings(), len(self.orders)))  # read as written: nothing changes them before
        staged = self.staged.peek_all(self.accounts) if len(self.staged) else None
        return self._snapshot(orders, cast(list[AccountRecord], Prepared(list(self.accounts.values()), lambda account: self._as_written(account, staged))))

    def _as_written(self, account: AccountRecord, staged: Callable[[str], list[tuple[str, str, bool, int, int, int, int]]] | None) -> AccountRecord:
        """The account as a snapshot and ``state_hash`` encode it: its staged fills filed and
        its pending lots opened — in a copy of its books, when there is anything to do."""
        rows = staged(account.account) if staged is not None else []
        books = account.books
        if not rows and (books is None or not books.pending):
            return account
        copy = Books() if books is None else _books_decoder.decode(_encoder.encode(books))
        self._file_into(copy, rows)
        lots.book_pending(copy)
        return msgspec.structs.replace(account, books=copy)

    def _snapshot(self, orders: list[msgspec.Raw], accounts: list[AccountRecord] | None = None) -> AccountSnapshot:
        """The snapshot with ``orders``, and ``accounts`` as given or (``None``) the live ones
        with every staged fill filed and every pending lot opened in place."""
        if accounts is None:
            self.book_pending_lots()
            accounts = list(self.accounts.values())
        return AccountSnapshot(
            name=self.name,
            instruments=list(self.instruments.values()),
            limits=self.limits,
            accounts=accounts,
            orders=orders,
            markets=self.markets,
            order_counter=self.order_counter,
            allocations=self.allocations,
            nav_markers=self.nav_markers,
            kill_all=self.kill_all,
            rejected_requests=self.rejected_requests,
            anomalies=self.anomalies,
            tenant_limits=self.tenant_limits,
            transfers=self.transfers_snapshot(),
            last_trade=self.last_trade,
            portfolio=self.portfolio,
            gateway_routes=self.gateway_routes.snapshot(),
        )

    @classmethod
    def restore(cls, state: AccountSnapshot) -> AccountState:
        """The shard ``snapshot`` described; the maps by id are rebuilt from the records.
        Each order is decoded (so a snapshot's every order is checked as it loads: raises
        ``msgspec.DecodeError``) and kept cold when at rest, re-encoded: the bytes are this
        version's encoding of it, whatever version wrote the snapshot."""
        core = cls(state.name, state.instruments, state.limits, state.tenant_limits)
        core.accounts = {account.account: core._restored_account(account) for account in state.accounts}
        core._restore_orders(state.orders)
        core.markets = state.markets
        core.last_trade = state.last_trade
        core.order_counter, core.allocations, core.nav_markers = state.order_counter, state.allocations, state.nav_markers
        core.kill_all, core.rejected_requests, core.anomalies = state.kill_all, state.rejected_requests, state.anomalies
        core.restore_transfers(state.transfers)
        core.portfolio = state.portfolio or PortfolioState()
        core.gateway_routes = GatewayRoutes.restore(state.gateway_routes)
        core.rebuild_legs()
        return core

    def _restored_account(self, account: AccountRecord) -> AccountRecord:
        """An account as a snapshot held it, its limits resolved: those it was saved with
        (equal to its tenant's in the same snapshot, then that one shared object), or its
        tenant's for a record saved before per-account limits."""
        account.tenant = tenant_of(account.tenant)
        resolved = self.limits_of(account.tenant)
        if account.limits is None or account.limits == resolved:
            account.limits = resolved
        if account.books is None:
            self._books_from_positions(account)
        return account

    def _books_from_positions(self, account: AccountRecord) -> None:
        """An account saved before lots: each position becomes one lot at its cost as then
        kept (``Σ qty × price`` per unit), rounded to the cent like a fill's cash, and the
        position's cost becomes that lot's (acquired: unknown, the epoch)."""
        account.books = Books()
        for symbol, position in account.positions.items():
            if position.qty and symbol in self.instruments:
                value = position.cost * self.instruments[symbol].multiplier
                cost = fixed.ceil_cent(value) if position.qty > 0 else -fixed.floor_cent(value)
                lots.open_position(account.books, symbol, position.qty, cost, 0)
                position.cost = cost * fixed.SCALE
            else:
                position.cost = 0

    def book_pending_lots(self) -> None:
        """Every account's pending lots opened (``model/lots.py``, ``Books.pending``): what a
        snapshot and the hash encode are the books as eager booking makes them, whatever was
        read in between, so a live shard and its replay agree byte for byte. The staged
        fills are filed first (``file_staged``)."""
        if len(self.staged):
            self.file_staged()
        for account in self.accounts.values():
            books = account.books
            if books is not None and books.pending:
                lots.book_pending(books)

    def records(self) -> int:
        """The orders a snapshot holds: what its size grows with (``Snapshotter``)."""
        return len(self.orders)

    def _restore_orders(self, encoded: list[msgspec.Raw]) -> None:
        """The orders back, with the strings the live shard shares and the decoder copied
        once per use made one again: an order's id is one string, the key of the shard's
        map and the value of its account's map of client order ids; a hot order's account
        and symbol are its account's and its instrument's, its venue, block and reason are
        ``shared``, and so is the fingerprint marker. Values (and dict order) are
        unchanged, so is ``state_hash``; a restored shard of millions of orders holds no
        more than the live one did."""
        accounts, orders = self.accounts, self.orders
        ids = {order_id: order_id for account in accounts.values() for order_id in account.orders.values()}
        for raw in encoded:
            order = thaw(raw)
            key = ids.get(order.order_id, order.order_id)
            if not at_rest(order):
                self._share_strings(order, key)
            orders.add_restored(key, order)

    def _share_strings(self, order: OrderRecord, order_id: str) -> None:
        account = self.accounts.get(order.account)
        if account is not None:
            order.account = account.account
        order.order_id = order_id
        instrument = self.instruments.get(order.spec.symbol)
        if instrument is not None and order.spec.symbol is not instrument.symbol:
            order.spec = msgspec.structs.replace(order.spec, symbol=instrument.symbol)
        order.venue, order.block, order.reason = shared(order.venue), shared(order.block), shared(order.reason)
        if order.fingerprint == SAME_AS_SPEC:
            order.fingerprint = SAME_AS_SPEC

    def state_hash(self) -> str:
        """SHA-256 of the whole state in a canonical encoding: equal states, equal hashes.
        An order counts by its encoding, the same hot or cold."""
        self.book_pending_lots()
        state = (self.accounts, self.markets, self.order_counter, self.rejected_requests, self.kill_all, self.last_trade)
        digest = hashlib.sha256(msgspec.msgpack.encode(state))
        for encoded in self.orders.encodings():
            digest.update(encoded)
        digest.update(self.transfers_state())
        digest.update(msgspec.msgpack.encode(self.portfolio))
        return digest.hexdigest()
