"""The trader WebSocket protocol (docs/protocol.md): JSON frames ⇄ typed requests and events.

Pure translation, no I/O. Decoding is strict: unknown ops, missing or mistyped fields,
and decimals that are not strings are refused with a message that names the field.
Decimals stay strings here; ``server.gateway.validation`` turns them into fixed-point numbers
against the instrument's rules.
"""

from __future__ import annotations

from typing import Union

import msgspec

from model import fixed
from model.basket import BasketError, refused_rows
from model.messages import AccountReply, JournalReply, OrdersReply, QuoteEvent, RiskAlert, Transfer, TransfersReply
from model.transfers import entry_view, transfer_view
from model.views import account_view, decimal, execution_body

__all__ = ["execution_body"]  # re-exported: the gateway's hot path encodes reports with it


class _Request(msgspec.Struct, frozen=True, kw_only=True, tag_field="op", forbid_unknown_fields=True):
    id: msgspec.Raw = msgspec.Raw(b"")


class LotPick(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One lot a sell order names (docs/books.md): its id and the quantity to close of it."""

    lot_id: int
    qty: str


class OrderFields(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The fields of one order, shared by ``new_order`` and each entry of ``new_orders``."""

    account: str
    client_order_id: str
    symbol: str
    side: str
    type: str
    tif: str = "day"
    qty: str | None = None
    notional: str | None = None
    price: str | None = None
    stop_price: str | None = None
    lot_method: str | None = None  # the books (docs/books.md): this order's lot method
    lots: list[LotPick] | None = None  # ... and, for a sell, the lots it closes


class Login(_Request, frozen=True, tag="login"):
    """``key``: a users-file key or an API key id; ``totp``: the current code of an enrolled
    user, required where the session would hold an admin-scope permission; ``batch``: every
    frame from the login's answer on is a JSON array of messages (``wsio.json_arrays``)."""

    key: str
    ts: int
    nonce: str
    sig: str
    totp: str | None = None
    batch: bool = False


class WhoamiRequest(_Request, frozen=True, tag="whoami"):
    """Who the connection is logged in as, and what its credential may do."""


class NewOrderRequest(OrderFields, frozen=True, tag_field="op", tag="new_order"):
    """One order's fields, as ``new_order`` carries them (with the request's ``id``)."""

    id: msgspec.Raw = msgspec.Raw(b"")


class NewOrdersRequest(_Request, frozen=True, tag="new_orders"):
    orders: list[OrderFields]


class LoadOrdersRequest(_Request, frozen=True, tag="load_orders"):
    """A basket of orders as CSV text (the format of ``admin orders load``; docs/open.md)."""

    csv: str


class CancelOrderRequest(_Request, frozen=True, tag="cancel_order"):
    account: str
    client_order_id: str


class ReplaceOrderRequest(_Request, frozen=True, tag="replace_order"):
    account: str
    client_order_id: str
    new_client_order_id: str
    qty: str | None = None
    price: str | None = None
    stop_price: str | None = None


class CancelAllRequest(_Request, frozen=True, tag="cancel_all"):
    account: str
    symbol: str | None = None


class GetOrdersRequest(_Request, frozen=True, tag="get_orders"):
    account: str
    open_only: bool = False
    cursor: str | None = None  # the ``next_cursor`` of the previous page
    limit: int | None = None  # orders per page (``[queries]``: default and maximum)


class GetAccountRequest(_Request, frozen=True, tag="get_account"):
    account: str


class GetLotsRequest(_Request, frozen=True, tag="get_lots"):
    account: str
    symbol: str | None = None


class GetGainsRequest(_Request, frozen=True, tag="get_gains"):
    account: str
    from_: str = msgspec.field(name="from")  # YYYY-MM-DD, the first local date of sales
    to: str  # YYYY-MM-DD, the last
    cursor: int | None = None  # the ``next_cursor`` of the previous page
    limit: int | None = None  # closings per page (``[books]``: default and maximum)


class GetStatementRequest(_Request, frozen=True, tag="get_statement"):
    """The account's statement (docs/books.md): balances at the start of ``from`` and the end
    of ``to`` (local dates, ``[open] timezone``), and every entry in between."""

    account: str
    from_: str = msgspec.field(name="from")  # YYYY-MM-DD, the first local date
    to: str  # YYYY-MM-DD, the last


class SubscribeRequest(_Request, frozen=True, tag="subscribe"):
    channels: list[str]


class DepositRequest(_Request, frozen=True, tag="deposit"):
    """Ask to move cash into ``account``: pending until a cashier settles it."""

    account: str
    amount: str
    idempotency_key: str


class WithdrawalRequest(_Request, frozen=True, tag="withdrawal"):
    """Ask to move cash out of ``account``: held at once, then settled by a cashier.
    ``totp``: the user's current code ([gateway] require_mfa_for_transfers)."""

    account: str
    amount: str
    idempotency_key: str
    totp: str | None = None


class JournalFields(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One journal of a batch: ``amount`` of cash from one account to another, or ``qty`` of
    ``symbol``'s shares (``lots``: the lots to move first)."""

    from_account: str = msgspec.field(name="from")
    to: str
    amount: str | None = None
    symbol: str | None = None
    qty: str | None = None
    lots: list[LotPick] | None = None


class JournalRequest(_Request, frozen=True, tag="journal"):
    """Cash or shares between accounts, booked at once: one journal (``from``, ``to`` and
    ``amount``, or ``symbol`` and ``qty``) or a batch (``entries``), all or nothing."""

    idempotency_key: str
    from_account: str | None = msgspec.field(default=None, name="from")
    to: str | None = None
    amount: str | None = None
    symbol: str | None = None
    qty: str | None = None
    lots: list[LotPick] | None = None
    entries: list[JournalFields] | None = None
    totp: str | None = None


class GetTransfersRequest(_Request, frozen=True, tag="get_transfers"):
    account: str
    status: str | None = None


class AdminRequest(_Request, frozen=True, tag="admin"):
    """Operator commands (admin role only): ``command`` and its ``args``."""

    command: str
    args: list[str] = msgspec.field(default_factory=list)


Request = Union[
    Login,
    NewOrderRequest,
    NewOrdersRequest,
    LoadOrdersRequest,
    CancelOrderRequest,
    ReplaceOrderRequest,
    CancelAllRequest,
    GetOrdersRequest,
    GetAccountRequest,
    GetLotsRequest,
    GetGainsRequest,
    GetStatementRequest,
    SubscribeRequest,
    AdminRequest,
    WhoamiRequest,
    DepositRequest,
    WithdrawalRequest,
    JournalRequest,
    GetTransfersRequest,
]

OPS = sorted(cls.__struct_config__.tag for cls in Request.__args__)  # type: ignore[attr-defined]

_request_decoder = msgspec.json.Decoder(Request)
_encoder = msgspec.json.Encoder()


class ProtocolError(ValueError):
    """A frame that is not a valid request. ``request_id`` is its raw ``id`` if one was readable."""

    def __init__(self, message: str, request_id: bytes = b"") -> None:
        super().__init__(message)
        self.request_id = request_id


def decode_request(frame: bytes | str) -> Request:
    """Decode one client frame or raise ``ProtocolError`` with a message that names the problem.

    Guarantees: nothing else escapes, whatever the frame holds — text or binary (bytes are
    decoded as UTF-8 JSON alike), invalid UTF-8, nesting deeper than the decoder's
    recursion limit, numbers or strings of any size. A request's ``id`` (kept as the raw
    JSON it was sent as, to be echoed) is a string or a number of at most ``MAX_ID_BYTES``
    bytes of UTF-8: every reply and every command of the request carries it."""
    try:
        request = _request_decoder.decode(frame)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as error:
        raise _explain(frame, error) from None
    if request.id:
        raw = bytes(request.id)
        if raw[:1] not in b'"-0123456789':
            raise ProtocolError("id must be a string or a number")
        if len(raw) > MAX_ID_BYTES:
            raise ProtocolError(f"id must be at most {MAX_ID_BYTES} bytes of JSON")
        if not raw.isascii():  # the decoder checks the UTF-8 of every field it reads, not of a raw one
            try:
                raw.decode()
            except UnicodeDecodeError as error:
                raise _unreadable(error) from None
    return request


def _explain(frame: bytes | str, error: Exception) -> ProtocolError:
    if not isinstance(error, msgspec.DecodeError):
        return _unreadable(error)
    try:
        loose = msgspec.json.decode(frame)
    except msgspec.DecodeError as malformed:
        # newer msgspec says invalid UTF-8 with a DecodeError, older with a UnicodeDecodeError
        return _unreadable(malformed) if "UTF-8" in str(malformed) else ProtocolError("malformed JSON")
    except (RecursionError, UnicodeDecodeError) as unreadable:
        return _unreadable(unreadable)
    if not isinstance(loose, dict):
        return ProtocolError("a request must be a JSON object")
    request_id = loose.get("id")
    raw_id = _encoder.encode(request_id) if isinstance(request_id, (str, int)) and not isinstance(request_id, bool) else b""
    op = loose.get("op")
    if op is None:
        return ProtocolError("missing field 'op'", raw_id)
    if not isinstance(op, str) or op not in OPS:
        return ProtocolError(f"unknown op {shorten(op)}; expected one of {', '.join(OPS)}", raw_id)
    return ProtocolError(shorten(str(error), quote=False), raw_id)


def _unreadable(error: Exception) -> ProtocolError:
    # msgspec raises RecursionError past Python's recursion limit (about 1,000 levels), and a
    # binary frame's bytes may not be UTF-8 (websockets checks text frames itself)
    if isinstance(error, RecursionError):
        return ProtocolError("JSON nested too deeply")
    return ProtocolError("a frame must be UTF-8 JSON")


SHOWN_CHARS = 64  # how much of a client's value an error message quotes
MAX_ID_BYTES = 128  # a request's id as sent (JSON: a string's quotes and escapes count)
MESSAGE_CHARS = 8 * SHOWN_CHARS  # how long a whole error message may be (an admin refusal lists the server's commands)


def shorten(value: object, quote: bool = True) -> str:
    """``repr(value)`` (or ``str`` with ``quote=False``), cut to a bounded length, for error
    messages: a 4 MB value in a frame is not sent back."""
    text = repr(value) if quote else str(value)
    limit = SHOWN_CHARS if quote else MESSAGE_CHARS
    return text if len(text) <= limit else text[:limit] + "…"


# --- server → client -------------------------------------------------------------------------


def with_id(body: bytes, request_id: bytes) -> bytes:
    """Put ``"id": <raw>`` first into an encoded JSON object (no re-encoding of the rest)."""
    if not request_id:
        return body
    return b'{"id":' + request_id + b"," + body[1:]


def encode(message: dict[str, object], request_id: bytes = b"") -> bytes:
    return with_id(_encoder.encode(message), request_id)


def error(code: str, message: str, request_id: bytes = b"") -> bytes:
    return encode({"type": "error", "code": code, "message": shorten(message, quote=False)}, request_id)


def basket_refused(refused: BasketError, request_id: bytes = b"") -> bytes:
    """A basket refused whole (``load_orders``): ``invalid_request`` with every bad row — the
    first ``listed`` with their code and problem in ``problems``, the numbers of the rest in
    ``other_rows`` — or with the file's one problem."""
    body: dict[str, object] = {"type": "error", "code": "invalid_request", "message": shorten(refused.summary(), quote=False)}
    if refused.bad:
        body.update(refused_rows(refused))
    return encode(body, request_id)


def orders_reply(reply: OrdersReply) -> bytes:
    """An account's orders page: each order its execution report's object, with ``realized``
    (the gain it realized, two places at least) when it closed lots."""
    realized = reply.realized
    body = b",".join(
        execution_body(report) if report.order_id not in realized else _with_realized(execution_body(report), realized[report.order_id])
        for report in reply.orders
    )
    head = _encoder.encode({"type": "orders", "account": reply.account, "next_cursor": reply.next_cursor})
    return with_id(head[:-1] + b',"orders":[' + body + b"]}", reply.reply.request)


def _with_realized(body: bytes, gain: int) -> bytes:
    return body[:-1] + b',"realized":"' + fixed.format(gain, min_places=2).encode() + b'"}'


def account_reply(reply: AccountReply) -> bytes:
    return encode({"type": "account", **account_view(reply)}, reply.reply.request)


def quote(event: QuoteEvent) -> bytes:
    return encode(
        {
            "type": "quote",
            "symbol": event.symbol,
            "bid": decimal(event.bid),
            "bid_size": fixed.format(event.bid_size),
            "ask": decimal(event.ask),
            "ask_size": fixed.format(event.ask_size),
            **({} if event.nav is None else {"nav": fixed.format(event.nav)}),  # a mutual fund: no bid or ask, its NAV
            "ts": event.ts,
        }
    )


def transfer(record: Transfer, request_id: bytes = b"") -> bytes:
    """A transfer record as it now stands: the answer to ``deposit`` and ``withdrawal``, and
    each event of the ``transfers`` channel."""
    return encode({"type": "transfer", **transfer_view(record)}, request_id)


def risk_alert(alert: RiskAlert) -> bytes:
    """An event of the ``risk`` channel (``docs/protocol.md``): an account's alert raised or cleared."""
    body = {
        "type": "risk_alert",
        "account": alert.account,
        "kind": alert.kind,
        "subject": alert.subject,
        "state": alert.state,
        "value": alert.value,
        "threshold": alert.threshold,
        "trading_state": alert.trading_state,
        "ts": alert.ts,
    }
    return encode(body)


def transfers_reply(reply: TransfersReply) -> bytes:
    return encode({"type": "transfers", "account": reply.account, "transfers": [transfer_view(t) for t in reply.transfers]}, reply.reply.request)


def journal_reply(reply: JournalReply) -> bytes:
    entries = [entry_view(e) for e in reply.entries]
    body: dict[str, object] = {
        "type": "journal",
        "journal_id": reply.journal_id,
        "status": reply.status.value,
        "reason": reply.reason,
        "message": reply.message or None,
        "idempotency_key": reply.idempotency_key,
        "entries": entries,
    }
    return encode(body, reply.reply.request)
