"""What the SDK sends and how it reads the answers, without I/O (docs/protocol.md).

The signed ``login``, decimals as the strings the protocol wants (never a binary float),
one order's fields, whether a reply is a failure, and the replies of a ``new_orders``
frame put in the order of its orders.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

Message = dict[str, Any]
DecimalArg = str | Decimal | int

DECIMAL_FIELDS = frozenset({"qty", "notional", "price", "stop_price"})
LotArg = tuple[int, DecimalArg] | Mapping[str, Any]  # a lot a sell closes: (lot_id, qty) or {"lot_id", "qty"}


def sign_login(secret: str, ts_ms: int, nonce: str) -> str:
    """Hex HMAC-SHA256 of ``f"{ts_ms}:{nonce}:login"`` keyed with ``secret`` (docs/protocol.md, Login)."""
    payload = f"{ts_ms}:{nonce}:login".encode()
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def login_message(
    key: str, secret: str, ts_ms: int | None = None, nonce: str | None = None, totp: str | None = None, batch: bool = False
) -> Message:
    """A signed ``login`` op without ``id``; a fresh nonce and the current time unless given;
    ``totp``: the current code of an enrolled user's authenticator (admin-scope logins);
    ``batch``: ask for the server's frames as JSON arrays of messages."""
    ts_ms = time.time_ns() // 1_000_000 if ts_ms is None else ts_ms
    nonce = secrets.token_hex(16) if nonce is None else nonce
    message: Message = {"op": "login", "key": key, "ts": ts_ms, "nonce": nonce, "sig": sign_login(secret, ts_ms, nonce)}
    if totp is not None:
        message["totp"] = totp
    if batch:
        message["batch"] = True
    return message


def decimal_text(value: DecimalArg) -> str:
    """The wire form of a decimal argument.

    ``str`` passes unchanged (the server is the one that validates it, so tests can send
    malformed values); ``int`` and finite ``Decimal`` are written in plain notation
    (``Decimal("1E+2")`` -> ``"100"``). ``float`` and ``bool`` raise ``TypeError``.
    """
    if isinstance(value, (bool, float)) or not isinstance(value, (str, int, Decimal)):
        raise TypeError(f"decimal values must be str, int or Decimal, not {type(value).__name__}")
    if isinstance(value, str):
        return value
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValueError(f"not a finite decimal: {value}")
    return format(value, "f") if isinstance(value, Decimal) else str(value)


def with_decimal_text(fields: Mapping[str, Any]) -> Message:
    """A copy of ``fields`` without ``None`` values and with its decimal fields as strings
    (the quantities of its ``lots`` too: ``lot_picks``)."""
    return {name: _wire_value(name, value) for name, value in fields.items() if value is not None}


def _wire_value(name: str, value: Any) -> Any:
    if name in DECIMAL_FIELDS:
        return decimal_text(value)
    if name == "lots" and isinstance(value, Sequence) and not isinstance(value, str):
        return lot_picks(value)
    return value


def order_fields(
    account: str,
    client_order_id: str,
    symbol: str,
    side: str,
    type: str = "market",  # the protocol's field name
    qty: DecimalArg | None = None,
    notional: DecimalArg | None = None,
    price: DecimalArg | None = None,
    stop_price: DecimalArg | None = None,
    tif: str = "day",
    *,
    lot_method: str | None = None,
    lots: Sequence[LotArg] | None = None,
) -> Message:
    """One order's fields as sent in ``new_order`` or in the ``orders`` of ``new_orders``.

    Arguments left ``None`` are omitted. No business validation here (one of qty/notional,
    price for limit types...): that is the server's job and its answer is the reply.
    ``lot_method`` and ``lots`` choose the tax lots a sale closes (docs/books.md).
    """
    return with_decimal_text(
        {
            "account": account,
            "client_order_id": client_order_id,
            "symbol": symbol,
            "side": side,
            "type": type,
            "qty": qty,
            "notional": notional,
            "price": price,
            "stop_price": stop_price,
            "tif": tif,
            "lot_method": lot_method,
            "lots": lots,
        }
    )


def lot_picks(lots: Sequence[LotArg]) -> list[Message]:
    """The ``lots`` of a sell order: each ``{"lot_id": int, "qty": "decimal"}``, from a
    ``(lot_id, qty)`` pair, or a mapping sent as it is but for its ``qty`` written like any
    decimal (the server judges the rest)."""
    picks: list[Message] = []
    for lot in lots:
        if isinstance(lot, Mapping):
            picks.append({name: decimal_text(value) if name == "qty" else value for name, value in lot.items()})
        else:
            lot_id, qty = lot
            picks.append({"lot_id": lot_id, "qty": decimal_text(qty)})
    return picks


def is_failure(message: Message) -> bool:
    """True for an ``error``, a rejected order's execution report, a rejected batch of
    journals, or any reply with ``ok: false``."""
    kind = message.get("type")
    if kind == "error" or message.get("ok") is False:
        return True
    if kind == "journal":
        return message.get("status") == "rejected"
    if kind == "execution":
        return message.get("exec_type") == "rejected" or message.get("status") == "rejected"
    return kind == "login" and message.get("ok") is not True


def align_replies(orders: Sequence[Mapping[str, Any]], replies: list[Message]) -> list[Message]:
    """``replies`` reordered so that ``result[i]`` answers ``orders[i]`` where that can be told.

    A reply belongs to the first unanswered order with its ``account`` and
    ``client_order_id``; replies that name no order (e.g. an ``error``) fill the remaining
    places in arrival order. Replies beyond the orders are appended.
    """
    slots: list[Message | None] = [None] * len(orders)
    unplaced: list[Message] = []
    for reply in replies:
        index = _free_slot_for(reply, orders, slots)
        if index is None:
            unplaced.append(reply)
        else:
            slots[index] = reply
    leftovers = iter(unplaced)
    aligned = [slot if slot is not None else next(leftovers, None) for slot in slots]
    return [reply for reply in aligned if reply is not None] + list(leftovers)


def _free_slot_for(reply: Message, orders: Sequence[Mapping[str, Any]], slots: list[Message | None]) -> int | None:
    for index, order in enumerate(orders):
        if slots[index] is None and _same_order(reply, order):
            return index
    return None


def _same_order(reply: Mapping[str, Any], order: Mapping[str, Any]) -> bool:
    coid = reply.get("client_order_id")
    account = reply.get("account")  # per-order errors name the order but not its account
    return coid is not None and coid == order.get("client_order_id") and (account is None or account == order.get("account"))
