"""Order entry: a ``new_order`` checked, held for and acknowledged, or refused; and a
basket's chunk of orders, each entered the same way."""

from __future__ import annotations

import msgspec

from actors.account import auditing, risk
from actors.account.base import exec_id
from actors.account.portfolio import Portfolio
from actors.account.records import SAME_AS_SPEC, OrderRecord
from actors.runtime.outputs import AUDIT, GATEWAY, INSTRUMENT
from model.enums import ExecType, OrderStatus, Reason, Side
from model.lifecycle import OrderEvent
from model.messages import DeskOrder, DeskOrderRefused, DeskRoute, ExecutionReport, LoadOrders, NewLotOrder, NewOrder, OrdersLoaded, Reply, RouteOrder
from model.orders import OrderSpec

# A fingerprint stored by earlier versions is an order's terms as bytes: the ``OrderSpec``
# encoded (an array in field order, the same bytes the tuple of the eight fields gave). A
# resend must carry the same; new records store ``SAME_AS_SPEC`` (``records.py``).
_fingerprint_encoder = msgspec.msgpack.Encoder()
# An order that chose its lots (``NewLotOrder``) stores its lot terms as its fingerprint:
# this marker, then ``[lot_method, lots]`` encoded. Its resend must carry them too — the
# lots a sale closes are its terms — and the record's ``lots`` cannot tell: they are
# consumed as the order fills. (An encoded spec, the older form, starts with another byte.)
_LOT_TERMS = b"L"

ACCEPTED = "accepted"  # what ``_enter`` says of an order reported ``new``
ALREADY = "already"  # ... of a resend: the same order was there before, nothing changed

# members read on every order, bound once (model/enums.py says why)
_REJECT, _ACCEPT = OrderEvent.REJECT, OrderEvent.ACCEPT
_EXEC_REJECTED, _EXEC_NEW = ExecType.REJECTED, ExecType.NEW
_SELL = Side.SELL
_PENDING_NEW = OrderStatus.PENDING_NEW


