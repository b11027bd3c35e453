"""Order entry: a ``new_order`` checked, held for and acknowledged, or refused."""

from __future__ import annotations

import msgspec

from actors.account import risk
from actors.account.base import ShardBase
from actors.account.records import OrderRecord
from actors.runtime.outputs import INSTRUMENT
from model.enums import ExecType, OrderStatus, Reason, Side
from model.lifecycle import OrderEvent
from model.messages import ExecutionReport, NewOrder, Reply, RouteOrder
from model.orders import OrderSpec

_fingerprint_encoder = msgspec.msgpack.Encoder()


class OrderEntry(ShardBase):
    """New orders: pre-trade risk in its fixed order, the hold, the first report, the route;
    and the idempotent answer to a ``client_order_id`` used before."""

    def _new_order(self, command: NewOrder, now: int) -> None:
        account = self.accounts.get(command.account)
        if account is None:
            self._refuse(command.reply, "forbidden", f"unknown account {command.account}")
            return
        spec = command.spec
        instrument = self.instruments.get(spec.symbol)
        if instrument is None:
            self._refuse(command.reply, "unknown_symbol", f"unknown symbol {spec.symbol}")
            return
        fingerprint = _fingerprint(command)
        existing_id = account.orders.get(command.client_order_id)
        if existing_id is not None:
            # an id reserved by a pending replace is not yet an order: any new order with it differs
            self._answer_resend(self.orders.get(existing_id), fingerprint, command, now)
            return
        self.order_counter += 1
        # one string object per account and per symbol, not one per order (millions of orders)
        spec = msgspec.structs.replace(spec, symbol=instrument.symbol)
        order = _record(command, spec, f"{self.name}-{self.order_counter}", fingerprint, now)
        order.account = account.account
        market = self.markets.get(spec.symbol)
        reason = risk.first_failure(order, account, instrument, market, self.limits)
        self.orders[order.order_id] = order
        account.orders[order.client_order_id] = order.order_id
        if reason is not None:
            self._move(order, OrderEvent.REJECT)
            order.reason = reason.value
            self._report(order, ExecType.REJECTED, now, reply=command.reply)
            return
        estimate = risk.estimate_price(order, instrument, market, self.limits)
        if order.spec.side is Side.SELL and order.spec.notional is not None:
            order.qty_cap = risk.notional_sell_cap(order, account, instrument, estimate)
        self._move(order, OrderEvent.ACCEPT)
        self._reserve(account, order, instrument, estimate)
        self._report(order, ExecType.NEW, now, reply=command.reply)
        self.out.to(
            INSTRUMENT,
            order.spec.symbol,
            RouteOrder(order_id=order.order_id, account=order.account, spec=order.spec, qty_cap=order.qty_cap),
        )

    def _answer_resend(self, order: OrderRecord | None, fingerprint: bytes, command: NewOrder, now: int) -> None:
        """A ``new_order`` whose ``client_order_id`` the account has used: the same content
        gets the order's original first report again, whatever happened to the order since
        (an idempotent retry must not depend on when it was retried; the current state is
        what ``get_orders`` and the later reports say); other content is refused. Both go to
        the asker alone and change nothing."""
        if order is not None and order.fingerprint == fingerprint:
            self._to_asker(command.reply, self._first_report(order, command.reply))
            return
        self.rejected_requests += 1
        refused = _record(command, command.spec, "", fingerprint, now)
        self._move(refused, OrderEvent.REJECT)
        refused.reason = Reason.DUPLICATE_CLIENT_ORDER_ID.value
        self._to_asker(command.reply, self._execution(refused, ExecType.REJECTED, now, exec_id="", reply=command.reply))

    def _first_report(self, order: OrderRecord, reply: Reply | None) -> ExecutionReport:
        """The order's first execution report as it was sent: ``rejected`` if the checks
        refused it (then it never had another), else ``new`` with nothing filled, at its
        creation time."""
        rejected_at_once = order.status is OrderStatus.REJECTED and order.exec_count == 1
        if rejected_at_once:
            return self._execution(order, ExecType.REJECTED, order.created_ts, f"{order.order_id}-1", reply)
        accepted = msgspec.structs.replace(
            order, status=OrderStatus.NEW, cum_qty=0, value_nanos=0, value_subnanos=0, reason=None, venue=None
        )
        return self._execution(accepted, ExecType.NEW, order.created_ts, f"{order.order_id}-1", reply)


def _record(command: NewOrder, spec: OrderSpec, order_id: str, fingerprint: bytes, now: int) -> OrderRecord:
    return OrderRecord(
        order_id=order_id,
        account=command.account,
        client_order_id=command.client_order_id,
        spec=spec,
        status=OrderStatus.PENDING_NEW,
        created_ts=now,
        updated_ts=now,
        fingerprint=fingerprint,
    )


def _fingerprint(command: NewOrder) -> bytes:
    """The terms of a ``new_order`` as bytes: an array in field order, the same bytes the
    tuple of the eight fields gave (fingerprints in earlier states stay comparable)."""
    return _fingerprint_encoder.encode(command.spec)
