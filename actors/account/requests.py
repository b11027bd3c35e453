"""Requests that change a working order: cancel, replace, cancel-all, and their answers."""

from __future__ import annotations

import msgspec

from actors.account import auditing, risk
from actors.account.base import ShardBase
from actors.account.records import AccountRecord, OrderRecord, PendingReplace
from actors.runtime.outputs import AUDIT, GATEWAY, INSTRUMENT
from model import fixed
from model.enums import ExecType, Reason
from model.instruments import Instrument, price_fields_for_type
from model.lifecycle import OrderEvent, Pending, can, inherited
from model.messages import CancelAll, CancelAllDone, CancelOrder, CancelRoute, OrderUpdate, ReplaceOrder, ReplaceRoute, Reply


class Requests(ShardBase):
    """Cancel, replace and cancel-all, and the venue's answers to them.

    Guarantees: a client has at most one request in flight per order (a second one is
    refused ``pending_request``); a kill or cancel-all still cancels an order whose replace
    is in flight, and the replace's successor inherits that cancel; a replace holds the
    extra it needs until the venue answers, and a refused replace gives back exactly that.
    """

    def _cancel_order(self, command: CancelOrder, now: int) -> None:
        order = self._find_open(command.account, command.client_order_id, command.reply)
        if order is None:
            return
        order.cancel_reply = command.reply
        self._request_cancel(order)

    def _request_cancel(self, order: OrderRecord) -> None:
        self._move(order, OrderEvent.CANCEL_REQUESTED)
        self.out.to(INSTRUMENT, order.spec.symbol, CancelRoute(order.order_id, order.account, order.spec.symbol))

    def _replace_order(self, command: ReplaceOrder, now: int) -> None:
        order = self._find_open(command.account, command.client_order_id, command.reply)
        if order is None:
            return
        account = self.accounts[order.account]
        error = self._replace_error(order, account, command)
        if error is not None:
            self._refuse(command.reply, "invalid_request", error)
            return
        if account.killed:  # as a new order: a killed account's orders only end
            self._refuse(command.reply, Reason.ACCOUNT_KILLED.value, f"replace refused: {Reason.ACCOUNT_KILLED.value}")
            return
        instrument = self.instruments[order.spec.symbol]
        qty = command.qty if command.qty is not None else order.spec.qty
        assert qty is not None
        spec = msgspec.structs.replace(
            order.spec,
            qty=qty,
            price=command.price if command.price is not None else order.spec.price,
            stop_price=command.stop_price if command.stop_price is not None else order.spec.stop_price,
        )
        trial = msgspec.structs.replace(order, spec=spec)
        market = self.markets.get(order.spec.symbol)
        limits = account.limits or self.limits  # its tenant's, as for a new order
        estimate = risk.estimate_price(trial, instrument, market, limits)
        # until the venue answers, the old terms may go on filling: what is left of the new
        # quantity is held at the dearer of the two estimates, so fills at either are covered
        dearer = max(estimate, risk.estimate_price(order, instrument, market, limits))
        held_cash = max(0, risk.cash_to_reserve(trial, instrument, dearer) - order.reserved_cash)
        held_qty = max(0, risk.qty_to_reserve(trial) - order.reserved_qty)
        reason = (
            risk.check_size(trial, instrument, estimate, limits)
            or risk.check_price_band(trial, instrument, market, limits)
            or self._replace_funds_failure(account, order, held_cash, held_qty)
            or self._replace_portfolio_failure(account, order, trial, instrument)
        )
        if reason is not None:
            self._refuse(command.reply, reason.value, f"replace refused: {reason.value}")
            return
        self.order_counter += 1
        pending = PendingReplace(
            new_order_id=f"{self.name}-{self.order_counter}",
            new_client_order_id=command.new_client_order_id,
            spec=spec,
            reply=command.reply,
            held_cash=held_cash,
            held_qty=held_qty,
        )
        self._move(order, OrderEvent.REPLACE_REQUESTED)
        order.pending_replace = pending
        account.reserved_cash += held_cash
        self._adjust_reserved_qty(account, order.spec.symbol, held_qty)
        account.orders[command.new_client_order_id] = pending.new_order_id
        self.out.to(
            INSTRUMENT,
            order.spec.symbol,
            ReplaceRoute(order.order_id, pending.new_order_id, order.account, spec.symbol, qty, spec.price, spec.stop_price),
        )

    def _replace_error(self, order: OrderRecord, account: AccountRecord, command: ReplaceOrder) -> str | None:
        """Why the replace is refused as an ``invalid_request``, in the words the client gets,
        or ``None``. What fits the order type (the price fields it takes), the tick and the
        increment is the instrument's to say (``model.instruments``), as at the gateway; only
        the wording, and what needs the order itself (filled quantity, ids), is the shard's."""
        spec = order.spec
        if spec.notional is not None:
            return "notional orders cannot be replaced; cancel and place a new one"
        if command.new_client_order_id in account.orders:
            return f"client_order_id {command.new_client_order_id} already used"
        if command.qty is None and command.price is None and command.stop_price is None:
            return "replace needs qty, price or stop_price"
        # the order's own fields fit its type, so a mismatch is a field the command gives and the type takes none of
        price = spec.price if command.price is None else command.price
        stop_price = spec.stop_price if command.stop_price is None else command.stop_price
        mismatch = price_fields_for_type(spec.order_type, price, stop_price)
        if mismatch is not None:
            return f"a {spec.order_type.value} order has no {mismatch.field.value}"
        if command.qty is not None and command.qty <= order.cum_qty:
            return "qty must be more than the quantity already filled"
        instrument = self.instruments[spec.symbol]
        if command.qty is not None and not instrument.qty_on_increment(command.qty):
            return f"qty must be a multiple of {fixed.format(instrument.qty_increment)} for {spec.symbol}"
        for new_price in (command.price, command.stop_price):
            if new_price is not None and not instrument.price_on_tick(new_price):
                return f"price is off the tick of {fixed.format(instrument.tick_size)} for {spec.symbol}"
        return None

    def _replace_portfolio_failure(self, account: AccountRecord, order: OrderRecord, trial: OrderRecord, instrument: Instrument) -> Reason | None:
        """The portfolio steps of the pre-trade check (the trading state, the limits) for what
        a replace adds: an order of the quantity it adds to the old one's. One that adds none
        only lowers or keeps the account's exposure, and passes as the old order did."""
        assert trial.spec.qty is not None and order.spec.qty is not None  # (a notional order is never replaced)
        added = trial.spec.qty - order.spec.qty
        if added <= 0:
            return None
        more = msgspec.structs.replace(trial, spec=msgspec.structs.replace(trial.spec, qty=added), cum_qty=0)
        return self.portfolio_failure(account, more, instrument)

    @staticmethod
    def _replace_funds_failure(account: AccountRecord, order: OrderRecord, held_cash: int, held_qty: int) -> Reason | None:
        if held_cash > account.buying_power:
            return Reason.INSUFFICIENT_BUYING_POWER
        if held_qty and not account.allow_short and held_qty > account.available_qty(order.spec.symbol):
            return Reason.INSUFFICIENT_POSITION
        return None

    def _cancel_all(self, command: CancelAll, now: int) -> None:
        count = 0
        account, symbol = command.account, command.symbol
        chosen = self._cancelable(lambda order: (account is None or order.account == account) and (symbol is None or order.spec.symbol == symbol))
        for order_id in chosen:
            self._request_cancel(self.orders[order_id])
            count += 1
        if command.reply is not None:
            self.out.to(GATEWAY, command.reply.gateway, CancelAllDone(command.reply, command.account, count))

    def _replaced(self, order: OrderRecord, now: int) -> None:
        pending = order.pending_replace
        if pending is None or not can(order.status, order.pending, OrderEvent.REPLACE):
            self._anomaly(f"unexpected replace confirmation for {order.order_id}")
            return
        account = self.accounts[order.account]
        qty = pending.spec.qty
        assert qty is not None  # only quantity orders are replaced
        if qty <= order.cum_qty:
            # fills overtook the replace: a venue must refuse it; we never book qty < filled
            self._anomaly(f"replace of {order.order_id} to {qty} confirmed after {order.cum_qty} filled")
            self._move(order, OrderEvent.REPLACE_REFUSED)
            self._release_replace(order, account, "replace overtaken by fills")
            return
        order.pending_replace = None
        account.reserved_cash -= pending.held_cash
        self._adjust_reserved_qty(account, order.spec.symbol, -pending.held_qty)
        successor = msgspec.structs.replace(
            order,
            order_id=pending.new_order_id,
            client_order_id=pending.new_client_order_id,
            spec=pending.spec,
            exec_count=0,
            pending=inherited(order.pending),
            cancel_reply=None,
            pending_replace=None,
            created_ts=now,
            reserved_cash=0,
            reserved_qty=0,
            fingerprint=b"",  # never sent as a new_order: a new_order with its id is a duplicate
        )
        self._move(order, OrderEvent.REPLACE)
        order.replaced_by = successor.order_id
        self._rereserve(account, order)
        self.orders[successor.order_id] = successor
        # listed from now on, after every order before it: a page already past the id it
        # reserved when the replace was asked must still list it (see ``_query_orders``)
        del account.orders[successor.client_order_id]
        account.orders[successor.client_order_id] = successor.order_id
        self._rereserve(account, successor)
        self._report(order, ExecType.REPLACED, now)
        self._report(successor, ExecType.REPLACED, now, reply=pending.reply)
        if self.out.audit:
            self.out.to(AUDIT, "", auditing.replaced(order, successor))

    def _cancel_refused(self, order: OrderRecord, update: OrderUpdate) -> None:
        self._move(order, OrderEvent.CANCEL_REFUSED)
        reply, order.cancel_reply = order.cancel_reply, None
        if reply is not None:
            self._refuse(reply, "cancel_rejected", update.reason or Reason.TOO_LATE_TO_CANCEL.value)
        self._pass_cancel_to_successor(order)

    def _pass_cancel_to_successor(self, order: OrderRecord) -> None:
        """A kill's or cancel-all's cancel, sent while a replace was in flight, that the
        instrument answered too late because it had confirmed the replace first (the child is
        keyed by the successor's id by then). The successor inherited that cancel
        (``model.lifecycle.inherited``) and nothing else would ever send it: send it now, for
        the successor. Only then is a refusal of a replaced order's cancel followed by a
        successor still waiting for a cancel; a cancel the instrument took before the
        confirmation reaches the successor's child there, and no refusal of it comes back."""
        if order.replaced_by is None:
            return
        successor = self.orders.get(order.replaced_by)
        if successor is not None and successor.pending is Pending.CANCEL and successor.status.is_open:
            self.out.to(INSTRUMENT, successor.spec.symbol, CancelRoute(successor.order_id, successor.account, successor.spec.symbol))

    def _replace_refused(self, order: OrderRecord, update: OrderUpdate) -> None:
        if order.pending_replace is None:
            if order.status.is_open:
                self._anomaly(f"unexpected replace rejection for {order.order_id}")
            return
        self._move(order, OrderEvent.REPLACE_REFUSED)
        self._release_replace(order, self.accounts[order.account], update.reason or "venue refused the replace")

    def _find_open(self, account_id: str, client_order_id: str, reply: Reply | None) -> OrderRecord | None:
        account = self.accounts.get(account_id)
        order_id = account.orders.get(client_order_id) if account else None
        order = self.orders.get(order_id) if order_id else None
        if account is None:
            self._refuse(reply, "forbidden", f"unknown account {account_id}")
        elif order is None:
            self._refuse(reply, "unknown_order", f"no order {client_order_id} in {account_id}")
        elif not order.status.is_open:
            self._refuse(reply, "order_not_open", f"order {client_order_id} is {order.status.value}")
        elif order.pending is not Pending.NONE:
            self._refuse(reply, Reason.PENDING_REQUEST.value, f"order {client_order_id} has a cancel or replace pending")
        else:
            return order
        return None