class OrderEntry(Portfolio):
    """New orders: pre-trade risk in its fixed order, the hold, the first report, the route;
    and the idempotent answer to a ``client_order_id`` used before."""

    def _new_order(self, command: NewOrder, now: int) -> None:
        self._enter(command.account, command.client_order_id, command.spec, command.reply, now)

    def _new_lot_order(self, command: NewLotOrder, now: int) -> None:
        """A new order that chooses its lots (``model/messages/books.py``): entered like any."""
        self._enter(command.account, command.client_order_id, command.spec, command.reply, now, command.lot_method, command.lots)

    def _desk_order(self, command: DeskOrder, now: int) -> None:
        """A quote of the market-making desk, from the InstrumentActor of its symbol: entered
        exactly as a client's ``new_order`` of the desk's account (``_enter``: its risk
        limits, hold, reports, audit), its route a ``DeskRoute`` naming the quote; a refusal
        goes back as ``DeskOrderRefused`` with why."""
        outcome = self._enter(command.account, command.client_order_id, command.spec, None, now, desk=True)
        if outcome != ACCEPTED:
            symbol = command.spec.symbol
            self.out.to(INSTRUMENT, symbol, DeskOrderRefused(symbol, command.client_order_id, outcome))

    def _load_orders(self, command: LoadOrders, now: int) -> None:
        """A chunk of a basket: each order entered exactly as a ``new_order`` without a reply
        (its reports go to the account's followers, a resend's answer nowhere), in the
        chunk's order, in this one turn; the chunk is answered with what became of its orders.

        Guarantees: the same checks, records, reports and routes as ``new_order`` (one code
        path, ``_enter``); an order already there with the same terms is counted ``already``
        and changes nothing, so loading a basket again changes nothing."""
        accepted = already = 0
        rejected: dict[str, int] = {}
        instruments = self.instruments
        for account, client_order_id, symbol, side, order_type, tif, qty, notional, price in command.orders.rows():
            instrument = instruments.get(symbol)
            if instrument is not None:
                symbol = instrument.symbol  # the shard's one string object per symbol
            outcome = self._enter(account, client_order_id, OrderSpec(symbol, side, order_type, tif, qty, notional, price), None, now)
            if outcome == ACCEPTED:
                accepted += 1
            elif outcome == ALREADY:
                already += 1
            else:
                rejected[outcome] = rejected.get(outcome, 0) + 1
        reply = command.reply
        answer = OrdersLoaded(reply, command.load, command.chunk, len(command.orders), accepted, already, dict(sorted(rejected.items())))
        self.out.to(GATEWAY, reply.gateway, answer)

    def _enter(
        self,
        account_id: str,
        client_order_id: str,
        spec: OrderSpec,
        reply: Reply | None,
        now: int,
        lot_method: str | None = None,
        lots: tuple[tuple[int, int], ...] | None = None,
        desk: bool = False,
    ) -> str:
        """One new order: refused (unknown account or symbol), answered as a resend, or checked
        in ``risk.first_failure``'s order (``risk.check``), then the lots it names
        (``check_specific``), recorded, held for and reported; accepted orders are routed to
        their instrument actor. Returns what became of it: ``ACCEPTED``, ``ALREADY`` (a
        resend), or why not (a ``Reason`` value, ``forbidden``, ``unknown_symbol``). A quote of
        the market-making desk (``desk``) is routed as a ``DeskRoute`` naming it (its
        ``client_order_id``), in the ``RouteOrder``'s place."""
        account = self.accounts.get(account_id)
        if account is None:
            self._refuse_order(account_id, client_order_id, spec, reply, "forbidden", f"unknown account {account_id}")
            return "forbidden"
        instrument = self.instruments.get(spec.symbol)
        if instrument is None:
            self._refuse_order(account_id, client_order_id, spec, reply, "unknown_symbol", f"unknown symbol {spec.symbol}")
            return "unknown_symbol"
        choice = SAME_AS_SPEC if lot_method is None and lots is None else _lot_terms(lot_method, lots)
        existing_id = account.orders.get(client_order_id)
        if existing_id is not None:
            # an id reserved by a pending replace is not yet an order: any new order with it differs
            return self._answer_resend(self.orders.peek(existing_id), account_id, client_order_id, spec, reply, now, choice)
        self.order_counter += 1
        if spec.symbol is not instrument.symbol:
            # one string object per account and per symbol, not one per order (millions of orders)
            spec = msgspec.structs.replace(spec, symbol=instrument.symbol)
        order = _record(account.account, client_order_id, spec, f"{self.name}-{self.order_counter}", choice, now)
        market = self.markets.get(spec.symbol)
        # the account's tenant's limits, resolved when it opened: one attribute, no lookup
        reason, estimate, cash = risk.check(order, account, instrument, market, account.limits or self.limits)
        if reason is None:  # then the portfolio's, on the account as it would be after the order (``portfolio.py``)
            reason = self.portfolio_failure(account, order, instrument)
        if lot_method is not None or lots is not None:
            order.lot_method = lot_method
            order.lots = None if lots is None else [[lot_id, qty] for lot_id, qty in lots]
            if reason is None and lots:
                refused = self.check_specific(account, spec.symbol, lots)
                reason = None if refused is None else Reason(refused)
        self.orders[order.order_id] = order
        account.orders[order.client_order_id] = order.order_id
        if reason is not None:
            self._move(order, _REJECT)
            order.reason = reason.value
            self._report(order, _EXEC_REJECTED, now, reply=reply)
            if self.out.audit:
                self.out.to(AUDIT, "", auditing.rejected(account.account, client_order_id, spec, reason.value, "", reply))
            return reason.value
        if spec.side is _SELL and spec.notional is not None:
            order.qty_cap = risk.notional_sell_cap(order, account, instrument, estimate)
        self._move(order, _ACCEPT)
        self._reserve(account, order, instrument, estimate, cash)  # cash: what the checks computed, the same while the order is open
        self._report(order, _EXEC_NEW, now, reply=reply)
        out = self.out
        if out.audit:
            out.to(AUDIT, "", auditing.accepted(order, reply, market))
        if desk:
            out.to(INSTRUMENT, spec.symbol, DeskRoute(order.order_id, order.account, spec, client_order_id))
        else:
            out.to(INSTRUMENT, spec.symbol, RouteOrder(order.order_id, order.account, spec, order.qty_cap))
        return ACCEPTED

    def _refuse_order(self, account_id: str, client_order_id: str, spec: OrderSpec, reply: Reply | None, code: str, text: str) -> None:
        """A new order refused before it became a record: answered, and audited."""
        self._refuse(reply, code, text)
        if self.out.audit:
            self.out.to(AUDIT, "", auditing.rejected(account_id, client_order_id, spec, code, text, reply))

    def _answer_resend(
        self,
        order: OrderRecord | None,
        account_id: str,
        client_order_id: str,
        spec: OrderSpec,
        reply: Reply | None,
        now: int,
        choice: bytes = SAME_AS_SPEC,
    ) -> str:
        """A ``new_order`` whose ``client_order_id`` the account has used: the same content
        (``choice``: its lot terms, ``SAME_AS_SPEC`` for none) gets the order's original
        first report again, whatever happened to the order since (an idempotent retry must
        not depend on when it was retried; the current state is what ``get_orders`` and the
        later reports say); other content is refused. Both go to the asker alone and change
        nothing."""
        if order is not None and _same_terms(order, spec, choice):
            self._to_asker(reply, self._first_report(order, reply))
            return ALREADY
        self.rejected_requests += 1
        if self.out.audit:
            duplicate = Reason.DUPLICATE_CLIENT_ORDER_ID.value
            self.out.to(AUDIT, "", auditing.rejected(account_id, client_order_id, spec, duplicate, "a resend with other terms", reply))
        if reply is not None:  # the refusal is the asker's alone: without one, nothing to build
            refused = _record(account_id, client_order_id, spec, "", SAME_AS_SPEC, now)
            self._move(refused, OrderEvent.REJECT)
            refused.reason = Reason.DUPLICATE_CLIENT_ORDER_ID.value
            self._to_asker(reply, self._execution(refused, ExecType.REJECTED, now, exec_id="", reply=reply))
        return Reason.DUPLICATE_CLIENT_ORDER_ID.value

    def _first_report(self, order: OrderRecord, reply: Reply | None) -> ExecutionReport:
        """The order's first execution report as it was sent: ``rejected`` if the checks
        refused it (then it never had another), else ``new`` with nothing filled, at its
        creation time."""
        rejected_at_once = order.status is OrderStatus.REJECTED and order.exec_count == 1
        if rejected_at_once:
            return self._execution(order, ExecType.REJECTED, order.created_ts, exec_id(order, 1), reply)
        accepted = msgspec.structs.replace(
            order, status=OrderStatus.NEW, cum_qty=0, value_nanos=0, value_subnanos=0, reason=None, venue=None
        )
        return self._execution(accepted, ExecType.NEW, order.created_ts, exec_id(order, 1), reply)


def _same_terms(order: OrderRecord, spec: OrderSpec, choice: bytes = SAME_AS_SPEC) -> bool:
    """Whether ``spec`` and the lot terms ``choice`` are what ``order``'s ``new_order``
    carried (a resend of it)."""
    fingerprint = order.fingerprint
    if fingerprint == SAME_AS_SPEC or fingerprint[:1] == _LOT_TERMS:
        return fingerprint == choice and order.spec == spec  # field by field: equal exactly when their encodings are
    return choice == SAME_AS_SPEC and fingerprint == _fingerprint_encoder.encode(spec)


def _lot_terms(lot_method: str | None, lots: tuple[tuple[int, int], ...] | None) -> bytes:
    """The fingerprint of an order's lot terms (``_LOT_TERMS``)."""
    return _LOT_TERMS + _fingerprint_encoder.encode((lot_method, lots))


def _record(account: str, client_order_id: str, spec: OrderSpec, order_id: str, fingerprint: bytes, now: int) -> OrderRecord:
    record = OrderRecord(order_id, account, client_order_id, spec, _PENDING_NEW, now, fingerprint)
    record.updated_ts = now
    return record
